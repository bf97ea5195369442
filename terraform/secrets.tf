# Secret Manager: one secret per `secret:"true"` field of internal/config.Config, named
# like its environment variable. Terraform creates the secrets, never their values: add
# those out of band (the README, "Deploying"), so they never land in Terraform state.
#
#   printf %s "$VALUE" | gcloud secrets versions add WC_WEBHOOK_SECRET --data-file=-
#
# Services read version "latest" at instance start; access is granted secret by secret
# to each service's own account, for the secrets its function reads (local.services, run.tf).

locals {
  config_secrets = [
    "WC_CONSUMER_KEY",
    "WC_CONSUMER_SECRET",
    "WC_WEBHOOK_SECRET",
    "OPENEDX_CLIENT_ID",
    "OPENEDX_CLIENT_SECRET",
    "SENDGRID_API_KEY",
    "CONFIRM_SIGNING_KEY",
  ]
}

resource "google_secret_manager_secret" "config" {
  for_each = toset(local.config_secrets)

  secret_id = each.key

  replication {
    auto {}
  }

  labels = {
    app = "wc-openedx"
  }

  depends_on = [google_project_service.enabled]
}
