package sharedobject

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLinger is how long an idle transient object lingers when Options.Linger is 0.
const DefaultLinger = 5 * time.Second

// Options configure a Container. The zero value is usable.
type Options struct {
	// Linger is how long a transient object lives after its last subscriber left, unless
	// acquired: 0 means DefaultLinger (5 s, as Red5); a negative value removes idle
	// objects at once (asynchronously). Idle persistent objects are unloaded from memory
	// after the same delay (their state is in the store).
	Linger time.Duration
	// MergeWindow, if positive, merges the fan-out of busy objects: batches go out in
	// sweeps over the subscribers, at most one per window, each subscriber getting what
	// came since its last turn as one Run (one call, and for a transport one write,
	// instead of one per batch); see the package documentation. The first batch after
	// a quiet spell goes out at once. Zero or negative: every batch at once.
	MergeWindow time.Duration
	// Logger receives drops, store failures and recovered panics with "scope" and "so"
	// attributes; nil means slog.Default().
	Logger *slog.Logger
	// EmptyChanged, if set, is called with true when the container becomes Empty and
	// with false when it stops being empty (the first call is always false). Calls are
	// serialized and in order; it must not call back into the container.
	EmptyChanged func(empty bool)
}

type accessBox struct{ a Access }

// Container holds the shared objects of one scope by name. Transient and persistent
// objects share its namespace (as in Red5): a name is either.
type Container struct {
	path   string
	store  Store
	linger time.Duration
	merge  time.Duration // Options.MergeWindow, ≥ 0
	log    *slog.Logger
	opts   Options

	acc     atomic.Pointer[accessBox]
	dropped atomic.Uint64
	saving  sync.WaitGroup // saves in flight

	mu     sync.Mutex
	objs   map[string]*SharedObject
	closed bool

	notifyMu  sync.Mutex
	lastEmpty bool
}

// NewContainer returns an empty container for the scope at path (the store key prefix).
// A nil store means a new MemoryStore.
func NewContainer(path string, store Store, opts Options) *Container {
	if store == nil {
		store = NewMemoryStore()
	}
	c := &Container{path: path, store: store, linger: opts.Linger, merge: max(opts.MergeWindow, 0), log: opts.Logger, opts: opts,
		objs: make(map[string]*SharedObject), lastEmpty: true}
	switch {
	case c.linger == 0:
		c.linger = DefaultLinger
	case c.linger < 0:
		c.linger = 0
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// Path returns the scope path the container was made for.
func (c *Container) Path() string { return c.path }

// SetAccess installs the access hooks (nil allows everything).
func (c *Container) SetAccess(a Access) {
	if a == nil {
		c.acc.Store(nil)
		return
	}
	c.acc.Store(&accessBox{a})
}

func (c *Container) access() Access {
	if b := c.acc.Load(); b != nil {
		return b.a
	}
	return nil
}

// Dropped returns how many subscribers were dropped because their Deliver failed.
func (c *Container) Dropped() uint64 { return c.dropped.Load() }

// Get returns the object called name. If it is not alive: a persistent one is loaded
// from the store when it is there (whatever create says); otherwise, with create, a new
// empty object is made, else the error wraps ErrNotFound. An alive object of the other
// persistence gives ErrBadPersistence. An object nobody subscribes to nor acquired is
// idle and lingers out: Acquire it to keep it.
func (c *Container) Get(name string, persistent bool, create bool) (*SharedObject, error) {
	return c.get(name, persistent, create, false)
}

// get is Get; with pin the object is returned acquired (the caller Releases it), so
// that it cannot linger out before the caller used it.
func (c *Container) get(name string, persistent, create, pin bool) (*SharedObject, error) {
	if name == "" || len(name) > MaxNameLen {
		return nil, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	c.mu.Lock()
	if so := c.objs[name]; so != nil {
		if so.persistent != persistent {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: %s in %s is %s", ErrBadPersistence, name, c.path, persistenceName(so.persistent))
		}
		if pin {
			so.Acquire() // c.mu then so.mu: the lock order
		}
		c.mu.Unlock()
		return so, nil
	}
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: container %s", ErrClosed, c.path)
	}
	var attrs map[string]any
	var version uint32
	found := false
	if persistent {
		var err error
		attrs, version, found, err = c.store.Load(c.path, name)
		if err != nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: loading %s in %s: %w", ErrStore, name, c.path, err)
		}
	}
	if !found && !create {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s in %s", ErrNotFound, name, c.path)
	}
	so := newObject(c, name, persistent, attrs, version)
	c.objs[name] = so
	so.mu.Lock()
	if pin {
		so.acquired++
	} else {
		so.armIdleLocked()
	}
	so.mu.Unlock()
	c.mu.Unlock()
	c.notify()
	return so, nil
}

func persistenceName(p bool) string {
	if p {
		return "persistent"
	}
	return "transient"
}

// Lookup returns the alive object called name, or nil.
func (c *Container) Lookup(name string) *SharedObject {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.objs[name]
}

// Names returns the names of the alive objects, sorted.
func (c *Container) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.objs))
}

// Empty reports whether no object is alive.
func (c *Container) Empty() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.objs) == 0
}

// Apply handles one decoded client message from sub. A message with a use event gets
// (or creates, with the persistence the message asks for) the object and applies the
// events in order (see SharedObject.Apply); a use that cannot be served is answered with
// status SharedObject.BadPersistence or SharedObject.ObjectCreationFailed and an error.
// Without a use, the object must be alive (ErrNotFound otherwise), except that a release
// of a missing object does nothing.
func (c *Container) Apply(sub Subscriber, m *Message) error {
	use, other := false, false
	for i := range m.Events {
		switch m.Events[i].Type {
		case EventUse:
			use = true
		case EventRelease:
		default:
			other = true
		}
	}
	var so *SharedObject
	if use {
		var err error
		so, err = c.get(m.Name, m.Persistent, true, true)
		if err == nil {
			defer so.Release()
		}
		if err != nil {
			code := StatusObjectCreationFailed
			if errors.Is(err, ErrBadPersistence) {
				code = StatusBadPersistence
			}
			c.refuse(sub, m.Name, m.Persistent, code)
			return err
		}
	} else {
		so = c.Lookup(m.Name)
		if so == nil {
			if !other {
				return nil
			}
			return fmt.Errorf("%w: %s in %s", ErrNotFound, m.Name, c.path)
		}
	}
	return so.Apply(sub, m)
}

// refuse delivers a status to a client that is not (or no longer) subscribed.
func (c *Container) refuse(sub Subscriber, name string, persistent bool, code string) {
	d := newDelivery(name, 0, persistent, []OriginEvent{{
		Event:  Event{Type: EventStatus, Code: code, Level: statusLevelError},
		Origin: Origin(sub.ID()),
	}})
	if err := sub.Deliver(d); err != nil {
		c.log.Debug("shared object: status not delivered", "scope", c.path, "so", name, "conn", sub.ID(), "code", code, "err", err)
	}
}

// Unsubscribe removes sub from every object (it left: disconnect).
func (c *Container) Unsubscribe(sub Subscriber) {
	c.mu.Lock()
	objs := slices.Collect(maps.Values(c.objs))
	c.mu.Unlock()
	for _, so := range objs {
		so.Unsubscribe(sub)
	}
}

// expire is the idle timer of so firing: it removes so if it is still idle.
func (c *Container) expire(so *SharedObject, gen uint64) {
	c.mu.Lock()
	so.mu.Lock()
	if so.timerGen != gen || !so.idleLocked() || c.objs[so.name] != so {
		so.mu.Unlock()
		c.mu.Unlock()
		return
	}
	so.timer = nil
	so.closed = true
	delete(c.objs, so.name)
	so.mu.Unlock()
	c.mu.Unlock()
	c.notify()
}

// notify reports Empty changes to Options.EmptyChanged, serialized and in order.
func (c *Container) notify() {
	if c.opts.EmptyChanged == nil {
		return
	}
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	empty := c.Empty()
	if empty != c.lastEmpty {
		c.lastEmpty = empty
		c.opts.EmptyChanged(empty)
	}
}

// Close closes every object (later writes fail with ErrClosed, subscribers receive
// nothing more), stops the timers, saves the open batches of persistent objects and
// waits for the saves in flight. It does not close the store. Further Gets fail.
func (c *Container) Close() error {
	c.mu.Lock()
	c.closed = true
	objs := slices.Collect(maps.Values(c.objs))
	clear(c.objs)
	c.mu.Unlock()
	var errs []error
	for _, so := range objs {
		so.mu.Lock()
		so.stopTimerLocked()
		if so.hold != nil {
			so.hold.Stop() // its batches would go to no one
		}
		var snap map[string]any
		if so.persistent && so.dirty {
			snap = maps.Clone(so.attrs)
			so.dirty = false
		}
		so.closed = true
		so.batch = nil
		for _, m := range so.subs {
			m.dead.Store(true)
		}
		so.subs = nil
		clear(so.byID)
		version := so.version
		so.mu.Unlock()
		if snap != nil {
			if err := c.store.Save(c.path, so.name, snap, version); err != nil {
				errs = append(errs, fmt.Errorf("%w: saving %s in %s: %w", ErrStore, so.name, c.path, err))
			}
		}
	}
	c.saving.Wait()
	c.notify()
	return errors.Join(errs...)
}
