# The Google APIs the deployment uses. Never disabled on destroy: other things in the project
# may depend on them, and disabling an API can delete its data.
locals {
  apis = concat(
    [
      "artifactregistry.googleapis.com", # function images (gcf-artifacts)
      "cloudbuild.googleapis.com",       # builds each function from its source zip
      "cloudfunctions.googleapis.com",
      "cloudresourcemanager.googleapis.com", # project-level IAM
      "eventarc.googleapis.com",             # Pub/Sub triggers of ingest and metrics-events
      "firestore.googleapis.com",
      "iam.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com", # gen2 functions are Cloud Run services
      "secretmanager.googleapis.com",
      "storage.googleapis.com",
    ],
    var.genai_backend == "vertex" ? ["aiplatform.googleapis.com"] : ["generativelanguage.googleapis.com"],
  )
}

resource "google_project_service" "apis" {
  for_each = toset(local.apis)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
