# The Cloud Run services: one image (built by ../cloudbuild.yaml), one service per function,
# each picking its function with FUNCTION_TARGET and running as its own service account.
#
# local.services is the one place that says what differs per function, side by side; every
# resource below is one for_each over it. Adding a function is one entry here (plus its
# FUNCTION_TARGET in cloudbuild.yaml's deploy steps).
#
# Per entry:
#   function      FUNCTION_TARGET (internal/config's function names).
#   description   the service account's display name.
#   public        true: anyone may invoke it (allUsers); the function authenticates the
#                 request itself (webhook signature, signed link).
#   invokers      name => member allowed to invoke it, besides allUsers when public
#                 (a service account, or for the console the operators' users and groups).
#   env           the plain variables its function reads besides local.common_env: with
#                 them, exactly the variables whose `fn` tag in internal/config names the
#                 function. Values come from local.service_env (config.tf), except the
#                 per-service FUNCTION_TARGET, PUSH_AUDIENCE and PUSH_SERVICE_ACCOUNT.
#   secrets       the Secret Manager secrets its function reads (secrets.tf); its account may
#                 read these and no other, secret by secret.
#   push_account  PUSH_SERVICE_ACCOUNT of the functions that check their caller's Google
#                 OIDC token themselves (SPEC §2.6), whose PUSH_AUDIENCE is their own URL
#                 (local.run_url); null for the others.
#   timeout, concurrency, max_instances   the revision's request timeout, requests per
#                 instance, and instance cap.
#
# Every runtime account may use Firestore (roles/datastore.user on the project: Firestore has
# no finer grant) and publish to the jobs topic, so those grants are not per entry.

locals {
  # Variables every function reads (internal/config: fn:"all"). Never set: PORT and
  # K_SERVICE (Cloud Run sets them), the emulator hosts (local runs and tests only).
  common_env = ["FUNCTION_TARGET", "GOOGLE_CLOUD_PROJECT", "FIRESTORE_DATABASE", "JOBS_TOPIC", "WC_URL", "LOG_LEVEL"]

  services = {
    # Receives WooCommerce's order.created / order.updated deliveries. WooCommerce cannot
    # authenticate to Google: public, and it checks the webhook's HMAC signature itself.
    webhook = {
      function      = "Webhook"
      description   = "webhook service"
      public        = true
      invokers      = {}
      env           = ["OPENEDX_DEFAULT_MODE", "CONFIRM_PAYMENT_METHODS", "UNENROLL_ON"]
      secrets       = ["WC_WEBHOOK_SECRET"]
      push_account  = null
      timeout       = "60s" # WooCommerce waits 60 s for a delivery; intake answers long before.
      concurrency   = 80
      max_instances = 10
    }

    # The worker behind the jobs topic's push subscriptions (pubsub.tf). Private: only the
    # push account may call it, and it checks the push OIDC token itself too.
    enroll = {
      function    = "Enroll"
      description = "enroll worker"
      public      = false
      invokers    = { push = "serviceAccount:${google_service_account.push_invoker.email}" }
      env = [
        "WC_COMPLETE_MIXED_ORDERS", "OPENEDX_URL", "OPENEDX_ENROLL_STRATEGY", "OPENEDX_DEFAULT_MODE",
        "SENDGRID_API_URL", "MAIL_FROM", "CONFIRM_PAYMENT_METHODS", "NOTIFY_EMAILS", "LANGUAGE",
        "CONFIRM_URL", "CONFIRM_LINK_TTL", "PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT",
        "ENROLL_MAX_ATTEMPTS", "UNENROLL_ON", "SUPPORT_CONTACT",
      ]
      secrets = [
        "WC_CONSUMER_KEY", "WC_CONSUMER_SECRET", "OPENEDX_CLIENT_ID", "OPENEDX_CLIENT_SECRET",
        "SENDGRID_API_KEY", "CONFIRM_SIGNING_KEY",
      ]
      push_account  = google_service_account.push_invoker.email
      timeout       = "${local.enroll_timeout_seconds}s" # the push subscription's ack deadline
      concurrency   = 20
      max_instances = 10
    }

    # The page behind the link in the payment-confirmation email. Public (the admin clicks it
    # from a mail client); the signed, expiring token is the authorization.
    confirm = {
      function      = "Confirm"
      description   = "confirm page"
      public        = true
      invokers      = {}
      env           = ["MAIL_FROM", "LANGUAGE", "CONFIRM_LINK_TTL"]
      secrets       = ["CONFIRM_SIGNING_KEY"]
      push_account  = null
      timeout       = "60s"
      concurrency   = 80
      max_instances = 5
    }

    # Called by Cloud Scheduler (scheduler.tf): publishes jobs whose publish failed,
    # reconciles with the shop, checks the shop's webhooks. Private: only the scheduler's
    # account may call it, and it checks the OIDC token itself too.
    sweep = {
      function    = "Sweep"
      description = "sweep"
      public      = false
      invokers    = { scheduler = "serviceAccount:${google_service_account.scheduler.email}" }
      env = [
        "OPENEDX_DEFAULT_MODE", "SENDGRID_API_URL", "MAIL_FROM", "CONFIRM_PAYMENT_METHODS",
        "NOTIFY_EMAILS", "LANGUAGE", "PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT", "WEBHOOK_URL",
        "RECONCILE_LOOKBACK", "WEBHOOK_REACTIVATE", "UNENROLL_ON",
      ]
      secrets      = ["WC_CONSUMER_KEY", "WC_CONSUMER_SECRET", "SENDGRID_API_KEY"]
      push_account = google_service_account.scheduler.email
      timeout      = "300s" # the scheduler job's attempt deadline
      # One sweep at a time: an overlapping call is refused and the next tick runs instead.
      concurrency   = 1
      max_instances = 1
    }

    # The operators' console: orders, lines, dead letters, retries. Private: only the
    # operators named in var.console_operators may call it, through
    # `gcloud run services proxy console` (output console_proxy_command); Cloud Run checks
    # their Google identity, and the console records it with each action. It reads Firestore
    # and queues jobs: no shop, LMS or SendGrid credential.
    console = {
      function      = "Console"
      description   = "operators' console"
      public        = false
      invokers      = { for m in var.console_operators : m => m }
      env           = ["LANGUAGE"]
      secrets       = []
      push_account  = null
      timeout       = "60s"
      concurrency   = 20
      max_instances = 2
    }
  }

  # "service/SECRET" => the grant of one secret to one service's account.
  service_secrets = merge([
    for k, s in local.services : {
      for name in s.secrets : "${k}/${name}" => { service = k, secret = name }
    }
  ]...)

  # "service/name" => one member allowed to invoke one service.
  service_invokers = merge([
    for k, s in local.services : {
      for n, member in merge(s.public ? { allUsers = "allUsers" } : {}, s.invokers) :
      "${k}/${n}" => { service = k, member = member }
    }
  ]...)
}

resource "google_service_account" "service" {
  for_each = local.services

  account_id   = "wc-openedx-${each.key}"
  display_name = "wc-openedx: ${each.value.description}"

  depends_on = [google_project_service.enabled]
}

# Orders, deliveries, per-line state, the outbox: every function reads or writes Firestore.
resource "google_project_iam_member" "service_datastore" {
  for_each = local.services

  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.service[each.key].email}"
}

# Every function may queue jobs through the outbox-and-publish path: the webhook and the
# confirmation page queue what they decided, the sweep publishes the outbox and what
# reconciliation finds, the worker queues follow-up jobs (e.g. retrying only the completion).
# Publishing to this one topic is all it allows.
resource "google_pubsub_topic_iam_member" "service_publisher" {
  for_each = local.services

  topic  = google_pubsub_topic.jobs.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.service[each.key].email}"
}

# Each account reads its own function's secrets, secret by secret.
resource "google_secret_manager_secret_iam_member" "service_secret" {
  for_each = local.service_secrets

  secret_id = google_secret_manager_secret.config[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.service[each.value.service].email}"
}

# A new revision reads its secrets when it starts, and Pub/Sub mints the push tokens as
# push_invoker: IAM grants take up to a minute or so to take effect, so the services and the
# push subscriptions wait for the grants they need and then this long. Its triggers replace it
# (and so wait again) when a grant is added, e.g. for a new function or secret.
resource "time_sleep" "iam_propagation" {
  create_duration = "60s"

  triggers = {
    secret_grants = join(",", sort(keys(local.service_secrets)))
    services      = join(",", sort(keys(local.services)))
  }

  depends_on = [
    google_secret_manager_secret_iam_member.service_secret,
    google_project_iam_member.service_datastore,
    google_pubsub_topic_iam_member.service_publisher,
    google_service_account_iam_member.pubsub_agent_token_creator,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

resource "google_cloud_run_v2_service" "service" {
  for_each = local.services

  name     = each.key
  location = var.region
  # Pub/Sub push and Cloud Scheduler reach the private services from outside the VPC too;
  # Cloud Run IAM (the invokers below) is what keeps them private.
  ingress = "INGRESS_TRAFFIC_ALL"

  # Stateless: the data lives in Firestore.
  deletion_protection = false

  template {
    service_account                  = google_service_account.service[each.key].email
    timeout                          = each.value.timeout
    max_instance_request_concurrency = each.value.concurrency

    scaling {
      max_instance_count = each.value.max_instances
    }

    containers {
      image = var.image

      # Exactly the variables its function reads (internal/config): the plain ones by name
      # from local.service_env, or per service; then its secrets.
      dynamic "env" {
        for_each = {
          for name in concat(local.common_env, each.value.env) :
          name => merge(local.service_env, {
            FUNCTION_TARGET      = each.value.function
            PUSH_AUDIENCE        = local.run_url[each.key]
            PUSH_SERVICE_ACCOUNT = each.value.push_account
          })[name]
        }
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = toset(each.value.secrets)
        content {
          name = env.value
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.config[env.value].secret_id
              version = "latest"
            }
          }
        }
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle = true
      }
    }
  }

  depends_on = [
    google_project_service.enabled,
    time_sleep.iam_propagation,
  ]

  lifecycle {
    # Cloud Build deploys the image (cloudbuild.yaml) with `gcloud run services update`,
    # which records itself as the client and may label and annotate the revision template
    # (authoritative maps in this resource). The service-level labels and annotations are
    # non-authoritative in the provider (it manages only the keys set here, none), so what
    # a deploy adds there shows no diff and needs no entry.
    ignore_changes = [
      template[0].containers[0].image,
      template[0].labels,
      template[0].annotations,
      client,
      client_version,
    ]
  }
}

resource "google_cloud_run_v2_service_iam_member" "service_invoker" {
  for_each = local.service_invokers

  location = google_cloud_run_v2_service.service[each.value.service].location
  name     = google_cloud_run_v2_service.service[each.value.service].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

# The four services used to be one file each (run_webhook.tf, …); these keep an existing
# deployment's resources instead of destroying and recreating them. The secret grants a
# function no longer needs have no entry: applying removes them.
moved {
  from = google_service_account.webhook
  to   = google_service_account.service["webhook"]
}
moved {
  from = google_service_account.enroll
  to   = google_service_account.service["enroll"]
}
moved {
  from = google_service_account.confirm
  to   = google_service_account.service["confirm"]
}
moved {
  from = google_service_account.sweep
  to   = google_service_account.service["sweep"]
}

moved {
  from = google_project_iam_member.webhook_datastore
  to   = google_project_iam_member.service_datastore["webhook"]
}
moved {
  from = google_project_iam_member.enroll_datastore
  to   = google_project_iam_member.service_datastore["enroll"]
}
moved {
  from = google_project_iam_member.confirm_datastore
  to   = google_project_iam_member.service_datastore["confirm"]
}
moved {
  from = google_project_iam_member.sweep_datastore
  to   = google_project_iam_member.service_datastore["sweep"]
}

moved {
  from = google_pubsub_topic_iam_member.webhook_publisher
  to   = google_pubsub_topic_iam_member.service_publisher["webhook"]
}
moved {
  from = google_pubsub_topic_iam_member.enroll_publisher
  to   = google_pubsub_topic_iam_member.service_publisher["enroll"]
}
moved {
  from = google_pubsub_topic_iam_member.confirm_publisher
  to   = google_pubsub_topic_iam_member.service_publisher["confirm"]
}
moved {
  from = google_pubsub_topic_iam_member.sweep_publisher
  to   = google_pubsub_topic_iam_member.service_publisher["sweep"]
}

moved {
  from = google_secret_manager_secret_iam_member.webhook["WC_WEBHOOK_SECRET"]
  to   = google_secret_manager_secret_iam_member.service_secret["webhook/WC_WEBHOOK_SECRET"]
}
moved {
  from = google_secret_manager_secret_iam_member.enroll["WC_CONSUMER_KEY"]
  to   = google_secret_manager_secret_iam_member.service_secret["enroll/WC_CONSUMER_KEY"]
}
moved {
  from = google_secret_manager_secret_iam_member.enroll["WC_CONSUMER_SECRET"]
  to   = google_secret_manager_secret_iam_member.service_secret["enroll/WC_CONSUMER_SECRET"]
}
moved {
  from = google_secret_manager_secret_iam_member.enroll["OPENEDX_CLIENT_ID"]
  to   = google_secret_manager_secret_iam_member.service_secret["enroll/OPENEDX_CLIENT_ID"]
}
moved {
  from = google_secret_manager_secret_iam_member.enroll["OPENEDX_CLIENT_SECRET"]
  to   = google_secret_manager_secret_iam_member.service_secret["enroll/OPENEDX_CLIENT_SECRET"]
}
moved {
  from = google_secret_manager_secret_iam_member.enroll["SENDGRID_API_KEY"]
  to   = google_secret_manager_secret_iam_member.service_secret["enroll/SENDGRID_API_KEY"]
}
moved {
  from = google_secret_manager_secret_iam_member.enroll["CONFIRM_SIGNING_KEY"]
  to   = google_secret_manager_secret_iam_member.service_secret["enroll/CONFIRM_SIGNING_KEY"]
}
moved {
  from = google_secret_manager_secret_iam_member.confirm["CONFIRM_SIGNING_KEY"]
  to   = google_secret_manager_secret_iam_member.service_secret["confirm/CONFIRM_SIGNING_KEY"]
}
moved {
  from = google_secret_manager_secret_iam_member.sweep["WC_CONSUMER_KEY"]
  to   = google_secret_manager_secret_iam_member.service_secret["sweep/WC_CONSUMER_KEY"]
}
moved {
  from = google_secret_manager_secret_iam_member.sweep["WC_CONSUMER_SECRET"]
  to   = google_secret_manager_secret_iam_member.service_secret["sweep/WC_CONSUMER_SECRET"]
}
moved {
  from = google_secret_manager_secret_iam_member.sweep["SENDGRID_API_KEY"]
  to   = google_secret_manager_secret_iam_member.service_secret["sweep/SENDGRID_API_KEY"]
}

moved {
  from = google_cloud_run_v2_service.webhook
  to   = google_cloud_run_v2_service.service["webhook"]
}
moved {
  from = google_cloud_run_v2_service.enroll
  to   = google_cloud_run_v2_service.service["enroll"]
}
moved {
  from = google_cloud_run_v2_service.confirm
  to   = google_cloud_run_v2_service.service["confirm"]
}
moved {
  from = google_cloud_run_v2_service.sweep
  to   = google_cloud_run_v2_service.service["sweep"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.webhook_public
  to   = google_cloud_run_v2_service_iam_member.service_invoker["webhook/allUsers"]
}
moved {
  from = google_cloud_run_v2_service_iam_member.confirm_public
  to   = google_cloud_run_v2_service_iam_member.service_invoker["confirm/allUsers"]
}
moved {
  from = google_cloud_run_v2_service_iam_member.enroll_push_invoker
  to   = google_cloud_run_v2_service_iam_member.service_invoker["enroll/push"]
}
moved {
  from = google_cloud_run_v2_service_iam_member.sweep_scheduler_invoker
  to   = google_cloud_run_v2_service_iam_member.service_invoker["sweep/scheduler"]
}
