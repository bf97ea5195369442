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
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

var (
	// Never set by the deployment: Cloud Run sets PORT and K_SERVICE itself; the emulators
	// are for local runs and tests.
	neverSet = []string{"PORT", "K_SERVICE", "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST"}
	// Set per service, not from local.service_env.
	perService = []string{"FUNCTION_TARGET", "PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT"}
	// The private services and the one account that may call each (SPEC §2.6); the others
	// are public.
	privateCaller = map[string]string{
		"enroll": "push_invoker",
		"sweep":  "scheduler",
	}
	publicServices = []string{"webhook", "confirm"}
	// The services only the operators named in var.console_operators may call.
	operatorServices = []string{"console"}
	// The services that had a file each (run_*.tf) before local.services.
	perServiceFiles = []string{"webhook", "enroll", "confirm", "sweep"}
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

// wantEnv is what a function's service must set: the variables internal/config tags with
// the function, except the ones Cloud Run or local runs set.
func wantEnv(fn string) map[string]config.Variable {
	out := map[string]config.Variable{}
	for _, v := range config.Variables() {
		if slices.Contains(v.Functions, fn) && !slices.Contains(neverSet, v.Name) {
			out[v.Name] = v
		}
	}
	return out
}

func TestServicesAreTheFunctions(t *testing.T) {
	m := loadModule(t)
	inst := m.instances(t, "google_cloud_run_v2_service", "service")
	if missing, extra := sameSet(sortedKeys(inst), sortedKeys(serviceFns)); len(missing)+len(extra) > 0 {
		t.Errorf("Cloud Run services: missing %v, unexpected %v", missing, extra)
	}
	var targets []string
	for svc := range inst {
		targets = append(targets, ctyString(m.serviceEnv(t, svc)["FUNCTION_TARGET"].value))
	}
	if missing, extra := sameSet(targets, config.Functions); len(missing)+len(extra) > 0 {
		t.Errorf("FUNCTION_TARGETs of the services: missing %v (a function of internal/config without a service), unknown %v", missing, extra)
	}
	if n := len(m.resources["google_cloud_run_v2_service"]); n != 1 {
		t.Errorf("%d google_cloud_run_v2_service resources, want 1 for_each over local.services", n)
	}
	for typ, name := range map[string]string{
		"google_service_account":                 "service",
		"google_project_iam_member":              "service_datastore",
		"google_pubsub_topic_iam_member":         "service_publisher",
		"google_cloud_run_v2_service":            "service",
		"google_cloud_run_v2_service_iam_member": "build_deploy",
		"google_service_account_iam_member":      "build_acts_as",
	} {
		if got := m.text(attr(m.resource(t, typ, name), "for_each")); got != "local.services" {
			t.Errorf("%s.%s: for_each = %s, want local.services (one instance per function)", typ, name, got)
		}
	}
}

// TestEachServiceHasExactlyItsFunctionsVariables: every service's environment is exactly the
// variables internal/config reads for its function (SPEC §2.6), secrets from Secret Manager.
func TestEachServiceHasExactlyItsFunctionsVariables(t *testing.T) {
	m := loadModule(t)
	for svc, fn := range serviceFns {
		t.Run(svc, func(t *testing.T) {
			env := m.serviceEnv(t, svc)
			want := wantEnv(fn)
			if missing, extra := sameSet(sortedKeys(env), sortedKeys(want)); len(missing)+len(extra) > 0 {
				t.Errorf("service %s: variables its function reads but not set %v; set but not read by %s %v", svc, missing, fn, extra)
			}
			for name, e := range env {
				v, ok := want[name]
				if !ok {
					continue
				}
				switch {
				case v.Secret && e.secret == "":
					t.Errorf("%s is a secret but service %s sets it as a plain value (%s)", name, svc, e.where)
				case !v.Secret && e.secret != "":
					t.Errorf("%s is not a secret but service %s reads it from Secret Manager", name, svc)
				case v.Secret:
					if want := "google_secret_manager_secret.config[" + name + "].secret_id"; e.secret != want {
						t.Errorf("secret %s of %s refers to %s, want %s", name, svc, e.secret, want)
					}
					if e.version != "latest" {
						t.Errorf("secret %s of %s: version %q, want latest", name, svc, e.version)
					}
				case !e.value.IsKnown() || e.value.IsNull() || !e.value.Type().Equals(cty.String):
					t.Errorf("%s of %s is not a string value (%s)", name, svc, e.where)
				}
			}
			if got := ctyString(env["FUNCTION_TARGET"].value); got != fn {
				t.Errorf("FUNCTION_TARGET of %s = %q, want %q", svc, got, fn)
			}
		})
	}
}

// TestPublicFunctionsHoldNoCredentials is SPEC §2.6 in the words of issue 12: the webhook
// holds the webhook secret and nothing of the REST keys, the LMS or SendGrid; the confirm page
// holds the signing key and nothing of the shop, the LMS or SendGrid.
func TestPublicFunctionsHoldNoCredentials(t *testing.T) {
	m := loadModule(t)
	for svc, want := range map[string][]string{
		"webhook": {"WC_WEBHOOK_SECRET"},
		"confirm": {"CONFIRM_SIGNING_KEY"},
	} {
		var secrets []string
		for name, e := range m.serviceEnv(t, svc) {
			if e.secret != "" {
				secrets = append(secrets, name)
			}
		}
		if missing, extra := sameSet(secrets, want); len(missing)+len(extra) > 0 {
			t.Errorf("service %s reads secrets %v, want exactly %v", svc, secrets, want)
		}
	}
	for name := range m.serviceEnv(t, "confirm") {
		if strings.HasPrefix(name, "WC_CONSUMER") || name == "WC_WEBHOOK_SECRET" || strings.HasPrefix(name, "OPENEDX_") || strings.HasPrefix(name, "SENDGRID_") {
			t.Errorf("confirm holds %s: it needs nothing of the shop's keys, the LMS or SendGrid", name)
		}
	}
	for name := range m.serviceEnv(t, "webhook") {
		if strings.HasPrefix(name, "WC_CONSUMER") || strings.HasPrefix(name, "OPENEDX_CLIENT") || strings.HasPrefix(name, "SENDGRID_") {
			t.Errorf("webhook holds %s: it needs no REST keys, LMS or SendGrid credentials", name)
		}
	}
}

// TestPlainValues: the values every service gets come from the right place.
func TestPlainValues(t *testing.T) {
	m := loadModule(t)
	entries := mustEntries(t, m, m.local(t, "service_env"))
	for k, want := range map[string]string{
		"GOOGLE_CLOUD_PROJECT": "var.project_id",
		"FIRESTORE_DATABASE":   "google_firestore_database.main.name",
		"JOBS_TOPIC":           "google_pubsub_topic.jobs.name",
		"CONFIRM_URL":          "local.run_url.confirm",
		"WEBHOOK_URL":          "local.run_url.webhook",
		"ENROLL_MAX_ATTEMPTS":  "tostring(var.max_delivery_attempts)",
	} {
		if e, ok := entries[k]; !ok || m.text(e) != want {
			t.Errorf("local.service_env %s = %s, want %s", k, m.text(e), want)
		}
	}
	// Every name a service lists has a value, and the catalog holds no more than the
	// plain variables the services read.
	plain := map[string]bool{}
	for _, v := range config.Variables() {
		if !v.Secret && !slices.Contains(neverSet, v.Name) && !slices.Contains(perService, v.Name) {
			plain[v.Name] = true
		}
	}
	if missing, extra := sameSet(sortedKeys(entries), sortedKeys(plain)); len(missing)+len(extra) > 0 {
		t.Errorf("local.service_env: plain variables without a value %v, names the service does not read %v", missing, extra)
	}
}

func TestPrivateServicesCheckTheirCaller(t *testing.T) {
	m := loadModule(t)
	runURL := m.mustEval(t, m.local(t, "run_url"), nil)
	for svc, caller := range privateCaller {
		env := m.serviceEnv(t, svc)
		if got, want := ctyString(env["PUSH_AUDIENCE"].value), ctyString(runURL.GetAttr(svc)); got != want || want == "" {
			t.Errorf("PUSH_AUDIENCE of %s = %q, want its own URL %q", svc, got, want)
		}
		if got, want := ctyString(env["PUSH_SERVICE_ACCOUNT"].value), "google_service_account."+caller+".email"; got != want {
			t.Errorf("PUSH_SERVICE_ACCOUNT of %s = %q, want %q", svc, got, want)
		}
	}
	if got := m.text(m.local(t, "run_url")); !strings.Contains(got, `"https://${s}-${data.google_project.this.number}.${var.region}.run.app"`) ||
		!strings.Contains(got, "keys(local.services)") {
		t.Errorf("local.run_url must build Cloud Run's deterministic URLs https://SERVICE-PROJECT_NUMBER.REGION.run.app for every service of local.services; got %s", got)
	}
	if got := len(runURL.Type().AttributeTypes()); got != len(serviceFns) {
		t.Errorf("local.run_url has %d URLs, want one per service", got)
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
	runtime := func(fn string) []string {
		grants := []string{"project roles/datastore.user", "topic:jobs roles/pubsub.publisher"}
		for name, v := range wantEnv(fn) {
			if v.Secret {
				grants = append(grants, "secret:"+name+" roles/secretmanager.secretAccessor")
			}
		}
		return grants
	}
	want := map[string][]string{
		"sa:push_invoker": {"run:enroll roles/run.invoker"},
		"sa:scheduler":    {"run:sweep roles/run.invoker"},
		"sa:build": {
			"project roles/logging.logWriter",
			"repository:images roles/artifactregistry.writer",
			"bucket:build_source roles/storage.objectViewer",
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
	for svc, fn := range serviceFns {
		want["sa:"+svc] = runtime(fn)
		want["sa:build"] = append(want["sa:build"],
			"run:"+svc+" roles/run.developer",
			"account:"+svc+" roles/iam.serviceAccountUser")
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
		for key := range m.instances(t, "google_service_account", n) {
			p := "sa:" + n
			if key != "" {
				p = "sa:" + key
			}
			if _, ok := want[p]; !ok {
				t.Errorf("service account %s is not in the role table", p)
			}
		}
	}
}

// TestBuildDeploysOnlyTheServices: the build account may deploy the module's services and
// nothing else; nobody holds a Cloud Run role on the whole project.
func TestBuildDeploysOnlyTheServices(t *testing.T) {
	m := loadModule(t)
	var deploys []string
	for _, b := range m.bindings(t) {
		if b.target == "project" && (strings.HasPrefix(b.role, "roles/run.") || b.role == "roles/editor" || b.role == "roles/owner") {
			t.Errorf("%s grants %s %s on the whole project: grant it on each service", b.where, b.principal, b.role)
		}
		if b.principal == "sa:build" && strings.HasPrefix(b.role, "roles/run.") {
			if b.role != "roles/run.developer" {
				t.Errorf("%s: the build account holds %s; it needs roles/run.developer only", b.where, b.role)
			}
			deploys = append(deploys, strings.TrimPrefix(b.target, "run:"))
		}
	}
	if missing, extra := sameSet(deploys, sortedKeys(serviceFns)); len(missing)+len(extra) > 0 {
		t.Errorf("the build account may deploy %v; missing %v, must not %v", deploys, missing, extra)
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
	svcBlock := m.resource(t, "google_cloud_run_v2_service", "service")
	instances := m.instances(t, "google_cloud_run_v2_service", "service")
	for svc := range serviceFns {
		var reads []string
		for k, e := range m.serviceEnv(t, svc) {
			if e.secret != "" {
				reads = append(reads, k)
			}
		}
		if missing, extra := sameSet(granted["sa:"+svc], reads); len(missing)+len(extra) > 0 {
			t.Errorf("service %s reads secrets it may not access %v, may access secrets it does not read %v", svc, missing, extra)
		}
		sa := ctyString(m.mustEval(t, attr(block(t, svcBlock, "template"), "service_account"), instances[svc]))
		if want := "google_service_account.service[" + svc + "].email"; sa != want {
			t.Errorf("service %s runs as %s, want its own account %s", svc, sa, want)
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
	for svc, caller := range privateCaller {
		if got := invokers[svc]; !slices.Equal(got, []string{"sa:" + caller}) {
			t.Errorf("private service %s: invokers %v, want exactly its caller sa:%s", svc, got, caller)
		}
	}
	for _, svc := range publicServices {
		if got := invokers[svc]; !slices.Equal(got, []string{"allUsers"}) {
			t.Errorf("public service %s: invokers %v, want allUsers (it authenticates requests itself)", svc, got)
		}
	}
	// With no operators named, nobody may call the console.
	for _, svc := range operatorServices {
		if got := invokers[svc]; len(got) > 0 {
			t.Errorf("operators' service %s: invokers %v with console_operators empty, want none", svc, got)
		}
	}
	for svc := range serviceFns {
		if _, ok := privateCaller[svc]; !ok && !slices.Contains(publicServices, svc) && !slices.Contains(operatorServices, svc) {
			t.Errorf("service %s is neither public, private nor the operators' in these tests: decide who may invoke it", svc)
		}
	}
}

// TestConsoleIsForTheOperatorsOnly is issue 14 point 2: the console is a private service
// (no allUsers, no allAuthenticatedUsers), the operators named in console_operators and
// nobody else may invoke it, its account reads no secret, and the README's proxy command
// is an output.
func TestConsoleIsForTheOperatorsOnly(t *testing.T) {
	operators := []string{"user:ana@example.com", "group:ops@example.com"}
	vals := make([]cty.Value, len(operators))
	for i, o := range operators {
		vals[i] = cty.StringVal(o)
	}
	m := loadModuleWith(t, map[string]cty.Value{"console_operators": cty.ListVal(vals)})

	var console []string
	for _, b := range m.bindings(t) {
		if b.target == "run:console" && b.role == "roles/run.invoker" {
			console = append(console, b.principal)
		}
		if b.role == "roles/run.invoker" && slices.Contains(operators, b.principal) && b.target != "run:console" {
			t.Errorf("%s: operator %s may invoke %s; operators get the console only", b.where, b.principal, b.target)
		}
		if b.target == "run:console" && (b.principal == "allUsers" || b.principal == "allAuthenticatedUsers") {
			t.Errorf("%s: %s may reach the console; it must be private", b.where, b.principal)
		}
	}
	if missing, extra := sameSet(console, operators); len(missing)+len(extra) > 0 {
		t.Errorf("console invokers %v: operators without access %v, others with access %v", console, missing, extra)
	}
	// The grant is the one resource every invoker uses, keyed per operator.
	inst := m.instances(t, "google_cloud_run_v2_service_iam_member", "service_invoker")
	for _, o := range operators {
		if _, ok := inst["console/"+o]; !ok {
			t.Errorf("no google_cloud_run_v2_service_iam_member.service_invoker[%q]", "console/"+o)
		}
	}

	services := m.mustEval(t, m.local(t, "services"), nil)
	if !services.Type().HasAttribute("console") {
		t.Fatal("local.services has no console entry")
	}
	c := services.GetAttr("console")
	if c.GetAttr("public").True() {
		t.Error("local.services.console is public; it must be private")
	}
	if n := c.GetAttr("secrets").LengthInt(); n != 0 {
		t.Errorf("the console reads %d secrets; it needs none (it reads Firestore and queues jobs)", n)
	}
	for name, e := range m.serviceEnv(t, "console") {
		if e.secret != "" {
			t.Errorf("the console holds the secret %s", name)
		}
	}

	// The operators variable takes people's IAM members only.
	v := m.variables["console_operators"]
	if v == nil {
		t.Fatal("no variable console_operators")
	}
	if d, ok := literal(attr(v, "default")); !ok || d.LengthInt() != 0 {
		t.Errorf("console_operators default = %s, want [] (nobody until named)", m.text(attr(v, "default")))
	}
	valid := func(members ...string) bool {
		list := make([]cty.Value, len(members))
		for i, x := range members {
			list[i] = cty.StringVal(x)
		}
		for _, val := range blocks(v, "validation") {
			ok, diags := attr(val, "condition").Value(&hcl.EvalContext{
				Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{"console_operators": cty.ListVal(list)})},
				Functions: functions,
			})
			if diags.HasErrors() {
				t.Fatalf("console_operators validation does not evaluate: %s", diags.Error())
			}
			if !ok.True() {
				return false
			}
		}
		return true
	}
	for _, ok := range []string{"user:ana@example.com", "group:ops@example.com", "user:a.b+c@sub.example.org"} {
		if !valid(ok) {
			t.Errorf("console_operators refuses %q", ok)
		}
	}
	for _, bad := range []string{"ana@example.com", "allUsers", "allAuthenticatedUsers", "domain:example.com",
		"serviceAccount:x@p.iam.gserviceaccount.com", "user:", "user:ana", "user:ana@example.com ", "User:ana@example.com"} {
		if valid("user:ok@example.com", bad) {
			t.Errorf("console_operators accepts %q", bad)
		}
	}

	o := m.outputs["console_proxy_command"]
	if o == nil {
		t.Fatal("no output console_proxy_command")
	}
	// The service's name (TestCloudRunServices: its key, "console"), region and project.
	if got, want := ctyString(m.mustEval(t, attr(o, "value"), nil)),
		"gcloud run services proxy google_cloud_run_v2_service.service[console].name --region=us-central1 --project=var.project_id"; got != want {
		t.Errorf("console_proxy_command = %q, want %q", got, want)
	}
}

// deps lists each resource's and data source's direct dependencies ("TYPE.NAME",
// "data.TYPE.NAME"): its references, through locals, and its depends_on.
func (m *module) deps(t *testing.T) map[string][]string {
	t.Helper()
	localRefs := map[string][]string{}
	var refsOf func(trs []hcl.Traversal, seen map[string]bool) []string
	refsOf = func(trs []hcl.Traversal, seen map[string]bool) []string {
		var out []string
		for _, tr := range trs {
			name := func(i int) string {
				if len(tr) > i {
					if a, ok := tr[i].(hcl.TraverseAttr); ok {
						return a.Name
					}
				}
				return ""
			}
			switch root := tr.RootName(); {
			case root == "local":
				n := name(1)
				if seen[n] {
					continue
				}
				seen[n] = true
				if _, ok := localRefs[n]; !ok && m.locals[n] != nil {
					localRefs[n] = refsOf(m.locals[n].Expr.Variables(), seen)
				}
				out = append(out, localRefs[n]...)
			case root == "data":
				out = append(out, "data."+name(1)+"."+name(2))
			case m.resources[root] != nil:
				out = append(out, root+"."+name(1))
			}
		}
		return out
	}
	var walk func(b *hclsyntax.Body) []hcl.Traversal
	walk = func(b *hclsyntax.Body) []hcl.Traversal {
		var trs []hcl.Traversal
		for _, a := range b.Attributes {
			trs = append(trs, a.Expr.Variables()...)
		}
		for _, c := range b.Blocks {
			if c.Type != "lifecycle" {
				trs = append(trs, walk(c.Body)...)
			}
		}
		return trs
	}
	out := map[string][]string{}
	for prefix, index := range map[string]map[string]map[string]*hclsyntax.Block{"": m.resources, "data.": m.data} {
		for typ, byName := range index {
			for n, b := range byName {
				out[prefix+typ+"."+n] = refsOf(walk(b.Body), map[string]bool{})
			}
		}
	}
	return out
}

// reaches reports whether from depends on to, directly or not.
func reaches(deps map[string][]string, from, to string) bool {
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, d := range deps[cur] {
			if d == to {
				return true
			}
			if !seen[d] {
				seen[d] = true
				queue = append(queue, d)
			}
		}
	}
	return false
}

// TestFirstApplyOrder: on an empty project, every resource that needs an API waits for its
// enablement, and what a new revision or a push needs from IAM has had time to propagate.
func TestFirstApplyOrder(t *testing.T) {
	m := loadModule(t)
	deps := m.deps(t)
	const apis = "google_project_service.enabled"
	for id := range deps {
		if id == apis || strings.HasPrefix(id, "time_") {
			continue
		}
		if !reaches(deps, id, apis) {
			t.Errorf("%s does not depend on google_project_service.enabled: on a new project its API may not be enabled yet", id)
		}
	}

	sleep := m.resource(t, "time_sleep", "iam_propagation")
	if d, _ := literalString(attr(sleep, "create_duration")); d != "60s" && d != "90s" && d != "120s" {
		t.Errorf("time_sleep.iam_propagation create_duration = %q, want about a minute (60s-120s)", d)
	}
	for _, grant := range []string{
		"google_secret_manager_secret_iam_member.service_secret",       // a revision reads its secrets at start
		"google_service_account_iam_member.pubsub_agent_token_creator", // Pub/Sub mints push tokens
		"google_project_iam_member.service_datastore",
		"google_pubsub_topic_iam_member.service_publisher",
	} {
		if !slices.Contains(deps["time_sleep.iam_propagation"], grant) {
			t.Errorf("time_sleep.iam_propagation does not wait for %s", grant)
		}
	}
	for _, after := range []string{
		"google_cloud_run_v2_service.service",
		"google_pubsub_subscription.enroll_push",
		"google_pubsub_subscription.dead_letter_enroll",
	} {
		if !slices.Contains(deps[after], "time_sleep.iam_propagation") {
			t.Errorf("%s does not wait for time_sleep.iam_propagation: its first revision or push may run before IAM has propagated", after)
		}
	}
	for _, after := range []string{
		"google_pubsub_subscription.enroll_push",
		"google_pubsub_subscription.dead_letter_enroll",
		"google_cloud_scheduler_job.sweep",
	} {
		if !slices.Contains(deps[after], "google_cloud_run_v2_service_iam_member.service_invoker") {
			t.Errorf("%s does not wait for the invokers: its first call would be refused", after)
		}
	}
	if !slices.Contains(deps["google_cloudbuild_trigger.deploy"], "google_cloud_run_v2_service_iam_member.build_deploy") {
		t.Error("the build trigger must wait for the build account's deploy grants")
	}
	// The time provider is declared next to google.
	req := m.terraformBlock(t)
	found := false
	for _, b := range req.Body.Blocks {
		if b.Type == "required_providers" {
			if p := b.Body.Attributes["time"]; p != nil && strings.Contains(m.text(p.Expr), `"hashicorp/time"`) {
				found = true
			}
		}
	}
	if !found {
		t.Error(`required_providers lacks time = { source = "hashicorp/time" } (time_sleep)`)
	}
}

func TestRegionValidation(t *testing.T) {
	m := loadModule(t)
	v := m.variables["region"]
	if v == nil {
		t.Fatal("no variable region")
	}
	valid := func(region string) bool {
		for _, val := range blocks(v, "validation") {
			ok, diags := attr(val, "condition").Value(&hcl.EvalContext{
				Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{"region": cty.StringVal(region)})},
				Functions: functions,
			})
			if diags.HasErrors() {
				t.Fatalf("region validation does not evaluate: %s", diags.Error())
			}
			if !ok.True() {
				return false
			}
		}
		return true
	}
	for _, r := range []string{
		"us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west4",
		"europe-west1", "europe-west10", "europe-west12", "europe-north1", "europe-north2",
		"europe-southwest1", "europe-central2", "me-central1", "me-central2", "me-west1",
		"northamerica-northeast1", "northamerica-northeast2", "northamerica-south1",
		"southamerica-east1", "southamerica-west1", "asia-east1", "asia-northeast3",
		"asia-south2", "asia-southeast1", "asia-southeast2", "australia-southeast2",
		"africa-south1",
	} {
		if !valid(r) {
			t.Errorf("region %q is a Cloud Run region but the validation refuses it", r)
		}
	}
	for _, r := range []string{
		"", "us-central", "US-CENTRAL1", "us_central1", "uscentral1", "us-central1-a", "nam5", "eur3",
		"us", "global", "us-central1 ", "-central1", "us-central100", "us-central0",
	} {
		if valid(r) {
			t.Errorf("region %q is not a region but the validation accepts it", r)
		}
	}
}

func TestCloudRunServices(t *testing.T) {
	m := loadModule(t)
	b := m.resource(t, "google_cloud_run_v2_service", "service")
	tmpl := block(t, b, "template")
	for svc, scope := range m.instances(t, "google_cloud_run_v2_service", "service") {
		if got := ctyString(m.mustEval(t, attr(b, "name"), scope)); got != svc {
			t.Errorf("service %s is named %q; cloudbuild.yaml and local.run_url use %q", svc, got, svc)
		}
		if got := ctyString(m.mustEval(t, attr(tmpl, "timeout"), scope)); !strings.HasSuffix(got, "s") {
			t.Errorf("service %s: timeout %q, want seconds such as 60s", svc, got)
		}
	}
	if got := m.text(attr(b, "location")); got != "var.region" {
		t.Errorf("location %s, want var.region", got)
	}
	if got := m.text(attr(block(t, b, "template", "containers"), "image")); got != "var.image" {
		t.Errorf("image %s, want var.image (the placeholder; Cloud Build owns the image)", got)
	}
	ignore := attr(block(t, b, "lifecycle"), "ignore_changes")
	if ignore == nil {
		t.Fatal("no lifecycle.ignore_changes")
	}
	var ignored []string
	if tup, ok := ignore.(*hclsyntax.TupleConsExpr); ok {
		for _, e := range tup.Exprs {
			ignored = append(ignored, m.text(e))
		}
	}
	// What `gcloud run services update` changes: the image, the client fields, and the
	// revision template's labels and annotations (authoritative maps in the provider).
	for _, w := range []string{
		"template[0].containers[0].image", "template[0].labels", "template[0].annotations",
		"client", "client_version",
	} {
		if !slices.Contains(ignored, w) {
			t.Errorf("lifecycle.ignore_changes lacks %s (got %v)", w, ignored)
		}
	}
	timeout := func(svc string) string {
		return ctyString(m.mustEval(t, attr(tmpl, "timeout"), m.instances(t, "google_cloud_run_v2_service", "service")[svc]))
	}
	deadline, _ := literal(m.local(t, "enroll_timeout_seconds"))
	if got, want := timeout("enroll"), deadline.AsBigFloat().String()+"s"; got != want {
		t.Errorf("enroll timeout = %q, want the push ack deadline %q", got, want)
	}
	if got, want := timeout("sweep"), m.text(attr(m.resource(t, "google_cloud_scheduler_job", "sweep"), "attempt_deadline")); `"`+got+`"` != want {
		t.Errorf("sweep timeout = %q, want the scheduler's attempt deadline %s", got, want)
	}
}

// TestMovedFromPerServiceFiles: an existing deployment (one file per service) keeps its
// services, accounts and grants: each old address moves to its for_each instance.
func TestMovedFromPerServiceFiles(t *testing.T) {
	m := loadModule(t)
	for _, svc := range perServiceFiles {
		for from, to := range map[string]string{
			"google_service_account." + svc:                        `google_service_account.service["` + svc + `"]`,
			"google_cloud_run_v2_service." + svc:                   `google_cloud_run_v2_service.service["` + svc + `"]`,
			"google_project_iam_member." + svc + "_datastore":      `google_project_iam_member.service_datastore["` + svc + `"]`,
			"google_pubsub_topic_iam_member." + svc + "_publisher": `google_pubsub_topic_iam_member.service_publisher["` + svc + `"]`,
		} {
			if got := m.moved[from]; got != to {
				t.Errorf("moved from %s: to %q, want %s", from, got, to)
			}
		}
	}
	for from, to := range map[string]string{
		"google_cloud_run_v2_service_iam_member.webhook_public":          `google_cloud_run_v2_service_iam_member.service_invoker["webhook/allUsers"]`,
		"google_cloud_run_v2_service_iam_member.confirm_public":          `google_cloud_run_v2_service_iam_member.service_invoker["confirm/allUsers"]`,
		"google_cloud_run_v2_service_iam_member.enroll_push_invoker":     `google_cloud_run_v2_service_iam_member.service_invoker["enroll/push"]`,
		"google_cloud_run_v2_service_iam_member.sweep_scheduler_invoker": `google_cloud_run_v2_service_iam_member.service_invoker["sweep/scheduler"]`,
	} {
		if got := m.moved[from]; got != to {
			t.Errorf("moved from %s: to %q, want %s", from, got, to)
		}
	}
	// Every target is an instance the module declares, and the secret grants a function
	// keeps are moved, not destroyed and recreated.
	for from, to := range m.moved {
		typ, rest, _ := strings.Cut(to, ".")
		name, key, keyed := strings.Cut(strings.TrimSuffix(rest, `"]`), `["`)
		inst := m.instances(t, typ, name)
		if _, ok := inst[key]; !ok || !keyed {
			t.Errorf("moved from %s to %s: no such instance", from, to)
		}
	}
	for _, svc := range perServiceFiles {
		for name, v := range wantEnv(serviceFns[svc]) {
			if !v.Secret {
				continue
			}
			from := `google_secret_manager_secret_iam_member.` + svc + `["` + name + `"]`
			if want := `google_secret_manager_secret_iam_member.service_secret["` + svc + "/" + name + `"]`; m.moved[from] != want {
				t.Errorf("moved from %s: to %q, want %s", from, m.moved[from], want)
			}
		}
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
		"support_contact",
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
		"build_service_account":    "google_service_account.build.id",
		"build_source_bucket":      "google_storage_bucket.build_source.name",
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
		"artifactregistry.googleapis.com", "iam.googleapis.com", "cloudresourcemanager.googleapis.com",
		"storage.googleapis.com"} {
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

// TestReferencesResolve: every var., local., data. and resource reference names something
// declared in the module (terraform validate does this and more where a provider is at hand).
func TestReferencesResolve(t *testing.T) {
	m := loadModule(t)
	skip := map[string]bool{"each": true, "count": true, "self": true, "path": true, "terraform": true}
	check := func(where string, tr hcl.Traversal, iterators map[string]bool) {
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
		case skip[root] || iterators[root]:
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
		case strings.HasPrefix(root, "google_") || strings.HasPrefix(root, "time_"):
			if m.resources[root][attrAt(1)] == nil {
				t.Errorf("%s: undeclared resource %s.%s", where, root, attrAt(1))
			}
		default:
			t.Errorf("%s: unknown reference %s", where, root)
		}
	}
	isVariable := map[*hclsyntax.Body]bool{}
	var walk func(b *hclsyntax.Body, iterators map[string]bool)
	walk = func(b *hclsyntax.Body, iterators map[string]bool) {
		for name, a := range b.Attributes {
			if name == "type" && isVariable[b] {
				continue // a type constraint, not a reference
			}
			for _, tr := range a.Expr.Variables() {
				check(fmt.Sprintf("%s:%d", a.SrcRange.Filename, a.SrcRange.Start.Line), tr, iterators)
			}
		}
		for _, c := range b.Blocks {
			switch {
			case c.Type == "lifecycle":
				continue // ignore_changes names attributes, not references
			case c.Type == "dynamic":
				inner := map[string]bool{c.Labels[0]: true}
				for k := range iterators {
					inner[k] = true
				}
				walk(c.Body, inner)
			default:
				walk(c.Body, iterators)
			}
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
		walk(b.Body, nil)
	}
	for _, a := range m.locals {
		for _, tr := range a.Expr.Variables() {
			check(fmt.Sprintf("%s:%d", a.SrcRange.Filename, a.SrcRange.Start.Line), tr, nil)
		}
	}
	// And the module's locals and for_each expansions evaluate.
	for n := range m.locals {
		m.mustEval(t, m.locals[n].Expr, nil)
	}
	for typ, byName := range m.resources {
		for n := range byName {
			m.instances(t, typ, n)
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

// TestTfvarsExampleIsValid: every setting of terraform.tfvars.example is a variable of the
// module, and its validation accepts the example's value (as a plan would).
func TestTfvarsExampleIsValid(t *testing.T) {
	m := loadModule(t)
	f, diags := hclparse.NewParser().ParseHCL(readFile(t, "terraform.tfvars.example"), "terraform.tfvars.example")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	attrs := f.Body.(*hclsyntax.Body).Attributes
	for _, n := range []string{"console_operators", "alert_emails"} {
		if attrs[n] == nil {
			t.Errorf("terraform.tfvars.example does not show %s", n)
		}
	}
	for n, a := range attrs {
		v := m.variables[n]
		if v == nil {
			t.Errorf("terraform.tfvars.example sets %s, which is not a variable", n)
			continue
		}
		val, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Errorf("%s: %s", n, diags.Error())
			continue
		}
		for _, b := range blocks(v, "validation") {
			ok, diags := attr(b, "condition").Value(&hcl.EvalContext{
				Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{n: val})},
				Functions: functions,
			})
			if diags.HasErrors() || !ok.True() {
				r := a.Expr.Range()
				t.Errorf("terraform.tfvars.example: %s = %s is refused by its validation", n, f.Bytes[r.Start.Byte:r.End.Byte])
			}
		}
	}
}
