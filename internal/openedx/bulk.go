package openedx

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// bulkResult is one identifier's outcome in a bulk enroll answer
// (lms/djangoapps/instructor/views/api.py students_update_enrollment).
type bulkResult struct {
	Identifier        string     `json:"identifier"`
	InvalidIdentifier bool       `json:"invalidIdentifier"`
	Error             bool       `json:"error"`
	Before            *bulkState `json:"before"`
	After             *bulkState `json:"after"`
}

type bulkState struct {
	Enrollment bool `json:"enrollment"`
	AutoEnroll bool `json:"auto_enroll"`
	User       bool `json:"user"`
	Allowed    bool `json:"allowed"`
}

// bulkEnroll enrolls with POST /api/bulk_enroll/v1/bulk_enroll/. The LMS chooses the mode
// (the course's default) and reports no username, so EnrollResult.Username stays empty.
func (c *Client) bulkEnroll(ctx context.Context, email, course string) (enrollment.EnrollResult, error) {
	body := map[string]any{
		"identifiers":    email,
		"courses":        course,
		"action":         "enroll",
		"auto_enroll":    true,
		"email_students": false,
	}
	resp, err := c.do(ctx, http.MethodPost, "/api/bulk_enroll/v1/bulk_enroll/", nil, body)
	if err != nil {
		return enrollment.EnrollResult{}, err
	}
	switch resp.status {
	case http.StatusOK:
	case http.StatusNotFound:
		if isJSON(resp.body) {
			// students_update_enrollment raises Http404 for a course that does not exist.
			return enrollment.EnrollResult{}, enrollment.Permanent(fmt.Errorf(
				"%s: the LMS has no such course (bulk enroll answered 404 %q)", course, lmsMessage(resp.body)))
		}
		return enrollment.EnrollResult{}, enrollment.Permanent(fmt.Errorf(
			"the LMS has no bulk enroll API (404): enable FEATURES['ENABLE_BULK_ENROLLMENT_VIEW'] or use the enrollment strategy"))
	case http.StatusBadRequest:
		return enrollment.EnrollResult{}, enrollment.Permanent(fmt.Errorf(
			"%s: the LMS rejected the bulk enrollment (400 %q)", course, lmsMessage(resp.body)))
	default:
		return enrollment.EnrollResult{}, fmt.Errorf("bulk enroll: %w", c.statusError(resp))
	}

	var out struct {
		Courses map[string]struct {
			Results []bulkResult `json:"results"`
		} `json:"courses"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return enrollment.EnrollResult{}, fmt.Errorf("bulk enroll: unreadable answer (%v): %s", err, lmsMessage(resp.body))
	}
	results, ok := out.Courses[course]
	if !ok || len(results.Results) == 0 {
		return enrollment.EnrollResult{}, fmt.Errorf("bulk enroll: the answer has no result for %s", course)
	}
	r := results.Results[0]
	switch {
	case r.InvalidIdentifier:
		return enrollment.EnrollResult{}, enrollment.Permanent(fmt.Errorf(
			"%s: the LMS says %q is not a valid email or username (invalidIdentifier)", course, r.Identifier))
	case r.Error:
		return enrollment.EnrollResult{}, enrollment.Permanent(fmt.Errorf(
			"%s: the LMS reported an error enrolling %q (bulk enroll result error: true); its logs say why", course, r.Identifier))
	case r.After == nil:
		return enrollment.EnrollResult{}, fmt.Errorf("bulk enroll: the result for %s has no after state", course)
	case r.After.Enrollment:
		return enrollment.EnrollResult{}, nil
	case r.After.Allowed && !r.After.User:
		return enrollment.EnrollResult{Allowed: true}, nil
	}
	return enrollment.EnrollResult{}, enrollment.Permanent(fmt.Errorf(
		"%s: the LMS neither enrolled %q nor allowed them to enroll (after: %+v)", course, r.Identifier, *r.After))
}
