package jobs

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// FuzzDecodePush: whatever a caller POSTs to the Enroll function, DecodePush never panics,
// and a job it accepts always has a kind and a positive order id; anything it rejects is
// ErrBadPush (acknowledged, never retried). A job encoded as Pub/Sub pushes it (EncodePush)
// decodes to the same job, subscription and attempt.
func FuzzDecodePush(f *testing.F) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Unix()
	for _, s := range []string{
		string(EncodePush(enrollment.Job{ID: "j1", Kind: enrollment.JobEnroll, OrderID: 727, Gen: 1, CreatedAt: time.Unix(created, 0).UTC()}, "projects/p/subscriptions/jobs-enroll", 1)),
		string(EncodePushData([]byte(`{"kind":"enroll","order_id":727}`))),
		string(EncodePushData([]byte(`{"kind":"enroll","order_id":0}`))),
		string(EncodePushData([]byte(`{"kind":"","order_id":1}`))),
		string(EncodePushData([]byte(`{"kind":"enroll","order_id":"727"}`))),
		string(EncodePushData([]byte(`null`))),
		`{"message":{"data":"not base64!"}}`,
		`{"message":{"data":null,"attributes":{"CloudPubSubDeadLetterSourceDeliveryCount":"5"}}}`,
		`{"message":{}}`,
		`{}`,
		`null`,
		`{"message":{"data":"eyJraW5kIjoiZW5yb2xsIiwib3JkZXJfaWQiOjF9"}} trailing`,
	} {
		f.Add([]byte(s), "enroll", int64(727), 1, "job-1", created, "projects/p/subscriptions/s", 1)
	}
	f.Add([]byte(``), "confirm-email", int64(9223372036854775807), -1, "", int64(0), "", 0)
	f.Fuzz(func(t *testing.T, body []byte, kind string, orderID int64, gen int, jobID string, createdSec int64, sub string, attempt int) {
		j, p, err := DecodePush(bytes.NewReader(body))
		if err != nil {
			if !errors.Is(err, ErrBadPush) {
				t.Fatalf("DecodePush(%q): error %v is not ErrBadPush", body, err)
			}
			if j != (enrollment.Job{}) {
				t.Fatalf("DecodePush(%q) returned job %+v with error %v", body, j, err)
			}
		} else {
			if j.Kind == "" || j.OrderID <= 0 || p == nil {
				t.Fatalf("DecodePush(%q) = %+v, %v without error", body, j, p)
			}
		}

		// EncodePush → DecodePush. JSON carries UTF-8 strings and years 0–9999; a job is
		// only published with a kind and a positive order id.
		if kind == "" || orderID <= 0 || !utf8.ValidString(kind+jobID+sub) {
			return
		}
		sec := createdSec % 253402300800 // before year 10000
		if sec < -62135596800 {          // before year 1
			sec = -sec
		}
		createdAt := time.Unix(sec, 0).UTC()
		want := enrollment.Job{ID: jobID, Kind: kind, OrderID: orderID, Gen: gen, CreatedAt: createdAt}
		got, push, err := DecodePush(bytes.NewReader(EncodePush(want, sub, attempt)))
		if err != nil {
			t.Fatalf("DecodePush(EncodePush(%+v)): %v", want, err)
		}
		if got.ID != want.ID || got.Kind != want.Kind || got.OrderID != want.OrderID || got.Gen != want.Gen || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("round trip of %+v gave %+v", want, got)
		}
		if push.Subscription != sub || push.DeliveryAttempt != attempt || push.Message.Attributes["kind"] != kind {
			t.Fatalf("round trip of subscription %q, attempt %d, kind %q gave %q, %d, %q", sub, attempt, kind,
				push.Subscription, push.DeliveryAttempt, push.Message.Attributes["kind"])
		}
		if _, dead := push.DeadLetterAttempts(); dead || strings.Contains(push.Message.MessageID, " ") {
			t.Fatalf("an encoded push looks dead-lettered or has message id %q", push.Message.MessageID)
		}
	})
}
