package wsbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/apps/chat"
	"github.com/scopecast/scopecast/internal/sopeer"
	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
	"github.com/scopecast/scopecast/wsbridge"
)

// Shared with the other packages' integration tests.
var (
	needTool = testutil.NeedTool
	waitFor  = testutil.WaitFor
)

// env is a real server: the scope tree with the chat app (presence on), an
// RTMP server and the WebSocket bridge on loopback ports.
type env struct {
	Scopes  *scope.Global
	RTMP    string // host:port
	HTTP    *httptest.Server
	Handler *wsbridge.Handler
	Chat    *chat.App
}

var testLogger = testutil.Logger

func startEnv(t testing.TB, configure ...func(*wsbridge.Handler)) *env {
	t.Helper()
	scopes := scope.New(scope.Options{KeepDelay: 50 * time.Millisecond, SharedObjectLinger: 50 * time.Millisecond, Logger: testLogger()})
	app := chat.New()
	app.Presence = true
	if err := scopes.Register(chat.Name, app); err != nil {
		t.Fatal(err)
	}
	srv := &rtmp.Server{Scopes: scopes, Logger: testLogger()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(l)
	}()
	h := &wsbridge.Handler{Scopes: scopes, Page: chat.Page(), Logger: testLogger()}
	for _, f := range configure {
		f(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("wsbridge shutdown: %v", err)
		}
		hs.Close()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("rtmp shutdown: %v", err)
		}
		scopes.Shutdown(ctx)
		<-served
	})
	return &env{Scopes: scopes, RTMP: l.Addr().String(), HTTP: hs, Handler: h, Chat: app}
}

func (e *env) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(e.HTTP.URL, "http") + path
}

func (e *env) rtmpURL(path string) string { return "rtmp://" + e.RTMP + "/" + path }

// frame is one server frame, decoded.
type frame map[string]any

func (f frame) str(k string) string { s, _ := f[k].(string); return s }

// wsClient is a gorilla/websocket client that records every frame it gets.
type wsClient struct {
	t      testing.TB
	c      *websocket.Conn
	mu     sync.Mutex
	frames []frame
	closed *websocket.CloseError // the close frame the server sent
	done   chan struct{}
	id     string
	pings  atomic.Int64 // pings received (each answered with a pong)
}

func dialWS(t testing.TB, url string, hdr http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{"chat"}}
	c, resp, err := d.Dial(url, hdr)
	if err != nil {
		return nil, resp, err
	}
	w := &wsClient{t: t, c: c, done: make(chan struct{})}
	c.SetPingHandler(func(data string) error {
		w.pings.Add(1)
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	go func() {
		defer close(w.done)
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				w.mu.Lock()
				if errors.As(err, &ce) {
					w.closed = ce
				}
				w.mu.Unlock()
				return
			}
			var f frame
			if err := json.Unmarshal(b, &f); err != nil {
				t.Errorf("server sent a frame that is not JSON: %q", b)
				continue
			}
			w.mu.Lock()
			w.frames = append(w.frames, f)
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.Close)
	return w, resp, nil
}

// joinWS dials and waits for the welcome and the snapshot.
func joinWS(t testing.TB, e *env, path string) *wsClient {
	t.Helper()
	w, _, err := dialWS(t, e.wsURL(path), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	w.waitFrame("snapshot", func(f frame) bool { return f.str("type") == "snapshot" })
	w.id = w.find(func(f frame) bool { return f.str("type") == "welcome" })[0].str("id")
	return w
}

func (w *wsClient) Close() {
	w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	select {
	case <-w.done:
	case <-time.After(2 * time.Second):
	}
	w.c.Close()
	<-w.done
}

func (w *wsClient) writeJSON(v any) {
	w.t.Helper()
	if err := w.c.WriteJSON(v); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

func (w *wsClient) writeText(s string) error {
	return w.c.WriteMessage(websocket.TextMessage, []byte(s))
}

func (w *wsClient) find(pred func(frame) bool) []frame {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []frame
	for _, f := range w.frames {
		if pred(f) {
			out = append(out, f)
		}
	}
	return out
}

func (w *wsClient) waitFrame(what string, pred func(frame) bool) frame {
	w.t.Helper()
	var got []frame
	waitFor(w.t, 10*time.Second, what, func() bool { got = w.find(pred); return len(got) > 0 })
	return got[0]
}

// waitClosed waits for the server's close frame and returns it.
func (w *wsClient) waitClosed() *websocket.CloseError {
	w.t.Helper()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		w.t.Fatal("the server did not close the connection")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed == nil {
		w.t.Fatal("the connection ended without a close frame")
	}
	return w.closed
}

// chatTexts returns the texts of the chat messages w received from others
// (changes of "message" and onChatMessage sends), in order.
func (w *wsClient) chatTexts() []string {
	var out []string
	for _, f := range w.find(func(f frame) bool { return true }) {
		switch {
		case f.str("type") == "change" && f.str("key") == "message":
			if m, ok := f["value"].(map[string]any); ok {
				s, _ := m["text"].(string)
				out = append(out, s)
			}
		case f.str("type") == "message" && f.str("handler") == "onChatMessage":
			if a, ok := f["args"].([]any); ok && len(a) > 0 {
				s, _ := a[0].(string)
				out = append(out, s)
			}
		}
	}
	return out
}

func (w *wsClient) acks(op, key string) int {
	return len(w.find(func(f frame) bool { return f.str("type") == "ack" && f.str("op") == op && f.str("key") == key }))
}

// nodeClient is an npm rtmp-client process (testutil.SOClient) in a chat room.
type nodeClient struct{ *testutil.SOClient }

// startNode starts one as user name and waits for its join.
func startNode(t testing.TB, url, soName, name string) nodeClient {
	t.Helper()
	c := testutil.StartSOClient(t, url, soName, name)
	c.WaitSynced()
	return nodeClient{c}
}

// chatTexts returns the texts of the "message" changes the client saw.
func (c nodeClient) chatTexts() []string {
	var out []string
	for _, ch := range c.Changes() {
		if ch.Key != "message" {
			continue
		}
		if m, ok := ch.Value.(map[string]any); ok {
			s, _ := m["text"].(string)
			out = append(out, s)
		}
	}
	return out
}

// rtmpPeer is a shared-object client on scopecast's own RTMP client
// (sopeer), for send, joined to the object name.
type rtmpPeer struct {
	*sopeer.Peer
	name string
}

func dialPeer(t testing.TB, url, soName string) *rtmpPeer {
	t.Helper()
	p := &rtmpPeer{sopeer.Dial(t, url, client.Options{ConnectArgs: []any{"peer"}}), soName}
	p.write(t, sharedobject.Event{Type: sharedobject.EventUse})
	waitFor(t, 10*time.Second, "use success", func() bool { return p.Has(sharedobject.EventUseSuccess, "") })
	return p
}

func (p *rtmpPeer) write(t testing.TB, evs ...sharedobject.Event) {
	t.Helper()
	p.Write(t, &sharedobject.Message{Name: p.name, Flags: 16, Events: evs})
}

// chatTexts returns the texts of "message" changes and onChatMessage sends.
func (p *rtmpPeer) chatTexts() []string {
	var out []string
	for _, e := range p.Events() {
		switch {
		case e.Type == sharedobject.EventChange && e.Key == "message":
			if o, ok := e.Value.(*amf.Object); ok {
				out = append(out, o.GetString("text"))
			}
		case e.Type == sharedobject.EventSend && len(e.Args) > 1 && e.Args[0] == "onChatMessage":
			s, _ := e.Args[1].(string)
			out = append(out, s)
		}
	}
	return out
}

// counts tallies texts.
func counts(texts []string) map[string]int {
	m := map[string]int{}
	for _, s := range texts {
		m[s]++
	}
	return m
}

// exactlyOnce checks that got holds each of want once and nothing else
// (ignoring texts with the given prefix, e.g. fences).
func exactlyOnce(t testing.TB, who string, got []string, want []string) {
	t.Helper()
	c := counts(got)
	for _, w := range want {
		if c[w] != 1 {
			t.Errorf("%s got %q %d times, want once", who, w, c[w])
		}
		delete(c, w)
	}
	for s, n := range c {
		if !strings.HasPrefix(s, "fence") {
			t.Errorf("%s got unexpected %q (%d times)", who, s, n)
		}
	}
}

var _ = fmt.Sprint
