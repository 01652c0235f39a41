# One function from its uploaded source zip (storage.tf names it by its md5), and who may invoke
# it. Nothing here reads files or data sources: a module called with depends_on would defer them.

locals {
  # gunicorn (functions-framework) serves THREADS requests at once per instance: at least the
  # concurrency Cloud Run sends, or the surplus requests queue inside the instance.
  environment = merge(
    { THREADS = tostring(var.max_concurrency) },
    var.extra_environment,
    var.environment,
  )
  secrets = { for key, secret in var.secret_environment : key => secret if secret != null }
}

resource "google_cloudfunctions2_function" "this" {
  project     = var.project_id
  name        = var.name
  location    = var.region
  description = var.description
  labels      = var.labels

  build_config {
    runtime           = var.runtime
    entry_point       = var.entry_point
    service_account   = var.build_service_account
    docker_repository = var.docker_repository

    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    available_memory                 = var.memory
    available_cpu                    = var.cpu
    timeout_seconds                  = var.timeout_seconds
    max_instance_request_concurrency = var.max_concurrency
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = var.service_account_email
    environment_variables            = local.environment

    # Each secret at its own pinned version: a new version number is a new revision, which
    # takes all the traffic at once, so no two instances ever hold different keys.
    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret
        version    = tostring(secret_environment_variables.value.version)
      }
    }
  }

  # Eventarc creates (and owns) the topic's push subscription; it redelivers with backoff while
  # the handler raises, for as long as the subscription retains the message (24 h). Terraform
  # cannot give it a dead-letter topic: monitoring.tf alerts on its oldest message instead.
  dynamic "event_trigger" {
    for_each = var.trigger_topic == null ? [] : [var.trigger_topic]
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = "projects/${var.project_id}/topics/${event_trigger.value}"
      retry_policy          = var.retry_policy
      service_account_email = var.trigger_service_account_email
    }
  }

  lifecycle {
    precondition {
      condition     = var.trigger_topic == null || var.trigger_service_account_email != null
      error_message = "A triggered function needs trigger_service_account_email."
    }
    precondition {
      condition     = var.max_concurrency == 1 || tonumber(var.cpu) >= 1
      error_message = "A concurrency above 1 needs cpu >= 1."
    }
  }
}

# A gen2 function is invoked through its Cloud Run service (same name): run.invoker there.

# Anyone, only when the caller sets public = true (functions.tf: chat, which a browser calls and
# which authenticates each session itself; intent and metrics when the operator opens them).
resource "google_cloud_run_v2_service_iam_member" "public" {
  count = var.public ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Named callers (invoker_members).
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = toset(var.invoker_members)

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = each.value
}

# The trigger's identity may invoke this function, and no other (the grant is per service).
resource "google_cloud_run_v2_service_iam_member" "trigger_invoker" {
  count = var.trigger_topic == null ? 0 : 1

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.trigger_service_account_email}"
}

# allUsers was one of `invoker`'s keys before it became a resource of its own: the same grant.
moved {
  from = google_cloud_run_v2_service_iam_member.invoker["allUsers"]
  to   = google_cloud_run_v2_service_iam_member.public[0]
}
