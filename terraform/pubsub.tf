# Pub/Sub: the jobs topic, its push subscription to the enroll service, and a dead-letter
# topic with a pull subscription so that a job that keeps failing is kept, not lost.

locals {
  # The push request timeout (= ack deadline) and the enroll service's request timeout.
  # The slowest job enrolls a bundle: per course line an account lookup and an enrollment
  # call, each with a 20 s client timeout (plus one token refresh), then the shop calls
  # (complete the order, add a note, read the new-order recipients) and possibly an email.
  # A few courses at worst-case latency stay well under 300 s; a job that still runs out of
  # time is redelivered, which is safe because lines are claimed in Firestore first.
  enroll_timeout_seconds = 300
}

resource "google_pubsub_topic" "jobs" {
  name = var.jobs_topic

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "dead_letter" {
  name = "${var.jobs_topic}-dead-letter"

  depends_on = [google_project_service.enabled]
}

# Identity Pub/Sub uses to sign the push requests' OIDC tokens. It may invoke only the
# enroll service (local.services in run.tf).
resource "google_service_account" "push_invoker" {
  account_id   = "wc-openedx-push-invoker"
  display_name = "wc-openedx: Pub/Sub push to the enroll service"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "enroll_push" {
  name  = "${var.jobs_topic}-enroll"
  topic = google_pubsub_topic.jobs.id

  ack_deadline_seconds       = local.enroll_timeout_seconds
  message_retention_duration = "604800s" # 7 days

  push_config {
    push_endpoint = local.run_url.enroll

    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = local.run_url.enroll
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  # Never expire for inactivity (the default is 31 days).
  expiration_policy {
    ttl = ""
  }

  # The first push needs the agent's token creator grant (and the dead-letter grants) to
  # have propagated, and the push account to be an invoker of the enroll service.
  depends_on = [
    time_sleep.iam_propagation,
    google_cloud_run_v2_service_iam_member.service_invoker,
  ]
}

# A job whose retries ran out is pushed to the enroll service once more through the dead-letter
# topic: the Pub/Sub dead-letter attributes tell it the retries are exhausted, so it records
# the order as failed and reports it (note + email) instead of leaving it silently stuck.
# This also covers a last attempt that timed out, which the push's deliveryAttempt cannot.
resource "google_pubsub_subscription" "dead_letter_enroll" {
  name  = "${var.jobs_topic}-dead-letter-enroll"
  topic = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = local.enroll_timeout_seconds
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = local.run_url.enroll

    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = local.run_url.enroll
    }
  }

  retry_policy {
    minimum_backoff = "60s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    time_sleep.iam_propagation,
    google_cloud_run_v2_service_iam_member.service_invoker,
  ]
}

# Dead letters are also kept here for 7 days, for operators: see docs/operations.md for how to read
# and re-drive them.
resource "google_pubsub_subscription" "dead_letter" {
  name  = "${var.jobs_topic}-dead-letter"
  topic = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = 60
  message_retention_duration = "604800s" # 7 days, the maximum
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent forwards undeliverable messages: it must publish to the
# dead-letter topic and acknowledge them on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${local.pubsub_agent}"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  subscription = google_pubsub_subscription.enroll_push.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${local.pubsub_agent}"
}

# The service agent mints the push OIDC tokens as push_invoker. Projects created after
# 2021-04-08 grant this implicitly; older ones need it. Granted on this account only.
resource "google_service_account_iam_member" "pubsub_agent_token_creator" {
  service_account_id = google_service_account.push_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${local.pubsub_agent}"

  depends_on = [google_project_service.enabled]
}
