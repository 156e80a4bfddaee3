package scope

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scopecast/scopecast/sharedobject"
)

// soSub is a shared-object subscriber double.
type soSub struct {
	id string
	mu sync.Mutex
	ds []*sharedobject.Delivery
}

func (s *soSub) ID() string { return s.id }
func (s *soSub) AMF3() bool { return false }
func (s *soSub) Deliver(d *sharedobject.Delivery) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return nil
}

func (s *soSub) changes() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]any{}
	for _, d := range s.ds {
		for _, e := range d.EventsFor(s.id) {
			if e.Type == sharedobject.EventChange {
				out[e.Key] = e.Value
			}
		}
	}
	return out
}

func useMsg(name string, persistent bool) *sharedobject.Message {
	return &sharedobject.Message{Name: name, Persistent: persistent, Events: []sharedobject.Event{{Type: sharedobject.EventUse}}}
}

func setMsg(name, key string, v any) *sharedobject.Message {
	return &sharedobject.Message{Name: name, Events: []sharedobject.Event{{Type: sharedobject.EventRequestChange, Key: key, Value: v}}}
}

func TestSharedObjectsPerScope(t *testing.T) {
	g := newTestGlobal(t, BaseHandler{})
	c1, c2 := newConn(), newConn()
	r1, err := g.Connect(c1, "chat/room1", nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := g.Connect(c2, "chat/room2", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		g.Disconnect(c1, r1)
		g.Disconnect(c2, r2)
		g.Shutdown(context.Background())
	}()
	so1, so2 := r1.SharedObjects(), r2.SharedObjects()
	if so1 != r1.SharedObjects() || so1 == so2 || so1.Path() != "/chat/room1" {
		t.Fatal("one container per scope, keyed by its path")
	}
	a, b, x := &soSub{id: c1.ID()}, &soSub{id: "late"}, &soSub{id: c2.ID()}
	if err := so1.Apply(a, useMsg("chat", false)); err != nil {
		t.Fatal(err)
	}
	if err := so2.Apply(x, useMsg("chat", false)); err != nil {
		t.Fatal(err)
	}
	if err := so1.Apply(a, setMsg("chat", "msg", "hello room1")); err != nil {
		t.Fatal(err)
	}
	so1.Apply(b, useMsg("chat", false)) // late joiner in room1 gets the state
	if got := b.changes(); got["msg"] != "hello room1" {
		t.Fatalf("late joiner got %v", got)
	}
	if got := x.changes(); len(got) != 0 {
		t.Fatalf("room2 saw room1's changes: %v", got)
	}
	// Persistent objects too, in the shared store.
	p1, _ := so1.Get("scores", true, true)
	p1.Acquire()
	p1.SetAttribute("", "k", 1.0)
	p2, _ := so2.Get("scores", true, true)
	if _, ok := p2.Get("k"); ok {
		t.Fatal("persistent object shared between scopes")
	}
	p1.Release()
}

func TestSharedObjectsHoldScope(t *testing.T) {
	g := New(Options{KeepDelay: time.Millisecond, SharedObjectLinger: 20 * time.Millisecond, Logger: quietLogger()})
	if err := g.Register("chat", BaseHandler{}); err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	c := newConn()
	s, err := g.Connect(c, "chat/room", nil)
	if err != nil {
		t.Fatal(err)
	}
	sub := &soSub{id: c.ID()}
	if err := s.SharedObjects().Apply(sub, useMsg("chat", false)); err != nil {
		t.Fatal(err)
	}
	g.Disconnect(c, s)
	g.mu.Lock()
	holds, armed := s.holds, s.timer != nil
	g.mu.Unlock()
	if holds != 1 || armed || s.Removed() {
		t.Fatalf("room with a live shared object: holds %d, timer %v, removed %v", holds, armed, s.Removed())
	}
	s.SharedObjects().Unsubscribe(sub) // the client's disconnect
	waitFor(t, "the object to linger out and the room to go", s.Removed)
	if !s.SharedObjects().Empty() {
		t.Fatal("removed room still has objects")
	}
	if _, err := s.SharedObjects().Get("chat", false, true); !errors.Is(err, sharedobject.ErrClosed) {
		t.Fatalf("Get on a removed room: %v", err)
	}
}

// TestPersistentOutlivesScope: the room goes, the object's state stays in the store and
// comes back with the room.
func TestPersistentOutlivesScope(t *testing.T) {
	store := sharedobject.NewMemoryStore()
	g := New(Options{KeepDelay: time.Millisecond, SharedObjectLinger: time.Millisecond, SharedObjects: store, Logger: quietLogger()})
	g.Register("chat", BaseHandler{})
	c := newConn()
	s, _ := g.Connect(c, "chat/room", nil)
	sub := &soSub{id: c.ID()}
	s.SharedObjects().Apply(sub, useMsg("scores", true))
	if err := s.SharedObjects().Apply(sub, setMsg("scores", "alice", 3.0)); err != nil {
		t.Fatal(err)
	}
	s.SharedObjects().Unsubscribe(sub)
	g.Disconnect(c, s)
	waitFor(t, "the room to go", s.Removed)
	s2, err := g.Connect(c, "chat/room", nil)
	if err != nil || s2 == s {
		t.Fatalf("reconnect: %v (same scope %v)", err, s2 == s)
	}
	defer func() {
		g.Disconnect(c, s2)
		g.Shutdown(context.Background())
	}()
	o, err := s2.SharedObjects().Get("scores", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := o.Get("alice"); v != 3.0 {
		t.Fatalf("persistent value after the room came back: %v", v)
	}
}

func TestShutdownClosesSharedObjects(t *testing.T) {
	store := sharedobject.NewMemoryStore()
	g := New(Options{SharedObjects: store, Logger: quietLogger()})
	g.Register("chat", BaseHandler{})
	c := newConn()
	s, _ := g.Connect(c, "chat/room", nil)
	o, _ := s.SharedObjects().Get("p", true, true)
	o.Acquire()
	o.BeginUpdate()
	o.SetAttribute("", "k", "v") // pending in an open batch
	app := g.Lookup("chat")
	ao, _ := app.SharedObjects().Get("t", false, true)
	g.Disconnect(c, s)
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, v, ok, _ := store.Load("/chat/room", "p"); !ok || v != 1 {
		t.Fatalf("pending change not flushed at shutdown: %v %d", ok, v)
	}
	if err := ao.SetAttribute("", "k", 1.0); !errors.Is(err, sharedobject.ErrClosed) {
		t.Fatalf("write after shutdown: %v", err)
	}
}
