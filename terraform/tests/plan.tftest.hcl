# The module planned by the real Google provider, with no project and no credentials: the
# project number is overridden, and so are the computed names of the accounts the services'
# settings and invokers name (else they would be unknown, or random, in a plan), so the plan
# shows what an apply would create. How to run it (the provider is built from
# source; no terraform init): the README, "Testing the Terraform".

variables {
  project_id   = "wc-openedx-test"
  github_owner = "example-org"
  wc_url       = "https://shop.example.com"
  openedx_url  = "https://lms.example.com"
  mail_from    = "Example Academy <courses@example.com>"

  console_operators = ["user:ana@example.com", "group:ops@example.com"]
  alert_emails      = ["ops@example.com", "ana@example.com"]
}

override_data {
  target = data.google_project.this
  values = {
    number = "123456789012"
  }
}

override_resource {
  target          = google_service_account.push_invoker
  override_during = plan
  values = {
    email  = "wc-openedx-push-invoker@wc-openedx-test.iam.gserviceaccount.com"
    member = "serviceAccount:wc-openedx-push-invoker@wc-openedx-test.iam.gserviceaccount.com"
    id     = "projects/wc-openedx-test/serviceAccounts/wc-openedx-push-invoker@wc-openedx-test.iam.gserviceaccount.com"
    name   = "projects/wc-openedx-test/serviceAccounts/wc-openedx-push-invoker@wc-openedx-test.iam.gserviceaccount.com"
  }
}

override_resource {
  target          = google_service_account.scheduler
  override_during = plan
  values = {
    email  = "wc-openedx-scheduler@wc-openedx-test.iam.gserviceaccount.com"
    member = "serviceAccount:wc-openedx-scheduler@wc-openedx-test.iam.gserviceaccount.com"
    id     = "projects/wc-openedx-test/serviceAccounts/wc-openedx-scheduler@wc-openedx-test.iam.gserviceaccount.com"
    name   = "projects/wc-openedx-test/serviceAccounts/wc-openedx-scheduler@wc-openedx-test.iam.gserviceaccount.com"
  }
}

# The operators' channels, likewise, so that the alert policies name them in the plan.
override_resource {
  target          = google_monitoring_notification_channel.email["ops@example.com"]
  override_during = plan
  values = {
    id   = "projects/wc-openedx-test/notificationChannels/1001"
    name = "projects/wc-openedx-test/notificationChannels/1001"
  }
}

override_resource {
  target          = google_monitoring_notification_channel.email["ana@example.com"]
  override_during = plan
  values = {
    id   = "projects/wc-openedx-test/notificationChannels/1002"
    name = "projects/wc-openedx-test/notificationChannels/1002"
  }
}

# The README's first step: enable the APIs (here without calling Google: the resource is
# overridden). The project data source waits for its API; once enabled, the plan below reads
# it (the overridden number) and every URL is known, as in a real second apply.
override_resource {
  target = google_project_service.enabled
}

run "apis" {
  command = apply
  plan_options {
    target = [google_project_service.enabled]
  }
}

run "plan" {
  command = plan

  # Each service holds exactly the variables its function reads (internal/config's `fn`
  # tags; the Go tests check the lists against them) ...
  assert {
    condition = toset([for e in google_cloud_run_v2_service.service["webhook"].template[0].containers[0].env : e.name]) == toset([
      "FUNCTION_TARGET", "GOOGLE_CLOUD_PROJECT", "FIRESTORE_DATABASE", "JOBS_TOPIC", "WC_URL", "LOG_LEVEL",
      "WC_WEBHOOK_SECRET", "OPENEDX_DEFAULT_MODE", "CONFIRM_PAYMENT_METHODS", "UNENROLL_ON",
    ])
    error_message = "webhook: wrong variables"
  }
  assert {
    condition = toset([for e in google_cloud_run_v2_service.service["confirm"].template[0].containers[0].env : e.name]) == toset([
      "FUNCTION_TARGET", "GOOGLE_CLOUD_PROJECT", "FIRESTORE_DATABASE", "JOBS_TOPIC", "WC_URL", "LOG_LEVEL",
      "MAIL_FROM", "LANGUAGE", "CONFIRM_SIGNING_KEY", "CONFIRM_LINK_TTL",
    ])
    error_message = "confirm: wrong variables"
  }
  assert {
    condition = toset([for e in google_cloud_run_v2_service.service["enroll"].template[0].containers[0].env : e.name]) == toset([
      "FUNCTION_TARGET", "GOOGLE_CLOUD_PROJECT", "FIRESTORE_DATABASE", "JOBS_TOPIC", "WC_URL", "LOG_LEVEL",
      "WC_CONSUMER_KEY", "WC_CONSUMER_SECRET", "WC_COMPLETE_MIXED_ORDERS", "OPENEDX_URL",
      "OPENEDX_CLIENT_ID", "OPENEDX_CLIENT_SECRET", "OPENEDX_ENROLL_STRATEGY", "OPENEDX_DEFAULT_MODE",
      "SENDGRID_API_KEY", "SENDGRID_API_URL", "MAIL_FROM", "CONFIRM_PAYMENT_METHODS", "NOTIFY_EMAILS",
      "LANGUAGE", "CONFIRM_URL", "CONFIRM_SIGNING_KEY", "CONFIRM_LINK_TTL", "PUSH_AUDIENCE",
      "PUSH_SERVICE_ACCOUNT", "ENROLL_MAX_ATTEMPTS", "UNENROLL_ON", "SUPPORT_CONTACT",
    ])
    error_message = "enroll: wrong variables"
  }
  assert {
    condition = toset([for e in google_cloud_run_v2_service.service["sweep"].template[0].containers[0].env : e.name]) == toset([
      "FUNCTION_TARGET", "GOOGLE_CLOUD_PROJECT", "FIRESTORE_DATABASE", "JOBS_TOPIC", "WC_URL", "LOG_LEVEL",
      "WC_CONSUMER_KEY", "WC_CONSUMER_SECRET", "OPENEDX_DEFAULT_MODE", "SENDGRID_API_KEY",
      "SENDGRID_API_URL", "MAIL_FROM", "CONFIRM_PAYMENT_METHODS", "NOTIFY_EMAILS", "LANGUAGE",
      "PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT", "WEBHOOK_URL", "RECONCILE_LOOKBACK",
      "WEBHOOK_REACTIVATE", "UNENROLL_ON",
    ])
    error_message = "sweep: wrong variables"
  }
  assert {
    condition = toset([for e in google_cloud_run_v2_service.service["console"].template[0].containers[0].env : e.name]) == toset([
      "FUNCTION_TARGET", "GOOGLE_CLOUD_PROJECT", "FIRESTORE_DATABASE", "JOBS_TOPIC", "WC_URL", "LOG_LEVEL",
      "LANGUAGE",
    ])
    error_message = "console: wrong variables"
  }

  # ... its secrets from Secret Manager, and its account may read exactly those.
  assert {
    condition = alltrue([
      for svc, want in {
        webhook = ["WC_WEBHOOK_SECRET"]
        confirm = ["CONFIRM_SIGNING_KEY"]
        enroll  = ["WC_CONSUMER_KEY", "WC_CONSUMER_SECRET", "OPENEDX_CLIENT_ID", "OPENEDX_CLIENT_SECRET", "SENDGRID_API_KEY", "CONFIRM_SIGNING_KEY"]
        sweep   = ["WC_CONSUMER_KEY", "WC_CONSUMER_SECRET", "SENDGRID_API_KEY"]
        console = []
      } :
      toset([for e in google_cloud_run_v2_service.service[svc].template[0].containers[0].env : e.name if length(e.value_source) > 0]) == toset(want)
      && toset([for k, g in google_secret_manager_secret_iam_member.service_secret : split("/", k)[1] if startswith(k, "${svc}/")]) == toset(want)
    ])
    error_message = "a service reads, or may read, other secrets than its function's"
  }
  assert {
    condition     = alltrue([for g in google_secret_manager_secret_iam_member.service_secret : g.role == "roles/secretmanager.secretAccessor"])
    error_message = "secret grants must be secretAccessor"
  }

  assert {
    condition = alltrue([
      for svc, fn in { webhook = "Webhook", enroll = "Enroll", confirm = "Confirm", sweep = "Sweep", console = "Console" } :
      [for e in google_cloud_run_v2_service.service[svc].template[0].containers[0].env : e.value if e.name == "FUNCTION_TARGET"] == [fn]
    ])
    error_message = "each service must serve its own function"
  }

  # The private functions check their caller's token for their own URL.
  assert {
    condition = {
      for e in google_cloud_run_v2_service.service["enroll"].template[0].containers[0].env : e.name => e.value
      if startswith(e.name, "PUSH_")
      } == {
      PUSH_AUDIENCE        = "https://enroll-123456789012.us-central1.run.app"
      PUSH_SERVICE_ACCOUNT = "wc-openedx-push-invoker@wc-openedx-test.iam.gserviceaccount.com"
    }
    error_message = "enroll must check the push account's token for its own URL"
  }
  assert {
    condition = {
      for e in google_cloud_run_v2_service.service["sweep"].template[0].containers[0].env : e.name => e.value
      if startswith(e.name, "PUSH_")
      } == {
      PUSH_AUDIENCE        = "https://sweep-123456789012.us-central1.run.app"
      PUSH_SERVICE_ACCOUNT = "wc-openedx-scheduler@wc-openedx-test.iam.gserviceaccount.com"
    }
    error_message = "sweep must check the scheduler's token for its own URL"
  }

  # Invokers: the public services anyone, the private ones their caller only, the console
  # the operators only.
  assert {
    condition = {
      for k, m in google_cloud_run_v2_service_iam_member.service_invoker : k => "${m.name} ${m.member}" if m.role == "roles/run.invoker"
      } == {
      "webhook/allUsers"              = "webhook allUsers"
      "confirm/allUsers"              = "confirm allUsers"
      "enroll/push"                   = "enroll serviceAccount:wc-openedx-push-invoker@wc-openedx-test.iam.gserviceaccount.com"
      "sweep/scheduler"               = "sweep serviceAccount:wc-openedx-scheduler@wc-openedx-test.iam.gserviceaccount.com"
      "console/user:ana@example.com"  = "console user:ana@example.com"
      "console/group:ops@example.com" = "console group:ops@example.com"
    }
    error_message = "wrong invokers"
  }
  assert {
    condition     = length(google_cloud_run_v2_service_iam_member.service_invoker) == 6
    error_message = "one invoker grant per caller"
  }
  assert {
    condition = alltrue([
      for m in google_cloud_run_v2_service_iam_member.service_invoker :
      !contains(["allUsers", "allAuthenticatedUsers"], m.member) if m.name == "console"
    ])
    error_message = "the console must not be public"
  }
  assert {
    condition     = output.console_proxy_command == "gcloud run services proxy console --region=us-central1 --project=wc-openedx-test"
    error_message = "console_proxy_command"
  }

  # The build account deploys each service, and holds no Cloud Run role on the project.
  assert {
    condition = {
      for k, m in google_cloud_run_v2_service_iam_member.build_deploy : k => "${m.name} ${m.role}"
      } == {
      webhook = "webhook roles/run.developer"
      enroll  = "enroll roles/run.developer"
      confirm = "confirm roles/run.developer"
      sweep   = "sweep roles/run.developer"
      console = "console roles/run.developer"
    }
    error_message = "the build account must be run.developer on each service"
  }
  assert {
    condition = alltrue([
      for role in concat(
        [for m in google_project_iam_member.service_datastore : m.role],
        [google_project_iam_member.build_log_writer.role],
      ) : !startswith(role, "roles/run.")
    ])
    error_message = "no Cloud Run role on the whole project"
  }

  assert {
    condition     = time_sleep.iam_propagation.create_duration == "60s"
    error_message = "IAM grants get a minute to propagate"
  }
  assert {
    condition     = output.webhook_url == "https://webhook-123456789012.us-central1.run.app"
    error_message = "webhook_url is the deterministic Cloud Run URL"
  }

  # Alerts: one email channel per operator address, four policies notifying all of them.
  assert {
    condition = {
      for k, c in google_monitoring_notification_channel.email : k => "${c.type} ${c.labels.email_address}"
      } == {
      "ops@example.com" = "email ops@example.com"
      "ana@example.com" = "email ana@example.com"
    }
    error_message = "one email channel per alert_emails address"
  }
  assert {
    condition = alltrue([
      for p in [
        google_monitoring_alert_policy.dead_letters,
        google_monitoring_alert_policy.sweep_stalled,
        google_monitoring_alert_policy.webhook_errors,
        google_monitoring_alert_policy.enroll_failures,
      ] : toset(p.notification_channels) == toset(["projects/wc-openedx-test/notificationChannels/1001", "projects/wc-openedx-test/notificationChannels/1002"])
      && length(p.conditions) == 1 && p.documentation[0].mime_type == "text/markdown"
    ])
    error_message = "every alert notifies every operator channel and says what to do"
  }
  assert {
    condition     = google_monitoring_alert_policy.dead_letters.conditions[0].condition_threshold[0].filter == "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"enrollment-jobs-dead-letter\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
    error_message = "dead letters: messages in the operators' dead-letter subscription"
  }
  assert {
    condition = (google_monitoring_alert_policy.sweep_stalled.conditions[0].condition_absent[0].filter == "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"sweep\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"2xx\""
    && google_monitoring_alert_policy.sweep_stalled.conditions[0].condition_absent[0].duration == "900s")
    error_message = "sweep: no 2xx answer for 15 minutes"
  }
  assert {
    condition     = google_monitoring_alert_policy.webhook_errors.conditions[0].condition_threshold[0].filter == "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"webhook\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code = monitoring.regex.full_match(\"5[0-9][0-9]|401\")"
    error_message = "webhook: 5xx and 401 answers"
  }
  assert {
    condition = (google_logging_metric.enroll_failures.filter == "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"enroll\" AND severity>=ERROR AND (jsonPayload.message=\"job failed permanently\" OR jsonPayload.message=\"job failed, will be retried\")"
      && google_monitoring_alert_policy.enroll_failures.conditions[0].condition_threshold[0].filter == "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/wc-openedx/enroll_job_failures\""
    && google_monitoring_alert_policy.enroll_failures.conditions[0].condition_threshold[0].threshold_value == 10)
    error_message = "enroll: the worker's job failures, more than 10 an hour"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.webhook_errors.documentation[0].content, "**What to do**")
    error_message = "alert documentation in English by default"
  }
}

# The alerts' documentation follows LANGUAGE.
run "alerts_in_spanish" {
  command = plan
  variables { language = "es" }
  assert {
    condition = alltrue([
      for p in [
        google_monitoring_alert_policy.dead_letters,
        google_monitoring_alert_policy.sweep_stalled,
        google_monitoring_alert_policy.webhook_errors,
        google_monitoring_alert_policy.enroll_failures,
      ] : strcontains(p.documentation[0].content, "**Qué hacer**")
    ])
    error_message = "alert documentation in Spanish"
  }
}

# The console's operators are people: a member that is not user: or group: is refused.
run "console_operators_refuse_public" {
  command = plan
  variables { console_operators = ["allUsers"] }
  expect_failures = [var.console_operators]
}

# The region validation accepts every Cloud Run region, including the newer names ...
run "region_europe_west10" {
  command = plan
  variables { region = "europe-west10" }
  assert {
    condition     = google_cloud_run_v2_service.service["enroll"].location == "europe-west10"
    error_message = "services run in the chosen region"
  }
}

run "region_me_central2" {
  command = plan
  variables { region = "me-central2" }
  assert {
    condition     = output.confirm_url == "https://confirm-123456789012.me-central2.run.app"
    error_message = "URLs follow the region"
  }
}

run "region_northamerica_south1" {
  command = plan
  variables { region = "northamerica-south1" }
  assert {
    condition     = google_cloud_scheduler_job.sweep.region == "northamerica-south1"
    error_message = "the scheduler runs in the chosen region"
  }
}

# ... and refuses what is not one.
run "region_zone_refused" {
  command = plan
  variables { region = "us-central1-a" }
  expect_failures = [var.region]
}
