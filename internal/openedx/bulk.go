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

// bulkState is instructor/enrollment.py EmailEnrollmentState.to_dict: user is whether an
// account has the email (activated or not), allowed whether a CourseEnrollmentAllowed exists.
type bulkState struct {
	Enrollment bool `json:"enrollment"`
	AutoEnroll bool `json:"auto_enroll"`
	User       bool `json:"user"`
	Allowed    bool `json:"allowed"`
}

// errNoBulkAPI: the LMS does not route the bulk enroll API (Django's HTML 404), because
// FEATURES['ENABLE_BULK_ENROLLMENT_VIEW'] is off (lms/urls.py).
var errNoBulkAPI = enrollment.Permanent(&enrollment.Explained{Key: "lms.bulk_no_api", By: enrollment.ByLMS, Status: http.StatusNotFound})

// bulkEnroll enrolls with POST /api/bulk_enroll/v1/bulk_enroll/. The LMS chooses the mode
// (the course's default) and reports no username, so EnrollResult.Username stays empty.
// instructor/enrollment.py enroll_email enrolls an activated account; for an email without
// an account, or an account not activated yet, it records an enrollment_allowed with
// auto_enroll (after.allowed, with after.user false or true), which enrolls the learner
// when the account is activated: both are success (Allowed).
func (c *Client) bulkEnroll(ctx context.Context, email, course string) (enrollment.EnrollResult, error) {
	r, err := c.bulk(ctx, email, course, "enroll")
	if err != nil {
		return enrollment.EnrollResult{}, err
	}
	switch {
	case r.After.Enrollment:
		return enrollment.EnrollResult{}, nil
	case r.After.Allowed:
		return enrollment.EnrollResult{Allowed: true}, nil
	}
	return enrollment.EnrollResult{}, enrollment.Permanent(fmt.Errorf("%s: %w", course, &enrollment.Explained{
		Key: "lms.bulk_neither", By: enrollment.ByLMS, Said: fmt.Sprintf("after: %+v", *r.After)}))
}

// bulkUnenroll runs the bulk API's unenroll action (instructor/enrollment.py
// unenroll_email): it deactivates an active enrollment and deletes the allowed record.
func (c *Client) bulkUnenroll(ctx context.Context, email, course string) error {
	_, err := c.bulk(ctx, email, course, "unenroll")
	return err
}

// bulk posts one identifier and one course and returns its result, which has an after state.
func (c *Client) bulk(ctx context.Context, email, course, action string) (*bulkResult, error) {
	body := map[string]any{
		"identifiers":    email,
		"courses":        course,
		"action":         action,
		"auto_enroll":    true,
		"email_students": false,
	}
	resp, err := c.do(ctx, http.MethodPost, "/api/bulk_enroll/v1/bulk_enroll/", nil, body)
	if err != nil {
		return nil, err
	}
	switch resp.status {
	case http.StatusOK:
	case http.StatusNotFound:
		if isJSON(resp.body) {
			// students_update_enrollment raises Http404 for a course that does not exist.
			return nil, enrollment.Permanent(fmt.Errorf("%s: %w", course, lmsError(resp, "lms.no_course")))
		}
		return nil, errNoBulkAPI
	case http.StatusBadRequest:
		return nil, enrollment.Permanent(fmt.Errorf("%s: bulk %s: %w", course, action, lmsError(resp, "lms.bulk_rejected")))
	default:
		return nil, fmt.Errorf("%s: bulk %s: %w", course, action, c.statusError(resp))
	}

	var out struct {
		Courses map[string]struct {
			Results []bulkResult `json:"results"`
		} `json:"courses"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return nil, fmt.Errorf("%s: bulk %s: %w", course, action, unreadable(resp, err))
	}
	results, ok := out.Courses[course]
	if !ok || len(results.Results) == 0 {
		return nil, fmt.Errorf("%s: bulk %s: %w", course, action, lmsError(resp, "lms.bulk_no_result"))
	}
	r := results.Results[0]
	switch {
	case r.InvalidIdentifier:
		return nil, enrollment.Permanent(fmt.Errorf("%s: %w", course, &enrollment.Explained{
			Key: "lms.invalid_identifier", By: enrollment.ByLMS, Said: "invalidIdentifier: true"}))
	case r.Error:
		return nil, enrollment.Permanent(fmt.Errorf("%s: bulk %s: %w", course, action, &enrollment.Explained{
			Key: "lms.bulk_error", By: enrollment.ByLMS, Said: "error: true"}))
	case r.After == nil:
		return nil, fmt.Errorf("%s: bulk %s: %w", course, action, &enrollment.Explained{
			Key: "lms.unreadable", By: enrollment.ByLMS, Said: "no after state"})
	}
	return &r, nil
}
