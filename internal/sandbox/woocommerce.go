package sandbox

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Shop is a simulated WooCommerce shop (WooCommerce 9.4.2 on WordPress 6.7): the REST API v3
// routes the service calls, and webhook delivery. It reproduces, from protocols.md A and B and
// WooCommerce's source:
//
// REST (routes named for CallLog and Faults):
//   - "get-order" GET /wp-json/wc/v3/orders/{id}: the v3 order; 404
//     woocommerce_rest_shop_order_invalid_id "Invalid ID." when missing.
//   - "list-orders" GET /wp-json/wc/v3/orders: modified_after/modified_before/after/before
//     (exclusive, site-local unless dates_are_gmt=true), orderby (date, id, include, title,
//     slug, modified; date and modified sort by id second), order, page, per_page (1…100, else
//     400 rest_invalid_param), status (default any); X-WP-Total and X-WP-TotalPages headers.
//   - "update-order" PUT|POST|PATCH /wp-json/wc/v3/orders/{id}: status, set_paid,
//     transaction_id; 400 woocommerce_rest_shop_order_invalid_id "Invalid ID." when missing.
//     Every update fires order.updated, so the service's own completion comes back as a webhook.
//   - "note" POST /wp-json/wc/v3/orders/{id}/notes: 201 with the note; 404
//     woocommerce_rest_order_invalid_id "Invalid order ID." when missing; no webhook.
//   - "recipients" GET /wp-json/wc/v3/settings/email_new_order/recipient.
//   - "list-webhooks" GET /wp-json/wc/v3/webhooks (newest first, paged).
//   - "update-webhook" PUT|POST|PATCH /wp-json/wc/v3/webhooks/{id}: status, name, delivery_url;
//     setting an active webhook whose ping is pending (or whose URL changed) pings again, as the
//     webhook data store's update() does. The failure count is not reset.
//
// Authentication as class-wc-rest-authentication.php: over plain http only OAuth 1.0a
// one-legged (query, form body or "OAuth" Authorization header; HMAC-SHA1 or HMAC-SHA256; key
// secret+"&"; base string over the home URL with the request path; ±15 minutes; single-use
// nonces); when the request came over TLS (r.TLS != nil), also HTTP Basic or
// ?consumer_key=&consumer_secret=. A wrong secret is 401 woocommerce_rest_authentication_error;
// an unknown key over Basic, or no credentials, is an anonymous request: 401
// woocommerce_rest_cannot_view/…cannot_edit/…cannot_create.
//
// Webhooks (A1–A5): deliveries are queued when an order is created or updated and sent by one
// background worker, oldest first; a delivery already queued for the same (webhook, order) is
// not queued again (Action Scheduler's coalescing); the body is the GET order response built
// at delivery time, encoded like wp_json_encode; one attempt, no retries; 200–302 is a success
// and resets the failure count, anything else counts a failure and the 7th in a row disables
// the webhook; orders in draft statuses are not delivered. Adding an active webhook sends the
// ping (A3): POST "webhook_id=N" without X-WC headers, success only on exactly 200, otherwise
// the ping stays pending.
//
// Hosting and plugins, as tests choose them:
//   - SetDropAuthorization: the web server drops the Authorization header (Apache with PHP
//     under FastCGI/CGI): Basic auth arrives anonymous, query-string keys still work.
//   - OrderSpec.Fields and LineSpec.Fields: a plugin's filter retypes, adds or removes fields
//     of the order in every answer and webhook body (quantity 1.5, numbers as strings, null).
//   - SetWebhookAPIVersion(id, "legacy_v3") with SetLegacyRESTAPI(true): the webhook delivers
//     the Legacy REST API's {"order": {...}}; without the plugin (WooCommerce 9) it delivers
//     nothing.
//
// The order admin (woocommerce_admin.go) lists the orders with their notes and saves a status
// change as WooCommerce's order screen does.
//
// Simplifications: one API key; status changes add no automatic order notes; HTTP/1.1 instead
// of WordPress's HTTP/1.0; delivery URLs are not checked against wp_safe_remote_request's host
// and port rules; array query parameters (a[b]=c) are signed as flat keys.
type Shop struct {
	// Log records every REST call the shop answered.
	Log CallLog
	// Faults injects failures into REST routes (see the route names above).
	Faults Faults

	cfg ShopConfig
	loc *time.Location

	mu         sync.Mutex
	idle       *sync.Cond // signalled when inflight drops
	home       string     // home URL without trailing slash
	recipients string
	orders     map[int64]*OrderState
	lastOrder  int64
	lastItem   int64
	lastNote   int64
	hooks      map[int]*shopWebhook
	lastHook   int
	nonces     map[string]int64 // used OAuth nonce -> its timestamp
	queue      []shopJob
	pending    map[shopJobKey]bool
	working    bool
	inflight   int
	deliveries []WebhookDelivery
	dropAuth   bool   // see SetDropAuthorization
	legacyAPI  bool   // see SetLegacyRESTAPI
	lang       string // the admin pages' language, "en" or "es" (see SetLanguage)
	adminNonce string // the admin forms' woocommerce_meta_nonce
}

// ShopConfig configures a Shop.
type ShopConfig struct {
	ConsumerKey    string
	ConsumerSecret string
	// KeyPermissions is the API key's permission: read, write or read_write (default).
	KeyPermissions string
	// WebhookSecret signs every webhook delivery.
	WebhookSecret string
	// HomeURL is the shop's home URL (no trailing slash needed); usually set later with
	// SetHomeURL once the server listens.
	HomeURL string
	// Recipients is the "New order" email recipient setting, e.g. "a@x.com, b@y.com".
	Recipients string
	// Location is the site's time zone for the dates without _gmt; default UTC-5 (no DST),
	// so local and GMT dates differ as they do on most shops.
	Location *time.Location
	// DeliveryClient sends webhook deliveries and pings; default: 60 s timeout (5 s for pings),
	// redirects not followed, as WooCommerce.
	DeliveryClient *http.Client
	// Now is the shop's clock; time.Now when nil.
	Now func() time.Time
}

// OrderSpec is an order as a checkout or an admin creates it.
type OrderSpec struct {
	Number             string // default: the id
	Status             string // default pending
	PaymentMethod      string // gateway id, e.g. stripe, bacs
	PaymentMethodTitle string
	TransactionID      string
	FirstName          string
	LastName           string
	Email              *string // nil: the field is null
	Currency           string  // default USD
	CustomerID         int64   // 0 for a guest
	Lines              []LineSpec
	DateCreated        time.Time // default now
	// Fields change the order as every REST answer and webhook body shows it (see Fields).
	Fields Fields
}

// LineSpec is one line item of an OrderSpec.
type LineSpec struct {
	Name      string
	ProductID int64
	Quantity  int     // default 1
	Total     string  // line total, e.g. "149" or "149.00"
	SKU       *string // nil: the product was deleted (sku null)
	// Fields change the line as every REST answer and webhook body shows it (see Fields),
	// e.g. {"quantity": 1.5} for a decimal-quantity plugin.
	Fields Fields
}

// Fields are what a plugin's filter does to an object in WooCommerce's answers: each value
// replaces the field of that name (a new name is added at the end), and Omit removes it.
// Values are written as wp_json_encode writes them: 1.5, "93", nil (null), a map (an object).
// Orders go through woocommerce_rest_prepare_shop_order_object
// (WC_REST_Orders_V2_Controller::prepare_object_for_response), which GET /orders/{id}, GET
// /orders and the webhooks' payload (WC_Webhook::get_wp_api_payload builds it with the same
// request) all pass; a decimal-quantity plugin's woocommerce_stock_amount filter (floatval
// instead of intval, wc_stock_amount via WC_Order_Item_Product::set_quantity) makes a line's
// quantity 1.5, which {"quantity": 1.5} reproduces.
type Fields map[string]any

// Omit, as a value of Fields, removes the field.
var Omit = omitField{}

type omitField struct{}

// OrderState is an order as the shop stores it. Times are UTC; zero means not set (null).
type OrderState struct {
	ID                 int64
	Number             string
	OrderKey           string
	Status             string
	Currency           string
	PaymentMethod      string
	PaymentMethodTitle string
	TransactionID      string
	CustomerID         int64
	FirstName          string
	LastName           string
	Email              *string
	Lines              []OrderLine
	Refunds            []OrderRefund
	Created            time.Time
	Modified           time.Time
	Paid               time.Time
	Completed          time.Time
	Notes              []Note
	Fields             Fields // see Fields
}

// OrderLine is a line item as stored. Total is formatted with two decimals.
type OrderLine struct {
	ID        int64
	Name      string
	ProductID int64
	Quantity  int
	Total     string
	SKU       *string
	Fields    Fields // see Fields
}

// OrderRefund is a refund of an order; Total is positive, e.g. "49.00". Lines maps an order
// line id to the quantity refunded (empty for an amount-only refund).
type OrderRefund struct {
	ID     int64
	Reason string
	Total  string
	Lines  map[int64]int
}

// Note is an order note.
type Note struct {
	ID           int64
	Note         string
	CustomerNote bool
	AddedByUser  bool
	Author       string // "system" unless added by a user
	Date         time.Time
}

// WebhookState is a webhook as the shop stores it.
type WebhookState struct {
	ID              int
	Name            string
	Status          string // active, paused, disabled
	Topic           string
	DeliveryURL     string
	FailureCount    int
	PendingDelivery bool
	// APIVersion is wp_api_v3 (new webhooks), wp_api_v1, wp_api_v2 or legacy_v3 (the admin
	// form's "API version"). The REST API does not show it.
	APIVersion string
}

// WebhookDelivery is one delivery attempt (or ping) and how the service answered it.
type WebhookDelivery struct {
	WebhookID  int
	Topic      string // "" for a ping
	OrderID    int64  // 0 for a ping
	Ping       bool
	Redelivery bool // sent by DeliverAgain or Redeliver
	Header     http.Header
	Body       []byte
	Status     int    // the HTTP status answered, 0 when there was none
	Err        string // the transport error, or why the payload could not be built
	At         time.Time
}

type shopWebhook struct {
	WebhookState
	created, modified time.Time
}

type shopJobKey struct {
	hook  int
	order int64
}

type shopJob struct {
	shopJobKey
	body       []byte // nil: build at delivery time
	redelivery bool
}

// Shop constants.
const (
	shopWCVersion       = "9.4.2"
	shopUserAgent       = "WooCommerce/" + shopWCVersion + " Hookshot (WordPress/6.7)"
	shopDateLayout      = "2006-01-02T15:04:05"
	shopMaxFailures     = 5 // woocommerce_max_webhook_delivery_failures
	shopNonceWindow     = 15 * 60
	shopDeliveryTimeout = 60 * time.Second
	shopPingTimeout     = 5 * time.Second
)

// NewShop returns a shop with no orders and no webhooks.
func NewShop(cfg ShopConfig) *Shop {
	if cfg.KeyPermissions == "" {
		cfg.KeyPermissions = "read_write"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DeliveryClient == nil {
		cfg.DeliveryClient = &http.Client{
			Timeout:       shopDeliveryTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	s := &Shop{
		cfg:        cfg,
		loc:        cfg.Location,
		recipients: cfg.Recipients,
		orders:     map[int64]*OrderState{},
		lastOrder:  1000,
		lastItem:   300,
		lastNote:   5000,
		hooks:      map[int]*shopWebhook{},
		nonces:     map[string]int64{},
		pending:    map[shopJobKey]bool{},
	}
	if s.loc == nil {
		s.loc = time.FixedZone("UTC-5", -5*3600)
	}
	s.idle = sync.NewCond(&s.mu)
	s.home = strings.TrimRight(cfg.HomeURL, "/")
	return s
}

// SetHomeURL sets the shop's home URL (X-WC-Webhook-Source, _links, OAuth base string).
func (s *Shop) SetHomeURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.home = strings.TrimRight(u, "/")
}

// SetRecipients sets the "New order" email recipient setting.
func (s *Shop) SetRecipients(r string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recipients = r
}

// AddWebhook adds an active API v3 webhook for topic (e.g. order.created) delivering to
// deliveryURL, as the admin form does, and sends the ping before returning.
func (s *Shop) AddWebhook(name, topic, deliveryURL string) int {
	s.mu.Lock()
	s.lastHook++
	now := s.now()
	w := &shopWebhook{
		WebhookState: WebhookState{ID: s.lastHook, Name: name, Status: "active", Topic: topic, DeliveryURL: deliveryURL, PendingDelivery: true, APIVersion: "wp_api_v3"},
		created:      now, modified: now,
	}
	s.hooks[w.ID] = w
	s.mu.Unlock()
	s.ping(w.ID)
	return w.ID
}

// Webhook returns a webhook's state.
func (s *Shop) Webhook(id int) (WebhookState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.hooks[id]
	if !ok {
		return WebhookState{}, false
	}
	return w.WebhookState, true
}

// SetWebhookStatus sets a webhook's status as the admin form does: an active webhook with a
// pending ping is pinged again. It reports whether the webhook exists.
func (s *Shop) SetWebhookStatus(id int, status string) bool {
	s.mu.Lock()
	w, ok := s.hooks[id]
	if !ok {
		s.mu.Unlock()
		return false
	}
	w.Status = status
	w.modified = s.now()
	ping := w.Status == "active" && w.PendingDelivery
	s.mu.Unlock()
	if ping {
		s.ping(id)
	}
	return true
}

// SetWebhookAPIVersion sets a webhook's API version as the admin form does: wp_api_v1,
// wp_api_v2, wp_api_v3, or legacy_v3 (WC_Webhook::get_api_version names an api_version of 0
// or less so). It reports whether the webhook exists.
func (s *Shop) SetWebhookAPIVersion(id int, version string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.hooks[id]
	if ok {
		w.APIVersion = version
		w.modified = s.now()
	}
	return ok
}

// SetLegacyRESTAPI says whether the "WooCommerce Legacy REST API" plugin is active. Since
// WooCommerce 9.0, WC_Webhook::build_payload builds a legacy_v3 webhook's payload only when
// WC()->legacy_rest_api_is_available(); without the plugin it throws ("Unsupported webhook
// API version"), and nothing is delivered.
func (s *Shop) SetLegacyRESTAPI(active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.legacyAPI = active
}

// SetDropAuthorization makes the shop's web server drop the Authorization header before PHP
// sees it, as Apache httpd does for PHP under FastCGI or CGI unless the site has
// "CGIPassAuth On" or the rewrite rule that copies it into HTTP_AUTHORIZATION. HTTP Basic auth
// then arrives without credentials: WC_REST_Authentication::perform_basic_authentication finds
// no PHP_AUTH_USER/PHP_AUTH_PW, the request is anonymous, and the controllers answer 401
// woocommerce_rest_cannot_view/…cannot_edit; the ?consumer_key=&consumer_secret= query
// parameters, which perform_basic_authentication reads first, still work over https, and so
// does OAuth 1.0a in the query string over http.
func (s *Shop) SetDropAuthorization(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAuth = drop
}

// CreateOrder stores a new order as a checkout would and fires order.created.
func (s *Shop) CreateOrder(spec OrderSpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastOrder++
	o := &OrderState{
		ID:                 s.lastOrder,
		Number:             spec.Number,
		OrderKey:           "wc_order_" + shopRandomAlnum(13),
		Status:             spec.Status,
		Currency:           spec.Currency,
		PaymentMethod:      spec.PaymentMethod,
		PaymentMethodTitle: spec.PaymentMethodTitle,
		TransactionID:      spec.TransactionID,
		CustomerID:         spec.CustomerID,
		FirstName:          spec.FirstName,
		LastName:           spec.LastName,
		Email:              shopCopyString(spec.Email),
		Created:            spec.DateCreated.UTC().Truncate(time.Second),
		Fields:             maps.Clone(spec.Fields),
	}
	if o.Number == "" {
		o.Number = strconv.FormatInt(o.ID, 10)
	}
	if o.Status == "" {
		o.Status = "pending"
	}
	if o.Currency == "" {
		o.Currency = "USD"
	}
	if spec.DateCreated.IsZero() {
		o.Created = s.now().UTC().Truncate(time.Second)
	}
	for _, l := range spec.Lines {
		o.Lines = append(o.Lines, OrderLine{Name: l.Name, ProductID: l.ProductID, Quantity: l.Quantity, Total: l.Total, SKU: shopCopyString(l.SKU), Fields: maps.Clone(l.Fields)})
	}
	s.normalize(o)
	o.Modified = o.Created
	shopStatusSideEffects(o, o.Created)
	s.orders[o.ID] = o
	s.enqueueLocked("order.created", o)
	return o.ID
}

// UpdateOrder changes an order as an admin saving it would, then fires order.updated. Lines
// added without an ID get one. It reports whether the order exists.
func (s *Shop) UpdateOrder(id int64, change func(*OrderState)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return false
	}
	change(o)
	o.ID = id
	s.normalize(o)
	s.touch(o)
	shopStatusSideEffects(o, o.Modified)
	s.enqueueLocked("order.updated", o)
	return true
}

// Refund refunds an order as the admin's Refund button does (wc_create_refund): lines maps
// order line ids to the quantity given back; nil refunds every line in full. The refund's
// total is the lines' share of their totals. When the order is refunded in full its status
// becomes refunded. Both fire order.updated (woocommerce_order_refunded). It returns the
// refund id, or 0 when the order does not exist.
func (s *Shop) Refund(id int64, reason string, lines map[int64]int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return 0
	}
	if lines == nil {
		lines = map[int64]int{}
		for _, l := range o.Lines {
			lines[l.ID] = l.Quantity
		}
	}
	var amount, total, refunded float64
	for _, l := range o.Lines {
		t, _ := strconv.ParseFloat(l.Total, 64)
		total += t
		if q := lines[l.ID]; q > 0 && l.Quantity > 0 {
			amount += t * float64(q) / float64(l.Quantity)
		}
	}
	for _, r := range o.Refunds {
		t, _ := strconv.ParseFloat(r.Total, 64)
		refunded += t
	}
	o.Refunds = append(o.Refunds, OrderRefund{Reason: reason, Total: fmt.Sprintf("%.2f", amount), Lines: lines})
	s.normalize(o)
	if refunded+amount >= total-0.001 {
		o.Status = "refunded"
	}
	s.touch(o)
	s.enqueueLocked("order.updated", o)
	return o.Refunds[len(o.Refunds)-1].ID
}

// SetProductSKU changes a product's SKU as an admin editing the product would
// (WC_Product::set_sku, plugins/woocommerce/includes/abstracts/abstract-wc-product.php). An
// order's line items show their product's SKU as it is now: the REST API's orders
// controller reads it from the product when it builds each answer
// (WC_REST_Orders_V2_Controller::get_order_item_data in plugins/woocommerce/includes/
// rest-api/Controllers/Version2/class-wc-rest-orders-v2-controller.php, which the v3
// controller extends: $data['sku'] = $item->get_product() ? $item->get_product()->get_sku()
// : null), so every line of that product, in every order, shows the new SKU from then on;
// a nil sku reads null, as once the product is deleted. Editing a product does not modify
// its orders: no order's date_modified changes and no order webhook fires. It returns how
// many lines show the new SKU.
//
// Simplification: set_sku's uniqueness check (wc_product_has_unique_sku, which refuses a
// SKU another product has) is not made.
func (s *Shop) SetProductSKU(productID int64, sku *string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, o := range s.orders {
		for i := range o.Lines {
			if o.Lines[i].ProductID == productID {
				o.Lines[i].SKU = shopCopyString(sku)
				n++
			}
		}
	}
	return n
}

// SetStatus changes an order's status as an admin would (order.updated).
func (s *Shop) SetStatus(id int64, status string) bool {
	return s.UpdateOrder(id, func(o *OrderState) { o.Status = status })
}

// Order returns a copy of an order's stored state, notes included.
func (s *Shop) Order(id int64) (OrderState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return OrderState{}, false
	}
	return o.clone(), true
}

// Notes returns an order's notes, oldest first.
func (s *Shop) Notes(id int64) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orders[id]; ok {
		return slices.Clone(o.Notes)
	}
	return nil
}

// OrderJSON returns the order as GET /wp-json/wc/v3/orders/{id} would answer it now.
func (s *Shop) OrderJSON(id int64) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return nil, false
	}
	b, err := phpJSON(s.orderBody(o))
	if err != nil {
		panic(err)
	}
	return b, true
}

// DeliverAgain queues the body of the latest delivery of topic for order id again, to the
// same webhook: a duplicate delivery. It reports whether there was one to repeat.
func (s *Shop) DeliverAgain(id int64, topic string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.deliveries) - 1; i >= 0; i-- {
		d := s.deliveries[i]
		if !d.Ping && d.OrderID == id && d.Topic == topic {
			s.pushLocked(shopJob{shopJobKey: shopJobKey{d.WebhookID, id}, body: slices.Clone(d.Body), redelivery: true})
			return true
		}
	}
	return false
}

// Redeliver queues an earlier delivery's exact body again (to replay an old payload after a
// newer one: an out-of-order delivery).
func (s *Shop) Redeliver(d WebhookDelivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushLocked(shopJob{shopJobKey: shopJobKey{d.WebhookID, d.OrderID}, body: slices.Clone(d.Body), redelivery: true})
}

// Wait blocks until every queued delivery has been attempted.
func (s *Shop) Wait() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.inflight > 0 {
		s.idle.Wait()
	}
}

// Deliveries returns every delivery attempt and ping so far, oldest first.
func (s *Shop) Deliveries() []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WebhookDelivery, len(s.deliveries))
	for i, d := range s.deliveries {
		d.Header = d.Header.Clone()
		d.Body = slices.Clone(d.Body)
		out[i] = d
	}
	return out
}

func (o *OrderState) clone() OrderState {
	c := *o
	c.Email = shopCopyString(o.Email)
	c.Lines = slices.Clone(o.Lines)
	for i := range c.Lines {
		c.Lines[i].SKU = shopCopyString(c.Lines[i].SKU)
		c.Lines[i].Fields = maps.Clone(c.Lines[i].Fields)
	}
	c.Fields = maps.Clone(o.Fields)
	c.Refunds = slices.Clone(o.Refunds)
	c.Notes = slices.Clone(o.Notes)
	return c
}

func (s *Shop) now() time.Time { return s.cfg.Now() }

// normalize gives new lines and refunds ids and formats money with two decimals.
func (s *Shop) normalize(o *OrderState) {
	for i := range o.Lines {
		l := &o.Lines[i]
		if l.ID == 0 {
			s.lastItem++
			l.ID = s.lastItem
		}
		if l.Quantity == 0 {
			l.Quantity = 1
		}
		l.Total = shopMoney(l.Total)
	}
	for i := range o.Refunds {
		r := &o.Refunds[i]
		if r.ID == 0 {
			s.lastItem++
			r.ID = s.lastItem
		}
		r.Total = shopMoney(strings.TrimPrefix(r.Total, "-"))
	}
}

// shopStatusSideEffects sets date_paid and date_completed as WooCommerce's status transitions
// do (maybe_set_date_paid, maybe_set_date_completed).
func shopStatusSideEffects(o *OrderState, now time.Time) {
	if (o.Status == "processing" || o.Status == "completed") && o.Paid.IsZero() {
		o.Paid = now
	}
	if o.Status == "completed" && o.Completed.IsZero() {
		o.Completed = now
	}
}

// touch advances date_modified: the current second, but always strictly after the previous
// value, so every change of an order is ordered by date_modified_gmt.
func (s *Shop) touch(o *OrderState) {
	t := s.now().UTC().Truncate(time.Second)
	if !t.After(o.Modified) {
		t = o.Modified.Add(time.Second)
	}
	o.Modified = t
}

// ---- webhook delivery ----

// enqueueLocked queues a delivery of o to every active webhook of topic, unless one is
// already pending for that (webhook, order).
func (s *Shop) enqueueLocked(topic string, o *OrderState) {
	switch o.Status {
	case "draft", "auto-draft", "new", "checkout-draft": // is_valid_resource
		return
	}
	ids := make([]int, 0, len(s.hooks))
	for id, w := range s.hooks {
		if w.Status == "active" && w.Topic == topic {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	for _, id := range ids {
		k := shopJobKey{id, o.ID}
		if s.pending[k] {
			continue
		}
		s.pending[k] = true
		s.pushLocked(shopJob{shopJobKey: k})
	}
}

func (s *Shop) pushLocked(j shopJob) {
	s.queue = append(s.queue, j)
	s.inflight++
	if !s.working {
		s.working = true
		go s.work()
	}
}

func (s *Shop) work() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.working = false
			s.mu.Unlock()
			return
		}
		j := s.queue[0]
		s.queue = s.queue[1:]
		if j.body == nil {
			delete(s.pending, j.shopJobKey) // the action runs: a new change queues a new one
		}
		s.mu.Unlock()

		s.deliver(j)

		s.mu.Lock()
		s.inflight--
		s.idle.Broadcast()
		s.mu.Unlock()
	}
}

// deliver sends one delivery as WC_Webhook::deliver does.
func (s *Shop) deliver(j shopJob) {
	s.mu.Lock()
	w, ok := s.hooks[j.hook]
	if !ok {
		s.mu.Unlock()
		return
	}
	hook := w.WebhookState
	home := s.homeLocked()
	body := j.body
	now := s.now()
	if body == nil {
		// build_payload: the REST payload of the webhook's API version, or for legacy_v3 the
		// Legacy REST API's, which exists only with its plugin.
		var v any
		o, found := s.orders[j.order]
		switch {
		case hook.APIVersion == "legacy_v3" && !s.legacyAPI:
			s.deliveries = append(s.deliveries, WebhookDelivery{
				WebhookID: hook.ID, Topic: hook.Topic, OrderID: j.order,
				Err: "Unsupported webhook API version. Please edit this webhook to use a current REST API version.", At: now,
			})
			s.mu.Unlock()
			return
		case hook.APIVersion == "legacy_v3" && found:
			v = s.legacyOrderJSON(o)
		case found:
			v = s.orderBody(o)
		default:
			v = shopErrorJSON("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404, nil)
		}
		b, err := phpJSON(v)
		if err != nil {
			panic(err)
		}
		body = b
	}
	s.mu.Unlock()

	resource, event, _ := strings.Cut(hook.Topic, ".")
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", shopUserAgent)
	h.Set("X-WC-Webhook-Source", home+"/")
	h.Set("X-WC-Webhook-Topic", hook.Topic)
	h.Set("X-WC-Webhook-Resource", resource)
	h.Set("X-WC-Webhook-Event", event)
	h.Set("X-WC-Webhook-Signature", shopSign(s.cfg.WebhookSecret, body))
	h.Set("X-WC-Webhook-ID", strconv.Itoa(hook.ID))
	h.Set("X-WC-Webhook-Delivery-ID", shopDeliveryID(hook.ID, now))

	status, errText := s.post(s.cfg.DeliveryClient, hook.DeliveryURL, h, body)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, WebhookDelivery{
		WebhookID: hook.ID, Topic: hook.Topic, OrderID: j.order, Redelivery: j.redelivery,
		Header: h, Body: body, Status: status, Err: errText, At: now,
	})
	if w, ok := s.hooks[hook.ID]; ok { // log_delivery / failed_delivery
		if status >= 200 && status < 303 {
			w.FailureCount = 0
		} else if w.FailureCount > shopMaxFailures {
			w.Status = "disabled"
			w.modified = s.now()
		} else {
			w.FailureCount++
		}
	}
}

// ping sends WC_Webhook::deliver_ping: POST webhook_id=N, no X-WC headers, success only on 200.
func (s *Shop) ping(id int) {
	s.mu.Lock()
	w, ok := s.hooks[id]
	if !ok {
		s.mu.Unlock()
		return
	}
	url := w.DeliveryURL
	s.mu.Unlock()

	body := []byte("webhook_id=" + strconv.Itoa(id))
	h := http.Header{}
	h.Set("User-Agent", shopUserAgent)
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	client := *s.cfg.DeliveryClient
	if client.Timeout == 0 || client.Timeout > shopPingTimeout {
		client.Timeout = shopPingTimeout
	}
	status, errText := s.post(&client, url, h, body)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, WebhookDelivery{
		WebhookID: id, Ping: true, Header: h, Body: body, Status: status, Err: errText, At: s.now(),
	})
	if w, ok := s.hooks[id]; ok && status == http.StatusOK {
		w.PendingDelivery = false
	}
}

func (s *Shop) post(c *http.Client, target string, h http.Header, body []byte) (int, string) {
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(string(body)))
	if err != nil {
		return 0, err.Error()
	}
	req.Header = h.Clone()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, ""
}

// shopSign is A2: base64(HMAC-SHA256(body, secret)).
func shopSign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// shopDeliveryID is like wp_hash($id . strtotime('now')): HMAC-MD5 hex, the same for every
// delivery of a webhook within one second.
func shopDeliveryID(id int, now time.Time) string {
	m := hmac.New(md5.New, []byte("sandbox-wp-salt"))
	fmt.Fprintf(m, "%d%d", id, now.Unix())
	return hex.EncodeToString(m.Sum(nil))
}

// ---- JSON shapes (field order as WooCommerce writes them) ----

type shopOrderJSON struct {
	ID                 int64             `json:"id"`
	ParentID           int64             `json:"parent_id"`
	Status             string            `json:"status"`
	Currency           string            `json:"currency"`
	Version            string            `json:"version"`
	PricesIncludeTax   bool              `json:"prices_include_tax"`
	DateCreated        *string           `json:"date_created"`
	DateModified       *string           `json:"date_modified"`
	DiscountTotal      string            `json:"discount_total"`
	DiscountTax        string            `json:"discount_tax"`
	ShippingTotal      string            `json:"shipping_total"`
	ShippingTax        string            `json:"shipping_tax"`
	CartTax            string            `json:"cart_tax"`
	Total              string            `json:"total"`
	TotalTax           string            `json:"total_tax"`
	CustomerID         int64             `json:"customer_id"`
	OrderKey           string            `json:"order_key"`
	Billing            shopBilling       `json:"billing"`
	Shipping           shopShipping      `json:"shipping"`
	PaymentMethod      string            `json:"payment_method"`
	PaymentMethodTitle string            `json:"payment_method_title"`
	TransactionID      string            `json:"transaction_id"`
	CustomerIPAddress  string            `json:"customer_ip_address"`
	CustomerUserAgent  string            `json:"customer_user_agent"`
	CreatedVia         string            `json:"created_via"`
	CustomerNote       string            `json:"customer_note"`
	DateCompleted      *string           `json:"date_completed"`
	DatePaid           *string           `json:"date_paid"`
	CartHash           string            `json:"cart_hash"`
	Number             string            `json:"number"`
	MetaData           []any             `json:"meta_data"`
	LineItems          []json.RawMessage `json:"line_items"`
	TaxLines           []any             `json:"tax_lines"`
	ShippingLines      []any             `json:"shipping_lines"`
	FeeLines           []any             `json:"fee_lines"`
	CouponLines        []any             `json:"coupon_lines"`
	Refunds            []shopRefund      `json:"refunds"`
	PaymentURL         string            `json:"payment_url"`
	IsEditable         bool              `json:"is_editable"`
	NeedsPayment       bool              `json:"needs_payment"`
	NeedsProcessing    bool              `json:"needs_processing"`
	DateCreatedGMT     *string           `json:"date_created_gmt"`
	DateModifiedGMT    *string           `json:"date_modified_gmt"`
	DateCompletedGMT   *string           `json:"date_completed_gmt"`
	DatePaidGMT        *string           `json:"date_paid_gmt"`
	CurrencySymbol     string            `json:"currency_symbol"`
	Links              shopOrderLinks    `json:"_links"`
}

type shopBilling struct {
	FirstName string  `json:"first_name"`
	LastName  string  `json:"last_name"`
	Company   string  `json:"company"`
	Address1  string  `json:"address_1"`
	Address2  string  `json:"address_2"`
	City      string  `json:"city"`
	State     string  `json:"state"`
	Postcode  string  `json:"postcode"`
	Country   string  `json:"country"`
	Email     *string `json:"email"`
	Phone     string  `json:"phone"`
}

type shopShipping struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Company   string `json:"company"`
	Address1  string `json:"address_1"`
	Address2  string `json:"address_2"`
	City      string `json:"city"`
	State     string `json:"state"`
	Postcode  string `json:"postcode"`
	Country   string `json:"country"`
	Phone     string `json:"phone"`
}

type shopLineJSON struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	ProductID   int64   `json:"product_id"`
	VariationID int64   `json:"variation_id"`
	Quantity    int     `json:"quantity"`
	TaxClass    string  `json:"tax_class"`
	Subtotal    string  `json:"subtotal"`
	SubtotalTax string  `json:"subtotal_tax"`
	Total       string  `json:"total"`
	TotalTax    string  `json:"total_tax"`
	Taxes       []any   `json:"taxes"`
	MetaData    []any   `json:"meta_data"`
	SKU         *string `json:"sku"`
	Price       float64 `json:"price"`
	Image       struct {
		ID  int64  `json:"id"`
		Src string `json:"src"`
	} `json:"image"`
	ParentName *string `json:"parent_name"`
}

type shopRefund struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
	Total  string `json:"total"`
}

type shopLink struct {
	Href string `json:"href"`
}

type shopOrderLinks struct {
	Self       []shopLink `json:"self"`
	Collection []shopLink `json:"collection"`
	Customer   []shopLink `json:"customer,omitempty"`
}

type shopNoteJSON struct {
	ID             int64   `json:"id"`
	Author         string  `json:"author"`
	DateCreated    *string `json:"date_created"`
	DateCreatedGMT *string `json:"date_created_gmt"`
	Note           string  `json:"note"`
	CustomerNote   bool    `json:"customer_note"`
	Links          struct {
		Self       []shopLink `json:"self"`
		Collection []shopLink `json:"collection"`
		Up         []shopLink `json:"up"`
	} `json:"_links"`
}

type shopWebhookJSON struct {
	ID              int      `json:"id"`
	Name            string   `json:"name"`
	Status          string   `json:"status"`
	Topic           string   `json:"topic"`
	Resource        string   `json:"resource"`
	Event           string   `json:"event"`
	Hooks           []string `json:"hooks"`
	DeliveryURL     string   `json:"delivery_url"`
	DateCreated     *string  `json:"date_created"`
	DateCreatedGMT  *string  `json:"date_created_gmt"`
	DateModified    *string  `json:"date_modified"`
	DateModifiedGMT *string  `json:"date_modified_gmt"`
	Links           struct {
		Self       []shopLink `json:"self"`
		Collection []shopLink `json:"collection"`
	} `json:"_links"`
}

type shopErrorBody struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

func shopErrorJSON(code, message string, status int, extra map[string]any) shopErrorBody {
	data := map[string]any{"status": status}
	for k, v := range extra {
		data[k] = v
	}
	return shopErrorBody{Code: code, Message: message, Data: data}
}

// dates returns the site-local and GMT forms of t, both null when t is zero.
func (s *Shop) dates(t time.Time) (local, gmt *string) {
	if t.IsZero() {
		return nil, nil
	}
	l := t.In(s.loc).Format(shopDateLayout)
	g := t.UTC().Format(shopDateLayout)
	return &l, &g
}

// homeLocked is the home URL without trailing slash; http://shop.example.com until set.
func (s *Shop) homeLocked() string {
	if s.home == "" {
		return "http://shop.example.com"
	}
	return s.home
}

func (s *Shop) orderJSON(o *OrderState) shopOrderJSON {
	home := s.homeLocked()
	var total float64
	lines := make([]json.RawMessage, 0, len(o.Lines))
	for _, l := range o.Lines {
		t, _ := strconv.ParseFloat(l.Total, 64)
		total += t
		lj := shopLineJSON{
			ID: l.ID, Name: l.Name, ProductID: l.ProductID, Quantity: l.Quantity,
			Subtotal: l.Total, SubtotalTax: "0.00", Total: l.Total, TotalTax: "0.00",
			Taxes: []any{}, MetaData: []any{}, SKU: shopCopyString(l.SKU),
		}
		if l.Quantity != 0 {
			lj.Price = t / float64(l.Quantity)
		}
		lines = append(lines, shopPatch(shopPlainJSON(lj), l.Fields))
	}
	refunds := make([]shopRefund, 0, len(o.Refunds))
	for _, r := range o.Refunds {
		refunds = append(refunds, shopRefund{ID: r.ID, Reason: r.Reason, Total: "-" + r.Total})
	}
	j := shopOrderJSON{
		ID: o.ID, Status: o.Status, Currency: o.Currency, Version: shopWCVersion,
		DiscountTotal: "0.00", DiscountTax: "0.00", ShippingTotal: "0.00", ShippingTax: "0.00",
		CartTax: "0.00", Total: fmt.Sprintf("%.2f", total), TotalTax: "0.00",
		CustomerID: o.CustomerID, OrderKey: o.OrderKey,
		Billing:       shopBilling{FirstName: o.FirstName, LastName: o.LastName, Country: "US", Email: shopCopyString(o.Email)},
		PaymentMethod: o.PaymentMethod, PaymentMethodTitle: o.PaymentMethodTitle, TransactionID: o.TransactionID,
		CustomerIPAddress: "203.0.113.45",
		CustomerUserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
		CreatedVia:        "checkout",
		CartHash:          "",
		Number:            o.Number,
		MetaData:          []any{}, LineItems: lines, TaxLines: []any{}, ShippingLines: []any{},
		FeeLines: []any{}, CouponLines: []any{}, Refunds: refunds,
		PaymentURL:      fmt.Sprintf("%s/checkout/order-pay/%d/?pay_for_order=true&key=%s", home, o.ID, o.OrderKey),
		IsEditable:      o.Status == "pending" || o.Status == "on-hold" || o.Status == "auto-draft",
		NeedsPayment:    (o.Status == "pending" || o.Status == "failed") && total > 0,
		NeedsProcessing: true,
		CurrencySymbol:  shopCurrencySymbol(o.Currency),
	}
	j.DateCreated, j.DateCreatedGMT = s.dates(o.Created)
	j.DateModified, j.DateModifiedGMT = s.dates(o.Modified)
	j.DateCompleted, j.DateCompletedGMT = s.dates(o.Completed)
	j.DatePaid, j.DatePaidGMT = s.dates(o.Paid)
	j.Links.Self = []shopLink{{home + "/wp-json/wc/v3/orders/" + strconv.FormatInt(o.ID, 10)}}
	j.Links.Collection = []shopLink{{home + "/wp-json/wc/v3/orders"}}
	if o.CustomerID > 0 {
		j.Links.Customer = []shopLink{{home + "/wp-json/wc/v3/customers/" + strconv.FormatInt(o.CustomerID, 10)}}
	}
	return j
}

// orderBody is the order as the REST API answers it (and the webhooks send it): orderJSON
// with the order's and its lines' Fields applied. It is plain JSON; phpJSON writes it.
func (s *Shop) orderBody(o *OrderState) json.RawMessage {
	return shopPatch(shopPlainJSON(s.orderJSON(o)), o.Fields)
}

// shopPlainJSON is encoding/json's output without HTML escaping, trimmed: phpJSON's input.
func shopPlainJSON(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSpace(buf.Bytes())
}

// shopPatch applies fields to the JSON object obj (see Fields): fields already there keep
// their place, new ones are added at the end in name order.
func shopPatch(obj json.RawMessage, fields Fields) json.RawMessage {
	if len(fields) == 0 {
		return obj
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		panic(fmt.Sprintf("sandbox: patching %s, which is not an object", obj))
	}
	var out bytes.Buffer
	out.WriteByte('{')
	write := func(k string, v json.RawMessage) {
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		out.Write(shopPlainJSON(k))
		out.WriteByte(':')
		out.Write(v)
	}
	value := func(v any) (json.RawMessage, bool) {
		if _, omit := v.(omitField); omit {
			return nil, false
		}
		if raw, ok := v.(json.RawMessage); ok {
			return raw, true
		}
		return shopPlainJSON(v), true
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			panic(err)
		}
		k := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			panic(err)
		}
		seen[k] = true
		if nv, ok := fields[k]; ok {
			if raw, keep := value(nv); keep {
				write(k, raw)
			}
			continue
		}
		write(k, v)
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if seen[k] {
			continue
		}
		if raw, keep := value(fields[k]); keep {
			write(k, raw)
		}
	}
	out.WriteByte('}')
	return out.Bytes()
}

// legacyOrderJSON is the order as the Legacy REST API (API version legacy_v3) shows it to a
// webhook: WC_API_Orders::get_order of the legacy v3 API (the WooCommerce Legacy REST API
// plugin, includes/legacy/api/v3/class-wc-api-orders.php), which wraps it as {"order": {...}}
// and has no top-level id. Dates are WC_API_Server::format_datetime: UTC, "Z" suffix.
func (s *Shop) legacyOrderJSON(o *OrderState) any {
	home := s.homeLocked()
	date := func(t time.Time) string {
		if t.IsZero() {
			t = time.Unix(0, 0) // a date not set is timestamp 0
		}
		return t.UTC().Format("2006-01-02T15:04:05Z")
	}
	type address struct {
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Company   string `json:"company"`
		Address1  string `json:"address_1"`
		Address2  string `json:"address_2"`
		City      string `json:"city"`
		State     string `json:"state"`
		Postcode  string `json:"postcode"`
		Country   string `json:"country"`
	}
	type billing struct {
		address
		Email string `json:"email"`
		Phone string `json:"phone"`
	}
	type line struct {
		ID          int64   `json:"id"`
		Subtotal    string  `json:"subtotal"`
		SubtotalTax string  `json:"subtotal_tax"`
		Total       string  `json:"total"`
		TotalTax    string  `json:"total_tax"`
		Price       string  `json:"price"`
		Quantity    int     `json:"quantity"`
		TaxClass    string  `json:"tax_class"`
		Name        string  `json:"name"`
		ProductID   int64   `json:"product_id"`
		SKU         *string `json:"sku"`
		Meta        []any   `json:"meta"`
	}
	var total float64
	count := 0
	lines := []line{}
	for _, l := range o.Lines {
		t, _ := strconv.ParseFloat(l.Total, 64)
		total += t
		count += l.Quantity
		price := 0.0
		if l.Quantity != 0 {
			price = t / float64(l.Quantity)
		}
		lines = append(lines, line{
			ID: l.ID, Subtotal: l.Total, SubtotalTax: "0.00", Total: l.Total, TotalTax: "0.00",
			Price: fmt.Sprintf("%.2f", price), Quantity: l.Quantity, Name: l.Name, ProductID: l.ProductID,
			SKU: shopCopyString(l.SKU), Meta: []any{},
		})
	}
	email := ""
	if o.Email != nil {
		email = *o.Email
	}
	var paymentDetails = struct {
		MethodID    string `json:"method_id"`
		MethodTitle string `json:"method_title"`
		Paid        bool   `json:"paid"`
	}{o.PaymentMethod, o.PaymentMethodTitle, !o.Paid.IsZero()}
	order := struct {
		ID                     int64   `json:"id"`
		OrderNumber            string  `json:"order_number"`
		OrderKey               string  `json:"order_key"`
		CreatedAt              string  `json:"created_at"`
		UpdatedAt              string  `json:"updated_at"`
		CompletedAt            string  `json:"completed_at"`
		Status                 string  `json:"status"`
		Currency               string  `json:"currency"`
		Total                  string  `json:"total"`
		Subtotal               string  `json:"subtotal"`
		TotalLineItemsQuantity int     `json:"total_line_items_quantity"`
		TotalTax               string  `json:"total_tax"`
		TotalShipping          string  `json:"total_shipping"`
		CartTax                string  `json:"cart_tax"`
		ShippingTax            string  `json:"shipping_tax"`
		TotalDiscount          string  `json:"total_discount"`
		ShippingMethods        string  `json:"shipping_methods"`
		PaymentDetails         any     `json:"payment_details"`
		BillingAddress         billing `json:"billing_address"`
		ShippingAddress        address `json:"shipping_address"`
		Note                   string  `json:"note"`
		CustomerIP             string  `json:"customer_ip"`
		CustomerUserAgent      string  `json:"customer_user_agent"`
		CustomerID             int64   `json:"customer_id"`
		ViewOrderURL           string  `json:"view_order_url"`
		LineItems              []line  `json:"line_items"`
		ShippingLines          []any   `json:"shipping_lines"`
		TaxLines               []any   `json:"tax_lines"`
		FeeLines               []any   `json:"fee_lines"`
		CouponLines            []any   `json:"coupon_lines"`
	}{
		ID: o.ID, OrderNumber: o.Number, OrderKey: o.OrderKey,
		CreatedAt: date(o.Created), UpdatedAt: date(o.Modified), CompletedAt: date(o.Completed),
		Status: o.Status, Currency: o.Currency, Total: fmt.Sprintf("%.2f", total), Subtotal: fmt.Sprintf("%.2f", total),
		TotalLineItemsQuantity: count, TotalTax: "0.00", TotalShipping: "0.00", CartTax: "0.00", ShippingTax: "0.00",
		TotalDiscount: "0.00", PaymentDetails: paymentDetails,
		BillingAddress: billing{address: address{FirstName: o.FirstName, LastName: o.LastName, Country: "US"}, Email: email},
		CustomerIP:     "203.0.113.45",
		CustomerID:     o.CustomerID,
		ViewOrderURL:   fmt.Sprintf("%s/my-account/view-order/%d/", home, o.ID),
		LineItems:      lines,
		ShippingLines:  []any{}, TaxLines: []any{}, FeeLines: []any{}, CouponLines: []any{},
	}
	return map[string]any{"order": order}
}

func (s *Shop) noteJSON(orderID int64, n Note) shopNoteJSON {
	home := s.homeLocked()
	j := shopNoteJSON{ID: n.ID, Author: n.Author, Note: n.Note, CustomerNote: n.CustomerNote}
	j.DateCreated, j.DateCreatedGMT = s.dates(n.Date)
	base := fmt.Sprintf("%s/wp-json/wc/v3/orders/%d", home, orderID)
	j.Links.Self = []shopLink{{fmt.Sprintf("%s/notes/%d", base, n.ID)}}
	j.Links.Collection = []shopLink{{base + "/notes"}}
	j.Links.Up = []shopLink{{base}}
	return j
}

// shopTopicHooks is wc_get_webhook_topic_hooks for the order topics.
var shopTopicHooks = map[string][]string{
	"order.created":  {"woocommerce_new_order"},
	"order.updated":  {"woocommerce_update_order", "woocommerce_order_refunded", "woocommerce_delete_order_refund"},
	"order.deleted":  {"wp_trash_post", "woocommerce_before_delete_order", "woocommerce_trash_order"},
	"order.restored": {"untrashed_post", "woocommerce_untrash_order"},
}

func (s *Shop) webhookJSON(w *shopWebhook) shopWebhookJSON {
	home := s.homeLocked()
	resource, event, _ := strings.Cut(w.Topic, ".")
	hooks := shopTopicHooks[w.Topic]
	if hooks == nil {
		hooks = []string{}
	}
	j := shopWebhookJSON{ID: w.ID, Name: w.Name, Status: w.Status, Topic: w.Topic, Resource: resource, Event: event, Hooks: hooks, DeliveryURL: w.DeliveryURL}
	j.DateCreated, j.DateCreatedGMT = s.dates(w.created)
	j.DateModified, j.DateModifiedGMT = s.dates(w.modified)
	j.Links.Self = []shopLink{{fmt.Sprintf("%s/wp-json/wc/v3/webhooks/%d", home, w.ID)}}
	j.Links.Collection = []shopLink{{home + "/wp-json/wc/v3/webhooks"}}
	return j
}

// ---- REST ----

type shopError struct {
	status  int
	code    string
	message string
	extra   map[string]any
}

type shopRoute struct {
	name  string
	id    int64
	write bool
}

var (
	shopOrderPath   = regexp.MustCompile(`^/wc/v3/orders/(\d+)$`)
	shopNotesPath   = regexp.MustCompile(`^/wc/v3/orders/(\d+)/notes$`)
	shopRefundsPath = regexp.MustCompile(`^/wc/v3/orders/(\d+)/refunds$`)
	shopWebhookPath = regexp.MustCompile(`^/wc/v3/webhooks/(\d+)$`)
)

func shopRouteOf(r *http.Request) (shopRoute, bool) {
	_, rest, ok := strings.Cut(r.URL.Path, "/wp-json")
	if !ok {
		return shopRoute{}, false
	}
	rest = strings.TrimSuffix(rest, "/")
	write := r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch
	id := func(m []string) int64 { n, _ := strconv.ParseInt(m[1], 10, 64); return n }
	switch {
	case rest == "/wc/v3/orders" && r.Method == http.MethodGet:
		return shopRoute{name: "list-orders"}, true
	case rest == "/wc/v3/settings/email_new_order/recipient" && r.Method == http.MethodGet:
		return shopRoute{name: "recipients"}, true
	case rest == "/wc/v3/webhooks" && r.Method == http.MethodGet:
		return shopRoute{name: "list-webhooks"}, true
	}
	if m := shopOrderPath.FindStringSubmatch(rest); m != nil {
		if r.Method == http.MethodGet {
			return shopRoute{name: "get-order", id: id(m)}, true
		}
		if write {
			return shopRoute{name: "update-order", id: id(m), write: true}, true
		}
	}
	if m := shopRefundsPath.FindStringSubmatch(rest); m != nil && r.Method == http.MethodGet {
		return shopRoute{name: "refunds", id: id(m)}, true
	}
	if m := shopNotesPath.FindStringSubmatch(rest); m != nil && r.Method == http.MethodPost {
		return shopRoute{name: "note", id: id(m), write: true}, true
	}
	if m := shopWebhookPath.FindStringSubmatch(rest); m != nil && write {
		return shopRoute{name: "update-webhook", id: id(m), write: true}, true
	}
	return shopRoute{}, false
}

type shopRecorder struct {
	http.ResponseWriter
	status int
}

func (r *shopRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *shopRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// ServeHTTP answers the REST routes.
func (s *Shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/wp-admin/") { // a person's pages, not the REST API
		s.serveAdmin(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	rec := &shopRecorder{ResponseWriter: w}
	route, ok := shopRouteOf(r)
	name := route.name
	if !ok {
		name = "unknown"
	}
	defer func() {
		s.Log.Add(Call{Route: name, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, Status: rec.status})
	}()
	if !ok {
		s.writeError(rec, &shopError{status: 404, code: "rest_no_route", message: "No route was found matching the URL and request method."})
		return
	}
	if answered, _ := s.Faults.Apply(rec, r, route.name); answered {
		return
	}
	s.mu.Lock()
	drop := s.dropAuth
	s.mu.Unlock()
	// php is the request as PHP sees it: without the Authorization header when the web server
	// drops it (SetDropAuthorization). The call log keeps what the client sent.
	php := r
	if drop {
		php = r.Clone(r.Context())
		php.Header.Del("Authorization")
	}
	if e := s.authenticate(php, body, route); e != nil {
		s.writeError(rec, e)
		return
	}
	var e *shopError
	switch route.name {
	case "get-order":
		e = s.getOrder(rec, route.id)
	case "update-order":
		e = s.updateOrder(rec, route.id, body)
	case "note":
		e = s.addNote(rec, route.id, body)
	case "refunds":
		e = s.getRefunds(rec, route.id)
	case "recipients":
		e = s.getRecipients(rec)
	case "list-orders":
		e = s.listOrders(rec, r.URL.Query())
	case "list-webhooks":
		e = s.listWebhooks(rec, r.URL.Query())
	case "update-webhook":
		e = s.updateWebhook(rec, int(route.id), body)
	}
	if e != nil {
		s.writeError(rec, e)
	}
}

func (s *Shop) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := phpJSON(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Shop) writeError(w http.ResponseWriter, e *shopError) {
	s.writeJSON(w, e.status, shopErrorJSON(e.code, e.message, e.status, e.extra))
}

func shopInvalidParam(param, why string) *shopError {
	return &shopError{status: 400, code: "rest_invalid_param", message: "Invalid parameter(s): " + param,
		extra: map[string]any{"params": map[string]string{param: why}}}
}

func (s *Shop) getOrder(w http.ResponseWriter, id int64) *shopError {
	s.mu.Lock()
	o, ok := s.orders[id]
	if !ok {
		s.mu.Unlock()
		return &shopError{status: 404, code: "woocommerce_rest_shop_order_invalid_id", message: "Invalid ID."}
	}
	j := s.orderBody(o)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, j)
	return nil
}

// getRefunds answers GET /orders/{id}/refunds as the v2 refunds controller does: each refund
// with its line items, copies of the order's lines with negative quantities and totals and the
// _refunded_item_id meta naming the order line.
func (s *Shop) getRefunds(w http.ResponseWriter, id int64) *shopError {
	s.mu.Lock()
	o, ok := s.orders[id]
	if !ok {
		s.mu.Unlock()
		return &shopError{status: 404, code: "woocommerce_rest_order_invalid_id", message: "Invalid order ID."}
	}
	out := make([]map[string]any, 0, len(o.Refunds))
	for i := len(o.Refunds) - 1; i >= 0; i-- { // newest first, as the controller orders them
		r := o.Refunds[i]
		items := []map[string]any{}
		for _, l := range o.Lines {
			q := r.Lines[l.ID]
			if q <= 0 {
				continue
			}
			t, _ := strconv.ParseFloat(l.Total, 64)
			part := fmt.Sprintf("-%.2f", t*float64(q)/float64(max(l.Quantity, 1)))
			items = append(items, map[string]any{
				"id": r.ID*100 + l.ID, "name": l.Name, "product_id": l.ProductID, "variation_id": 0,
				"quantity": -q, "tax_class": "", "subtotal": part, "subtotal_tax": "0.00",
				"total": part, "total_tax": "0.00", "taxes": []any{}, "sku": shopCopyString(l.SKU),
				"meta_data": []map[string]any{{"id": r.ID*100 + l.ID, "key": "_refunded_item_id",
					"value": strconv.FormatInt(l.ID, 10), "display_key": "_refunded_item_id",
					"display_value": strconv.FormatInt(l.ID, 10)}},
			})
		}
		local, gmt := s.dates(o.Modified)
		out = append(out, map[string]any{
			"id": r.ID, "date_created": local, "date_created_gmt": gmt, "amount": r.Total,
			"reason": r.Reason, "refunded_by": 1, "refunded_payment": false, "meta_data": []any{},
			"line_items": items, "shipping_lines": []any{}, "tax_lines": []any{}, "fee_lines": []any{},
		})
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

var shopOrderStatuses = []string{"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "checkout-draft"}

func shopDecodeBody(body []byte) (map[string]json.RawMessage, *shopError) {
	in := map[string]json.RawMessage{}
	if len(strings.TrimSpace(string(body))) == 0 {
		return in, nil
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &shopError{status: 400, code: "rest_invalid_json", message: "Invalid JSON body passed."}
	}
	return in, nil
}

func (s *Shop) updateOrder(w http.ResponseWriter, id int64, body []byte) *shopError {
	in, e := shopDecodeBody(body)
	if e != nil {
		return e
	}
	var status, txn *string
	var setPaid bool
	if raw, ok := in["status"]; ok {
		var v string
		if json.Unmarshal(raw, &v) != nil || !slices.Contains(shopOrderStatuses, v) {
			return shopInvalidParam("status", "status is not one of "+strings.Join(shopOrderStatuses, ", ")+".")
		}
		status = &v
	}
	if raw, ok := in["transaction_id"]; ok {
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return shopInvalidParam("transaction_id", "transaction_id is not of type string.")
		}
		txn = &v
	}
	if raw, ok := in["set_paid"]; ok {
		if json.Unmarshal(raw, &setPaid) != nil {
			return shopInvalidParam("set_paid", "set_paid is not of type boolean.")
		}
	}

	s.mu.Lock()
	o, ok := s.orders[id]
	if !ok {
		s.mu.Unlock()
		return &shopError{status: 400, code: "woocommerce_rest_shop_order_invalid_id", message: "Invalid ID."}
	}
	if txn != nil {
		o.TransactionID = *txn
	}
	if setPaid { // payment_complete(): needs_processing → processing
		if slices.Contains([]string{"pending", "on-hold", "failed", "cancelled"}, o.Status) {
			o.Status = "processing"
		}
	}
	if status != nil { // save_object applies the status last
		o.Status = *status
	}
	s.touch(o)
	shopStatusSideEffects(o, o.Modified)
	s.enqueueLocked("order.updated", o)
	j := s.orderBody(o)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, j)
	return nil
}

func (s *Shop) addNote(w http.ResponseWriter, id int64, body []byte) *shopError {
	in, e := shopDecodeBody(body)
	if e != nil {
		return e
	}
	var note string
	var customer, byUser bool
	if raw, ok := in["note"]; ok {
		if json.Unmarshal(raw, &note) != nil {
			return shopInvalidParam("note", "note is not of type string.")
		}
	} else {
		return &shopError{status: 400, code: "rest_missing_callback_param", message: "Missing parameter(s): note",
			extra: map[string]any{"params": []string{"note"}}}
	}
	if raw, ok := in["customer_note"]; ok && json.Unmarshal(raw, &customer) != nil {
		return shopInvalidParam("customer_note", "customer_note is not of type boolean.")
	}
	if raw, ok := in["added_by_user"]; ok && json.Unmarshal(raw, &byUser) != nil {
		return shopInvalidParam("added_by_user", "added_by_user is not of type boolean.")
	}

	s.mu.Lock()
	o, ok := s.orders[id]
	if !ok {
		s.mu.Unlock()
		return &shopError{status: 404, code: "woocommerce_rest_order_invalid_id", message: "Invalid order ID."}
	}
	s.lastNote++
	n := Note{ID: s.lastNote, Note: note, CustomerNote: customer, AddedByUser: byUser, Author: "system", Date: s.now().UTC().Truncate(time.Second)}
	if byUser {
		n.Author = "admin"
	}
	o.Notes = append(o.Notes, n)
	j := s.noteJSON(id, n)
	s.mu.Unlock()
	w.Header().Set("Location", j.Links.Self[0].Href)
	s.writeJSON(w, http.StatusCreated, j)
	return nil
}

func (s *Shop) getRecipients(w http.ResponseWriter) *shopError {
	s.mu.Lock()
	value := s.recipients
	home := s.homeLocked()
	s.mu.Unlock()
	v := struct {
		ID          string `json:"id"`
		Label       string `json:"label"`
		Description string `json:"description"`
		Type        string `json:"type"`
		Default     string `json:"default"`
		Tip         string `json:"tip"`
		Value       string `json:"value"`
		GroupID     string `json:"group_id"`
		Links       struct {
			Self       []shopLink `json:"self"`
			Collection []shopLink `json:"collection"`
		} `json:"_links"`
	}{
		ID: "recipient", Label: "Recipient(s)", Type: "text",
		Description: "Enter recipients (comma separated) for this email. Defaults to <code>admin@example.com</code>.",
		Tip:         "Enter recipients (comma separated) for this email. Defaults to <code>admin@example.com</code>.",
		Value:       value, GroupID: "email_new_order",
	}
	v.Links.Self = []shopLink{{home + "/wp-json/wc/v3/settings/email_new_order/recipient"}}
	v.Links.Collection = []shopLink{{home + "/wp-json/wc/v3/settings/email_new_order"}}
	s.writeJSON(w, http.StatusOK, v)
	return nil
}

// shopPaging reads page and per_page as the REST collection params define them.
func shopPaging(q url.Values) (page, perPage int, e *shopError) {
	page, perPage = 1, 10
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, shopInvalidParam("page", "page is not of type integer.")
		}
		if n < 1 {
			return 0, 0, shopInvalidParam("page", "page must be greater than or equal to 1")
		}
		page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, shopInvalidParam("per_page", "per_page is not of type integer.")
		}
		if n < 1 || n > 100 {
			return 0, 0, shopInvalidParam("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
		}
		perPage = n
	}
	return page, perPage, nil
}

func shopPage[T any](items []T, page, perPage int) []T {
	from := (page - 1) * perPage
	if from >= len(items) {
		return []T{}
	}
	return items[from:min(from+perPage, len(items))]
}

func shopSetTotals(w http.ResponseWriter, total, perPage int) {
	pages := (total + perPage - 1) / perPage
	w.Header().Set("X-WP-Total", strconv.Itoa(total))
	w.Header().Set("X-WP-TotalPages", strconv.Itoa(pages))
}

// shopParseBool is rest_sanitize_boolean's accepted forms.
func shopParseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off", "":
		return false, true
	}
	return false, false
}

func (s *Shop) listOrders(w http.ResponseWriter, q url.Values) *shopError {
	page, perPage, e := shopPaging(q)
	if e != nil {
		return e
	}
	orderby := q.Get("orderby")
	if orderby == "" {
		orderby = "date"
	}
	if !slices.Contains([]string{"date", "id", "include", "title", "slug", "modified"}, orderby) {
		return shopInvalidParam("orderby", "orderby is not one of date, id, include, title, slug, and modified.")
	}
	order := q.Get("order")
	if order == "" {
		order = "desc"
	}
	if order != "asc" && order != "desc" {
		return shopInvalidParam("order", "order is not one of asc and desc.")
	}
	gmt, ok := shopParseBool(q.Get("dates_are_gmt"))
	if !ok {
		return shopInvalidParam("dates_are_gmt", "dates_are_gmt is not of type boolean.")
	}
	type bound struct {
		param  string
		after  bool
		create bool
	}
	var filters []func(o *OrderState) bool
	for _, b := range []bound{{"after", true, true}, {"before", false, true}, {"modified_after", true, false}, {"modified_before", false, false}} {
		v := q.Get(b.param)
		if v == "" {
			continue
		}
		t, ok := s.parseQueryDate(v, gmt)
		if !ok {
			return shopInvalidParam(b.param, "Invalid date.")
		}
		filters = append(filters, func(o *OrderState) bool {
			col := o.Modified
			if b.create {
				col = o.Created
			}
			if b.after {
				return col.After(t)
			}
			return col.Before(t)
		})
	}
	statuses := []string{"any"}
	if v := q.Get("status"); v != "" {
		statuses = strings.Split(v, ",")
	}

	s.mu.Lock()
	var list []*OrderState
	for _, o := range s.orders {
		if slices.Contains(statuses, "any") {
			if o.Status == "checkout-draft" || o.Status == "trash" {
				continue
			}
		} else if !slices.Contains(statuses, o.Status) {
			continue
		}
		keep := true
		for _, f := range filters {
			keep = keep && f(o)
		}
		if keep {
			list = append(list, o)
		}
	}
	slices.SortFunc(list, func(a, b *OrderState) int {
		c := 0
		switch orderby {
		case "date":
			c = a.Created.Compare(b.Created)
		case "modified":
			c = a.Modified.Compare(b.Modified)
		}
		if c == 0 {
			c = cmp.Compare(a.ID, b.ID) // "date ID", "modified ID": the id breaks ties
		}
		if order == "desc" {
			return -c
		}
		return c
	})
	out := make([]json.RawMessage, 0, perPage)
	for _, o := range shopPage(list, page, perPage) {
		out = append(out, s.orderBody(o))
	}
	total := len(list)
	s.mu.Unlock()

	shopSetTotals(w, total, perPage)
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// parseQueryDate reads a date-time query parameter (rest_parse_date forms). Without a zone it
// is UTC when gmt, else site-local.
func (s *Shop) parseQueryDate(v string, gmt bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	loc := s.loc
	if gmt {
		loc = time.UTC
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (s *Shop) listWebhooks(w http.ResponseWriter, q url.Values) *shopError {
	page, perPage, e := shopPaging(q)
	if e != nil {
		return e
	}
	status := q.Get("status")
	if status == "" {
		status = "all"
	}
	if !slices.Contains([]string{"all", "active", "paused", "disabled"}, status) {
		return shopInvalidParam("status", "status is not one of all, active, paused, and disabled.")
	}
	s.mu.Lock()
	var list []*shopWebhook
	for _, h := range s.hooks {
		if status == "all" || h.Status == status {
			list = append(list, h)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID > list[j].ID }) // date desc
	out := make([]shopWebhookJSON, 0, perPage)
	for _, h := range shopPage(list, page, perPage) {
		out = append(out, s.webhookJSON(h))
	}
	total := len(list)
	s.mu.Unlock()
	shopSetTotals(w, total, perPage)
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Shop) updateWebhook(w http.ResponseWriter, id int, body []byte) *shopError {
	in, e := shopDecodeBody(body)
	if e != nil {
		return e
	}
	var status, name, deliveryURL *string
	for key, dst := range map[string]**string{"status": &status, "name": &name, "delivery_url": &deliveryURL} {
		raw, ok := in[key]
		if !ok {
			continue
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return shopInvalidParam(key, key+" is not of type string.")
		}
		*dst = &v
	}
	if status != nil && !slices.Contains([]string{"active", "paused", "disabled"}, *status) {
		return shopInvalidParam("status", "status is not one of active, paused, and disabled.")
	}
	s.mu.Lock()
	h, ok := s.hooks[id]
	if !ok {
		s.mu.Unlock()
		return &shopError{status: 400, code: "woocommerce_rest_shop_webhook_invalid_id", message: "ID is invalid."}
	}
	urlChanged := false
	if status != nil {
		h.Status = *status
	}
	if name != nil {
		h.Name = *name
	}
	if deliveryURL != nil && *deliveryURL != h.DeliveryURL {
		h.DeliveryURL = *deliveryURL
		urlChanged = true
	}
	h.modified = s.now()
	ping := h.Status == "active" && (urlChanged || h.PendingDelivery)
	s.mu.Unlock()
	if ping {
		s.ping(id)
	}
	s.mu.Lock()
	j := s.webhookJSON(h)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, j)
	return nil
}

// ---- authentication (class-wc-rest-authentication.php) ----

func (s *Shop) authenticate(r *http.Request, body []byte, route shopRoute) *shopError {
	authed := false
	var authErr *shopError
	if r.TLS != nil { // perform_basic_authentication, only when is_ssl()
		q := r.URL.Query()
		key, secret := q.Get("consumer_key"), q.Get("consumer_secret")
		if key == "" || secret == "" {
			key, secret = "", ""
			if u, p, ok := r.BasicAuth(); ok && u != "" && p != "" {
				key, secret = u, p
			}
		}
		if key != "" && secret != "" && key == s.cfg.ConsumerKey {
			if subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ConsumerSecret)) == 1 {
				authed = true
			} else {
				authErr = &shopError{status: 401, code: "woocommerce_rest_authentication_error", message: "Consumer secret is invalid."}
			}
		}
	}
	if !authed {
		params, e := shopOAuthParams(r, body)
		switch {
		case e != nil:
			authErr = e
		case params != nil:
			if e := s.checkOAuth(r, params); e != nil {
				authErr = e
			} else {
				authed, authErr = true, nil
			}
		}
	}
	if authErr != nil {
		return authErr
	}
	if !authed {
		return shopAnonymous(route.name)
	}
	perm := s.cfg.KeyPermissions
	if route.write && perm != "write" && perm != "read_write" {
		return &shopError{status: 401, code: "woocommerce_rest_authentication_error", message: "The API key provided does not have write permissions."}
	}
	if !route.write && perm != "read" && perm != "read_write" {
		return &shopError{status: 401, code: "woocommerce_rest_authentication_error", message: "The API key provided does not have read permissions."}
	}
	return nil
}

// shopAnonymous is what the controllers' permission checks answer to a request without a user
// (rest_authorization_required_code() is 401 then).
func shopAnonymous(route string) *shopError {
	switch route {
	case "get-order":
		return &shopError{status: 401, code: "woocommerce_rest_cannot_view", message: "Sorry, you cannot view this resource."}
	case "update-order", "update-webhook":
		return &shopError{status: 401, code: "woocommerce_rest_cannot_edit", message: "Sorry, you are not allowed to edit this resource."}
	case "note":
		return &shopError{status: 401, code: "woocommerce_rest_cannot_create", message: "Sorry, you are not allowed to create resources."}
	default:
		return &shopError{status: 401, code: "woocommerce_rest_cannot_view", message: "Sorry, you cannot list resources."}
	}
}

var shopOAuthHeaderParam = regexp.MustCompile(`(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))`)

// shopOAuthParams is get_oauth_parameters: $_GET, then $_POST, then the "OAuth" Authorization
// header, one value per key (PHP keeps the last). nil when no OAuth parameter is there.
func shopOAuthParams(r *http.Request, body []byte) (map[string]string, *shopError) {
	params := map[string]string{}
	for k, vs := range r.URL.Query() {
		params[k] = vs[len(vs)-1]
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		if form, err := url.ParseQuery(string(body)); err == nil {
			for k, vs := range form {
				params[k] = vs[len(vs)-1]
			}
		}
	}
	if h := strings.TrimSpace(r.Header.Get("Authorization")); strings.HasPrefix(h, "OAuth ") {
		for _, m := range shopOAuthHeaderParam.FindAllStringSubmatch(h, -1) {
			v := m[3]
			if v == "" {
				v = m[4]
			}
			if d, err := url.QueryUnescape(v); err == nil {
				v = d
			}
			params[m[1]] = v
		}
	}
	var missing []string
	have := false
	for _, n := range []string{"oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method"} {
		if params[n] == "" {
			missing = append(missing, n)
		} else {
			have = true
		}
	}
	if !have {
		return nil, nil
	}
	if len(missing) > 0 {
		msg := "Missing OAuth parameter " + missing[0]
		if len(missing) > 1 {
			msg = "Missing OAuth parameters " + strings.Join(missing, ", ")
		}
		return nil, &shopError{status: 401, code: "woocommerce_rest_authentication_missing_parameter", message: msg}
	}
	return params, nil
}

// checkOAuth is perform_oauth_authentication after the parameters: key, signature
// (check_oauth_signature), then timestamp and nonce.
func (s *Shop) checkOAuth(r *http.Request, params map[string]string) *shopError {
	if params["oauth_consumer_key"] != s.cfg.ConsumerKey {
		return &shopError{status: 401, code: "woocommerce_rest_authentication_error", message: "Consumer key is invalid."}
	}
	s.mu.Lock()
	home := s.home
	s.mu.Unlock()
	if home == "" {
		home = "http://" + r.Host
	}
	base := shopOAuthBaseString(r, home, params)
	var newHash func() hash.Hash
	switch params["oauth_signature_method"] {
	case "HMAC-SHA1":
		newHash = sha1.New
	case "HMAC-SHA256":
		newHash = sha256.New
	default:
		return &shopError{status: 401, code: "woocommerce_rest_authentication_error", message: "Invalid signature - signature method is invalid."}
	}
	m := hmac.New(newHash, []byte(s.cfg.ConsumerSecret+"&"))
	m.Write([]byte(base))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	got := strings.ReplaceAll(params["oauth_signature"], " ", "+")
	if d, err := url.PathUnescape(got); err == nil { // rawurldecode
		got = d
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return &shopError{status: 401, code: "woocommerce_rest_authentication_error", message: "Invalid signature - provided signature does not match."}
	}

	now := s.now().Unix()
	ts, err := strconv.ParseInt(params["oauth_timestamp"], 10, 64)
	if err != nil || ts < now-shopNonceWindow || ts > now+shopNonceWindow {
		return &shopError{status: 401, code: "woocommerce_rest_authentication_error", message: "Invalid timestamp."}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nonce := params["oauth_nonce"]
	if _, used := s.nonces[nonce]; used {
		return &shopError{status: 401, code: "woocommerce_rest_authentication_error", message: "Invalid nonce - nonce has already been used."}
	}
	s.nonces[nonce] = ts
	for n, t := range s.nonces {
		if t < now-shopNonceWindow {
			delete(s.nonces, n)
		}
	}
	return nil
}

// shopOAuthBaseString builds the string to sign exactly as check_oauth_signature: the request
// path relative to the home path, appended to the home URL with the scheme of the request
// (is_ssl), rawurlencoded; parameters without oauth_signature sorted by key with strcmp, key
// and value rawurlencoded, "key=value" rawurlencoded again, joined with "%26".
func shopOAuthBaseString(r *http.Request, home string, params map[string]string) string {
	hu, err := url.Parse(home)
	if err != nil {
		hu = &url.URL{Host: r.Host}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	reqPath, _, _ := strings.Cut(r.RequestURI, "?")
	if reqPath == "" || !strings.HasPrefix(reqPath, "/") { // absolute-form request URI
		reqPath = r.URL.EscapedPath()
	}
	homePath := strings.TrimRight(hu.EscapedPath(), "/")
	wpBase := homePath + "/"
	reqPath = strings.TrimPrefix(reqPath, wpBase)
	full := scheme + "://" + hu.Host + homePath + "/" + strings.TrimLeft(reqPath, "/")

	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "oauth_signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = phpRawURLEncode(phpRawURLEncode(k) + "=" + phpRawURLEncode(params[k]))
	}
	return strings.ToUpper(r.Method) + "&" + phpRawURLEncode(full) + "&" + strings.Join(pairs, "%26")
}

// ---- small helpers ----

func shopCopyString(p *string) *string {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// shopMoney formats an amount like wc_format_decimal with 2 decimals ("149" → "149.00").
func shopMoney(v string) string {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return "0.00"
	}
	return fmt.Sprintf("%.2f", f)
}

func shopRandomAlnum(n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// shopCurrencySymbol is get_woocommerce_currency_symbol, HTML entities decoded (unverified for
// the REST field; the symbol is not used by the service).
func shopCurrencySymbol(c string) string {
	switch c {
	case "USD", "ARS", "MXN", "COP", "CLP", "CAD", "AUD":
		return "$"
	case "EUR":
		return "€"
	case "GBP":
		return "£"
	case "BRL":
		return "R$"
	}
	return c
}
