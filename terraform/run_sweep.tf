# Sweep: called by Cloud Scheduler (scheduler.tf). Publishes jobs whose publish failed,
# reconciles with the shop, checks the shop's webhooks. Private: only the scheduler's
# account may call it, and the service checks the OIDC token itself too (SPEC §2.6).

locals {
  # Secrets this service's account may read. The sweep uses the WooCommerce keys
  # (reconciliation, webhook health) and SendGrid (incident emails); the others are here
  # only because config.Load requires every required variable in every process. Narrow
  # this list when the loader is split per function.
  sweep_secrets = [
    "WC_CONSUMER_KEY",
    "WC_CONSUMER_SECRET",
    "WC_WEBHOOK_SECRET",
    "OPENEDX_CLIENT_ID",
    "OPENEDX_CLIENT_SECRET",
    "SENDGRID_API_KEY",
    "CONFIRM_SIGNING_KEY",
  ]
}

resource "google_service_account" "sweep" {
  account_id   = "wc-openedx-sweep"
  display_name = "wc-openedx: sweep"
}

# Reads the outbox and orders, records checkpoints and webhook incidents.
resource "google_project_iam_member" "sweep_datastore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.sweep.email}"
}

# Publishes outbox jobs and the jobs reconciliation finds.
resource "google_pubsub_topic_iam_member" "sweep_publisher" {
  topic  = google_pubsub_topic.jobs.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.sweep.email}"
}

resource "google_secret_manager_secret_iam_member" "sweep" {
  for_each = toset(local.sweep_secrets)

  secret_id = google_secret_manager_secret.config[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sweep.email}"
}

resource "google_cloud_run_v2_service" "sweep" {
  name     = "sweep"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL"

  deletion_protection = false

  template {
    service_account = google_service_account.sweep.email
    timeout         = "300s"

    # One sweep at a time: an overlapping call is refused and the next tick runs instead.
    max_instance_request_concurrency = 1

    scaling {
      max_instance_count = 1
    }

    containers {
      image = var.image

      dynamic "env" {
        for_each = merge(local.service_env, {
          FUNCTION_TARGET      = "Sweep"
          PUSH_AUDIENCE        = local.run_url.sweep
          PUSH_SERVICE_ACCOUNT = google_service_account.scheduler.email
        })
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = toset(local.sweep_secrets)
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
    google_secret_manager_secret_iam_member.sweep,
  ]

  lifecycle {
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }
}

resource "google_cloud_run_v2_service_iam_member" "sweep_scheduler_invoker" {
  location = google_cloud_run_v2_service.sweep.location
  name     = google_cloud_run_v2_service.sweep.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}
