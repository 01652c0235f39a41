# The Firestore database, its TTL policies, index exemptions and vector indexes.
# What needs them is in the code: every collection written with `expires_at` gets a TTL policy
# (shared/store/base.py EXPIRES_AT), every find_nearest a composite vector index.

resource "google_firestore_database" "main" {
  project                           = var.project_id
  name                              = var.firestore_database
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = var.firestore_deletion_policy

  depends_on = [google_project_service.apis]
}

# --- TTL policies on `expires_at`.
# Firestore deletes an expired document within about 24 hours; the code never returns one in
# the meantime. The field is also exempt from single-field indexes (`index_config {}`): a
# timestamp that grows with time hotspots its index, and nothing queries on it.

resource "google_firestore_field" "sessions_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "sessions"
  field      = "expires_at"

  ttl_config {}
  index_config {}
}

# The collection group of sessions/{id}/messages: a TTL policy names a collection id.
resource "google_firestore_field" "messages_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "messages"
  field      = "expires_at"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "response_cache_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "response_cache"
  field      = "expires_at"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "rate_limits_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "rate_limits"
  field      = "expires_at"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "processed_events_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "processed_events"
  field      = "expires_at"

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "metrics_minutes_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "metrics_minutes"
  field      = "expires_at"

  ttl_config {}
  index_config {}
}

# --- Index exemptions: a minute document holds ~550 counter and histogram leaves under these
# two maps (docs/metrics.md); summaries read whole documents by a range on `minute`, so
# indexing the leaves would only cost writes. An exemption on a map covers its subfields.

resource "google_firestore_field" "metrics_minutes_counts" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "metrics_minutes"
  field      = "counts"

  index_config {}
}

# The catalog profile's parts (meta/profile, meta/profile_1...) are long JSON strings that no
# query reads by value: no single-field index (a string over 1,500 bytes is never useful there).
resource "google_firestore_field" "meta_profile_text" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "meta"
  field      = "text"

  index_config {}
}

resource "google_firestore_field" "metrics_minutes_hist" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "metrics_minutes"
  field      = "hist"

  index_config {}
}

# --- Vector indexes, one per find_nearest the code runs.
# The Firestore adapter pre-filters every search on `<field>_model == <model id>`
# (shared/store/firestore_store.py `nearest`), so each index is composite: the equality fields,
# then `__name__`, then the vector. The server stores a vector index as [..., __name__, vector];
# declaring `__name__` there keeps the provider from seeing a diff and recreating the index
# on every plan. The dimension must equal the stored vectors' size exactly.

locals {
  # Index -> its collection and the equality fields its find_nearest filters on, in the order
  # the server stores them (sorted); each index then takes `__name__` and the `embedding` vector.
  vector_indexes = {
    products        = { collection = "products", fields = ["embedding_model"] }
    shops           = { collection = "shops", fields = ["embedding_model"] }
    document_chunks = { collection = "document_chunks", fields = ["embedding_model"] }
    # The semantic cache lookup (shared/cache/responses.py `lookup`) also filters on the catalog
    # version, the intent and the context fingerprint.
    response_cache = {
      collection = "response_cache"
      fields     = ["catalog_version", "context", "embedding_model", "intent"]
    }
    # A question that names one category of a catalog larger than the search pool also searches
    # that category alone (shared/search/retrieval.py `_products`): the category is an equality
    # pre-filter beside the model's.
    products_by_category = { collection = "products", fields = ["category", "embedding_model"] }
  }
}

resource "google_firestore_index" "vector" {
  for_each = local.vector_indexes

  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  # Generated in place, so before the two blocks below.
  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
  fields {
    field_path = "embedding"
    vector_config {
      dimension = var.embedding_dimensions
      flat {}
    }
  }
}

# One resource per index before `vector` took them all: these keep a state that holds the old
# addresses from destroying and rebuilding the indexes.
moved {
  from = google_firestore_index.products_embedding
  to   = google_firestore_index.vector["products"]
}

moved {
  from = google_firestore_index.shops_embedding
  to   = google_firestore_index.vector["shops"]
}

moved {
  from = google_firestore_index.document_chunks_embedding
  to   = google_firestore_index.vector["document_chunks"]
}

moved {
  from = google_firestore_index.response_cache_embedding
  to   = google_firestore_index.vector["response_cache"]
}

moved {
  from = google_firestore_index.products_by_category
  to   = google_firestore_index.vector["products_by_category"]
}
