# The web page (web/) in the cloud, with a generated config.js telling it where the functions
# are. web_hosting chooses how (README.md, "Hosting"):
#   "none"           nothing here; the page is served elsewhere (put its origin in
#                    cors_allowed_origins)
#   "bucket"         this bucket at its own origin, https://<bucket>.storage.googleapis.com:
#                    no other bucket's page shares it (https://storage.googleapis.com/<bucket>
#                    would: every public bucket's page is on that one origin, and could read the
#                    session token this page keeps in localStorage). The page calls each
#                    function at its own URL, cross-origin.
#   "load_balancer"  the bucket behind the HTTPS load balancer (load_balancer.tf) on web_domain,
#                    with the functions under /chat, /intent and /metrics of the same origin: no
#                    cross-origin call, and no origin but the operator's ever holds a token.
# Either way the files are public: anyone may read an object (storage.objects.get), nobody may
# list the bucket.

locals {
  web_enabled     = var.web_hosting != "none"
  load_balancer   = var.web_hosting == "load_balancer"
  web_dir         = "${path.root}/../web"
  web_bucket_name = coalesce(var.web_bucket_name, "${var.project_id}-cymbal-web")
  web_files       = local.web_enabled ? setsubtract(fileset(local.web_dir, "**"), ["config.js"]) : toset([])
  web_types = {
    css  = "text/css; charset=utf-8"
    html = "text/html; charset=utf-8"
    ico  = "image/x-icon"
    js   = "text/javascript; charset=utf-8"
    json = "application/json"
    png  = "image/png"
    svg  = "image/svg+xml"
  }

  # The page's origin, which the functions let through (functions.tf, cors_origins).
  web_origin = local.load_balancer ? "https://${var.web_domain}" : (
    local.web_enabled ? "https://${local.web_bucket_name}.storage.googleapis.com" : null
  )

  # Where the page calls each function: paths of its own origin behind the load balancer (as
  # the local stack serves them), else each function's own URL. Behind the load balancer, intent
  # and metrics are routed only when public; the page then shows them as unreachable, as it
  # does when they are internal-only without it.
  page_functions_direct = {
    chat    = module.chat.uri
    intent  = module.intent.uri
    metrics = module.metrics.uri
  }
  page_functions = local.load_balancer ? {
    chat    = "/chat"
    intent  = "/intent"
    metrics = "/metrics"
  } : local.page_functions_direct
}

resource "google_storage_bucket" "web" {
  #checkov:skip=CKV_GCP_114:The page's bucket: anyone must read its files (object reads only, no listing), so public access prevention cannot be enforced on it. Nothing else is stored there.
  #checkov:skip=CKV_GCP_62:No usage logs: its files are the public page from web/, written only by Terraform (each upload appears in its apply output) and there to be read by anyone, so a log of reads holds nothing to act on. Admin Activity audit logs record changes to the bucket and its IAM.
  count = local.web_enabled ? 1 : 0

  name                        = local.web_bucket_name
  project                     = var.project_id
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "inherited"
  force_destroy               = true # only files Terraform wrote, from web/
  labels                      = var.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      with_state                 = "ARCHIVED"
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  # The load balancer's backend bucket answers / with index.html.
  website {
    main_page_suffix = "index.html"
  }

  depends_on = [google_project_service.apis]
}

# Read, not list: roles/storage.objectViewer would also let anyone list the bucket.
# storage.legacyObjectReader holds storage.objects.get alone.
resource "google_storage_bucket_iam_member" "web_public_read" {
  #checkov:skip=CKV_GCP_28:allUsers may read the objects of the page's bucket, and only when web_hosting asks for hosting: they are the public page from web/ and its config.js (function URLs, no secret). legacyObjectReader grants storage.objects.get only: nobody can list the bucket.
  count = local.web_enabled ? 1 : 0

  bucket = google_storage_bucket.web[0].name
  role   = "roles/storage.legacyObjectReader"
  member = "allUsers"
}

resource "google_storage_bucket_object" "web" {
  for_each = local.web_files

  bucket        = google_storage_bucket.web[0].name
  name          = each.value
  source        = "${local.web_dir}/${each.value}"
  content_type  = lookup(local.web_types, reverse(split(".", each.value))[0], "application/octet-stream")
  cache_control = "public, max-age=300"
}

resource "google_storage_bucket_object" "web_config" {
  count = local.web_enabled ? 1 : 0

  bucket        = google_storage_bucket.web[0].name
  name          = "config.js"
  content_type  = "text/javascript; charset=utf-8"
  cache_control = "no-cache"
  content       = <<-EOT
    // Generated by Terraform (hosting.tf): where each function lives.
    window.CYMBAL_CONFIG = {
      functions: {
        chat: ${jsonencode(local.page_functions.chat)},
        intent: ${jsonencode(local.page_functions.intent)},
        metrics: ${jsonencode(local.page_functions.metrics)},
      },
    };
  EOT
}

# The HTTP contract (docs/openapi.yaml) at /openapi.yaml, where its paths hold: behind the load
# balancer, one origin serves /chat, /intent and /metrics as the document says.
resource "google_storage_bucket_object" "openapi" {
  count = local.load_balancer ? 1 : 0

  bucket        = google_storage_bucket.web[0].name
  name          = "openapi.yaml"
  source        = "${path.root}/../docs/openapi.yaml"
  content_type  = "application/yaml"
  cache_control = "public, max-age=300"
}
