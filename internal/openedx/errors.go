package openedx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
// 200 and 406. Errors name the course, then explain the failure in the shop's people's words
// with the LMS's own message quoted (enrollment.Explained).
func (c *Client) enrollmentError(resp *response, course, mode string) error {
	msg := lmsMessage(resp.body)
	permanent := func(key string, args ...any) error {
		return enrollment.Permanent(fmt.Errorf("%s: %w", course, lmsError(resp, key, args...)))
	}
	switch resp.status {
	case http.StatusBadRequest:
		switch {
		case strings.Contains(msg, msgNoCourse) || strings.Contains(msg, msgNoCourseID):
			return permanent("lms.no_course")
		case strings.Contains(msg, msgModeInvalid):
			return permanent("lms.mode_invalid", mode)
		case strings.Contains(msg, msgCreateFailed):
			return permanent("lms.closed")
		case strings.Contains(msg, msgModeMismatch):
			return permanent("lms.mode_mismatch")
		}
		return permanent("lms.rejected")
	case http.StatusNotFound:
		if len(bytes.TrimSpace(resp.body)) == 0 {
			// No body: the LMS does not let the OAuth application's user enroll others.
			return permanent("lms.not_staff_404")
		}
		return permanent("lms.no_enrollment_api")
	case http.StatusForbidden:
		return permanent("lms.forbidden_mode", mode)
	}
	return fmt.Errorf("%s: %w", course, c.statusError(resp))
}

// statusError classifies an answer no caller expected: 429 and 5xx are transient, 401
// (which do already retried) and other 4xx permanent.
func (c *Client) statusError(resp *response) error {
	switch {
	case resp.status == http.StatusTooManyRequests:
		return lmsError(resp, "lms.rate_limited")
	case resp.status >= 500:
		return lmsError(resp, "lms.failed")
	case resp.status == http.StatusUnauthorized:
		return enrollment.Permanent(lmsError(resp, "lms.credentials"))
	case resp.status == http.StatusForbidden:
		return enrollment.Permanent(lmsError(resp, "lms.not_staff"))
	case resp.status >= 400:
		return enrollment.Permanent(lmsError(resp, "lms.rejected_request"))
	}
	return lmsError(resp, "lms.unexpected")
}

// lmsError explains a failure (key with args, internal/i18n) and quotes the LMS's answer.
func lmsError(resp *response, key string, args ...any) *enrollment.Explained {
	e := &enrollment.Explained{Key: key, Args: args, By: enrollment.ByLMS, Status: resp.status}
	if len(bytes.TrimSpace(resp.body)) > 0 {
		e.Said = lmsMessage(resp.body)
	}
	return e
}

// unreadable explains an answer that could not be decoded, quoting its start.
func unreadable(resp *response, err error) *enrollment.Explained {
	e := lmsError(resp, "lms.unreadable")
	e.Err = err
	return e
}

// netError explains a failure to reach the LMS (key), quoting the transport's error.
func netError(key string, err error) *enrollment.Explained {
	return &enrollment.Explained{Key: key, By: enrollment.ByError, Said: err.Error(), Err: err}
}

// unreachable explains a request that got no answer: a timeout, or another transport error.
func unreachable(err error) *enrollment.Explained {
	if errors.Is(err, context.DeadlineExceeded) {
		return netError("lms.timeout", err)
	}
	return netError("lms.unreachable", err)
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
