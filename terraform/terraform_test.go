package terraform_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aulasneo/wc-openedx/internal/config"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Every variable of config.Config is in exactly one of these classes (or is required, which
// means wired to every service). A new Config field fails TestConfigReachesEveryService
// until it is provisioned here and in Terraform.
var (
	// Optional variables the deployment sets on every service.
	wiredOptional = []string{
		"FIRESTORE_DATABASE",
		"JOBS_TOPIC",
		"WC_COMPLETE_MIXED_ORDERS",
		"OPENEDX_ENROLL_STRATEGY",
		"OPENEDX_DEFAULT_MODE",
		"SENDGRID_API_URL",
		"CONFIRM_PAYMENT_METHODS",
		"NOTIFY_EMAILS",
		"LANGUAGE",
		"CONFIRM_LINK_TTL",
		"ENROLL_MAX_ATTEMPTS",
		"WEBHOOK_URL",
		"RECONCILE_LOOKBACK",
		"WEBHOOK_REACTIVATE",
		"UNENROLL_ON",
		"LOG_LEVEL",
	}
	// The OIDC check of the private services (SPEC §2.6): set on these services only.
	privateOnly     = []string{"PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT"}
	privateServices = []string{"enroll", "sweep"}
	publicServices  = []string{"webhook", "confirm"}
	// Never set in production: Cloud Run sets PORT; the emulators are for local runs.
	neverSet = []string{"PORT", "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"}
)

func configSecrets() []string {
	var out []string
	for _, v := range config.Variables() {
		if v.Secret {
			out = append(out, v.Name)
		}
	}
	return out
}

func TestConfigVariablesClassified(t *testing.T) {
	for _, v := range config.Variables() {
		classes := 0
		for _, in := range []bool{
			v.Required,
			slices.Contains(wiredOptional, v.Name),
			slices.Contains(privateOnly, v.Name),
			slices.Contains(neverSet, v.Name),
		} {
			if in {
				classes++
			}
		}
		if classes != 1 {
			t.Errorf("config variable %s is in %d of (required, wiredOptional, privateOnly, neverSet); want exactly 1: decide how the deployment provides it", v.Name, classes)
		}
	}
}

func TestConfigReachesEveryService(t *testing.T) {
	m := loadModule(t)
	secrets := configSecrets()
	for svc, fn := range serviceFns {
		t.Run(svc, func(t *testing.T) {
			env := m.serviceEnv(t, svc)
			for _, v := range config.Variables() {
				e, set := env[v.Name]
				want := v.Required || slices.Contains(wiredOptional, v.Name) ||
					(slices.Contains(privateOnly, v.Name) && slices.Contains(privateServices, svc))
				switch {
				case want && !set:
					t.Errorf("%s is not set on service %s", v.Name, svc)
				case !want && set:
					t.Errorf("%s must not be set on service %s (%s)", v.Name, svc, e.where)
				case set && v.Secret && e.secret == nil:
					t.Errorf("%s is a secret but service %s sets it as a plain value (%s)", v.Name, svc, e.where)
				case set && !v.Secret && e.secret != nil:
					t.Errorf("%s is not a secret but service %s reads it from Secret Manager", v.Name, svc)
				}
			}
			names := map[string]bool{"FUNCTION_TARGET": true}
			for _, v := range config.Variables() {
				names[v.Name] = true
			}
			for k, e := range env {
				if !names[k] {
					t.Errorf("service %s sets %s (%s), which the service does not read", svc, k, e.where)
				}
			}

			if got, _ := literalString(env["FUNCTION_TARGET"].value); got != fn {
				t.Errorf("FUNCTION_TARGET of %s = %q, want %q", svc, got, fn)
			}

			for _, s := range secrets {
				e, ok := env[s]
				if !ok || e.secret == nil {
					continue
				}
				if got := m.text(e.secret); got != "google_secret_manager_secret.config[env.value].secret_id" {
					t.Errorf("secret %s of %s refers to %s, want the module's secret of that name", s, svc, got)
				}
				if got, _ := literalString(e.ver); got != "latest" {
					t.Errorf("secret %s of %s: version %q, want latest", s, svc, got)
				}
			}

			// The URLs every service gets come from the deterministic-URL local.
			for k, want := range map[string]string{
				"GOOGLE_CLOUD_PROJECT": "var.project_id",
				"FIRESTORE_DATABASE":   "google_firestore_database.main.name",
				"JOBS_TOPIC":           "google_pubsub_topic.jobs.name",
				"CONFIRM_URL":          "local.run_url.confirm",
				"WEBHOOK_URL":          "local.run_url.webhook",
				"ENROLL_MAX_ATTEMPTS":  "tostring(var.max_delivery_attempts)",
			} {
				if e, ok := env[k]; ok && e.value != nil && m.text(e.value) != want {
					t.Errorf("%s of %s = %s, want %s", k, svc, m.text(e.value), want)
				}
			}
		})
	}
}

func TestPrivateServicesCheckTheirCaller(t *testing.T) {
	m := loadModule(t)
	want := map[string][2]string{
		"enroll": {"local.run_url.enroll", "google_service_account.push_invoker.email"},
		"sweep":  {"local.run_url.sweep", "google_service_account.scheduler.email"},
	}
	for svc, w := range want {
		env := m.serviceEnv(t, svc)
		if got := m.text(env["PUSH_AUDIENCE"].value); got != w[0] {
			t.Errorf("PUSH_AUDIENCE of %s = %s, want its own URL %s", svc, got, w[0])
		}
		if got := m.text(env["PUSH_SERVICE_ACCOUNT"].value); got != w[1] {
			t.Errorf("PUSH_SERVICE_ACCOUNT of %s = %s, want %s", svc, got, w[1])
		}
	}
	runURL := m.text(m.local(t, "run_url"))
	if !strings.Contains(runURL, `"https://${s}-${data.google_project.this.number}.${var.region}.run.app"`) {
		t.Errorf("local.run_url must build Cloud Run's deterministic URLs https://SERVICE-PROJECT_NUMBER.REGION.run.app; got %s", runURL)
	}
	for svc := range serviceFns {
		if !strings.Contains(runURL, `"`+svc+`"`) {
			t.Errorf("local.run_url has no URL for %s", svc)
		}
	}
}

func TestSecrets(t *testing.T) {
	m := loadModule(t)
	secret := m.resource(t, "google_secret_manager_secret", "config")
	names, err := m.stringList(attr(secret, "for_each"))
	if err != nil {
		t.Fatal(err)
	}
	if missing, extra := sameSet(names, configSecrets()); len(missing)+len(extra) > 0 {
		t.Errorf("Secret Manager secrets: missing %v, not in Config %v", missing, extra)
	}
	if got := m.text(attr(secret, "secret_id")); got != "each.key" {
		t.Errorf("secret_id = %s, want each.key (the variable's name)", got)
	}
	block(t, secret, "replication", "auto")
	if len(m.resources["google_secret_manager_secret_version"]) > 0 {
		t.Error("secret values must be added out of band, not by Terraform (they would land in the state)")
	}
	for _, s := range configSecrets() {
		if v := m.variables[strings.ToLower(s)]; v != nil {
			t.Errorf("variable %q would put the secret %s in tfvars and state; it belongs in Secret Manager only", strings.ToLower(s), s)
		}
	}
	for k := range mustEntries(t, m, m.local(t, "service_env")) {
		if slices.Contains(configSecrets(), k) {
			t.Errorf("local.service_env sets the secret %s as a plain value", k)
		}
	}
}

func mustEntries(t *testing.T, m *module, e hclsyntax.Expression) map[string]hclsyntax.Expression {
	t.Helper()
	entries, err := m.objectEntries(e)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestServiceAccountRoles is the role table: each principal holds exactly these grants.
func TestServiceAccountRoles(t *testing.T) {
	m := loadModule(t)
	var secretGrants []string
	for _, s := range configSecrets() {
		secretGrants = append(secretGrants, "secret:"+s+" roles/secretmanager.secretAccessor")
	}
	// Every runtime account reads every secret: config.Load requires them all in every
	// process (see the *_secrets locals in run_*.tf). Narrow a service's list there and here.
	runtime := append([]string{
		"project roles/datastore.user",
		"topic:jobs roles/pubsub.publisher",
	}, secretGrants...)
	want := map[string][]string{
		"sa:webhook":      runtime,
		"sa:enroll":       runtime,
		"sa:confirm":      runtime,
		"sa:sweep":        runtime,
		"sa:push_invoker": {"run:enroll roles/run.invoker"},
		"sa:scheduler":    {"run:sweep roles/run.invoker"},
		"sa:build": {
			"project roles/run.developer",
			"project roles/logging.logWriter",
			"repository:images roles/artifactregistry.writer",
			"account:webhook roles/iam.serviceAccountUser",
			"account:enroll roles/iam.serviceAccountUser",
			"account:confirm roles/iam.serviceAccountUser",
			"account:sweep roles/iam.serviceAccountUser",
		},
		"pubsub-agent": {
			"topic:dead_letter roles/pubsub.publisher",
			"subscription:enroll_push roles/pubsub.subscriber",
			"account:push_invoker roles/iam.serviceAccountTokenCreator",
		},
		"allUsers": {
			"run:webhook roles/run.invoker",
			"run:confirm roles/run.invoker",
		},
	}

	got := map[string][]string{}
	for _, b := range m.bindings(t) {
		got[b.principal] = append(got[b.principal], b.String())
	}
	for _, p := range sortedKeys(got) {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected principal %s holds %v", p, got[p])
		}
	}
	for _, p := range sortedKeys(want) {
		missing, extra := sameSet(got[p], want[p])
		if len(missing) > 0 {
			t.Errorf("%s lacks %v", p, missing)
		}
		if len(extra) > 0 {
			t.Errorf("%s must not hold %v", p, extra)
		}
	}
	for n := range m.resources["google_service_account"] {
		if _, ok := want["sa:"+n]; !ok {
			t.Errorf("service account %s is not in the role table", n)
		}
	}
}

func TestSecretAccessIsPerSecretAndMatchesEnv(t *testing.T) {
	m := loadModule(t)
	granted := map[string][]string{}
	for _, b := range m.bindings(t) {
		if strings.HasPrefix(b.role, "roles/secretmanager.") && !strings.HasPrefix(b.target, "secret:") {
			t.Errorf("%s grants %s on %s: grant secret access secret by secret", b.where, b.role, b.target)
		}
		if b.role == "roles/secretmanager.secretAccessor" {
			granted[b.principal] = append(granted[b.principal], strings.TrimPrefix(b.target, "secret:"))
		}
	}
	for svc := range serviceFns {
		var reads []string
		for k, e := range m.serviceEnv(t, svc) {
			if e.secret != nil {
				reads = append(reads, k)
			}
		}
		if missing, extra := sameSet(granted["sa:"+svc], reads); len(missing)+len(extra) > 0 {
			t.Errorf("service %s reads secrets it may not access %v, may access secrets it does not read %v", svc, missing, extra)
		}
		svcBlock := m.resource(t, "google_cloud_run_v2_service", svc)
		if got := m.text(attr(block(t, svcBlock, "template"), "service_account")); got != "google_service_account."+svc+".email" {
			t.Errorf("service %s runs as %s, want its own account google_service_account.%s.email", svc, got, svc)
		}
		if deps := m.text(attr(svcBlock, "depends_on")); !strings.Contains(deps, "google_secret_manager_secret_iam_member."+svc) {
			t.Errorf("service %s must depend on its secret grants (a revision cannot start before it may read them)", svc)
		}
	}
}

func TestInvokers(t *testing.T) {
	m := loadModule(t)
	invokers := map[string][]string{}
	for _, b := range m.bindings(t) {
		if b.role == "roles/run.invoker" {
			if !strings.HasPrefix(b.target, "run:") {
				t.Errorf("%s grants run.invoker on %s: grant it per service", b.where, b.target)
			}
			invokers[strings.TrimPrefix(b.target, "run:")] = append(invokers[strings.TrimPrefix(b.target, "run:")], b.principal)
		}
	}
	for _, svc := range privateServices {
		for _, p := range invokers[svc] {
			if p == "allUsers" || p == "allAuthenticatedUsers" {
				t.Errorf("private service %s is invokable by %s", svc, p)
			}
		}
		if len(invokers[svc]) != 1 {
			t.Errorf("service %s: invokers %v, want exactly its caller's account", svc, invokers[svc])
		}
	}
	for _, svc := range publicServices {
		if !slices.Contains(invokers[svc], "allUsers") {
			t.Errorf("public service %s is not invokable by allUsers (invokers %v)", svc, invokers[svc])
		}
	}
}

func TestCloudRunServices(t *testing.T) {
	m := loadModule(t)
	if got := len(m.resources["google_cloud_run_v2_service"]); got != len(serviceFns) {
		t.Errorf("%d Cloud Run services, want %d", got, len(serviceFns))
	}
	for svc := range serviceFns {
		b := m.resource(t, "google_cloud_run_v2_service", svc)
		if got, _ := literalString(attr(b, "name")); got != svc {
			t.Errorf("service %s is named %q; cloudbuild.yaml and local.run_url use %q", svc, got, svc)
		}
		if got := m.text(attr(b, "location")); got != "var.region" {
			t.Errorf("service %s: location %s, want var.region", svc, got)
		}
		if got := m.text(attr(block(t, b, "template", "containers"), "image")); got != "var.image" {
			t.Errorf("service %s: image %s, want var.image (the placeholder; Cloud Build owns the image)", svc, got)
		}
		ignore := attr(block(t, b, "lifecycle"), "ignore_changes")
		if ignore == nil {
			t.Fatalf("service %s: no lifecycle.ignore_changes", svc)
		}
		var ignored []string
		if tup, ok := ignore.(*hclsyntax.TupleConsExpr); ok {
			for _, e := range tup.Exprs {
				ignored = append(ignored, m.text(e))
			}
		}
		for _, w := range []string{"template[0].containers[0].image", "client", "client_version"} {
			if !slices.Contains(ignored, w) {
				t.Errorf("service %s: lifecycle.ignore_changes lacks %s (got %v)", svc, w, ignored)
			}
		}
	}
	if got := m.text(attr(block(t, m.resource(t, "google_cloud_run_v2_service", "enroll"), "template"), "timeout")); got != `"${local.enroll_timeout_seconds}s"` {
		t.Errorf("enroll timeout = %s, want the push ack deadline local.enroll_timeout_seconds", got)
	}
}

func TestJobsSubscription(t *testing.T) {
	m := loadModule(t)
	var push []*hclsyntax.Block
	for _, b := range m.resources["google_pubsub_subscription"] {
		if len(blocks(b, "push_config")) > 0 {
			push = append(push, b)
		}
	}
	// jobs → enroll, and dead letters → enroll (the last run that reports the failure).
	if len(push) != 2 {
		t.Fatalf("%d push subscriptions, want 2 (jobs → enroll, dead letters → enroll)", len(push))
	}
	sub := m.resources["google_pubsub_subscription"]["enroll_push"]
	if sub == nil {
		t.Fatalf("the push subscription must be google_pubsub_subscription.enroll_push (the role table names it)")
	}
	dead := m.resources["google_pubsub_subscription"]["dead_letter_enroll"]
	if dead == nil {
		t.Fatal("no push subscription dead_letter_enroll: exhausted jobs would never be reported")
	}
	for k, c := range map[string][2]string{
		"topic":                            {m.text(attr(dead, "topic")), "google_pubsub_topic.dead_letter.id"},
		"push_config.push_endpoint":        {m.text(attr(block(t, dead, "push_config"), "push_endpoint")), "local.run_url.enroll"},
		"oidc_token.service_account_email": {m.text(attr(block(t, dead, "push_config", "oidc_token"), "service_account_email")), "google_service_account.push_invoker.email"},
		"oidc_token.audience":              {m.text(attr(block(t, dead, "push_config", "oidc_token"), "audience")), "local.run_url.enroll"},
	} {
		if c[0] != c[1] {
			t.Errorf("dead_letter_enroll %s = %s, want %s", k, c[0], c[1])
		}
	}
	checks := map[string][2]string{
		"topic":                                    {m.text(attr(sub, "topic")), "google_pubsub_topic.jobs.id"},
		"ack_deadline_seconds":                     {m.text(attr(sub, "ack_deadline_seconds")), "local.enroll_timeout_seconds"},
		"push_config.push_endpoint":                {m.text(attr(block(t, sub, "push_config"), "push_endpoint")), "local.run_url.enroll"},
		"oidc_token.service_account_email":         {m.text(attr(block(t, sub, "push_config", "oidc_token"), "service_account_email")), "google_service_account.push_invoker.email"},
		"oidc_token.audience":                      {m.text(attr(block(t, sub, "push_config", "oidc_token"), "audience")), "local.run_url.enroll"},
		"retry_policy.minimum_backoff":             {m.text(attr(block(t, sub, "retry_policy"), "minimum_backoff")), `"10s"`},
		"retry_policy.maximum_backoff":             {m.text(attr(block(t, sub, "retry_policy"), "maximum_backoff")), `"600s"`},
		"dead_letter_policy.dead_letter_topic":     {m.text(attr(block(t, sub, "dead_letter_policy"), "dead_letter_topic")), "google_pubsub_topic.dead_letter.id"},
		"dead_letter_policy.max_delivery_attempts": {m.text(attr(block(t, sub, "dead_letter_policy"), "max_delivery_attempts")), "var.max_delivery_attempts"},
		"expiration_policy.ttl":                    {m.text(attr(block(t, sub, "expiration_policy"), "ttl")), `""`},
	}
	for k, c := range checks {
		if c[0] != c[1] {
			t.Errorf("enroll_push %s = %s, want %s", k, c[0], c[1])
		}
	}
	deadline, ok := literal(m.local(t, "enroll_timeout_seconds"))
	if !ok || !deadline.Type().Equals(cty.Number) {
		t.Fatal("local.enroll_timeout_seconds must be a literal number")
	}
	if s, _ := deadline.AsBigFloat().Int64(); s < 60 || s > 600 {
		t.Errorf("ack deadline %d s: Pub/Sub allows 10-600, and a job makes several 20 s calls", s)
	}

	v := m.variables["max_delivery_attempts"]
	if v == nil {
		t.Fatal("no variable max_delivery_attempts")
	}
	if d, ok := literal(attr(v, "default")); !ok || !d.Equals(cty.NumberIntVal(5)).True() {
		t.Errorf("max_delivery_attempts default = %s, want 5", m.text(attr(v, "default")))
	}
	topic := m.variables["jobs_topic"]
	for _, cv := range config.Variables() {
		if cv.Name == "JOBS_TOPIC" {
			if got, _ := literalString(attr(topic, "default")); got != cv.Default {
				t.Errorf("jobs_topic default %q, want the service's default %q", got, cv.Default)
			}
		}
	}

	// Besides the push to enroll, the dead-letter topic has a pull subscription that keeps
	// its messages for operators.
	var dlq []*hclsyntax.Block
	for _, b := range m.resources["google_pubsub_subscription"] {
		if m.text(attr(b, "topic")) == "google_pubsub_topic.dead_letter.id" && len(blocks(b, "push_config")) == 0 {
			dlq = append(dlq, b)
		}
	}
	if len(dlq) != 1 {
		t.Fatalf("%d pull subscriptions on the dead-letter topic, want 1 (else dead letters are lost)", len(dlq))
	}
	if got := m.text(attr(dlq[0], "message_retention_duration")); got != `"604800s"` {
		t.Errorf("dead-letter retention = %s, want \"604800s\" (7 days)", got)
	}
	if got := m.text(attr(block(t, dlq[0], "expiration_policy"), "ttl")); got != `""` {
		t.Errorf("dead-letter subscription expiration ttl = %s, want \"\" (never expire while idle)", got)
	}
	if got := m.text(m.local(t, "pubsub_agent")); got != `"service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"` {
		t.Errorf("local.pubsub_agent = %s, want the Pub/Sub service agent", got)
	}
}

func TestScheduler(t *testing.T) {
	m := loadModule(t)
	if n := len(m.resources["google_cloud_scheduler_job"]); n != 1 {
		t.Fatalf("%d scheduler jobs, want 1", n)
	}
	job := m.resource(t, "google_cloud_scheduler_job", "sweep")
	target := block(t, job, "http_target")
	oidc := block(t, target, "oidc_token")
	for k, c := range map[string][2]string{
		"schedule":                         {m.text(attr(job, "schedule")), "var.sweep_schedule"},
		"http_method":                      {m.text(attr(target, "http_method")), `"POST"`},
		"uri":                              {m.text(attr(target, "uri")), "local.run_url.sweep"},
		"oidc_token.audience":              {m.text(attr(oidc, "audience")), "local.run_url.sweep"},
		"oidc_token.service_account_email": {m.text(attr(oidc, "service_account_email")), "google_service_account.scheduler.email"},
	} {
		if c[0] != c[1] {
			t.Errorf("scheduler job %s = %s, want %s", k, c[0], c[1])
		}
	}
	if attr(target, "body") != nil {
		t.Error("the sweep is called with an empty body")
	}
	if d, _ := literalString(attr(m.variables["sweep_schedule"], "default")); d != "*/5 * * * *" {
		t.Errorf("sweep_schedule default %q, want every 5 minutes", d)
	}
}

func TestVariablesDocumentedAndValidated(t *testing.T) {
	m := loadModule(t)
	for _, n := range []string{
		"project_id", "region", "image", "firestore_database", "jobs_topic", "max_delivery_attempts",
		"sweep_schedule", "github_owner", "github_repo", "github_branch",
		"wc_url", "openedx_url", "mail_from", "language", "confirm_payment_methods", "notify_emails",
		"openedx_enroll_strategy", "openedx_default_mode", "wc_complete_mixed_orders", "confirm_link_ttl",
		"reconcile_lookback", "webhook_reactivate", "unenroll_on", "log_level", "sendgrid_api_url",
	} {
		if m.variables[n] == nil {
			t.Errorf("no variable %s", n)
		}
	}
	for n, v := range m.variables {
		if d, _ := literalString(attr(v, "description")); d == "" {
			t.Errorf("variable %s has no description", n)
		}
		typ := m.text(attr(v, "type"))
		if typ != "bool" && len(blocks(v, "validation")) == 0 {
			t.Errorf("variable %s (%s) has no validation block", n, typ)
		}
	}
	// Defaults that mirror the service's own defaults must agree with them.
	for _, cv := range config.Variables() {
		v := m.variables[strings.ToLower(cv.Name)]
		if v == nil || cv.Default == "" || attr(v, "default") == nil {
			continue
		}
		d, ok := literal(attr(v, "default"))
		if !ok {
			continue
		}
		var got string
		switch {
		case d.Type().Equals(cty.String):
			got = d.AsString()
		case d.Type().Equals(cty.Bool):
			got = fmt.Sprint(d.True())
		case d.Type().IsTupleType() || d.Type().IsListType():
			var items []string
			for it := d.ElementIterator(); it.Next(); {
				_, e := it.Element()
				items = append(items, e.AsString())
			}
			got = strings.Join(items, ",")
		default:
			continue
		}
		if got != cv.Default {
			t.Errorf("variable %s defaults to %q, the service to %q", strings.ToLower(cv.Name), got, cv.Default)
		}
	}
}

func TestOutputsAndBuildTrigger(t *testing.T) {
	m := loadModule(t)
	for name, want := range map[string]string{
		"webhook_url":              "local.run_url.webhook",
		"confirm_url":              "local.run_url.confirm",
		"jobs_topic":               "google_pubsub_topic.jobs.name",
		"dead_letter_subscription": "google_pubsub_subscription.dead_letter.name",
	} {
		o := m.outputs[name]
		if o == nil {
			t.Errorf("no output %s", name)
			continue
		}
		if got := m.text(attr(o, "value")); got != want {
			t.Errorf("output %s = %s, want %s", name, got, want)
		}
	}

	trig := m.resource(t, "google_cloudbuild_trigger", "deploy")
	if got, _ := literalString(attr(trig, "filename")); got != "cloudbuild.yaml" {
		t.Errorf("trigger filename %q, want cloudbuild.yaml", got)
	}
	if got := m.text(attr(trig, "service_account")); got != "google_service_account.build.id" {
		t.Errorf("trigger runs as %s, want google_service_account.build.id", got)
	}
	gh := block(t, trig, "github")
	block(t, gh, "push")
	if m.text(attr(gh, "owner")) != "var.github_owner" || m.text(attr(gh, "name")) != "var.github_repo" {
		t.Error("trigger github owner/name must come from var.github_owner and var.github_repo")
	}
	subs := mustEntries(t, m, attr(trig, "substitutions"))
	if got := sortedKeys(subs); !slices.Equal(got, []string{"_REGION", "_REPOSITORY"}) {
		t.Errorf("trigger substitutions %v, want _REGION and _REPOSITORY", got)
	}

	apis, err := m.stringList(m.local(t, "apis"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"run.googleapis.com", "pubsub.googleapis.com", "firestore.googleapis.com",
		"secretmanager.googleapis.com", "cloudscheduler.googleapis.com", "cloudbuild.googleapis.com",
		"artifactregistry.googleapis.com", "iam.googleapis.com"} {
		if !slices.Contains(apis, a) {
			t.Errorf("API %s is not enabled in local.apis", a)
		}
	}
	if got := m.text(attr(m.resource(t, "google_project_service", "enabled"), "for_each")); got != "toset(local.apis)" {
		t.Errorf("google_project_service.enabled for_each = %s, want toset(local.apis)", got)
	}
	db := m.resource(t, "google_firestore_database", "main")
	if got, _ := literalString(attr(db, "type")); got != "FIRESTORE_NATIVE" {
		t.Errorf("Firestore database type %q, want FIRESTORE_NATIVE", got)
	}
}

// TestReferencesResolve stands in for `terraform validate`: every var., local., data. and
// resource reference names something declared in the module.
func TestReferencesResolve(t *testing.T) {
	m := loadModule(t)
	skip := map[string]bool{"each": true, "count": true, "self": true, "path": true, "terraform": true, "env": true}
	check := func(where string, tr hcl.Traversal) {
		root := tr.RootName()
		attrAt := func(i int) string {
			if len(tr) > i {
				if a, ok := tr[i].(hcl.TraverseAttr); ok {
					return a.Name
				}
			}
			return ""
		}
		switch {
		case skip[root]:
		case root == "var":
			if m.variables[attrAt(1)] == nil {
				t.Errorf("%s: undeclared var.%s", where, attrAt(1))
			}
		case root == "local":
			if m.locals[attrAt(1)] == nil {
				t.Errorf("%s: undeclared local.%s", where, attrAt(1))
			}
		case root == "data":
			if m.data[attrAt(1)][attrAt(2)] == nil {
				t.Errorf("%s: undeclared data.%s.%s", where, attrAt(1), attrAt(2))
			}
		case strings.HasPrefix(root, "google_"):
			if m.resources[root][attrAt(1)] == nil {
				t.Errorf("%s: undeclared resource %s.%s", where, root, attrAt(1))
			}
		default:
			t.Errorf("%s: unknown reference %s", where, root)
		}
	}
	isVariable := map[*hclsyntax.Body]bool{}
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for name, a := range b.Attributes {
			if name == "type" && isVariable[b] {
				continue // a type constraint, not a reference
			}
			for _, tr := range a.Expr.Variables() {
				check(fmt.Sprintf("%s:%d", a.SrcRange.Filename, a.SrcRange.Start.Line), tr)
			}
		}
		for _, c := range b.Blocks {
			if c.Type == "lifecycle" {
				continue // ignore_changes names attributes, not references
			}
			walk(c.Body)
		}
	}
	all := []*hclsyntax.Block{}
	for _, rs := range []map[string]map[string]*hclsyntax.Block{m.resources, m.data} {
		for _, byName := range rs {
			for _, b := range byName {
				all = append(all, b)
			}
		}
	}
	for _, b := range m.variables {
		isVariable[b.Body] = true
		all = append(all, b)
	}
	for _, b := range m.outputs {
		all = append(all, b)
	}
	for _, b := range all {
		walk(b.Body)
	}
	for _, a := range m.locals {
		for _, tr := range a.Expr.Variables() {
			check(fmt.Sprintf("%s:%d", a.SrcRange.Filename, a.SrcRange.Start.Line), tr)
		}
	}
}

// TestTerraformFmt runs `terraform fmt -check`. CI installs Terraform, so its absence is
// a failure, not a skip.
func TestTerraformFmt(t *testing.T) {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Fatal("terraform is not on PATH: install Terraform >= 1.5 to check formatting (terraform fmt -check -recursive)")
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "fmt", "-check", "-recursive", "-diff", ".")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("terraform fmt -check failed (%v): run `terraform fmt -recursive terraform/`\n%s", err, out.String())
	}
}
