# Topics: ingest (catalog batches in), metrics (one event per chat turn), and a dead-letter
# topic for each. Eventarc creates and owns the push subscriptions of the two triggers
# (functions.tf); Terraform cannot give those a dead_letter_policy, so the handlers publish
# poison messages to the dead-letter topics themselves (see README.md, "Dead letters"), and
# monitoring.tf alerts when a trigger's message waits or a dead letter awaits review.

resource "google_pubsub_topic" "ingest" {
  #checkov:skip=CKV_GCP_83:Encrypted at rest with Google-managed keys; the catalog is public product data and no requirement asks for a customer-managed key.
  project                    = var.project_id
  name                       = var.ingest_topic
  message_retention_duration = var.topic_message_retention
  labels                     = var.labels

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "metrics" {
  #checkov:skip=CKV_GCP_83:Encrypted at rest with Google-managed keys; metrics events carry no user text or ids (shared/metrics/publisher.py), so a customer-managed key protects nothing more.
  project                    = var.project_id
  name                       = var.metrics_topic
  message_retention_duration = var.topic_message_retention
  labels                     = var.labels

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "ingest_dead_letter" {
  #checkov:skip=CKV_GCP_83:Encrypted at rest with Google-managed keys; it holds rejected catalog records (public product data) and their reasons.
  project                    = var.project_id
  name                       = "${var.ingest_topic}${var.dead_letter_suffix}"
  message_retention_duration = var.topic_message_retention
  labels                     = var.labels

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "metrics_dead_letter" {
  #checkov:skip=CKV_GCP_83:Encrypted at rest with Google-managed keys; it holds rejected metrics events, which carry no user text or ids.
  project                    = var.project_id
  name                       = "${var.metrics_topic}${var.dead_letter_suffix}"
  message_retention_duration = var.topic_message_retention
  labels                     = var.labels

  depends_on = [google_project_service.apis]
}

# A message published to a topic with no subscription is dropped: these pull subscriptions
# keep each dead letter until an operator reads it (gcloud pubsub subscriptions pull ...).
resource "google_pubsub_subscription" "ingest_dead_letter_review" {
  project                    = var.project_id
  name                       = "${var.ingest_topic}${var.dead_letter_suffix}-review"
  topic                      = google_pubsub_topic.ingest_dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = var.dead_letter_retention
  labels                     = var.labels

  expiration_policy {
    ttl = "" # never expires for inactivity: dead letters are read rarely
  }
}

resource "google_pubsub_subscription" "metrics_dead_letter_review" {
  project                    = var.project_id
  name                       = "${var.metrics_topic}${var.dead_letter_suffix}-review"
  topic                      = google_pubsub_topic.metrics_dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = var.dead_letter_retention
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}
