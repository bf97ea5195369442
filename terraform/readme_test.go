package terraform_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aulasneo/wc-openedx/internal/config"
)

// TestReadmeSaysWhichFunctionReadsEachVariable: the README's configuration table has a row
// for every variable of internal/config, and its "read by" column is the variable's `fn`
// tag ("all" when every function reads it).
func TestReadmeSaysWhichFunctionReadsEachVariable(t *testing.T) {
	readme := string(readFile(t, "../README.md"))
	start := strings.Index(readme, "\n## Configuration\n")
	if start < 0 {
		t.Fatal("README has no ## Configuration section")
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	row := regexp.MustCompile("^\\| `([A-Z_]+)` \\|.*\\| ([^|]+) \\|$")
	readBy := map[string]string{}
	header := false
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| variable |") {
			header = strings.HasSuffix(line, "| read by |")
		}
		if m := row.FindStringSubmatch(line); m != nil {
			readBy[m[1]] = strings.TrimSpace(m[2])
		}
	}
	if !header {
		t.Fatal(`the configuration table's last column must be "read by"`)
	}
	for _, v := range config.Variables() {
		want := strings.Join(v.Functions, ", ")
		if slices.Equal(v.Functions, config.Functions) {
			want = "all"
		}
		got, ok := readBy[v.Name]
		switch {
		case !ok:
			t.Errorf("README configuration table has no row for %s", v.Name)
		case got != want:
			t.Errorf("README: %s is read by %q, internal/config says %q", v.Name, got, want)
		}
		delete(readBy, v.Name)
	}
	for name := range readBy {
		t.Errorf("README configuration table lists %s, which internal/config does not read", name)
	}
}
