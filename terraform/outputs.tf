output "webhook_url" {
  description = "Delivery URL for the shop's two webhooks (Order created, Order updated)."
  value       = local.run_url.webhook
}

output "confirm_url" {
  description = "Public URL of the payment confirmation page (the links in BACS emails point here)."
  value       = local.run_url.confirm
}

output "enroll_url" {
  description = "Private URL of the enroll worker (Pub/Sub push endpoint)."
  value       = local.run_url.enroll
}

output "sweep_url" {
  description = "Private URL of the sweep (called by Cloud Scheduler)."
  value       = local.run_url.sweep
}

output "jobs_topic" {
  description = "Pub/Sub topic of enrollment jobs; re-publish dead letters here."
  value       = google_pubsub_topic.jobs.name
}

output "dead_letter_subscription" {
  description = "Pull subscription holding jobs that failed max_delivery_attempts times."
  value       = google_pubsub_subscription.dead_letter.name
}

output "secrets" {
  description = "Secret Manager secrets whose values must be added out of band."
  value       = sort(local.config_secrets)
}

output "build_service_account" {
  description = "The build account (resource name), for manual builds: gcloud builds submit --service-account=..."
  value       = google_service_account.build.id
}

output "build_source_bucket" {
  description = "Bucket a manual build uploads the working copy to: gcloud builds submit --gcs-source-staging-dir=gs://BUCKET/source"
  value       = google_storage_bucket.build_source.name
}

output "build_trigger" {
  description = "Cloud Build trigger that tests, builds and deploys on pushes."
  value       = google_cloudbuild_trigger.deploy.name
}

output "console_proxy_command" {
  description = "How an operator named in console_operators opens the console: run this, then browse http://localhost:8080."
  value       = "gcloud run services proxy ${google_cloud_run_v2_service.service["console"].name} --region=${var.region} --project=${var.project_id}"
}
