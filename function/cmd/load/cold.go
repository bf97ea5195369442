package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/emulator"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
	"github.com/aulasneo/wc-openedx/internal/woocommerce"
)

// coldStart builds function/cmd/server, then runs it runs times with its environment
// pointing at the emulators and at sandboxes served by this process, and measures the time
// from exec to the first 200 on /Webhook (a signed order.created of a paid course order, so
// the first answer includes the Firestore transaction and the publish).
func coldStart(ctx context.Context, runs int) error {
	dir, err := os.MkdirTemp("", "load-server-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "server")
	t0 := time.Now()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./function/cmd/server")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./function/cmd/server (run from the module root): %w", err)
	}
	fmt.Printf("\ncold start (function/cmd/server built in %.1fs)\n", time.Since(t0).Seconds())

	shop := sandbox.NewShop(sandbox.ShopConfig{ConsumerKey: local.SimConsumerKey, ConsumerSecret: local.SimConsumerSecret, WebhookSecret: local.SimWebhookSecret})
	shopURL, closeShop, err := serve(shop)
	if err != nil {
		return err
	}
	defer closeShop()
	shop.SetHomeURL(shopURL)
	lms := sandbox.NewLMS()
	lms.AddClient(local.SimClientID, local.SimClientSecret, true)
	lmsURL, closeLMS, err := serve(lms)
	if err != nil {
		return err
	}
	defer closeLMS()
	mail := sandbox.NewSendGrid(local.SimSendGridKey)
	mailURL, closeMail, err := serve(mail)
	if err != nil {
		return err
	}
	defer closeMail()

	fmt.Printf("%-4s %14s %18s\n", "run", "listening ms", "first 200 ms")
	var firsts []float64
	for i := range runs {
		project := "load-cold-" + randomHex(4)
		port, err := emulator.FreePort()
		if err != nil {
			return err
		}
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		// The topic exists in production (Terraform); create it, and its push subscription.
		c, err := pubsub.NewClient(ctx, project)
		if err != nil {
			return err
		}
		err = jobs.Setup(ctx, c, project, "enrollment-jobs", base+"/Enroll", 5)
		c.Close()
		if err != nil {
			return err
		}
		sku := course
		email := fmt.Sprintf("cold%d@example.com", i)
		id := shop.CreateOrder(sandbox.OrderSpec{Status: "processing", PaymentMethod: "stripe", PaymentMethodTitle: "Card", Email: &email,
			Lines: []sandbox.LineSpec{{Name: "Intro", ProductID: 1, Total: "1.00", SKU: &sku}}})
		body, _ := shop.OrderJSON(id)
		sig := []byte(woocommerce.Sign([]byte(local.SimWebhookSecret), body))

		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(),
			"PORT="+strconv.Itoa(port), "GOOGLE_CLOUD_PROJECT="+project, "LOG_LEVEL=error",
			"WC_URL="+shopURL, "WC_CONSUMER_KEY="+local.SimConsumerKey, "WC_CONSUMER_SECRET="+local.SimConsumerSecret, "WC_WEBHOOK_SECRET="+local.SimWebhookSecret,
			"OPENEDX_URL="+lmsURL, "OPENEDX_CLIENT_ID="+local.SimClientID, "OPENEDX_CLIENT_SECRET="+local.SimClientSecret,
			"SENDGRID_API_KEY="+local.SimSendGridKey, "SENDGRID_API_URL="+mailURL, "MAIL_FROM=shop@example.com",
			"CONFIRM_URL="+base+"/Confirm", "CONFIRM_SIGNING_KEY="+randomHex(32),
		)
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr // stdout: the framework's "Serving function" lines
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		var listening, first time.Duration
		deadline := start.Add(60 * time.Second)
		for first == 0 && time.Now().Before(deadline) {
			if listening == 0 {
				if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 100*time.Millisecond); err == nil {
					conn.Close()
					listening = time.Since(start)
				}
			}
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := postWebhook(rctx, base+"/Webhook", shopURL+"/", body, sig)
			cancel()
			if err == nil {
				first = time.Since(start)
				break
			}
			var ne net.Error
			if !errors.As(err, &ne) && !isRefused(err) {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				return fmt.Errorf("run %d: %w", i+1, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if listening == 0 || listening > first {
			listening = first // it began listening between the dial and the post
		}
		if first == 0 {
			return fmt.Errorf("run %d: no 200 within 60s", i+1)
		}
		firsts = append(firsts, ms(first))
		fmt.Printf("%-4d %14.0f %18.0f\n", i+1, ms(listening), ms(first))
	}
	slices.Sort(firsts)
	fmt.Printf("median first 200: %.0f ms\n", firsts[len(firsts)/2])
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func isRefused(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}
