package sharedobject

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runSub is a recSub that takes runs; runs records their lengths.
type runSub struct {
	*recSub
	rmu  sync.Mutex
	runs []*Run
}

func (s *runSub) DeliverRun(r *Run) error {
	s.rmu.Lock()
	s.runs = append(s.runs, r)
	s.rmu.Unlock()
	for _, d := range r.Deliveries() {
		if d.For(s.id) {
			s.recSub.Deliver(d)
		}
	}
	return nil
}

func (s *runSub) runCount() int {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return len(s.runs)
}

// quietSpell makes the object's last fan-out look long past, as after a quiet spell.
func quietSpell(o *SharedObject) {
	o.mu.Lock()
	o.lastOut = time.Now().Add(-24 * time.Hour)
	o.mu.Unlock()
}

// joinedRunSubs joins n runSubs, s0 to s(n-1), to the transient object "chat" of c
// (which has a merge window), hands them their held joins and forgets them, and
// makes the object's next batch go out at once.
func joinedRunSubs(t *testing.T, c *Container, n int) (*SharedObject, []*runSub) {
	t.Helper()
	subs := make([]*runSub, n)
	for i := range subs {
		subs[i] = &runSub{recSub: newSub(t, fmt.Sprint("s", i))}
		if err := c.Apply(subs[i], use("chat", false)); err != nil {
			t.Fatal(err)
		}
	}
	o := c.Lookup("chat")
	sweepNow(t, o) // the held joins
	quietSpell(o)
	for _, s := range subs {
		s.reset()
	}
	return o, subs
}

// replaceSub makes the subscription of subscriber id deliver to sub instead.
func replaceSub(o *SharedObject, id string, sub RunSubscriber) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.subs {
		if m.id == id {
			m.sub, m.run = sub, sub
		}
	}
}

// TestMergeWindow: after a fan-out, batches wait for the window's end and go out
// together, as one Run to a RunSubscriber and batch by batch to the others, in order
// and each as its subscriber sees it; after a quiet spell a batch goes out at once. The
// window is an hour and its end is called by the test, so no timing decides.
func TestMergeWindow(t *testing.T) {
	c := newTestContainer(t, nil, Options{MergeWindow: time.Hour})
	a := &runSub{recSub: newSub(t, "A")}
	b := newSub(t, "B")
	if err := c.Apply(a, use("chat", false)); err != nil {
		t.Fatal(err)
	}
	o := c.Lookup("chat")
	swept(t, o)
	if len(a.deliveries()) != 1 {
		t.Fatal("the first batch did not go out at once")
	}
	if err := c.Apply(b, use("chat", false)); err != nil {
		t.Fatal(err)
	}
	swept(t, o)
	if len(b.deliveries()) != 0 {
		t.Fatal("a join within the window was not held")
	}
	sweepNow(t, o)
	if got := b.types(); !slices.Equal(got, []EventType{EventUseSuccess, EventClear}) {
		t.Fatalf("held join: %v", got)
	}
	a.reset()
	b.reset()

	quietSpell(o)
	o.SetAttribute("", "k1", 1.0)
	swept(t, o)
	if len(a.deliveries()) != 1 || len(b.deliveries()) != 1 || a.runCount() != 0 {
		t.Fatalf("after a quiet spell: A %d, B %d deliveries, %d runs; want 1, 1 at once, no run", len(a.deliveries()), len(b.deliveries()), a.runCount())
	}
	a.reset()
	b.reset()

	// Three batches within the window: A writes one, the server one, then a send.
	c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "k2", Value: 2.0}))
	o.SetAttribute("", "k3", 3.0)
	o.Send("", "h", "x")
	swept(t, o)
	if n := len(a.deliveries()) + len(b.deliveries()); n != 0 {
		t.Fatalf("%d deliveries within the window", n)
	}
	sweepNow(t, o)
	if a.runCount() != 1 || len(a.runs[0].Deliveries()) != 3 {
		t.Fatalf("A got %d runs, want one of 3 batches", a.runCount())
	}
	if got := a.types(); !slices.Equal(got, []EventType{EventSuccess, EventChange, EventSend}) {
		t.Fatalf("A (the writer of k2) saw %v", got)
	}
	if got := b.types(); !slices.Equal(got, []EventType{EventChange, EventChange, EventSend}) || len(b.deliveries()) != 3 {
		t.Fatalf("B saw %v in %d deliveries", got, len(b.deliveries()))
	}
	var last uint32
	for _, d := range b.deliveries() {
		if d.Version() < last {
			t.Fatalf("versions out of order: %d after %d", d.Version(), last)
		}
		last = d.Version()
	}
	r := a.runs[0]
	if !r.Own("A") || r.Own("B") || !r.For("B") || !r.For("C") {
		t.Fatalf("Own(A) %v Own(B) %v For(B) %v For(C) %v", r.Own("A"), r.Own("B"), r.For("B"), r.For("C"))
	}
	builds := 0
	build := func() ([]byte, error) { builds++; return []byte("x"), nil }
	x, _ := r.Shared(7, build)
	y, _ := r.Shared(7, build)
	if builds != 1 || &x[0] != &y[0] {
		t.Fatalf("Shared built %d times for one key", builds)
	}
}

// TestMergeWindowTimer: the window's end comes by itself, and the object still
// lingers and goes once idle.
func TestMergeWindowTimer(t *testing.T) {
	c := newTestContainer(t, nil, Options{MergeWindow: 20 * time.Millisecond, Linger: time.Millisecond})
	a := &runSub{recSub: newSub(t, "A")}
	c.Apply(a, use("chat", false))
	o := c.Lookup("chat")
	swept(t, o)
	a.reset()
	for i := range 5 {
		o.SetAttribute("", "k", float64(i))
	}
	waitFor(t, "the held batches", func() bool { return len(a.deliveries()) == 5 })
	c.Apply(a, &Message{Name: "chat", Events: []Event{{Type: EventRelease}}})
	waitFor(t, "the idle object to go", func() bool { return c.Lookup("chat") == nil })
}

// hookSub calls fn on its first delivery.
type hookSub struct {
	*runSub
	once sync.Once
	fn   func()
}

func (s *hookSub) DeliverRun(r *Run) error {
	s.once.Do(s.fn)
	return s.runSub.DeliverRun(r)
}

func (s *hookSub) Deliver(d *Delivery) error {
	s.once.Do(s.fn)
	return s.runSub.Deliver(d)
}

// TestSweepTakesNewBatches: a batch that becomes ready in the middle of a sweep goes to
// the subscribers not yet visited in the same sweep (from the next look on), and to
// the others in the next sweep; everyone gets everything once, in order.
func TestSweepTakesNewBatches(t *testing.T) {
	c := newTestContainer(t, nil, Options{MergeWindow: time.Hour})
	o, subs := joinedRunSubs(t, c, 3*sweepCheck)
	// Subscriber 1 is visited second in the sweep below; its delivery makes a new batch.
	replaceSub(o, "s1", &hookSub{runSub: subs[1], fn: func() { o.SetAttribute("", "k2", 2.0) }})
	o.SetAttribute("", "k1", 1.0) // after a quiet spell: a sweep at once
	swept(t, o)
	for i, s := range subs {
		got := len(s.deliveries())
		want := 1 // k1 only: visited before the sweep looked again
		if i >= sweepCheck-1 {
			want = 2 // k1 and k2 in one run
		}
		if got != want {
			t.Fatalf("subscriber %d got %d batches in the first sweep, want %d", i, got, want)
		}
	}
	sweepNow(t, o)
	for i, s := range subs {
		if got := s.types(); !slices.Equal(got, []EventType{EventChange, EventChange}) {
			t.Fatalf("subscriber %d saw %v, want k1 and k2 once", i, got)
		}
		if ds := s.deliveries(); ds[0].Version() >= ds[1].Version() {
			t.Fatalf("subscriber %d: versions out of order", i)
		}
	}
}

// TestMergedListenerWithoutSubscribers: with a merge window and no subscriber, a batch
// that becomes ready during a sweep (here written by the listener itself) is shown to
// the listeners in the next sweep, not dropped with the batches handed out (it was, and
// the next sweep then indexed below the queue's head and panicked).
func TestMergedListenerWithoutSubscribers(t *testing.T) {
	c := newTestContainer(t, nil, Options{MergeWindow: time.Hour})
	o, _ := c.Get("chat", false, true)
	o.Acquire()
	defer o.Release()
	var mu sync.Mutex
	var seen []string
	o.AddListener(ListenerFunc(func(so *SharedObject, ev OriginEvent) {
		mu.Lock()
		seen = append(seen, ev.Key)
		mu.Unlock()
		if ev.Key == "echo" {
			so.SetAttribute("", "echoed", true) // ready in the middle of the sweep
		}
	}))
	o.SetAttribute("", "echo", 1.0) // after a quiet spell: a sweep at once
	swept(t, o)
	sweepNow(t, o)
	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	if !slices.Equal(got, []string{"echo", "echoed"}) {
		t.Fatalf("listener saw %q, want echo then echoed", got)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) != 0 || o.notified.Load() != o.base {
		t.Fatalf("after the sweeps: %d batches queued, notified %d, base %d", len(o.queue), o.notified.Load(), o.base)
	}
}

// TestRunFramed: a run is framed once per key for the subscribers with no events of
// their own (each batch through Delivery.Framed, concatenated), and for its writer as
// that writer sees it.
func TestRunFramed(t *testing.T) {
	c := newTestContainer(t, nil, Options{MergeWindow: time.Hour})
	a := &runSub{recSub: newSub(t, "A")}
	b := &runSub{recSub: newSub(t, "B")}
	c.Apply(a, use("chat", false))
	c.Apply(b, use("chat", false))
	o := c.Lookup("chat")
	sweepNow(t, o)
	quietSpell(o)
	o.SetAttribute("", "k0", 0.0) // at once
	swept(t, o)
	c.Apply(a, msg("chat", Event{Type: EventRequestChange, Key: "k1", Value: 1.0}))
	o.SetAttribute("", "k2", 2.0)
	sweepNow(t, o)
	if b.runCount() != 1 {
		t.Fatalf("B got %d runs, want 1", b.runCount())
	}
	r := b.runs[0]
	frames := 0
	frame := func(p []byte) []byte { frames++; return append([]byte{'|'}, p...) }
	x, _ := r.Framed(b, 9, frame)
	y, _ := r.Framed(b, 9, frame)
	if frames != 2 || &x[0] != &y[0] {
		t.Fatalf("%d frames for a run of 2 batches framed twice for one key", frames)
	}
	var want []byte
	for _, d := range r.Deliveries() {
		p, _ := d.Payload(b)
		want = append(want, '|')
		want = append(want, p...)
	}
	if string(x) != string(want) {
		t.Fatal("the run's frame is not its batches' frames in order")
	}
	mine, _ := r.Framed(a, 9, frame)
	pa, _ := r.Deliveries()[0].Payload(a)
	if string(mine) == string(x) || len(mine) < len(pa)+1 || string(mine[1:1+len(pa)]) != string(pa) {
		t.Fatal("the writer's frame is not its own view of the run")
	}
}

// TestRunAcrossJoin: a join in the middle of a window does not break the run of the
// others (the join is not for them): A gets k1 and k2 as one Run; C, joining between
// them, gets its join, with k1 in it, then k2.
func TestRunAcrossJoin(t *testing.T) {
	c := newTestContainer(t, nil, Options{MergeWindow: time.Hour})
	a := &runSub{recSub: newSub(t, "A")}
	c.Apply(a, use("chat", false))
	o := c.Lookup("chat")
	swept(t, o)
	quietSpell(o)
	o.SetAttribute("", "k0", 0.0) // at once; the next window holds
	swept(t, o)
	a.reset()
	o.SetAttribute("", "k1", 1.0)
	cs := &runSub{recSub: newSub(t, "C")}
	c.Apply(cs, use("chat", false))
	o.SetAttribute("", "k2", 2.0)
	sweepNow(t, o)
	if a.runCount() != 1 || len(a.runs[0].Deliveries()) != 2 {
		t.Fatalf("A got %d runs, want one of k1 and k2", a.runCount())
	}
	if got := a.types(); !slices.Equal(got, []EventType{EventChange, EventChange}) {
		t.Fatalf("A saw %v", got)
	}
	var keys []string
	for _, e := range cs.events() {
		keys = append(keys, fmt.Sprint(e.Type, ":", e.Key))
	}
	if want := []string{"use success:", "clear:", "change:k0", "change:k1", "change:k2"}; !slices.Equal(keys, want) {
		t.Fatalf("C saw %q, want %q", keys, want)
	}
}

// TestSplitSweep: a sweep of many subscribers is shared by two goroutines (GOMAXPROCS
// 2). Batches written in the middle of it, from a subscriber of each part, reach every
// subscriber exactly once and in order, the listener sees each batch once, in order and
// before any subscriber gets it, a subscriber that fails in the helper's part is
// dropped, and the queue is empty after the sweeps.
func TestSplitSweep(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	c := newTestContainer(t, nil, Options{MergeWindow: time.Hour})
	n := 2*sweepSplit + 7
	o, subs := joinedRunSubs(t, c, n)
	// The listener sees w5 (written at the drainer's sixth visit) only once the
	// helper has visited its whole part: the helper must not hand w5 out meanwhile.
	var mu sync.Mutex
	var seen []string
	helperDone := make(chan struct{})
	o.AddListener(ListenerFunc(func(so *SharedObject, ev OriginEvent) {
		if ev.Key == "w5" {
			select {
			case <-helperDone:
			case <-time.After(10 * time.Second):
				t.Error("the helper did not reach the last subscriber")
			}
		}
		mu.Lock()
		seen = append(seen, ev.Key)
		mu.Unlock()
	}))
	// Every subscriber checks that the listener saw each change before it.
	var early atomic.Int64
	o.mu.Lock()
	for i, m := range o.subs {
		ss := &shownSub{runSub: m.run.(*runSub), shown: func(d *Delivery) {
			mu.Lock()
			defer mu.Unlock()
			for _, ev := range d.Events() {
				if !slices.Contains(seen, ev.Key) {
					early.Add(1)
				}
			}
		}}
		if i == n-1 {
			ss.first = func() { close(helperDone) }
		}
		if i == n-3 {
			ss.fail = true // dropped by the helper
		}
		m.sub, m.run = ss, ss
	}
	o.mu.Unlock()
	// One subscriber in each half writes a batch when it is first visited.
	for _, at := range []int{5, n - 5} {
		key := fmt.Sprint("w", at)
		replaceSub(o, subs[at].id, &hookSub{runSub: subs[at], fn: func() { o.SetAttribute("", key, 1.0) }})
	}
	o.SetAttribute("", "k", 0.0) // after a quiet spell: a sweep at once
	swept(t, o)
	sweepNow(t, o) // the batches the hooks wrote, to those not given them yet
	if o.Subscribers() != n-1 || c.Dropped() != 1 {
		t.Fatalf("%d subscribers, %d dropped; want %d, the failing one", o.Subscribers(), c.Dropped(), n-1)
	}
	for i, s := range subs {
		if i == n-3 {
			continue
		}
		ds := s.deliveries()
		if len(s.types()) != 3 {
			t.Fatalf("subscriber %d saw %v, want 3 changes", i, s.types())
		}
		for j := 1; j < len(ds); j++ {
			if ds[j].Version() <= ds[j-1].Version() {
				t.Fatalf("subscriber %d: version %d after %d", i, ds[j].Version(), ds[j-1].Version())
			}
		}
	}
	if n := early.Load(); n != 0 {
		t.Fatalf("%d changes reached a subscriber before the listener", n)
	}
	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	if len(got) != 3 || got[0] != "k" || !slices.Contains(got, "w5") || !slices.Contains(got, fmt.Sprint("w", n-5)) {
		t.Fatalf("listener saw %q, want k then the two writes once each", got)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) != 0 || o.notified.Load() != o.base {
		t.Fatalf("after the sweeps: %d batches queued, notified %d, base %d", len(o.queue), o.notified.Load(), o.base)
	}
}

// shownSub is a runSub that calls shown with each batch it gets, and first (if
// set) after its first batch; with fail, its deliveries fail.
type shownSub struct {
	*runSub
	shown func(*Delivery)
	first func()
	once  sync.Once
	fail  bool
}

var errTestFail = errors.New("test subscriber fails")

func (s *shownSub) DeliverRun(r *Run) error {
	if s.fail {
		return errTestFail
	}
	for _, d := range r.Deliveries() {
		s.shown(d)
	}
	defer s.after()
	return s.runSub.DeliverRun(r)
}

func (s *shownSub) Deliver(d *Delivery) error {
	if s.fail {
		return errTestFail
	}
	s.shown(d)
	defer s.after()
	return s.runSub.Deliver(d)
}

func (s *shownSub) after() {
	if s.first != nil {
		s.once.Do(s.first)
	}
}

// TestSweepOffTheWriter: a sweep that is due at once runs on a goroutine of its own,
// not the writer's: SetAttribute returns while a subscriber's delivery is still
// blocked. (When the writer's goroutine swept, a writer's connection read none of its
// next changes for as long as a sweep of 1000 subscribers took.)
func TestSweepOffTheWriter(t *testing.T) {
	c := newTestContainer(t, nil, Options{MergeWindow: time.Hour})
	o, subs := joinedRunSubs(t, c, 2)
	release := make(chan struct{})
	replaceSub(o, "s1", &hookSub{runSub: subs[1], fn: func() { <-release }})
	done := make(chan error, 1)
	go func() { done <- o.SetAttribute("", "k", 1.0) }() // after a quiet spell: a sweep at once
	select {
	case err := <-done:
		close(release)
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("SetAttribute waited for the sweep")
	}
	swept(t, o)
	for i, s := range subs {
		if got := s.types(); !slices.Equal(got, []EventType{EventChange}) {
			t.Fatalf("subscriber %d saw %v, want the change once", i, got)
		}
	}
}
