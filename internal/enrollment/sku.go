package enrollment

import (
	"regexp"
	"strconv"
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
// course twice in one SKU is an error (it would be one enrollment with two modes). Errors are
// *Explained, with arguments of text only, so that they can be kept as an i18n.Text.
func ParseSKU(sku, defaultMode string) ([]Course, *Explained) {
	sku = strings.TrimSpace(sku)
	if sku == "" {
		return nil, Explain("sku.empty")
	}
	var out []Course
	seen := map[string]bool{}
	for i, item := range strings.Split(sku, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, Explain("sku.item_empty", strconv.Itoa(i+1))
		}
		key, mode, hasMode := strings.Cut(item, "|")
		key = strings.TrimSpace(key)
		mode = strings.TrimSpace(mode)
		if !courseKeyRE.MatchString(key) {
			return nil, Explain("sku.not_course", key)
		}
		if hasMode {
			if !modeRE.MatchString(mode) {
				return nil, Explain("sku.bad_mode", mode, key)
			}
		} else {
			mode = defaultMode
		}
		if seen[key] {
			return nil, Explain("sku.twice", key)
		}
		seen[key] = true
		out = append(out, Course{Key: key, Mode: mode})
	}
	return out, nil
}
