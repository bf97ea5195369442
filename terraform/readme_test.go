package terraform_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aulasneo/wc-openedx/internal/config"
)

// TestReadmeSaysWhichFunctionReadsEachVariable: the configuration reference the README links
// (docs/configuration.md) has a row for every variable of internal/config, and its "read by"
// column is the variable's `fn` tag ("all" when every function reads it).
func TestReadmeSaysWhichFunctionReadsEachVariable(t *testing.T) {
	section := string(readFile(t, "../docs/configuration.md"))
	if !strings.Contains(string(readFile(t, "../README.md")), "(docs/configuration.md)") {
		t.Fatal("the README does not link docs/configuration.md")
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
			t.Errorf("docs/configuration.md has no row for %s", v.Name)
		case got != want:
			t.Errorf("docs/configuration.md: %s is read by %q, internal/config says %q", v.Name, got, want)
		}
		delete(readBy, v.Name)
	}
	for name := range readBy {
		t.Errorf("docs/configuration.md lists %s, which internal/config does not read", name)
	}
}
