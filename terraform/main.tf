# wc-openedx: WooCommerce → Open edX enrollment service on Google Cloud.
#
# A flat root module, one file per concern. Terraform owns the infrastructure
# (services, accounts, topics, secrets, schedule, build trigger); Cloud Build
# (../cloudbuild.yaml) owns the container image each service runs.

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    # time_sleep: IAM grants propagate before the services and subscriptions need them.
    time = {
      source  = "hashicorp/time"
      version = ">= 0.9, < 1.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

# Read through the Cloud Resource Manager API: on a new project, once it is enabled.
data "google_project" "this" {
  project_id = var.project_id

  depends_on = [google_project_service.enabled["cloudresourcemanager.googleapis.com"]]
}

locals {
  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]

  # Cloud Run's deterministic service URLs, https://SERVICE-PROJECT_NUMBER.REGION.run.app.
  # They are known before the services exist, so the services can name each other (and
  # themselves: PUSH_AUDIENCE) without a dependency cycle on the `uri` attribute. Every URL
  # in this module (push endpoint, OIDC audiences, CONFIRM_URL, WEBHOOK_URL, outputs) comes
  # from here, so the audience a token is minted for is the one the service checks.
  run_url = {
    for s in keys(local.services) :
    s => "https://${s}-${data.google_project.this.number}.${var.region}.run.app"
  }

  # Pub/Sub's service agent: it mints the push OIDC tokens and forwards dead letters.
  pubsub_agent = "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_project_service" "enabled" {
  for_each = toset(local.apis)

  service            = each.key
  disable_on_destroy = false
}
