# Terraform and provider versions, and where the state lives.
terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }

  # The state lives in a GCS bucket that the operator creates once and names at init time:
  #   terraform init -backend-config=bucket=<state bucket> -backend-config=prefix=cymbal
  # Nothing about the bucket is written here, so the same code serves every project.
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
