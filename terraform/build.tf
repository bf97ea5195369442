# Cloud Build: on every push to the branch, ../cloudbuild.yaml vets and tests the code
# (with the emulators), builds the image with Google Cloud's buildpacks, pushes it to
# Artifact Registry and deploys it to the services of run.tf. The trigger runs as its own
# account, which can do exactly that and nothing else.
#
# Prerequisite: the Cloud Build GitHub App installed on the repository and the repository
# connected to the project with a 1st gen connection (Cloud Build > Triggers > Connect
# repository), which the trigger's `github` block uses; see the README, "Deploying".

resource "google_service_account" "build" {
  account_id   = "wc-openedx-build"
  display_name = "wc-openedx: Cloud Build deploys"

  depends_on = [google_project_service.enabled]
}

# Deploy new revisions (`gcloud run services update`) of this module's services, and of no
# other service in the project: granted on each service, not on the project. It includes no
# IAM changes (run.developer cannot set a service's IAM policy).
resource "google_cloud_run_v2_service_iam_member" "build_deploy" {
  for_each = local.services

  location = google_cloud_run_v2_service.service[each.key].location
  name     = google_cloud_run_v2_service.service[each.key].name
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.build.email}"
}

# A build with its own service account must write its logs itself (CLOUD_LOGGING_ONLY).
resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

# Push the image, to this repository only.
resource "google_artifact_registry_repository_iam_member" "build_writer" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}

# Deploying a revision that runs as a service account requires actAs on that account:
# granted on the services' runtime accounts only.
resource "google_service_account_iam_member" "build_acts_as" {
  for_each = local.services

  service_account_id = google_service_account.service[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.build.email}"
}

# A build started by hand (`gcloud builds submit --service-account=...`, see the README) uploads
# the working copy to this bucket; the build account reads it from there, and from no other
# bucket. Sources are deleted after a week.
resource "google_storage_bucket" "build_source" {
  name     = "${var.project_id}-wc-openedx-build-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.build_source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

resource "google_cloudbuild_trigger" "deploy" {
  name            = "wc-openedx-deploy"
  description     = "Test, build and deploy wc-openedx on pushes to ${var.github_branch}"
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.build.id

  github {
    owner = var.github_owner
    name  = var.github_repo

    push {
      branch = "^${replace(var.github_branch, ".", "\\.")}$"
    }
  }

  substitutions = {
    _REGION     = var.region
    _REPOSITORY = google_artifact_registry_repository.images.repository_id
  }

  depends_on = [
    google_project_service.enabled,
    google_cloud_run_v2_service_iam_member.build_deploy,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_service_account_iam_member.build_acts_as,
  ]
}
