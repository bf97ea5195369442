# Webhook: receives WooCommerce's order.created / order.updated deliveries. Public.

locals {
  # Secrets this service's account may read. The Webhook function itself uses only
  # WC_WEBHOOK_SECRET, but config.Load requires every required variable, secrets included,
  # in every process, so until the loader is split per function each service needs them
  # all. Narrow this list (and the service reads less) when that changes.
  webhook_secrets = [
    "WC_CONSUMER_KEY",
    "WC_CONSUMER_SECRET",
    "WC_WEBHOOK_SECRET",
    "OPENEDX_CLIENT_ID",
    "OPENEDX_CLIENT_SECRET",
    "SENDGRID_API_KEY",
    "CONFIRM_SIGNING_KEY",
  ]
}

resource "google_service_account" "webhook" {
  account_id   = "wc-openedx-webhook"
  display_name = "wc-openedx: webhook service"
}

# Records orders and deliveries (and the outbox) in Firestore.
resource "google_project_iam_member" "webhook_datastore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.webhook.email}"
}

# Publishes the jobs a delivery calls for.
resource "google_pubsub_topic_iam_member" "webhook_publisher" {
  topic  = google_pubsub_topic.jobs.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.webhook.email}"
}

resource "google_secret_manager_secret_iam_member" "webhook" {
  for_each = toset(local.webhook_secrets)

  secret_id = google_secret_manager_secret.config[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.webhook.email}"
}

resource "google_cloud_run_v2_service" "webhook" {
  name     = "webhook"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL"

  # Stateless: the data lives in Firestore.
  deletion_protection = false

  template {
    service_account = google_service_account.webhook.email

    # WooCommerce waits 60 s for a delivery; intake answers long before.
    timeout                          = "60s"
    max_instance_request_concurrency = 80

    scaling {
      max_instance_count = 10
    }

    containers {
      image = var.image

      dynamic "env" {
        for_each = merge(local.service_env, {
          FUNCTION_TARGET = "Webhook"
        })
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = toset(local.webhook_secrets)
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
    google_secret_manager_secret_iam_member.webhook,
  ]

  lifecycle {
    # Cloud Build deploys the image (cloudbuild.yaml); gcloud records itself as client.
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }
}

# WooCommerce cannot authenticate to Google: the endpoint is public and checks the
# webhook's HMAC signature itself.
resource "google_cloud_run_v2_service_iam_member" "webhook_public" {
  location = google_cloud_run_v2_service.webhook.location
  name     = google_cloud_run_v2_service.webhook.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
