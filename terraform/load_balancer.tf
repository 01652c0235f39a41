# web_hosting = "load_balancer": one origin, https://<web_domain>, for the page and the
# functions. A global external Application Load Balancer (EXTERNAL_MANAGED) with a
# Google-managed certificate sends /chat/..., /intent/... and /metrics/... to those functions
# (serverless NEGs; the prefix is rewritten to /, where each function serves its routes) and
# everything else to the web bucket (Cloud CDN when web_cdn). Port 80 redirects to HTTPS.
# intent and metrics are routed only when public. The functions behind it take traffic from it
# alone (ingress ALLOW_INTERNAL_AND_GCLB, functions.tf), so the Cloud Armor policy, when there is
# one, cannot be gone around.

locals {
  lb_count = local.load_balancer ? 1 : 0

  # Function -> its Cloud Run service, for each function the load balancer serves; the route
  # is /<function>/.
  lb_functions = local.load_balancer ? merge(
    { chat = module.chat.name },
    var.intent_public ? { intent = module.intent.name } : {},
    var.metrics_public ? { metrics = module.metrics.name } : {},
  ) : {}

  cloud_armor = local.load_balancer && var.cloud_armor_rate_limit_per_minute != null
}

resource "google_compute_global_address" "web" {
  count = local.lb_count

  project = var.project_id
  name    = "${var.service_account_prefix}-web"

  depends_on = [google_project_service.apis]
}

# Named by its domain: a new domain is a new certificate, made before the old one goes (the
# proxy cannot be left without one).
resource "google_compute_managed_ssl_certificate" "web" {
  count = local.lb_count

  project = var.project_id
  name    = "${var.service_account_prefix}-web-${substr(sha1(coalesce(var.web_domain, "none")), 0, 8)}"

  managed {
    domains = [var.web_domain]
  }

  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = var.web_domain != null
      error_message = "web_hosting = \"load_balancer\" needs web_domain (e.g. \"shop.example.com\")."
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_compute_backend_bucket" "web" {
  count = local.lb_count

  project     = var.project_id
  name        = "${var.service_account_prefix}-web"
  description = "The page (web/), from the web bucket."
  bucket_name = google_storage_bucket.web[0].name
  enable_cdn  = var.web_cdn

  # Files keep their own Cache-Control (hosting.tf: five minutes; config.js revalidated).
  dynamic "cdn_policy" {
    for_each = var.web_cdn ? [1] : []
    content {
      cache_mode = "USE_ORIGIN_HEADERS"
    }
  }
}

resource "google_compute_region_network_endpoint_group" "function" {
  for_each = local.lb_functions

  project               = var.project_id
  name                  = "${var.service_account_prefix}-${each.key}"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  # A gen2 function is a Cloud Run service of the same name.
  cloud_run {
    service = each.value
  }

  depends_on = [google_project_service.apis]
}

resource "google_compute_backend_service" "function" {
  for_each = local.lb_functions

  project               = var.project_id
  name                  = "${var.service_account_prefix}-${each.key}"
  description           = "The ${each.key} function, under /${each.key}/."
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = local.cloud_armor ? google_compute_security_policy.functions[0].id : null

  backend {
    group = google_compute_region_network_endpoint_group.function[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1
  }
}

resource "google_compute_url_map" "web" {
  count = local.lb_count

  project         = var.project_id
  name            = "${var.service_account_prefix}-web"
  default_service = google_compute_backend_bucket.web[0].id

  host_rule {
    hosts        = [var.web_domain]
    path_matcher = "web"
  }

  path_matcher {
    name            = "web"
    default_service = google_compute_backend_bucket.web[0].id

    # /chat/sessions reaches the chat function as /sessions.
    dynamic "route_rules" {
      for_each = local.lb_functions
      content {
        priority = index(keys(local.lb_functions), route_rules.key) + 1
        service  = google_compute_backend_service.function[route_rules.key].id

        match_rules {
          prefix_match = "/${route_rules.key}/"
        }

        route_action {
          url_rewrite {
            path_prefix_rewrite = "/"
          }
        }
      }
    }
  }
}

# TLS 1.2 or newer, modern ciphers only.
resource "google_compute_ssl_policy" "web" {
  count = local.lb_count

  project         = var.project_id
  name            = "${var.service_account_prefix}-web"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"

  depends_on = [google_project_service.apis]
}

resource "google_compute_target_https_proxy" "web" {
  count = local.lb_count

  project          = var.project_id
  name             = "${var.service_account_prefix}-web"
  url_map          = google_compute_url_map.web[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.web[0].id]
  ssl_policy       = google_compute_ssl_policy.web[0].id
}

resource "google_compute_global_forwarding_rule" "https" {
  count = local.lb_count

  project               = var.project_id
  name                  = "${var.service_account_prefix}-web-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  ip_address            = google_compute_global_address.web[0].address
  port_range            = "443"
  target                = google_compute_target_https_proxy.web[0].id
}

# Port 80 only redirects to HTTPS.
resource "google_compute_url_map" "redirect" {
  count = local.lb_count

  project = var.project_id
  name    = "${var.service_account_prefix}-web-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  count = local.lb_count

  project = var.project_id
  name    = "${var.service_account_prefix}-web-redirect"
  url_map = google_compute_url_map.redirect[0].id
}

resource "google_compute_global_forwarding_rule" "http" {
  count = local.lb_count

  project               = var.project_id
  name                  = "${var.service_account_prefix}-web-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  ip_address            = google_compute_global_address.web[0].address
  port_range            = "80"
  target                = google_compute_target_http_proxy.redirect[0].id
}

# Cloud Armor on the functions' backends: each client address may send
# cloud_armor_rate_limit_per_minute requests a minute to each function, counted at the edge
# across all its instances; more get 429 until the minute has passed. The code's own limits
# (RATE_LIMIT_PER_MINUTE per session and address, INTENT_RATE_LIMIT_PER_MINUTE per instance)
# still apply behind it. The page's files (the backend bucket) are not counted.
resource "google_compute_security_policy" "functions" {
  #checkov:skip=CKV_GCP_73:The policy's backends are Python functions (Cloud Run) and a Cloud Storage bucket: no Java, no Log4j anywhere behind it for a Log4Shell lookup to reach.
  count = local.cloud_armor ? 1 : 0

  project     = var.project_id
  name        = "${var.service_account_prefix}-functions"
  description = "Per-client rate limit on the functions behind the load balancer."
  type        = "CLOUD_ARMOR"

  rule {
    action      = "throttle"
    priority    = 1000
    description = "Each client address, per function"

    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }

    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"

      rate_limit_threshold {
        count        = var.cloud_armor_rate_limit_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Default rule"

    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }

  depends_on = [google_project_service.apis]
}
