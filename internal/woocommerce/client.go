package woocommerce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// DefaultTimeout bounds every REST call when Config.Timeout is 0.
const DefaultTimeout = 20 * time.Second

// maxBody caps how much of a response the client reads.
const maxBody = 16 << 20

// Config says how to reach a shop's REST API (protocols.md B).
type Config struct {
	// BaseURL is the shop's home URL, e.g. https://shop.example.com (a subdirectory install
	// keeps its path). The API is under BaseURL + /wp-json/wc/v3/.
	BaseURL        string
	ConsumerKey    string
	ConsumerSecret string
	// HTTPClient sends the requests; http.DefaultClient when nil. The client never follows
	// redirects, whatever HTTPClient says (a redirected PUT would turn into a GET).
	HTTPClient *http.Client
	// Timeout bounds each call; DefaultTimeout when 0.
	Timeout time.Duration
	// Now is the clock for OAuth timestamps; time.Now when nil.
	Now func() time.Time
	// Log receives the one warning the client gives: that it switched to query-string keys.
	// slog.Default() when nil.
	Log *slog.Logger
}

// Client is the WooCommerce REST API v3 as the service uses it. Over https it authenticates
// with HTTP Basic (consumer key and secret), or with the keys in the query string once the
// shop has shown that the Authorization header does not reach it (see do); over plain http
// with OAuth 1.0a one-legged signatures in the query string, as WooCommerce requires
// (class-wc-rest-authentication.php).
type Client struct {
	cfg     Config
	base    *url.URL
	baseErr error
	hc      *http.Client
	now     func() time.Time
	log     *slog.Logger
	// queryAuth: the shop ignored Basic auth and accepted the keys in the query string
	// (see do); set once, for the client's life.
	queryAuth atomic.Bool
}

var _ enrollment.Shop = (*Client)(nil)

// New returns a client for the shop of cfg. A malformed BaseURL makes every call fail
// permanently.
func New(cfg Config) *Client {
	c := &Client{cfg: cfg, now: cfg.Now, log: cfg.Log}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.cfg.Timeout <= 0 {
		c.cfg.Timeout = DefaultTimeout
	}
	hc := http.DefaultClient
	if cfg.HTTPClient != nil {
		hc = cfg.HTTPClient
	}
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &noRedirect

	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	switch {
	case err != nil:
		c.baseErr = fmt.Errorf("woocommerce: shop URL %q: %w", cfg.BaseURL, err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		c.baseErr = fmt.Errorf("woocommerce: shop URL %q is not an http(s) URL", cfg.BaseURL)
	default:
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		u.RawQuery, u.Fragment = "", ""
		c.base = u
	}
	return c
}

// APIError is an answer of the shop that was not a success. Code and Message come from the
// WordPress REST error body {"code","message","data":{"status"}}; they are empty when the body
// was not one (an HTML page from a proxy, say), and Body then holds its start.
type APIError struct {
	Status   int
	Code     string
	Message  string
	Body     string // the start of a body that was not a WordPress error, else ""
	Location string // where a 3xx answer redirects to, without its query string
}

func (e *APIError) Error() string {
	switch {
	case e.Code != "" || e.Message != "":
		return fmt.Sprintf("shop answered %d %s: %s", e.Status, e.Code, e.Message)
	case e.Body != "":
		return fmt.Sprintf("shop answered %d (not a WooCommerce error): %q", e.Status, e.Body)
	default:
		return fmt.Sprintf("shop answered %d %s", e.Status, http.StatusText(e.Status))
	}
}

// Explain says what the answer means in the shop's people's words, quoting WooCommerce's
// own (SPEC §2.9).
func (e *APIError) Explain() *enrollment.Explained {
	ex := &enrollment.Explained{By: enrollment.ByShop, Status: e.Status, Said: e.Body}
	switch {
	case e.Code != "" && e.Message != "":
		ex.Said = e.Code + ": " + e.Message
	case e.Code != "" || e.Message != "":
		ex.Said = e.Code + e.Message
	}
	switch {
	case e.Status >= 300 && e.Status < 400:
		ex.Key, ex.Args, ex.Said = "shop.redirect", []any{e.Location}, ""
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		ex.Key = "shop.auth"
	case e.Status == http.StatusNotFound:
		ex.Key = "shop.not_found"
	case e.Status == http.StatusTooManyRequests:
		ex.Key = "shop.rate_limited"
	case e.Status >= 500:
		ex.Key = "shop.failed"
	default:
		ex.Key = "shop.rejected"
	}
	return ex
}

// Transient reports whether retrying later may succeed: 429 and 5xx.
func (e *APIError) Transient() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// CompleteOrder sets the order's status to completed (PUT /orders/{id}). WooCommerce then sends
// the customer its "completed order" email and fires order.updated.
func (c *Client) CompleteOrder(ctx context.Context, orderID int64) error {
	_, _, err := c.do(ctx, http.MethodPut, orderPath(orderID), nil, map[string]string{"status": enrollment.StatusCompleted})
	if err != nil {
		return fmt.Errorf("complete order %d: %w", orderID, err)
	}
	return nil
}

// AddNote adds a private note to the order (POST /orders/{id}/notes, customer_note false, so
// the customer is neither shown nor emailed it).
func (c *Client) AddNote(ctx context.Context, orderID int64, note string) error {
	body := struct {
		Note         string `json:"note"`
		CustomerNote bool   `json:"customer_note"`
	}{note, false}
	_, _, err := c.do(ctx, http.MethodPost, orderPath(orderID)+"/notes", nil, body)
	if err != nil {
		return fmt.Errorf("add note to order %d: %w", orderID, err)
	}
	return nil
}

// NewOrderRecipients reads the "New order" email recipients
// (GET /settings/email_new_order/recipient): the comma-separated value, trimmed, empties
// dropped. An empty setting (WooCommerce then mails the site admin) gives an empty list.
func (c *Client) NewOrderRecipients(ctx context.Context) ([]string, error) {
	body, _, err := c.do(ctx, http.MethodGet, "/settings/email_new_order/recipient", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("read new-order recipients: %w", err)
	}
	var setting struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(body, &setting); err != nil {
		return nil, enrollment.Permanent(fmt.Errorf("read new-order recipients: the answer is not a WooCommerce setting: %w", err))
	}
	var value string
	if len(setting.Value) > 0 && string(setting.Value) != "null" {
		if err := json.Unmarshal(setting.Value, &value); err != nil {
			return nil, enrollment.Permanent(fmt.Errorf("read new-order recipients: value %s is not a string", setting.Value))
		}
	}
	var out []string
	for _, s := range strings.Split(value, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// GetOrder reads an order as the v3 API shows it (GET /orders/{id}).
func (c *Client) GetOrder(ctx context.Context, orderID int64) (*enrollment.Order, error) {
	o, _, err := c.GetOrderRaw(ctx, orderID)
	return o, err
}

// GetOrderRaw is GetOrder that also returns the body as the shop sent it.
func (c *Client) GetOrderRaw(ctx context.Context, orderID int64) (*enrollment.Order, []byte, error) {
	body, _, err := c.do(ctx, http.MethodGet, orderPath(orderID), nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("get order %d: %w", orderID, err)
	}
	o, err := ParseOrder(body)
	if err != nil {
		return nil, nil, enrollment.Permanent(fmt.Errorf("get order %d: %w", orderID, err))
	}
	return o, body, nil
}

// RawOrder is one order of a listing with its JSON as the shop wrote it. Order is nil when
// the entry could not be read as an order (ParseOrder failed): Err says why and Ref is its
// "id" as the shop wrote it ("" when it has none).
type RawOrder struct {
	Order *enrollment.Order
	Raw   []byte
	Err   error
	Ref   string
}

// MaxPerPage is the largest page WooCommerce serves (per_page maximum 100).
const MaxPerPage = 100

// listDateLayout is how the client writes modified_after: UTC, with dates_are_gmt=true.
const listDateLayout = "2006-01-02T15:04:05"

// ListOrders lists orders modified after modifiedAfter (exclusive, to the second; zero means
// all), oldest change first: GET /orders?modified_after=…&dates_are_gmt=true&orderby=modified
// &order=asc&page=…&per_page=…. WooCommerce adds the id as a second sort key for modified, so
// pages are stable. perPage is clamped to 1…100; page starts at 1. totalPages is the shop's
// X-WP-TotalPages. An entry that is not an order the service can read does not fail the
// listing: it is returned with Err set, so that one odd order never stops reconciliation.
func (c *Client) ListOrders(ctx context.Context, modifiedAfter time.Time, page, perPage int) (orders []RawOrder, totalPages int, err error) {
	if page < 1 {
		page = 1
	}
	perPage = min(max(perPage, 1), MaxPerPage)
	q := url.Values{}
	if !modifiedAfter.IsZero() {
		q.Set("modified_after", modifiedAfter.UTC().Format(listDateLayout))
		q.Set("dates_are_gmt", "true")
	}
	q.Set("orderby", "modified")
	q.Set("order", "asc")
	q.Set("page", strconv.Itoa(page))
	q.Set("per_page", strconv.Itoa(perPage))
	body, h, err := c.do(ctx, http.MethodGet, "/orders", q, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("list orders modified after %s, page %d: %w", q.Get("modified_after"), page, err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, 0, enrollment.Permanent(fmt.Errorf("list orders: the answer is not a list: %w", err))
	}
	for _, raw := range raws {
		ro := RawOrder{Raw: append([]byte(nil), raw...)}
		ro.Order, ro.Err = ParseOrder(raw)
		if ro.Err != nil {
			ro.Ref, ro.Err = unreadableOrder(raw)
		}
		orders = append(orders, ro)
	}
	return orders, totalPagesOf(h, page, len(raws), perPage), nil
}

// unreadableOrder says, for an entry of an order listing that ParseOrder refused, its id as
// the shop wrote it ("" when it has none) and, in plain words, why it cannot be read.
func unreadableOrder(raw json.RawMessage) (ref string, why error) {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return "", enrollment.Explain("unread.not_order")
	}
	if isAbsent(v.ID) {
		return "", enrollment.Explain("unread.no_id")
	}
	ref, ok := jsonText(v.ID)
	if !ok || ref == "" {
		ref = shortJSON(v.ID)
	}
	return ref, enrollment.Explain("unread.bad_id", shortJSON(v.ID))
}

// Webhook is a webhook as GET /webhooks shows it. The REST API does not show the webhook's
// API version, secret or failure count.
type Webhook struct {
	ID              int64
	Name            string
	Status          string // active, paused or disabled
	Topic           string // e.g. order.created
	Resource        string
	Event           string
	Hooks           []string
	DeliveryURL     string
	DateCreatedGMT  time.Time
	DateModifiedGMT time.Time
}

// Webhook statuses (wc_get_webhook_statuses).
const (
	WebhookActive   = "active"
	WebhookPaused   = "paused"
	WebhookDisabled = "disabled"
)

// ListWebhooks lists every webhook of the shop (GET /webhooks, all pages).
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var out []Webhook
	for page := 1; ; page++ {
		q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(MaxPerPage)}}
		body, h, err := c.do(ctx, http.MethodGet, "/webhooks", q, nil)
		if err != nil {
			return nil, fmt.Errorf("list webhooks, page %d: %w", page, err)
		}
		var items []struct {
			ID              int64    `json:"id"`
			Name            string   `json:"name"`
			Status          string   `json:"status"`
			Topic           string   `json:"topic"`
			Resource        string   `json:"resource"`
			Event           string   `json:"event"`
			Hooks           []string `json:"hooks"`
			DeliveryURL     string   `json:"delivery_url"`
			DateCreatedGMT  *string  `json:"date_created_gmt"`
			DateModifiedGMT *string  `json:"date_modified_gmt"`
		}
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, enrollment.Permanent(fmt.Errorf("list webhooks: the answer is not a list of webhooks: %w", err))
		}
		for _, it := range items {
			out = append(out, Webhook{
				ID: it.ID, Name: it.Name, Status: it.Status, Topic: it.Topic, Resource: it.Resource,
				Event: it.Event, Hooks: it.Hooks, DeliveryURL: it.DeliveryURL,
				DateCreatedGMT: parseDate(it.DateCreatedGMT), DateModifiedGMT: parseDate(it.DateModifiedGMT),
			})
		}
		if page >= totalPagesOf(h, page, len(items), MaxPerPage) {
			return out, nil
		}
	}
}

// SetWebhookStatus sets a webhook's status (PUT /webhooks/{id}): active, paused or disabled.
// Setting active does not reset WooCommerce's failure count.
func (c *Client) SetWebhookStatus(ctx context.Context, id int64, status string) error {
	_, _, err := c.do(ctx, http.MethodPut, "/webhooks/"+strconv.FormatInt(id, 10), nil, map[string]string{"status": status})
	if err != nil {
		return fmt.Errorf("set webhook %d %s: %w", id, status, err)
	}
	return nil
}

func orderPath(id int64) string { return "/orders/" + strconv.FormatInt(id, 10) }

func parseDate(s *string) time.Time {
	if s == nil {
		return time.Time{}
	}
	t, err := time.Parse(dateLayout, *s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// totalPagesOf reads X-WP-TotalPages; without it, a full page means there may be another.
func totalPagesOf(h http.Header, page, got, perPage int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("X-WP-TotalPages"))); err == nil {
		return n
	}
	if got >= perPage {
		return page + 1
	}
	return page
}

// do sends one request to /wp-json/wc/v3 + path and returns the body of a 2xx answer. Errors:
// *APIError for other answers (permanent for 4xx but 429), plain (transient) errors for
// network failures and timeouts. No error text holds the request's query string, which may
// carry the keys.
//
// Authentication follows WC_REST_Authentication (class-wc-rest-authentication.php): over
// plain http, OAuth 1.0a one-legged signing (perform_oauth_authentication); over https, HTTP
// Basic (perform_basic_authentication, PHP_AUTH_USER/PHP_AUTH_PW). Apache running PHP under
// FastCGI or CGI does not pass the Authorization header on unless the site sets it up, so
// Basic auth arrives as an anonymous request and WooCommerce answers 401
// woocommerce_rest_cannot_view/…cannot_edit. perform_basic_authentication reads
// ?consumer_key=&consumer_secret= first, so the client then repeats the request with the keys
// in the query string and, when the shop accepts them, keeps doing so for its life.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in any) ([]byte, http.Header, error) {
	if c.baseErr != nil {
		return nil, nil, enrollment.Permanent(c.baseErr)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var payload []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, nil, enrollment.Permanent(fmt.Errorf("encode request: %w", err))
		}
		payload = b
	}
	useQuery := c.base.Scheme == "https" && c.queryAuth.Load()
	status, b, h, err := c.send(ctx, method, path, q, payload, useQuery)
	if err == nil && status == http.StatusUnauthorized && c.base.Scheme == "https" && !useQuery {
		if first := newAPIError(status, b); strings.HasPrefix(first.Code, "woocommerce_rest_cannot_") {
			// Anonymous: the Authorization header did not reach WooCommerce. A request refused
			// for want of a user never ran, so repeating it is safe.
			s2, b2, h2, err2 := c.send(ctx, method, path, q, payload, true)
			if err2 == nil && s2 != http.StatusUnauthorized && c.queryAuth.CompareAndSwap(false, true) {
				c.log.WarnContext(ctx, "the shop ignored HTTP Basic authentication: its web server does not pass the Authorization header to PHP "+
					"(Apache with PHP under FastCGI or CGI, without \"CGIPassAuth On\" or the rule RewriteRule .* - [E=HTTP_AUTHORIZATION:%{HTTP:Authorization}]); "+
					"the REST keys are sent as the consumer_key and consumer_secret query parameters from now on",
					"path", path, "answer", first.Code)
			}
			// The second answer says more: with wrong keys, "Consumer secret is invalid".
			status, b, h, err = s2, b2, h2, err2
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if status >= 200 && status < 300 {
		return b, h, nil
	}
	apiErr := newAPIError(status, b)
	if status >= 300 && status < 400 {
		apiErr.Location = withoutQuery(h.Get("Location"))
		apiErr.Message = fmt.Sprintf("redirect to %s; set the shop URL to the address the shop answers on", apiErr.Location)
		if apiErr.Code == "" {
			apiErr.Code = "redirect"
		}
		apiErr.Body = ""
	}
	if apiErr.Transient() {
		return nil, nil, apiErr
	}
	return nil, nil, enrollment.Permanent(apiErr)
}

// send makes one attempt of a request: the status, the body (at most maxBody) and headers of
// the answer, or a transport error that names the method and path only.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, payload []byte, queryKeys bool) (int, []byte, http.Header, error) {
	u := *c.base
	u.Path = c.base.Path + "/wp-json/wc/v3" + path
	params := url.Values{}
	for k, vs := range q {
		params[k] = append([]string(nil), vs...)
	}
	switch {
	case u.Scheme == "http":
		params = oauthParams(method, &u, params, c.cfg.ConsumerKey, c.cfg.ConsumerSecret, c.now(), newNonce())
	case queryKeys:
		params.Set("consumer_key", c.cfg.ConsumerKey)
		params.Set("consumer_secret", c.cfg.ConsumerSecret)
	}
	u.RawQuery = params.Encode()

	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, nil, nil, enrollment.Permanent(fmt.Errorf("build request %s %s: %w", method, path, netError("shop.request", stripURL(err))))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "wc-openedx")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if u.Scheme == "https" && !queryKeys {
		req.SetBasicAuth(c.cfg.ConsumerKey, c.cfg.ConsumerSecret)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		// Network errors and timeouts are transient; say which the deadline was. net/http's
		// errors hold the whole URL, query string and keys included: keep only the cause.
		err = stripURL(err)
		if errors.Is(err, context.DeadlineExceeded) {
			ex := netError("shop.timeout", err)
			ex.Args = []any{c.cfg.Timeout.String()}
			return 0, nil, nil, fmt.Errorf("%s %s: %w", method, path, ex)
		}
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, path, netError("shop.unreachable", err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, netError("shop.unreadable", stripURL(err)))
	}
	return resp.StatusCode, b, resp.Header, nil
}

// netError explains a failure to reach the shop (key), quoting the transport's error.
func netError(key string, err error) *enrollment.Explained {
	return &enrollment.Explained{Key: key, By: enrollment.ByError, Said: err.Error(), Err: err}
}

// stripURL drops the URL from a *url.Error (which holds the query string, keys and OAuth
// parameters included), keeping its cause.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// withoutQuery is a URL for an error text: its query string may echo the keys.
func withoutQuery(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an address that does not parse)"
	}
	if u.RawQuery != "" {
		u.RawQuery = ""
		return u.String() + "?…"
	}
	return u.String()
}

// newAPIError reads a WordPress REST error body, or keeps the start of any other body.
func newAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var wp struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &wp) == nil && (len(wp.Code) > 0 || wp.Message != "") {
		var code string
		if json.Unmarshal(wp.Code, &code) != nil {
			code = string(wp.Code) // WordPress codes can be integers
		}
		e.Code, e.Message = code, wp.Message
		return e
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	e.Body = s
	return e
}
