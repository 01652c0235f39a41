# Who may do what. Each function gets only what its code does:
#   chat            reads and writes Firestore (sessions, cache, rate limits); publishes to the
#                   metrics topic; reads SESSION_SECRET (and the Gemini key); calls the model
#   intent          reads and writes Firestore (the exemplar cache); Gemini key; the model
#   ingest          reads and writes Firestore (the catalog); publishes to its dead-letter
#                   topic only; Gemini key; the embedding model
#   metrics         reads Firestore only (GET /summary reads metrics_minutes)
#   metrics-events  reads and writes Firestore (minutes, dedupe markers); publishes to its
#                   dead-letter topic only
# Invoking the functions (allUsers on chat, the trigger identity on the event functions) is
# granted per Cloud Run service in modules/function.

# Its number names the Pub/Sub service agent and Cloud Functions' sources bucket. Read once the
# Cloud Resource Manager API is on (apis.tf): on a fresh project the read waits for the apply.
data "google_project" "this" {
  project_id = var.project_id

  depends_on = [google_project_service.resource_manager]
}

locals {
  sa = { for name, account in google_service_account.function : name => "serviceAccount:${account.email}" }

  # Functions that call a model (embeddings or generation).
  model_users = ["chat", "intent", "ingest"]
}

# --- Firestore

resource "google_project_iam_member" "datastore_user" {
  for_each = toset(["chat", "intent", "ingest", "metrics-events"])

  project = var.project_id
  role    = "roles/datastore.user"
  member  = local.sa[each.key]
}

resource "google_project_iam_member" "datastore_viewer" {
  for_each = toset(["metrics"])

  project = var.project_id
  role    = "roles/datastore.viewer"
  member  = local.sa[each.key]
}

# --- Pub/Sub: publishing on one topic each, never project-wide

resource "google_pubsub_topic_iam_member" "chat_publishes_metrics" {
  project = var.project_id
  topic   = google_pubsub_topic.metrics.name
  role    = "roles/pubsub.publisher"
  member  = local.sa["chat"]
}

resource "google_pubsub_topic_iam_member" "ingest_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.ingest_dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.sa["ingest"]
}

resource "google_pubsub_topic_iam_member" "metrics_events_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.metrics_dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.sa["metrics-events"]
}

# --- Secrets: each readable by the functions that use it, nothing else

resource "google_secret_manager_secret_iam_member" "chat_session_secret" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.secret["session_secret"].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa["chat"]
}

resource "google_secret_manager_secret_iam_member" "gemini_api_key" {
  for_each = var.genai_backend == "gemini" ? toset(local.model_users) : toset([])

  project   = var.project_id
  secret_id = google_secret_manager_secret.secret["gemini_api_key"].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa[each.key]
}

# --- Vertex AI (only when the models are reached through it)

resource "google_project_iam_member" "aiplatform_user" {
  for_each = var.genai_backend == "vertex" ? toset(local.model_users) : toset([])

  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = local.sa[each.key]
}

# --- Eventarc triggers

# Receiving events as this identity; roles/run.invoker is granted on the two event functions'
# services only (modules/function).
resource "google_project_iam_member" "trigger_event_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.trigger.email}"
}

# The Pub/Sub service agent mints the OIDC tokens of the push subscriptions Eventarc creates,
# as the trigger identity: granted on that one service account, not project-wide.
resource "google_service_account_iam_member" "pubsub_agent_mints_trigger_tokens" {
  service_account_id = google_service_account.trigger.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  depends_on = [google_project_service.apis]
}

# --- Function builds (Cloud Build builds each image as this identity; new projects give the
# default one no roles). Each grant reaches only what a build touches.

resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter" # build logs
  member  = "serviceAccount:${google_service_account.build.email}"
}

# Cloud Functions copies each source zip into its own bucket, gcf-v2-sources-<number>-<region>,
# and the build reads it there. That bucket appears with the first function, so the grant is
# project-level, its condition limited to that bucket and the source bucket.
resource "google_project_iam_member" "build_reads_sources" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = "serviceAccount:${google_service_account.build.email}"

  condition {
    title       = "function-sources-only"
    description = "The functions' source zips: Cloud Functions' sources bucket and ours."
    expression = join(" || ", [
      for bucket in ["gcf-v2-sources-${data.google_project.this.number}-${var.region}", google_storage_bucket.source.name] :
      "resource.name == \"projects/_/buckets/${bucket}\" || resource.name.startsWith(\"projects/_/buckets/${bucket}/\")"
    ])
  }
}

# Pushes the images (and the build cache) to the functions' repository, and to nothing else.
resource "google_artifact_registry_repository_iam_member" "build_pushes_images" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}

# The roles were one project-level for_each before they were narrowed: the log writer is the
# same grant; the other two are replaced by the scoped ones above.
moved {
  from = google_project_iam_member.build["roles/logging.logWriter"]
  to   = google_project_iam_member.build_logs
}

# --- Plan-only builds (cloudbuild-plan.yaml, the triggers of branches other than main). They run
# a pull request's code, so their identity can change nothing: it writes build logs, reads the
# project's metadata (data.google_project) and the Terraform state, nothing else. It plans
# with -refresh=false -lock=false, so it never reads the resources themselves nor takes the
# state lock.

resource "google_project_iam_member" "plan" {
  for_each = toset([
    "roles/logging.logWriter", # build logs
    "roles/browser",           # resourcemanager.projects.get, for data.google_project
  ])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.plan.email}"
}

resource "google_storage_bucket_iam_member" "plan_reads_state" {
  count = var.terraform_state_bucket == null ? 0 : 1

  bucket = var.terraform_state_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.plan.email}"
}
