# Every input of the deployment. Names that end up as function settings keep the names of
# .env.example (shared/config.py), so `ingest_topic` here is INGEST_TOPIC there.

# --- project and places

variable "project_id" {
  type        = string
  description = "The GCP project everything is deployed into (GOOGLE_CLOUD_PROJECT of every function)."
}

variable "region" {
  type        = string
  description = "Region of the functions, their triggers and the source bucket."
  default     = "us-central1"
}

variable "firestore_location" {
  type        = string
  description = "Location of the Firestore database (a multi-region such as nam5 or eur3, or a region). Fixed once created."
  default     = "nam5"
}

variable "firestore_database" {
  type        = string
  description = "Firestore database id (FIRESTORE_DATABASE): \"(default)\" or 4-63 characters of [a-z0-9-]."
  default     = "(default)"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database is \"(default)\" or 4-63 characters of [a-z0-9-], starting with a letter."
  }
}

variable "firestore_deletion_policy" {
  type        = string
  description = "What `terraform destroy` does to the database: ABANDON (forget it, keep the data) or DELETE (also needs delete protection off)."
  default     = "ABANDON"

  validation {
    condition     = contains(["ABANDON", "DELETE"], var.firestore_deletion_policy)
    error_message = "firestore_deletion_policy is ABANDON or DELETE."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels put on every resource that takes them."
  default     = { app = "cymbal-assistant" }
}

# --- Pub/Sub

variable "ingest_topic" {
  type        = string
  description = "Topic the catalog batches are published to (INGEST_TOPIC); its dead-letter topic adds dead_letter_suffix."
  default     = "ingest"
}

variable "metrics_topic" {
  type        = string
  description = "Topic of the per-turn metrics events (METRICS_TOPIC); its dead-letter topic adds dead_letter_suffix."
  default     = "metrics"
}

variable "dead_letter_suffix" {
  type        = string
  description = "Appended to a topic's name to name its dead-letter topic (DEAD_LETTER_SUFFIX): ingest -> ingest-dead-letter."
  default     = "-dead-letter"

  validation {
    condition     = length(var.dead_letter_suffix) > 0
    error_message = "dead_letter_suffix cannot be empty: the dead-letter topic would be the topic itself."
  }
}

variable "topic_message_retention" {
  type        = string
  description = "How long every topic keeps its messages (lets a subscription seek back), e.g. \"604800s\" (7 days)."
  default     = "604800s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.topic_message_retention)) && tonumber(trimsuffix(var.topic_message_retention, "s")) >= 600 && tonumber(trimsuffix(var.topic_message_retention, "s")) <= 2678400
    error_message = "topic_message_retention is between \"600s\" and \"2678400s\" (31 days)."
  }
}

variable "dead_letter_retention" {
  type        = string
  description = "How long the review subscriptions of the dead-letter topics keep a dead letter that nobody has read."
  default     = "604800s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.dead_letter_retention)) && tonumber(trimsuffix(var.dead_letter_retention, "s")) >= 600 && tonumber(trimsuffix(var.dead_letter_retention, "s")) <= 604800
    error_message = "dead_letter_retention is between \"600s\" and \"604800s\" (7 days, a subscription's maximum)."
  }
}

variable "max_event_age_s" {
  type        = number
  description = "An event older than this many seconds is dead-lettered instead of retried (MAX_EVENT_AGE_S). It must stay below the 24 h the trigger's Eventarc subscription keeps a message, less the retries' backoff, or a failing message would be dropped, not dead-lettered."
  default     = 72000

  validation {
    # Eventarc's subscription keeps messages 24 h; redeliveries back off up to 600 s.
    condition     = var.max_event_age_s >= 60 && var.max_event_age_s <= 82800
    error_message = "max_event_age_s is between 60 and 82800 (24 h of retention, less the backoff)."
  }
}

# --- models

variable "genai_backend" {
  type        = string
  description = "How the functions reach Gemini (GENAI_BACKEND): \"gemini\" (API key from Secret Manager) or \"vertex\" (the functions' service accounts, roles/aiplatform.user)."
  default     = "gemini"

  validation {
    # "offline" and "auto" are for local runs: the offline models are not shipped in a bundle.
    condition     = contains(["gemini", "vertex"], var.genai_backend)
    error_message = "genai_backend is \"gemini\" or \"vertex\"."
  }
}

variable "vertex_location" {
  type        = string
  description = "Vertex AI region when genai_backend is \"vertex\" (GOOGLE_CLOUD_LOCATION)."
  default     = "us-central1"
}

variable "embedding_model" {
  type        = string
  description = "Embedding model id (EMBEDDING_MODEL). Changing it means re-ingesting the catalog."
  default     = "gemini-embedding-001"
}

variable "embedding_dimensions" {
  type        = number
  description = "Size of every stored vector (EMBEDDING_DIMENSIONS) and of every Firestore vector index. Changing it rebuilds the indexes and means re-ingesting."
  default     = 768

  validation {
    # Firestore's vector limit is 2048; shared/config.py refuses fewer than 128.
    condition     = floor(var.embedding_dimensions) == var.embedding_dimensions && var.embedding_dimensions >= 128 && var.embedding_dimensions <= 2048
    error_message = "embedding_dimensions is a whole number from 128 to 2048 (Firestore allows at most 2048)."
  }
}

variable "generation_model" {
  type        = string
  description = "Generation model id (GENERATION_MODEL)."
  default     = "gemini-3.5-flash"
}

# --- secrets (their values never pass through Terraform)

variable "gemini_api_key_secret_id" {
  type        = string
  description = "Secret Manager id of the Gemini API key (GEMINI_API_KEY), created when genai_backend is \"gemini\". The operator adds its versions."
  default     = "gemini-api-key"
}

variable "session_secret_id" {
  type        = string
  description = "Secret Manager id of the chat function's session key (SESSION_SECRET, at least 32 characters). The operator adds its versions."
  default     = "session-secret"
}

variable "session_secret_version" {
  type        = number
  description = "Version of the session secret every function reads (SESSION_SECRET), pinned by number: every instance holds the same key, so a token signed by one is accepted by all. Rotate by adding a version, then setting its number here (README.md, \"Secrets\")."
  default     = 1

  validation {
    condition     = floor(var.session_secret_version) == var.session_secret_version && var.session_secret_version >= 1
    error_message = "session_secret_version is a version number (1, 2, ...): \"latest\" would reach some instances and not others."
  }
}

variable "gemini_api_key_version" {
  type        = number
  description = "Version of the Gemini API key the functions read (GEMINI_API_KEY) when genai_backend is \"gemini\", pinned by number; independent of session_secret_version."
  default     = 1

  validation {
    condition     = floor(var.gemini_api_key_version) == var.gemini_api_key_version && var.gemini_api_key_version >= 1
    error_message = "gemini_api_key_version is a version number (1, 2, ...)."
  }
}

variable "secret_replica_locations" {
  type        = list(string)
  description = "Regions the secrets are replicated to; empty means automatic (Google-chosen) replication."
  default     = []
}

# --- functions

variable "runtime" {
  type        = string
  description = "Cloud Functions runtime of every function."
  default     = "python312"

  validation {
    condition     = can(regex("^python3[0-9]+$", var.runtime)) && tonumber(trimprefix(var.runtime, "python3")) >= 12
    error_message = "runtime is python312 or newer."
  }
}

variable "function_settings" {
  type = map(object({
    memory          = optional(string)
    cpu             = optional(string)
    timeout_seconds = optional(number)
    concurrency     = optional(number)
    min_instances   = optional(number)
    max_instances   = optional(number)
  }))
  description = <<-EOT
    Per-function overrides of the sizing in functions.tf (local.function_defaults), keyed by
    function: chat, intent, ingest, metrics, metrics-events. Unset fields keep their default.
    A concurrency above 1 needs cpu >= 1.
  EOT
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.function_settings) : contains(["chat", "intent", "ingest", "metrics", "metrics-events"], name)])
    error_message = "function_settings keys are chat, intent, ingest, metrics and metrics-events."
  }
}

variable "log_level" {
  type        = string
  description = "Log level of every function (LOG_LEVEL)."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level is DEBUG, INFO, WARNING or ERROR."
  }
}

variable "cors_allowed_origins" {
  type        = list(string)
  description = "More origins whose pages may call the HTTP functions (CORS_ALLOWED_ORIGINS), e.g. [\"https://shop.example.com\"]. The hosted page's own origin is added by itself (web_hosting); none at all means no browser origin is let in."
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[^/,]+$", o))])
    error_message = "Each origin is scheme://host[:port], with no path, no trailing slash and no comma."
  }
}

variable "rate_limit_per_minute" {
  type        = number
  description = "Chat turns per minute, per session and per client address (RATE_LIMIT_PER_MINUTE)."
  default     = 100

  validation {
    condition     = var.rate_limit_per_minute >= 1 && var.rate_limit_per_minute <= 100000
    error_message = "rate_limit_per_minute is between 1 and 100000."
  }
}

variable "intent_rate_limit_per_minute" {
  type        = number
  description = "POST /route calls per minute and client address, per instance of the intent function (INTENT_RATE_LIMIT_PER_MINUTE): each is an embedding call. A client spread over instances gets at most this times the instances; behind the load balancer Cloud Armor also bounds it across them (cloud_armor_rate_limit_per_minute)."
  default     = 600

  validation {
    condition     = var.intent_rate_limit_per_minute >= 1 && var.intent_rate_limit_per_minute <= 100000
    error_message = "intent_rate_limit_per_minute is between 1 and 100000."
  }
}

variable "extra_environment" {
  type        = map(string)
  description = "More settings of .env.example for every function (e.g. CACHE_TTL_S, METRICS_SHARDS). Secrets never go here."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : !contains(["GEMINI_API_KEY", "SESSION_SECRET"], k)])
    error_message = "GEMINI_API_KEY and SESSION_SECRET come from Secret Manager, not from extra_environment."
  }
}

variable "intent_public" {
  type        = bool
  description = "Open the intent function to anyone (allUsers may invoke): at its own URL (ingress ALLOW_ALL), or only through the load balancer under /intent when web_hosting is \"load_balancer\". Otherwise it takes internal traffic only, from intent_invokers."
  default     = false
}

variable "metrics_public" {
  type        = bool
  description = "Open the metrics function (GET /summary: aggregates only) to anyone: at its own URL, or only through the load balancer under /metrics when web_hosting is \"load_balancer\" (the dashboard needs it). Otherwise it takes internal traffic only, from metrics_invokers."
  default     = false
}

variable "intent_invokers" {
  type        = list(string)
  description = "IAM members allowed to invoke the intent function, e.g. [\"serviceAccount:router@p.iam.gserviceaccount.com\"]. Callers outside Google's network need its URL reachable: any member here opens its ingress (ALLOW_ALL), IAM staying the gate."
  default     = []
}

variable "metrics_invokers" {
  type        = list(string)
  description = "IAM members allowed to invoke the metrics function, e.g. a dashboard's service account or [\"group:ops@example.com\"]. Any member here opens its ingress (ALLOW_ALL), IAM staying the gate."
  default     = []
}

variable "service_account_prefix" {
  type        = string
  description = "Prefix of the service accounts' ids (<prefix>-chat, <prefix>-trigger, ...)."
  default     = "cymbal"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,13}$", var.service_account_prefix))
    error_message = "service_account_prefix is 2-14 characters of [a-z0-9-], starting with a letter (ids are at most 30)."
  }
}

# --- storage and hosting

variable "source_bucket_name" {
  type        = string
  description = "Name of the bucket holding the functions' source zips; null means \"<project_id>-gcf-source\"."
  default     = null
}

variable "source_noncurrent_days" {
  type        = number
  description = "Days a replaced source zip is kept (as a noncurrent version) before it is deleted."
  default     = 30

  validation {
    condition     = var.source_noncurrent_days >= 1
    error_message = "source_noncurrent_days is at least 1."
  }
}

variable "web_hosting" {
  type        = string
  description = <<-EOT
    How web/ is served (README.md, "Hosting"): "none"; "bucket" (a public bucket at its own
    origin, https://<web bucket>.storage.googleapis.com, calling each function at its own URL);
    or "load_balancer" (an external HTTPS load balancer on web_domain: the page at /, the
    functions under /chat, /intent and /metrics, one origin, no cross-origin calls).
  EOT
  default     = "none"

  validation {
    condition     = contains(["none", "bucket", "load_balancer"], var.web_hosting)
    error_message = "web_hosting is \"none\", \"bucket\" or \"load_balancer\" (it was a bool: true is now \"bucket\")."
  }
}

variable "web_bucket_name" {
  type        = string
  description = "Name of the web bucket when web_hosting is not \"none\"; null means \"<project_id>-cymbal-web\". It is also a host name (<name>.storage.googleapis.com), so no dots and no underscores."
  default     = null

  validation {
    condition     = var.web_bucket_name == null || can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.web_bucket_name))
    error_message = "web_bucket_name is 3-63 characters of [a-z0-9-]: a dot or an underscore would break its https://<name>.storage.googleapis.com origin."
  }
}

variable "web_domain" {
  type        = string
  description = "The domain the load balancer serves (web_hosting = \"load_balancer\"), e.g. \"shop.example.com\": its DNS A record must point at `terraform output load_balancer_ip` before Google can issue the managed certificate."
  default     = null

  validation {
    condition     = var.web_domain == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?[.])+[a-z]{2,63}$", var.web_domain))
    error_message = "web_domain is a lowercase host name such as shop.example.com (no scheme, no path, no port)."
  }
}

variable "web_cdn" {
  type        = bool
  description = "Cache the page's files in Cloud CDN (the load balancer's backend bucket). The functions are never cached."
  default     = true
}

variable "cloud_armor_rate_limit_per_minute" {
  type        = number
  description = "With the load balancer: requests a minute each client address may send to each function (/chat, /intent, /metrics) before Cloud Armor answers 429, counted across all instances. null: no Cloud Armor policy."
  default     = 300

  validation {
    condition     = var.cloud_armor_rate_limit_per_minute == null || try(var.cloud_armor_rate_limit_per_minute >= 10 && var.cloud_armor_rate_limit_per_minute <= 100000, false)
    error_message = "cloud_armor_rate_limit_per_minute is null (no policy) or between 10 and 100000."
  }
}

# --- alerting

variable "alert_emails" {
  type        = list(string)
  description = "Addresses told when an alert opens (an email notification channel each): a trigger's messages waiting too long, a dead letter waiting for review."
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@ ]+@[^@ ]+[.][^@ ]+$", e))])
    error_message = "Each of alert_emails is an email address."
  }
}

variable "alert_notification_channels" {
  type        = list(string)
  description = "Existing Cloud Monitoring notification channels (projects/<p>/notificationChannels/<id>) told as well, e.g. a pager or a chat room."
  default     = []
}

variable "trigger_backlog_alert_s" {
  type        = number
  description = "Alert when a message has waited this many seconds on the ingest or metrics-events trigger's subscription: the function is failing or cannot start, and Pub/Sub drops a message after 24 h. Below max_event_age_s."
  default     = 3600

  validation {
    condition     = var.trigger_backlog_alert_s >= 300 && var.trigger_backlog_alert_s <= 82800
    error_message = "trigger_backlog_alert_s is between 300 and 82800 (23 h)."
  }
}

# --- Cloud Build

variable "terraform_state_bucket" {
  type        = string
  description = "The bucket holding Terraform's state (the _TF_STATE_BUCKET of Cloud Build): the plan-only service account is let read it (roles/storage.objectViewer there). null: grant it yourself (README.md, \"Cloud Build\")."
  default     = null
}
