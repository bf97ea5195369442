// Package terraform_test checks the Terraform root module and cloudbuild.yaml by reading
// them: the Google provider cannot be downloaded everywhere the tests run, so instead of
// `terraform validate` the tests parse the HCL, evaluate just enough of it (literal strings,
// object keys, merge/toset of locals, references) and assert on what the deployment does.
package terraform_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// module is the parsed root module: every top-level block of every *.tf file.
type module struct {
	src       map[string][]byte // file name → contents, to quote expressions
	resources map[string]map[string]*hclsyntax.Block
	data      map[string]map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	variables map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
}

var (
	loadOnce   sync.Once
	loaded     *module
	loadErr    error
	serviceFns = map[string]string{ // Cloud Run service → FUNCTION_TARGET
		"webhook": "Webhook",
		"enroll":  "Enroll",
		"confirm": "Confirm",
		"sweep":   "Sweep",
	}
)

// loadModule parses the *.tf files of this directory once for all tests.
func loadModule(t *testing.T) *module {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = parseModule(".") })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

func parseModule(dir string) (*module, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.tf files in %s", dir)
	}
	m := &module{
		src:       map[string][]byte{},
		resources: map[string]map[string]*hclsyntax.Block{},
		data:      map[string]map[string]*hclsyntax.Block{},
		locals:    map[string]*hclsyntax.Attribute{},
		variables: map[string]*hclsyntax.Block{},
		outputs:   map[string]*hclsyntax.Block{},
	}
	p := hclparse.NewParser()
	for _, name := range files {
		f, diags := p.ParseHCLFile(name)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", name, diags.Error())
		}
		m.src[name] = f.Bytes
		body := f.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			where := fmt.Sprintf("%s:%d", name, b.DefRange().Start.Line)
			switch b.Type {
			case "resource", "data":
				if len(b.Labels) != 2 {
					return nil, fmt.Errorf("%s: %s block needs two labels", where, b.Type)
				}
				index := m.resources
				if b.Type == "data" {
					index = m.data
				}
				typ, n := b.Labels[0], b.Labels[1]
				if index[typ] == nil {
					index[typ] = map[string]*hclsyntax.Block{}
				}
				if index[typ][n] != nil {
					return nil, fmt.Errorf("%s: %s %s.%s declared twice", where, b.Type, typ, n)
				}
				index[typ][n] = b
			case "locals":
				for n, a := range b.Body.Attributes {
					if m.locals[n] != nil {
						return nil, fmt.Errorf("%s: local.%s declared twice", where, n)
					}
					m.locals[n] = a
				}
			case "variable":
				m.variables[b.Labels[0]] = b
			case "output":
				m.outputs[b.Labels[0]] = b
			case "terraform", "provider":
			default:
				return nil, fmt.Errorf("%s: unexpected top-level block %q", where, b.Type)
			}
		}
	}
	return m, nil
}

// text is the source text of an expression, e.g. "local.run_url.enroll".
func (m *module) text(e hclsyntax.Expression) string {
	r := e.Range()
	return string(m.src[r.Filename][r.Start.Byte:r.End.Byte])
}

func (m *module) resource(t *testing.T, typ, name string) *hclsyntax.Block {
	t.Helper()
	b := m.resources[typ][name]
	if b == nil {
		t.Fatalf("resource %s.%s is not declared", typ, name)
	}
	return b
}

func (m *module) local(t *testing.T, name string) hclsyntax.Expression {
	t.Helper()
	a := m.locals[name]
	if a == nil {
		t.Fatalf("local.%s is not declared", name)
	}
	return a.Expr
}

// attr returns the expression of a block's attribute, or nil.
func attr(b *hclsyntax.Block, name string) hclsyntax.Expression {
	if a := b.Body.Attributes[name]; a != nil {
		return a.Expr
	}
	return nil
}

// blocks returns the nested blocks of a type (and, for dynamic blocks, label).
func blocks(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

// block returns the only nested block of a type, failing when there is not exactly one.
func block(t *testing.T, b *hclsyntax.Block, path ...string) *hclsyntax.Block {
	t.Helper()
	cur := b
	for _, typ := range path {
		bs := blocks(cur, typ)
		if len(bs) != 1 {
			t.Fatalf("%s %v: want one %q block, found %d", b.Type, b.Labels, typ, len(bs))
		}
		cur = bs[0]
	}
	return cur
}

// literal evaluates an expression that references nothing (a literal, or a template or
// call of literals). ok is false when it references a variable, local, resource, etc.
func literal(e hclsyntax.Expression) (cty.Value, bool) {
	if e == nil || len(e.Variables()) > 0 {
		return cty.NilVal, false
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	return v, true
}

func literalString(e hclsyntax.Expression) (string, bool) {
	v, ok := literal(e)
	if !ok || v.IsNull() || !v.Type().Equals(cty.String) {
		return "", false
	}
	return v.AsString(), true
}

// objectEntries evaluates the keys of an object expression: an object literal, a local
// holding one, or merge(...) of those. Values are returned unevaluated.
func (m *module) objectEntries(e hclsyntax.Expression) (map[string]hclsyntax.Expression, error) {
	switch e := e.(type) {
	case *hclsyntax.ObjectConsExpr:
		out := map[string]hclsyntax.Expression{}
		for _, it := range e.Items {
			k, diags := it.KeyExpr.Value(nil)
			if diags.HasErrors() || !k.Type().Equals(cty.String) {
				return nil, fmt.Errorf("object key %s is not a literal", m.text(it.KeyExpr))
			}
			if _, dup := out[k.AsString()]; dup {
				return nil, fmt.Errorf("object key %s twice", k.AsString())
			}
			out[k.AsString()] = it.ValueExpr
		}
		return out, nil
	case *hclsyntax.ScopeTraversalExpr:
		if name, ok := localName(e); ok && m.locals[name] != nil {
			return m.objectEntries(m.locals[name].Expr)
		}
	case *hclsyntax.FunctionCallExpr:
		if e.Name == "merge" {
			out := map[string]hclsyntax.Expression{}
			for _, a := range e.Args {
				part, err := m.objectEntries(a)
				if err != nil {
					return nil, err
				}
				for k, v := range part {
					out[k] = v
				}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("cannot evaluate the keys of %s", m.text(e))
}

// stringList evaluates a list of literal strings: a tuple literal, a local holding one,
// or toset(...) of those.
func (m *module) stringList(e hclsyntax.Expression) ([]string, error) {
	switch e := e.(type) {
	case *hclsyntax.TupleConsExpr:
		var out []string
		for _, x := range e.Exprs {
			s, ok := literalString(x)
			if !ok {
				return nil, fmt.Errorf("list item %s is not a literal string", m.text(x))
			}
			out = append(out, s)
		}
		return out, nil
	case *hclsyntax.ScopeTraversalExpr:
		if name, ok := localName(e); ok && m.locals[name] != nil {
			return m.stringList(m.locals[name].Expr)
		}
	case *hclsyntax.FunctionCallExpr:
		if e.Name == "toset" && len(e.Args) == 1 {
			return m.stringList(e.Args[0])
		}
	}
	return nil, fmt.Errorf("cannot evaluate the list %s", m.text(e))
}

func localName(e *hclsyntax.ScopeTraversalExpr) (string, bool) {
	if len(e.Traversal) != 2 || e.Traversal.RootName() != "local" {
		return "", false
	}
	a, ok := e.Traversal[1].(hcl.TraverseAttr)
	return a.Name, ok
}

// envVar is one environment variable of a Cloud Run container, as configured.
type envVar struct {
	value  hclsyntax.Expression // plain value; nil for a secret
	secret hclsyntax.Expression // value_source.secret_key_ref.secret; nil for a plain value
	ver    hclsyntax.Expression // value_source.secret_key_ref.version
	where  string
}

// serviceEnv evaluates the env of a Cloud Run v2 service's only container: static `env`
// blocks and `dynamic "env"` blocks over an object (plain values, `value = env.value`) or a
// list of names (secrets, `value_source.secret_key_ref`).
func (m *module) serviceEnv(t *testing.T, name string) map[string]envVar {
	t.Helper()
	svc := m.resource(t, "google_cloud_run_v2_service", name)
	c := block(t, svc, "template", "containers")
	out := map[string]envVar{}
	add := func(k string, v envVar) {
		if prev, dup := out[k]; dup {
			t.Errorf("service %s: env %s set twice (%s and %s)", name, k, prev.where, v.where)
		}
		out[k] = v
	}
	for _, b := range c.Body.Blocks {
		where := fmt.Sprintf("%s:%d", b.DefRange().Filename, b.DefRange().Start.Line)
		switch {
		case b.Type == "env":
			k, ok := literalString(attr(b, "name"))
			if !ok {
				t.Fatalf("%s: env name is not a literal", where)
			}
			add(k, m.envValue(t, b, where))
		case b.Type == "dynamic" && b.Labels[0] == "env":
			content := block(t, b, "content")
			forEach := attr(b, "for_each")
			if forEach == nil {
				t.Fatalf("%s: dynamic env without for_each", where)
			}
			v := m.envValue(t, content, where)
			if v.secret != nil {
				if got := m.text(attr(content, "name")); got != "env.value" {
					t.Fatalf("%s: secret env name is %s, want env.value (for_each over names)", where, got)
				}
				names, err := m.stringList(forEach)
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				for _, k := range names {
					add(k, v)
				}
				continue
			}
			if got := m.text(attr(content, "name")); got != "env.key" {
				t.Fatalf("%s: env name is %s, want env.key (for_each over an object)", where, got)
			}
			if got := m.text(v.value); got != "env.value" {
				t.Fatalf("%s: env value is %s, want env.value", where, got)
			}
			entries, err := m.objectEntries(forEach)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			for k, e := range entries {
				add(k, envVar{value: e, where: where})
			}
		}
	}
	return out
}

func (m *module) envValue(t *testing.T, b *hclsyntax.Block, where string) envVar {
	t.Helper()
	value := attr(b, "value")
	sources := blocks(b, "value_source")
	switch {
	case value != nil && len(sources) == 0:
		return envVar{value: value, where: where}
	case value == nil && len(sources) == 1:
		ref := block(t, sources[0], "secret_key_ref")
		return envVar{secret: attr(ref, "secret"), ver: attr(ref, "version"), where: where}
	}
	t.Fatalf("%s: env needs exactly one of value and value_source", where)
	return envVar{}
}

// binding is one IAM grant found in the module.
type binding struct {
	principal string // "sa:<google_service_account name>", "allUsers", "pubsub-agent", …
	target    string // "project", "topic:jobs", "secret:WC_URL", "run:enroll", …
	role      string
	where     string
}

func (b binding) String() string { return b.target + " " + b.role }

// iamTargets maps each *_iam_member resource type to the attribute naming what it grants
// on and the prefix of that target in binding.target.
var iamTargets = map[string]struct{ attr, prefix string }{
	"google_project_iam_member":                      {"project", "project"},
	"google_pubsub_topic_iam_member":                 {"topic", "topic:"},
	"google_pubsub_subscription_iam_member":          {"subscription", "subscription:"},
	"google_secret_manager_secret_iam_member":        {"secret_id", "secret:"},
	"google_cloud_run_v2_service_iam_member":         {"name", "run:"},
	"google_service_account_iam_member":              {"service_account_id", "account:"},
	"google_artifact_registry_repository_iam_member": {"repository", "repository:"},
}

// bindings lists every IAM grant of the module, expanding for_each.
func (m *module) bindings(t *testing.T) []binding {
	t.Helper()
	var out []binding
	for typ, rs := range m.resources {
		if strings.Contains(typ, "_iam_") {
			if _, ok := iamTargets[typ]; !ok {
				for n, b := range rs {
					t.Errorf("%s.%s (%s): authoritative or unknown IAM resource type; use one of the *_iam_member types the tests understand",
						typ, n, b.DefRange())
				}
				continue
			}
		}
		spec, ok := iamTargets[typ]
		if !ok {
			continue
		}
		for n, b := range rs {
			where := fmt.Sprintf("%s.%s", typ, n)
			role, ok := literalString(attr(b, "role"))
			if !ok {
				t.Fatalf("%s: role is not a literal", where)
			}
			principal := m.principal(t, attr(b, "member"), where)
			for _, target := range m.iamTargetsOf(t, b, spec.attr, where) {
				out = append(out, binding{principal: principal, target: spec.prefix + target, role: role, where: where})
			}
		}
	}
	return out
}

// principal names the member of a grant.
func (m *module) principal(t *testing.T, e hclsyntax.Expression, where string) string {
	t.Helper()
	if e == nil {
		t.Fatalf("%s: no member", where)
	}
	if s, ok := literalString(e); ok {
		return s
	}
	txt := m.text(e)
	switch {
	case txt == `"serviceAccount:${local.pubsub_agent}"`:
		return "pubsub-agent"
	case strings.HasPrefix(txt, `"serviceAccount:${google_service_account.`) && strings.HasSuffix(txt, `.email}"`):
		return "sa:" + strings.TrimSuffix(strings.TrimPrefix(txt, `"serviceAccount:${google_service_account.`), `.email}"`)
	}
	t.Fatalf("%s: member %s is not a service account of this module, allUsers, or the Pub/Sub agent", where, txt)
	return ""
}

// iamTargetsOf names what a grant is on: "" for the project, a resource name for a
// reference such as google_pubsub_topic.jobs.name, each for_each element for
// secret_id = google_secret_manager_secret.config[each.key].id, and each for_each value
// for service_account_id = each.value over an object of google_service_account.X.name.
func (m *module) iamTargetsOf(t *testing.T, b *hclsyntax.Block, name, where string) []string {
	t.Helper()
	e := attr(b, name)
	if e == nil {
		t.Fatalf("%s: no %s", where, name)
	}
	if name == "project" {
		if got := m.text(e); got != "var.project_id" {
			t.Fatalf("%s: project is %s, want var.project_id", where, got)
		}
		return []string{""}
	}
	txt := m.text(e)
	forEach := attr(b, "for_each")
	switch {
	case forEach == nil:
		parts := strings.Split(txt, ".")
		if len(parts) != 3 || !strings.HasPrefix(parts[0], "google_") {
			t.Fatalf("%s: %s = %s, want a reference to a resource of this module", where, name, txt)
		}
		return []string{parts[1]}
	case txt == "google_secret_manager_secret.config[each.key].id":
		names, err := m.stringList(forEach)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		return names
	case txt == "each.value":
		entries, err := m.objectEntries(forEach)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		var out []string
		for _, v := range entries {
			parts := strings.Split(m.text(v), ".")
			if len(parts) != 3 || parts[0] != "google_service_account" {
				t.Fatalf("%s: for_each value %s is not a service account of this module", where, m.text(v))
			}
			out = append(out, parts[1])
		}
		return out
	}
	t.Fatalf("%s: cannot tell what %s = %s grants on", where, name, txt)
	return nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sameSet reports the differences between two string sets.
func sameSet(got, want []string) (missing, extra []string) {
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return missing, extra
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
