// Package testenv gives tests the real Firestore and Pub/Sub emulators: Main starts them when
// FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST are unset (so a plain `go test ./...`
// works) and stops them afterwards; Project gives each test its own project id, which the
// emulators keep apart, so tests run in parallel on one emulator pair.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/emulator"
)

// Main runs the tests of a package with both emulators available.
func Main(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	stop, err := emulator.Ensure(ctx, nil, emulator.Firestore, emulator.PubSub)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv: the emulators are needed:", err)
		os.Exit(2)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// Project returns a project id no other test uses.
func Project(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.ToLower(t.Name())
	var clean []rune
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			clean = append(clean, r)
		} else {
			clean = append(clean, '-')
		}
	}
	if len(clean) > 18 {
		clean = clean[:18]
	}
	return "t-" + strings.Trim(string(clean), "-") + "-" + hex.EncodeToString(b)
}
