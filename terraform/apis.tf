# The Google APIs the deployment uses. Never disabled on destroy: other things in the project
# may depend on them, and disabling an API can delete its data.
locals {
  apis = concat(
    [
      "artifactregistry.googleapis.com", # the functions' images (google_artifact_registry_repository.functions)
      "cloudbuild.googleapis.com",       # builds each function from its source zip
      "cloudfunctions.googleapis.com",
      "eventarc.googleapis.com", # Pub/Sub triggers of ingest and metrics-events
      "firestore.googleapis.com",
      "iam.googleapis.com",
      "monitoring.googleapis.com", # the alert policies (monitoring.tf)
      "pubsub.googleapis.com",
      "run.googleapis.com", # gen2 functions are Cloud Run services
      "secretmanager.googleapis.com",
      "storage.googleapis.com",
    ],
    var.genai_backend == "vertex" ? ["aiplatform.googleapis.com"] : ["generativelanguage.googleapis.com"],
    var.web_hosting == "load_balancer" ? ["compute.googleapis.com"] : [],
  )
}

# Cloud Resource Manager first, on its own: reading the project (data.google_project.this, for
# its number) and every project-level IAM grant need it. On a fresh project it is off, so the
# first plan defers that read to the apply, after this is enabled, instead of failing.
resource "google_project_service" "resource_manager" {
  project            = var.project_id
  service            = "cloudresourcemanager.googleapis.com"
  disable_on_destroy = false
}

resource "google_project_service" "apis" {
  for_each = toset(local.apis)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false

  depends_on = [google_project_service.resource_manager]
}

# It was one of `apis` before it had to come first: the same API, not enabled twice.
moved {
  from = google_project_service.apis["cloudresourcemanager.googleapis.com"]
  to   = google_project_service.resource_manager
}
