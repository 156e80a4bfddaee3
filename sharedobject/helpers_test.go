package sharedobject

import (
	"errors"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp/amf"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var errFull = errors.New("queue full")

// recSub records deliveries; it checks every payload decodes to what EventsFor says.
type recSub struct {
	t    testing.TB
	id   string
	amf3 bool
	fail atomic.Bool

	mu  sync.Mutex
	got []*Delivery
}

func newSub(t testing.TB, id string) *recSub { return &recSub{t: t, id: id} }

func (s *recSub) ID() string { return s.id }
func (s *recSub) AMF3() bool { return s.amf3 }
func (s *recSub) Deliver(d *Delivery) error {
	if s.fail.Load() {
		return errFull
	}
	s.mu.Lock()
	s.got = append(s.got, d)
	s.mu.Unlock()
	return nil
}

func (s *recSub) deliveries() []*Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func (s *recSub) reset() {
	s.mu.Lock()
	s.got = nil
	s.mu.Unlock()
}

// events returns every event received, as seen by s, checking the wire payloads.
func (s *recSub) events() []Event {
	s.t.Helper()
	var out []Event
	for _, d := range s.deliveries() {
		evs := d.EventsFor(s.id)
		p, err := d.Payload(s)
		if err != nil {
			s.t.Fatalf("%s: Payload: %v", s.id, err)
		}
		m, err := Decode(p, s.amf3, amf.Limits{})
		if err != nil {
			s.t.Fatalf("%s: payload does not decode: %v", s.id, err)
		}
		want := Message{Name: d.Name(), Version: d.Version(), Persistent: d.Persistent(), Events: evs}
		if d.Persistent() {
			want.Flags = FlagPersistent
		}
		if err := sameMessage(&m, &want); err != nil {
			s.t.Fatalf("%s: payload differs from EventsFor: %v", s.id, err)
		}
		out = append(out, evs...)
	}
	return out
}

// types returns the event types received.
func (s *recSub) types() []EventType {
	var out []EventType
	for _, e := range s.events() {
		out = append(out, e.Type)
	}
	return out
}

// waitFor polls cond until it holds; after 5 s the test fails.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 5*time.Second, what, cond)
}

func newTestContainer(t testing.TB, store Store, opts Options) *Container {
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	c := NewContainer("/chat/room1", store, opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// access is an Access of function fields; nil fields allow.
type access struct {
	connect func(o Origin, so *SharedObject) error
	write   func(o Origin, so *SharedObject, key string, value any) error
	del     func(o Origin, so *SharedObject, key string) error
	send    func(o Origin, so *SharedObject, handler string, args []any) error
}

func (a *access) CanConnect(o Origin, so *SharedObject) error {
	if a.connect != nil {
		return a.connect(o, so)
	}
	return nil
}
func (a *access) CanWrite(o Origin, so *SharedObject, key string, value any) error {
	if a.write != nil {
		return a.write(o, so, key, value)
	}
	return nil
}
func (a *access) CanDelete(o Origin, so *SharedObject, key string) error {
	if a.del != nil {
		return a.del(o, so, key)
	}
	return nil
}
func (a *access) CanSend(o Origin, so *SharedObject, handler string, args []any) error {
	if a.send != nil {
		return a.send(o, so, handler, args)
	}
	return nil
}

// use, change, remove, send build client messages.
func use(name string, persistent bool) *Message {
	m := &Message{Name: name, Flags: 16, Events: []Event{{Type: EventUse}}}
	if persistent {
		m.Flags, m.Persistent = 2, true
	}
	return m
}

func msg(name string, evs ...Event) *Message { return &Message{Name: name, Flags: 16, Events: evs} }

// swept waits until o has no drain in progress. With a merge window a batch
// that goes out at once goes out on a goroutine of its own (see drain): it has
// gone out when swept returns, and one that was held has not.
func swept(t testing.TB, o *SharedObject) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		o.mu.Lock()
		busy := o.draining
		o.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the drainer did not finish within 5s")
		}
		runtime.Gosched() // no sleep: benchmarks wait here too
	}
}

// sweepNow ends o's merge window as its timer does, once the drain in
// progress (if any) has held what it could not hand out, and waits for the
// sweep.
func sweepNow(t testing.TB, o *SharedObject) {
	t.Helper()
	swept(t, o)
	o.endHold()
	swept(t, o)
}
