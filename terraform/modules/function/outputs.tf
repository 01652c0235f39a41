output "name" {
  description = "The function's name (and its Cloud Run service's)."
  value       = google_cloudfunctions2_function.this.name
}

output "id" {
  description = "projects/<p>/locations/<region>/functions/<name>."
  value       = google_cloudfunctions2_function.this.id
}

output "uri" {
  description = "The HTTPS URL of the function's service."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "url" {
  description = "The function's cloudfunctions.net URL."
  value       = google_cloudfunctions2_function.this.url
}
