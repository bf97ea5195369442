package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func adminGet(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func adminPost(t *testing.T, u string, form url.Values) (int, string, string) {
	t.Helper()
	res, err := noRedirect.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

var nonceRE = regexp.MustCompile(`name="(?:woocommerce_meta_nonce|nonce)" value="([^"]+)"`)

func formNonce(t *testing.T, page string) string {
	t.Helper()
	m := nonceRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no nonce in the page:\n%s", page)
	}
	return m[1]
}

// orderUpdatedStatuses returns the status of every order.updated delivery of order id.
func orderUpdatedStatuses(t *testing.T, s *Shop, id int64) []string {
	t.Helper()
	var out []string
	for _, d := range s.Deliveries() {
		if d.Topic != "order.updated" || d.OrderID != id || d.Ping {
			continue
		}
		var o struct{ Status string }
		if err := json.Unmarshal(d.Body, &o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o.Status)
	}
	return out
}

// The orders screen lists each order with its lines, its notes (newest first) and the edit
// screen's status field and Update button, in the site's language.
func TestShopAdminListsOrders(t *testing.T) {
	t.Parallel()
	s := newTestShop(t)
	s.SetLanguage("es_AR")
	spec := shopTestOrder()
	id := s.CreateOrder(spec)
	s.UpdateOrder(id, func(o *OrderState) {
		o.Notes = append(o.Notes,
			Note{ID: 1, Note: "Open edX enrollment failed.\n- course-v1:X+NOPE+1: <no such course>", Author: "system", Date: time.Now()},
			Note{ID: 2, Note: "second note", Author: "system", Date: time.Now()})
	})
	other := s.CreateOrder(OrderSpec{Status: "on-hold", FirstName: "Bo"})
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.SetHomeURL(srv.URL)

	code, page := adminGet(t, s.AdminOrdersURL())
	if code != http.StatusOK {
		t.Fatalf("GET the orders: %d\n%s", code, page)
	}
	for _, want := range []string{
		`<html lang="es">`,
		`<section class="order" id="order-` + strconv.FormatInt(id, 10) + `" data-status="processing">`,
		`<mark class="order-status status-processing"><span>Procesando</span></mark>`,
		`<mark class="order-status status-on-hold"><span>En espera</span></mark>`,
		`<option value="wc-processing" selected>Procesando</option>`,
		`<option value="wc-on-hold">En espera</option>`,
		`<option value="wc-completed">Completado</option>`,
		`<option value="wc-pending">Pendiente de pago</option>`,
		`<option value="wc-cancelled">Cancelado</option>`,
		`<option value="wc-refunded">Reembolsado</option>`,
		`<option value="wc-failed">Fallido</option>`,
		`name="save" value="Actualizar">Actualizar</button>`,
		`<code>course-v1:ExampleX&#43;PY101&#43;2024_T4</code>`,
		"- course-v1:X&#43;NOPE&#43;1: &lt;no such course&gt;", // escaped
		"Todavía no hay notas.",                                // the other order
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if i, j := strings.Index(page, "second note"), strings.Index(page, "Open edX enrollment failed."); i < 0 || j < 0 || i > j {
		t.Errorf("notes not newest first (second at %d, first at %d)", i, j)
	}
	if i, j := strings.Index(page, `id="order-`+strconv.FormatInt(other, 10)+`"`), strings.Index(page, `id="order-`+strconv.FormatInt(id, 10)+`"`); i < 0 || i > j {
		t.Errorf("the newer order is not listed first")
	}
	if t.Failed() {
		t.Log(page)
	}

	s.SetLanguage("en")
	_, page = adminGet(t, s.AdminOrdersURL()+"&action=edit&id="+strconv.FormatInt(other, 10))
	for _, want := range []string{`<option value="wc-on-hold" selected>On hold</option>`, `value="Update">Update</button>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the English edit screen lacks %q", want)
		}
	}
	if strings.Contains(page, `id="order-`+strconv.FormatInt(id, 10)+`"`) {
		t.Error("the edit screen of one order shows another")
	}
	if n := len(s.Log.Calls()); n != 0 {
		t.Errorf("the admin pages are in the REST call log: %d calls", n)
	}
}

// Saving the edit screen sets the status and fires Order updated, as WooCommerce's save does
// (even when the status did not change); a bad form changes nothing and fires nothing.
func TestShopAdminSaveFiresOrderUpdated(t *testing.T) {
	t.Parallel()
	rcv := newShopReceiver(t, 200)
	s := newTestShop(t)
	s.SetLanguage("es")
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.SetHomeURL(srv.URL)
	s.AddWebhook("Updated", "order.updated", rcv.srv.URL)
	id := s.CreateOrder(shopTestOrder())
	edit := srv.URL + "/wp-admin/admin.php?page=wc-orders&action=edit&id=" + strconv.FormatInt(id, 10)
	_, page := adminGet(t, s.AdminOrdersURL())
	nonce := formNonce(t, page)

	save := func(status string) (int, string, string) {
		t.Helper()
		return adminPost(t, edit, url.Values{"woocommerce_meta_nonce": {nonce}, "order_status": {status}, "save": {"Actualizar"}})
	}
	code, loc, _ := save("wc-on-hold")
	if code != http.StatusFound || loc != "/wp-admin/admin.php?page=wc-orders&updated="+strconv.FormatInt(id, 10)+"#order-"+strconv.FormatInt(id, 10) {
		t.Fatalf("save answered %d, Location %q", code, loc)
	}
	s.Wait()
	if o, _ := s.Order(id); o.Status != "on-hold" {
		t.Errorf("status %q after saving On hold", o.Status)
	}
	code, page = adminGet(t, srv.URL+loc)
	if code != http.StatusOK || !strings.Contains(page, "Pedido actualizado.") || !strings.Contains(page, `class="order updated"`) {
		t.Errorf("the page after saving (%d) does not say the order was updated:\n%s", code, page)
	}
	save("wc-on-hold") // saved again, unchanged
	s.Wait()
	code, _, _ = save("wc-processing")
	s.Wait()
	if code != http.StatusFound {
		t.Errorf("save Processing answered %d", code)
	}
	if got := strings.Join(orderUpdatedStatuses(t, s, id), " "); got != "on-hold on-hold processing" {
		t.Errorf("order.updated deliveries with statuses %q, want on-hold on-hold processing", got)
	}
	if o, _ := s.Order(id); o.Status != "processing" || o.Paid.IsZero() {
		t.Errorf("after saving Processing: status %q, paid %v", o.Status, o.Paid)
	}

	// Refused: nothing changes, nothing is delivered.
	for _, tc := range []struct {
		name string
		url  string
		form url.Values
		code int
		says string
	}{
		{"bad nonce", edit, url.Values{"woocommerce_meta_nonce": {"x"}, "order_status": {"wc-completed"}}, 403, "El enlace que has seguido ha caducado."},
		{"no status", edit, url.Values{"woocommerce_meta_nonce": {nonce}}, 400, "Falta el estado del pedido."},
		{"bad status", edit, url.Values{"woocommerce_meta_nonce": {nonce}, "order_status": {"wc-shipped"}}, 400, "Estado de pedido no válido."},
		{"no order", srv.URL + "/wp-admin/admin.php?page=wc-orders&action=edit&id=999", url.Values{"woocommerce_meta_nonce": {nonce}, "order_status": {"wc-completed"}}, 404, "no existe"},
	} {
		code, _, body := adminPost(t, tc.url, tc.form)
		if code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d, want %d saying %q:\n%s", tc.name, code, tc.code, tc.says, body)
		}
	}
	s.Wait()
	if o, _ := s.Order(id); o.Status != "processing" {
		t.Errorf("a refused save changed the status to %q", o.Status)
	}
	if n := len(orderUpdatedStatuses(t, s, id)); n != 3 {
		t.Errorf("%d order.updated deliveries after the refused saves, want still 3", n)
	}
	if code, _ := adminGet(t, srv.URL+"/wp-admin/edit.php?post_type=shop_order"); code != http.StatusNotFound {
		t.Errorf("an unsimulated screen answered %d", code)
	}
}

// The LMS's courses page creates a course (the fix of an order that failed for want of it);
// the Enrollment API then enrolls in it.
func TestLMSCoursesPage(t *testing.T) {
	t.Parallel()
	l, srv := lmsFixture(t)
	l.SetLanguage("es")
	const course = "course-v1:DemoX+NOPE+2026"
	code, page := adminGet(t, LMSCoursesURL(srv.URL, course))
	if code != http.StatusOK || !strings.Contains(page, `value="course-v1:DemoX&#43;NOPE&#43;2026"`) ||
		!strings.Contains(page, `<button type="submit" id="create">Crear curso</button>`) {
		t.Fatalf("GET the courses page (%d): the form is not filled in:\n%s", code, page)
	}
	nonce := formNonce(t, page)
	tok := lmsGetToken(t, srv, "staff")
	enroll := `{"user":"bob","course_details":{"course_id":"` + course + `"}}`
	if code, _ := lmsDo(t, srv, tok, "POST", "/api/enrollment/v1/enrollment", enroll); code != http.StatusBadRequest {
		t.Fatalf("enrolling in the missing course answered %d, want 400", code)
	}
	calls := len(l.Log.Calls())

	for _, tc := range []struct {
		name string
		form url.Values
		code int
		says string
	}{
		{"bad nonce", url.Values{"nonce": {"x"}, "course_id": {course}}, 403, "caducado"},
		{"bad id", url.Values{"nonce": {nonce}, "course_id": {"DemoX NOPE"}}, 400, "No es un id de curso"},
		{"bad mode", url.Values{"nonce": {nonce}, "course_id": {course}, "modes": {"audit, Pro Mode"}}, 400, "No es una modalidad de curso: Pro Mode"},
		{"exists", url.Values{"nonce": {nonce}, "course_id": {lmsTestCourse}}, 409, "Ese curso ya existe."},
	} {
		code, _, body := adminPost(t, srv.URL+LMSCoursesPath, tc.form)
		if code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d, want %d saying %q", tc.name, code, tc.code, tc.says)
		}
	}
	if code, _ := lmsDo(t, srv, tok, "POST", "/api/enrollment/v1/enrollment", enroll); code != http.StatusBadRequest {
		t.Fatalf("a refused form created the course (enroll answered %d)", code)
	}

	code, loc, _ := adminPost(t, srv.URL+LMSCoursesPath, url.Values{"nonce": {nonce}, "course_id": {" " + course + " "}, "modes": {"audit"}})
	if code != http.StatusSeeOther {
		t.Fatalf("create answered %d", code)
	}
	_, page = adminGet(t, srv.URL+loc)
	if !strings.Contains(page, `Curso creado: <code>course-v1:DemoX&#43;NOPE&#43;2026</code>`) {
		t.Errorf("the page after creating does not say so:\n%s", page)
	}
	if code, body := lmsDo(t, srv, tok, "POST", "/api/enrollment/v1/enrollment", enroll); code != http.StatusOK {
		t.Fatalf("enrolling in the created course answered %d %s", code, body)
	}
	_, page = adminGet(t, srv.URL+LMSCoursesPath)
	if !strings.Contains(page, `<td>bob</td>`) {
		t.Errorf("the enrollment is not listed:\n%s", page)
	}
	// Only the API calls above are in the log, not the page's requests.
	if got := len(l.Log.Calls()) - calls; got != 2 {
		t.Errorf("%d calls logged since, want the 2 API calls", got)
	}
}
