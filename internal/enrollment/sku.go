package enrollment

import (
	"fmt"
	"regexp"
	"strings"
)

// Course is one course a line grants, in one mode.
type Course struct {
	Key  string // course-v1:ORG+CODE+RUN
	Mode string // e.g. audit, verified; never empty after ParseSKU
}

// coursePrefix starts every SKU that is meant to be a course list.
const coursePrefix = "course-v1:"

var (
	courseKeyRE = regexp.MustCompile(`^course-v1:[A-Za-z0-9_\-~.:]+\+[A-Za-z0-9_\-~.:]+\+[A-Za-z0-9_\-~.:]+$`)
	modeRE      = regexp.MustCompile(`^[A-Za-z0-9_\-]+$`)
)

// IsCourseSKU reports whether a SKU is meant to name courses: it starts with course-v1:
// (after surrounding spaces). Such a SKU either parses or is a permanent failure of its line.
func IsCourseSKU(sku string) bool {
	return strings.HasPrefix(strings.TrimSpace(sku), coursePrefix)
}

// ParseSKU parses the SKU grammar of SPEC §2.2: `course[|mode]` items separated by commas,
// spaces around items and around `|` ignored. Items without a mode get defaultMode. The same
// course twice in one SKU is an error (it would be one enrollment with two modes).
func ParseSKU(sku, defaultMode string) ([]Course, error) {
	sku = strings.TrimSpace(sku)
	if sku == "" {
		return nil, fmt.Errorf("empty SKU")
	}
	var out []Course
	seen := map[string]bool{}
	for i, item := range strings.Split(sku, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("item %d of SKU %q is empty", i+1, sku)
		}
		key, mode, hasMode := strings.Cut(item, "|")
		key = strings.TrimSpace(key)
		mode = strings.TrimSpace(mode)
		if !courseKeyRE.MatchString(key) {
			return nil, fmt.Errorf("%q is not a course id of the form course-v1:ORG+CODE+RUN", key)
		}
		if hasMode {
			if !modeRE.MatchString(mode) {
				return nil, fmt.Errorf("%q after %q is not a course mode (letters, digits, - or _)", mode, key)
			}
		} else {
			mode = defaultMode
		}
		if seen[key] {
			return nil, fmt.Errorf("course %s appears twice in SKU %q", key, sku)
		}
		seen[key] = true
		out = append(out, Course{Key: key, Mode: mode})
	}
	return out, nil
}
