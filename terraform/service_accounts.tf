# One identity per function (least privilege, iam.tf), one for the Eventarc triggers, one that
# builds the functions' images, and one for the plan-only Cloud Build triggers.

locals {
  function_names = toset(["chat", "intent", "ingest", "metrics", "metrics-events"])
}

resource "google_service_account" "function" {
  for_each = local.function_names

  project      = var.project_id
  account_id   = "${var.service_account_prefix}-${each.key}"
  display_name = "Cymbal ${each.key} function"
  description  = "Runtime identity of the ${each.key} function."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "trigger" {
  project      = var.project_id
  account_id   = "${var.service_account_prefix}-trigger"
  display_name = "Cymbal Eventarc triggers"
  description  = "Identity Eventarc pushes Pub/Sub events as: may invoke ingest and metrics-events only."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.service_account_prefix}-build"
  display_name = "Cymbal function builds"
  description  = "Cloud Build identity that turns each source zip into a function image."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "plan" {
  project      = var.project_id
  account_id   = "${var.service_account_prefix}-plan"
  display_name = "Cymbal plan-only builds"
  description  = "Cloud Build identity of the plan-only triggers (cloudbuild-plan.yaml): reads the Terraform state, changes nothing."

  depends_on = [google_project_service.apis]
}
