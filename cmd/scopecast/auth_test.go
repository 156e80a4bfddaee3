package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/internal/auth"
	"github.com/scopecast/scopecast/internal/testutil"
)

// startRun runs the command in this process with a configuration file (its
// text) and extra flags, on loopback port 0; it stops at the end of the test.
func startRun(t *testing.T, configText string, extra ...string) listeners {
	t.Helper()
	ls, _ := runCmd(t, append([]string{"-config", writeConfig(t, configText), "-rtmp", "127.0.0.1:0", "-http", "127.0.0.1:0", "-admin", "",
		"-data", t.TempDir(), "-log-level", "debug"}, extra...)...)
	return ls
}

// ffmpegPublish publishes a short test pattern to url and returns ffmpeg's
// error output and whether it succeeded.
func ffmpegPublish(t *testing.T, url string, secs float64) (string, bool) {
	t.Helper()
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re"}, testutil.TestPattern(secs, 25)...)
	cmd := exec.Command(ffmpeg, append(args, "-f", "flv", url)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := runBounded(t, cmd, 60*time.Second)
	return stderr.String(), err == nil
}

// ffmpegPlay plays url for a second; it returns ffmpeg's error output and
// whether it succeeded.
func ffmpegPlay(t *testing.T, url string) (string, bool) {
	t.Helper()
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", url, "-t", "1", "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := runBounded(t, cmd, 60*time.Second)
	return stderr.String(), err == nil
}

func runBounded(t *testing.T, cmd *exec.Cmd, d time.Duration) error {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not finish within %v", cmd.Args, d)
		return nil
	}
}

// wsClose dials a WebSocket URL and returns the close code and text the
// server ends it with, or 0 and the first message if it stays open.
func wsClose(t *testing.T, ls listeners, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+ls.HTTP.String()+path,
		http.Header{"Origin": {"http://" + ls.HTTP.String()}})
	if err != nil {
		t.Fatalf("websocket %s: %v", path, err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); ok {
		return ce.Code, ce.Text
	}
	if err != nil {
		t.Fatalf("websocket %s: %v", path, err)
	}
	return 0, string(msg)
}

// Static rules, end to end with real clients: ffmpeg shows the reason of a
// refused publish or play over RTMP and RTMPT, a key in the stream name or
// in the connect URL admits it, and an address rule refuses RTMP and
// WebSocket clients alike.
func TestAuthRulesWithRealClients(t *testing.T) {
	ls := startRun(t, `
auth:
  apps:
    live:
      publish:
        keys: [secret]
      play:
        keys: [viewer]
        deny: [192.0.2.0/24]
    chat:
      connect:
        deny: [127.0.0.0/8, "::1"]
`)
	rtmpURL := "rtmp://" + ls.RTMP.String()
	rtmptURL := "rtmpt://" + ls.HTTP.String()
	for _, tc := range []struct {
		url, want string // want: "" to succeed, else text in ffmpeg's errors
	}{
		{rtmpURL + "/live/cam1", "Publish rejected: missing key"},
		{rtmpURL + "/live/cam1?key=wrong", "Publish rejected: wrong key"},
		{rtmptURL + "/live/cam1", "Publish rejected: missing key"},
		{rtmpURL + "/chat/room1/cam1", "Connection rejected: address not allowed"},
		{rtmpURL + "/live/cam1?key=secret", ""},
		{rtmptURL + "/live/cam2?key=secret", ""},
		{rtmpURL + "/live?key=secret/cam3", ""}, // key in the connect URL
	} {
		out, ok := ffmpegPublish(t, tc.url, 0.5)
		if tc.want == "" && !ok {
			t.Errorf("publish %s failed: %s", tc.url, out)
		}
		if tc.want != "" && (ok || !strings.Contains(out, tc.want)) {
			t.Errorf("publish %s: ok=%v, want %q in:\n%s", tc.url, ok, tc.want, out)
		}
	}
	if out, ok := ffmpegPlay(t, rtmpURL+"/live/cam1?key=secret"); ok || !strings.Contains(out, "Play rejected: wrong key") {
		t.Errorf("play with the publish key: ok=%v:\n%s", ok, out)
	}
	if code, text := wsClose(t, ls, "/chat/lobby"); code != 4403 || text != "rejected: address not allowed" {
		t.Errorf("websocket: close %d %q", code, text)
	}
}

// hookRecorder is the operator's hook server in the tests.
type hookRecorder struct {
	*httptest.Server
	mu      sync.Mutex
	events  []auth.Event
	release chan struct{}
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev auth.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, "bad hook request", 400)
			return
		}
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.mu.Unlock()
		switch {
		case ev.Action == "connect" && ev.ConnectQuery["user"] != "alice":
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "who are you?\n")
		case strings.HasPrefix(ev.Stream, "deny"):
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"reason": "not on the schedule"}`)
		case strings.HasPrefix(ev.Stream, "slow"):
			select {
			case <-h.release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(func() {
		close(h.release)
		h.Close()
	})
	return h
}

func (h *hookRecorder) find(action, stream string) (auth.Event, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range h.events {
		if ev.Action == action && ev.Stream == stream {
			return ev, true
		}
	}
	return auth.Event{}, false
}

// HTTP hooks, end to end: on_publish allows (2xx), refuses with the reason
// ffmpeg prints, and refuses when it does not answer in time; on_unpublish
// and on_record_done follow; an application's own on_connect refuses a
// WebSocket client with its reason.
func TestHooksWithRealClients(t *testing.T) {
	hs := newHookRecorder(t)
	ls := startRun(t, `
auth:
  hooks:
    on_publish: `+hs.URL+`/on_publish
    on_unpublish: `+hs.URL+`/on_unpublish
    on_record_done: `+hs.URL+`/on_record_done
    timeout: 500ms
  apps:
    chat:
      hooks:
        on_connect: `+hs.URL+`/on_connect
`)
	rtmpURL := "rtmp://" + ls.RTMP.String() + "/live/room1/"
	if out, ok := ffmpegPublish(t, rtmpURL+"ok1?key=abc", 0.5); !ok {
		t.Errorf("allowed publish failed: %s", out)
	}
	ev, ok := hs.find("publish", "ok1")
	ev.Time = ""
	if want := (auth.Event{Action: "publish", App: "live", Scope: "/live/room1", Stream: "ok1", Mode: "live",
		Query: map[string]string{"key": "abc"}, ClientID: ev.ClientID, Protocol: "rtmp", RemoteAddr: ev.RemoteAddr}); !ok ||
		!strings.HasPrefix(ev.RemoteAddr, "127.0.0.1:") || ev.ClientID == "" || !equalEvent(ev, want) {
		t.Errorf("on_publish event %+v", ev)
	}
	testutil.WaitFor(t, 10*time.Second, "on_unpublish", func() bool { _, ok := hs.find("unpublish", "ok1"); return ok })

	if out, ok := ffmpegPublish(t, rtmpURL+"deny1", 0.5); ok || !strings.Contains(out, "Publish rejected: not on the schedule") {
		t.Errorf("hook refusal: ok=%v:\n%s", ok, out)
	}
	if out, ok := ffmpegPublish(t, rtmpURL+"slow1", 0.5); ok || !strings.Contains(out, "Publish rejected: hook timeout") {
		t.Errorf("hook timeout: ok=%v:\n%s", ok, out)
	}
	if _, ok := hs.find("unpublish", "deny1"); ok {
		t.Error("on_unpublish for a refused publish")
	}

	if out, ok := ffmpegPublish(t, rtmpURL+"rec1?mode=record", 1); !ok {
		t.Errorf("recording publish failed: %s", out)
	}
	testutil.WaitFor(t, 10*time.Second, "on_record_done", func() bool { _, ok := hs.find("record_done", "rec1"); return ok })
	if ev, _ := hs.find("record_done", "rec1"); ev.Scope != "/live/room1" || !strings.HasSuffix(ev.File, filepath.Join("live", "room1", "rec1.flv")) ||
		ev.Bytes == 0 || ev.Error != "" {
		t.Errorf("on_record_done event %+v", ev)
	}

	if code, text := wsClose(t, ls, "/chat/lobby?user=bob"); code != 4403 || text != "rejected: who are you?" {
		t.Errorf("websocket bob: close %d %q", code, text)
	}
	if code, msg := wsClose(t, ls, "/chat/lobby?user=alice"); code != 0 || !strings.Contains(msg, `"welcome"`) {
		t.Errorf("websocket alice: close %d %q", code, msg)
	}
	if ev, ok := hs.find("connect", ""); !ok || ev.App != "chat" || ev.Protocol != "ws" || ev.Scope != "/chat/lobby" {
		t.Errorf("on_connect event %+v", ev)
	}
}

func equalEvent(a, b auth.Event) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// The rtmps keys of the configuration open the RTMPS listener, and its
// clients meet the same rules: ffmpeg over rtmps:// is refused without the
// key and publishes with it.
func TestRTMPSFromConfig(t *testing.T) {
	cert, key := testutil.SelfSignedCert(t)
	ls := startRun(t, "rtmps:\n  cert: "+cert+"\n  key: "+key+"\nauth:\n  apps:\n    live:\n      publish:\n        keys: [secret]\n",
		"-rtmps", "127.0.0.1:0")
	if ls.RTMPS == nil {
		t.Fatal("no RTMPS listener")
	}
	u := "rtmps://" + ls.RTMPS.String() + "/live/cam1"
	if out, ok := ffmpegPublish(t, u, 0.5); ok || !strings.Contains(out, "Publish rejected: missing key") {
		t.Errorf("rtmps without key: ok=%v:\n%s", ok, out)
	}
	if out, ok := ffmpegPublish(t, u+"?key=secret", 0.5); !ok {
		t.Errorf("rtmps with key: %s", out)
	}
}
