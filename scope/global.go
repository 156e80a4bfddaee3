package scope

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scopecast/scopecast/sharedobject"
	"github.com/scopecast/scopecast/stream"
)

// DefaultKeepDelay is how long an unheld room lingers when Options.KeepDelay is zero.
const DefaultKeepDelay = 5 * time.Second

// Options configure a Global. The zero value is usable.
type Options struct {
	// KeepDelay is how long an unheld room lingers before it is removed: 0 means
	// DefaultKeepDelay (5s); a negative value removes unheld rooms at once (asynchronously).
	KeepDelay time.Duration
	// StreamConfig configures the streams created in scopes; zero fields take the stream
	// package's defaults.
	StreamConfig stream.Config
	// Logger receives scope lifecycle events (debug) and recovered panics (error), with a
	// "scope" attribute. nil means slog.Default().
	Logger *slog.Logger
	// SharedObjects stores the persistent shared objects of every scope, keyed by scope
	// path; nil means one in-memory store for this Global (persistent objects then last
	// as long as the process). The caller owns it and closes it after Shutdown.
	SharedObjects sharedobject.Store
	// SharedObjectLinger is how long an idle shared object lingers (see
	// sharedobject.Options.Linger): 0 means 5 s, negative means at once.
	SharedObjectLinger time.Duration
	// SharedObjectMergeWindow merges the fan-out of busy shared objects (see
	// sharedobject.Options.MergeWindow): 0 or negative means every batch at once.
	SharedObjectMergeWindow time.Duration
}

// Global is the root scope "/": the applications and their rooms. Create it with New.
type Global struct {
	opts Options
	keep time.Duration
	log  *slog.Logger

	mu       sync.Mutex
	apps     map[string]*Scope
	closed   bool
	nconns   int           // registered (c, leaf) pairs, including those mid-Disconnect
	drained  chan struct{} // closed when nconns reaches 0 during Shutdown
	done     chan struct{} // closed when the first Shutdown finished
	inflight sync.WaitGroup
}

// New returns an empty tree.
func New(opts Options) *Global {
	g := &Global{opts: opts, keep: opts.KeepDelay, log: opts.Logger, apps: make(map[string]*Scope)}
	switch {
	case g.keep == 0:
		g.keep = DefaultKeepDelay
	case g.keep < 0:
		g.keep = 0
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.opts.SharedObjects == nil {
		g.opts.SharedObjects = sharedobject.NewMemoryStore()
	}
	return g
}

// Register adds application app (a single path segment) with handler h and calls h.Start
// on its scope. It may be called before or while serving; connects to app wait for Start
// to finish. App scopes are never removed (until Shutdown). If Start fails the app is not
// registered and its error is returned.
func (g *Global) Register(app string, h Handler) error {
	if h == nil {
		panic("scope: Register with nil Handler")
	}
	if err := checkSegment(app); err != nil || strings.Contains(app, "/") {
		return fmt.Errorf("%w: application name %q", ErrBadPath, app)
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrShutdown
	}
	if _, dup := g.apps[app]; dup {
		g.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrAppExists, app)
	}
	s := newScope(g, nil, app, h)
	g.apps[app] = s
	g.mu.Unlock()
	return g.start(s)
}

// start runs the Start hook of a scope this goroutine created and publishes the result.
func (g *Global) start(s *Scope) error {
	err := g.hook(s, nil, "Start", func() error { return s.handler.Start(s) })
	stopNow := false
	g.mu.Lock()
	if err == nil {
		s.started = true
		if s.removed { // Shutdown came while Start ran.
			stopNow = true
			err = ErrShutdown
		}
	}
	if err != nil {
		s.startErr = err
		s.detachLocked()
	}
	g.mu.Unlock()
	close(s.ready)
	if stopNow {
		g.hook(s, nil, "Stop", func() error { s.handler.Stop(s); return nil })
	} else if err == nil {
		g.log.Debug("scope started", "scope", s.path)
	}
	return err
}

// Connect resolves path (e.g. "live", "chat/room1/room2"; leading and trailing slashes
// are trimmed; see [SplitPath] for what is refused with ErrBadPath; an unknown first
// segment gives ErrInvalidApp), creating missing rooms atomically: concurrent creators get
// the same *Scope and Start runs once per new scope. Then it runs the Connect hook on the
// leaf and Join for each scope from the app down to the leaf, and registers c in the leaf.
//
// On any error everything done is undone (Leave for the joined scopes, leaf to app, then
// Disconnect if Connect had succeeded) and the error returned; a hook's error is returned
// as it is (e.g. a *RejectError). Rooms created by a failed connect are removed after the
// keep delay like any unheld room (rooms whose Start failed are removed at once).
//
// Connecting the same c to the same scope twice registers it once.
func (g *Global) Connect(c Conn, path string, params []any) (*Scope, error) {
	segs, err := SplitPath(path)
	if err != nil {
		return nil, err
	}
	chain, mine, err := g.resolve(segs)
	if err != nil {
		return nil, err
	}
	leaf := chain[len(chain)-1]
	// resolve took a hold on leaf for the duration of this call.
	releaseTemp := func() {
		g.mu.Lock()
		leaf.decLocked()
		g.mu.Unlock()
	}
	for i, s := range chain {
		if mine[i] {
			err = g.start(s)
		} else {
			<-s.ready
			g.mu.Lock()
			err = s.startErr
			g.mu.Unlock()
		}
		if err != nil {
			g.abandon(chain[i:], mine[i:], err)
			releaseTemp()
			return nil, err
		}
	}

	h := leaf.handler
	if err := g.hook(leaf, c, "Connect", func() error { return h.Connect(c, leaf, params) }); err != nil {
		releaseTemp()
		return nil, err
	}
	for i, s := range chain {
		if err := g.hook(s, c, "Join", func() error { return h.Join(c, s) }); err != nil {
			g.leaveAll(c, chain[:i])
			g.hook(leaf, c, "Disconnect", func() error { h.Disconnect(c, leaf); return nil })
			releaseTemp()
			return nil, err
		}
	}

	g.mu.Lock()
	if g.closed || leaf.removed {
		g.mu.Unlock()
		g.leaveAll(c, chain)
		g.hook(leaf, c, "Disconnect", func() error { h.Disconnect(c, leaf); return nil })
		releaseTemp()
		return nil, ErrShutdown
	}
	if _, dup := leaf.conns[c.ID()]; !dup {
		leaf.conns[c.ID()] = c
		leaf.incLocked()
		g.nconns++
	}
	leaf.decLocked() // the temporary hold
	g.mu.Unlock()
	return leaf, nil
}

// resolve finds or creates the scopes named by segs, under g.mu. It returns the chain app
// to leaf and which of them this call created (it must start them), and holds the leaf.
func (g *Global) resolve(segs []string) (chain []*Scope, mine []bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, nil, ErrShutdown
	}
	app := g.apps[segs[0]]
	if app == nil {
		return nil, nil, fmt.Errorf("%w: %q", ErrInvalidApp, segs[0])
	}
	chain = make([]*Scope, len(segs))
	mine = make([]bool, len(segs))
	chain[0] = app
	cur := app
	for i, name := range segs[1:] {
		next := cur.children[name]
		if next == nil {
			next = newScope(g, cur, name, cur.handler)
			cur.children[name] = next
			cur.incLocked()
			mine[i+1] = true
		}
		chain[i+1] = next
		cur = next
	}
	cur.incLocked()
	return chain, mine, nil
}

// abandon finishes the scopes of a failed connect that this call created and has not
// started: they are removed from the tree (if a failed ancestor has not already done so)
// and their waiters see err.
func (g *Global) abandon(chain []*Scope, mine []bool, err error) {
	for i, s := range chain {
		if !mine[i] {
			continue
		}
		select {
		case <-s.ready: // start already published its result
			continue
		default:
		}
		g.mu.Lock()
		if s.startErr == nil {
			s.startErr = err
		}
		s.detachLocked()
		g.mu.Unlock()
		close(s.ready)
	}
}

// leaveAll calls Leave for the joined scopes, leaf up to app.
func (g *Global) leaveAll(c Conn, joined []*Scope) {
	for i := len(joined) - 1; i >= 0; i-- {
		s := joined[i]
		g.hook(s, c, "Leave", func() error { s.handler.Leave(c, s); return nil })
	}
}

// Disconnect unregisters c from its leaf scope s: Leave for each scope from s up to the
// app, then Disconnect. It is idempotent per (c, s) and a no-op if c is not connected to
// s (also after Shutdown dropped the connection). s keeps its hold until the hooks ran.
func (g *Global) Disconnect(c Conn, s *Scope) {
	if s == nil || c == nil {
		return
	}
	id := c.ID()
	g.mu.Lock()
	if _, ok := s.conns[id]; !ok {
		g.mu.Unlock()
		return
	}
	delete(s.conns, id)
	g.mu.Unlock()

	g.leaveAll(c, s.chain())
	g.hook(s, c, "Disconnect", func() error { s.handler.Disconnect(c, s); return nil })

	g.mu.Lock()
	s.decLocked()
	g.nconns--
	if g.nconns == 0 && g.drained != nil {
		close(g.drained)
		g.drained = nil
	}
	g.mu.Unlock()
}

// Lookup returns the existing, started scope at path, or nil. The path is normalised like
// Connect's; "" and "/" (the global scope, which is not a *Scope) and malformed paths give
// nil. Lookup creates nothing and holds nothing: the scope may be removed at any time
// unless something holds it.
func (g *Global) Lookup(path string) *Scope {
	segs, err := SplitPath(path)
	if err != nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.apps[segs[0]]
	for _, name := range segs[1:] {
		if s == nil {
			return nil
		}
		s = s.children[name]
	}
	if s == nil || !s.started {
		return nil
	}
	return s
}

// Walk calls fn for every started scope, depth-first, parents before children, apps and
// children in name order, and stops when fn returns false. It walks a snapshot taken
// before the first call, without holding locks, so fn may call into the scopes.
func (g *Global) Walk(fn func(s *Scope) bool) {
	g.mu.Lock()
	var all []*Scope
	var visit func(s *Scope)
	visit = func(s *Scope) {
		if !s.started {
			return
		}
		all = append(all, s)
		for _, c := range byName(s.children) {
			visit(c)
		}
	}
	for _, a := range byName(g.apps) {
		visit(a)
	}
	g.mu.Unlock()
	for _, s := range all {
		if !fn(s) {
			return
		}
	}
}

// byName returns the scopes of m (apps, or a scope's children) sorted by name.
func byName(m map[string]*Scope) []*Scope { return slices.SortedFunc(maps.Values(m), compareNames) }

func compareNames(a, b *Scope) int { return strings.Compare(a.name, b.name) }

// expire is the idle timer of s firing: it removes s if it is still unheld.
func (g *Global) expire(s *Scope, gen uint64) {
	g.mu.Lock()
	if g.closed || s.gen != gen || s.holds > 0 || s.removed {
		g.mu.Unlock()
		return
	}
	g.inflight.Add(1)
	defer g.inflight.Done()
	s.timer = nil
	started := s.started
	s.unlinkLocked()
	g.mu.Unlock()
	g.stopScope(s, started)
	// Only now release the parent, so that its Stop follows the child's.
	g.mu.Lock()
	s.parent.decLocked() // re-evaluates the parent
	g.mu.Unlock()
}

// stopScope closes what the scope owns and calls Stop.
func (g *Global) stopScope(s *Scope, started bool) {
	s.closeStreams()
	s.closeSharedObjects()
	if started {
		g.hook(s, nil, "Stop", func() error { s.handler.Stop(s); return nil })
		g.log.Debug("scope stopped", "scope", s.path)
	}
}

// Shutdown closes every connection (Close(ErrShutdown)) and waits until they have
// disconnected or ctx is done; then it stops the idle timers, closes every stream, calls
// Stop for every started scope (children before parents, apps last) and empties the tree.
// Connections still registered when ctx expires are dropped without Leave/Disconnect hooks,
// and their later Disconnect, Unpublish and Unsubscribe calls are no-ops. It returns
// ctx.Err() if ctx expired first. After Shutdown, Connect and Register return ErrShutdown.
// A Connect (or Register) still running its hooks when Shutdown begins fails with
// ErrShutdown; its undo hooks (Stop of a scope it started, Leave, Disconnect) may then run
// after Shutdown returned. Further calls wait for the first one to finish.
func (g *Global) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		done := g.done
		g.mu.Unlock()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	g.closed = true
	g.done = make(chan struct{})
	defer close(g.done)
	var conns []Conn
	var drained chan struct{}
	for _, a := range g.apps {
		collectConns(a, &conns)
	}
	if g.nconns > 0 {
		drained = make(chan struct{})
		g.drained = drained
	}
	g.mu.Unlock()

	for _, c := range conns {
		c.Close(ErrShutdown)
	}
	var err error
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	g.inflight.Wait() // idle timers that were already removing a room

	g.mu.Lock()
	var order []*Scope // children first
	var visit func(s *Scope)
	visit = func(s *Scope) {
		for _, c := range byName(s.children) {
			visit(c)
		}
		order = append(order, s)
	}
	for _, a := range byName(g.apps) {
		visit(a)
	}
	started := make([]bool, len(order))
	for i, s := range order {
		started[i] = s.started
		s.removed = true
		s.gen++
		if s.timer != nil {
			s.timer.Stop()
			s.timer = nil
		}
		g.nconns -= len(s.conns)
		clear(s.conns)
	}
	clear(g.apps)
	g.drained = nil
	g.mu.Unlock()

	for i, s := range order {
		g.stopScope(s, started[i])
	}
	return err
}

func collectConns(s *Scope, out *[]Conn) {
	for _, c := range s.conns {
		*out = append(*out, c)
	}
	for _, ch := range s.children {
		collectConns(ch, out)
	}
}

// hook runs an application hook about connection c (nil for the scope's
// own Start and Stop), turning a panic into an error wrapping ErrPanic.
func (g *Global) hook(s *Scope, c Conn, name string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = g.recovered(s, c, "hook", name, r)
		}
	}()
	return fn()
}

// recovered logs a recovered panic (with the connection's id when c is not
// nil) and returns it as an error wrapping ErrPanic.
func (g *Global) recovered(s *Scope, c Conn, kind, name string, r any) error {
	if c != nil {
		g.log.Error("scope: application panic", "conn", c.ID(), "scope", s.path, kind, name, "panic", r, "stack", string(debug.Stack()))
	} else {
		g.log.Error("scope: application panic", "scope", s.path, kind, name, "panic", r, "stack", string(debug.Stack()))
	}
	return fmt.Errorf("%w: %s %s on %s: %v", ErrPanic, kind, name, s.path, r)
}
