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
  description = "Where a browser reaches the chat API: https://<web_domain>/chat behind the load balancer, else the chat function's own URL."
  value       = local.load_balancer ? "https://${var.web_domain}/chat" : module.chat.uri
}

output "base_url" {
  description = "The one origin serving the page at / and the functions under /chat, /intent and /metrics (web_hosting = \"load_balancer\"); null otherwise. Cloud Build's smoke test runs against it (scripts.smoke --url)."
  value       = local.load_balancer ? "https://${var.web_domain}" : null
}

output "direct_function_urls" {
  description = "Each of chat, intent and metrics that the load balancer does not serve (all three without it): its own URL, or null when it takes internal traffic only and cannot be reached from outside Google's network. What scripts.smoke --function-urls reads beside --url."
  value = {
    for name, uri in local.page_functions_direct :
    name => local.ingress[name] == "ALLOW_INTERNAL_ONLY" ? null : uri
    if !contains(keys(local.lb_functions), name)
  }
}

output "load_balancer_ip" {
  description = "The load balancer's address: point web_domain's DNS A record at it, then the managed certificate is issued (web_hosting = \"load_balancer\")."
  value       = local.load_balancer ? google_compute_global_address.web[0].address : null
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
  description = "Email of each function's runtime identity, of the triggers' identity, of the build identity and of the plan-only builds' identity (the service account of the plan-only Cloud Build triggers)."
  value = merge(
    { for name, account in google_service_account.function : name => account.email },
    {
      trigger = google_service_account.trigger.email
      build   = google_service_account.build.email
      plan    = google_service_account.plan.email
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
  description = "The hosted page: https://<web bucket>.storage.googleapis.com/index.html (web_hosting = \"bucket\"), https://<web_domain>/ (\"load_balancer\"), or null."
  value = local.load_balancer ? "https://${var.web_domain}/" : (
    local.web_enabled ? "https://${local.web_bucket_name}.storage.googleapis.com/index.html" : null
  )
}

output "images_repository" {
  description = "The Artifact Registry repository of the functions' images."
  value       = google_artifact_registry_repository.functions.id
}
