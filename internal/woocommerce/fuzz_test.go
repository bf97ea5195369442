package woocommerce

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// Fuzz targets for what the Webhook function reads from the network before anything is
// stored (SPEC §2.1). Seed inputs live in testdata/fuzz/<FuzzName>/ (among them the
// protocols.md A7 order body, deep nesting and huge numbers) besides the f.Add calls.

// FuzzParseOrder: any body either fails to parse or gives an order with a positive id; the
// parse is deterministic; the order survives a round trip through its canonical JSON (the
// payload re-encoded) unchanged; and OrderID, which order.deleted/order.restored use, reads
// the same id whenever ParseOrder succeeds.
func FuzzParseOrder(f *testing.F) {
	for _, s := range []string{
		`{"id":727}`,
		`{"id":1,"status":"on-hold","payment_method":"bacs","line_items":[{"id":1,"product_id":93,"quantity":1,"sku":"course-v1:X+Y+Z"}]}`,
		`{"id":"727"}`,
		`{"id":727.0}`,
		`{"id":-1}`,
		`{"id":9223372036854775807}`,
		`{"id":9223372036854775808}`,
		`{"id":1,"date_modified_gmt":"2024-11-05T14:32:14"}`,
		`{"id":1,"date_modified_gmt":"2024-11-05 14:32:14"}`,
		`{"id":1,"id":2}`,
		`{"ID":3}`,
		`null`,
		`[{"id":1}]`,
		`webhook_id=12`,
		`{"id":1,"number":1,"line_items":[{"id":"2","quantity":1.5,"product_id":"93","sku":{"a":1}}],"billing":[]}`,
		`{"id":1,"line_items":{"0":{"id":2,"sku":"course-v1:X+Y+Z"},"2":null},"refunds":[{"id":"7"}]}`,
		`{"id":1,"status":true,"billing":{"email":{"x":"y"}},"date_modified_gmt":"2024-11-05T14:32:14+02:00"}`,
		`{"order":{"id":727}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := ParseOrder(body)
		id, idErr := OrderID(body)
		if err != nil {
			if o != nil {
				t.Fatalf("ParseOrder(%q) returned an order with error %v", body, err)
			}
			return
		}
		if o == nil || o.ID <= 0 {
			t.Fatalf("ParseOrder(%q) = %+v without error; want a positive id", body, o)
		}
		if idErr != nil || id != o.ID {
			t.Fatalf("OrderID(%q) = %d, %v; ParseOrder read id %d", body, id, idErr, o.ID)
		}
		again, err := ParseOrder(body)
		if err != nil || !reflect.DeepEqual(again, o) {
			t.Fatalf("parsing %q twice gave %+v, %v and %+v", body, o, nil, again)
		}
		// The canonical form: the typed payload re-encoded. It must give the same order.
		var p OrderPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("ParseOrder accepted %q but the payload does not decode: %v", body, err)
		}
		canon, err := json.Marshal(&p)
		if err != nil {
			t.Fatalf("re-encoding the payload of %q: %v", body, err)
		}
		re, err := ParseOrder(canon)
		if err != nil || !reflect.DeepEqual(re, o) {
			t.Fatalf("re-parsing the canonical form %s of %q gave %+v, %v; want %+v", canon, body, re, err, o)
		}
	})
}

// FuzzVerifySignature: a body signed with the secret verifies; flipping any bits of one byte
// of the body or of the signature never verifies; an arbitrary header verifies only when it
// is the signature (surrounding white space aside).
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte("local-webhook-secret"), []byte(`{"id":727}`), uint(0), byte(1), "")
	f.Add([]byte(""), []byte(""), uint(3), byte(0x80), "x")
	f.Add([]byte("s"), []byte("webhook_id=1"), uint(43), byte(0x1d), " ")
	f.Add([]byte("k"), []byte(`{"id":1}`), uint(7), byte(0xff), "BAD=")
	f.Fuzz(func(t *testing.T, secret, body []byte, pos uint, mask byte, header string) {
		v, err := NewVerifier(string(secret), "https://shop.example.com")
		if err != nil {
			t.Fatal(err)
		}
		sig := Sign(secret, body)
		h := http.Header{}
		h.Set(HeaderSignature, sig)
		if err := v.VerifySignature(h, body); err != nil {
			t.Fatalf("the correct signature of %q does not verify: %v", body, err)
		}
		if mask == 0 {
			mask = 1
		}
		if len(body) > 0 {
			bad := append([]byte(nil), body...)
			bad[pos%uint(len(bad))] ^= mask
			if err := v.VerifySignature(h, bad); err == nil {
				t.Fatalf("the signature of %q verifies the changed body %q", body, bad)
			}
		}
		badSig := []byte(sig)
		badSig[pos%uint(len(badSig))] ^= mask
		h.Set(HeaderSignature, string(badSig))
		if err := v.VerifySignature(h, body); err == nil {
			t.Fatalf("the changed signature %q verifies %q (correct: %q)", badSig, body, sig)
		}
		h.Set(HeaderSignature, header)
		err = v.VerifySignature(h, body)
		if want := strings.TrimSpace(header) == sig; (err == nil) != want {
			t.Fatalf("header %q over %q: error %v; want it to verify: %v", header, body, err, want)
		}
		if header == "" && err != ErrNoSignature {
			t.Fatalf("no header: error %v, want ErrNoSignature", err)
		}
	})
}

// FuzzIsPing: a request is WooCommerce's ping exactly when it has no topic header and its
// body is "webhook_id=" followed by one or more ASCII digits and nothing else.
func FuzzIsPing(f *testing.F) {
	for _, s := range []string{"webhook_id=12", "webhook_id=", "webhook_id=1\n", "webhook_id=١", "webhook_id=12&x=1", " webhook_id=1", `{"id":1}`} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte("webhook_id=12"), "order.created")
	f.Fuzz(func(t *testing.T, body []byte, topic string) {
		h := http.Header{}
		if topic != "" {
			h.Set(HeaderTopic, topic)
		}
		want := h.Get(HeaderTopic) == ""
		digits, ok := strings.CutPrefix(string(body), "webhook_id=")
		want = want && ok && digits != "" && strings.Trim(digits, "0123456789") == ""
		if got := IsPing(h, body); got != want {
			t.Fatalf("IsPing(topic %q, %q) = %v, want %v", topic, body, got, want)
		}
	})
}
