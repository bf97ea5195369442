package mail

import (
	"os"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

func TestZZPreview(t *testing.T) {
	o := &enrollment.Order{ID: 727, Number: "727", Currency: "USD", Total: "98.00", PaymentMethod: "bacs", PaymentMethodTitle: "Direct bank transfer",
		DateCreated: time.Date(2025, 3, 5, 10, 12, 0, 0, time.UTC), Billing: enrollment.Person{FirstName: "Ana", LastName: "Pérez", Email: "ana@example.com"},
		Lines: []enrollment.LineItem{{Name: "Python 101 <script>alert(1)</script>", Quantity: 1, Total: "49.00"}, {Name: "Data & AI", Quantity: 2, Total: "49.00"}}}
	for _, lang := range []string{"en", "es"} {
		m := New(Config{From: "Aulasneo Shop <shop@example.com>", Language: lang, LinkTTL: 720 * time.Hour})
		c, err := m.RenderConfirmationRequest(o, "https://confirm.example.com/?t=abc.def&x=1")
		if err != nil {
			t.Fatal(err)
		}
		f, err := m.RenderFailureReport(o, []enrollment.LineFailure{{LineName: "Python 101", Course: "course-v1:Org+PY+R", Reason: "course not found", Attempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		w, err := m.RenderWebhookAlert("https://shop.example.com/", []string{"order.created webhook is disabled", "order.updated webhook points to https://x"})
		if err != nil {
			t.Fatal(err)
		}
		for n, msg := range map[string]Message{"conf": c, "fail": f, "hook": w} {
			os.WriteFile("/tmp/mailprev/"+n+"-"+lang+".html", []byte(msg.HTML), 0o644)
			os.WriteFile("/tmp/mailprev/"+n+"-"+lang+".txt", []byte(msg.Subject+"\n=====\n"+msg.Text), 0o644)
		}
	}
}
