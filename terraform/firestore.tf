# Firestore (native mode): orders, deliveries, per-course enrollment state, the outbox.

resource "google_firestore_database" "main" {
  name        = var.firestore_database
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  # The database holds every order and delivery the service has seen: `terraform destroy`
  # leaves it in place (delete it by hand if you really mean to).
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.enabled]
}
