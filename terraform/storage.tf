# The bucket holding each function's source zip, named by its md5 (below): a new zip is a new
# object, hence a new build; the one it replaces becomes a noncurrent version.
locals {
  source_bucket_name = coalesce(var.source_bucket_name, "${var.project_id}-gcf-source")
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:No usage logs: only Terraform writes here (each upload appears in its apply output) and only Cloud Functions deployments read the zips. Admin Activity audit logs record changes to the bucket and its IAM; object reads and writes are Data Access audit logs, off unless enabled for Cloud Storage.
  name                        = local.source_bucket_name
  project                     = var.project_id
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  versioning {
    enabled = true
  }

  # Replaced zips are kept a while (to roll back by hand), then deleted.
  lifecycle_rule {
    condition {
      with_state                 = "ARCHIVED"
      days_since_noncurrent_time = var.source_noncurrent_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      with_state         = "ARCHIVED"
      num_newer_versions = 5
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# --- The source zips, one per function, named by their md5.
# Here and not in modules/function: a module called with depends_on defers every data source
# inside it to the apply whenever one of those dependencies has a change pending (a new IAM
# grant, say). The zips' md5 would then be unknown at plan time, and every function would be
# rebuilt for nothing. Read here, an unchanged bundle is an unchanged object name.

locals {
  # Function -> the folder `make stage` builds for it (build/<bundle>/): the metrics bundle
  # serves two functions.
  function_bundles = {
    chat             = "chat"
    intent           = "intent"
    ingest           = "ingest"
    metrics          = "metrics"
    "metrics-events" = "metrics"
  }
}

data "archive_file" "source" {
  for_each = local.function_bundles

  type        = "zip"
  source_dir  = "${path.root}/../build/${each.value}"
  output_path = "${path.root}/.dist/${each.key}.zip"
}

# A new md5 is a new object name, so Terraform updates the function's storage_source and the
# function is rebuilt; overwriting one object name would not redeploy anything.
resource "google_storage_bucket_object" "source" {
  for_each = local.function_bundles

  bucket       = google_storage_bucket.source.name
  name         = "${each.key}-${data.archive_file.source[each.key].output_md5}.zip"
  source       = data.archive_file.source[each.key].output_path
  content_type = "application/zip"
  metadata     = var.labels
}

# They were in modules/function: the same objects, not uploaded again.
moved {
  from = module.chat.google_storage_bucket_object.source
  to   = google_storage_bucket_object.source["chat"]
}

moved {
  from = module.intent.google_storage_bucket_object.source
  to   = google_storage_bucket_object.source["intent"]
}

moved {
  from = module.ingest.google_storage_bucket_object.source
  to   = google_storage_bucket_object.source["ingest"]
}

moved {
  from = module.metrics.google_storage_bucket_object.source
  to   = google_storage_bucket_object.source["metrics"]
}

moved {
  from = module.metrics-events.google_storage_bucket_object.source
  to   = google_storage_bucket_object.source["metrics-events"]
}

# --- The functions' images: a repository of our own, so that the build identity can push to
# it and to nothing else (roles/artifactregistry.writer on this repository only, iam.tf). Without
# one, Cloud Functions creates `gcf-artifacts` and the identity needs the role project-wide.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Encrypted at rest with Google-managed keys. The images hold the functions' code and their open-source dependencies (requirements.txt), no data and no secret: those are read at run time from Firestore and Secret Manager.
  project       = var.project_id
  location      = var.region
  repository_id = "${var.service_account_prefix}-functions"
  format        = "DOCKER"
  description   = "Images Cloud Build makes of the functions (one package per function, and its build cache)."
  labels        = var.labels

  # Each function's five latest images always stay (a serving revision's among them); older
  # ones go after 30 days.
  cleanup_policies {
    id     = "keep-latest-five"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-after-30-days"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.apis]
}
