# Alerts (Cloud Monitoring) to the operators' email addresses (var.alert_emails): dead
# letters, a sweep that stopped running, a webhook the shop cannot deliver to, enroll jobs
# failing more than usual. Each policy's documentation says what it means and what to do;
# ../docs/alerts.md says the same for the README.
#
# Built-in metrics where one exists (Pub/Sub's undelivered messages, Cloud Run's request
# count); a log-based metric where none does: a job that failed permanently is acknowledged
# (204), so no request metric sees it.
#
# Every metric of a Cloud Run service is one time series per revision: each condition sums
# across them (REDUCE_SUM), so a deploy, which ends the old revision's series, is not an
# absence and does not split a count in two.

locals {
  # The webhook is alerted on when it answered more than this many 5xx or 401 in
  # 10 minutes. WooCommerce never retries a delivery and disables the webhook on the 7th
  # failure in a row (protocols A4): the alert comes before that.
  webhook_error_alert_threshold = 3

  # The sweep runs every 5 minutes (var.sweep_schedule): 15 minutes without one that ran is
  # three missed runs.
  sweep_silence = "900s"

  # Where the policies' documentation sends the operators.
  alert_links = {
    logs         = "https://console.cloud.google.com/logs/query?project=${var.project_id}"
    dead_letters = "https://console.cloud.google.com/cloudpubsub/subscription/detail/${google_pubsub_subscription.dead_letter.name}?project=${var.project_id}"
    scheduler    = "https://console.cloud.google.com/cloudscheduler?project=${var.project_id}"
  }

  alert_channels = [for c in google_monitoring_notification_channel.email : c.id]

  # What each alert means and what to do, in the operators' language (var.language).
  alert_text = {
    en = {
      dead_letters = {
        name = "wc-openedx: enrollment jobs dead-lettered"
        doc  = <<-EOT
          Enrollment jobs failed `${var.max_delivery_attempts}` times and were moved to the dead-letter topic. Their last run already marked the lines still failing as failed and reported them (a note on the order, an email to the shop's new-order recipients). A copy of each waits in the subscription `${google_pubsub_subscription.dead_letter.name}`; this alert stays open while it holds any.

          **What to do**
          1. See which orders: `gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letter.name} --limit=20 --format=json` (the `order_id` attribute of each message).
          2. See why: Logs Explorer, `resource.type="cloud_run_revision" resource.labels.service_name="enroll" severity>=WARNING` and the order number. Usually the LMS or the shop was unreachable for longer than the retries last.
          3. Fix the cause, then retry each order: in WooCommerce move it to On hold, then back to Processing (lines already enrolled are not enrolled again).
          4. Acknowledge the copies you handled: `gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letter.name} --auto-ack --limit=N`. The alert closes when the subscription is empty.
        EOT
      }
      sweep_stalled = {
        name = "wc-openedx: the sweep has not run for 15 minutes"
        doc  = <<-EOT
          No call of the sweep service answered 200 for 15 minutes. While the sweep does not run, jobs whose publish failed stay in the outbox, orders whose webhook never arrived are not picked up, and a disabled shop webhook goes unnoticed. Nothing is lost: the next sweep that runs publishes the outbox and reconciles from where it stopped.

          **What to do**
          1. Cloud Scheduler: is the job `${google_cloud_scheduler_job.sweep.name}` enabled, and what did its last attempt return? `gcloud scheduler jobs describe ${google_cloud_scheduler_job.sweep.name} --location=${var.region}`
          2. The sweep's logs: `resource.type="cloud_run_revision" resource.labels.service_name="sweep" severity>=WARNING`. "sweep call rejected" (401): the scheduler's token is not the one the sweep expects (`PUSH_SERVICE_ACCOUNT`, `PUSH_AUDIENCE`). "sweep could not run" (500): Firestore could not be read. "invalid configuration": a revision that does not start.
          3. Run it by hand once fixed: `gcloud scheduler jobs run ${google_cloud_scheduler_job.sweep.name} --location=${var.region}`
        EOT
      }
      webhook_errors = {
        name = "wc-openedx: the webhook answers 5xx or 401"
        doc  = <<-EOT
          The webhook service answered 5xx or 401 more than ${local.webhook_error_alert_threshold} times in 10 minutes. WooCommerce never retries a delivery and disables the webhook after 7 failures in a row; orders are then only picked up by the sweep's reconciliation.

          401: the signature does not match. The shop's webhooks and the `WC_WEBHOOK_SECRET` secret differ (after a rotation, change both), or something else posts to the URL. 5xx: a delivery could not be recorded ("delivery not recorded" in the logs: Firestore) or the revision does not start ("invalid configuration").

          **What to do**
          1. Logs Explorer: `resource.type="cloud_run_revision" resource.labels.service_name="webhook" (httpRequest.status=401 OR httpRequest.status>=500)`, then the same service at `severity>=WARNING`.
          2. Fix the cause. Then WooCommerce > Settings > Advanced > Webhooks: both webhooks must be Active; set a disabled one back to Active. The sweep's reconciliation processes the orders changed meanwhile.
        EOT
      }
      enroll_failures = {
        name = "wc-openedx: enroll jobs failing more than usual"
        doc  = <<-EOT
          More than ${var.enroll_failures_alert_threshold} enroll jobs failed in one hour (the enroll service's "job failed permanently" and "job failed, will be retried" log lines). A permanent failure was recorded and reported on the order and by email (a wrong SKU, a closed course, an account the LMS refuses). A retried one is delivered again by Pub/Sub with backoff, and dead-lettered after ${var.max_delivery_attempts} attempts. Many at once usually have one cause: the LMS down or its OAuth application changed (`OPENEDX_CLIENT_ID`, `OPENEDX_CLIENT_SECRET`), the shop's REST keys revoked (`WC_CONSUMER_KEY`), SendGrid's key revoked (`SENDGRID_API_KEY`).

          **What to do**
          1. Logs Explorer: `resource.type="cloud_run_revision" resource.labels.service_name="enroll" severity>=ERROR`. The `error` field names the system that failed and why.
          2. Fix the cause (a secret: add a new version, see the README's "Rotating a secret"). Retried jobs then succeed by themselves; orders that failed permanently are retried from WooCommerce (On hold, then Processing).
          3. If this is the shop's normal volume of failures, raise `enroll_failures_alert_threshold`.
        EOT
      }
    }
    es = {
      dead_letters = {
        name = "wc-openedx: trabajos de matrícula en dead letter"
        doc  = <<-EOT
          Trabajos de matrícula fallaron `${var.max_delivery_attempts}` veces y pasaron al tema de dead letters. Su última ejecución ya marcó como fallidas las líneas que seguían fallando y lo informó (una nota en el pedido, un correo a los destinatarios de "Nuevo pedido" de la tienda). Una copia de cada uno espera en la suscripción `${google_pubsub_subscription.dead_letter.name}`; esta alerta sigue abierta mientras contenga alguna.

          **Qué hacer**
          1. Ver qué pedidos: `gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letter.name} --limit=20 --format=json` (el atributo `order_id` de cada mensaje).
          2. Ver por qué: Explorador de registros, `resource.type="cloud_run_revision" resource.labels.service_name="enroll" severity>=WARNING` y el número de pedido. Lo habitual: el LMS o la tienda no respondieron durante más tiempo del que duran los reintentos.
          3. Corregir la causa y reintentar cada pedido: en WooCommerce pasarlo a En espera y de nuevo a Procesando (las líneas ya matriculadas no se vuelven a matricular).
          4. Confirmar las copias ya tratadas: `gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letter.name} --auto-ack --limit=N`. La alerta se cierra cuando la suscripción queda vacía.
        EOT
      }
      sweep_stalled = {
        name = "wc-openedx: el barrido no se ejecuta desde hace 15 minutos"
        doc  = <<-EOT
          Ninguna llamada al servicio sweep respondió 200 en 15 minutos. Mientras el barrido no se ejecuta, los trabajos cuya publicación falló quedan en el outbox, los pedidos cuyo webhook no llegó no se recogen y un webhook de la tienda desactivado pasa inadvertido. No se pierde nada: el próximo barrido que se ejecute publica el outbox y concilia desde donde se quedó.

          **Qué hacer**
          1. Cloud Scheduler: ¿está habilitado el trabajo `${google_cloud_scheduler_job.sweep.name}` y qué devolvió su último intento? `gcloud scheduler jobs describe ${google_cloud_scheduler_job.sweep.name} --location=${var.region}`
          2. Los registros del barrido: `resource.type="cloud_run_revision" resource.labels.service_name="sweep" severity>=WARNING`. "sweep call rejected" (401): el token del programador no es el que el barrido espera (`PUSH_SERVICE_ACCOUNT`, `PUSH_AUDIENCE`). "sweep could not run" (500): no se pudo leer Firestore. "invalid configuration": una revisión que no arranca.
          3. Una vez corregido, ejecutarlo a mano: `gcloud scheduler jobs run ${google_cloud_scheduler_job.sweep.name} --location=${var.region}`
        EOT
      }
      webhook_errors = {
        name = "wc-openedx: el webhook responde 5xx o 401"
        doc  = <<-EOT
          El servicio webhook respondió 5xx o 401 más de ${local.webhook_error_alert_threshold} veces en 10 minutos. WooCommerce nunca reintenta una entrega y desactiva el webhook tras 7 fallos seguidos; entonces los pedidos solo los recoge la conciliación del barrido.

          401: la firma no coincide. Los webhooks de la tienda y el secreto `WC_WEBHOOK_SECRET` difieren (tras una rotación, cambiar ambos), o alguien más envía a la URL. 5xx: una entrega no se pudo registrar ("delivery not recorded" en los registros: Firestore) o la revisión no arranca ("invalid configuration").

          **Qué hacer**
          1. Explorador de registros: `resource.type="cloud_run_revision" resource.labels.service_name="webhook" (httpRequest.status=401 OR httpRequest.status>=500)`, y luego el mismo servicio con `severity>=WARNING`.
          2. Corregir la causa. Después, WooCommerce > Ajustes > Avanzado > Webhooks: los dos webhooks deben estar Activos; volver a activar el que esté desactivado. La conciliación del barrido procesa los pedidos modificados mientras tanto.
        EOT
      }
      enroll_failures = {
        name = "wc-openedx: más fallos de matrícula de lo habitual"
        doc  = <<-EOT
          Fallaron más de ${var.enroll_failures_alert_threshold} trabajos de matrícula en una hora (las líneas de registro "job failed permanently" y "job failed, will be retried" del servicio enroll). Un fallo permanente quedó registrado e informado en el pedido y por correo (un SKU erróneo, un curso cerrado, una cuenta que el LMS rechaza). Uno reintentado lo vuelve a entregar Pub/Sub con espera creciente, y pasa a dead letter tras ${var.max_delivery_attempts} intentos. Muchos a la vez suelen tener una sola causa: el LMS caído o su aplicación OAuth cambiada (`OPENEDX_CLIENT_ID`, `OPENEDX_CLIENT_SECRET`), las claves REST de la tienda revocadas (`WC_CONSUMER_KEY`), la clave de SendGrid revocada (`SENDGRID_API_KEY`).

          **Qué hacer**
          1. Explorador de registros: `resource.type="cloud_run_revision" resource.labels.service_name="enroll" severity>=ERROR`. El campo `error` dice qué sistema falló y por qué.
          2. Corregir la causa (un secreto: añadir una versión nueva, ver "Rotating a secret" en el README). Los trabajos reintentados terminan solos; los pedidos con fallo permanente se reintentan desde WooCommerce (En espera y luego Procesando).
          3. Si es el volumen normal de fallos de la tienda, subir `enroll_failures_alert_threshold`.
        EOT
      }
    }
  }[var.language]
}

# One email channel per operator address.
resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  display_name = "wc-openedx operators: ${each.key}"
  type         = "email"
  labels = {
    email_address = each.key
  }

  depends_on = [google_project_service.enabled]
}

# Dead letters: messages waiting in the operators' copy of the dead-letter topic.
resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = local.alert_text.dead_letters.name
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "undelivered messages in ${google_pubsub_subscription.dead_letter.name} > 0"
    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"pubsub_subscription\"",
        "resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letter.name}\"",
        "metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\"",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = local.alert_text.dead_letters.name
    content   = local.alert_text.dead_letters.doc
    links {
      display_name = "Pub/Sub: ${google_pubsub_subscription.dead_letter.name}"
      url          = local.alert_links.dead_letters
    }
  }

  depends_on = [google_project_service.enabled]
}

# The sweep not having run for 15 minutes: no 2xx answer from the sweep service. The sweep
# answers 200 exactly when it ran (function/sweep.go; 401 rejected, 500 could not run), and
# Cloud Run counts its answers whatever LOG_LEVEL says, so this is a built-in metric's absence
# rather than a log line's.
resource "google_monitoring_alert_policy" "sweep_stalled" {
  display_name          = local.alert_text.sweep_stalled.name
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "no 2xx answer from ${google_cloud_run_v2_service.service["sweep"].name} for 15 minutes"
    condition_absent {
      filter = join(" AND ", [
        "resource.type = \"cloud_run_revision\"",
        "resource.labels.service_name = \"${google_cloud_run_v2_service.service["sweep"].name}\"",
        "metric.type = \"run.googleapis.com/request_count\"",
        "metric.labels.response_code_class = \"2xx\"",
      ])
      duration = local.sweep_silence
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = local.alert_text.sweep_stalled.name
    content   = local.alert_text.sweep_stalled.doc
    links {
      display_name = "Cloud Scheduler"
      url          = local.alert_links.scheduler
    }
  }

  depends_on = [google_project_service.enabled]
}

# The webhook answering 5xx or 401 more than a few times in 10 minutes: every such answer
# counts towards WooCommerce disabling the webhook.
resource "google_monitoring_alert_policy" "webhook_errors" {
  display_name          = local.alert_text.webhook_errors.name
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.alert_channels

  conditions {
    display_name = "5xx or 401 answers of ${google_cloud_run_v2_service.service["webhook"].name} in 10 minutes > ${local.webhook_error_alert_threshold}"
    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"cloud_run_revision\"",
        "resource.labels.service_name = \"${google_cloud_run_v2_service.service["webhook"].name}\"",
        "metric.type = \"run.googleapis.com/request_count\"",
        "metric.labels.response_code = monitoring.regex.full_match(\"5[0-9][0-9]|401\")",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = local.webhook_error_alert_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = local.alert_text.webhook_errors.name
    content   = local.alert_text.webhook_errors.doc
    links {
      display_name = "Logs Explorer"
      url          = local.alert_links.logs
    }
  }

  depends_on = [google_project_service.enabled]
}

# Enroll failing more than usual. Not Cloud Run's 5xx count: a job that failed permanently
# (its lines recorded failed and reported) is acknowledged with 204, so no request metric
# sees it, while 503 also answers the harmless waits for another worker's claim ("job will
# be retried", WARNING). The worker logs every real failure at ERROR with one of two
# messages (function/enroll.go); this metric counts them, whatever LOG_LEVEL (ERROR is
# always logged).
resource "google_logging_metric" "enroll_failures" {
  name        = "wc-openedx/enroll_job_failures"
  description = "Enroll jobs that failed: permanently (recorded and reported), or to be retried by Pub/Sub."
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${google_cloud_run_v2_service.service["enroll"].name}\"",
    "severity>=ERROR",
    "(jsonPayload.message=\"job failed permanently\" OR jsonPayload.message=\"job failed, will be retried\")",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "wc-openedx enroll job failures"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "enroll_failures" {
  display_name          = local.alert_text.enroll_failures.name
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.alert_channels

  conditions {
    display_name = "enroll job failures in one hour > ${var.enroll_failures_alert_threshold}"
    condition_threshold {
      filter = join(" AND ", [
        "resource.type = \"cloud_run_revision\"",
        "metric.type = \"logging.googleapis.com/user/${google_logging_metric.enroll_failures.name}\"",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = var.enroll_failures_alert_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = local.alert_text.enroll_failures.name
    content   = local.alert_text.enroll_failures.doc
    links {
      display_name = "Logs Explorer"
      url          = local.alert_links.logs
    }
  }

  depends_on = [google_project_service.enabled]
}
