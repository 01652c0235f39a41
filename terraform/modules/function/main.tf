# The source zip under a content-addressed name, the function, and who may invoke it.

data "archive_file" "source" {
  type        = "zip"
  source_dir  = var.source_dir
  output_path = "${path.root}/.dist/${var.name}.zip"
}

# A new md5 is a new object name, so Terraform updates the function's storage_source and the
# function is rebuilt; overwriting one object name would not redeploy anything.
resource "google_storage_bucket_object" "source" {
  bucket       = var.source_bucket
  name         = "${var.name}-${data.archive_file.source.output_md5}.zip"
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
  metadata     = var.labels
}

locals {
  # gunicorn (functions-framework) serves THREADS requests at once per instance: at least the
  # concurrency Cloud Run sends, or the surplus requests queue inside the instance.
  environment = merge(
    { THREADS = tostring(var.max_concurrency) },
    var.extra_environment,
    var.environment,
  )
  secrets  = { for key, secret in var.secret_environment : key => secret if secret != null }
  invokers = toset(concat(var.public ? ["allUsers"] : [], var.invoker_members))
}

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:Ingress is chosen per function by the caller (functions.tf): only chat is ALLOW_ALL by design (a browser calls it and it authenticates each session itself); intent and metrics are internal-only unless the operator opens them.
  project     = var.project_id
  name        = var.name
  location    = var.region
  description = var.description
  labels      = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = var.entry_point
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
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

    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = var.secret_version
      }
    }
  }

  # Eventarc creates (and owns) the topic's push subscription; it redelivers with backoff while
  # the handler raises, for as long as the subscription retains the message.
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
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  # allUsers only when the caller sets public = true: the chat function, which a browser calls
  # and which authenticates each session itself.
  for_each = local.invokers

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
