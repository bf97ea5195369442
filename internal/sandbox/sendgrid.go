package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	netmail "net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SendGrid simulates SendGrid's v3 mail send API (protocols.md §D), as sendgrid-go reaches it
// with a custom host:
//
//   - POST /v3/mail/send only (route "send"); any other method or path is 404 with SendGrid's
//     JSON error body.
//   - A body over 20 MiB is 413 with the HTML page of SendGrid's nginx front, before anything
//     else is looked at.
//   - Authorization must be "Bearer <key>": missing is 401 "authorization required", anything
//     else 401 "The provided authorization grant is invalid, expired, or revoked".
//   - Bodies that are not JSON are 400 "Bad Request"; fields of the wrong JSON type are 400
//     "Invalid type. Expected: …, given: …". Then the body is validated as SendGrid does, every
//     problem reported at once in {"errors":[{"message","field","help"}]} with SendGrid's
//     wording: from.email required and valid; at least one personalization, each with at
//     least one valid `to`, no address twice in one personalization; subject required unless
//     every personalization has one (or template_id is set); content required unless
//     template_id, each block with a type and a non-empty value, text/plain before text/html
//     before anything else.
//   - mail_settings.sandbox_mode.enable true: 200 with an empty body, nothing kept.
//   - Otherwise 202 with an empty body and an X-Message-Id header; each personalization is
//     kept as one SentMessage (Messages, MailboxHandler).
//
// Faults on route "send" apply after the size check and before authentication.
type SendGrid struct {
	Log    CallLog
	Faults Faults

	apiKey string

	mu   sync.Mutex
	msgs []SentMessage
}

// SentMessage is one email the simulated SendGrid accepted for delivery: one personalization
// of a request.
type SentMessage struct {
	ID       string // the X-Message-Id, with ".N" for the Nth personalization after the first
	From     string // the sender's address
	FromName string
	To       []string // the addresses of the personalization's `to`
	Subject  string   // the personalization's subject, else the message's
	Text     string   // the text/plain content, "" when none
	HTML     string   // the text/html content, "" when none
	Received time.Time
}

// NewSendGrid returns a simulated SendGrid that accepts apiKey.
func NewSendGrid(apiKey string) *SendGrid { return &SendGrid{apiKey: apiKey} }

// sendGridMaxBody is the largest request SendGrid takes.
const sendGridMaxBody = 20 << 20

// Messages returns the accepted messages, oldest first.
func (s *SendGrid) Messages() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

func (s *SendGrid) message(id string) (SentMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.ID == id {
			return m, true
		}
	}
	return SentMessage{}, false
}

// sgError is one entry of SendGrid's {"errors":[…]} body; Field and Help are null when nil.
type sgError struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}

func sgField(f string) *string { return &f }

const sgHelpBase = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"

func sgHelp(anchor string) *string { return sgField(sgHelpBase + anchor) }

// sgRequest is the part of a mail send body the simulation looks at.
type sgRequest struct {
	Personalizations []struct {
		To      []sgAddress `json:"to"`
		CC      []sgAddress `json:"cc"`
		BCC     []sgAddress `json:"bcc"`
		Subject string      `json:"subject"`
	} `json:"personalizations"`
	From    *sgAddress `json:"from"`
	Subject string     `json:"subject"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
	TemplateID   string `json:"template_id"`
	MailSettings *struct {
		SandboxMode *struct {
			Enable bool `json:"enable"`
		} `json:"sandbox_mode"`
	} `json:"mail_settings"`
}

type sgAddress struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

func (s *SendGrid) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &sgRecorder{ResponseWriter: w}
	body, route := s.serve(rec, r)
	s.Log.Add(Call{Route: route, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Header: r.Header.Clone(), Body: body, Status: rec.status})
}

// serve answers r and returns the body it read and the route it matched ("" for none).
func (s *SendGrid) serve(w http.ResponseWriter, r *http.Request) ([]byte, string) {
	if r.Method != http.MethodPost || strings.TrimRight(r.URL.Path, "/") != "/v3/mail/send" {
		sgWriteErrors(w, http.StatusNotFound, sgError{Message: "not found"})
		return nil, ""
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, sendGridMaxBody+1))
	if err != nil {
		sgWriteErrors(w, http.StatusBadRequest, sgError{Message: "Bad Request"})
		return body, "send"
	}
	if len(body) > sendGridMaxBody {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = io.WriteString(w, "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n"+
			"<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
		return body[:1024], "send" // keep the log small
	}
	if answered, _ := s.Faults.Apply(w, r, "send"); answered {
		return body, "send"
	}

	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		sgWriteErrors(w, http.StatusUnauthorized, sgError{Message: "authorization required"})
		return body, "send"
	case auth != "Bearer "+s.apiKey || s.apiKey == "":
		sgWriteErrors(w, http.StatusUnauthorized,
			sgError{Message: "The provided authorization grant is invalid, expired, or revoked"})
		return body, "send"
	}

	var req sgRequest
	if err := json.Unmarshal(body, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			sgWriteErrors(w, http.StatusBadRequest, sgError{
				Message: fmt.Sprintf("Invalid type. Expected: %s, given: %s.", sgJSONType(te), te.Value),
				Field:   sgField(te.Field), Help: sgHelp(""),
			})
			return body, "send"
		}
		sgWriteErrors(w, http.StatusBadRequest, sgError{Message: "Bad Request"})
		return body, "send"
	}
	if errs := sgValidate(&req); len(errs) > 0 {
		sgWriteErrors(w, http.StatusBadRequest, errs...)
		return body, "send"
	}
	if req.MailSettings != nil && req.MailSettings.SandboxMode != nil && req.MailSettings.SandboxMode.Enable {
		w.WriteHeader(http.StatusOK)
		return body, "send"
	}

	id := sgMessageID()
	now := time.Now()
	var text, html string
	for _, c := range req.Content {
		switch {
		case c.Type == "text/plain" && text == "":
			text = c.Value
		case c.Type == "text/html" && html == "":
			html = c.Value
		}
	}
	s.mu.Lock()
	for i, p := range req.Personalizations {
		m := SentMessage{ID: id, From: req.From.Email, FromName: req.From.Name, Subject: req.Subject,
			Text: text, HTML: html, Received: now}
		if i > 0 {
			m.ID = id + "." + strconv.Itoa(i)
		}
		if p.Subject != "" {
			m.Subject = p.Subject
		}
		for _, a := range p.To {
			m.To = append(m.To, a.Email)
		}
		s.msgs = append(s.msgs, m)
	}
	s.mu.Unlock()
	w.Header().Set("X-Message-Id", id)
	w.WriteHeader(http.StatusAccepted)
	return body, "send"
}

// sgValidate checks a mail send body as SendGrid does and returns every problem.
func sgValidate(req *sgRequest) []sgError {
	var errs []sgError
	if req.From == nil || strings.TrimSpace(req.From.Email) == "" {
		errs = append(errs, sgError{
			Message: `The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.  e.g. {"email" : "example@example.com"}  or {"email" : "example@example.com", "name" : "Example Recipient"}.`,
			Field:   sgField("from.email"), Help: sgHelp("#message.from"),
		})
	} else if !sgValidAddress(req.From.Email) {
		errs = append(errs, sgError{Message: "Does not contain a valid address.",
			Field: sgField("from.email"), Help: sgHelp("#message.from")})
	}

	if len(req.Personalizations) == 0 {
		errs = append(errs, sgError{
			Message: "The personalizations field is required and must have at least one personalization.",
			Field:   sgField("personalizations"), Help: sgHelp("#-Personalizations-Errors"),
		})
	}
	everyHasSubject := len(req.Personalizations) > 0
	for i, p := range req.Personalizations {
		if p.Subject == "" {
			everyHasSubject = false
		}
		if len(p.To) == 0 {
			errs = append(errs, sgError{
				Message: "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
				Field:   sgField(fmt.Sprintf("personalizations.%d.to", i)), Help: sgHelp("#message.personalizations.to"),
			})
		}
		seen := map[string]bool{}
		dup := ""
		for _, list := range []struct {
			name  string
			addrs []sgAddress
		}{{"to", p.To}, {"cc", p.CC}, {"bcc", p.BCC}} {
			for j, a := range list.addrs {
				if !sgValidAddress(a.Email) {
					errs = append(errs, sgError{Message: "Does not contain a valid address.",
						Field: sgField(fmt.Sprintf("personalizations.%d.%s.%d.email", i, list.name, j)),
						Help:  sgHelp("#message.personalizations." + list.name)})
					continue
				}
				key := strings.ToLower(strings.TrimSpace(a.Email))
				if seen[key] && dup == "" {
					dup = fmt.Sprintf("Each email address in the personalization block should be unique between to, cc, and bcc. We found the first duplicate instance of [%s] in the personalizations.%d.%s field.", a.Email, i, list.name)
				}
				seen[key] = true
			}
		}
		if dup != "" {
			errs = append(errs, sgError{Message: dup, Field: sgField(fmt.Sprintf("personalizations.%d", i)),
				Help: sgHelp("#-Personalizations-Errors")})
		}
	}

	if req.Subject == "" && !everyHasSubject && req.TemplateID == "" {
		errs = append(errs, sgError{
			Message: "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
			Field:   sgField("subject"), Help: sgHelp("#message.subject"),
		})
	}

	if len(req.Content) == 0 && req.TemplateID == "" {
		errs = append(errs, sgError{
			Message: "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.",
			Field:   sgField("content"), Help: sgHelp("#message.content"),
		})
	}
	rank := func(t string) int {
		switch t {
		case "text/plain":
			return 0
		case "text/html":
			return 1
		}
		return 2
	}
	ordered := true
	for i, c := range req.Content {
		if c.Type == "" {
			errs = append(errs, sgError{Message: "The content type must be a string at least one character in length.",
				Field: sgField(fmt.Sprintf("content.%d.type", i)), Help: sgHelp("#message.content.type")})
		}
		if c.Value == "" {
			errs = append(errs, sgError{Message: "The content value must be a string at least one character in length.",
				Field: sgField(fmt.Sprintf("content.%d.value", i)), Help: sgHelp("#message.content.value")})
		}
		if i > 0 && rank(c.Type) < rank(req.Content[i-1].Type) {
			ordered = false
		}
	}
	if !ordered {
		errs = append(errs, sgError{
			Message: "Following RFC 1341, section 7.2, if either text/html or text/plain are to be sent in your email: text/plain needs to be first, followed by text/html, followed by any other content.",
			Field:   sgField("content"), Help: nil,
		})
	}
	return errs
}

// sgValidAddress accepts a bare address (no display name) whose domain has a dot, as
// SendGrid does; "user@localhost" is refused.
func sgValidAddress(s string) bool {
	s = strings.TrimSpace(s)
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// sgJSONType names the JSON type Go expected in a type error.
func sgJSONType(te *json.UnmarshalTypeError) string {
	switch te.Type.Kind().String() {
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	case "string":
		return "string"
	case "bool":
		return "boolean"
	default:
		return "number"
	}
}

func sgWriteErrors(w http.ResponseWriter, status int, errs ...sgError) {
	b, _ := json.Marshal(map[string][]sgError{"errors": errs})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// sgMessageID makes an id shaped like SendGrid's X-Message-Id: 22 URL-safe characters.
func sgMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sgRecorder remembers the status a handler wrote.
type sgRecorder struct {
	http.ResponseWriter
	status int
}

func (r *sgRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *sgRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// MailboxHandler serves a small web mailbox of the accepted messages, for a person running
// the service locally: the list, newest first (GET ?), one message with its HTML part shown
// in a sandboxed frame whose links open in a new tab (GET ?id=ID), and the bare parts
// (GET ?id=ID&part=html or part=text). It uses only query parameters, so it works under any
// mount path.
func (s *SendGrid) MailboxHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		id := r.URL.Query().Get("id")
		if id == "" {
			msgs := s.Messages()
			slices.Reverse(msgs)
			sgRenderPage(w, http.StatusOK, "list", msgs)
			return
		}
		m, ok := s.message(id)
		if !ok {
			sgRenderPage(w, http.StatusNotFound, "missing", id)
			return
		}
		switch r.URL.Query().Get("part") {
		case "html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, m.HTML)
		case "text":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, m.Text)
		default:
			sgRenderPage(w, http.StatusOK, "message", struct {
				SentMessage
				Frame string
			}{m, sgFrameDoc(m.HTML)})
		}
	})
}

// sgFrameDoc makes links of an email's HTML open in a new tab: a frame may not show the pages
// they lead to (the Confirm page refuses to be framed).
func sgFrameDoc(html string) string {
	const base = `<base target="_blank">`
	lower := strings.ToLower(html)
	if i := strings.Index(lower, "<head>"); i >= 0 {
		return html[:i+len("<head>")] + base + html[i+len("<head>"):]
	}
	return base + html
}

func sgRenderPage(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := sgMailboxTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

var sgMailboxTemplates = template.Must(template.New("mailbox").Funcs(template.FuncMap{
	"join": strings.Join,
	"when": func(t time.Time) string { return t.Format("2006-01-02 15:04:05") },
	"page": func(title string, refresh bool) map[string]any {
		return map[string]any{"Title": title, "Refresh": refresh}
	},
}).Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="10">{{end}}
<title>{{.Title}} · simulated SendGrid</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1f2933}
header{background:#1f2933;color:#fff;padding:12px 20px}header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:1000px;margin:0 auto;padding:20px}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef0f3;font-size:13px}td a{color:#1a56db}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;background:#fff;padding:12px 16px;margin:0 0 16px}
dt{color:#5b6472}dd{margin:0}
iframe{width:100%;height:900px;border:1px solid #d5d9df;background:#fff}
pre{white-space:pre-wrap;background:#fff;padding:16px;border:1px solid #d5d9df}
.empty{color:#5b6472}
</style></head><body><header><a href="?">Simulated SendGrid · mailbox</a></header><main>{{end}}
{{define "foot"}}</main></body></html>{{end}}

{{define "list"}}{{template "head" (page "Mailbox" true)}}
{{if .}}<table>
<tr><th>Received</th><th>To</th><th>Subject</th></tr>
{{range .}}<tr><td>{{when .Received}}</td><td>{{join .To ", "}}</td><td><a href="?id={{.ID}}">{{if .Subject}}{{.Subject}}{{else}}(no subject){{end}}</a></td></tr>
{{end}}</table>
{{else}}<p class="empty">No messages yet. This page refreshes itself.</p>{{end}}
{{template "foot"}}{{end}}

{{define "message"}}{{template "head" (page .Subject false)}}
<p><a href="?">← All messages</a></p>
<dl>
<dt>Subject</dt><dd>{{.Subject}}</dd>
<dt>From</dt><dd>{{if .FromName}}{{.FromName}} &lt;{{.From}}&gt;{{else}}{{.From}}{{end}}</dd>
<dt>To</dt><dd>{{join .To ", "}}</dd>
<dt>Received</dt><dd>{{when .Received}}</dd>
<dt>Message id</dt><dd>{{.ID}}</dd>
<dt>Parts</dt><dd>{{if .HTML}}<a href="?id={{.ID}}&amp;part=html" target="_blank">HTML</a> {{end}}{{if .Text}}<a href="?id={{.ID}}&amp;part=text" target="_blank">text</a>{{end}}</dd>
</dl>
{{if .HTML}}<iframe title="HTML part" sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="{{.Frame}}"></iframe>{{end}}
{{if .Text}}<h2>Plain text</h2><pre>{{.Text}}</pre>{{end}}
{{template "foot"}}{{end}}

{{define "missing"}}{{template "head" (page "Not found" false)}}
<p>No message {{.}}. <a href="?">All messages</a></p>
{{template "foot"}}{{end}}
`))
