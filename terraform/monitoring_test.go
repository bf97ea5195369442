package terraform_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The alert policies of issue 14 point 5 (monitoring.tf), by resource name.
var alertPolicies = []string{"dead_letters", "sweep_stalled", "webhook_errors", "enroll_failures"}

// alertCondition is the one condition of an alert policy, evaluated.
type alertCondition struct {
	kind   string // condition_threshold or condition_absent
	block  *hclsyntax.Block
	filter string
}

func (m *module) alertCondition(t *testing.T, policy string) alertCondition {
	t.Helper()
	p := m.resource(t, "google_monitoring_alert_policy", policy)
	conds := blocks(p, "conditions")
	if len(conds) != 1 {
		t.Fatalf("alert policy %s: %d conditions, want 1", policy, len(conds))
	}
	var found []alertCondition
	for _, kind := range []string{"condition_threshold", "condition_absent", "condition_matched_log", "condition_monitoring_query_language", "condition_prometheus_query_language"} {
		for _, b := range blocks(conds[0], kind) {
			found = append(found, alertCondition{kind: kind, block: b, filter: ctyString(m.mustEval(t, attr(b, "filter"), nil))})
		}
	}
	if len(found) != 1 {
		t.Fatalf("alert policy %s: want exactly one condition_* block, found %d", policy, len(found))
	}
	return found[0]
}

// evalText evaluates an attribute of a block with the module's values ("" when absent).
func (m *module) evalText(t *testing.T, b *hclsyntax.Block, name string) string {
	t.Helper()
	e := attr(b, name)
	if e == nil {
		return ""
	}
	v := m.mustEval(t, e, nil)
	if v.Type().Equals(cty.Number) {
		return v.AsBigFloat().Text('f', -1)
	}
	return ctyString(v)
}

// TestAlertsReachTheOperators: one email channel per address of alert_emails, and every
// alert policy notifies all of them.
func TestAlertsReachTheOperators(t *testing.T) {
	emails := []string{"ops@example.com", "ana@example.com"}
	m := loadModuleWith(t, map[string]cty.Value{"alert_emails": cty.ListVal([]cty.Value{cty.StringVal(emails[0]), cty.StringVal(emails[1])})})

	ch := m.resource(t, "google_monitoring_notification_channel", "email")
	inst := m.instances(t, "google_monitoring_notification_channel", "email")
	if missing, extra := sameSet(sortedKeys(inst), emails); len(missing)+len(extra) > 0 {
		t.Fatalf("notification channels %v, want one per alert_emails address %v", sortedKeys(inst), emails)
	}
	var ids []string
	for key, scope := range inst {
		if got := ctyString(m.mustEval(t, attr(ch, "type"), scope)); got != "email" {
			t.Errorf("channel %s: type %q, want email", key, got)
		}
		labels := m.mustEval(t, attr(ch, "labels"), scope)
		if got := ctyString(labels.GetAttr("email_address")); got != key {
			t.Errorf("channel %s: email_address %q, want %q", key, got, key)
		}
		ids = append(ids, "google_monitoring_notification_channel.email["+key+"].id")
	}

	if n := len(m.resources["google_monitoring_alert_policy"]); n != len(alertPolicies) {
		t.Errorf("%d alert policies, want %d: %v", n, len(alertPolicies), alertPolicies)
	}
	for _, name := range alertPolicies {
		p := m.resource(t, "google_monitoring_alert_policy", name)
		var got []string
		for it := m.mustEval(t, attr(p, "notification_channels"), nil).ElementIterator(); it.Next(); {
			_, v := it.Element()
			got = append(got, ctyString(v))
		}
		if missing, extra := sameSet(got, ids); len(missing)+len(extra) > 0 {
			t.Errorf("alert %s notifies %v, want every operator channel %v", name, got, ids)
		}
		if c := m.evalText(t, p, "combiner"); c != "OR" {
			t.Errorf("alert %s: combiner %q, want OR", name, c)
		}
	}

	// Without addresses there is no channel, and the policies still exist (incidents in the
	// console).
	m0 := loadModule(t)
	if n := len(m0.instances(t, "google_monitoring_notification_channel", "email")); n != 0 {
		t.Errorf("alert_emails empty: %d channels, want 0", n)
	}
	v := m0.variables["alert_emails"]
	if v == nil {
		t.Fatal("no variable alert_emails")
	}
	if len(blocks(v, "validation")) == 0 {
		t.Error("alert_emails has no validation")
	}
}

// TestAlertConditions: each alert watches what issue 14 names, on the resources of this
// module, and a deploy (a new revision, a new time series) neither fires nor hides one.
func TestAlertConditions(t *testing.T) {
	m := loadModule(t)
	service := func(svc string) string {
		return `resource.type = "cloud_run_revision" AND resource.labels.service_name = "google_cloud_run_v2_service.service[` + svc + `].name"`
	}

	// Messages in the dead-letter subscription (the operators' pull copy).
	dl := m.alertCondition(t, "dead_letters")
	if want := `resource.type = "pubsub_subscription" AND resource.labels.subscription_id = "google_pubsub_subscription.dead_letter.name" AND ` +
		`metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages"`; dl.kind != "condition_threshold" || dl.filter != want {
		t.Errorf("dead_letters: %s %q, want condition_threshold %q", dl.kind, dl.filter, want)
	}
	if got := m.evalText(t, dl.block, "comparison") + " " + m.evalText(t, dl.block, "threshold_value"); got != "COMPARISON_GT 0" {
		t.Errorf("dead_letters fires on %s, want COMPARISON_GT 0 (any message)", got)
	}

	// The sweep not having run for 15 minutes: no 2xx answer from the sweep service.
	sw := m.alertCondition(t, "sweep_stalled")
	if want := service("sweep") + ` AND metric.type = "run.googleapis.com/request_count" AND metric.labels.response_code_class = "2xx"`; sw.kind != "condition_absent" || sw.filter != want {
		t.Errorf("sweep_stalled: %s %q, want condition_absent %q", sw.kind, sw.filter, want)
	}
	if got := m.evalText(t, sw.block, "duration"); got != "900s" {
		t.Errorf("sweep_stalled absence duration %q, want 900s (15 minutes)", got)
	}
	if !strings.Contains(string(readFile(t, "../function/sweep.go")), "a.Log.InfoContext(ctx, \"sweep done\"") {
		t.Error(`function/sweep.go no longer answers 200 right after "sweep done": check that a 2xx still means the sweep ran`)
	}

	// The webhook answering 5xx or 401 more than a few times in 10 minutes.
	wh := m.alertCondition(t, "webhook_errors")
	prefix := service("webhook") + ` AND metric.type = "run.googleapis.com/request_count" AND metric.labels.response_code = monitoring.regex.full_match("`
	codes, ok := strings.CutPrefix(wh.filter, prefix)
	if !ok || wh.kind != "condition_threshold" || !strings.HasSuffix(codes, `")`) {
		t.Fatalf("webhook_errors: %s %q, want condition_threshold %s…\")", wh.kind, wh.filter, prefix)
	}
	re := regexp.MustCompile("^(?:" + strings.TrimSuffix(codes, `")`) + ")$")
	for code := 100; code < 600; code++ {
		want := code >= 500 || code == 401
		if got := re.MatchString(fmt.Sprint(code)); got != want {
			t.Errorf("webhook_errors: response code %d counted %v, want %v (5xx and 401 only)", code, got, want)
		}
	}
	if got := m.evalText(t, wh.block, "comparison") + " " + m.evalText(t, wh.block, "threshold_value"); got != "COMPARISON_GT 3" {
		t.Errorf("webhook_errors fires on %s, want COMPARISON_GT 3: before WooCommerce's 7 failures in a row disable the webhook", got)
	}
	if got := m.evalText(t, block(t, wh.block, "aggregations"), "alignment_period"); got != "600s" {
		t.Errorf("webhook_errors counts over %q, want 600s (10 minutes)", got)
	}

	// Enroll failing more than usual: the worker's job failures, counted by a log-based metric.
	ef := m.alertCondition(t, "enroll_failures")
	if want := `resource.type = "cloud_run_revision" AND metric.type = "logging.googleapis.com/user/google_logging_metric.enroll_failures.name"`; ef.kind != "condition_threshold" || ef.filter != want {
		t.Errorf("enroll_failures: %s %q, want condition_threshold %q", ef.kind, ef.filter, want)
	}
	if got := m.text(attr(ef.block, "threshold_value")); got != "var.enroll_failures_alert_threshold" {
		t.Errorf("enroll_failures threshold %s, want var.enroll_failures_alert_threshold", got)
	}
	if got := m.evalText(t, block(t, ef.block, "aggregations"), "alignment_period"); got != "3600s" {
		t.Errorf("enroll_failures counts over %q, want 3600s (the threshold is per hour)", got)
	}
	metric := m.resource(t, "google_logging_metric", "enroll_failures")
	lf := m.evalText(t, metric, "filter")
	for _, want := range []string{`resource.type="cloud_run_revision"`, `resource.labels.service_name="google_cloud_run_v2_service.service[enroll].name"`, "severity>=ERROR"} {
		if !strings.Contains(lf, want) {
			t.Errorf("enroll_failures log metric filter %q lacks %s", lf, want)
		}
	}
	// The messages it counts are the worker's ERROR lines for a failed job, word for word,
	// and not the WARNING of a job that only waits for another worker's claim.
	msgs := regexp.MustCompile(`jsonPayload\.message="([^"]+)"`).FindAllStringSubmatch(lf, -1)
	var counted []string
	for _, x := range msgs {
		counted = append(counted, x[1])
	}
	if missing, extra := sameSet(counted, []string{"job failed permanently", "job failed, will be retried"}); len(missing)+len(extra) > 0 {
		t.Errorf("enroll_failures counts %v: missing %v, unexpected %v", counted, missing, extra)
	}
	enroll := string(readFile(t, "../function/enroll.go"))
	for _, msg := range counted {
		if !strings.Contains(enroll, `log.ErrorContext(ctx, "`+msg+`"`) {
			t.Errorf("function/enroll.go logs no ERROR %q: the enroll_failures metric would count nothing", msg)
		}
	}

	// Cloud Run metrics are one series per revision: the conditions sum across them.
	for _, name := range alertPolicies {
		c := m.alertCondition(t, name)
		aggs := blocks(c.block, "aggregations")
		if len(aggs) != 1 {
			t.Errorf("alert %s: %d aggregations, want 1", name, len(aggs))
			continue
		}
		if strings.Contains(c.filter, "cloud_run_revision") {
			if got := m.evalText(t, aggs[0], "cross_series_reducer"); got != "REDUCE_SUM" {
				t.Errorf("alert %s: cross_series_reducer %q, want REDUCE_SUM across revisions (a deploy starts new series)", name, got)
			}
			if g := attr(aggs[0], "group_by_fields"); g != nil && strings.Contains(m.text(g), "revision") {
				t.Errorf("alert %s groups by revision", name)
			}
		}
		if got := m.evalText(t, aggs[0], "per_series_aligner"); !slices.Contains([]string{"ALIGN_SUM", "ALIGN_MAX", "ALIGN_DELTA"}, got) {
			t.Errorf("alert %s: aligner %q", name, got)
		}
	}

	apis, err := m.stringList(m.local(t, "apis"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"monitoring.googleapis.com", "logging.googleapis.com"} {
		if !slices.Contains(apis, a) {
			t.Errorf("API %s is not enabled in local.apis", a)
		}
	}
}

// TestAlertsSayWhatToDo: every policy's documentation says what it means and what to do,
// in the language of LANGUAGE.
func TestAlertsSayWhatToDo(t *testing.T) {
	docs := map[string][]string{} // alert => its documentation in each language
	for lang, heading := range map[string]string{"en": "**What to do**", "es": "**Qué hacer**"} {
		m := loadModuleWith(t, map[string]cty.Value{"language": cty.StringVal(lang)})
		for _, name := range alertPolicies {
			p := m.resource(t, "google_monitoring_alert_policy", name)
			doc := block(t, p, "documentation")
			if got := m.evalText(t, doc, "mime_type"); got != "text/markdown" {
				t.Errorf("%s alert %s: mime_type %q, want text/markdown", lang, name, got)
			}
			content := m.evalText(t, doc, "content")
			docs[name] = append(docs[name], content)
			meaning, todo, ok := strings.Cut(content, heading)
			if !ok || len(strings.TrimSpace(meaning)) < 100 || len(strings.TrimSpace(todo)) < 100 {
				t.Errorf("%s alert %s: documentation must say what it means, then %s:\n%s", lang, name, heading, content)
			}
			if !strings.Contains(todo, "`gcloud ") && !strings.Contains(todo, `resource.labels.service_name="`) {
				t.Errorf("%s alert %s: what to do names no command or log query", lang, name)
			}
			if m.evalText(t, p, "display_name") == "" || m.evalText(t, doc, "subject") == "" {
				t.Errorf("%s alert %s: no display name or subject", lang, name)
			}
		}
	}
	for _, name := range alertPolicies {
		if d := docs[name]; d[0] == d[1] {
			t.Errorf("alert %s: the same documentation in en and es", name)
		}
	}
}
