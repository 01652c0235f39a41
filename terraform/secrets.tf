# The two secrets the functions read. Terraform creates the containers only: their values
# never pass through Terraform (nor its state). The operator adds a version with gcloud, e.g.
#   python3 -c 'import secrets; print(secrets.token_urlsafe(48), end="")' |
#     gcloud secrets versions add session-secret --data-file=-
#   printf %s "$GEMINI_API_KEY" | gcloud secrets versions add gemini-api-key --data-file=-
# before the functions are created (README.md, "First apply").

resource "google_secret_manager_secret" "session_secret" {
  project   = var.project_id
  secret_id = var.session_secret_id
  labels    = var.labels

  replication {
    dynamic "auto" {
      for_each = length(var.secret_replica_locations) == 0 ? [1] : []
      content {}
    }
    dynamic "user_managed" {
      for_each = length(var.secret_replica_locations) == 0 ? [] : [1]
      content {
        dynamic "replicas" {
          for_each = var.secret_replica_locations
          content {
            location = replicas.value
          }
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

# Only with the Gemini API: on Vertex AI the functions authenticate as their service accounts.
resource "google_secret_manager_secret" "gemini_api_key" {
  count = var.genai_backend == "gemini" ? 1 : 0

  project   = var.project_id
  secret_id = var.gemini_api_key_secret_id
  labels    = var.labels

  replication {
    dynamic "auto" {
      for_each = length(var.secret_replica_locations) == 0 ? [1] : []
      content {}
    }
    dynamic "user_managed" {
      for_each = length(var.secret_replica_locations) == 0 ? [] : [1]
      content {
        dynamic "replicas" {
          for_each = var.secret_replica_locations
          content {
            location = replicas.value
          }
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}
