package enrollment

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

func TestParseSKU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sku     string
		want    []Course
		wantErr string // substring of the error; "" means it parses
	}{
		{sku: "course-v1:Aulasneo+PY101+2025_T1", want: []Course{{"course-v1:Aulasneo+PY101+2025_T1", "audit"}}},
		{sku: "course-v1:Org+X+R|verified", want: []Course{{"course-v1:Org+X+R", "verified"}}},
		{sku: "course-v1:Org+A+R,course-v1:Org+B+R", want: []Course{{"course-v1:Org+A+R", "audit"}, {"course-v1:Org+B+R", "audit"}}},
		{sku: "  course-v1:Org+A+R | honor ,  course-v1:Org+B+R|verified  ", want: []Course{{"course-v1:Org+A+R", "honor"}, {"course-v1:Org+B+R", "verified"}}},
		{sku: "course-v1:a.b~c-d_e:f+1+2", want: []Course{{"course-v1:a.b~c-d_e:f+1+2", "audit"}}},
		{sku: "course-v1:Org+X+R|no-id-professional", want: []Course{{"course-v1:Org+X+R", "no-id-professional"}}},
		{sku: "", wantErr: "SKU is empty"},
		{sku: "   ", wantErr: "SKU is empty"},
		{sku: "course-v1:Org+X", wantErr: "not a course id"},
		{sku: "course-v1:Org+X+R+S", wantErr: "not a course id"},
		{sku: "course-v1:+X+R", wantErr: "not a course id"},
		{sku: "course-v1:Org X+Y+R", wantErr: "not a course id"},
		{sku: "course-v1:Org+X+R/extra", wantErr: "not a course id"},
		{sku: "Org/X/R", wantErr: "not a course id"},
		{sku: "course-v1:Org+X+R,", wantErr: "item 2"},
		{sku: ",course-v1:Org+X+R", wantErr: "item 1"},
		{sku: "course-v1:Org+X+R|", wantErr: "not a course mode"},
		{sku: "course-v1:Org+X+R|ver ified", wantErr: "not a course mode"},
		{sku: "course-v1:Org+X+R|a|b", wantErr: "not a course mode"},
		{sku: "course-v1:Org+X+R,course-v1:Org+X+R|verified", wantErr: "appears twice"},
		{sku: "course-v1:Orgé+X+R", wantErr: "not a course id"},
		{sku: "COURSE-V1:Org+X+R", wantErr: "not a course id"},
	}
	for _, tt := range tests {
		got, err := ParseSKU(tt.sku, "audit")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSKU(%q) = %v, %v; want error containing %q", tt.sku, got, err, tt.wantErr)
			}
			// The reason is kept as a Text and shown in the shop's language.
			if err != nil {
				if es := err.Text().In(i18n.Spanish); es == err.Error() || strings.Contains(es, "%!") {
					t.Errorf("ParseSKU(%q): Spanish reason %q", tt.sku, es)
				}
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSKU(%q) = %v, %v; want %v", tt.sku, got, err, tt.want)
		}
	}
}

func TestIsCourseSKU(t *testing.T) {
	t.Parallel()
	for sku, want := range map[string]bool{
		"course-v1:Org+X+R":  true,
		"  course-v1:broken": true,
		"TSHIRT-L":           false,
		"":                   false,
		"Course-v1:Org+X+R":  false,
		"xcourse-v1:Org+X+R": false,
	} {
		if got := IsCourseSKU(sku); got != want {
			t.Errorf("IsCourseSKU(%q) = %v, want %v", sku, got, want)
		}
	}
}

func FuzzParseSKU(f *testing.F) {
	for _, s := range []string{"course-v1:Org+X+R", "course-v1:Org+A+R|verified,course-v1:Org+B+R", " , ", "course-v1:a+b+c|", "course-v1:Org+X+R,course-v1:Org+X+R"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sku string) {
		courses, err := ParseSKU(sku, "audit")
		if err != nil {
			return
		}
		if len(courses) == 0 {
			t.Fatalf("ParseSKU(%q) parsed to nothing without an error", sku)
		}
		var parts []string
		for _, c := range courses {
			if !courseKeyRE.MatchString(c.Key) || c.Mode == "" {
				t.Fatalf("ParseSKU(%q) gave an invalid course %+v", sku, c)
			}
			parts = append(parts, c.Key+"|"+c.Mode)
		}
		again, err := ParseSKU(strings.Join(parts, ","), "other")
		if err != nil || !reflect.DeepEqual(again, courses) {
			t.Fatalf("re-parsing the canonical form of %q gave %v, %v; want %v", sku, again, err, courses)
		}
	})
}
