package mail

import (
	"fmt"
	"time"
)

// messages holds every word the emails show, per language. Values are fmt formats; the
// templates call them through view.T. Shop-provided text only ever enters as an argument, so
// the templates escape it.
var messages = map[string]map[string]string{
	"en": {
		// Shared labels.
		"label.order":       "Order",
		"label.date":        "Date",
		"label.customer":    "Customer",
		"label.payment":     "Payment method",
		"label.product":     "Product",
		"label.quantity":    "Qty",
		"label.total":       "Total",
		"label.order_total": "Order total",
		"label.course":      "Course",
		"label.reason":      "Reason",
		"label.attempts":    "Attempts",
		"order_number":      "#%s",
		"footer":            "Sent by the course enrollment service of %s to the addresses that receive its “New order” notifications.",

		// Confirmation request (SPEC §2.5).
		"conf.subject.bacs":   "[%s] Order #%s: confirm the bank transfer",
		"conf.subject.cheque": "[%s] Order #%s: confirm the cheque payment",
		"conf.subject.cod":    "[%s] Order #%s: confirm the cash on delivery payment",
		"conf.subject":        "[%s] Order #%s: confirm the payment",
		"conf.preheader":      "Confirm that the payment of %s arrived to enroll the buyer in the courses.",
		"conf.heading":        "Please confirm a payment",
		"conf.intro":          "The buyer of order #%s chose to pay by %s. This payment method cannot be verified automatically, so the buyer is enrolled in the courses only after someone confirms that the money arrived.",
		"conf.button":         "Confirm payment received",
		"conf.check_first":    "Press the button only once the payment has really been received.",
		"link_text":           "If the button does not work, copy this link into your browser:",
		"conf.safe":           "Opening the link changes nothing: it shows the order, and the payment counts as confirmed only when you press the button on that page.",
		"conf.expires":        "The link expires in %s. After that, or if you prefer, move the order to Processing in WooCommerce: the buyer is enrolled just the same.",
		"conf.expires_soon":   "The link expires after a while. After that, or if you prefer, move the order to Processing in WooCommerce: the buyer is enrolled just the same.",
		"conf.text_button":    "Confirm payment received:",

		// Failure report (SPEC §2.4).
		"fail.subject.one":  "[%s] Order #%s: enrollment in 1 course failed",
		"fail.subject.many": "[%s] Order #%s: enrollment in %d courses failed",
		"fail.preheader":    "The buyer of order #%s could not be enrolled. Here is why and how to retry.",
		"fail.heading":      "An enrollment needs your attention",
		"fail.intro":        "The service could not enroll the buyer of order #%s (%s) in the courses below and has stopped trying.",
		"fail.how":          "How to retry",
		"fail.step1":        "Fix the cause: the product's SKU in WooCommerce, or the course in Open edX (does it exist, is enrollment open, does it offer that mode?).",
		"fail.step2":        "In WooCommerce, open order #%s, change its status to On hold and save the order.",
		"fail.step3":        "Change the status back to Processing and save again. The failed courses are retried; courses already enrolled are not enrolled twice.",

		// Retry button of the failure report (SPEC §2.5b).
		"fail.retry.step":         "Then press the button below. It opens a page that lists the failed courses, and they are retried only when you press the button on that page. The order is read again from the shop, so a corrected SKU counts; courses already enrolled are not enrolled twice.",
		"fail.retry.button":       "Retry the failed courses",
		"fail.retry.text_button":  "Retry the failed courses:",
		"fail.retry.expires":      "The button can be used once and expires in %s.",
		"fail.retry.expires_soon": "The button can be used once and expires after a while.",
		"fail.retry.or_shop":      "Or, in WooCommerce, open order #%s, change its status to On hold and save, then change it back to Processing and save again: that retries the failed courses too.",

		// Webhook health (SPEC §2.7).
		"hook.subject":   "[%s] Your WooCommerce webhooks need attention",
		"hook.preheader": "New orders reach the enrollment service late until the webhooks are fixed.",
		"hook.heading":   "Your WooCommerce webhooks need attention",
		"hook.intro":     "The enrollment service checked the webhooks of %s and found a problem. While it lasts, new and updated orders reach the service only through its periodic check, so enrollments are delayed.",
		"hook.found":     "What was found:",
		"hook.how":       "What to do",
		"hook.step1":     "In the WordPress admin, go to WooCommerce > Settings > Advanced > Webhooks.",
		"hook.step2":     "Open each webhook listed above, set its Status to Active, check that its Delivery URL is the service's address, and save.",
		"hook.step3":     "If a webhook is missing, add it with the topic Order created or Order updated, API version WP REST API Integration v3, and the same secret as the other one.",
		"hook.why":       "WooCommerce disables a webhook by itself after several failed deliveries in a row, for example while the service could not be reached.",
		"hook.button":    "Open the webhook settings",
		"hook.text_link": "Webhook settings:",

		// Webhook set to a legacy API version (SPEC §2.1).
		"legacy.subject":      "[%s] A WooCommerce webhook uses a legacy API version",
		"legacy.preheader":    "Set the webhook's API version to WP REST API Integration v3.",
		"legacy.heading":      "A webhook uses a legacy API version",
		"legacy.intro":        "The enrollment service received deliveries from %s in the format of WooCommerce's legacy REST API ({\"order\": …}), which it does not read. It recorded and ignored them. Until the webhook is fixed, new and updated orders reach the service only through its periodic check, so enrollments are delayed.",
		"legacy.found":        "Webhooks to fix:",
		"legacy.hook":         "Webhook #%s (%s)",
		"legacy.hook_named":   "Webhook #%s “%s” (%s)",
		"legacy.hook_unknown": "A webhook that did not send its id (%s)",
		"legacy.step2":        "Open each webhook listed above, set its API version to “WP REST API Integration v3”, keep its topic, delivery URL and secret as they are, and save.",
		"legacy.why":          "WooCommerce 9 removed the legacy REST API: a webhook set to a legacy version delivers only while the “WooCommerce Legacy REST API” plugin is active, and not at all without it.",

		// Orders reconciliation could not read (SPEC §2.1).
		"unread.subject.one":  "[%s] The enrollment service could not read 1 order",
		"unread.subject.many": "[%s] The enrollment service could not read %d orders",
		"unread.preheader":    "These orders were skipped and are not enrolled automatically.",
		"unread.heading":      "Orders the service could not read",
		"unread.intro":        "While catching up with the orders of %s, the enrollment service found orders it cannot read. It skipped them and went on with the others; these orders are not enrolled automatically. Each is reported once.",
		"unread.found":        "Orders skipped:",
		"unread.order":        "Order %s: %s",
		"unread.order_noid":   "An order without an id: %s",
		"unread.how":          "What to do",
		"unread.step1":        "Find the plugin that changes the orders WooCommerce's REST API returns (an order's “id” must be a number) and deactivate it, or ask its authors to keep WooCommerce's order format.",
		"unread.step2":        "Enroll the buyers of these orders in Open edX by hand, or, once the order reads correctly, move it to On hold, save, then back to Processing and save: the service enrolls it then.",
	},
	"es": {
		"label.order":       "Pedido",
		"label.date":        "Fecha",
		"label.customer":    "Cliente",
		"label.payment":     "Método de pago",
		"label.product":     "Producto",
		"label.quantity":    "Cant.",
		"label.total":       "Total",
		"label.order_total": "Total del pedido",
		"label.course":      "Curso",
		"label.reason":      "Motivo",
		"label.attempts":    "Intentos",
		"order_number":      "#%s",
		"footer":            "Enviado por el servicio de inscripción a cursos de %s a las direcciones que reciben sus avisos de «Nuevo pedido».",

		"conf.subject.bacs":   "[%s] Pedido #%s: confirme la transferencia",
		"conf.subject.cheque": "[%s] Pedido #%s: confirme el pago con cheque",
		"conf.subject.cod":    "[%s] Pedido #%s: confirme el pago contra reembolso",
		"conf.subject":        "[%s] Pedido #%s: confirme el pago",
		"conf.preheader":      "Confirme que llegó el pago de %s para inscribir al comprador en los cursos.",
		"conf.heading":        "Confirme un pago",
		"conf.intro":          "El comprador del pedido #%s eligió pagar con %s. Este método de pago no se puede verificar automáticamente, así que el comprador queda inscrito en los cursos solo cuando alguien confirma que el dinero llegó.",
		"conf.button":         "Confirmar pago recibido",
		"conf.check_first":    "Pulse el botón solo cuando el pago se haya recibido de verdad.",
		"link_text":           "Si el botón no funciona, copie este enlace en su navegador:",
		"conf.safe":           "Abrir el enlace no cambia nada: muestra el pedido, y el pago se da por confirmado solo cuando pulse el botón de esa página.",
		"conf.expires":        "El enlace vence en %s. Después, o si lo prefiere, pase el pedido a Procesando en WooCommerce: el comprador queda inscrito igualmente.",
		"conf.expires_soon":   "El enlace vence al cabo de un tiempo. Después, o si lo prefiere, pase el pedido a Procesando en WooCommerce: el comprador queda inscrito igualmente.",
		"conf.text_button":    "Confirmar pago recibido:",

		"fail.subject.one":  "[%s] Pedido #%s: falló la inscripción en 1 curso",
		"fail.subject.many": "[%s] Pedido #%s: falló la inscripción en %d cursos",
		"fail.preheader":    "No se pudo inscribir al comprador del pedido #%s. Aquí están el motivo y cómo reintentarlo.",
		"fail.heading":      "Una inscripción necesita su atención",
		"fail.intro":        "El servicio no pudo inscribir al comprador del pedido #%s (%s) en los cursos siguientes y dejó de intentarlo.",
		"fail.how":          "Cómo reintentarlo",
		"fail.step1":        "Corrija la causa: el SKU del producto en WooCommerce o el curso en Open edX (¿existe?, ¿está abierta la inscripción?, ¿ofrece esa modalidad?).",
		"fail.step2":        "En WooCommerce, abra el pedido #%s, cambie su estado a En espera y guarde el pedido.",
		"fail.step3":        "Vuelva a poner el estado en Procesando y guarde otra vez. Los cursos que fallaron se reintentan; los cursos ya inscritos no se inscriben dos veces.",

		// Botón «Reintentar» del aviso de fallo (SPEC §2.5b).
		"fail.retry.step":         "Luego pulse el botón de abajo. Abre una página con los cursos que fallaron, y se reintentan solo cuando pulse el botón de esa página. El pedido se vuelve a leer de la tienda, así que un SKU corregido cuenta; los cursos ya inscritos no se inscriben dos veces.",
		"fail.retry.button":       "Reintentar los cursos que fallaron",
		"fail.retry.text_button":  "Reintentar los cursos que fallaron:",
		"fail.retry.expires":      "El botón sirve una sola vez y vence en %s.",
		"fail.retry.expires_soon": "El botón sirve una sola vez y vence al cabo de un tiempo.",
		"fail.retry.or_shop":      "O bien, en WooCommerce, abra el pedido #%s, cambie su estado a En espera y guarde; luego vuelva a ponerlo en Procesando y guarde otra vez: eso también reintenta los cursos que fallaron.",

		"hook.subject":   "[%s] Los webhooks de WooCommerce necesitan atención",
		"hook.preheader": "Los pedidos nuevos llegan con retraso al servicio de inscripción hasta que se corrijan los webhooks.",
		"hook.heading":   "Los webhooks de WooCommerce necesitan atención",
		"hook.intro":     "El servicio de inscripción revisó los webhooks de %s y encontró un problema. Mientras dure, los pedidos nuevos y sus cambios llegan al servicio solo mediante su revisión periódica, así que las inscripciones se demoran.",
		"hook.found":     "Qué se encontró:",
		"hook.how":       "Qué hacer",
		"hook.step1":     "En el escritorio de WordPress, vaya a WooCommerce > Ajustes > Avanzado > Webhooks.",
		"hook.step2":     "Abra cada webhook de la lista anterior, ponga su Estado en Activo, compruebe que la URL de entrega sea la dirección del servicio y guarde.",
		"hook.step3":     "Si falta un webhook, añádalo con el tema Pedido creado o Pedido actualizado, la versión de API «WP REST API Integration v3» y el mismo secreto que el otro.",
		"hook.why":       "WooCommerce desactiva un webhook por su cuenta tras varias entregas fallidas seguidas, por ejemplo mientras no se pudo llegar al servicio.",
		"hook.button":    "Abrir los ajustes de webhooks",
		"hook.text_link": "Ajustes de webhooks:",

		"legacy.subject":      "[%s] Un webhook de WooCommerce usa una versión de API antigua",
		"legacy.preheader":    "Ponga la versión de API del webhook en «WP REST API Integration v3».",
		"legacy.heading":      "Un webhook usa una versión de API antigua",
		"legacy.intro":        "El servicio de inscripción recibió entregas de %s en el formato de la API REST antigua de WooCommerce ({\"order\": …}), que no lee. Las registró y no hizo nada con ellas. Hasta que se corrija el webhook, los pedidos nuevos y sus cambios llegan al servicio solo mediante su revisión periódica, así que las inscripciones se demoran.",
		"legacy.found":        "Webhooks que hay que corregir:",
		"legacy.hook":         "Webhook #%s (%s)",
		"legacy.hook_named":   "Webhook #%s «%s» (%s)",
		"legacy.hook_unknown": "Un webhook que no envió su id (%s)",
		"legacy.step2":        "Abra cada webhook de la lista anterior, ponga su versión de API en «WP REST API Integration v3», deje su tema, URL de entrega y secreto como están y guarde.",
		"legacy.why":          "WooCommerce 9 eliminó la API REST antigua: un webhook con una versión antigua solo entrega mientras el plugin «WooCommerce Legacy REST API» esté activo, y sin él no entrega nada.",

		"unread.subject.one":  "[%s] El servicio de inscripción no pudo leer 1 pedido",
		"unread.subject.many": "[%s] El servicio de inscripción no pudo leer %d pedidos",
		"unread.preheader":    "Estos pedidos se omitieron y no se inscriben automáticamente.",
		"unread.heading":      "Pedidos que el servicio no pudo leer",
		"unread.intro":        "Al ponerse al día con los pedidos de %s, el servicio de inscripción encontró pedidos que no puede leer. Los omitió y siguió con los demás; estos pedidos no se inscriben automáticamente. Cada uno se informa una sola vez.",
		"unread.found":        "Pedidos omitidos:",
		"unread.order":        "Pedido %s: %s",
		"unread.order_noid":   "Un pedido sin id: %s",
		"unread.how":          "Qué hacer",
		"unread.step1":        "Busque el plugin que cambia los pedidos que devuelve la API REST de WooCommerce (el «id» de un pedido debe ser un número) y desactívelo, o pida a sus autores que respeten el formato de pedidos de WooCommerce.",
		"unread.step2":        "Inscriba a mano en Open edX a los compradores de estos pedidos o, cuando el pedido se lea bien, páselo a En espera, guarde, vuelva a Procesando y guarde: el servicio lo inscribe entonces.",
	},
}

var monthsES = [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
	"agosto", "septiembre", "octubre", "noviembre", "diciembre"}

// formatDate writes an order date as people of the language write it. Order dates are the
// shop's wall time, so no zone is shown. internal/confirm/pages.go has a copy (formatDate) so
// the Confirm pages show the same date as this email; change both together.
func formatDate(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if lang == "es" {
		return fmt.Sprintf("%d de %s de %d, %s", t.Day(), monthsES[t.Month()-1], t.Year(), t.Format("15:04"))
	}
	return t.Format("January 2, 2006, 3:04 PM")
}

// formatTTL writes a link lifetime in whole days, or hours when shorter or uneven.
func formatTTL(lang string, d time.Duration) string {
	unit := map[string][4]string{
		"en": {"day", "days", "hour", "hours"},
		"es": {"día", "días", "hora", "horas"},
	}[lang]
	plural := func(n int64, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return plural(int64(d/(24*time.Hour)), unit[0], unit[1])
	}
	h := int64((d + time.Hour - 1) / time.Hour)
	return plural(h, unit[2], unit[3])
}
