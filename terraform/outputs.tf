output "function_urls" {
  description = "HTTPS URL of each function (the web page's config.js takes chat, intent and metrics)."
  value = {
    chat             = module.chat.uri
    intent           = module.intent.uri
    ingest           = module.ingest.uri
    metrics          = module.metrics.uri
    "metrics-events" = module.metrics-events.uri
  }
}

output "chat_url" {
  description = "The chat function's URL, which the web page calls."
  value       = module.chat.uri
}

output "topics" {
  description = "Pub/Sub topic names: where catalogs are published, per-turn events, and the dead letters of each."
  value = {
    ingest              = google_pubsub_topic.ingest.name
    metrics             = google_pubsub_topic.metrics.name
    ingest_dead_letter  = google_pubsub_topic.ingest_dead_letter.name
    metrics_dead_letter = google_pubsub_topic.metrics_dead_letter.name
  }
}

output "dead_letter_subscriptions" {
  description = "Pull subscriptions holding the dead letters for review."
  value = {
    ingest  = google_pubsub_subscription.ingest_dead_letter_review.name
    metrics = google_pubsub_subscription.metrics_dead_letter_review.name
  }
}

output "service_accounts" {
  description = "Email of each function's runtime identity, of the triggers' identity and of the build identity."
  value = merge(
    { for name, account in google_service_account.function : name => account.email },
    {
      trigger = google_service_account.trigger.email
      build   = google_service_account.build.email
    },
  )
}

output "secrets" {
  description = "Secret Manager ids the operator adds versions to (gcloud secrets versions add ...)."
  value = compact([
    google_secret_manager_secret.secret["session_secret"].secret_id,
    local.gemini_api_key_secret,
  ])
}

output "source_bucket" {
  description = "Bucket of the functions' md5-named source zips."
  value       = google_storage_bucket.source.name
}

output "firestore_database" {
  description = "The Firestore database id."
  value       = google_firestore_database.main.name
}

output "web_url" {
  description = "The hosted web page, when web_hosting is true."
  value       = var.web_hosting ? "https://storage.googleapis.com/${google_storage_bucket.web[0].name}/index.html" : null
}
