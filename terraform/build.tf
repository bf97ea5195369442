# Cloud Build: on every push to the branch, ../cloudbuild.yaml vets and tests the code
# (with the emulators), builds the image with Google Cloud's buildpacks, pushes it to
# Artifact Registry and deploys it to the four services. The trigger runs as its own
# account, which can do exactly that and nothing else.
#
# Prerequisite: the Cloud Build GitHub App installed on the repository and the repository
# connected to the project (Cloud Build > Triggers > Connect repository), see the README, "Deploy and operate".

resource "google_service_account" "build" {
  account_id   = "wc-openedx-build"
  display_name = "wc-openedx: Cloud Build deploys"
}

# Deploy new revisions (`gcloud run services update`) of existing services; no IAM changes.
resource "google_project_iam_member" "build_run_developer" {
  project = var.project_id
  role    = "roles/run.developer"
  member  = "serviceAccount:${google_service_account.build.email}"
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
# granted on the four runtime accounts only.
resource "google_service_account_iam_member" "build_acts_as" {
  for_each = {
    webhook = google_service_account.webhook.name
    enroll  = google_service_account.enroll.name
    confirm = google_service_account.confirm.name
    sweep   = google_service_account.sweep.name
  }

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.build.email}"
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
    google_project_iam_member.build_run_developer,
    google_project_iam_member.build_log_writer,
    google_artifact_registry_repository_iam_member.build_writer,
    google_service_account_iam_member.build_acts_as,
  ]
}
