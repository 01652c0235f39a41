# The five functions, from the four folders `make stage` builds (build/<bundle>/): the
# metrics bundle serves two of them. Settings keep the names of .env.example; the store and
# the bus are named outright, so that a deployed function never falls back to local ones.

locals {
  # Sizing. A streamed chat turn holds one request slot for its whole answer, hence the
  # concurrency; ingest embeds and writes batches of up to 500 records, one at a time.
  function_defaults = {
    chat             = { memory = "1Gi", cpu = "1", timeout_seconds = 300, concurrency = 20, min_instances = 0, max_instances = 20 }
    intent           = { memory = "512Mi", cpu = "1", timeout_seconds = 60, concurrency = 20, min_instances = 0, max_instances = 10 }
    ingest           = { memory = "1Gi", cpu = "1", timeout_seconds = 540, concurrency = 1, min_instances = 0, max_instances = 5 }
    metrics          = { memory = "512Mi", cpu = "1", timeout_seconds = 60, concurrency = 20, min_instances = 0, max_instances = 5 }
    "metrics-events" = { memory = "512Mi", cpu = "1", timeout_seconds = 60, concurrency = 10, min_instances = 0, max_instances = 10 }
  }
  sizing = {
    for name, d in local.function_defaults : name => {
      memory          = coalesce(try(var.function_settings[name].memory, null), d.memory)
      cpu             = coalesce(try(var.function_settings[name].cpu, null), d.cpu)
      timeout_seconds = coalesce(try(var.function_settings[name].timeout_seconds, null), d.timeout_seconds)
      concurrency     = coalesce(try(var.function_settings[name].concurrency, null), d.concurrency)
      min_instances   = coalesce(try(var.function_settings[name].min_instances, null), d.min_instances)
      max_instances   = coalesce(try(var.function_settings[name].max_instances, null), d.max_instances)
    }
  }

  # Who reaches each browser-facing function, and how (README.md, "Exposure"); allUsers is
  # granted in modules/function where `public` says so. Behind the load balancer a function
  # takes its traffic from it alone (ALLOW_INTERNAL_AND_GCLB); a member of intent_invokers or
  # metrics_invokers calls the function's own URL, so it opens that ingress, IAM staying the gate.
  ingress = {
    chat = local.load_balancer ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"
    intent = var.intent_public && local.load_balancer ? "ALLOW_INTERNAL_AND_GCLB" : (
      var.intent_public || length(var.intent_invokers) > 0 ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    )
    metrics = var.metrics_public && local.load_balancer ? "ALLOW_INTERNAL_AND_GCLB" : (
      var.metrics_public || length(var.metrics_invokers) > 0 ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    )
  }

  # Proxies appending to X-Forwarded-For in front of each (FORWARDED_HOPS): Cloud Run's front
  # end, and the load balancer when it serves the function. The code keys its rate limits on
  # the address the outermost trusted proxy saw.
  forwarded_hops = {
    chat    = local.load_balancer ? 2 : 1
    intent  = var.intent_public && local.load_balancer ? 2 : 1
    metrics = var.metrics_public && local.load_balancer ? 2 : 1
  }

  # Origins whose pages may call the functions: the operator's, and the hosted page's own
  # (hosting.tf). The code refuses a request whose Origin is not listed, same-origin too. An
  # empty CORS_ALLOWED_ORIGINS is ignored by the code, which then falls back to the local
  # stack's origins (http://localhost:8080): "," is the explicit empty list.
  cors_origins         = concat(var.cors_allowed_origins, local.web_origin == null ? [] : [local.web_origin])
  cors_allowed_origins = length(local.cors_origins) == 0 ? "," : join(",", local.cors_origins)

  # Each secret with its own pinned version; the Gemini API key only with the Gemini API (on
  # Vertex AI the service account is the credential).
  gemini_api_key_secret = try(google_secret_manager_secret.secret["gemini_api_key"].secret_id, null)
  session_secret_env = {
    secret  = google_secret_manager_secret.secret["session_secret"].secret_id
    version = var.session_secret_version
  }
  gemini_api_key_env = var.genai_backend == "gemini" ? {
    secret  = local.gemini_api_key_secret
    version = var.gemini_api_key_version
  } : null

  # The settings every function is given; each module merges in only what is its own:
  # CORS_ALLOWED_ORIGINS and FORWARDED_HOPS for the three a browser may call,
  # RATE_LIMIT_PER_MINUTE for chat, HEALTH_DETAILS (served only where IAM keeps the public out),
  # INTENT_RATE_LIMIT_PER_MINUTE, MAX_EVENT_AGE_S for the two event functions.
  common_env = {
    GOOGLE_CLOUD_PROJECT  = var.project_id
    FIRESTORE_DATABASE    = var.firestore_database
    STORE_BACKEND         = "firestore"
    BUS_BACKEND           = "pubsub"
    INGEST_TOPIC          = var.ingest_topic
    METRICS_TOPIC         = var.metrics_topic
    DEAD_LETTER_SUFFIX    = var.dead_letter_suffix
    GENAI_BACKEND         = var.genai_backend
    GOOGLE_CLOUD_LOCATION = var.vertex_location
    EMBEDDING_MODEL       = var.embedding_model
    EMBEDDING_DIMENSIONS  = var.embedding_dimensions
    GENERATION_MODEL      = var.generation_model
    LOG_LEVEL             = var.log_level
  }
}

module "chat" {
  #checkov:skip=CKV_CYMBAL_1:allUsers may invoke chat, by design: a browser calls it with no Google identity, directly or through the load balancer (which forwards requests unauthenticated). The code authenticates every session with its signed token and rate-limits each session and address.
  #checkov:skip=CKV_GCP_124:Chat takes ALLOW_ALL ingress only without the load balancer (web_hosting "none" or "bucket"): a browser then calls it at its own URL. It authenticates each session and rate-limits each session and address itself. With web_hosting = "load_balancer" its ingress is ALLOW_INTERNAL_AND_GCLB.
  source = "./modules/function"

  name                  = "chat"
  description           = "Chat sessions and grounded turns (JSON or Server-Sent Events) for the web page."
  entry_point           = "chat"
  source_object         = google_storage_bucket_object.source["chat"].name
  runtime               = var.runtime
  ingress               = local.ingress["chat"]
  public                = true # a browser calls it; sessions are authenticated by the code
  trigger_topic         = null
  service_account_email = google_service_account.function["chat"].email

  environment = merge(local.common_env, {
    CORS_ALLOWED_ORIGINS  = local.cors_allowed_origins
    FORWARDED_HOPS        = local.forwarded_hops["chat"]
    RATE_LIMIT_PER_MINUTE = var.rate_limit_per_minute
    HEALTH_DETAILS        = "off" # public: /health says ok or degraded, nothing more
    # Below the instance's concurrency, so that reads and cached answers still get through
    # while the instance sheds new generations with a 503.
    MAX_GENERATIONS_IN_FLIGHT = max(1, local.sizing["chat"].concurrency - 4)
  })
  secret_environment = {
    SESSION_SECRET = local.session_secret_env
    GEMINI_API_KEY = local.gemini_api_key_env
  }

  project_id            = var.project_id
  region                = var.region
  source_bucket         = google_storage_bucket.source.name
  docker_repository     = google_artifact_registry_repository.functions.id
  build_service_account = google_service_account.build.id
  extra_environment     = var.extra_environment
  memory                = local.sizing["chat"].memory
  cpu                   = local.sizing["chat"].cpu
  timeout_seconds       = local.sizing["chat"].timeout_seconds
  max_concurrency       = local.sizing["chat"].concurrency
  min_instances         = local.sizing["chat"].min_instances
  max_instances         = local.sizing["chat"].max_instances
  labels                = var.labels

  depends_on = [
    google_project_iam_member.build_logs,
    google_project_iam_member.build_reads_sources,
    google_artifact_registry_repository_iam_member.build_pushes_images,
    google_project_iam_member.datastore_user,
    google_project_iam_member.aiplatform_user,
    google_pubsub_topic_iam_member.chat_publishes_metrics,
    google_secret_manager_secret_iam_member.chat_session_secret,
    google_secret_manager_secret_iam_member.gemini_api_key,
  ]
}

module "intent" {
  source = "./modules/function"

  name                  = "intent"
  description           = "Classifies a query: PRODUCT_RAG, LOCATION_RAG or GENERAL_CONVERSATION."
  entry_point           = "intent"
  source_object         = google_storage_bucket_object.source["intent"].name
  runtime               = var.runtime
  ingress               = local.ingress["intent"]
  public                = var.intent_public
  invoker_members       = var.intent_invokers
  trigger_topic         = null
  service_account_email = google_service_account.function["intent"].email

  environment = merge(local.common_env, {
    CORS_ALLOWED_ORIGINS         = local.cors_allowed_origins
    FORWARDED_HOPS               = local.forwarded_hops["intent"]
    HEALTH_DETAILS               = var.intent_public ? "off" : "on" # operators only: IAM
    INTENT_RATE_LIMIT_PER_MINUTE = var.intent_rate_limit_per_minute
  })
  secret_environment = {
    GEMINI_API_KEY = local.gemini_api_key_env
  }

  project_id            = var.project_id
  region                = var.region
  source_bucket         = google_storage_bucket.source.name
  docker_repository     = google_artifact_registry_repository.functions.id
  build_service_account = google_service_account.build.id
  extra_environment     = var.extra_environment
  memory                = local.sizing["intent"].memory
  cpu                   = local.sizing["intent"].cpu
  timeout_seconds       = local.sizing["intent"].timeout_seconds
  max_concurrency       = local.sizing["intent"].concurrency
  min_instances         = local.sizing["intent"].min_instances
  max_instances         = local.sizing["intent"].max_instances
  labels                = var.labels

  depends_on = [
    google_project_iam_member.build_logs,
    google_project_iam_member.build_reads_sources,
    google_artifact_registry_repository_iam_member.build_pushes_images,
    google_project_iam_member.datastore_user,
    google_project_iam_member.aiplatform_user,
    google_secret_manager_secret_iam_member.gemini_api_key,
  ]
}

module "ingest" {
  source = "./modules/function"

  name                          = "ingest"
  description                   = "Validates, embeds and upserts catalog batches from the ingest topic; dead-letters bad records."
  entry_point                   = "ingest"
  source_object                 = google_storage_bucket_object.source["ingest"].name
  runtime                       = var.runtime
  ingress                       = "ALLOW_INTERNAL_ONLY" # only Eventarc delivers to it
  trigger_topic                 = google_pubsub_topic.ingest.name
  retry_policy                  = "RETRY_POLICY_RETRY"
  trigger_service_account_email = google_service_account.trigger.email
  service_account_email         = google_service_account.function["ingest"].email

  environment = merge(local.common_env, {
    MAX_EVENT_AGE_S = var.max_event_age_s
  })
  secret_environment = {
    GEMINI_API_KEY = local.gemini_api_key_env
  }

  project_id            = var.project_id
  region                = var.region
  source_bucket         = google_storage_bucket.source.name
  docker_repository     = google_artifact_registry_repository.functions.id
  build_service_account = google_service_account.build.id
  extra_environment     = var.extra_environment
  memory                = local.sizing["ingest"].memory
  cpu                   = local.sizing["ingest"].cpu
  timeout_seconds       = local.sizing["ingest"].timeout_seconds
  max_concurrency       = local.sizing["ingest"].concurrency
  min_instances         = local.sizing["ingest"].min_instances
  max_instances         = local.sizing["ingest"].max_instances
  labels                = var.labels

  depends_on = [
    google_project_iam_member.build_logs,
    google_project_iam_member.build_reads_sources,
    google_artifact_registry_repository_iam_member.build_pushes_images,
    google_project_iam_member.datastore_user,
    google_project_iam_member.aiplatform_user,
    google_project_iam_member.trigger_event_receiver,
    google_service_account_iam_member.pubsub_agent_mints_trigger_tokens,
    google_pubsub_topic_iam_member.ingest_publishes_dead_letters,
    google_secret_manager_secret_iam_member.gemini_api_key,
  ]
}

module "metrics" {
  source = "./modules/function"

  name                  = "metrics"
  description           = "Serves the metrics summaries (GET /summary) from the per-minute documents."
  entry_point           = "metrics"
  source_object         = google_storage_bucket_object.source["metrics"].name
  runtime               = var.runtime
  ingress               = local.ingress["metrics"]
  public                = var.metrics_public
  invoker_members       = var.metrics_invokers
  trigger_topic         = null
  service_account_email = google_service_account.function["metrics"].email

  environment = merge(local.common_env, {
    CORS_ALLOWED_ORIGINS = local.cors_allowed_origins
    FORWARDED_HOPS       = local.forwarded_hops["metrics"]
    HEALTH_DETAILS       = var.metrics_public ? "off" : "on" # operators only: IAM
  })
  secret_environment = {}

  project_id            = var.project_id
  region                = var.region
  source_bucket         = google_storage_bucket.source.name
  docker_repository     = google_artifact_registry_repository.functions.id
  build_service_account = google_service_account.build.id
  extra_environment     = var.extra_environment
  memory                = local.sizing["metrics"].memory
  cpu                   = local.sizing["metrics"].cpu
  timeout_seconds       = local.sizing["metrics"].timeout_seconds
  max_concurrency       = local.sizing["metrics"].concurrency
  min_instances         = local.sizing["metrics"].min_instances
  max_instances         = local.sizing["metrics"].max_instances
  labels                = var.labels

  depends_on = [
    google_project_iam_member.build_logs,
    google_project_iam_member.build_reads_sources,
    google_artifact_registry_repository_iam_member.build_pushes_images,
    google_project_iam_member.datastore_viewer,
  ]
}

module "metrics-events" {
  source = "./modules/function"

  name                          = "metrics-events"
  description                   = "Aggregates the metrics topic's per-turn events into per-minute documents."
  entry_point                   = "metrics_events"
  source_object                 = google_storage_bucket_object.source["metrics-events"].name
  runtime                       = var.runtime
  ingress                       = "ALLOW_INTERNAL_ONLY" # only Eventarc delivers to it
  trigger_topic                 = google_pubsub_topic.metrics.name
  retry_policy                  = "RETRY_POLICY_RETRY"
  trigger_service_account_email = google_service_account.trigger.email
  service_account_email         = google_service_account.function["metrics-events"].email

  environment = merge(local.common_env, {
    MAX_EVENT_AGE_S = var.max_event_age_s
  })
  secret_environment = {}

  project_id            = var.project_id
  region                = var.region
  source_bucket         = google_storage_bucket.source.name
  docker_repository     = google_artifact_registry_repository.functions.id
  build_service_account = google_service_account.build.id
  extra_environment     = var.extra_environment
  memory                = local.sizing["metrics-events"].memory
  cpu                   = local.sizing["metrics-events"].cpu
  timeout_seconds       = local.sizing["metrics-events"].timeout_seconds
  max_concurrency       = local.sizing["metrics-events"].concurrency
  min_instances         = local.sizing["metrics-events"].min_instances
  max_instances         = local.sizing["metrics-events"].max_instances
  labels                = var.labels

  depends_on = [
    google_project_iam_member.build_logs,
    google_project_iam_member.build_reads_sources,
    google_artifact_registry_repository_iam_member.build_pushes_images,
    google_project_iam_member.datastore_user,
    google_project_iam_member.trigger_event_receiver,
    google_service_account_iam_member.pubsub_agent_mints_trigger_tokens,
    google_pubsub_topic_iam_member.metrics_events_publishes_dead_letters,
  ]
}
