# Alerts on the two ways an event can be lost or left unseen (README.md, "Alerts"):
# - a message waiting on a trigger's subscription. Eventarc owns the push subscription of each
#   triggered function and Terraform cannot give it a dead-letter topic (provider issue 25069):
#   if the function cannot start at all (a bad deploy, a missing secret version), nothing
#   reaches the code that dead-letters, and Pub/Sub drops the message after 24 h. The age of
#   the oldest unacknowledged message says so long before.
# - a dead letter waiting for review on a dead-letter topic's review subscription.
# Each alert tells alert_emails and alert_notification_channels.

locals {
  # Triggered function -> its topic. Eventarc names a function's subscription
  # eventarc-<region>-<function>-<digits>-sub-<digits>.
  triggered_functions = {
    ingest           = var.ingest_topic
    "metrics-events" = var.metrics_topic
  }

  # Dead-letter topic -> its review subscription (pubsub.tf).
  dead_letter_reviews = {
    ingest  = "${var.ingest_topic}${var.dead_letter_suffix}-review"
    metrics = "${var.metrics_topic}${var.dead_letter_suffix}-review"
  }

  alert_channels = concat(
    [for channel in google_monitoring_notification_channel.email : channel.id],
    var.alert_notification_channels,
  )
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  project      = var.project_id
  display_name = "Cymbal alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "trigger_backlog" {
  for_each = local.triggered_functions

  project               = var.project_id
  display_name          = "Cymbal: ${each.key} trigger has a message waiting over ${var.trigger_backlog_alert_s} s"
  combiner              = "OR"
  notification_channels = local.alert_channels
  user_labels           = var.labels

  conditions {
    display_name = "Oldest unacknowledged message on the ${each.key} trigger's subscription"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.labels.subscription_id = monitoring.regex.full_match(\"eventarc-${var.region}-${each.key}-[0-9]+-sub-[0-9]+\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.trigger_backlog_alert_s
      duration        = "300s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A message published to `${each.value}` has waited over ${var.trigger_backlog_alert_s} s
      for the `${each.key}` function. Pub/Sub drops it 24 h after it was published; the function
      dead-letters an event only once it is ${var.max_event_age_s} s old (MAX_EVENT_AGE_S), and
      only if it runs at all.

      Look at the `${each.key}` service's logs (Cloud Run). A function that cannot start (a
      failed deploy, a secret version that does not exist, a missing permission) never
      acknowledges anything: fix it and the messages are delivered again. A function that
      raises on every message is retried until the event is old enough to be dead-lettered.
    EOT
  }

  lifecycle {
    precondition {
      condition     = var.trigger_backlog_alert_s < var.max_event_age_s
      error_message = "trigger_backlog_alert_s must be below max_event_age_s: the alert should come before events are dead-lettered for their age."
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  for_each = local.dead_letter_reviews

  project               = var.project_id
  display_name          = "Cymbal: dead letters of ${each.key} await review"
  combiner              = "OR"
  notification_channels = local.alert_channels
  user_labels           = var.labels

  conditions {
    display_name = "Unread messages on ${each.value}"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id = \"${each.value}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The ${each.key} functions dead-lettered something: a message that can never succeed, or
      an event too old to retry. Each carries its reason. Read them, fix the cause, republish
      what should be processed; the alert closes once the subscription is empty:

          gcloud pubsub subscriptions pull ${each.value} --limit=10 --auto-ack

      They are kept ${var.dead_letter_retention} unread.
    EOT
  }

  depends_on = [google_project_service.apis]
}
