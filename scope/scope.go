package scope

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/scopecast/scopecast/sharedobject"
	"github.com/scopecast/scopecast/stream"
)

// Scope is an application scope or a room below one. Scopes are created by
// [Global.Register] and [Global.Connect] only.
type Scope struct {
	g       *Global
	name    string
	path    string
	parent  *Scope // nil for an app scope
	app     *Scope // the scope itself for an app scope
	depth   int
	handler Handler

	// ready is closed once Start has returned; startErr (under g.mu) then tells whether it
	// succeeded.
	ready chan struct{}

	// Guarded by g.mu.
	children map[string]*Scope
	conns    map[string]Conn // by Conn.ID; connections whose leaf scope this is
	holds    int             // conns + streams + Hold holders + children + connects in progress
	gen      uint64          // bumped to invalidate an armed idle timer
	timer    *time.Timer     // the idle timer, when armed
	started  bool            // Start returned nil
	startErr error           // Start failed (or a scope above failed)
	removed  bool            // detached from the tree; never comes back

	// Guarded by smu (taken before g.mu, never after).
	smu           sync.Mutex
	streams       map[string]*streamEntry
	streamsClosed bool

	// objects holds the scope's shared objects (see sharedobjects.go). While the
	// container is not empty it holds the scope (release is that hold).
	objects struct {
		mu      sync.Mutex
		c       *sharedobject.Container
		closed  bool
		release func()
	}
}

// Path returns the scope's path, e.g. "/chat/room1".
func (s *Scope) Path() string { return s.path }

// Name returns the last segment of the path, e.g. "room1"; for an app scope, the app name.
func (s *Scope) Name() string { return s.name }

// String returns the path.
func (s *Scope) String() string { return s.path }

// Parent returns the parent scope, nil for an app scope.
func (s *Scope) Parent() *Scope { return s.parent }

// App returns the application scope s belongs to (s itself for an app scope).
func (s *Scope) App() *Scope { return s.app }

// Depth returns 1 for an app scope, 2 for its rooms and so on.
func (s *Scope) Depth() int { return s.depth }

// Handler returns the application's handler.
func (s *Scope) Handler() Handler { return s.handler }

// Global returns the tree s belongs to.
func (s *Scope) Global() *Global { return s.g }

// Children returns the current child rooms, sorted by name.
func (s *Scope) Children() []*Scope {
	s.g.mu.Lock()
	out := slices.Collect(maps.Values(s.children))
	s.g.mu.Unlock()
	slices.SortFunc(out, compareNames)
	return out
}

// Child returns the child room of that name, or nil.
func (s *Scope) Child(name string) *Scope {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	return s.children[name]
}

// Conns returns the connections whose leaf scope is s, sorted by ID.
func (s *Scope) Conns() []Conn {
	s.g.mu.Lock()
	out := slices.Collect(maps.Values(s.conns))
	s.g.mu.Unlock()
	slices.SortFunc(out, func(a, b Conn) int { return cmp.Compare(a.ID(), b.ID()) })
	return out
}

// Removed reports whether s has been removed from the tree (or the tree shut down).
func (s *Scope) Removed() bool {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	return s.removed
}

// Hold keeps s (and so its ancestors) alive until release is called; release is
// idempotent. Holding a scope whose idle timer is running cancels its removal. Hold on a
// scope that has already been removed holds nothing and returns a no-op release; use
// [Scope.TryHold] to find out.
func (s *Scope) Hold() (release func()) {
	release, _ = s.TryHold()
	return release
}

// TryHold is Hold that reports whether the scope could be held; when ok is false, s has
// been removed (or the tree shut down) and release is a no-op.
func (s *Scope) TryHold() (release func(), ok bool) {
	g := s.g
	g.mu.Lock()
	if s.removed {
		g.mu.Unlock()
		return func() {}, false
	}
	s.incLocked()
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			s.decLocked()
			g.mu.Unlock()
		})
	}, true
}

// incLocked adds a holder and disarms the idle timer. g.mu held.
func (s *Scope) incLocked() {
	s.holds++
	if s.holds == 1 && s.timer != nil {
		s.gen++
		s.timer.Stop()
		s.timer = nil
	}
}

// decLocked removes a holder and arms the idle timer of an unheld room. g.mu held.
func (s *Scope) decLocked() {
	s.holds--
	if s.holds < 0 {
		panic("scope: hold count below zero on " + s.path)
	}
	if s.holds == 0 && s.depth > 1 && !s.removed && !s.g.closed {
		s.gen++
		gen := s.gen
		s.timer = time.AfterFunc(s.g.keep, func() { s.g.expire(s, gen) })
	}
}

// detachLocked removes s and its subtree from the tree and releases the parent. g.mu held.
func (s *Scope) detachLocked() {
	if s.unlinkLocked() && s.parent != nil {
		s.parent.decLocked()
	}
}

// unlinkLocked removes s and its subtree from the tree, leaving the parent's hold count
// alone (the caller releases it). It reports whether s was still in the tree. g.mu held.
func (s *Scope) unlinkLocked() bool {
	if s.removed {
		return false
	}
	if p := s.parent; p != nil {
		if p.children[s.name] == s {
			delete(p.children, s.name)
		}
		s.markRemovedLocked()
		return true
	}
	if s.g.apps[s.name] == s {
		delete(s.g.apps, s.name)
	}
	s.markRemovedLocked()
	return true
}

// markRemovedLocked marks s and its descendants removed and disarms their timers.
func (s *Scope) markRemovedLocked() {
	s.removed = true
	s.gen++
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	for _, c := range s.children {
		c.markRemovedLocked()
	}
}

// chain returns the scopes from the app scope down to s.
func (s *Scope) chain() []*Scope {
	out := make([]*Scope, s.depth)
	for x := s; x != nil; x = x.parent {
		out[x.depth-1] = x
	}
	return out
}

func newScope(g *Global, parent *Scope, name string, h Handler) *Scope {
	s := &Scope{
		g:        g,
		name:     name,
		parent:   parent,
		handler:  h,
		ready:    make(chan struct{}),
		children: make(map[string]*Scope),
		conns:    make(map[string]Conn),
		streams:  make(map[string]*streamEntry),
	}
	if parent == nil {
		s.app = s
		s.depth = 1
		s.path = "/" + name
	} else {
		s.app = parent.app
		s.depth = parent.depth + 1
		s.path = parent.path + "/" + name
	}
	return s
}

// streamCfg is the stream configuration for new streams.
func (s *Scope) streamCfg() stream.Config { return s.g.opts.StreamConfig }
