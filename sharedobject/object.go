package sharedobject

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopecast/scopecast/rtmp/amf"
)

// Access lets an application refuse operations: return a non-nil error to refuse. The
// origin is the client asking. Refusals reach the client as status events
// (SharedObject.NoReadAccess for connect, SharedObject.NoWriteAccess otherwise).
type Access interface {
	CanConnect(origin Origin, so *SharedObject) error
	CanWrite(origin Origin, so *SharedObject, key string, value any) error
	// CanDelete is asked for request remove, and with key "" for request clear.
	CanDelete(origin Origin, so *SharedObject, key string) error
	CanSend(origin Origin, so *SharedObject, handler string, args []any) error
}

// Listener sees every change, remove, clear and send of an object with its origin, in
// version order, after the change is durable and just before the subscribers get it.
// It runs on the goroutine delivering the batch and must not block; it may call back
// into the object (such writes are delivered after the current batch).
type Listener interface {
	SharedObjectEvent(so *SharedObject, ev OriginEvent)
}

// ListenerFunc adapts a function to Listener.
type ListenerFunc func(so *SharedObject, ev OriginEvent)

// SharedObjectEvent calls f.
func (f ListenerFunc) SharedObjectEvent(so *SharedObject, ev OriginEvent) { f(so, ev) }

// SendHandler is a server-side handler of send messages; see [SharedObject.HandleSend].
type SendHandler func(origin Origin, args []any) error

// member is one subscription; a new one is made for every Subscribe of a new subscriber.
type member struct {
	sub  Subscriber
	run  RunSubscriber // sub, if it takes runs
	id   string
	next uint64      // the seq of the first batch for it (its join); merged fan-out: of the first it has not been handed (the drainer's)
	dead atomic.Bool // dropped or unsubscribed: receives nothing more
}

// item is one batch in the object's ordered delivery pipeline; its seq (position in
// the pipeline) is so.base plus its index in so.queue.
type item struct {
	only  *member // a batch for one member (its join); nil: a write, for every subscriber and the listeners
	d     *Delivery
	ready bool // saved (or nothing to save); guarded by so.mu
}

type listenerEntry struct{ l Listener }

// SharedObject is one remote shared object. Get one from a [Container]. All methods are
// safe for concurrent use.
type SharedObject struct {
	name       string
	persistent bool
	c          *Container

	mu        sync.Mutex
	attrs     map[string]any
	version   uint32
	subs      []*member // copy on write
	byID      map[string]*member
	depth     int           // BeginUpdate nesting
	batch     []OriginEvent // events of the open batch
	dirty     bool          // state changed since the last save
	acquired  int
	listeners []*listenerEntry // copy on write
	handlers  map[string]SendHandler
	queue     []*item
	draining  bool
	closed    bool // removed from its container or container closed
	timer     *time.Timer
	timerGen  uint64

	// Merged fan-out (Options.MergeWindow): ready batches wait while holding,
	// until hold fires at lastOut + the window.
	lastOut time.Time // when the last fan-out began
	base    uint64    // the seq of queue[0]
	// merged fan-out: the batches below this seq were shown to the listeners; the
	// drainer alone moves it, the helpers of a split sweep hand out nothing beyond it.
	notified atomic.Uint64
	holding  bool
	hold     *time.Timer
}

func newObject(c *Container, name string, persistent bool, attrs map[string]any, version uint32) *SharedObject {
	if attrs == nil {
		attrs = make(map[string]any)
	}
	return &SharedObject{name: name, persistent: persistent, c: c, attrs: attrs, version: version, byID: make(map[string]*member)}
}

// Name returns the object's name.
func (so *SharedObject) Name() string { return so.name }

// Persistent reports whether the object is persistent.
func (so *SharedObject) Persistent() bool { return so.persistent }

// Path returns the path of the scope the object lives in.
func (so *SharedObject) Path() string { return so.c.path }

// Version returns the current version; it rises with every change.
func (so *SharedObject) Version() uint32 {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.version
}

// Get returns the value of an attribute.
func (so *SharedObject) Get(key string) (any, bool) {
	so.mu.Lock()
	defer so.mu.Unlock()
	v, ok := so.attrs[key]
	return v, ok
}

// Attributes returns a snapshot copy of the attributes.
func (so *SharedObject) Attributes() map[string]any {
	so.mu.Lock()
	defer so.mu.Unlock()
	return maps.Clone(so.attrs)
}

// Subscribers returns the number of subscribers.
func (so *SharedObject) Subscribers() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	return len(so.subs)
}

// Subscribe joins sub (again, if already subscribed): after the container's Access
// allows it (otherwise sub receives status SharedObject.NoReadAccess and the error wraps
// ErrNoReadAccess), sub receives use success, clear (transient objects only, as Red5),
// and one change per attribute in key order, in one Delivery, ordered after every batch
// made before.
func (so *SharedObject) Subscribe(sub Subscriber) error {
	id := sub.ID()
	if id == "" {
		panic("sharedobject: Subscribe with an empty subscriber ID")
	}
	if a := so.c.access(); a != nil {
		if err := a.CanConnect(Origin(id), so); err != nil {
			so.c.refuse(sub, so.name, so.persistent, StatusNoReadAccess)
			return fmt.Errorf("%w: %s in %s: %w", ErrNoReadAccess, so.name, so.c.path, err)
		}
	}
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return fmt.Errorf("%w: shared object %s in %s", ErrClosed, so.name, so.c.path)
	}
	// A new member every time: a subscriber joining again gets a full sync and nothing
	// queued for its previous membership.
	if old := so.byID[id]; old != nil {
		old.dead.Store(true)
		so.removeLocked(old)
	}
	m := &member{sub: sub, id: id}
	m.run, _ = sub.(RunSubscriber)
	so.byID[id] = m
	so.subs = append(slices.Clip(so.subs), m)
	so.stopTimerLocked()
	events := make([]OriginEvent, 0, 2+len(so.attrs))
	events = append(events, OriginEvent{Event: Event{Type: EventUseSuccess}})
	if !so.persistent {
		events = append(events, OriginEvent{Event: Event{Type: EventClear}})
	}
	for _, k := range slices.Sorted(maps.Keys(so.attrs)) {
		events = append(events, OriginEvent{Event: Event{Type: EventChange, Key: k, Value: so.attrs[k]}})
	}
	m.next = so.base + uint64(len(so.queue)) // the seq of its join
	so.queue = append(so.queue, &item{
		only:  m,
		d:     newDelivery(so.name, so.version, so.persistent, events),
		ready: true,
	})
	so.mu.Unlock()
	so.drain()
	return nil
}

// Unsubscribe removes sub (release or disconnect); it receives nothing more. It is a
// no-op if sub is not subscribed.
func (so *SharedObject) Unsubscribe(sub Subscriber) {
	so.mu.Lock()
	m := so.byID[sub.ID()]
	if m == nil {
		so.mu.Unlock()
		return
	}
	m.dead.Store(true)
	so.removeLocked(m)
	so.mu.Unlock()
	so.drain() // arms the idle timer if this was the last one
}

// removeLocked drops member m. so.mu held.
func (so *SharedObject) removeLocked(m *member) {
	if so.byID[m.id] == m {
		delete(so.byID, m.id)
	}
	if i := slices.Index(so.subs, m); i >= 0 {
		so.subs = slices.Delete(slices.Clone(so.subs), i, i+1)
	}
}

// Acquire keeps the object alive without subscribers until the matching Release.
func (so *SharedObject) Acquire() {
	so.mu.Lock()
	so.acquired++
	so.stopTimerLocked()
	so.mu.Unlock()
}

// Release undoes one Acquire; an idle object then lingers and goes (see the package
// documentation). It panics if the object is not acquired.
func (so *SharedObject) Release() {
	so.mu.Lock()
	if so.acquired == 0 {
		so.mu.Unlock()
		panic("sharedobject: Release without Acquire")
	}
	so.acquired--
	so.mu.Unlock()
	so.drain()
}

// AddListener adds l; the returned function removes it.
func (so *SharedObject) AddListener(l Listener) (remove func()) {
	e := &listenerEntry{l: l}
	so.mu.Lock()
	so.listeners = append(slices.Clip(so.listeners), e)
	so.mu.Unlock()
	return func() {
		so.mu.Lock()
		if i := slices.Index(so.listeners, e); i >= 0 {
			so.listeners = slices.Delete(slices.Clone(so.listeners), i, i+1)
		}
		so.mu.Unlock()
	}
}

// HandleSend registers fn as the server-side handler of send messages named name (nil
// removes it). It runs on the sender's goroutine before the message is delivered; an
// error stops the delivery and is returned (wrapping ErrHandler) to the sender.
func (so *SharedObject) HandleSend(name string, fn func(origin Origin, args []any) error) {
	so.mu.Lock()
	defer so.mu.Unlock()
	if fn == nil {
		delete(so.handlers, name)
		return
	}
	if so.handlers == nil {
		so.handlers = make(map[string]SendHandler)
	}
	so.handlers[name] = fn
}

// BeginUpdate opens a batch: the changes until the matching EndUpdate are delivered as
// one Delivery per subscriber (and saved once). Batches nest.
func (so *SharedObject) BeginUpdate() {
	so.mu.Lock()
	so.depth++
	so.mu.Unlock()
}

// EndUpdate closes a batch; the outermost one delivers it. A store error is logged (the
// writes themselves already returned).
func (so *SharedObject) EndUpdate() {
	if err := so.endUpdate(); err != nil {
		so.c.log.Error("shared object: save failed", "scope", so.c.path, "so", so.name, "err", err)
	}
}

func (so *SharedObject) endUpdate() error {
	so.mu.Lock()
	if so.depth == 0 {
		so.mu.Unlock()
		panic("sharedobject: EndUpdate without BeginUpdate")
	}
	so.depth--
	return so.commitAndUnlock()
}

// SetAttribute sets key to value (nil removes it) on behalf of origin ("" is the
// server). Its origin receives success, the other subscribers change when the value
// differs (amf.Equal). For a persistent object the new state is durable before anyone
// receives anything; a store failure is returned (wrapping ErrStore) after the change
// was delivered anyway, so that clients stay consistent with the server's memory.
func (so *SharedObject) SetAttribute(origin Origin, key string, value any) error {
	if value == nil {
		return so.RemoveAttribute(origin, key)
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(value); err != nil {
		return err
	}
	return so.set(origin, key, value)
}

func checkKey(key string) error {
	if len(key) > 0xFFFF {
		return fmt.Errorf("%w: %d bytes", ErrBadKey, len(key))
	}
	return nil
}

// checkValue makes sure v can be encoded (both layouts accept the same values).
func checkValue(vs ...any) error {
	bp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(bp)
	for _, v := range vs {
		b, err := amf.AppendAMF0((*bp)[:0], v)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadValue, err)
		}
		if cap(b) <= scratchMax {
			*bp = b[:0]
		}
	}
	return nil
}

func (so *SharedObject) set(origin Origin, key string, value any) error {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return so.closedErr()
	}
	old, ok := so.attrs[key]
	if ok && amf.Equal(old, value) {
		if origin == "" {
			so.mu.Unlock()
			return nil
		}
		so.batch = append(so.batch, OriginEvent{Event: Event{Type: EventSuccess, Key: key}, Origin: origin})
	} else {
		so.attrs[key] = value
		so.version++
		so.dirty = true
		so.batch = append(so.batch, OriginEvent{Event: Event{Type: EventChange, Key: key, Value: value}, Origin: origin})
	}
	return so.commitAndUnlock()
}

// RemoveAttribute removes key on behalf of origin; every subscriber, the origin too,
// receives remove. Removing a missing key does nothing.
func (so *SharedObject) RemoveAttribute(origin Origin, key string) error {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return so.closedErr()
	}
	if _, ok := so.attrs[key]; !ok {
		so.mu.Unlock()
		return nil
	}
	delete(so.attrs, key)
	so.version++
	so.dirty = true
	so.batch = append(so.batch, OriginEvent{Event: Event{Type: EventRemove, Key: key}, Origin: origin})
	return so.commitAndUnlock()
}

// Clear removes every attribute on behalf of origin; every subscriber receives clear.
func (so *SharedObject) Clear(origin Origin) error {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return so.closedErr()
	}
	clear(so.attrs)
	so.version++
	so.dirty = true
	so.batch = append(so.batch, OriginEvent{Event: Event{Type: EventClear}, Origin: origin})
	return so.commitAndUnlock()
}

// Send delivers a send message (handler and arguments) to every subscriber, the sender
// too, after the handler registered with HandleSend, if any, accepted it.
func (so *SharedObject) Send(origin Origin, handler string, args ...any) error {
	if err := checkValue(args...); err != nil {
		return err
	}
	return so.send(origin, handler, args)
}

func (so *SharedObject) send(origin Origin, handler string, args []any) error {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return so.closedErr()
	}
	fn := so.handlers[handler]
	so.mu.Unlock()
	if fn != nil {
		if err := so.callHandler(fn, origin, handler, args); err != nil {
			return err
		}
	}
	all := make([]any, 0, 1+len(args))
	all = append(all, handler)
	all = append(all, args...)
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return so.closedErr()
	}
	so.batch = append(so.batch, OriginEvent{Event: Event{Type: EventSend, Args: all}, Origin: origin})
	return so.commitAndUnlock()
}

func (so *SharedObject) callHandler(fn SendHandler, origin Origin, handler string, args []any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			so.c.log.Error("shared object: send handler panic", "scope", so.c.path, "so", so.name, "handler", handler, "panic", r)
			err = fmt.Errorf("%w: %s on %s: panic: %v", ErrHandler, handler, so.name, r)
		}
	}()
	if err := fn(origin, args); err != nil {
		return fmt.Errorf("%w: %s on %s: %w", ErrHandler, handler, so.name, err)
	}
	return nil
}

// status queues a status event for origin alone.
func (so *SharedObject) status(origin Origin, code string) {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return
	}
	so.batch = append(so.batch, OriginEvent{Event: Event{Type: EventStatus, Code: code, Level: statusLevelError}, Origin: origin})
	so.commitAndUnlock()
}

func (so *SharedObject) closedErr() error {
	return fmt.Errorf("%w: shared object %s in %s", ErrClosed, so.name, so.c.path)
}

// commitAndUnlock closes the batch unless one is open: it queues the batch, unlocks,
// saves the state of a persistent object, and delivers. so.mu held on entry, released
// on return.
func (so *SharedObject) commitAndUnlock() error {
	if so.depth > 0 {
		so.mu.Unlock()
		return nil
	}
	if len(so.batch) == 0 {
		so.armIdleLocked()
		so.mu.Unlock()
		return nil
	}
	countBatch(len(so.batch))
	it := &item{d: newDelivery(so.name, so.version, so.persistent, so.batch)}
	so.batch = nil
	so.queue = append(so.queue, it)
	var snap map[string]any
	version := so.version
	if so.persistent && so.dirty {
		snap = maps.Clone(so.attrs)
		so.dirty = false
		so.c.saving.Add(1)
	} else {
		it.ready = true
	}
	so.mu.Unlock()
	var err error
	if snap != nil {
		err = so.c.store.Save(so.c.path, so.name, snap, version)
		so.c.saving.Done()
		if err != nil {
			err = fmt.Errorf("%w: saving %s in %s: %w", ErrStore, so.name, so.c.path, err)
			so.c.log.Error("shared object: save failed", "scope", so.c.path, "so", so.name, "version", version, "err", err)
		}
		so.mu.Lock()
		it.ready = true
		so.mu.Unlock()
	}
	so.drain()
	return err
}

// drain delivers the ready batches at the head of the queue, in order. One goroutine
// drains at a time; the others leave their ready batches to it.
//
// With a merge window (Options.MergeWindow) the drainer sweeps the subscribers instead
// (see sweepLocked). A sweep that is due at once runs on a goroutine of its own: a
// sweep of many subscribers takes milliseconds, and the caller is typically a writer's
// connection, which would read none of its next changes meanwhile. Batches held for the
// window go out on the window timer's goroutine (endHold).
func (so *SharedObject) drain() {
	so.mu.Lock()
	if !so.beginDrainLocked() {
		so.mu.Unlock()
		return
	}
	if window := so.c.merge; window > 0 {
		if !so.sweepDueLocked(window) { // nothing to hand out, or held for the window
			so.endDrainLocked()
			so.mu.Unlock()
			return
		}
		so.mu.Unlock()
		go so.sweepDrain(window)
		return
	}
	for len(so.queue) > 0 && so.queue[0].ready {
		it := so.queue[0]
		so.queue[0] = nil
		so.queue = so.queue[1:]
		seq := so.base
		so.base++
		subs, ls := so.subs, so.listeners
		so.mu.Unlock()
		failed := so.deliver(it, seq, subs, ls)
		so.mu.Lock()
		so.dropLocked(failed)
	}
	so.endDrainLocked()
	so.mu.Unlock()
}

// beginDrainLocked makes the caller the drainer, unless there is one or a merge window
// holds the batches. so.mu held.
func (so *SharedObject) beginDrainLocked() bool {
	if so.draining || so.holding {
		return false
	}
	so.draining = true
	return true
}

// sweepDrain is the merged fan-out's drainer (see drain), after beginDrainLocked. It
// returns when every ready batch went out or the rest waits for the window's end
// (so.hold).
func (so *SharedObject) sweepDrain(window time.Duration) {
	so.mu.Lock()
	so.sweepLocked(window)
	so.endDrainLocked()
	so.mu.Unlock()
}

// endDrainLocked ends a drain. so.mu held.
func (so *SharedObject) endDrainLocked() {
	if len(so.queue) == 0 {
		so.queue = nil
	}
	so.draining = false
	so.armIdleLocked()
}

func (so *SharedObject) dropLocked(failed []failure) {
	for _, m := range failed {
		so.removeLocked(m.member)
		so.c.dropped.Add(1)
		so.c.log.Warn("shared object: subscriber dropped", "scope", so.c.path, "so", so.name, "conn", m.id, "err", m.err)
	}
}

// readyEndLocked returns the seq after the ready batches at the head of the queue.
func (so *SharedObject) readyEndLocked() uint64 {
	n := 0
	for n < len(so.queue) && so.queue[n].ready {
		n++
	}
	return so.base + uint64(n)
}

// sweepLocked is the merged fan-out. Each subscriber has a cursor (member.next) into
// the queue; a sweep hands every subscriber, in turn, the ready batches from its cursor
// on, as one Run where it can, and looks for batches that became ready every few
// subscribers: a batch that comes in the middle of a sweep goes to the subscribers not
// yet visited at once, and to the others in the next sweep. A sweep starts at most once
// per window (the batches wait for its end), so a subscriber gets at most about one
// call, and one write, per window. A sweep of many subscribers is split over
// goroutines (sweepSplit). so.mu held; released while handing out.
func (so *SharedObject) sweepLocked(window time.Duration) {
	for so.sweepDueLocked(window) {
		so.lastOut = time.Now()
		end := so.readyEndLocked()
		subs := so.subs
		sw := sweep{so: so, base: so.base, end: end, log: so.queue[:end-so.base], ls: so.listeners}
		so.mu.Unlock()
		sw.notify()
		sw.visitAll(subs)
		so.mu.Lock()
		so.dropLocked(sw.failed)
	}
}

// sweepDueLocked reports whether a sweep is due now: there are ready batches that the
// listeners or a subscriber have not had, and the window since the last sweep is over.
// If it is not over, the batches are held until it is (so.hold). so.mu held.
func (so *SharedObject) sweepDueLocked(window time.Duration) bool {
	so.trimLocked()
	if so.base == so.readyEndLocked() { // the listeners saw, and every subscriber was handed, every ready batch
		return false
	}
	if wait := window - time.Since(so.lastOut); wait > 0 {
		so.holding = true
		if so.hold == nil {
			so.hold = time.AfterFunc(wait, so.endHold)
		} else {
			so.hold.Reset(wait)
		}
		return false
	}
	return true
}

// sweepCheck is how many subscribers a sweep visits between two looks for new batches.
const sweepCheck = 32

// sweepSplit is the fewest subscribers a sweep gives a goroutine of its own: a sweep of
// more is shared by up to GOMAXPROCS goroutines, each visiting a part of the
// subscribers, so that it takes both cores of a two-core server rather than one (and
// less of its time is lost when another thread preempts one of them).
const sweepSplit = 256

// visitAll visits subs, split over goroutines when there are many (see sweepSplit).
// Only this sweep (the drainer's) shows the listeners new batches; the helpers take
// only batches already shown.
func (sw *sweep) visitAll(subs []*member) {
	k := min(runtime.GOMAXPROCS(0), len(subs)/sweepSplit)
	if k <= 1 {
		sw.visitPart(subs, false)
		return
	}
	per := (len(subs) + k - 1) / k
	helpers := make([]sweep, k-1)
	var wg sync.WaitGroup
	for i := range helpers {
		h := &helpers[i]
		*h = sweep{so: sw.so, base: sw.base, end: sw.end, log: sw.log, ls: sw.ls, helper: true}
		part := subs[min((i+1)*per, len(subs)):min((i+2)*per, len(subs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.visitPart(part, true)
		}()
	}
	sw.visitPart(subs[:per], true)
	wg.Wait()
	for i := range helpers {
		sw.failed = append(sw.failed, helpers[i].failed...)
	}
}

// visitPart visits subs in order, looking for new batches every sweepCheck of them. A
// part of a split sweep then also yields: its goroutines hold every P, and the
// goroutines that make the batches (a writer's connection) must run meanwhile.
func (sw *sweep) visitPart(subs []*member, yield bool) {
	for i, m := range subs {
		if i%sweepCheck == sweepCheck-1 {
			sw.extend()
			if yield {
				runtime.Gosched()
			}
		}
		sw.visit(m)
	}
}

// trimLocked drops the batches the listeners were shown and every subscriber has been
// handed.
func (so *SharedObject) trimLocked() {
	low := so.notified.Load()
	for _, m := range so.subs {
		if !m.dead.Load() {
			low = min(low, m.next)
		}
	}
	n := int(low - so.base)
	clear(so.queue[:n])
	so.queue = so.queue[n:]
	so.base = low
}

// sweep is one pass of the merged fan-out (the drainer's), or a helper's part of one.
type sweep struct {
	so        *SharedObject
	base, end uint64  // the queue's head seq, and the end of what this sweep hands out
	log       []*item // queue[:end-base] (the drainer alone removes from the head)
	ls        []*listenerEntry
	from      uint64 // the last run made, for subscribers whose cursor was from
	run       *Run
	failed    []failure
	helper    bool // a part of a split sweep other than the drainer's: shows the listeners nothing
}

// extend takes the batches that became ready since the sweep began.
func (sw *sweep) extend() {
	so := sw.so
	so.mu.Lock()
	end := so.readyEndLocked()
	if sw.helper {
		end = min(end, so.notified.Load()) // the listeners see a batch first
	}
	if end > sw.end {
		sw.log, sw.end, sw.ls = so.queue[:end-sw.base], end, so.listeners
		sw.run = nil
	}
	so.mu.Unlock()
	if !sw.helper {
		sw.notify()
	}
}

// notify shows the listeners the events of the batches not shown yet, in order.
func (sw *sweep) notify() {
	so := sw.so
	for n := so.notified.Load(); n < sw.end; n++ {
		so.show(sw.log[n-sw.base], sw.ls)
		so.notified.Store(n + 1)
	}
}

// visit hands m the batches from its cursor to the sweep's end. A member that takes
// runs gets the writes among them as one Run (shared by the members with the same
// cursor; the joins of others are not for it), except on its first visit, which
// begins with its own join.
func (sw *sweep) visit(m *member) {
	if m.dead.Load() || m.next >= sw.end {
		return
	}
	from := max(m.next, sw.base)
	items := sw.log[from-sw.base:]
	m.next = sw.end
	var err error
	if m.run != nil && items[0].only != m { // items[0] is m's join on its first visit only
		if sw.run == nil || sw.from != from {
			sw.run, sw.from = writes(items), from
		}
		switch ds := sw.run.ds; {
		case len(ds) > 1 && sw.run.For(m.id):
			err = m.run.DeliverRun(sw.run)
		case len(ds) == 1 && ds[0].For(m.id):
			err = m.sub.Deliver(ds[0])
		}
	} else {
		for _, it := range items {
			if (it.only == nil || it.only == m) && it.d.For(m.id) {
				if err = m.sub.Deliver(it.d); err != nil {
					break
				}
			}
		}
	}
	if err != nil {
		m.dead.Store(true)
		sw.failed = append(sw.failed, failure{m, err})
	}
}

// writes returns the run of the batches of items that are writes (not joins).
func writes(items []*item) *Run {
	r := &Run{ds: make([]*Delivery, 0, len(items))}
	for _, it := range items {
		if it.only == nil {
			r.ds = append(r.ds, it.d)
		}
	}
	return r
}

// endHold ends a merge window: the batches it held go out, on the window timer's own
// goroutine.
func (so *SharedObject) endHold() {
	so.mu.Lock()
	so.holding = false
	so.lastOut = time.Time{} // due now, whatever the clock says
	ok := so.beginDrainLocked()
	so.mu.Unlock()
	if ok {
		so.sweepDrain(so.c.merge)
	}
}

type failure struct {
	*member
	err error
}

// deliver hands batch seq to its subscribers (those of subs that joined before it was
// made), after the listeners saw its events.
func (so *SharedObject) deliver(it *item, seq uint64, subs []*member, ls []*listenerEntry) (failed []failure) {
	so.show(it, ls)
	if it.only != nil {
		subs = []*member{it.only}
	}
	for _, m := range subs {
		if m.next > seq || m.dead.Load() || !it.d.For(m.id) {
			continue
		}
		if err := m.sub.Deliver(it.d); err != nil {
			m.dead.Store(true)
			failed = append(failed, failure{m, err})
		}
	}
	return failed
}

// show calls the listeners with the batch's events (those of a write, not a join).
func (so *SharedObject) show(it *item, ls []*listenerEntry) {
	if it.only != nil || len(ls) == 0 {
		return
	}
	for i := range it.d.events {
		switch it.d.events[i].Type {
		case EventChange, EventRemove, EventClear, EventSend:
			for _, l := range ls {
				so.callListener(l.l, it.d.events[i])
			}
		}
	}
}

func (so *SharedObject) callListener(l Listener, ev OriginEvent) {
	defer func() {
		if r := recover(); r != nil {
			so.c.log.Error("shared object: listener panic", "scope", so.c.path, "so", so.name, "panic", r)
		}
	}()
	l.SharedObjectEvent(so, ev)
}

// idleLocked reports whether nothing keeps the object. so.mu held.
func (so *SharedObject) idleLocked() bool {
	return !so.closed && len(so.subs) == 0 && so.acquired == 0 && so.depth == 0 && len(so.queue) == 0
}

// armIdleLocked starts the linger timer of an idle object. so.mu held.
func (so *SharedObject) armIdleLocked() {
	if !so.idleLocked() || so.timer != nil {
		return
	}
	so.timerGen++
	gen := so.timerGen
	so.timer = time.AfterFunc(so.c.linger, func() { so.c.expire(so, gen) })
}

func (so *SharedObject) stopTimerLocked() {
	if so.timer != nil {
		so.timer.Stop()
		so.timer = nil
		so.timerGen++
	}
}

// Apply processes a decoded client message from sub: use (Subscribe), release
// (Unsubscribe), request change, request remove, request clear and send, in order, as
// one batch. Writes need sub to be subscribed (ErrNotSubscribed otherwise). Access
// refusals are delivered to sub as status events (SharedObject.NoReadAccess or
// NoWriteAccess) and returned as errors wrapping ErrNoReadAccess or ErrNoWriteAccess;
// server-to-client event types give ErrMalformed. Processing goes on after an error;
// the errors are joined. Values are not checked for encodability: decoded values are
// always encodable.
func (so *SharedObject) Apply(sub Subscriber, m *Message) error {
	origin := Origin(sub.ID())
	var errs []error
	so.BeginUpdate()
	for i := range m.Events {
		if err := so.apply(sub, origin, &m.Events[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := so.endUpdate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (so *SharedObject) subscribed(sub Subscriber) bool {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.byID[sub.ID()] != nil
}

func (so *SharedObject) apply(sub Subscriber, origin Origin, ev *Event) error {
	switch ev.Type {
	case EventUse:
		return so.Subscribe(sub)
	case EventRelease:
		so.Unsubscribe(sub)
		return nil
	case EventRequestChange, EventRequestRemove, EventRequestClear, EventSend:
	default:
		return fmt.Errorf("%w: %s event from a client on %s", ErrMalformed, ev.Type, so.name)
	}
	if !so.subscribed(sub) {
		return fmt.Errorf("%w: %s by %s on %s in %s", ErrNotSubscribed, ev.Type, origin, so.name, so.c.path)
	}
	a := so.c.access()
	var err error
	switch ev.Type {
	case EventRequestChange:
		if ev.Value == nil {
			if a != nil {
				err = a.CanDelete(origin, so, ev.Key)
			}
		} else if a != nil {
			err = a.CanWrite(origin, so, ev.Key, ev.Value)
		}
		if err == nil {
			if ev.Value == nil {
				return so.RemoveAttribute(origin, ev.Key)
			}
			return so.set(origin, ev.Key, ev.Value)
		}
	case EventRequestRemove:
		if a != nil {
			err = a.CanDelete(origin, so, ev.Key)
		}
		if err == nil {
			return so.RemoveAttribute(origin, ev.Key)
		}
	case EventRequestClear:
		if a != nil {
			err = a.CanDelete(origin, so, "")
		}
		if err == nil {
			return so.Clear(origin)
		}
	case EventSend:
		var handler string
		var args []any
		if len(ev.Args) > 0 {
			handler, _ = ev.Args[0].(string)
			args = ev.Args[1:]
		}
		if a != nil {
			err = a.CanSend(origin, so, handler, args)
		}
		if err == nil {
			return so.send(origin, handler, args)
		}
	}
	so.status(origin, StatusNoWriteAccess)
	return fmt.Errorf("%w: %s by %s on %s in %s: %w", ErrNoWriteAccess, ev.Type, origin, so.name, so.c.path, err)
}
