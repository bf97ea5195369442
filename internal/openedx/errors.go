package openedx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// Messages of the Enrollment API (edx-platform openedx/core/djangoapps/enrollments/views.py)
// that tell the failures apart; all are answered with 400.
const (
	msgNoCourse     = "found for enrollment"                                       // "No course '<id>' found for enrollment"
	msgNoCourseID   = "Course ID must be specified"                                // missing course_id
	msgModeInvalid  = "course mode is expired or otherwise unavailable"            // CourseModeNotFoundError
	msgCreateFailed = "An error occurred while creating the new course enrollment" // closed or full
	msgModeMismatch = "Enrollment mode mismatch"                                   // deactivating with another mode
)

// enrollmentError classifies an answer of POST /api/enrollment/v1/enrollment other than
// 200 and 406.
func (c *Client) enrollmentError(resp *response, course, mode string) error {
	msg := lmsMessage(resp.body)
	switch resp.status {
	case http.StatusBadRequest:
		switch {
		case strings.Contains(msg, msgNoCourse) || strings.Contains(msg, msgNoCourseID):
			return enrollment.Permanent(fmt.Errorf("%s: the LMS has no such course (%q)", course, msg))
		case strings.Contains(msg, msgModeInvalid):
			return enrollment.Permanent(fmt.Errorf("%s: invalid mode %q: the course has no such mode or it has expired (%q)", course, mode, msg))
		case strings.Contains(msg, msgCreateFailed):
			return enrollment.Permanent(fmt.Errorf("%s: enrollment closed or course full: the LMS refused to create the enrollment (%q)", course, msg))
		case strings.Contains(msg, msgModeMismatch):
			return enrollment.Permanent(fmt.Errorf("%s: the enrollment is in another mode than the one given (%q)", course, msg))
		}
		return enrollment.Permanent(fmt.Errorf("%s: the LMS rejected the enrollment (400 %q)", course, msg))
	case http.StatusNotFound:
		if len(bytes.TrimSpace(resp.body)) == 0 {
			return enrollment.Permanent(fmt.Errorf(
				"%s: the LMS answered 404 with no body, which means it does not let the OAuth application's user "+
					"(OPENEDX_CLIENT_ID) enroll other people: that user must be global staff (is_staff)", course))
		}
		return enrollment.Permanent(fmt.Errorf(
			"%s: the LMS has no enrollment API at /api/enrollment/v1/enrollment (404 %q)", course, msg))
	case http.StatusForbidden:
		return enrollment.Permanent(fmt.Errorf(
			"%s: the LMS forbade the enrollment in mode %q (403 %q); modes other than audit and honor need "+
				"the OAuth application's user to be global staff (is_staff), and an embargo also answers 403", course, mode, msg))
	}
	return fmt.Errorf("%s: %w", course, c.statusError(resp))
}

// statusError classifies an answer no caller expected: 429 and 5xx are transient, 401
// (which do already retried) and other 4xx permanent.
func (c *Client) statusError(resp *response) error {
	msg := lmsMessage(resp.body)
	switch {
	case resp.status == http.StatusTooManyRequests:
		return fmt.Errorf("the LMS is rate limiting the service (429 %q)", msg)
	case resp.status >= 500:
		return fmt.Errorf("the LMS failed (%d %q)", resp.status, msg)
	case resp.status == http.StatusUnauthorized:
		return enrollment.Permanent(fmt.Errorf("the LMS rejected the credentials (401 %q)", msg))
	case resp.status == http.StatusForbidden:
		return enrollment.Permanent(fmt.Errorf(
			"the LMS refused the request (403 %q): the OAuth application's user (OPENEDX_CLIENT_ID) must be global staff (is_staff)",
			msg))
	case resp.status >= 400:
		return enrollment.Permanent(fmt.Errorf("the LMS rejected the request (%d %q)", resp.status, msg))
	}
	return fmt.Errorf("unexpected answer from the LMS (%d %q)", resp.status, msg)
}

var (
	titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	h1RE    = regexp.MustCompile(`(?is)<h1[^>]*>(.*?)</h1>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

// lmsMessage extracts the human message of an answer: {"message"} (enrollment API),
// {"detail"} (DRF), {"error","error_description"} (OAuth), field errors, an HTML page's
// title, or else the start of the body.
func lmsMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "empty answer"
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"message", "detail", "developer_message", "error_description", "error"} {
			if s, ok := m[k].(string); ok && s != "" {
				return clip(s)
			}
		}
		return clip(string(body)) // e.g. {"email":["This field is required."]}
	}
	if bytes.HasPrefix(body, []byte("<")) {
		for _, re := range []*regexp.Regexp{titleRE, h1RE} {
			if sm := re.FindSubmatch(body); sm != nil {
				if t := strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(string(sm[1])), " ")); t != "" {
					return clip("HTML page: " + t)
				}
			}
		}
		return "HTML page"
	}
	return clip(string(body))
}

func isJSON(body []byte) bool {
	return json.Valid(bytes.TrimSpace(body)) && len(bytes.TrimSpace(body)) > 0
}

func clip(s string) string {
	s = strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
