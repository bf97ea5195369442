# Artifact Registry: the one image every service runs (built by cloudbuild.yaml).

resource "google_artifact_registry_repository" "images" {
  location      = var.region
  repository_id = var.artifact_repository
  format        = "DOCKER"
  description   = "wc-openedx service images, pushed by Cloud Build"

  depends_on = [google_project_service.enabled]
}
