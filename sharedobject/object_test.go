package sharedobject

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopecast/scopecast/rtmp/amf"
)

func TestJoinSyncTransient(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	o, err := c.Get("chat", false, true)
	if err != nil {
		t.Fatal(err)
	}
	o.SetAttribute("", "b", "x")
	o.SetAttribute("", "a", float64(1))
	for _, amf3 := range []bool{false, true} {
		s := newSub(t, fmt.Sprint("c", amf3))
		s.amf3 = amf3
		if err := c.Apply(s, use("chat", false)); err != nil {
			t.Fatal(err)
		}
		ds := s.deliveries()
		if len(ds) != 1 {
			t.Fatalf("%d deliveries, want 1", len(ds))
		}
		want := []Event{{Type: EventUseSuccess}, {Type: EventClear},
			{Type: EventChange, Key: "a", Value: float64(1)}, {Type: EventChange, Key: "b", Value: "x"}}
		got := s.events()
		if err := sameMessage(&Message{Events: got}, &Message{Events: want}); err != nil {
			t.Fatal(err)
		}
		if ds[0].Version() != 2 {
			t.Errorf("version %d, want 2", ds[0].Version())
		}
	}
}

func TestJoinSyncPersistentHasNoClear(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	o, _ := c.Get("p", true, true)
	o.Acquire()
	defer o.Release()
	o.SetAttribute("", "k", "v")
	s := newSub(t, "c1")
	if err := c.Apply(s, use("p", true)); err != nil {
		t.Fatal(err)
	}
	if got := s.types(); !slices.Equal(got, []EventType{EventUseSuccess, EventChange}) {
		t.Fatalf("join of a persistent object: %v", got)
	}
	if d := s.deliveries()[0]; !d.Persistent() {
		t.Error("delivery not persistent")
	}
	p, _ := s.deliveries()[0].Payload(s)
	m, _ := Decode(p, false, amf.Limits{})
	if m.Flags != FlagPersistent {
		t.Errorf("flags %d, want 2", m.Flags)
	}
}

// pair subscribes two clients to a transient object "chat".
func pair(t *testing.T, c *Container) (a, b *recSub, o *SharedObject) {
	a, b = newSub(t, "A"), newSub(t, "B")
	for _, s := range []*recSub{a, b} {
		if err := c.Apply(s, use("chat", false)); err != nil {
			t.Fatal(err)
		}
		s.reset()
	}
	return a, b, c.Lookup("chat")
}

func TestSuccessVsChange(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	a, b, o := pair(t, c)
	if err := c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "k", Value: "v1"})); err != nil {
		t.Fatal(err)
	}
	if got := a.events(); len(got) != 1 || got[0].Type != EventSuccess || got[0].Key != "k" {
		t.Fatalf("writer got %+v, want success k", got)
	}
	if got := b.events(); len(got) != 1 || got[0].Type != EventChange || got[0].Value != "v1" {
		t.Fatalf("other got %+v, want change k=v1", got)
	}
	v1 := o.Version()
	a.reset()
	b.reset()

	// The same value again: success for the writer, nothing for the others.
	if err := c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "k", Value: "v1"})); err != nil {
		t.Fatal(err)
	}
	if got := a.types(); !slices.Equal(got, []EventType{EventSuccess}) {
		t.Fatalf("writer of an equal value got %v", got)
	}
	if n := len(b.deliveries()); n != 0 {
		t.Fatalf("other got %d deliveries for an equal value", n)
	}
	if o.Version() != v1 {
		t.Errorf("version rose on an equal value")
	}
	// Equal across number types (AMF3 int vs AMF0 number).
	o.SetAttribute("", "n", float64(3))
	b.reset()
	c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "n", Value: int32(3)}))
	if n := len(b.deliveries()); n != 0 {
		t.Fatalf("int32 3 after float64 3 was delivered as a change")
	}
	// A server write: everyone gets change.
	a.reset()
	o.SetAttribute("", "k", "v2")
	for _, s := range []*recSub{a, b} {
		if got := s.events(); len(got) != 1 || got[0].Type != EventChange || got[0].Value != "v2" {
			t.Fatalf("%s got %+v for a server write", s.id, got)
		}
	}
}

func TestRemove(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	a, b, o := pair(t, c)
	o.SetAttribute("", "x", true)
	o.SetAttribute("", "y", true)
	a.reset()
	b.reset()
	if err := c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "x"})); err != nil { // null removes
		t.Fatal(err)
	}
	if err := c.Apply(b, msg("chat", Event{Type: EventRequestRemove, Key: "y"})); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*recSub{a, b} {
		got := s.events()
		if len(got) != 2 || got[0].Type != EventRemove || got[0].Key != "x" || got[1].Type != EventRemove || got[1].Key != "y" {
			t.Fatalf("%s got %+v", s.id, got)
		}
	}
	if len(o.Attributes()) != 0 {
		t.Fatalf("attributes left: %v", o.Attributes())
	}
	// Removing a missing key changes nothing.
	v := o.Version()
	if err := o.RemoveAttribute("", "nope"); err != nil || o.Version() != v {
		t.Fatal("removing a missing key changed the object")
	}
	// SetAttribute(nil) removes.
	o.SetAttribute("", "z", 1)
	o.SetAttribute("", "z", nil)
	if _, ok := o.Get("z"); ok {
		t.Fatal("SetAttribute(nil) did not remove")
	}
}

func TestClear(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	a, b, o := pair(t, c)
	o.SetAttribute("", "x", true)
	a.reset()
	b.reset()
	if err := c.Apply(a, msg("chat", Event{Type: EventRequestClear})); err != nil {
		t.Fatal(err)
	}
	o.Clear("")
	for _, s := range []*recSub{a, b} {
		if got := s.types(); !slices.Equal(got, []EventType{EventClear, EventClear}) {
			t.Fatalf("%s got %v", s.id, got)
		}
	}
	if len(o.Attributes()) != 0 {
		t.Fatal("not cleared")
	}
}

func TestSend(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	a, b, o := pair(t, c)
	var calls []string
	o.HandleSend("msg", func(origin Origin, args []any) error {
		calls = append(calls, fmt.Sprintf("%s %v", origin, args))
		if len(args) > 0 && args[0] == "bad" {
			return errors.New("refused")
		}
		return nil
	})
	if err := c.Apply(a, msg("chat", Event{Type: EventSend, Args: []any{"msg", "hello", float64(2)}})); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*recSub{a, b} {
		got := s.events()
		if len(got) != 1 || got[0].Type != EventSend || !amf.Equal(got[0].Args, []any{"msg", "hello", float64(2)}) {
			t.Fatalf("%s got %+v", s.id, got)
		}
	}
	if !slices.Equal(calls, []string{"A [hello 2]"}) {
		t.Fatalf("handler calls %q", calls)
	}
	a.reset()
	b.reset()
	err := c.Apply(a, msg("chat", Event{Type: EventSend, Args: []any{"msg", "bad"}}))
	if !errors.Is(err, ErrHandler) {
		t.Fatalf("handler refusal: %v", err)
	}
	if len(a.deliveries())+len(b.deliveries()) != 0 {
		t.Fatal("a refused send was delivered")
	}
	// Unhandled names go through; server sends too.
	if err := o.Send("", "other", amf.Obj("x", 1.0)); err != nil {
		t.Fatal(err)
	}
	if len(a.events()) != 1 || len(b.events()) != 1 {
		t.Fatal("server send not delivered to everyone")
	}
	if err := o.Send("", "x", make(chan int)); !errors.Is(err, ErrBadValue) {
		t.Fatalf("unencodable send argument: %v", err)
	}
	// A panicking handler is an error, not a crash.
	o.HandleSend("boom", func(Origin, []any) error { panic("boom") })
	if err := o.Send("A", "boom"); !errors.Is(err, ErrHandler) {
		t.Fatalf("panicking handler: %v", err)
	}
}

func TestAccessHooks(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	no := errors.New("no")
	c.SetAccess(&access{
		connect: func(o Origin, _ *SharedObject) error {
			if o == "X" {
				return no
			}
			return nil
		},
		write: func(o Origin, _ *SharedObject, key string, _ any) error {
			if key == "ro" {
				return no
			}
			return nil
		},
		del:  func(o Origin, _ *SharedObject, key string) error { return no },
		send: func(o Origin, _ *SharedObject, h string, _ []any) error { return no },
	})
	x := newSub(t, "X")
	err := c.Apply(x, use("chat", false))
	if !errors.Is(err, ErrNoReadAccess) {
		t.Fatalf("refused connect: %v", err)
	}
	if got := x.events(); len(got) != 1 || got[0].Type != EventStatus || got[0].Code != StatusNoReadAccess || got[0].Level != "error" {
		t.Fatalf("refused client got %+v", got)
	}
	a, b, o := pair(t, c)
	if o.Subscribers() != 2 {
		t.Fatalf("%d subscribers", o.Subscribers())
	}
	o.SetAttribute("", "ro", "server") // the server is not asked
	a.reset()
	b.reset()
	for _, ev := range []Event{
		{Type: EventRequestChange, Key: "ro", Value: "client"},
		{Type: EventRequestChange, Key: "ro"},
		{Type: EventRequestRemove, Key: "ro"},
		{Type: EventRequestClear},
		{Type: EventSend, Args: []any{"h"}},
	} {
		err := c.Apply(a, msg("chat", ev))
		if !errors.Is(err, ErrNoWriteAccess) || !errors.Is(err, no) {
			t.Fatalf("%s: %v", ev.Type, err)
		}
	}
	got := a.events()
	if len(got) != 5 {
		t.Fatalf("writer got %d events, want 5 statuses", len(got))
	}
	for _, e := range got {
		if e.Type != EventStatus || e.Code != StatusNoWriteAccess {
			t.Fatalf("writer got %+v", e)
		}
	}
	if n := len(b.deliveries()); n != 0 {
		t.Fatalf("bystander got %d deliveries", n)
	}
	if v, _ := o.Get("ro"); v != "server" {
		t.Fatalf("refused write changed the value to %v", v)
	}
}

func TestApplyErrors(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	s := newSub(t, "A")
	if err := c.Apply(s, msg("none", Event{Type: EventRequestChange, Key: "k", Value: 1.0})); !errors.Is(err, ErrNotFound) {
		t.Fatalf("write to a missing object: %v", err)
	}
	if err := c.Apply(s, msg("none", Event{Type: EventRelease})); err != nil {
		t.Fatalf("release of a missing object: %v", err)
	}
	o, _ := c.Get("chat", false, true)
	if err := c.Apply(s, msg("chat", Event{Type: EventRequestChange, Key: "k", Value: 1.0})); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("write without use: %v", err)
	}
	if err := c.Apply(s, msg("chat", Event{Type: EventUse}, Event{Type: EventChange, Key: "k", Value: 1.0})); !errors.Is(err, ErrMalformed) {
		t.Fatalf("server event from a client: %v", err)
	}
	if o.Subscribers() != 1 {
		t.Fatal("use in the same message not applied")
	}
	if _, err := c.Get("", false, true); !errors.Is(err, ErrBadName) {
		t.Fatalf("empty name: %v", err)
	}
	if err := o.SetAttribute("", "k", make(chan int)); !errors.Is(err, ErrBadValue) {
		t.Fatalf("unencodable value: %v", err)
	}
	// Use, write and release in one message: one delivery.
	b := newSub(t, "B")
	if err := c.Apply(b, msg("chat", Event{Type: EventUse}, Event{Type: EventRequestChange, Key: "j", Value: "v"})); err != nil {
		t.Fatal(err)
	}
	if got := b.types(); !slices.Equal(got, []EventType{EventUseSuccess, EventClear, EventSuccess}) {
		t.Fatalf("use+write: %v", got)
	}
}

func TestBadPersistence(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	if _, err := c.Get("x", false, true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("x", true, true); !errors.Is(err, ErrBadPersistence) {
		t.Fatalf("Get with the other persistence: %v", err)
	}
	s := newSub(t, "A")
	if err := c.Apply(s, use("x", true)); !errors.Is(err, ErrBadPersistence) {
		t.Fatalf("use with the other persistence: %v", err)
	}
	if got := s.events(); len(got) != 1 || got[0].Code != StatusBadPersistence {
		t.Fatalf("got %+v", got)
	}
	if _, err := c.Get("y", false, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get without create: %v", err)
	}
}

func TestBatch(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	a, b, o := pair(t, c)
	o.BeginUpdate()
	o.SetAttribute("", "x", 1.0)
	o.BeginUpdate()
	c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "y", Value: 2.0}))
	o.Send("", "h", "arg")
	o.EndUpdate()
	if len(a.deliveries())+len(b.deliveries()) != 0 {
		t.Fatal("delivered inside a batch")
	}
	o.RemoveAttribute("", "x")
	o.EndUpdate()
	if n := len(b.deliveries()); n != 1 {
		t.Fatalf("%d deliveries for one batch", n)
	}
	if got := b.types(); !slices.Equal(got, []EventType{EventChange, EventChange, EventSend, EventRemove}) {
		t.Fatalf("batch: %v", got)
	}
	if got := a.types(); !slices.Equal(got, []EventType{EventChange, EventSuccess, EventSend, EventRemove}) {
		t.Fatalf("batch for the writer: %v", got)
	}
	if d := b.deliveries()[0]; d.Version() != o.Version() || d.Version() != 3 {
		t.Fatalf("batch version %d, object %d", d.Version(), o.Version())
	}
}

func TestDropFailingSubscriber(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	a, b, o := pair(t, c)
	b.fail.Store(true)
	o.SetAttribute("", "x", 1.0)
	if o.Subscribers() != 1 || c.Dropped() != 1 {
		t.Fatalf("subscribers %d, dropped %d", o.Subscribers(), c.Dropped())
	}
	b.fail.Store(false)
	o.SetAttribute("", "x", 2.0)
	if n := len(b.deliveries()); n != 0 {
		t.Fatalf("dropped subscriber got %d deliveries", n)
	}
	if n := len(a.deliveries()); n != 2 {
		t.Fatalf("healthy subscriber got %d deliveries", n)
	}
	// Writes from a dropped subscriber are refused until it joins again.
	if err := c.Apply(b, msg("chat", Event{Type: EventRequestChange, Key: "x", Value: 3.0})); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("write from a dropped subscriber: %v", err)
	}
}

func TestPayloadMemo(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	a, b, o := pair(t, c)
	d3 := newSub(t, "D")
	d3.amf3 = true
	c.Apply(d3, use("chat", false))
	e := newSub(t, "E")
	c.Apply(e, use("chat", false))
	for _, s := range []*recSub{a, b, d3, e} {
		s.reset()
	}
	c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "k", Value: "v"}))
	d := b.deliveries()[0]
	if d != e.deliveries()[0] || d != a.deliveries()[0] || d != d3.deliveries()[0] {
		t.Fatal("subscribers got different Delivery values")
	}
	pb, _ := d.Payload(b)
	pe, _ := d.Payload(e)
	if &pb[0] != &pe[0] {
		t.Error("non-origin AMF0 payload not shared")
	}
	p3, _ := d.Payload(d3)
	p3b, _ := d.Payload(d3)
	if &p3[0] != &p3b[0] || p3[0] != 0 {
		t.Error("AMF3 payload not memoized or not type 16")
	}
	pa, _ := d.Payload(a)
	m, err := Decode(pa, false, amf.Limits{})
	if err != nil || len(m.Events) != 1 || m.Events[0].Type != EventSuccess {
		t.Fatalf("origin payload %+v %v", m, err)
	}
	m, _ = Decode(pb, false, amf.Limits{})
	if m.Events[0].Type != EventChange || m.Events[0].Value != "v" || m.Version != o.Version() {
		t.Fatalf("other payload %+v", m)
	}
	// Equal value: only the origin has anything.
	c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "k", Value: "v"}))
	d = a.deliveries()[1]
	if d.For("B") || !d.For("A") {
		t.Fatal("For")
	}
	if p, err := d.Payload(b); p != nil || err != nil {
		t.Fatalf("payload for a bystander of an equal write: %x %v", p, err)
	}
}

// Framed frames a payload shared by bystanders once per key and layout, and
// the origin's own payload for it alone.
func TestFramedMemo(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	a, b, _ := pair(t, c)
	e := newSub(t, "E")
	c.Apply(e, use("chat", false))
	d3 := newSub(t, "D")
	d3.amf3 = true
	c.Apply(d3, use("chat", false))
	c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "k", Value: "v"}))
	d := a.deliveries()[len(a.deliveries())-1]
	calls := 0
	frame := func(p []byte) []byte { calls++; return append([]byte{byte(len(p))}, p...) }
	fb, _ := d.Framed(b, 128, frame)
	fe, _ := d.Framed(e, 128, frame)
	if &fb[0] != &fe[0] || calls != 1 {
		t.Fatalf("bystanders' framing not shared: %d calls", calls)
	}
	pb, _ := d.Payload(b)
	if string(fb[1:]) != string(pb) || int(fb[0]) != len(pb)&0xff {
		t.Fatal("framed bytes are not frame(payload)")
	}
	if f4, _ := d.Framed(b, 4096, frame); &f4[0] == &fb[0] || calls != 2 {
		t.Fatal("another key shares a framing")
	}
	f3, _ := d.Framed(d3, 128, frame)
	p3, _ := d.Payload(d3)
	if string(f3[1:]) != string(p3) || calls != 3 {
		t.Fatal("the AMF3 layout shares the AMF0 framing")
	}
	fa, _ := d.Framed(a, 128, frame)
	pa, _ := d.Payload(a)
	if string(fa[1:]) != string(pa) || string(pa) == string(pb) {
		t.Fatal("the origin's framing is not its own payload")
	}
	// An equal write: the bystanders have nothing.
	c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "k", Value: "v"}))
	d = a.deliveries()[len(a.deliveries())-1]
	if f, err := d.Framed(b, 128, frame); f != nil || err != nil {
		t.Fatalf("bystander of an equal write got %x %v", f, err)
	}
}

// Shared builds once per key, keeps the error too, and keys do not mix.
func TestSharedMemo(t *testing.T) {
	d := newDelivery("o", 1, false, []OriginEvent{{Event: Event{Type: EventChange, Key: "k", Value: "v"}, Origin: "A"}})
	calls := 0
	errBuild := errors.New("build failed")
	build := func(b string, err error) func() ([]byte, error) {
		return func() ([]byte, error) { calls++; return []byte(b), err }
	}
	for range 3 {
		if b, err := d.Shared(1, build("one", nil)); string(b) != "one" || err != nil {
			t.Fatalf("Shared(1) = %q, %v", b, err)
		}
		if b, err := d.Shared(2, build("two", errBuild)); string(b) != "two" || err != errBuild {
			t.Fatalf("Shared(2) = %q, %v", b, err)
		}
	}
	if calls != 2 {
		t.Fatalf("build ran %d times for 2 keys", calls)
	}
}

func TestListener(t *testing.T) {
	c := newTestContainer(t, nil, Options{})
	a, _, o := pair(t, c)
	var mu sync.Mutex
	var seen []string
	remove := o.AddListener(ListenerFunc(func(so *SharedObject, ev OriginEvent) {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s:%s:%s", ev.Origin, ev.Type, ev.Key))
		mu.Unlock()
		if ev.Key == "echo" && ev.Type == EventChange {
			so.SetAttribute("", "echoed", true) // re-entrant write: delivered after this batch
		}
	}))
	c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "k", Value: 1.0}))
	c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "k", Value: 1.0})) // no change: not seen
	c.Apply(a, msg("chat", Event{Type: EventRequestRemove, Key: "k"}))
	o.Send("", "h")
	o.Clear("B")
	o.SetAttribute("", "echo", 1.0)
	remove()
	o.SetAttribute("", "after", 1.0)
	want := []string{"A:change:k", "A:remove:k", ":send:", "B:clear:", ":change:echo", ":change:echoed"}
	if !slices.Equal(seen, want) {
		t.Fatalf("listener saw %q, want %q", seen, want)
	}
	if v, _ := o.Get("echoed"); v != true {
		t.Fatal("re-entrant write lost")
	}
}

func TestLingerAndAcquire(t *testing.T) {
	var mu sync.Mutex
	var changes []bool
	c := newTestContainer(t, nil, Options{Linger: 10 * time.Millisecond, EmptyChanged: func(e bool) {
		mu.Lock()
		changes = append(changes, e)
		mu.Unlock()
	}})
	// The container reports a change after it made it: wait for the report too.
	gone := func(calls int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return c.Empty() && len(changes) >= calls
		}
	}
	s := newSub(t, "A")
	c.Apply(s, use("chat", false))
	o := c.Lookup("chat")
	o.SetAttribute("", "k", 1.0)
	c.Apply(s, msg("chat", Event{Type: EventRelease}))
	if o.Subscribers() != 0 {
		t.Fatal("release did not unsubscribe")
	}
	waitFor(t, "the idle object to go", gone(2))
	if _, err := c.Get("chat", false, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lingered-out object still there: %v", err)
	}
	if err := o.SetAttribute("", "k", 2.0); !errors.Is(err, ErrClosed) {
		t.Fatalf("write to a removed object: %v", err)
	}
	// A new object of the same name starts empty.
	o2, _ := c.Get("chat", false, true)
	if len(o2.Attributes()) != 0 {
		t.Fatal("state survived the linger")
	}
	// Acquired: no timer while acquired; it goes after Release.
	o2.Acquire()
	o2.mu.Lock()
	armed := o2.timer != nil
	o2.mu.Unlock()
	if armed {
		t.Fatal("acquired object has an idle timer")
	}
	c.Apply(s, use("chat", false))
	c.Unsubscribe(s)
	o2.mu.Lock()
	armed = o2.timer != nil
	o2.mu.Unlock()
	if armed || c.Empty() {
		t.Fatal("acquired object would linger out")
	}
	o2.Release()
	waitFor(t, "the released object to go", gone(4))
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(changes, []bool{false, true, false, true}) {
		t.Fatalf("EmptyChanged calls %v", changes)
	}
}

// TestPersistentUnloadAndReload: an idle persistent object unloads at once and comes
// back from the store with its attributes and version.
func TestPersistentUnloadAndReload(t *testing.T) {
	store := NewMemoryStore()
	c := newTestContainer(t, store, Options{Linger: time.Millisecond})
	s := newSub(t, "A")
	c.Apply(s, use("p", true))
	c.Apply(s, msg("p", Event{Type: EventRequestChange, Key: "k", Value: "v"}))
	c.Apply(s, msg("p", Event{Type: EventRequestChange, Key: "j", Value: 1.0}))
	c.Unsubscribe(s)
	waitFor(t, "the persistent object to unload", c.Empty)
	o, err := c.Get("p", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := o.Get("k"); v != "v" || o.Version() != 2 {
		t.Fatalf("reloaded k=%v version %d", v, o.Version())
	}
	// Another container (another scope) with the same store does not see it.
	other := NewContainer("/chat/room2", store, Options{Logger: quiet})
	defer other.Close()
	if _, err := other.Get("p", true, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("object leaked into another scope: %v", err)
	}
}

// slowStore delays saves randomly and checks that nothing is delivered before it is saved.
type slowStore struct {
	*MemoryStore
	saved atomic.Uint32 // highest saved version
}

func (s *slowStore) Save(p, n string, attrs map[string]any, v uint32) error {
	time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
	if err := s.MemoryStore.Save(p, n, attrs, v); err != nil {
		return err
	}
	for {
		old := s.saved.Load()
		if v <= old || s.saved.CompareAndSwap(old, v) {
			return nil
		}
	}
}

// orderSub checks versions never go down and changes arrive only after their save.
type orderSub struct {
	id    string
	store *slowStore
	mu    sync.Mutex
	last  uint32
	bad   []string
	n     int
	vals  map[string]any
}

func (s *orderSub) ID() string { return s.id }
func (s *orderSub) AMF3() bool { return false }
func (s *orderSub) Deliver(d *Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if d.Version() < s.last {
		s.bad = append(s.bad, fmt.Sprintf("version %d after %d", d.Version(), s.last))
	}
	s.last = d.Version()
	for _, e := range d.EventsFor(s.id) {
		switch e.Type {
		case EventChange, EventSuccess:
			if saved := s.store.saved.Load(); d.Version() > saved {
				s.bad = append(s.bad, fmt.Sprintf("version %d delivered, %d saved", d.Version(), saved))
			}
			if e.Type == EventChange {
				s.vals[e.Key] = e.Value
			}
		}
	}
	return nil
}

func TestVersionOrderAndDurableFirst(t *testing.T) {
	store := &slowStore{MemoryStore: NewMemoryStore()}
	c := newTestContainer(t, store, Options{})
	o, _ := c.Get("p", true, true)
	o.Acquire()
	defer o.Release()
	watcher := &orderSub{id: "W", store: store, vals: map[string]any{}}
	o.Subscribe(watcher)
	const writers, each = 8, 50
	subs := make([]*orderSub, writers)
	for i := range subs {
		subs[i] = &orderSub{id: fmt.Sprint("w", i), store: store, vals: map[string]any{}}
		o.Subscribe(subs[i])
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				err := o.Apply(subs[i], msg("p", Event{Type: EventRequestChange, Key: fmt.Sprint("k", j%5), Value: float64(i*1000 + j)}))
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "the pipeline to drain", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return len(o.queue) == 0 && !o.draining
	})
	for _, s := range append(subs, watcher) {
		s.mu.Lock()
		if len(s.bad) > 0 {
			t.Errorf("%s: %v", s.id, s.bad[:min(5, len(s.bad))])
		}
		s.mu.Unlock()
	}
	if o.Version() != writers*each {
		t.Fatalf("version %d, want %d", o.Version(), writers*each)
	}
	// The watcher saw every change in order, so its view is the final state.
	if !amf.Equal(watcher.vals, o.Attributes()) {
		t.Fatalf("watcher state %v != %v", watcher.vals, o.Attributes())
	}
	attrs, v, _, _ := store.Load("/chat/room1", "p")
	if v != o.Version() || !amf.Equal(attrs, o.Attributes()) {
		t.Fatalf("stored version %d %v, object %d %v", v, attrs, o.Version(), o.Attributes())
	}
}

func TestContainerClose(t *testing.T) {
	store := NewMemoryStore()
	c := NewContainer("/a", store, Options{Logger: quiet})
	o, _ := c.Get("p", true, true)
	s := newSub(t, "A")
	o.Subscribe(s)
	o.BeginUpdate()
	o.SetAttribute("", "k", "v") // open batch: saved by Close
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, v, ok, _ := store.Load("/a", "p"); !ok || v != 1 {
		t.Fatalf("open batch not flushed: found %v version %d", ok, v)
	}
	if !c.Empty() {
		t.Fatal("closed container not empty")
	}
	if _, err := c.Get("q", false, true); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if err := o.SetAttribute("", "k", "w"); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

// TestConcurrentUse hammers one container from many goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	c := newTestContainer(t, NewMemoryStore(), Options{Linger: time.Millisecond})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newSub(t, fmt.Sprint("c", i))
			for j := range 200 {
				name := fmt.Sprint("o", j%3)
				pers := j%3 == 0
				c.Apply(s, use(name, pers))
				c.Apply(s, msg(name, Event{Type: EventRequestChange, Key: "k", Value: float64(j)},
					Event{Type: EventSend, Args: []any{"h", float64(i)}}))
				if j%7 == 0 {
					c.Apply(s, msg(name, Event{Type: EventRelease}))
				}
				if j%11 == 0 {
					c.Unsubscribe(s)
				}
				s.reset()
			}
			c.Unsubscribe(s)
		}()
	}
	wg.Wait()
	waitFor(t, "every object to go", c.Empty)
}

// gateStore holds each save until the test lets it through.
type gateStore struct {
	*MemoryStore
	saving chan struct{} // a save began
	gate   chan struct{} // lets one save through
}

func (s *gateStore) Save(p, n string, attrs map[string]any, v uint32) error {
	s.saving <- struct{}{}
	<-s.gate
	return s.MemoryStore.Save(p, n, attrs, v)
}

// TestJoinDuringSave: a subscriber that joins while a change is being saved gets the
// change in its join sync only, not once more when the change goes out; the subscriber
// of before gets the change, then nothing of the join. With and without a merge window.
func TestJoinDuringSave(t *testing.T) {
	for _, window := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprint(window), func(t *testing.T) {
			store := &gateStore{MemoryStore: NewMemoryStore(), saving: make(chan struct{}), gate: make(chan struct{})}
			c := newTestContainer(t, store, Options{MergeWindow: window})
			o, _ := c.Get("p", true, true)
			o.Acquire()
			defer o.Release()
			a, b := newSub(t, "A"), newSub(t, "B")
			o.Subscribe(a)
			swept(t, o)
			a.reset()
			done := make(chan error)
			go func() { done <- o.SetAttribute("", "k", 1.0) }()
			<-store.saving
			o.Subscribe(b) // queued behind the change being saved
			store.gate <- struct{}{}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if window > 0 {
				sweepNow(t, o)
			}
			if got := a.types(); !slices.Equal(got, []EventType{EventChange}) {
				t.Fatalf("A saw %v, want the change alone", got)
			}
			if got := b.types(); !slices.Equal(got, []EventType{EventUseSuccess, EventChange}) {
				t.Fatalf("B saw %v, want its sync (with the change) alone", got)
			}
		})
	}
}
