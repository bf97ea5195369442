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

# Composite indexes of the console's queries (internal/store/console.go, ConsoleQueries).
# Firestore serves a query that filters on one field and orders by another only from a
# composite index, and refuses it without one (FAILED_PRECONDITION, "The query requires an
# index"); the emulator serves any query, so tests alone would not notice a missing one.
# terraform/console_indexes_test.go checks that every console query that needs an index has
# it here, and that nothing here is unused.
#
#   query                                               index
#   orders, newest first                                createdAt (single field, automatic)
#   orders in a stage, newest first                     orders_by_stage below
#   orders of a buyer, newest first                     orders_by_buyer below
#   orders with a number                                number (single field, automatic)
#   an order's events, oldest first                     at (single field, automatic)
#   dead letters, newest first                          at (single field, automatic)
#   outbox, oldest first                                createdAt (single field, automatic)
#
# Firestore appends __name__ to each index in the direction of its last field, which is the
# order the queries use for their page cursors (createdAt, then the document id).

# WHERE stage == ? ORDER BY createdAt DESC, __name__ DESC
resource "google_firestore_index" "orders_by_stage" {
  database   = google_firestore_database.main.name
  collection = "orders"

  fields {
    field_path = "stage"
    order      = "ASCENDING"
  }
  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }
}

# WHERE buyerEmail == ? ORDER BY createdAt DESC, __name__ DESC
resource "google_firestore_index" "orders_by_buyer" {
  database   = google_firestore_database.main.name
  collection = "orders"

  fields {
    field_path = "buyerEmail"
    order      = "ASCENDING"
  }
  fields {
    field_path = "createdAt"
    order      = "DESCENDING"
  }
}
