// Package terraform_test checks the Terraform root module and cloudbuild.yaml by reading
// them: the Google provider cannot be downloaded or built everywhere the tests run (CI), so
// the tests parse the HCL, evaluate what Terraform would (locals, for_each expansions,
// dynamic blocks; cloud-side values as placeholders, see evaluator) and assert on what the
// deployment does. terraform/tests/plan.tftest.hcl checks the same module against the real
// provider where one can be built (see docs/proof.md).
package terraform_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// module is the parsed root module: every top-level block of every *.tf file.
type module struct {
	src       map[string][]byte // file name → contents, to quote expressions
	resources map[string]map[string]*hclsyntax.Block
	data      map[string]map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	variables map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
	moved     map[string]string // from → to, as written
	terraform *hclsyntax.Block
	vars      map[string]cty.Value // variables set by the test (loadModuleWith)

	evalMu   sync.Mutex
	evalOnce sync.Once
	ev       *evaluator
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
		"console": "Console",
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

// loadModuleWith parses the module afresh and evaluates it with these variables set, as a
// terraform.tfvars would (each value of the variable's type, e.g. cty.ListVal for a list).
func loadModuleWith(t *testing.T, vars map[string]cty.Value) *module {
	t.Helper()
	m, err := parseModule(".")
	if err != nil {
		t.Fatal(err)
	}
	for n := range vars {
		if m.variables[n] == nil {
			t.Fatalf("no variable %s", n)
		}
	}
	m.vars = vars
	return m
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
		moved:     map[string]string{},
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
			case "moved":
				from, to := attr(b, "from"), attr(b, "to")
				if from == nil || to == nil {
					return nil, fmt.Errorf("%s: moved needs from and to", where)
				}
				m.moved[string(f.Bytes[from.Range().Start.Byte:from.Range().End.Byte])] = string(f.Bytes[to.Range().Start.Byte:to.Range().End.Byte])
			case "terraform":
				// The one with required_providers (a backend.tf may add another).
				for _, c := range b.Body.Blocks {
					if c.Type == "required_providers" {
						m.terraform = b
					}
				}
			case "provider":
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

func (m *module) terraformBlock(t *testing.T) *hclsyntax.Block {
	t.Helper()
	if m.terraform == nil {
		t.Fatal("no terraform block")
	}
	return m.terraform
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

// The evaluator: enough of Terraform's expression evaluation to expand the module's for_each
// resources and dynamic blocks the way Terraform would, without a provider. Variables have
// their defaults (or what the test set); values that only exist in the cloud, and string
// variables without a default, are placeholders naming where they come from:
//
//	var.NAME                     a string variable without a default
//	TYPE.NAME.ATTR               an attribute of a resource, e.g. google_pubsub_topic.jobs.name
//	TYPE.NAME[KEY].ATTR          of one for_each instance, e.g. google_service_account.service[enroll].email
//	data.TYPE.NAME.ATTR          of a data source
//
// so "serviceAccount:${google_service_account.service[each.key].email}" evaluates, for
// each.key = "enroll", to "serviceAccount:google_service_account.service[enroll].email".

// functions are the Terraform functions the module's expressions use.
var functions = map[string]function.Function{
	"alltrue":    allTrueFunc,
	"anytrue":    anyTrueFunc,
	"can":        tryfunc.CanFunc,
	"concat":     stdlib.ConcatFunc,
	"contains":   stdlib.ContainsFunc,
	"flatten":    stdlib.FlattenFunc,
	"floor":      stdlib.FloorFunc,
	"join":       stdlib.JoinFunc,
	"keys":       stdlib.KeysFunc,
	"length":     stdlib.LengthFunc,
	"lookup":     stdlib.LookupFunc,
	"merge":      stdlib.MergeFunc,
	"regex":      stdlib.RegexFunc,
	"replace":    stdlib.ReplaceFunc,
	"sort":       stdlib.SortFunc,
	"split":      stdlib.SplitFunc,
	"startswith": startsWithFunc,
	"tolist":     stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":      stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring":   stdlib.MakeToFunc(cty.String),
	"trimspace":  stdlib.TrimSpaceFunc,
	"values":     stdlib.ValuesFunc,
}

var allTrueFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		for it := args[0].ElementIterator(); it.Next(); {
			if _, v := it.Element(); !v.True() {
				return cty.False, nil
			}
		}
		return cty.True, nil
	},
})

var anyTrueFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		for it := args[0].ElementIterator(); it.Next(); {
			if _, v := it.Element(); v.True() {
				return cty.True, nil
			}
		}
		return cty.False, nil
	},
})

var startsWithFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "prefix", Type: cty.String}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(strings.HasPrefix(args[0].AsString(), args[1].AsString())), nil
	},
})

// evaluator evaluates expressions of one module, memoizing locals and for_each expansions.
type evaluator struct {
	m         *module
	locals    map[string]cty.Value
	instances map[string]map[string]cty.Value // "TYPE.NAME" → for_each key → each.value
	busy      map[string]bool                 // cycle detection
}

func (m *module) evaluator() *evaluator {
	m.evalOnce.Do(func() {
		m.ev = &evaluator{m: m, locals: map[string]cty.Value{}, instances: map[string]map[string]cty.Value{}, busy: map[string]bool{}}
	})
	return m.ev
}

// eval evaluates e with the module's variables, locals, resources and data sources, plus
// scope (each, env, …).
func (m *module) eval(e hcl.Expression, scope map[string]cty.Value) (cty.Value, error) {
	m.evalMu.Lock()
	defer m.evalMu.Unlock()
	return m.evaluator().eval(e, scope)
}

// mustEval is eval for tests: an expression that does not evaluate fails the test.
func (m *module) mustEval(t *testing.T, e hcl.Expression, scope map[string]cty.Value) cty.Value {
	t.Helper()
	if e == nil {
		t.Fatal("evaluating a missing expression")
	}
	v, err := m.eval(e, scope)
	if err != nil {
		t.Fatalf("%s: %v", e.Range(), err)
	}
	return v
}

func (ev *evaluator) eval(e hcl.Expression, scope map[string]cty.Value) (cty.Value, error) {
	vars := map[string]cty.Value{}
	for k, v := range scope {
		vars[k] = v
	}
	locals := map[string]cty.Value{}
	data := map[string]map[string]map[string]cty.Value{}           // type → name → attr
	res := map[string]map[string]map[string]map[string]cty.Value{} // type → name → key ("" singleton) → attr
	for _, tr := range e.Variables() {
		root := tr.RootName()
		if _, ok := scope[root]; ok {
			continue
		}
		name := func(i int) string {
			if len(tr) > i {
				if a, ok := tr[i].(hcl.TraverseAttr); ok {
					return a.Name
				}
			}
			return ""
		}
		switch {
		case root == "var":
			// All variables below.
		case root == "local":
			n := name(1)
			v, err := ev.local(n)
			if err != nil {
				return cty.NilVal, err
			}
			locals[n] = v
		case root == "data":
			typ, n, attr := name(1), name(2), name(3)
			if ev.m.data[typ][n] == nil {
				return cty.NilVal, fmt.Errorf("undeclared data.%s.%s", typ, n)
			}
			if data[typ] == nil {
				data[typ] = map[string]map[string]cty.Value{}
			}
			if data[typ][n] == nil {
				data[typ][n] = map[string]cty.Value{}
			}
			data[typ][n][attr] = cty.StringVal(fmt.Sprintf("data.%s.%s.%s", typ, n, attr))
		case ev.m.resources[root] != nil:
			n := name(1)
			if ev.m.resources[root][n] == nil {
				return cty.NilVal, fmt.Errorf("undeclared resource %s.%s", root, n)
			}
			if res[root] == nil {
				res[root] = map[string]map[string]map[string]cty.Value{}
			}
			keys := []string{""}
			attrAt := 2
			if ev.m.resources[root][n].Body.Attributes["for_each"] != nil {
				inst, err := ev.instancesOf(root, n)
				if err != nil {
					return cty.NilVal, err
				}
				keys = sortedKeys(inst)
				attrAt = 3
			}
			// A reference with a computed index (service[each.key].email) names no
			// attribute statically: every instance gets the attributes the module reads.
			attrs := []string{"id", "name", "email", "location", "secret_id", "repository_id", "uri"}
			if a := name(attrAt); a != "" {
				attrs = append(attrs, a)
			}
			if res[root][n] == nil {
				res[root][n] = map[string]map[string]cty.Value{}
			}
			for _, k := range keys {
				if res[root][n][k] == nil {
					res[root][n][k] = map[string]cty.Value{}
				}
				where := root + "." + n
				if k != "" {
					where += "[" + k + "]"
				}
				for _, a := range attrs {
					res[root][n][k][a] = cty.StringVal(where + "." + a)
				}
			}
		default:
			return cty.NilVal, fmt.Errorf("unknown reference %s", root)
		}
	}
	vars["var"] = ev.variables()
	vars["local"] = cty.ObjectVal(locals)
	dataTypes := map[string]cty.Value{}
	for typ, byName := range data {
		names := map[string]cty.Value{}
		for n, attrs := range byName {
			names[n] = cty.ObjectVal(attrs)
		}
		dataTypes[typ] = cty.ObjectVal(names)
	}
	vars["data"] = cty.ObjectVal(dataTypes)
	for typ, byName := range res {
		names := map[string]cty.Value{}
		for n, byKey := range byName {
			if _, single := byKey[""]; single {
				names[n] = cty.ObjectVal(byKey[""])
				continue
			}
			inst := map[string]cty.Value{}
			for k, attrs := range byKey {
				inst[k] = cty.ObjectVal(attrs)
			}
			names[n] = cty.ObjectVal(inst)
		}
		vars[typ] = cty.ObjectVal(names)
	}
	v, diags := e.Value(&hcl.EvalContext{Variables: vars, Functions: functions})
	if diags.HasErrors() {
		return cty.NilVal, errors.New(diags.Error())
	}
	return v, nil
}

// variables are the module's input variables: the value a test set (loadModuleWith), else
// the default, else "var.NAME" for a string (unknown for other types).
func (ev *evaluator) variables() cty.Value {
	out := map[string]cty.Value{}
	for n, b := range ev.m.variables {
		if v, ok := ev.m.vars[n]; ok {
			out[n] = v
			continue
		}
		switch d, ok := literal(attr(b, "default")); {
		case ok:
			out[n] = d
		case ev.m.text(attr(b, "type")) == "string":
			out[n] = cty.StringVal("var." + n)
		default:
			out[n] = cty.DynamicVal
		}
	}
	return cty.ObjectVal(out)
}

func (ev *evaluator) local(name string) (cty.Value, error) {
	if v, ok := ev.locals[name]; ok {
		return v, nil
	}
	a := ev.m.locals[name]
	if a == nil {
		return cty.NilVal, fmt.Errorf("undeclared local.%s", name)
	}
	if ev.busy["local."+name] {
		return cty.NilVal, fmt.Errorf("local.%s refers to itself", name)
	}
	ev.busy["local."+name] = true
	defer delete(ev.busy, "local."+name)
	v, err := ev.eval(a.Expr, nil)
	if err != nil {
		return cty.NilVal, fmt.Errorf("local.%s: %w", name, err)
	}
	ev.locals[name] = v
	return v, nil
}

// instancesOf expands a for_each resource: instance key → each.value.
func (ev *evaluator) instancesOf(typ, name string) (map[string]cty.Value, error) {
	id := typ + "." + name
	if inst, ok := ev.instances[id]; ok {
		return inst, nil
	}
	if ev.busy[id] {
		return nil, fmt.Errorf("%s: for_each refers to itself", id)
	}
	ev.busy[id] = true
	defer delete(ev.busy, id)
	fe, err := ev.eval(ev.m.resources[typ][name].Body.Attributes["for_each"].Expr, nil)
	if err != nil {
		return nil, fmt.Errorf("%s for_each: %w", id, err)
	}
	inst, err := forEachElements(fe)
	if err != nil {
		return nil, fmt.Errorf("%s for_each: %w", id, err)
	}
	ev.instances[id] = inst
	return inst, nil
}

// forEachElements lists what a for_each iterates: key → value for a map or object, element
// → element for a set of strings.
func forEachElements(v cty.Value) (map[string]cty.Value, error) {
	if !v.IsWhollyKnown() || v.IsNull() {
		return nil, fmt.Errorf("for_each value is not known")
	}
	out := map[string]cty.Value{}
	ty := v.Type()
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = e
		}
	case (ty.IsSetType() || ty.IsListType() || ty.IsTupleType()) && v.LengthInt() == 0:
		// toset([]): no instances.
	case ty.IsSetType() && ty.ElementType().Equals(cty.String):
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out[e.AsString()] = e
		}
	default:
		return nil, fmt.Errorf("for_each over %s: want a map, an object or a set of strings", ty.FriendlyName())
	}
	return out, nil
}

// instances lists the instances of a resource: for_each key → the `each` object to evaluate
// its arguments with; a resource without for_each has one instance, key "".
func (m *module) instances(t *testing.T, typ, name string) map[string]map[string]cty.Value {
	t.Helper()
	b := m.resource(t, typ, name)
	if b.Body.Attributes["for_each"] == nil {
		return map[string]map[string]cty.Value{"": nil}
	}
	m.evalMu.Lock()
	inst, err := m.evaluator().instancesOf(typ, name)
	m.evalMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]cty.Value{}
	for k, v := range inst {
		out[k] = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k), "value": v})}
	}
	return out
}

// ctyString is a value as a Go string; "" for null or a non-string.
func ctyString(v cty.Value) string {
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(cty.String) {
		return ""
	}
	return v.AsString()
}

// envVar is one environment variable of a Cloud Run container, as configured.
type envVar struct {
	value   cty.Value // plain value; NilVal for a secret
	secret  string    // value_source.secret_key_ref.secret; "" for a plain value
	version string    // value_source.secret_key_ref.version
	where   string
}

// serviceEnv evaluates the env of the only container of one instance of
// google_cloud_run_v2_service.service: static `env` blocks and `dynamic "env"` blocks.
func (m *module) serviceEnv(t *testing.T, svc string) map[string]envVar {
	t.Helper()
	scope, ok := m.instances(t, "google_cloud_run_v2_service", "service")[svc]
	if !ok {
		t.Fatalf("google_cloud_run_v2_service.service has no instance %q", svc)
	}
	c := block(t, m.resource(t, "google_cloud_run_v2_service", "service"), "template", "containers")
	out := map[string]envVar{}
	add := func(b *hclsyntax.Block, scope map[string]cty.Value, where string) {
		k := ctyString(m.mustEval(t, attr(b, "name"), scope))
		if k == "" {
			t.Fatalf("%s: env name is not a string", where)
		}
		if prev, dup := out[k]; dup {
			t.Errorf("service %s: env %s set twice (%s and %s)", svc, k, prev.where, where)
		}
		value, sources := attr(b, "value"), blocks(b, "value_source")
		switch {
		case value != nil && len(sources) == 0:
			out[k] = envVar{value: m.mustEval(t, value, scope), where: where}
		case value == nil && len(sources) == 1:
			ref := block(t, sources[0], "secret_key_ref")
			out[k] = envVar{
				secret:  ctyString(m.mustEval(t, attr(ref, "secret"), scope)),
				version: ctyString(m.mustEval(t, attr(ref, "version"), scope)),
				where:   where,
			}
		default:
			t.Fatalf("%s: env needs exactly one of value and value_source", where)
		}
	}
	for _, b := range c.Body.Blocks {
		where := fmt.Sprintf("%s:%d", b.DefRange().Filename, b.DefRange().Start.Line)
		switch {
		case b.Type == "env":
			add(b, scope, where)
		case b.Type == "dynamic" && b.Labels[0] == "env":
			iterator := "env"
			if it := attr(b, "iterator"); it != nil {
				iterator = m.text(it)
			}
			elems, err := forEachElements(m.mustEval(t, attr(b, "for_each"), scope))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			for k, v := range elems {
				inner := map[string]cty.Value{iterator: cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k), "value": v})}
				for n, sv := range scope {
					inner[n] = sv
				}
				add(block(t, b, "content"), inner, where)
			}
		}
	}
	return out
}

// binding is one IAM grant found in the module.
type binding struct {
	principal string // "sa:<service account: name, or key of google_service_account.service>", "allUsers", "pubsub-agent", "user:…", …
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
	"google_storage_bucket_iam_member":               {"bucket", "bucket:"},
}

// placeholder matches an evaluated reference to a resource attribute: TYPE.NAME[KEY].ATTR.
var placeholder = regexp.MustCompile(`^(google_[a-z0-9_]+)\.([a-z0-9_]+)(?:\[([^\]]+)\])?\.([a-z_]+)$`)

// bindings lists every IAM grant of the module, one per for_each instance.
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
			for key, scope := range m.instances(t, typ, n) {
				where := typ + "." + n
				if key != "" {
					where += "[" + key + "]"
				}
				role := ctyString(m.mustEval(t, attr(b, "role"), scope))
				principal := m.principal(t, ctyString(m.mustEval(t, attr(b, "member"), scope)), where)
				target := ctyString(m.mustEval(t, attr(b, spec.attr), scope))
				if spec.attr == "project" {
					if target != "var.project_id" {
						t.Fatalf("%s: project is %q, want var.project_id", where, target)
					}
					out = append(out, binding{principal: principal, target: "project", role: role, where: where})
					continue
				}
				p := placeholder.FindStringSubmatch(target)
				if p == nil {
					t.Fatalf("%s: %s = %q, want an attribute of a resource of this module", where, spec.attr, target)
				}
				on := p[2]
				if p[3] != "" {
					on = p[3]
				}
				out = append(out, binding{principal: principal, target: spec.prefix + on, role: role, where: where})
			}
		}
	}
	return out
}

// principal names the member of a grant: allUsers, a service account of this module as
// "sa:NAME" (for google_service_account.service, its key), the Pub/Sub service agent, or a
// person ("user:…", "group:…") as written.
func (m *module) principal(t *testing.T, member, where string) string {
	t.Helper()
	if member == "allUsers" || member == "allAuthenticatedUsers" {
		return member
	}
	if member == "serviceAccount:service-data.google_project.this.number@gcp-sa-pubsub.iam.gserviceaccount.com" {
		return "pubsub-agent"
	}
	if sa, ok := strings.CutPrefix(member, "serviceAccount:"); ok {
		if p := placeholder.FindStringSubmatch(sa); p != nil && p[1] == "google_service_account" && p[4] == "email" {
			if p[3] != "" {
				return "sa:" + p[3]
			}
			return "sa:" + p[2]
		}
	}
	// People: the operators named in a variable, as the member is written.
	if strings.HasPrefix(member, "user:") || strings.HasPrefix(member, "group:") {
		return member
	}
	t.Fatalf("%s: member %q is not a service account of this module, a user or group, allUsers, or the Pub/Sub agent", where, member)
	return ""
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
