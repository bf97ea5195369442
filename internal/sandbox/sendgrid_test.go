package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const sgTestKey = "SG.test-key"

const sgValidBody = `{
	"personalizations":[{"to":[{"email":"admin@shop.example.com"},{"email":"ops@shop.example.com","name":"Ops"}]}],
	"from":{"email":"shop@shop.example.com","name":"Shop"},
	"subject":"[Shop] Order #727: confirm the bank transfer",
	"content":[{"type":"text/plain","value":"plain body"},{"type":"text/html","value":"<p>html body</p>"}]
}`

func sgPost(t *testing.T, url, auth, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

type sgTestErrors struct {
	Errors []struct {
		Message string  `json:"message"`
		Field   *string `json:"field"`
	} `json:"errors"`
}

func sgDecodeErrors(t *testing.T, body string) sgTestErrors {
	t.Helper()
	var e sgTestErrors
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("body %q is not SendGrid's error shape: %v", body, err)
	}
	return e
}

func TestSendGridAccepts(t *testing.T) {
	t.Parallel()
	sg := NewSendGrid(sgTestKey)
	srv := httptest.NewServer(sg)
	defer srv.Close()

	resp, body := sgPost(t, srv.URL+"/v3/mail/send", "Bearer "+sgTestKey, sgValidBody)
	if resp.StatusCode != http.StatusAccepted || body != "" {
		t.Fatalf("got %d %q, want 202 with an empty body", resp.StatusCode, body)
	}
	id := resp.Header.Get("X-Message-Id")
	if len(id) != 22 {
		t.Errorf("X-Message-Id = %q, want 22 characters", id)
	}
	msgs := sg.Messages()
	if len(msgs) != 1 {
		t.Fatalf("kept %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.ID != id || m.From != "shop@shop.example.com" || m.FromName != "Shop" ||
		strings.Join(m.To, ",") != "admin@shop.example.com,ops@shop.example.com" ||
		m.Subject != "[Shop] Order #727: confirm the bank transfer" || m.Text != "plain body" ||
		m.HTML != "<p>html body</p>" || time.Since(m.Received) > time.Minute {
		t.Errorf("kept %+v", m)
	}
	calls := sg.Log.Calls("send")
	if len(calls) != 1 || calls[0].Status != http.StatusAccepted || !strings.Contains(string(calls[0].Body), "html body") {
		t.Errorf("log = %+v", calls)
	}
}

func TestSendGridPersonalizationSubjects(t *testing.T) {
	t.Parallel()
	sg := NewSendGrid(sgTestKey)
	srv := httptest.NewServer(sg)
	defer srv.Close()
	body := `{"personalizations":[{"to":[{"email":"a@x.example"}],"subject":"one"},{"to":[{"email":"b@x.example"}],"subject":"two"}],
		"from":{"email":"s@x.example"},"content":[{"type":"text/plain","value":"v"}]}`
	if resp, b := sgPost(t, srv.URL+"/v3/mail/send", "Bearer "+sgTestKey, body); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("got %d %s, want 202: every personalization has a subject", resp.StatusCode, b)
	}
	msgs := sg.Messages()
	if len(msgs) != 2 || msgs[0].Subject != "one" || msgs[1].Subject != "two" || msgs[1].To[0] != "b@x.example" ||
		msgs[1].ID != msgs[0].ID+".1" {
		t.Errorf("messages = %+v", msgs)
	}
}

func TestSendGridSandboxMode(t *testing.T) {
	t.Parallel()
	sg := NewSendGrid(sgTestKey)
	srv := httptest.NewServer(sg)
	defer srv.Close()
	body := strings.Replace(sgValidBody, `"subject":`, `"mail_settings":{"sandbox_mode":{"enable":true}},"subject":`, 1)
	resp, b := sgPost(t, srv.URL+"/v3/mail/send", "Bearer "+sgTestKey, body)
	if resp.StatusCode != http.StatusOK || b != "" {
		t.Fatalf("got %d %q, want 200 with an empty body", resp.StatusCode, b)
	}
	if n := len(sg.Messages()); n != 0 {
		t.Errorf("sandbox mode kept %d messages", n)
	}
	// Sandbox mode still validates.
	bad := strings.Replace(body, `"from":{"email":"shop@shop.example.com","name":"Shop"},`, "", 1)
	if resp, _ := sgPost(t, srv.URL+"/v3/mail/send", "Bearer "+sgTestKey, bad); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("sandbox mode without from: %d, want 400", resp.StatusCode)
	}
}

func TestSendGridAuthAndRoutes(t *testing.T) {
	t.Parallel()
	sg := NewSendGrid(sgTestKey)
	srv := httptest.NewServer(sg)
	defer srv.Close()
	tests := []struct {
		name, method, path, auth string
		status                   int
		message                  string
	}{
		{"no key", http.MethodPost, "/v3/mail/send", "", 401, "authorization required"},
		{"wrong key", http.MethodPost, "/v3/mail/send", "Bearer SG.other", 401, "The provided authorization grant is invalid, expired, or revoked"},
		{"not bearer", http.MethodPost, "/v3/mail/send", "Basic " + sgTestKey, 401, "The provided authorization grant is invalid, expired, or revoked"},
		{"GET", http.MethodGet, "/v3/mail/send", "Bearer " + sgTestKey, 404, "not found"},
		{"other path", http.MethodPost, "/v3/mail/batch", "Bearer " + sgTestKey, 404, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(sgValidBody))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			e := sgDecodeErrors(t, string(b))
			if e.Errors[0].Message != tt.message || e.Errors[0].Field != nil {
				t.Errorf("errors = %s", b)
			}
			if !strings.Contains(string(b), `"field":null`) {
				t.Errorf("field must be null: %s", b)
			}
		})
	}
	if n := len(sg.Messages()); n != 0 {
		t.Errorf("kept %d messages from rejected requests", n)
	}
}

func TestSendGridValidation(t *testing.T) {
	t.Parallel()
	sg := NewSendGrid(sgTestKey)
	srv := httptest.NewServer(sg)
	defer srv.Close()
	const from = `"from":{"email":"s@x.example"}`
	const to = `"personalizations":[{"to":[{"email":"a@x.example"}]}]`
	const subject = `"subject":"hi"`
	const content = `"content":[{"type":"text/plain","value":"v"}]`
	tests := []struct {
		name   string
		body   string
		fields map[string]string // field → start of message
	}{
		{"not JSON", `{"personalizations":`, map[string]string{"": "Bad Request"}},
		{"empty object", `{}`, map[string]string{
			"from.email":       "The from object must be provided for every email send.",
			"personalizations": "The personalizations field is required and must have at least one personalization.",
			"subject":          "The subject is required.",
			"content":          "Unless a valid template_id is provided, the content parameter is required.",
		}},
		{"from without email", `{"from":{"name":"Shop"},` + to + `,` + subject + `,` + content + `}`,
			map[string]string{"from.email": "The from object must be provided for every email send."}},
		{"from invalid", `{"from":{"email":"shop@localhost"},` + to + `,` + subject + `,` + content + `}`,
			map[string]string{"from.email": "Does not contain a valid address."}},
		{"from wrong type", `{"from":["s@x.example"],` + to + `,` + subject + `,` + content + `}`,
			map[string]string{"from": "Invalid type. Expected: object, given: array."}},
		{"personalization without to", `{` + from + `,"personalizations":[{"subject":"s"}],` + subject + `,` + content + `}`,
			map[string]string{"personalizations.0.to": "The to array is required for all personalization objects"}},
		{"to invalid", `{` + from + `,"personalizations":[{"to":[{"email":"a@x.example"},{"email":"not an address"}]}],` + subject + `,` + content + `}`,
			map[string]string{"personalizations.0.to.1.email": "Does not contain a valid address."}},
		{"to twice", `{` + from + `,"personalizations":[{"to":[{"email":"a@x.example"},{"email":"A@x.example"}]}],` + subject + `,` + content + `}`,
			map[string]string{"personalizations.0": "Each email address in the personalization block should be unique"}},
		{"one personalization without subject", `{` + from + `,"personalizations":[{"to":[{"email":"a@x.example"}],"subject":"s"},{"to":[{"email":"b@x.example"}]}],` + content + `}`,
			map[string]string{"subject": "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."}},
		{"empty content value", `{` + from + `,` + to + `,` + subject + `,"content":[{"type":"text/plain","value":""}]}`,
			map[string]string{"content.0.value": "The content value must be a string at least one character in length."}},
		{"content without type", `{` + from + `,` + to + `,` + subject + `,"content":[{"value":"v"}]}`,
			map[string]string{"content.0.type": "The content type must be a string at least one character in length."}},
		{"html before plain", `{` + from + `,` + to + `,` + subject + `,"content":[{"type":"text/html","value":"<p>v</p>"},{"type":"text/plain","value":"v"}]}`,
			map[string]string{"content": "Following RFC 1341, section 7.2, if either text/html or text/plain are to be sent in your email: text/plain needs to be first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := sgPost(t, srv.URL+"/v3/mail/send", "Bearer "+sgTestKey, tt.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 (%s)", resp.StatusCode, b)
			}
			e := sgDecodeErrors(t, b)
			got := map[string]string{}
			for _, x := range e.Errors {
				f := ""
				if x.Field != nil {
					f = *x.Field
				}
				got[f] = x.Message
			}
			if len(got) != len(tt.fields) {
				t.Errorf("errors = %s, want fields %v", b, tt.fields)
			}
			for f, want := range tt.fields {
				if !strings.HasPrefix(got[f], want) {
					t.Errorf("field %q: message %q, want it to start with %q", f, got[f], want)
				}
			}
		})
	}
	// A template_id stands in for subject and content.
	body := `{` + from + `,` + to + `,"template_id":"d-123"}`
	if resp, b := sgPost(t, srv.URL+"/v3/mail/send", "Bearer "+sgTestKey, body); resp.StatusCode != http.StatusAccepted {
		t.Errorf("template_id without subject and content: %d %s, want 202", resp.StatusCode, b)
	}
	if n := len(sg.Messages()); n != 1 {
		t.Errorf("kept %d messages, want only the template one", n)
	}
}

func TestSendGridTooLarge(t *testing.T) {
	t.Parallel()
	sg := NewSendGrid(sgTestKey)
	srv := httptest.NewServer(sg)
	defer srv.Close()
	big := strings.Replace(sgValidBody, "plain body", strings.Repeat("x", sendGridMaxBody), 1)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v3/mail/send", bytes.NewReader([]byte(big)))
	req.Header.Set("Authorization", "Bearer "+sgTestKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "<title>413 Request Entity Too Large</title>") {
		t.Errorf("got %d %q, want nginx's 413 page", resp.StatusCode, b)
	}
	if n := len(sg.Messages()); n != 0 {
		t.Errorf("kept %d messages", n)
	}
}

func TestSendGridFaults(t *testing.T) {
	t.Parallel()
	sg := NewSendGrid(sgTestKey)
	srv := httptest.NewServer(sg)
	defer srv.Close()
	sg.Faults.Inject("send", Fault{Status: 503, Body: `{"errors":[{"message":"Service Unavailable","field":null,"help":null}]}`, Times: 1})
	if resp, _ := sgPost(t, srv.URL+"/v3/mail/send", "Bearer "+sgTestKey, sgValidBody); resp.StatusCode != 503 {
		t.Fatalf("status %d, want the injected 503", resp.StatusCode)
	}
	if resp, _ := sgPost(t, srv.URL+"/v3/mail/send", "Bearer "+sgTestKey, sgValidBody); resp.StatusCode != 202 {
		t.Fatalf("status %d, want 202 once the fault is used", resp.StatusCode)
	}
	if n := len(sg.Messages()); n != 1 {
		t.Errorf("kept %d messages, want 1", n)
	}
	calls := sg.Log.Calls("send")
	if len(calls) != 2 || calls[0].Status != 503 || calls[1].Status != 202 {
		t.Errorf("log statuses = %+v", calls)
	}
}

func TestSendGridMailbox(t *testing.T) {
	t.Parallel()
	sg := NewSendGrid(sgTestKey)
	srv := httptest.NewServer(sg)
	defer srv.Close()
	mbox := httptest.NewServer(sg.MailboxHandler())
	defer mbox.Close()

	get := func(path string) (int, string, string) {
		resp, err := http.Get(mbox.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if _, _, page := get("/"); !strings.Contains(page, "No messages yet") {
		t.Errorf("empty mailbox page: %s", page)
	}

	first := strings.Replace(sgValidBody, "[Shop] Order #727: confirm the bank transfer", "First <b>subject</b>", 1)
	second := strings.Replace(sgValidBody, "[Shop] Order #727: confirm the bank transfer", "Second subject", 1)
	second = strings.Replace(second, "<p>html body</p>", `<html><head><title>t</title></head><body><a href=\"https://confirm.example/?t=x&y=1\">Confirm</a></body></html>`, 1)
	for _, b := range []string{first, second} {
		if resp, body := sgPost(t, srv.URL+"/v3/mail/send", "Bearer "+sgTestKey, b); resp.StatusCode != 202 {
			t.Fatalf("send: %d %s", resp.StatusCode, body)
		}
	}
	msgs := sg.Messages()

	status, _, page := get("/")
	if status != 200 {
		t.Fatalf("list: %d", status)
	}
	i1, i2 := strings.Index(page, "First &lt;b&gt;subject&lt;/b&gt;"), strings.Index(page, "Second subject")
	if i1 < 0 || i2 < 0 || i2 > i1 {
		t.Errorf("list must show both subjects escaped, newest first:\n%s", page)
	}
	if !strings.Contains(page, `href="?id=`+msgs[1].ID+`"`) || !strings.Contains(page, "admin@shop.example.com, ops@shop.example.com") {
		t.Errorf("list must link each message and show its recipients:\n%s", page)
	}

	status, _, page = get("/?id=" + msgs[1].ID)
	if status != 200 || !strings.Contains(page, "<iframe") || !strings.Contains(page, `srcdoc="&lt;html&gt;&lt;head&gt;&lt;base target=&#34;_blank&#34;&gt;`) ||
		!strings.Contains(page, "https://confirm.example/?t=x&amp;y=1") || !strings.Contains(page, "plain body") {
		t.Errorf("message page:\n%s", page)
	}

	status, ctype, page := get("/?id=" + msgs[1].ID + "&part=html")
	if status != 200 || !strings.HasPrefix(ctype, "text/html") || !strings.Contains(page, `href="https://confirm.example/?t=x&y=1"`) {
		t.Errorf("html part: %d %s %s", status, ctype, page)
	}
	status, ctype, page = get("/?id=" + msgs[0].ID + "&part=text")
	if status != 200 || !strings.HasPrefix(ctype, "text/plain") || page != "plain body" {
		t.Errorf("text part: %d %s %q", status, ctype, page)
	}
	if status, _, _ := get("/?id=nope"); status != 404 {
		t.Errorf("unknown id: %d, want 404", status)
	}
}
