# Inputs. Each non-secret setting of the service (SPEC §3) is a variable here, validated the
# way internal/config validates it, so a typo fails at plan time and not at container start.
# Secret settings are not variables: their values go to Secret Manager (secrets.tf).

# --- Project and placement ---------------------------------------------------

variable "project_id" {
  description = "Google Cloud project id (becomes GOOGLE_CLOUD_PROJECT)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region for Cloud Run, Artifact Registry, Cloud Scheduler (e.g. us-central1)."
  type        = string
  default     = "us-central1"

  # A Cloud Run region is an area of two or more letters, a hyphen, a direction and a one- or
  # two-digit number: us-central1, europe-west10, me-central2, northamerica-south1,
  # asia-southeast2. Zones (us-central1-a) and multi-regions (nam5, us) are not regions.
  validation {
    condition     = can(regex("^[a-z]{2,}-[a-z]+[1-9][0-9]?$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1, europe-west10 or northamerica-south1."
  }
}

variable "firestore_database" {
  description = "Firestore database id (FIRESTORE_DATABASE). \"(default)\" is the project's default database."
  type        = string
  default     = "(default)"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be \"(default)\" or 4-63 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "firestore_location" {
  description = "Firestore location: a multi-region (nam5, eur3) or a region. Cannot change after creation."
  type        = string
  default     = "nam5"

  validation {
    condition     = can(regex("^[a-z0-9-]+$", var.firestore_location))
    error_message = "firestore_location must be a Firestore location id such as nam5, eur3 or us-central1."
  }
}

variable "artifact_repository" {
  description = "Artifact Registry Docker repository id for the service image (cloudbuild.yaml's _REPOSITORY)."
  type        = string
  default     = "wc-openedx"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.artifact_repository))
    error_message = "artifact_repository must be lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "image" {
  description = "Image the services start with on first apply. Cloud Build replaces it on every deploy; Terraform then ignores the image."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"

  validation {
    condition     = length(var.image) > 0
    error_message = "image must be a container image reference."
  }
}

# --- Jobs (Pub/Sub) and schedule ---------------------------------------------

variable "jobs_topic" {
  description = "Pub/Sub topic id for enrollment jobs (JOBS_TOPIC). The dead-letter topic is named after it."
  type        = string
  default     = "enrollment-jobs"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,200}$", var.jobs_topic)) && !startswith(var.jobs_topic, "goog")
    error_message = "jobs_topic must be a Pub/Sub id: 3-201 characters, starting with a letter, not with \"goog\"."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of a job before it is dead-lettered (push subscription's max_delivery_attempts; also ENROLL_MAX_ATTEMPTS, so the worker knows the last attempt)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100 && floor(var.max_delivery_attempts) == var.max_delivery_attempts
    error_message = "max_delivery_attempts must be a whole number from 5 to 100 (Pub/Sub's limits)."
  }
}

variable "sweep_schedule" {
  description = "Cron schedule (UTC) on which Cloud Scheduler calls the sweep service."
  type        = string
  default     = "*/5 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.sweep_schedule))) == 5
    error_message = "sweep_schedule must be a five-field cron expression, e.g. \"*/5 * * * *\"."
  }
}

# --- Build trigger -----------------------------------------------------------

variable "github_owner" {
  description = "GitHub owner (user or organisation) of the repository the build trigger watches. The Cloud Build GitHub App must be installed on it."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}$", var.github_owner))
    error_message = "github_owner must be a GitHub user or organisation name."
  }
}

variable "github_repo" {
  description = "GitHub repository name the build trigger watches."
  type        = string
  default     = "wc-openedx"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,100}$", var.github_repo))
    error_message = "github_repo must be a GitHub repository name."
  }
}

variable "github_branch" {
  description = "Branch whose pushes are built, tested and deployed."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.github_branch))
    error_message = "github_branch must be a plain branch name (letters, digits, . _ / -)."
  }
}

# --- Service configuration (SPEC §3) -----------------------------------------

variable "wc_url" {
  description = "Shop home URL (WC_URL), e.g. https://shop.example.com. Webhook deliveries must come from it."
  type        = string

  validation {
    condition     = can(regex("^https://[^/\\s]+(/\\S*)?$", var.wc_url))
    error_message = "wc_url must be an https:// URL (WooCommerce only accepts REST keys over TLS)."
  }
}

variable "wc_complete_mixed_orders" {
  description = "Complete orders that also hold non-course lines (WC_COMPLETE_MIXED_ORDERS)."
  type        = bool
  default     = false
}

variable "openedx_url" {
  description = "Open edX LMS base URL (OPENEDX_URL), e.g. https://lms.example.com."
  type        = string

  validation {
    condition     = can(regex("^https://[^/\\s]+(/\\S*)?$", var.openedx_url))
    error_message = "openedx_url must be an https:// URL."
  }
}

variable "openedx_enroll_strategy" {
  description = "How to enroll (OPENEDX_ENROLL_STRATEGY): enrollment (Enrollment API + enrollment_allowed) or bulk (bulk_enroll)."
  type        = string
  default     = "enrollment"

  validation {
    condition     = contains(["enrollment", "bulk"], var.openedx_enroll_strategy)
    error_message = "openedx_enroll_strategy must be enrollment or bulk."
  }
}

variable "openedx_default_mode" {
  description = "Course mode when a SKU names none (OPENEDX_DEFAULT_MODE), e.g. audit, verified, honor."
  type        = string
  default     = "audit"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.openedx_default_mode))
    error_message = "openedx_default_mode must be a course mode slug such as audit or verified."
  }
}

variable "mail_from" {
  description = "Sender of the service's emails (MAIL_FROM): addr or \"Name <addr>\". Must be a verified SendGrid sender."
  type        = string

  validation {
    condition     = can(regex("^([^<>]+<[^<>@\\s]+@[^<>@\\s]+>|[^<>@\\s]+@[^<>@\\s]+)$", trimspace(var.mail_from)))
    error_message = "mail_from must be an address (ops@example.com) or Name <ops@example.com>."
  }
}

variable "sendgrid_api_url" {
  description = "SendGrid API base URL (SENDGRID_API_URL). Use https://api.eu.sendgrid.com for EU data residency."
  type        = string
  default     = "https://api.sendgrid.com"

  validation {
    condition     = can(regex("^https://[^/\\s]+(/\\S*)?$", var.sendgrid_api_url))
    error_message = "sendgrid_api_url must be an https:// URL."
  }
}

variable "language" {
  description = "Language of everything the shop's people read: order notes, failure reasons, emails, pages, alerts (LANGUAGE): en or es, or a locale of one such as es_AR or es_ES.UTF-8."
  type        = string
  default     = "en"

  validation {
    # The service takes the first entry of a gettext list (es_ES:es) that it speaks.
    condition     = anytrue([for l in split(":", var.language) : can(regex("^(?i)(en|es)([-_.@].*)?$", trimspace(l)))])
    error_message = "language must be en or es, or a locale of one (es_AR, es-ES, es_ES.UTF-8, es_ES:es)."
  }
}

variable "support_contact" {
  description = "Whom failure notes and emails name as the next step when a retry does not help (SUPPORT_CONTACT): an email address or an http(s) URL; empty names no one."
  type        = string
  default     = ""

  validation {
    condition     = var.support_contact == "" || can(regex("^[^<>@\\s,]+@[^<>@\\s,]+$", var.support_contact)) || can(regex("^https?://[^/\\s]+(/\\S*)?$", var.support_contact))
    error_message = "support_contact must be an email address or an http(s) URL."
  }
}

variable "confirm_payment_methods" {
  description = "Payment method ids whose orders need a person's confirmation before enrolling (CONFIRM_PAYMENT_METHODS)."
  type        = list(string)
  default     = ["bacs", "cheque", "cod"]

  validation {
    # An empty list would reach the service as "" and mean the default, not "none".
    condition     = length(var.confirm_payment_methods) > 0 && alltrue([for m in var.confirm_payment_methods : can(regex("^[A-Za-z0-9_-]+$", m))])
    error_message = "confirm_payment_methods must be one or more WooCommerce gateway ids such as bacs, cheque, cod."
  }
}

variable "notify_emails" {
  description = "Fallback recipients when the shop's new-order recipients cannot be read (NOTIFY_EMAILS)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.notify_emails : can(regex("^[^<>@\\s,]+@[^<>@\\s,]+$", e))])
    error_message = "notify_emails must be plain email addresses."
  }
}

variable "confirm_link_ttl" {
  description = "Lifetime of a payment confirmation link (CONFIRM_LINK_TTL), a Go duration such as 720h."
  type        = string
  default     = "720h"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", var.confirm_link_ttl))
    error_message = "confirm_link_ttl must be a positive Go duration such as 720h or 48h30m."
  }
}

variable "reconcile_lookback" {
  description = "How far back the sweep's first reconciliation looks (RECONCILE_LOOKBACK), a Go duration."
  type        = string
  default     = "72h"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", var.reconcile_lookback))
    error_message = "reconcile_lookback must be a positive Go duration such as 72h."
  }
}

variable "webhook_reactivate" {
  description = "Let the sweep set a disabled or paused shop webhook back to active (WEBHOOK_REACTIVATE)."
  type        = bool
  default     = false
}

variable "unenroll_on" {
  description = "Order statuses that take course access away (UNENROLL_ON): refunded, cancelled."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.unenroll_on : contains(["refunded", "cancelled"], s)])
    error_message = "unenroll_on may only hold refunded and cancelled."
  }
}

variable "log_level" {
  description = "Log level (LOG_LEVEL): debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

# --- Operators: console and alerts -------------------------------------------

variable "console_operators" {
  description = "Who may open the operators' console (roles/run.invoker on the private console service), as IAM members: \"user:ana@example.com\", \"group:ops@example.com\". They open it with the console_proxy_command output."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.console_operators : can(regex("^(user|group):[^@\\s:]+@[^@\\s:]+\\.[^@\\s:]+$", m))])
    error_message = "console_operators must be IAM members of people: \"user:ana@example.com\" or \"group:ops@example.com\"."
  }
}

variable "alert_emails" {
  description = "Operators' email addresses the alerts are sent to (one Cloud Monitoring email channel each). Empty: the alerts still open incidents in Cloud Monitoring, but nobody is emailed."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^<>@\\s,]+@[^<>@\\s,]+$", e))])
    error_message = "alert_emails must be plain email addresses."
  }
}

variable "enroll_failures_alert_threshold" {
  description = "Enroll job failures in one hour (permanent, or to be retried) above which the \"enroll jobs failing more than usual\" alert fires."
  type        = number
  default     = 10

  validation {
    condition     = var.enroll_failures_alert_threshold >= 1 && floor(var.enroll_failures_alert_threshold) == var.enroll_failures_alert_threshold
    error_message = "enroll_failures_alert_threshold must be a whole number of at least 1."
  }
}
