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
