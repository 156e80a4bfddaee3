package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp/client"
)

// The command starts with defaults only (ports overridden to loopback port 0),
// serves RTMP, the public page, metrics and the scope API, and stops cleanly
// when its context ends.
func TestRunServesAndStops(t *testing.T) {
	ls, stop := runCmd(t, "-rtmp", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "127.0.0.1:0",
		"-data", t.TempDir(), "-log-level", "warn")

	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	c, err := client.Dial(dctx, "rtmp://"+ls.RTMP.String()+"/live/room9", client.Options{})
	if err != nil {
		t.Fatalf("rtmp connect: %v", err)
	}
	defer c.Close()

	get := func(base, path string) string {
		t.Helper()
		resp, err := http.Get("http://" + base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(body)
	}
	if page := get(ls.HTTP.String(), "/"); !strings.Contains(page, "scopecast") {
		t.Errorf("public page: %q", page)
	}
	if page := get(ls.HTTP.String(), "/chat/lobby"); !strings.Contains(page, "<html") {
		t.Errorf("chat page: %.200q", page)
	}
	// The WebSocket bridge is mounted on the public listener.
	ws, _, err := websocket.DefaultDialer.DialContext(dctx, "ws://"+ls.HTTP.String()+"/chat/lobby",
		http.Header{"Origin": {"http://" + ls.HTTP.String()}})
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), `"type"`) {
		t.Errorf("first websocket frame: %q, %v", msg, err)
	}
	ws.Close()
	type scopeNode struct {
		Path        string
		Connections int
		Children    []scopeNode
	}
	var tree []scopeNode
	if err := json.Unmarshal([]byte(get(ls.Admin.String(), "/api/scopes")), &tree); err != nil {
		t.Fatal(err)
	}
	found := false
	var visit func([]scopeNode)
	visit = func(ns []scopeNode) { // rooms are nested under their parents
		for _, s := range ns {
			found = found || s.Path == "/live/room9" && s.Connections == 1
			visit(s.Children)
		}
	}
	visit(tree)
	if !found {
		t.Errorf("/api/scopes lacks /live/room9 with one connection: %+v", tree)
	}

	// An RTMPT client on the public listener: the same server, counted as RTMPT.
	tc, err := client.Dial(dctx, "rtmpt://"+ls.HTTP.String()+"/live/room9", client.Options{})
	if err != nil {
		t.Fatalf("rtmpt connect: %v", err)
	}
	defer tc.Close()

	fams := scrapeMetrics(t, ls)
	for name, want := range map[string]float64{
		"scopecast_rtmp_connections":                2, // one over TCP, one over RTMPT
		"scopecast_rtmp_connections_accepted_total": 1, // TCP accepts
		"scopecast_rtmpt_sessions":                  1,
		"scopecast_rtmpt_sessions_opened_total":     1,
		"scopecast_scopes":                          4, // /chat, /chat/lobby (WebSocket), /live and /live/room9
	} {
		if v, ok := metricValue(fams, name); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}

	if err := stop(); err != nil {
		t.Errorf("run after cancel: %v", err)
	}
}

// runCmd runs the command in this process with args and waits until it
// listens (SCOPECAST_TEST_LOG=1 shows its log). stop cancels it and returns
// what run returned; a run that does not return within 20 s fails the test.
// It is stopped when the test ends if not before, and must return nil then.
func runCmd(t *testing.T, args ...string) (ls listeners, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	readyc := make(chan listeners, 1)
	errc := make(chan error, 1)
	var logw io.Writer = io.Discard
	if os.Getenv("SCOPECAST_TEST_LOG") != "" {
		logw = os.Stderr
	}
	go func() { errc <- run(ctx, args, logw, func(l listeners) { readyc <- l }) }()
	select {
	case ls = <-readyc:
	case err := <-errc:
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("not ready")
	}
	var (
		once    sync.Once
		stopped bool // by the test, which checks the error
		runErr  error
	)
	halt := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(20 * time.Second):
				t.Fatal("run did not return after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if stopped {
			return
		}
		if err := halt(); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return ls, func() error { stopped = true; return halt() }
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"-log-format", "xml"}, {"-log-level", "loud"}, {"extra"}, {"-rtmp", "256.0.0.1:1"}} {
		err := run(context.Background(), append(args, "-http", "", "-admin", "", "-data", t.TempDir()), io.Discard, nil)
		if err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}

// A listener that cannot open (its address taken) stops the start: run names
// the address, and the listeners opened before it are closed (their ports
// can be listened on again) and no goroutine of run's is left serving them.
func TestRunListenFailureClosesEarlierListeners(t *testing.T) {
	cert, key := testutil.SelfSignedCert(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	// freeAddr is a loopback address nothing listens on now.
	freeAddr := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	rtmpAddr, rtmpsAddr, httpAddr := freeAddr(), freeAddr(), freeAddr()
	err = run(context.Background(), []string{"-rtmp", rtmpAddr, "-rtmps", rtmpsAddr, "-rtmps-cert", cert, "-rtmps-key", key,
		"-http", httpAddr, "-admin", taken.Addr().String(), "-data", t.TempDir(), "-log-level", "error"}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "admin listener") || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("run with the admin address taken: %v; want an admin listener error naming %s", err, taken.Addr())
	}
	for _, addr := range []string{rtmpAddr, rtmpsAddr, httpAddr} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s is still taken after run returned: %v", addr, err)
			continue
		}
		l.Close()
	}
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "cmd/scopecast.run.func") {
		t.Errorf("goroutines of run are left after it returned:\n%s", stacks)
	}
}
