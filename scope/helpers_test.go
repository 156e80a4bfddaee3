package scope

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
)

// testConn is a Conn double; CloseFunc, if set, receives Close calls.
type testConn struct {
	id        string
	CloseFunc func(reason error)
}

func (c *testConn) ID() string         { return c.id }
func (c *testConn) Protocol() string   { return "test" }
func (c *testConn) RemoteAddr() string { return "192.0.2.1:1234" }
func (c *testConn) Close(reason error) {
	if c.CloseFunc != nil {
		c.CloseFunc(reason)
	}
}

var connSeq atomic.Int64

func newConn() *testConn { return &testConn{id: fmt.Sprintf("c%d", connSeq.Add(1))} }

// funcHandler is a Handler double: nil fields fall back to BaseHandler.
type funcHandler struct {
	BaseHandler
	StartFunc      func(s *Scope) error
	StopFunc       func(s *Scope)
	ConnectFunc    func(c Conn, s *Scope, params []any) error
	DisconnectFunc func(c Conn, s *Scope)
	JoinFunc       func(c Conn, s *Scope) error
	LeaveFunc      func(c Conn, s *Scope)
	PublishFunc    func(c Conn, s *Scope, name, mode string) error
	UnpublishFunc  func(c Conn, s *Scope, name string)
	PlayFunc       func(c Conn, s *Scope, name string) error
	StopPlayFunc   func(c Conn, s *Scope, name string)
}

func (h *funcHandler) Start(s *Scope) error {
	if h.StartFunc != nil {
		return h.StartFunc(s)
	}
	return nil
}
func (h *funcHandler) Stop(s *Scope) {
	if h.StopFunc != nil {
		h.StopFunc(s)
	}
}
func (h *funcHandler) Connect(c Conn, s *Scope, p []any) error {
	if h.ConnectFunc != nil {
		return h.ConnectFunc(c, s, p)
	}
	return nil
}
func (h *funcHandler) Disconnect(c Conn, s *Scope) {
	if h.DisconnectFunc != nil {
		h.DisconnectFunc(c, s)
	}
}
func (h *funcHandler) Join(c Conn, s *Scope) error {
	if h.JoinFunc != nil {
		return h.JoinFunc(c, s)
	}
	return nil
}
func (h *funcHandler) Leave(c Conn, s *Scope) {
	if h.LeaveFunc != nil {
		h.LeaveFunc(c, s)
	}
}
func (h *funcHandler) Publish(c Conn, s *Scope, name, mode string) error {
	if h.PublishFunc != nil {
		return h.PublishFunc(c, s, name, mode)
	}
	return nil
}
func (h *funcHandler) Unpublish(c Conn, s *Scope, name string) {
	if h.UnpublishFunc != nil {
		h.UnpublishFunc(c, s, name)
	}
}
func (h *funcHandler) Play(c Conn, s *Scope, name string) error {
	if h.PlayFunc != nil {
		return h.PlayFunc(c, s, name)
	}
	return nil
}
func (h *funcHandler) StopPlay(c Conn, s *Scope, name string) {
	if h.StopPlayFunc != nil {
		h.StopPlayFunc(c, s, name)
	}
}

// recorder records hook calls as "Hook /path" (plus details).
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func (r *recorder) count(ev string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e == ev {
			n++
		}
	}
	return n
}

// recordingHandler returns a funcHandler whose hooks record into r and then allow.
func recordingHandler(r *recorder) *funcHandler {
	return &funcHandler{
		StartFunc:      func(s *Scope) error { r.add("Start %s", s.Path()); return nil },
		StopFunc:       func(s *Scope) { r.add("Stop %s", s.Path()) },
		ConnectFunc:    func(c Conn, s *Scope, p []any) error { r.add("Connect %s", s.Path()); return nil },
		DisconnectFunc: func(c Conn, s *Scope) { r.add("Disconnect %s", s.Path()) },
		JoinFunc:       func(c Conn, s *Scope) error { r.add("Join %s", s.Path()); return nil },
		LeaveFunc:      func(c Conn, s *Scope) { r.add("Leave %s", s.Path()) },
		PublishFunc: func(c Conn, s *Scope, name, mode string) error {
			r.add("Publish %s %s %s", s.Path(), name, mode)
			return nil
		},
		UnpublishFunc: func(c Conn, s *Scope, name string) { r.add("Unpublish %s %s", s.Path(), name) },
		PlayFunc:      func(c Conn, s *Scope, name string) error { r.add("Play %s %s", s.Path(), name); return nil },
		StopPlayFunc:  func(c Conn, s *Scope, name string) { r.add("StopPlay %s %s", s.Path(), name) },
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newTestGlobal returns a Global with a tiny keep delay and app "chat" served by h.
func newTestGlobal(t testing.TB, h Handler) *Global {
	t.Helper()
	g := New(Options{KeepDelay: time.Millisecond, Logger: quietLogger()})
	if err := g.Register("chat", h); err != nil {
		t.Fatal(err)
	}
	return g
}

// waitFor polls cond until it holds; after 5 s the test fails.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 5*time.Second, what, cond)
}

// paths returns the paths Walk visits.
func paths(g *Global) []string {
	var out []string
	g.Walk(func(s *Scope) bool { out = append(out, s.Path()); return true })
	return out
}

func equalEvents(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got %q\nwant %q", got, want)
	}
}
