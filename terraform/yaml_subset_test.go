//go:build !yamlv3

package terraform_test

// A strict reader for the block-style YAML subset cloudbuild.yaml is written in, until the
// module requires a YAML library (then build with -tags yamlv3, or delete this file and
// the build constraint of yaml_v3_test.go). It understands block mappings and sequences,
// "- key: value" items, plain and quoted scalars, literal block scalars (| and |-) and
// comments, and rejects everything else (flow collections, anchors, tags, tabs,
// folded scalars), so a file it accepts means the same thing to a full YAML parser.
// Scalars are returned as strings.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func parseYAML(src []byte) (any, error) {
	p := &yamlReader{lines: strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")}
	ind, _, ok := p.peek()
	if !ok {
		return nil, nil
	}
	v, err := p.node(ind)
	if err == nil {
		err = p.err
	}
	if err != nil {
		return nil, err
	}
	if _, _, ok := p.peek(); ok || p.err != nil {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.i+1)
	}
	return v, nil
}

type yamlReader struct {
	lines []string
	i     int   // next line
	err   error // a tab in indentation, found by peek
}

// peek skips blank and comment-only lines and returns the next line's indentation and
// text (without the indentation), without consuming it.
func (p *yamlReader) peek() (indent int, text string, ok bool) {
	for ; p.i < len(p.lines); p.i++ {
		l := p.lines[p.i]
		trimmed := strings.TrimLeft(l, " ")
		if strings.HasPrefix(trimmed, "\t") {
			p.err = fmt.Errorf("line %d: tab in indentation", p.i+1)
			return 0, "", false
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || trimmed == "---" {
			continue
		}
		return len(l) - len(trimmed), trimmed, true
	}
	return 0, "", false
}

func (p *yamlReader) node(indent int) (any, error) {
	_, text, _ := p.peek()
	if text == "-" || strings.HasPrefix(text, "- ") {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yamlReader) sequence(indent int) ([]any, error) {
	var out []any
	for {
		ind, text, ok := p.peek()
		if !ok || ind < indent {
			return out, nil
		}
		if ind > indent || !(text == "-" || strings.HasPrefix(text, "- ")) {
			return nil, fmt.Errorf("line %d: expected a sequence item at column %d", p.i+1, indent+1)
		}
		rest := strings.TrimLeft(strings.TrimPrefix(text, "-"), " ")
		switch {
		case rest == "" || strings.HasPrefix(rest, "#"):
			p.i++
			next, _, ok := p.peek()
			if !ok || next <= indent {
				out = append(out, nil)
				continue
			}
			v, err := p.node(next)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		case rest == "|" || rest == "|-":
			p.i++
			out = append(out, p.literalBlock(ind, rest == "|-"))
		case isMappingEntry(rest):
			// "- key: value": the item is a mapping whose keys start at rest's column.
			col := ind + (len(text) - len(rest))
			p.lines[p.i] = strings.Repeat(" ", col) + rest
			v, err := p.mapping(col)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		default:
			p.i++
			v, err := scalar(rest, p.i)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
}

func (p *yamlReader) mapping(indent int) (map[string]any, error) {
	out := map[string]any{}
	for {
		ind, text, ok := p.peek()
		if !ok || ind < indent {
			return out, nil
		}
		line := p.i + 1
		if ind > indent {
			return nil, fmt.Errorf("line %d: unexpected indentation", line)
		}
		if !isMappingEntry(text) {
			if text == "-" || strings.HasPrefix(text, "- ") {
				return out, nil // a sequence at the parent's indentation ends this mapping
			}
			return nil, fmt.Errorf("line %d: expected key: value, got %q", line, text)
		}
		key, rest := splitEntry(text)
		k, err := scalar(key, line)
		if err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("line %d: key %q twice", line, k)
		}
		p.i++
		switch {
		case rest == "" || strings.HasPrefix(rest, "#"):
			next, nextText, ok := p.peek()
			switch {
			case ok && next > indent:
				out[k], err = p.node(next)
			case ok && next == indent && (nextText == "-" || strings.HasPrefix(nextText, "- ")):
				out[k], err = p.sequence(indent)
			default:
				out[k] = nil
			}
		case rest == "|" || rest == "|-":
			out[k] = p.literalBlock(indent, rest == "|-")
		default:
			out[k], err = scalar(rest, line)
		}
		if err != nil {
			return nil, err
		}
	}
}

// literalBlock reads the lines of a | or |- scalar: those indented deeper than the key.
func (p *yamlReader) literalBlock(keyIndent int, strip bool) string {
	var body []string
	blockIndent := -1
	for ; p.i < len(p.lines); p.i++ {
		l := p.lines[p.i]
		trimmed := strings.TrimLeft(l, " ")
		ind := len(l) - len(trimmed)
		if trimmed == "" {
			body = append(body, "")
			continue
		}
		if ind <= keyIndent {
			break
		}
		if blockIndent < 0 {
			blockIndent = ind
		}
		if ind < blockIndent {
			break
		}
		body = append(body, l[blockIndent:])
	}
	s := strings.TrimRight(strings.Join(body, "\n"), "\n")
	if !strip && s != "" {
		s += "\n"
	}
	return s
}

// isMappingEntry reports whether a line is "key:" or "key: value" with a plain or quoted key.
func isMappingEntry(text string) bool {
	if strings.HasPrefix(text, `"`) || strings.HasPrefix(text, "'") {
		end := strings.IndexByte(text[1:], text[0])
		return end >= 0 && strings.HasPrefix(text[end+2:], ":")
	}
	k, _ := splitEntry(text)
	return k != "" && k != text && !strings.ContainsAny(k[:1], "-[{&*!|>%@`")
}

func splitEntry(text string) (key, rest string) {
	for i := 0; i < len(text); i++ {
		if text[i] == ':' && (i+1 == len(text) || text[i+1] == ' ') {
			return text[:i], strings.TrimSpace(text[i+1:])
		}
		if text[i] == '"' || text[i] == '\'' {
			if end := strings.IndexByte(text[i+1:], text[i]); end >= 0 {
				i += end + 1
			}
		}
	}
	return text, ""
}

// scalar decodes a plain or quoted scalar (with an optional trailing comment).
func scalar(s string, line int) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, `"`):
		end := strings.LastIndexByte(s, '"')
		if end == 0 || strings.TrimSpace(stripComment(s[end+1:])) != "" {
			return "", fmt.Errorf("line %d: bad double-quoted scalar %s", line, s)
		}
		v, err := strconv.Unquote(s[:end+1])
		if err != nil {
			return "", fmt.Errorf("line %d: %s: %v", line, s, err)
		}
		return v, nil
	case strings.HasPrefix(s, "'"):
		end := strings.LastIndexByte(s, '\'')
		if end == 0 || strings.TrimSpace(stripComment(s[end+1:])) != "" {
			return "", fmt.Errorf("line %d: bad single-quoted scalar %s", line, s)
		}
		return strings.ReplaceAll(s[1:end], "''", "'"), nil
	}
	s = strings.TrimSpace(stripComment(s))
	if s == "" || strings.ContainsAny(s[:1], "[]{}&*!|>%@`,") || strings.Contains(s, ": ") {
		return "", fmt.Errorf("line %d: unsupported or ambiguous plain scalar %q (quote it)", line, s)
	}
	return s, nil
}

func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}

func TestYAMLSubsetReader(t *testing.T) {
	src := `# comment
a: 1
b:
  - x
  - "y: z" # quoted
  - id: s1
    args:
      - -c
      - |
        echo "$$HOME"
        exit 0
    env:
    - K=V
c: 'it''s'
`
	got, err := parseYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"a": "1",
		"b": []any{"x", "y: z", map[string]any{
			"id":   "s1",
			"args": []any{"-c", "echo \"$$HOME\"\nexit 0\n"},
			"env":  []any{"K=V"},
		}},
		"c": "it's",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	for _, bad := range []string{"a: [1, 2]\n", "a: &x 1\n", "a:\n\t- x\n", "a: 1\na: 2\n", "a: >\n  folded\n"} {
		if _, err := parseYAML([]byte(bad)); err == nil {
			t.Errorf("parseYAML(%q) accepted an unsupported construct", bad)
		}
	}
}
