package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/apps/chat"
	"github.com/scopecast/scopecast/apps/live"
	"github.com/scopecast/scopecast/internal/admin"
	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/wsbridge"
)

var waitFor = testutil.WaitFor

// authError is a connect refusal that names its reason, as an authentication
// module's would.
type authError struct{}

func (authError) Error() string        { return "bad token" }
func (authError) RejectReason() string { return rtmp.RejectAuth }

// locked is an application that refuses every connect for authentication.
type locked struct{ scope.BaseHandler }

func (locked) Connect(scope.Conn, *scope.Scope, []any) error { return authError{} }

// env is a server with the live, chat and locked apps, a WebSocket bridge and
// the admin handler, all on loopback ports.
type env struct {
	RTMP    string // host:port
	Srv     *rtmp.Server
	Scopes  *scope.Global
	Admin   *httptest.Server
	Handler *admin.Handler
	WS      *httptest.Server
	Dir     string // StreamsDir
}

var testLogger = testutil.Logger

func startEnv(t *testing.T, perStream bool) *env {
	t.Helper()
	scopes := scope.New(scope.Options{KeepDelay: 200 * time.Millisecond, Logger: testLogger()})
	for name, app := range map[string]scope.Handler{live.Name: live.New(), chat.Name: chat.New(), "locked": locked{}} {
		if err := scopes.Register(name, app); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	srv := &rtmp.Server{Scopes: scopes, Logger: testLogger(), StreamsDir: dir}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(l)
	}()
	rtmpt := &rtmp.RTMPTHandler{Server: srv}
	ws := &wsbridge.Handler{Scopes: scopes, Logger: testLogger()}
	wsSrv := httptest.NewServer(ws)
	h := admin.New(admin.Options{Server: srv, RTMPT: rtmpt, Scopes: scopes, PerStreamLabels: perStream,
		SampleInterval: 200 * time.Millisecond, Logger: testLogger()})
	adm := httptest.NewServer(h)
	t.Cleanup(func() {
		adm.Close()
		h.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		wsSrv.Close()
		ws.Shutdown(ctx)
		rtmpt.Shutdown(ctx)
		srv.Shutdown(ctx)
		scopes.Shutdown(ctx)
		<-served
	})
	return &env{RTMP: l.Addr().String(), Srv: srv, Scopes: scopes, Admin: adm, Handler: h, WS: wsSrv, Dir: dir}
}

func (e *env) url(path string) string { return "rtmp://" + e.RTMP + "/" + path }

// do sends a request to the admin handler and decodes a JSON answer into out
// (if not nil); it returns the status.
func (e *env) do(t *testing.T, method, path string, body any, out any, hdr ...string) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.Admin.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(path, "/api/") && ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// ffmpegPublish starts ffmpeg publishing the test pattern (H.264 + AAC) in
// real time for a minute; it is killed when the test ends.
func ffmpegPublish(t *testing.T, url string) *exec.Cmd { return testutil.FFmpegPublish(t, url, 60, 25) }

// waitPublishing waits until the stream name in scope path has a publisher.
func (e *env) waitPublishing(t *testing.T, path, name string) {
	t.Helper()
	waitFor(t, 20*time.Second, path+"/"+name+" publishing", func() bool {
		s := e.Scopes.Lookup(path)
		if s == nil {
			return false
		}
		st := s.Stream(name)
		return st != nil && st.Publisher() != nil
	})
}

// player is a scopecast rtmp/client playing a stream, reading everything in a
// goroutine until the connection ends.
type player struct {
	c         *client.Conn
	media     atomic.Uint64 // media bytes received
	unpublish atomic.Bool   // NetStream.Play.UnpublishNotify seen
	done      chan struct{} // closed when the connection ended
	mu        sync.Mutex
	err       error
}

func play(t *testing.T, url, name string) *player {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	msid, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Play(ctx, msid, name, -1000); err != nil {
		t.Fatalf("play %s: %v", name, err)
	}
	c.SetDeadline(time.Time{})
	p := &player{c: c, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			m, err := c.ReadMessage()
			if err != nil {
				p.mu.Lock()
				p.err = err
				p.mu.Unlock()
				return
			}
			switch m.TypeID {
			case chunk.TypeAudio, chunk.TypeVideo:
				p.media.Add(uint64(len(m.Payload)))
			case chunk.TypeCommandAMF0:
				if bytes.Contains(m.Payload, []byte("NetStream.Play.UnpublishNotify")) {
					p.unpublish.Store(true)
				}
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-p.done
	})
	return p
}

// closed reports whether the player's connection has ended.
func (p *player) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wsJoin connects a WebSocket client to the chat room's shared object and
// sets a property on it.
func (e *env) wsJoin(t *testing.T, room string) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(e.WS.URL, "http") + room
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("websocket %s: %v", u, err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); err != nil {
		t.Fatalf("websocket first frame: %v", err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"set","key":"topic","value":{"title":"<b>news</b>","n":3}}`)); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Time{})
	go func() { // drain
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return ws
}
