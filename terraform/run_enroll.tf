# Enroll: the worker behind the jobs topic's push subscription (pubsub.tf). Private: only
# the push invoker account may call it, and the service checks the push OIDC token itself
# too (PUSH_AUDIENCE, PUSH_SERVICE_ACCOUNT; SPEC §2.6).

locals {
  # Secrets this service's account may read. The worker uses the WooCommerce keys, the
  # Open edX client, SendGrid and the confirmation signing key (BACS email links); it
  # also gets WC_WEBHOOK_SECRET only because config.Load requires every required variable
  # in every process. Narrow this list when the loader is split per function.
  enroll_secrets = [
    "WC_CONSUMER_KEY",
    "WC_CONSUMER_SECRET",
    "WC_WEBHOOK_SECRET",
    "OPENEDX_CLIENT_ID",
    "OPENEDX_CLIENT_SECRET",
    "SENDGRID_API_KEY",
    "CONFIRM_SIGNING_KEY",
  ]
}

resource "google_service_account" "enroll" {
  account_id   = "wc-openedx-enroll"
  display_name = "wc-openedx: enroll worker"
}

# Claims and records per-line enrollment state in Firestore transactions.
resource "google_project_iam_member" "enroll_datastore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.enroll.email}"
}

# The worker may queue follow-up jobs through the same outbox-and-publish path as the other
# services (e.g. retrying only the order completion after the enrollments succeeded, SPEC
# §2.4). Without this role such a publish would fail and the job would wait for the next
# sweep instead of running at once; publishing to this one topic is all it allows.
resource "google_pubsub_topic_iam_member" "enroll_publisher" {
  topic  = google_pubsub_topic.jobs.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.enroll.email}"
}

resource "google_secret_manager_secret_iam_member" "enroll" {
  for_each = toset(local.enroll_secrets)

  secret_id = google_secret_manager_secret.config[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.enroll.email}"
}

resource "google_cloud_run_v2_service" "enroll" {
  name     = "enroll"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL"

  deletion_protection = false

  template {
    service_account = google_service_account.enroll.email

    # Same as the subscription's ack deadline (the push request timeout).
    timeout                          = "${local.enroll_timeout_seconds}s"
    max_instance_request_concurrency = 20

    scaling {
      max_instance_count = 10
    }

    containers {
      image = var.image

      dynamic "env" {
        for_each = merge(local.service_env, {
          FUNCTION_TARGET      = "Enroll"
          PUSH_AUDIENCE        = local.run_url.enroll
          PUSH_SERVICE_ACCOUNT = google_service_account.push_invoker.email
        })
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = toset(local.enroll_secrets)
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
    google_secret_manager_secret_iam_member.enroll,
  ]

  lifecycle {
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }
}

resource "google_cloud_run_v2_service_iam_member" "enroll_push_invoker" {
  location = google_cloud_run_v2_service.enroll.location
  name     = google_cloud_run_v2_service.enroll.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push_invoker.email}"
}
