# The two secrets the functions read. Terraform creates the containers only: their values
# never pass through Terraform (nor its state). The operator adds a version with gcloud, e.g.
#   python3 -c 'import secrets; print(secrets.token_urlsafe(48), end="")' |
#     gcloud secrets versions add session-secret --data-file=-
#   printf %s "$GEMINI_API_KEY" | gcloud secrets versions add gemini-api-key --data-file=-
# before the functions are created (README.md, "First apply").

locals {
  # Key -> secret id. The Gemini API key only with the Gemini API: on Vertex AI the functions
  # authenticate as their service accounts (a null id creates no secret).
  secrets = {
    session_secret = var.session_secret_id
    gemini_api_key = var.genai_backend == "gemini" ? var.gemini_api_key_secret_id : null
  }
}

resource "google_secret_manager_secret" "secret" {
  for_each = { for key, id in local.secrets : key => id if id != null }

  project   = var.project_id
  secret_id = each.value
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

# The two secrets were separate resources (gemini_api_key with count) before they became one
# with for_each: these keep a state that holds the old addresses from destroying and recreating
# them (a new secret would lose its versions). Without a Gemini secret in state, the second
# does nothing.
moved {
  from = google_secret_manager_secret.session_secret
  to   = google_secret_manager_secret.secret["session_secret"]
}

moved {
  from = google_secret_manager_secret.gemini_api_key[0]
  to   = google_secret_manager_secret.secret["gemini_api_key"]
}
