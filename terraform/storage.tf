# The bucket holding each function's source zip, named by its md5 (modules/function): a new
# zip is a new object, hence a new build; the one it replaces becomes a noncurrent version.
locals {
  source_bucket_name = coalesce(var.source_bucket_name, "${var.project_id}-gcf-source")
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Holds only build inputs (function zips written by Terraform); Cloud Audit Logs already record who reads or writes them, so a second access-log bucket adds nothing.
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
