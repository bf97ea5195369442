package local_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/confirm"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/woocommerce"
)

// Hostile requests to the running service (issue 6): each gets a definite answer and stores
// nothing. The tests print a table of request → status → stored.
//
// Content type: the Webhook function does not look at Content-Type. WooCommerce always sends
// application/json, but what authenticates a delivery is the HMAC over the raw body bytes
// (SPEC §2.1); a signed, valid order body under another content type is accepted and stored.
// Refusing it would only give a proxy that rewrites the header a way to lose deliveries that
// WooCommerce never retries. A body that really is multipart (the order wrapped in a form part)
// is not an order and gets 400.

// hostileRow is one line of the printed table.
type hostileRow struct {
	request string
	status  int
	stored  string
}

func logHostileTable(t *testing.T, title string, rows []hostileRow) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%-64s  %-6s  %s\n", title, "request", "status", "stored?")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-64s  %-6d  %s\n", r.request, r.status, r.stored)
	}
	t.Log(b.String())
}

// hostileRaw sends head (request line and headers, without the blank line) and body over a
// plain TCP connection and reads the answer. With cut, only the first cut bytes of the body
// are sent and the connection's write side is closed (a body cut in transit). The request
// is written concurrently with reading, since a server may answer before reading it all.
func hostileRaw(t *testing.T, st *local.Stack, head string, body []byte, cut int) (int, string) {
	t.Helper()
	u, _ := url.Parse(st.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() {
		w := bufio.NewWriter(conn)
		_, _ = w.WriteString(strings.ReplaceAll(head, "\n", "\r\n") + "\r\n\r\n")
		if cut >= 0 && cut < len(body) {
			body = body[:cut]
		}
		_, _ = w.Write(body)
		_ = w.Flush()
		if cut >= 0 {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// hostileHead is the head of an order.created delivery of body to st, signed with sig (the
// body's signature when sig is empty).
func hostileHead(st *local.Stack, body []byte, contentLength int, sig string, extra ...string) string {
	if sig == "" {
		sig = woocommerce.Sign([]byte(local.SimWebhookSecret), body)
	}
	h := []string{
		"POST /Webhook HTTP/1.1",
		"Host: " + strings.TrimPrefix(st.URL, "http://"),
		"Content-Type: application/json",
		fmt.Sprintf("Content-Length: %d", contentLength),
		"X-WC-Webhook-Topic: order.created",
		"X-WC-Webhook-Source: " + st.Config.WCURL + "/",
		"X-WC-Webhook-Signature: " + sig,
		"Connection: close",
	}
	return strings.Join(append(h, extra...), "\n")
}

func TestHostileWebhookRequests(t *testing.T) {
	t.Parallel()
	body := fixture(t)
	half := body[:len(body)/2]
	var multipartBody bytes.Buffer
	fmt.Fprintf(&multipartBody, "--xyz\r\nContent-Disposition: form-data; name=\"order\"\r\nContent-Type: application/json\r\n\r\n%s\r\n--xyz--\r\n", body)

	type send func(t *testing.T, st *local.Stack) (int, string)
	post := func(d delivery) send {
		return func(t *testing.T, st *local.Stack) (int, string) { return deliver(t, st, d) }
	}
	request := func(method string, body io.Reader, header map[string]string) send {
		return func(t *testing.T, st *local.Stack) (int, string) {
			req, _ := http.NewRequest(method, st.URL+"/Webhook", body)
			for k, v := range header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("405 with Allow %q, want POST", resp.Header.Get("Allow"))
			}
			return resp.StatusCode, string(b)
		}
	}
	signedHeaders := func(signed []byte) map[string]string {
		return map[string]string{
			"Content-Type":           "application/json",
			"X-WC-Webhook-Topic":     "order.created",
			"X-WC-Webhook-Signature": woocommerce.Sign([]byte(local.SimWebhookSecret), signed),
		}
	}
	tests := []struct {
		name       string
		send       send
		wantStatus int
		wantBody   string
		stored     bool
	}{
		// Go's server allows MaxHeaderBytes (1 MiB) plus 4 KiB of slack: a header of exactly
		// 1 MiB is still read (and is a wrong signature); past the slack the answer is 431.
		{"X-WC-Webhook-Signature of 1 MiB + 8 KiB", func(t *testing.T, st *local.Stack) (int, string) {
			return hostileRaw(t, st, hostileHead(st, body, len(body), strings.Repeat("A", 1<<20+8<<10)), body, -1)
		}, http.StatusRequestHeaderFieldsTooLarge, "Request Header Fields Too Large", false},
		{"X-WC-Webhook-Signature of exactly 1 MiB (within the slack)", func(t *testing.T, st *local.Stack) (int, string) {
			return hostileRaw(t, st, hostileHead(st, body, len(body), strings.Repeat("A", 1<<20)), body, -1)
		}, http.StatusUnauthorized, "does not match", false},
		{"18000 small headers (~1.1 MiB in all)", func(t *testing.T, st *local.Stack) (int, string) {
			var extra []string
			for i := range 18000 {
				extra = append(extra, fmt.Sprintf("X-Pad-%05d: %s", i, strings.Repeat("p", 50)))
			}
			return hostileRaw(t, st, hostileHead(st, body, len(body), "", extra...), body, -1)
		}, http.StatusRequestHeaderFieldsTooLarge, "Request Header Fields Too Large", false},
		{"512 KiB wrong signature (under the header limit)", post(delivery{topic: "order.created", body: body,
			header: map[string]string{"X-WC-Webhook-Signature": strings.Repeat("A", 512<<10)}}), http.StatusUnauthorized, "does not match", false},
		{"Content-Type text/plain, signed order body", post(delivery{topic: "order.created", body: body,
			header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}}), http.StatusOK, `"outcome":"applied"`, true},
		{"Content-Type multipart/form-data, signed order body", post(delivery{topic: "order.created", body: body,
			header: map[string]string{"Content-Type": "multipart/form-data; boundary=xyz"}}), http.StatusOK, `"outcome":"applied"`, true},
		{"real multipart body wrapping the order, signed", post(delivery{topic: "order.created", body: multipartBody.Bytes(),
			header: map[string]string{"Content-Type": "multipart/form-data; boundary=xyz"}}), http.StatusBadRequest, "not a WooCommerce order", false},
		{"no Content-Type, form-encoded ping shape with a topic", post(delivery{topic: "order.created", body: []byte("webhook_id=3"),
			header: map[string]string{"Content-Type": ""}}), http.StatusBadRequest, "not a WooCommerce order", false},
		{"order JSON cut in half, signed", post(delivery{topic: "order.created", body: half}), http.StatusBadRequest, "not a WooCommerce order", false},
		{"order.deleted JSON cut in half, signed", post(delivery{topic: "order.deleted", body: []byte(`{"id":7`)}), http.StatusBadRequest, "not JSON", false},
		{"order JSON cut in half, signature of the whole", post(delivery{topic: "order.created", body: half, sign: body}), http.StatusUnauthorized, "does not match", false},
		{"body cut in transit (Content-Length > bytes sent)", func(t *testing.T, st *local.Stack) (int, string) {
			return hostileRaw(t, st, hostileHead(st, body, len(body), ""), body, len(body)/2)
		}, http.StatusBadRequest, "could not read the body", false},
		{"valid signature over a different body", post(delivery{topic: "order.created", body: body,
			sign: withOrder(body, `"status":"processing"`, `"status":"cancelled"`)}), http.StatusUnauthorized, "does not match", false},
		{"valid signature, two signature headers (second wrong)", func(t *testing.T, st *local.Stack) (int, string) {
			return hostileRaw(t, st, hostileHead(st, body, len(body), "", "X-WC-Webhook-Signature: AAAA"), body, -1)
		}, http.StatusOK, `"outcome":"applied"`, true},
		{"chunked body over 2 MiB, signed", request(http.MethodPost, io.MultiReader(strings.NewReader(`{"id":1,"pad":"`),
			strings.NewReader(strings.Repeat("x", 2<<20)), strings.NewReader(`"}`)), signedHeaders(nil)), http.StatusRequestEntityTooLarge, "2 MiB", false},
		{"GET /Webhook", request(http.MethodGet, nil, nil), http.StatusMethodNotAllowed, "POST", false},
		{"PUT /Webhook, signed order body", request(http.MethodPut, bytes.NewReader(body), signedHeaders(body)), http.StatusMethodNotAllowed, "POST", false},
	}
	var mu sync.Mutex
	rows := make([]hostileRow, len(tests))
	t.Run("requests", func(t *testing.T) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				st := newStack(t, func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
				code, resp := tt.send(t, st)
				n := storedDocs(t, st)
				mu.Lock()
				rows[i] = hostileRow{tt.name, code, fmt.Sprintf("%v (%d docs)", n > 0, n)}
				mu.Unlock()
				if code != tt.wantStatus || !strings.Contains(resp, tt.wantBody) {
					t.Errorf("answered %d %.200q; want %d containing %q", code, resp, tt.wantStatus, tt.wantBody)
				}
				if (n > 0) != tt.stored {
					t.Errorf("%d documents stored; want stored=%v", n, tt.stored)
				}
				if tt.stored {
					// What was accepted is the signed order, stored as sent.
					if rec := record(t, st, 727); rec.Raw != string(body) {
						t.Errorf("stored body differs from the signed one")
					}
				}
			})
		}
	})
	logHostileTable(t, "hostile webhook requests", rows)
}

// hostileLinkRE finds the links of an email.
var hostileLinkRE = regexp.MustCompile(`href="([^"]*)"`)

// hostileToken waits for the confirmation email of order number and returns the token its
// Confirm link carries.
func hostileToken(t *testing.T, st *local.Stack, number string) string {
	t.Helper()
	var tok string
	waitFor(t, "the confirmation email of #"+number, 30*time.Second, func() bool {
		for _, m := range st.Mail.Messages() {
			if !strings.Contains(m.Subject, "#"+number+":") {
				continue
			}
			for _, l := range hostileLinkRE.FindAllStringSubmatch(m.HTML, -1) {
				href := html.UnescapeString(l[1])
				if !strings.HasPrefix(href, st.Config.ConfirmURL+"?") {
					continue
				}
				u, err := url.Parse(href)
				if err != nil {
					t.Fatal(err)
				}
				tok = u.Query().Get("t")
				return tok != ""
			}
		}
		return false
	})
	return tok
}

// hostileConfirm sends a GET (?t=token) or a POST (form t=token) to the Confirm function
// and returns the status, the main element's id and the page.
func hostileConfirm(t *testing.T, st *local.Stack, method, token string, form url.Values) (int, string, string) {
	t.Helper()
	var resp *http.Response
	var err error
	switch method {
	case http.MethodGet:
		resp, err = http.Get(st.Config.ConfirmURL + "?" + url.Values{"t": {token}}.Encode())
	case http.MethodPost:
		if form == nil {
			form = url.Values{"t": {token}}
		}
		resp, err = http.PostForm(st.Config.ConfirmURL, form)
	case "POST-URL":
		resp, err = http.Post(st.Config.ConfirmURL+"?"+url.Values{"t": {token}}.Encode(), "application/x-www-form-urlencoded", nil)
	default:
		req, _ := http.NewRequest(method, st.Config.ConfirmURL+"?"+url.Values{"t": {token}}.Encode(), nil)
		resp, err = http.DefaultClient.Do(req)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	id := ""
	if m := regexp.MustCompile(`<main id="([^"]*)"`).FindStringSubmatch(page); m != nil {
		id = m[1]
	}
	return resp.StatusCode, id, page
}

// hostileSettled waits until the stored documents and the records of orders ids stop
// changing, and returns the number of documents.
func hostileSettled(t *testing.T, st *local.Stack, ids ...int64) int {
	t.Helper()
	type state struct {
		n    int
		recs []*enrollment.OrderRecord
	}
	read := func() state {
		st.Shop.Wait()
		s := state{n: storedDocs(t, st)}
		for _, id := range ids {
			s.recs = append(s.recs, record(t, st, id))
		}
		return s
	}
	prev := read()
	for range 40 {
		time.Sleep(500 * time.Millisecond)
		cur := read()
		if reflect.DeepEqual(cur, prev) {
			return cur.n
		}
		prev = cur
	}
	t.Fatal("the stored documents keep changing")
	return 0
}

func TestHostileConfirmRequests(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	jobsSeen := watchJobs(t, st)
	specA := bacsOrder(course("Intro to Python", coursePy))
	specA.Number = "HOSTILE-A"
	specB := bacsOrder(course("Go for Backend Developers", courseGo))
	specB.Number = "HOSTILE-B"
	idA := st.Shop.CreateOrder(specA)
	idB := st.Shop.CreateOrder(specB)
	tokA := hostileToken(t, st, "HOSTILE-A")
	tokB := hostileToken(t, st, "HOSTILE-B")
	docs := hostileSettled(t, st, idA, idB)
	recA, recB := record(t, st, idA), record(t, st, idB)

	var rows []hostileRow
	unchanged := func(t *testing.T) string {
		t.Helper()
		n := storedDocs(t, st)
		a, b := record(t, st, idA), record(t, st, idB)
		calls := len(st.LMS.Log.Calls("enroll"))
		if n != docs || !reflect.DeepEqual(a, recA) || !reflect.DeepEqual(b, recB) || calls != 0 {
			t.Errorf("something changed: %d docs (was %d), order records equal: %v/%v, %d LMS enroll calls",
				n, docs, reflect.DeepEqual(a, recA), reflect.DeepEqual(b, recB), calls)
			return "CHANGED"
		}
		return "no (records unchanged, 0 enroll calls)"
	}

	otherKey := confirm.NewSigner([]byte("another-signing-key-0123456789abcdef"), st.Config.ConfirmLinkTTL)
	payloadA, _, _ := strings.Cut(tokA, ".")
	_, macB, _ := strings.Cut(tokB, ".")
	cases := []struct {
		name, method, token string
		form                url.Values
		wantStatus          int
		wantPage            string
		wantText, notText   string
	}{
		{"GET B's token (order-bound: shows B)", http.MethodGet, tokB, nil, http.StatusOK, "summary", "#HOSTILE-B", "HOSTILE-A"},
		{"GET token signed for B by the service", http.MethodGet, st.App.Signer.Sign(idB, time.Now()), nil, http.StatusOK, "summary", "#HOSTILE-B", "HOSTILE-A"},
		{"GET A's token signed with another key", http.MethodGet, otherKey.Sign(idA, time.Now()), nil, http.StatusForbidden, "forged", "", "HOSTILE"},
		{"POST A's token signed with another key", http.MethodPost, otherKey.Sign(idA, time.Now()), nil, http.StatusForbidden, "forged", "", "HOSTILE"},
		{"POST A's payload with B's MAC", http.MethodPost, payloadA + "." + macB, nil, http.StatusForbidden, "forged", "", "HOSTILE"},
		{"POST malformed token", http.MethodPost, "not-a-token", nil, http.StatusBadRequest, "invalid", "", "HOSTILE"},
		{"GET A's token cut short", http.MethodGet, tokA[:len(tokA)-5], nil, http.StatusBadRequest, "invalid", "", "HOSTILE"},
		{"POST A's token with padding added", http.MethodPost, tokA + "=", nil, http.StatusBadRequest, "invalid", "", "HOSTILE"},
		{"POST without a token", http.MethodPost, "", url.Values{}, http.StatusBadRequest, "invalid", "", "HOSTILE"},
		{"POST 100 KiB form", http.MethodPost, "", url.Values{"t": {tokA}, "pad": {strings.Repeat("x", 100<<10)}}, http.StatusRequestEntityTooLarge, "", "", "HOSTILE"},
		{"POST A's token expired", http.MethodPost, st.App.Signer.Sign(idA, time.Now().Add(-st.Config.ConfirmLinkTTL-time.Hour)), nil, http.StatusGone, "expired", "#HOSTILE-A", ""},
		{"POST token for an unknown order", http.MethodPost, st.App.Signer.Sign(987654, time.Now()), nil, http.StatusNotFound, "", "", "HOSTILE"},
		{"DELETE with A's token", http.MethodDelete, tokA, nil, http.StatusMethodNotAllowed, "", "", "HOSTILE"},
		// SPEC §2.5b: a POST's token travels in the body; one in the URL (where request
		// logs keep it) confirms nothing.
		{"POST A's token in the URL, not the body", "POST-URL", tokA, nil, http.StatusBadRequest, "invalid", "", "HOSTILE"},
	}
	for _, c := range cases {
		code, page, body := hostileConfirm(t, st, c.method, c.token, c.form)
		if code != c.wantStatus || (c.wantPage != "" && page != c.wantPage) {
			t.Errorf("%s: HTTP %d main#%s; want %d main#%s", c.name, code, page, c.wantStatus, c.wantPage)
		}
		if c.wantText != "" && !strings.Contains(body, c.wantText) {
			t.Errorf("%s: the page does not name %s", c.name, c.wantText)
		}
		if c.notText != "" && strings.Contains(body, c.notText) {
			t.Errorf("%s: the page names %s", c.name, c.notText)
		}
		time.Sleep(200 * time.Millisecond) // anything queued would have started by now
		rows = append(rows, hostileRow{c.name, code, unchanged(t)})
	}

	// The genuine confirmation, with a forged first X-Forwarded-For hop (the client's to
	// write; Cloud Run's front end appends the address it saw), then the same POST replayed.
	req, _ := http.NewRequest(http.MethodPost, st.Config.ConfirmURL, strings.NewReader(url.Values{"t": {tokA}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.66, 198.51.100.23")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	confirmedPage, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(confirmedPage), `<main id="confirmed"`) {
		t.Fatalf("genuine POST: HTTP %d; want 200 main#confirmed:\n%s", resp.StatusCode, confirmedPage)
	}
	if ip := record(t, st, idA).Confirmed.IP; ip != "198.51.100.23" {
		t.Errorf("recorded IP %q; want the front end's hop 198.51.100.23, not the forged 203.0.113.66", ip)
	}
	rows = append(rows, hostileRow{"POST A's token, X-Forwarded-For: forged, real", http.StatusOK, "yes: IP recorded is the last hop"})
	waitFor(t, "order A completed", 30*time.Second, func() bool { return status(st, idA) == "completed" })
	waitFor(t, "order A's completion recorded", 30*time.Second, func() bool { return record(t, st, idA).Completion.Noted })
	hostileSettled(t, st, idA, idB)
	calls := len(st.LMS.Log.Calls("enroll"))
	rows = append(rows, hostileRow{"POST A's genuine token (first time)", http.StatusOK, fmt.Sprintf("yes: confirmed, %d enroll call(s)", calls)})
	if calls != 1 {
		t.Errorf("%d LMS enroll calls after the confirmation, want 1", calls)
	}
	before := record(t, st, idA)
	docs = storedDocs(t, st)
	for i := range 3 {
		code, page, body := hostileConfirm(t, st, http.MethodPost, tokA, nil)
		if code != http.StatusOK || page != "already-confirmed" || !strings.Contains(body, "#HOSTILE-A") {
			t.Errorf("replay %d: HTTP %d main#%s; want 200 main#already-confirmed naming #HOSTILE-A", i+1, code, page)
		}
		time.Sleep(time.Second)
		st.Shop.Wait()
		after := record(t, st, idA)
		// A replay rewrites the record in its transaction (updatedAt moves); nothing else may.
		after.UpdatedAt = before.UpdatedAt
		n, c := storedDocs(t, st), len(st.LMS.Log.Calls("enroll"))
		stored := fmt.Sprintf("no (record unchanged, %d enroll call(s) in all)", c)
		if !reflect.DeepEqual(after, before) || n != docs || c != 1 {
			t.Errorf("replay %d changed something: record equal %v (%s), %d docs (was %d), %d enroll calls",
				i+1, reflect.DeepEqual(after, before), recordDiff(before, after), n, docs, c)
			stored = "CHANGED"
		}
		rows = append(rows, hostileRow{fmt.Sprintf("POST A's genuine token again (replay %d)", i+1), code, stored})
	}
	var enrollJobs []int64
	for _, j := range jobsSeen.jobs(t, 2*time.Second) {
		if j.Kind == enrollment.JobEnroll {
			enrollJobs = append(enrollJobs, j.OrderID)
		}
	}
	if len(enrollJobs) != 1 || enrollJobs[0] != idA {
		t.Errorf("enroll jobs published for orders %v; want exactly one, for order A (%d)", enrollJobs, idA)
	}
	if s := status(st, idB); s != "on-hold" {
		t.Errorf("order B is %q, want on-hold", s)
	}
	if rec := record(t, st, idB); rec.Confirmed != nil || rec.PaidBy != "" {
		t.Errorf("order B: confirmed %+v, paid by %q", rec.Confirmed, rec.PaidBy)
	}
	logHostileTable(t, "hostile confirm requests", rows)
}

// recordDiff names the fields of two order records that differ.
func recordDiff(a, b *enrollment.OrderRecord) string {
	va, vb := reflect.ValueOf(*a), reflect.ValueOf(*b)
	var out []string
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, fmt.Sprintf("%s: %+v → %+v", va.Type().Field(i).Name, va.Field(i).Interface(), vb.Field(i).Interface()))
		}
	}
	return strings.Join(out, "; ")
}

// A buyer's address written to add recipients or headers to the staff's reply (RFC 6068
// mailto: ?cc=…&subject=…) reaches the confirmation email as a link to that one address.
func TestHostileBuyerEmailInMailto(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	spec := bacsOrder(course("Intro to Python", coursePy))
	spec.Number = "HOSTILE-MAILTO"
	spec.Email = ptr("x?cc=other@evil.example&subject=hi@shop.example")
	st.Shop.CreateOrder(spec)
	hostileToken(t, st, "HOSTILE-MAILTO")
	var links []string
	for _, m := range st.Mail.Messages() {
		if !strings.Contains(m.Subject, "#HOSTILE-MAILTO:") {
			continue
		}
		for _, l := range hostileLinkRE.FindAllStringSubmatch(m.HTML, -1) {
			if href := html.UnescapeString(l[1]); strings.HasPrefix(href, "mailto:") {
				links = append(links, href)
			}
		}
	}
	if len(links) != 1 {
		t.Fatalf("mailto links %q, want one", links)
	}
	u, err := url.Parse(links[0])
	if err != nil {
		t.Fatal(err)
	}
	if u.RawQuery != "" || strings.ContainsAny(u.Opaque, "?&,") {
		t.Errorf("the staff email's mailto link %q adds headers or recipients", links[0])
	}
	logHostileTable(t, "hostile buyer email", []hostileRow{{"billing.email x?cc=other@evil.example&subject=…", http.StatusOK, "mailto: " + links[0]}})
}

// Hostile requests with Retry links (SPEC §2.5b): a token of one kind never does the other
// kind's work, and altered, foreign, expired or misplaced tokens change nothing. Order A waits
// for its bank transfer to be confirmed; order F is paid and its course failed.
func TestHostileRetryRequests(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	specA := bacsOrder(course("Intro to Python", coursePy))
	specA.Number = "HOSTILE-RA"
	specF := cardOrder(course("New course", "course-v1:ExampleX+NEW9+2026_T1"))
	specF.Number = "HOSTILE-RF"
	idA := st.Shop.CreateOrder(specA)
	idF := st.Shop.CreateOrder(specF)
	confirmA := hostileToken(t, st, "HOSTILE-RA")
	retryF := retryToken(t, st, failureEmail(t, st, "HOSTILE-RF"))
	waitFor(t, "F's failure note", 10*time.Second, func() bool { return strings.Contains(notes(st, idF), "enrollment failed") })
	docs := hostileSettled(t, st, idA, idF)
	recA, recF := record(t, st, idA), record(t, st, idF)
	jobsSeen := watchJobs(t, st)                   // from here on
	enrollCalls := len(st.LMS.Log.Calls("enroll")) // F's failed call

	var rows []hostileRow
	unchanged := func(t *testing.T) string {
		t.Helper()
		n := storedDocs(t, st)
		a, f := record(t, st, idA), record(t, st, idF)
		calls := len(st.LMS.Log.Calls("enroll"))
		if n != docs || !reflect.DeepEqual(a, recA) || !reflect.DeepEqual(f, recF) || calls != enrollCalls {
			t.Errorf("something changed: %d docs (was %d), A: %s, F: %s, %d LMS enroll calls (was %d)",
				n, docs, recordDiff(recA, a), recordDiff(recF, f), calls, enrollCalls)
			return "CHANGED"
		}
		return "no (records unchanged, no enroll call)"
	}

	otherKey := confirm.NewSigner([]byte("another-signing-key-0123456789abcdef"), st.Config.ConfirmLinkTTL)
	retryA := st.App.Signer.SignRetry(idA, time.Now())
	payloadF, _, _ := strings.Cut(retryF, ".")
	_, macA, _ := strings.Cut(retryA, ".")
	_, macConfirmA, _ := strings.Cut(confirmA, ".")
	// F's Retry payload with its kind byte set to "confirm", its MAC kept.
	asConfirm := func() string {
		p, _ := base64.RawURLEncoding.DecodeString(payloadF)
		p[0] = byte(confirm.KindConfirm)
		return base64.RawURLEncoding.EncodeToString(p) + "." + macConfirmA
	}()
	cases := []struct {
		name, method, token string
		form                url.Values
		wantStatus          int
		wantPage            string
		wantText, notText   string
	}{
		{"GET F's Retry link (shows the failed line)", http.MethodGet, retryF, nil, http.StatusOK, "retry-summary", "#HOSTILE-RF", "HOSTILE-RA"},
		{"POST a Retry token for A (unpaid: nothing to retry, not confirmed)", http.MethodPost, retryA, nil, http.StatusOK, "nothing-to-retry", "#HOSTILE-RA", "HOSTILE-RF"},
		{"POST a confirm token for F (paid: handled, not retried)", http.MethodPost, st.App.Signer.Sign(idF, time.Now()), nil, http.StatusOK, "handled", "#HOSTILE-RF", ""},
		{"POST F's Retry payload as a confirm token", http.MethodPost, asConfirm, nil, http.StatusBadRequest, "invalid", "", "HOSTILE"},
		{"POST F's Retry payload with A's Retry MAC", http.MethodPost, payloadF + "." + macA, nil, http.StatusForbidden, "forged", "", "HOSTILE"},
		{"POST F's Retry payload with A's confirm MAC", http.MethodPost, payloadF + "." + macConfirmA, nil, http.StatusForbidden, "forged", "", "HOSTILE"},
		{"POST a Retry token for F signed with another key", http.MethodPost, otherKey.SignRetry(idF, time.Now()), nil, http.StatusForbidden, "forged", "", "HOSTILE"},
		{"POST F's Retry token expired", http.MethodPost, st.App.Signer.SignRetry(idF, time.Now().Add(-st.Config.ConfirmLinkTTL-time.Hour)), nil, http.StatusGone, "expired", "#HOSTILE-RF", ""},
		{"POST a Retry token for an unknown order", http.MethodPost, st.App.Signer.SignRetry(987654, time.Now()), nil, http.StatusNotFound, "not-found", "", "HOSTILE"},
		{"POST F's Retry token cut short", http.MethodPost, retryF[:len(retryF)-1], nil, http.StatusBadRequest, "invalid", "", "HOSTILE"},
		{"POST F's Retry token in the URL, not the body", "POST-URL", retryF, nil, http.StatusBadRequest, "invalid", "", "HOSTILE"},
		{"POST 100 KiB form with F's Retry token", http.MethodPost, "", url.Values{"t": {retryF}, "pad": {strings.Repeat("x", 100<<10)}}, http.StatusRequestEntityTooLarge, "", "", "HOSTILE"},
	}
	for _, c := range cases {
		code, page, body := hostileConfirm(t, st, c.method, c.token, c.form)
		if code != c.wantStatus || (c.wantPage != "" && page != c.wantPage) {
			t.Errorf("%s: HTTP %d main#%s; want %d main#%s", c.name, code, page, c.wantStatus, c.wantPage)
		}
		if c.wantText != "" && !strings.Contains(body, c.wantText) {
			t.Errorf("%s: the page does not name %s", c.name, c.wantText)
		}
		if c.notText != "" && strings.Contains(body, c.notText) {
			t.Errorf("%s: the page names %s", c.name, c.notText)
		}
		time.Sleep(200 * time.Millisecond) // anything queued would have started by now
		rows = append(rows, hostileRow{c.name, code, unchanged(t)})
	}
	if js := jobsSeen.jobs(t, 2*time.Second); len(js) != 0 {
		t.Errorf("hostile Retry requests published jobs %+v", js)
	}

	// The genuine Retry POST, then the same POST replayed: one retry job in all.
	code, page, _ := hostileConfirm(t, st, http.MethodPost, retryF, nil)
	if code != http.StatusOK || page != "retry-queued" {
		t.Fatalf("genuine Retry POST: HTTP %d main#%s", code, page)
	}
	rows = append(rows, hostileRow{"POST F's genuine Retry token (first time)", code, "yes: retry queued"})
	hostileSettled(t, st, idA, idF)
	before := record(t, st, idF)
	docs = storedDocs(t, st)
	for i := range 3 {
		code, page, body := hostileConfirm(t, st, http.MethodPost, retryF, nil)
		if code != http.StatusOK || page != "already-retried" || !strings.Contains(body, "#HOSTILE-RF") {
			t.Errorf("replay %d: HTTP %d main#%s; want 200 main#already-retried naming #HOSTILE-RF", i+1, code, page)
		}
		time.Sleep(time.Second)
		after := record(t, st, idF)
		stored := "no (record unchanged)"
		if !reflect.DeepEqual(after, before) || storedDocs(t, st) != docs {
			t.Errorf("replay %d changed something: %s", i+1, recordDiff(before, after))
			stored = "CHANGED"
		}
		rows = append(rows, hostileRow{fmt.Sprintf("POST F's genuine Retry token again (replay %d)", i+1), code, stored})
	}
	var retries, enrolls []int64
	for _, j := range jobsSeen.jobs(t, 2*time.Second) {
		switch j.Kind {
		case enrollment.JobRetry:
			retries = append(retries, j.OrderID)
		case enrollment.JobEnroll:
			enrolls = append(enrolls, j.OrderID)
		}
	}
	if !reflect.DeepEqual(retries, []int64{idF}) || !reflect.DeepEqual(enrolls, []int64{idF}) {
		t.Errorf("retry jobs for orders %v, enroll jobs for %v; want one each, for order F (%d)", retries, enrolls, idF)
	}
	if rec := record(t, st, idA); rec.Confirmed != nil || rec.PaidBy != "" || len(rec.Actions) != 0 || status(st, idA) != "on-hold" {
		t.Errorf("order A: confirmed %+v, paid by %q, actions %+v", rec.Confirmed, rec.PaidBy, rec.Actions)
	}
	logHostileTable(t, "hostile Retry requests", rows)
}
