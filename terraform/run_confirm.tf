# Confirm: the page behind the link in the payment-confirmation email. Public (the admin
# clicks it from a mail client); the signed, expiring token is the authorization.

locals {
  # Secrets this service's account may read. The Confirm function uses
  # CONFIRM_SIGNING_KEY; the others are here only because config.Load requires every
  # required variable in every process. Narrow this list when the loader is split.
  confirm_secrets = [
    "WC_CONSUMER_KEY",
    "WC_CONSUMER_SECRET",
    "WC_WEBHOOK_SECRET",
    "OPENEDX_CLIENT_ID",
    "OPENEDX_CLIENT_SECRET",
    "SENDGRID_API_KEY",
    "CONFIRM_SIGNING_KEY",
  ]
}

resource "google_service_account" "confirm" {
  account_id   = "wc-openedx-confirm"
  display_name = "wc-openedx: confirm page"
}

# Reads the order, records the confirmation (who, when) in Firestore.
resource "google_project_iam_member" "confirm_datastore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.confirm.email}"
}

# Queues the enrollment job a confirmation calls for.
resource "google_pubsub_topic_iam_member" "confirm_publisher" {
  topic  = google_pubsub_topic.jobs.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.confirm.email}"
}

resource "google_secret_manager_secret_iam_member" "confirm" {
  for_each = toset(local.confirm_secrets)

  secret_id = google_secret_manager_secret.config[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.confirm.email}"
}

resource "google_cloud_run_v2_service" "confirm" {
  name     = "confirm"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL"

  deletion_protection = false

  template {
    service_account                  = google_service_account.confirm.email
    timeout                          = "60s"
    max_instance_request_concurrency = 80

    scaling {
      max_instance_count = 5
    }

    containers {
      image = var.image

      dynamic "env" {
        for_each = merge(local.service_env, {
          FUNCTION_TARGET = "Confirm"
        })
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = toset(local.confirm_secrets)
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
    google_secret_manager_secret_iam_member.confirm,
  ]

  lifecycle {
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }
}

resource "google_cloud_run_v2_service_iam_member" "confirm_public" {
  location = google_cloud_run_v2_service.confirm.location
  name     = google_cloud_run_v2_service.confirm.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
