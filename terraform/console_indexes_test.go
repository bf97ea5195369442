package terraform_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aulasneo/wc-openedx/internal/store"
)

// firestoreIndex is a google_firestore_index as declared, in the words of a query: its
// collection and its fields with their order.
type firestoreIndex struct {
	name       string
	collection string
	fields     []string // "path ASCENDING", …
}

func (m *module) firestoreIndexes(t *testing.T) []firestoreIndex {
	t.Helper()
	var out []firestoreIndex
	for name, b := range m.resources["google_firestore_index"] {
		ix := firestoreIndex{name: name}
		col, ok := literalString(attr(b, "collection"))
		if !ok {
			t.Errorf("google_firestore_index.%s: collection is not a literal string", name)
		}
		ix.collection = col
		if db := attr(b, "database"); db == nil || m.text(db) != "google_firestore_database.main.name" {
			t.Errorf("google_firestore_index.%s: database must be google_firestore_database.main.name (the service's database, created first)", name)
		}
		if qs := attr(b, "query_scope"); qs != nil {
			if v, _ := literalString(qs); v != "COLLECTION" {
				t.Errorf("google_firestore_index.%s: query_scope %s; the console's queries are collection queries", name, m.text(qs))
			}
		}
		for _, f := range blocks(b, "fields") {
			path, ok1 := literalString(attr(f, "field_path"))
			order, ok2 := literalString(attr(f, "order"))
			if !ok1 || !ok2 {
				t.Errorf("google_firestore_index.%s: each fields block needs a literal field_path and order", name)
				continue
			}
			if path == "__name__" {
				continue // Firestore appends it anyway, in the last field's direction
			}
			ix.fields = append(ix.fields, path+" "+order)
		}
		out = append(out, ix)
	}
	return out
}

// indexFor is the composite index query q needs: its equality fields, then its order.
func indexFor(q store.QueryShape) []string {
	var f []string
	for _, e := range q.Equal {
		f = append(f, e+" ASCENDING")
	}
	if q.OrderBy != "" {
		dir := "ASCENDING"
		if q.Desc {
			dir = "DESCENDING"
		}
		f = append(f, q.OrderBy+" "+dir)
	}
	return f
}

// TestConsoleQueriesHaveTheirIndexes: every query the Console runs that production Firestore
// serves only from a composite index has that index in firestore.tf (the emulator serves any
// query, so the other tests cannot tell), and every index there serves a query.
func TestConsoleQueriesHaveTheirIndexes(t *testing.T) {
	m := loadModule(t)
	indexes := m.firestoreIndexes(t)
	used := map[string]bool{}
	needing := 0
	for _, q := range store.ConsoleQueries {
		if !q.NeedsIndex() {
			continue
		}
		needing++
		want := indexFor(q)
		found := ""
		for _, ix := range indexes {
			if ix.collection == q.Collection && slices.Equal(ix.fields, want) {
				found = ix.name
			}
		}
		if found == "" {
			t.Errorf("the console's query %q (collection %s) needs a google_firestore_index with fields %s; firestore.tf has none", q.Name, q.Collection, strings.Join(want, ", "))
			continue
		}
		used[found] = true
	}
	if needing == 0 {
		t.Fatal("no console query needs a composite index: the test checks nothing")
	}
	for _, ix := range indexes {
		if !used[ix.name] {
			t.Errorf("google_firestore_index.%s (%s: %s) serves no console query", ix.name, ix.collection, strings.Join(ix.fields, ", "))
		}
	}
	// The comment table in firestore.tf names every query.
	src := string(readFile(t, "firestore.tf"))
	for _, q := range store.ConsoleQueries {
		if !strings.Contains(src, "#   "+q.Name) {
			t.Errorf("firestore.tf's table of queries lacks %q", q.Name)
		}
	}
}

// TestNeedsIndex pins which query shapes need a composite index (Firestore's rule: an
// equality filter with an order on another field, or equality filters on several fields).
func TestNeedsIndex(t *testing.T) {
	for _, tt := range []struct {
		q    store.QueryShape
		want bool
	}{
		{store.QueryShape{OrderBy: "createdAt", Desc: true}, false},
		{store.QueryShape{Equal: []string{"number"}}, false},
		{store.QueryShape{Equal: []string{"stage"}, OrderBy: "stage"}, false},
		{store.QueryShape{Equal: []string{"stage"}, OrderBy: "createdAt", Desc: true}, true},
		{store.QueryShape{Equal: []string{"stage", "buyerEmail"}}, true},
	} {
		if got := tt.q.NeedsIndex(); got != tt.want {
			t.Errorf("%s: NeedsIndex() = %v, want %v", fmt.Sprint(tt.q), got, tt.want)
		}
	}
}
