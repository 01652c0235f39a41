# One Cloud Function (gen2) from one staged folder: HTTP, or triggered by a Pub/Sub topic.

variable "project_id" {
  type        = string
  description = "Project of the function."
}

variable "region" {
  type        = string
  description = "Region of the function and of its trigger."
}

variable "name" {
  type        = string
  description = "Function name; also the name of its Cloud Run service."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.name))
    error_message = "name is lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "description" {
  type        = string
  description = "What the function does."
  default     = null
}

variable "entry_point" {
  type        = string
  description = "The decorated Python function in the bundle's main.py."
}

variable "source_bucket" {
  type        = string
  description = "Bucket holding the source zip."
}

variable "source_object" {
  type        = string
  description = "The source zip's object name, \"<name>-<md5>.zip\" (storage.tf): a new name is a new build."
}

variable "docker_repository" {
  type        = string
  description = "Artifact Registry repository (projects/<p>/locations/<region>/repositories/<id>) the build pushes the image to; null lets Cloud Functions use gcf-artifacts."
  default     = null
}

variable "runtime" {
  type        = string
  description = "Cloud Functions runtime, e.g. python312."
}

variable "environment" {
  type        = map(string)
  description = "Settings of the function (environment variables, names as in .env.example)."
  default     = {}
}

variable "extra_environment" {
  type        = map(string)
  description = "More settings, applied under `environment` (which wins on a clash)."
  default     = {}
}

variable "secret_environment" {
  type = map(object({
    secret  = string
    version = number
  }))
  description = "Environment variable -> its Secret Manager secret (id in project_id) and pinned version number; a null entry is left out."
  default     = {}
}

variable "trigger_topic" {
  type        = string
  description = "Name of the Pub/Sub topic whose messages trigger the function (a CloudEvent function); null for an HTTP function."
  default     = null
}

variable "retry_policy" {
  type        = string
  description = "What happens when the event handler raises: RETRY_POLICY_RETRY (redeliver) or RETRY_POLICY_DO_NOT_RETRY."
  default     = "RETRY_POLICY_RETRY"

  validation {
    condition     = contains(["RETRY_POLICY_RETRY", "RETRY_POLICY_DO_NOT_RETRY"], var.retry_policy)
    error_message = "retry_policy is RETRY_POLICY_RETRY or RETRY_POLICY_DO_NOT_RETRY."
  }
}

variable "trigger_service_account_email" {
  type        = string
  description = "Identity the trigger invokes the function as (granted roles/run.invoker on it here); required with trigger_topic."
  default     = null
}

variable "ingress" {
  type        = string
  description = "Who can reach the function's URL: ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "ingress is ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "public" {
  type        = bool
  description = "Let anyone invoke it (allUsers gets roles/run.invoker): for a function a browser calls."
  default     = false
}

variable "invoker_members" {
  type        = list(string)
  description = "More IAM members allowed to invoke the function."
  default     = []
}

variable "service_account_email" {
  type        = string
  description = "The function's runtime identity."
}

variable "build_service_account" {
  type        = string
  description = "Service account (projects/<p>/serviceAccounts/<email>) Cloud Build builds the image as; null for the project's default."
  default     = null
}

variable "memory" {
  type        = string
  description = "Memory of an instance, e.g. \"512Mi\"."
  default     = "512Mi"
}

variable "cpu" {
  type        = string
  description = "vCPUs of an instance, e.g. \"1\"."
  default     = "1"
}

variable "timeout_seconds" {
  type        = number
  description = "Longest request or event handling, in seconds (HTTP up to 3600, events up to 540)."
  default     = 60
}

variable "max_concurrency" {
  type        = number
  description = "Requests one instance serves at once (max_instance_request_concurrency); above 1 needs cpu >= 1."
  default     = 1

  validation {
    condition     = var.max_concurrency >= 1 && var.max_concurrency <= 1000
    error_message = "max_concurrency is between 1 and 1000."
  }
}

variable "min_instances" {
  type        = number
  description = "Instances kept warm."
  default     = 0
}

variable "max_instances" {
  type        = number
  description = "Most instances at once."
  default     = 10
}

variable "labels" {
  type        = map(string)
  description = "Labels of the function and its source object."
  default     = {}
}
