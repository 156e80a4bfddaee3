package scope

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopecast/scopecast/stream"
)

func TestConnectCreatesTree(t *testing.T) {
	g := newTestGlobal(t, BaseHandler{})
	c := newConn()
	s, err := g.Connect(c, "/chat/room1/room2/", []any{"x"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != "/chat/room1/room2" || s.Name() != "room2" || s.Depth() != 3 {
		t.Fatalf("got path %q name %q depth %d", s.Path(), s.Name(), s.Depth())
	}
	if s.Parent().Path() != "/chat/room1" || s.App().Path() != "/chat" || s.App().Parent() != nil {
		t.Fatalf("bad parents")
	}
	if s.App().Depth() != 1 || s.App().App() != s.App() {
		t.Fatal("bad app scope")
	}
	if g.Lookup("chat/room1/room2") != s || g.Lookup("/chat/room1") != s.Parent() {
		t.Fatal("Lookup does not find the scopes")
	}
	for _, p := range []string{"", "/", "chat/nope", "nope", "chat//room1", "chat/room1/room2/room3"} {
		if g.Lookup(p) != nil {
			t.Errorf("Lookup(%q) != nil", p)
		}
	}
	if conns := s.Conns(); len(conns) != 1 || conns[0] != c {
		t.Fatalf("Conns = %v", conns)
	}
	if len(s.Parent().Conns()) != 0 {
		t.Fatal("intermediate room has connections")
	}
	if ch := s.App().Children(); len(ch) != 1 || ch[0] != s.Parent() {
		t.Fatalf("Children = %v", ch)
	}
	if _, err := g.Connect(newConn(), "live", nil); !errors.Is(err, ErrInvalidApp) {
		t.Fatalf("unknown app: %v", err)
	}
}

func TestConcurrentCreate(t *testing.T) {
	var r recorder
	gate := make(chan struct{})
	h := recordingHandler(&r)
	h.StartFunc = func(s *Scope) error {
		r.add("Start %s", s.Path())
		if s.Depth() > 1 {
			<-gate // keep Start running while the others arrive
		}
		return nil
	}
	g := newTestGlobal(t, h)
	const n = 32
	got := make([]*Scope, n)
	conns := make([]*testConn, n)
	var wg sync.WaitGroup
	for i := range n {
		conns[i] = newConn()
		wg.Go(func() {
			s, err := g.Connect(conns[i], "chat/a/b", nil)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	close(gate)
	wg.Wait()
	for i := range n {
		if got[i] == nil || got[i] != got[0] {
			t.Fatalf("connect %d got %p, want %p", i, got[i], got[0])
		}
	}
	if a, b := r.count("Start /chat/a"), r.count("Start /chat/a/b"); a != 1 || b != 1 {
		t.Fatalf("Start ran %d and %d times", a, b)
	}
	if len(got[0].Conns()) != n {
		t.Fatalf("%d conns, want %d", len(got[0].Conns()), n)
	}
	for i := range n {
		wg.Go(func() { g.Disconnect(conns[i], got[i]) })
	}
	wg.Wait()
	waitFor(t, "rooms removed", func() bool { return g.Lookup("chat/a") == nil })
	waitFor(t, "Stop /chat/a", func() bool { return r.count("Stop /chat/a") == 1 })
	if r.count("Stop /chat/a/b") != 1 {
		t.Fatal("Stop /chat/a/b not called once")
	}
}

func TestHookOrder(t *testing.T) {
	var r recorder
	g := newTestGlobal(t, recordingHandler(&r))
	equalEvents(t, r.take(), []string{"Start /chat"})
	c := newConn()
	s, err := g.Connect(c, "chat/a/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	equalEvents(t, r.take(), []string{
		"Start /chat/a", "Start /chat/a/b", "Connect /chat/a/b",
		"Join /chat", "Join /chat/a", "Join /chat/a/b",
	})
	g.Disconnect(c, s)
	g.Disconnect(c, s) // idempotent
	waitFor(t, "Stop /chat/a", func() bool { return r.count("Stop /chat/a") == 1 })
	equalEvents(t, r.take(), []string{
		"Leave /chat/a/b", "Leave /chat/a", "Leave /chat", "Disconnect /chat/a/b",
		"Stop /chat/a/b", "Stop /chat/a",
	})
	if g.Lookup("chat") == nil {
		t.Fatal("app scope removed")
	}
	if !s.Removed() || s.Parent().Removed() == false {
		t.Fatal("rooms not marked removed")
	}
	if _, ok := s.TryHold(); ok {
		t.Fatal("TryHold succeeded on a removed scope")
	}
	s.Hold()() // no-op, must not panic
}

func TestRejectedConnect(t *testing.T) {
	var r recorder
	h := recordingHandler(&r)
	h.ConnectFunc = func(c Conn, s *Scope, p []any) error {
		r.add("Connect %s", s.Path())
		if len(p) == 0 || p[0] != "secret" {
			return Reject("bad password")
		}
		return nil
	}
	g := newTestGlobal(t, h)
	r.take()
	_, err := g.Connect(newConn(), "chat/a/b", []any{"wrong"})
	var rej *RejectError
	if !errors.As(err, &rej) || rej.Reason != "bad password" {
		t.Fatalf("err = %v", err)
	}
	waitFor(t, "rooms of a rejected connect removed", func() bool {
		return len(g.Lookup("chat").Children()) == 0
	})
	waitFor(t, "Stop /chat/a", func() bool { return r.count("Stop /chat/a") == 1 })
	equalEvents(t, r.take(), []string{
		"Start /chat/a", "Start /chat/a/b", "Connect /chat/a/b", "Stop /chat/a/b", "Stop /chat/a",
	})
	if _, err := g.Connect(newConn(), "chat/a/b", []any{"secret"}); err != nil {
		t.Fatal(err)
	}
}

func TestJoinRejectUndo(t *testing.T) {
	var r recorder
	h := recordingHandler(&r)
	h.JoinFunc = func(c Conn, s *Scope) error {
		r.add("Join %s", s.Path())
		if s.Path() == "/chat/a" {
			return Reject("no")
		}
		return nil
	}
	g := newTestGlobal(t, h)
	r.take()
	if _, err := g.Connect(newConn(), "chat/a/b", nil); err == nil {
		t.Fatal("connect succeeded")
	}
	waitFor(t, "Stop /chat/a", func() bool { return r.count("Stop /chat/a") == 1 })
	equalEvents(t, r.take(), []string{
		"Start /chat/a", "Start /chat/a/b", "Connect /chat/a/b",
		"Join /chat", "Join /chat/a", "Leave /chat", "Disconnect /chat/a/b",
		"Stop /chat/a/b", "Stop /chat/a",
	})
}

func TestStartFailure(t *testing.T) {
	var r recorder
	fail := true
	var mu sync.Mutex
	gate := make(chan struct{})
	h := recordingHandler(&r)
	h.StartFunc = func(s *Scope) error {
		r.add("Start %s", s.Path())
		mu.Lock()
		defer mu.Unlock()
		if s.Path() == "/chat/a" && fail {
			<-gate
			return Reject("closed")
		}
		return nil
	}
	g := newTestGlobal(t, h)
	r.take()
	// Several connects to rooms below a room whose Start fails: all fail with its error.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			path := "chat/a/b"
			if i%2 == 1 {
				path = "chat/a/c/d"
			}
			_, errs[i] = g.Connect(newConn(), path, nil)
		})
	}
	// Wait until every connect holds its leaf (all are then waiting for /chat/a's Start).
	waitFor(t, "all connects waiting", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		a := g.apps["chat"].children["a"]
		if a == nil || a.children["b"] == nil || a.children["c"] == nil || a.children["c"].children["d"] == nil {
			return false
		}
		return a.children["b"].holds+a.children["c"].children["d"].holds == len(errs)
	})
	close(gate)
	wg.Wait()
	for i, err := range errs {
		var rej *RejectError
		if !errors.As(err, &rej) {
			t.Errorf("connect %d: %v", i, err)
		}
	}
	// Start ran once; the failed room and everything created below it is gone at once,
	// without Stop, and the rooms below it never started.
	equalEvents(t, r.take(), []string{"Start /chat/a"})
	if ch := g.Lookup("chat").Children(); len(ch) != 0 {
		t.Fatalf("children left: %v", ch)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if _, err := g.Connect(newConn(), "chat/a/b", nil); err != nil {
		t.Fatal(err)
	}
}

func TestConnectPanicUndo(t *testing.T) {
	var r recorder
	h := recordingHandler(&r)
	h.JoinFunc = func(c Conn, s *Scope) error {
		if s.Depth() == 2 {
			panic("boom")
		}
		r.add("Join %s", s.Path())
		return nil
	}
	g := newTestGlobal(t, h)
	r.take()
	if _, err := g.Connect(newConn(), "chat/x", nil); !errors.Is(err, ErrPanic) {
		t.Fatalf("err = %v", err)
	}
	waitFor(t, "Stop /chat/x", func() bool { return r.count("Stop /chat/x") == 1 })
	equalEvents(t, r.take(), []string{
		"Start /chat/x", "Connect /chat/x", "Join /chat", "Leave /chat", "Disconnect /chat/x", "Stop /chat/x",
	})
}

func TestHoldCancelsRemoval(t *testing.T) {
	g := New(Options{KeepDelay: time.Hour, Logger: quietLogger()})
	if err := g.Register("chat", BaseHandler{}); err != nil {
		t.Fatal(err)
	}
	c := newConn()
	s, err := g.Connect(c, "chat/a", nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Disconnect(c, s)
	g.mu.Lock()
	armed, gen := s.timer != nil, s.gen
	g.mu.Unlock()
	if !armed {
		t.Fatal("idle timer not armed")
	}
	release := s.Hold()
	g.mu.Lock()
	armed = s.timer != nil
	g.mu.Unlock()
	if armed {
		t.Fatal("idle timer still armed while held")
	}
	g.expire(s, gen) // a timer that fired anyway: stale generation
	if s.Removed() || g.Lookup("chat/a") != s {
		t.Fatal("held room removed")
	}
	release()
	release() // idempotent
	g.mu.Lock()
	armed, gen, holds := s.timer != nil, s.gen, s.holds
	g.mu.Unlock()
	if !armed || holds != 0 {
		t.Fatalf("after release: armed %v holds %d", armed, holds)
	}
	g.expire(s, gen) // the timer firing
	if !s.Removed() || g.Lookup("chat/a") != nil {
		t.Fatal("unheld room not removed")
	}
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestChildHoldsParent(t *testing.T) {
	g := newTestGlobal(t, BaseHandler{})
	c := newConn()
	leaf, err := g.Connect(c, "chat/a/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	mid := leaf.Parent()
	release := leaf.Hold()
	g.Disconnect(c, leaf)
	c2 := newConn()
	if s, err := g.Connect(c2, "chat/a", nil); err != nil || s != mid {
		t.Fatal(s, err)
	}
	g.Disconnect(c2, mid)
	// mid is held by its child only.
	if mid.Removed() {
		t.Fatal("parent of a held room removed")
	}
	release()
	waitFor(t, "both rooms removed", func() bool { return mid.Removed() && leaf.Removed() })
}

func TestRegister(t *testing.T) {
	g := New(Options{Logger: quietLogger()})
	if err := g.Register("live", BaseHandler{}); err != nil {
		t.Fatal(err)
	}
	if err := g.Register("live", BaseHandler{}); !errors.Is(err, ErrAppExists) {
		t.Fatalf("duplicate: %v", err)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a?b", "a\x00"} {
		if err := g.Register(bad, BaseHandler{}); !errors.Is(err, ErrBadPath) {
			t.Errorf("Register(%q): %v", bad, err)
		}
	}
	failing := &funcHandler{StartFunc: func(*Scope) error { return errors.New("no db") }}
	if err := g.Register("broken", failing); err == nil || err.Error() != "no db" {
		t.Fatalf("failing Start: %v", err)
	}
	if _, err := g.Connect(newConn(), "broken", nil); !errors.Is(err, ErrInvalidApp) {
		t.Fatalf("connect to failed app: %v", err)
	}
	if err := g.Register("broken", BaseHandler{}); err != nil {
		t.Fatalf("re-register after failed Start: %v", err)
	}
	if !slices.Equal(paths(g), []string{"/broken", "/live"}) {
		t.Fatalf("Walk = %q", paths(g))
	}
}

func TestWalk(t *testing.T) {
	g := newTestGlobal(t, BaseHandler{})
	if err := g.Register("live", BaseHandler{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"chat/b/x", "chat/a", "chat/b/y/z", "live/s"} {
		if _, err := g.Connect(newConn(), p, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"/chat", "/chat/a", "/chat/b", "/chat/b/x", "/chat/b/y", "/chat/b/y/z", "/live", "/live/s"}
	if got := paths(g); !slices.Equal(got, want) {
		t.Fatalf("Walk = %q, want %q", got, want)
	}
	var got []string
	g.Walk(func(s *Scope) bool {
		got = append(got, s.Path())
		s.Children() // fn may call back into the tree
		return len(got) < 3
	})
	if !slices.Equal(got, want[:3]) {
		t.Fatalf("stopped Walk = %q", got)
	}
}

func TestCall(t *testing.T) {
	h := BaseHandler{Methods: map[string]Method{
		"add": func(ctx context.Context, c Conn, s *Scope, args []any) (any, error) {
			return args[0].(float64) + args[1].(float64), nil
		},
		"fail": func(ctx context.Context, c Conn, s *Scope, args []any) (any, error) {
			return nil, Reject("nope")
		},
		"panic": func(ctx context.Context, c Conn, s *Scope, args []any) (any, error) {
			var m map[string]int
			m["x"] = 1 // nil map write
			return nil, nil
		},
	}}
	g := newTestGlobal(t, h)
	c := newConn()
	s, err := g.Connect(c, "chat/r", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, err := s.Call(ctx, c, "add", []any{1.0, 2.0}); err != nil || v != 3.0 {
		t.Fatalf("add = %v, %v", v, err)
	}
	if _, err := s.Call(ctx, c, "missing", nil); !errors.Is(err, ErrNoMethod) {
		t.Fatalf("missing: %v", err)
	}
	var rej *RejectError
	if _, err := s.Call(ctx, c, "fail", nil); !errors.As(err, &rej) {
		t.Fatalf("fail: %v", err)
	}
	if _, err := s.Call(ctx, c, "panic", nil); !errors.Is(err, ErrPanic) {
		t.Fatalf("panic: %v", err)
	}
	var zero BaseHandler
	if zero.Method("x") != nil {
		t.Fatal("zero BaseHandler has a method")
	}
}

func TestShutdown(t *testing.T) {
	var r recorder
	g := newTestGlobal(t, recordingHandler(&r))
	if err := g.Register("live", recordingHandler(&r)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	var reasons sync.Map
	for _, p := range []string{"chat/a/b", "chat/a", "live"} {
		c := newConn()
		var s *Scope
		c.CloseFunc = func(reason error) {
			reasons.Store(c.id, reason)
			wg.Go(func() { g.Disconnect(c, s) }) // like a connection's goroutine
		}
		var err error
		if s, err = g.Connect(c, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	st, err := g.Lookup("chat/a").Publish(g.Lookup("chat/a/b").Conns()[0], "cam", "live")
	if err != nil {
		t.Fatal(err)
	}
	r.take()
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := 0
	reasons.Range(func(k, v any) bool {
		n++
		if !errors.Is(v.(error), ErrShutdown) {
			t.Errorf("close reason %v", v)
		}
		return true
	})
	if n != 3 {
		t.Fatalf("%d connections closed, want 3", n)
	}
	ev := r.take()
	stops := slices.DeleteFunc(slices.Clone(ev), func(e string) bool { return e[:4] != "Stop" })
	equalEvents(t, stops, []string{"Stop /chat/a/b", "Stop /chat/a", "Stop /chat", "Stop /live"})
	var leaves, disconnects int
	for _, e := range ev {
		switch {
		case strings.HasPrefix(e, "Leave "):
			leaves++
		case strings.HasPrefix(e, "Disconnect "):
			disconnects++
		case strings.HasPrefix(e, "Stop "):
		default:
			t.Errorf("unexpected event %q", e)
		}
	}
	if leaves != 3+2+1 || disconnects != 3 {
		t.Errorf("%d Leave and %d Disconnect: %q", leaves, disconnects, ev)
	}
	if err := st.Publish(newConn()); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("stream not closed by Shutdown: %v", err)
	}
	if g.Lookup("chat/a") != nil || paths(g) != nil {
		t.Fatal("tree not empty after Shutdown")
	}
	if _, err := g.Connect(newConn(), "chat", nil); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Connect after Shutdown: %v", err)
	}
	if err := g.Register("x", BaseHandler{}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Register after Shutdown: %v", err)
	}
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestShutdownTimeout(t *testing.T) {
	var r recorder
	g := newTestGlobal(t, recordingHandler(&r))
	c := newConn() // ignores Close
	s, err := g.Connect(c, "chat/a", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.take()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v", err)
	}
	equalEvents(t, r.take(), []string{"Stop /chat/a", "Stop /chat"})
	g.Disconnect(c, s) // dropped: no hooks
	equalEvents(t, r.take(), nil)
}

func TestShutdownDuringStart(t *testing.T) {
	var r recorder
	entered, gate := make(chan struct{}), make(chan struct{})
	h := recordingHandler(&r)
	h.StartFunc = func(s *Scope) error {
		if s.Depth() > 1 {
			close(entered)
			<-gate
		}
		r.add("Start %s", s.Path())
		return nil
	}
	g := newTestGlobal(t, h)
	errc := make(chan error, 1)
	go func() {
		_, err := g.Connect(newConn(), "chat/a", nil)
		errc <- err
	}()
	<-entered
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if err := <-errc; !errors.Is(err, ErrShutdown) {
		t.Fatalf("connect during shutdown: %v", err)
	}
	equalEvents(t, r.take(), []string{"Start /chat", "Stop /chat", "Start /chat/a", "Stop /chat/a"})
}

func TestChildStopBeforeParentStop(t *testing.T) {
	var r recorder
	entered, gate := make(chan struct{}), make(chan struct{})
	h := recordingHandler(&r)
	h.StopFunc = func(s *Scope) {
		if s.Depth() == 3 {
			close(entered)
			<-gate // a slow Stop
		}
		r.add("Stop %s", s.Path())
	}
	g := newTestGlobal(t, h)
	c := newConn()
	s, err := g.Connect(c, "chat/a/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Disconnect(c, s)
	<-entered
	g.mu.Lock()
	parentHeld := s.Parent().holds == 1 && !s.Parent().removed && s.Parent().timer == nil
	g.mu.Unlock()
	if !parentHeld {
		t.Error("parent released while its child's Stop runs")
	}
	close(gate)
	waitFor(t, "Stop /chat/a", func() bool { return r.count("Stop /chat/a") == 1 })
	ev := r.take()
	equalEvents(t, ev[len(ev)-2:], []string{"Stop /chat/a/b", "Stop /chat/a"})
}
