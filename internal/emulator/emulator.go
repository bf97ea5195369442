// Package emulator starts and stops the Google Cloud Firestore and Pub/Sub emulators that the
// Google Cloud CLI installs, for tests and for the local run (function/cmd/dev). Production
// never uses it.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Kind names an emulator and the environment variable its client libraries read.
type Kind struct {
	Name string   // "firestore" or "pubsub"
	Env  string   // FIRESTORE_EMULATOR_HOST or PUBSUB_EMULATOR_HOST
	Args []string // the gcloud subcommand that starts it
}

var (
	Firestore = Kind{"firestore", "FIRESTORE_EMULATOR_HOST", []string{"emulators", "firestore", "start"}}
	PubSub    = Kind{"pubsub", "PUBSUB_EMULATOR_HOST", []string{"beta", "emulators", "pubsub", "start"}}
)

// Emulator is a running emulator process.
type Emulator struct {
	Kind   Kind
	Host   string // host:port
	cmd    *exec.Cmd
	exited chan struct{} // closed when the gcloud process has exited
	once   sync.Once
}

// Start launches the emulator on a free loopback port and waits until it answers. Output goes
// to logw (io.Discard when nil). Stop it with Stop; it runs in its own process group so that
// Stop also ends the Java process gcloud spawns.
func Start(ctx context.Context, k Kind, logw io.Writer) (*Emulator, error) {
	if logw == nil {
		logw = io.Discard
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	args := append(append([]string{}, k.Args...), "--host-port="+host, "--quiet")
	cmd := exec.Command("gcloud", args...)
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s emulator (is the Google Cloud CLI installed?): %w", k.Name, err)
	}
	e := &Emulator{Kind: k, Host: host, cmd: cmd, exited: make(chan struct{})}
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		close(e.exited)
		exited <- err
	}()
	deadline := time.After(90 * time.Second)
	for {
		if e.ready() {
			return e, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("%s emulator exited before it was ready: %v", k.Name, err)
		case <-deadline:
			e.Stop()
			return nil, fmt.Errorf("%s emulator not ready on %s after 90s", k.Name, host)
		case <-ctx.Done():
			e.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ready reports whether the emulator answers HTTP on its port (both emulators answer GET / with 200).
func (e *Emulator) ready() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + e.Host + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop ends the emulator and every process it started. Safe to call more than once.
func (e *Emulator) Stop() {
	e.once.Do(func() {
		if e.cmd.Process == nil {
			return
		}
		pgid := e.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		deadline := time.Now().Add(5 * time.Second)
		// Wait for the whole group (gcloud and the Java process it started) to go.
		for syscall.Kill(-pgid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-e.exited
	})
}

// Ensure starts each emulator whose variable is unset, sets the variable for this process,
// and returns a function that stops what it started.
func Ensure(ctx context.Context, logw io.Writer, kinds ...Kind) (stop func(), err error) {
	var started []*Emulator
	stop = func() {
		for _, e := range started {
			e.Stop()
			os.Unsetenv(e.Kind.Env)
		}
	}
	type result struct {
		e   *Emulator
		err error
	}
	results := make(chan result, len(kinds))
	n := 0
	for _, k := range kinds {
		if os.Getenv(k.Env) != "" {
			continue
		}
		n++
		go func() {
			e, err := Start(ctx, k, logw)
			results <- result{e, err}
		}()
	}
	var errs []error
	for range n {
		r := <-results
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		started = append(started, r.e)
		os.Setenv(r.e.Kind.Env, r.e.Host)
	}
	if len(errs) > 0 {
		stop()
		return nil, errors.Join(errs...)
	}
	return stop, nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
