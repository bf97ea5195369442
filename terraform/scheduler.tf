# Cloud Scheduler: calls the sweep service every few minutes (POST, empty body) with an
# OIDC token of its own account, the only account allowed to invoke sweep (run.tf).

resource "google_service_account" "scheduler" {
  account_id   = "wc-openedx-scheduler"
  display_name = "wc-openedx: Cloud Scheduler calling the sweep"

  depends_on = [google_project_service.enabled]
}

resource "google_cloud_scheduler_job" "sweep" {
  name        = "wc-openedx-sweep"
  region      = var.region
  description = "Publish unsent jobs, reconcile with the shop, check the shop's webhooks."
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"

  # The sweep service's own request timeout.
  attempt_deadline = "300s"

  # No retries: the next tick is the retry, and sweeps must not overlap.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = local.run_url.sweep

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.run_url.sweep
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_cloud_run_v2_service_iam_member.service_invoker,
  ]
}
