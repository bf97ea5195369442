# The service's plain (non-secret) configuration, SPEC §3: the value of every plain
# environment variable a function may read, by name. Each service gets only the ones its
# function reads (internal/config's `fn` tags), listed in local.services (run.tf); the
# per-service ones (FUNCTION_TARGET, PUSH_AUDIENCE, PUSH_SERVICE_ACCOUNT) are set there.
#
# Never set: PORT and K_SERVICE (Cloud Run sets them), FIRESTORE_EMULATOR_HOST and
# PUBSUB_EMULATOR_HOST (local runs and tests only).
#
# A list variable left empty reaches the service as "", which the service reads as
# "unset": its default applies.

locals {
  service_env = {
    GOOGLE_CLOUD_PROJECT     = var.project_id
    FIRESTORE_DATABASE       = google_firestore_database.main.name
    JOBS_TOPIC               = google_pubsub_topic.jobs.name
    WC_URL                   = var.wc_url
    WC_COMPLETE_MIXED_ORDERS = tostring(var.wc_complete_mixed_orders)
    OPENEDX_URL              = var.openedx_url
    OPENEDX_ENROLL_STRATEGY  = var.openedx_enroll_strategy
    OPENEDX_DEFAULT_MODE     = var.openedx_default_mode
    SENDGRID_API_URL         = var.sendgrid_api_url
    MAIL_FROM                = var.mail_from
    CONFIRM_PAYMENT_METHODS  = join(",", var.confirm_payment_methods)
    NOTIFY_EMAILS            = join(",", var.notify_emails)
    LANGUAGE                 = var.language
    SUPPORT_CONTACT          = var.support_contact
    CONFIRM_URL              = local.run_url.confirm
    CONFIRM_LINK_TTL         = var.confirm_link_ttl
    ENROLL_MAX_ATTEMPTS      = tostring(var.max_delivery_attempts)
    WEBHOOK_URL              = local.run_url.webhook
    RECONCILE_LOOKBACK       = var.reconcile_lookback
    WEBHOOK_REACTIVATE       = tostring(var.webhook_reactivate)
    UNENROLL_ON              = join(",", var.unenroll_on)
    LOG_LEVEL                = var.log_level
  }
}
