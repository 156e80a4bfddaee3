// Package conntrack keeps the live connections of a server or handler for
// its graceful shutdown: the goroutines serving them are counted, new ones
// are refused once shutdown has begun, the live connections are handed over
// to be closed, and shutdown waits until every goroutine has left or its
// context ends.
//
// A Group counts the goroutines; a Set also keeps the connections those
// goroutines serve. The zero value of each is ready to use.
package conntrack

import (
	"context"
	"iter"
	"maps"
	"slices"
	"sync"
)

// Group counts the goroutines serving connections and refuses new ones
// after Close. It is a sync.WaitGroup whose Add cannot race with the Wait of
// a shutdown, and whose Wait honours a context.
type Group struct {
	mu     sync.Mutex
	n      int           // goroutines entered and not left
	closed bool          // Close was called: Enter refuses
	idle   chan struct{} // closed when n drops to 0 (made by a waiting Wait)
}

// Enter counts a goroutine that is to serve a connection. It reports false
// (and counts nothing) after Close: the caller refuses the connection.
func (g *Group) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// Leave tells the group that a goroutine counted by Enter has finished.
func (g *Group) Leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n <= 0 {
		panic("conntrack: Leave without Enter")
	}
	if g.n--; g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// Close makes Enter refuse from now on.
func (g *Group) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

// Wait blocks until every goroutine counted by Enter has left, or ctx is
// done, and then returns ctx's error. Call it after Close, so that nothing
// new enters while it waits.
func (g *Group) Wait(ctx context.Context) error {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return nil
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Set is a Group that also keeps the connections being served, so that
// shutdown can close them. A connection joins with Add once it is ready to
// be closed, from a goroutine counted by Enter (the group's count, not the
// set's members, is what Wait waits for).
type Set[T comparable] struct {
	Group
	live map[T]struct{} // under Group.mu
}

// Add puts c into the set. It reports false after Close: the caller refuses
// c (or closes it itself).
func (s *Set[T]) Add(c T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.live == nil {
		s.live = make(map[T]struct{})
	}
	s.live[c] = struct{}{}
	return true
}

// Remove takes c out of the set (if it is there). ended, if not nil, runs
// under the set's lock as c leaves, whether or not c was in the set: what it
// records about c (its byte count, say) is seen by View in the same step as
// c's leaving, so a total of ended and live connections never goes back nor
// counts c twice. ended must not call the set's methods.
func (s *Set[T]) Remove(c T, ended func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, c)
	if ended != nil {
		ended()
	}
}

// Close refuses new goroutines and connections from now on and returns the
// connections in the set, for the caller to close (outside any lock of its
// own that their serving goroutines take). Those connections stay in the
// set until removed.
func (s *Set[T]) Close() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return slices.Collect(maps.Keys(s.live))
}

// Len returns the number of connections in the set.
func (s *Set[T]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

// View runs f under the set's lock with the connections in the set, and
// with what Remove's ended functions recorded as of the same moment. f must
// not keep live, nor call the set's methods.
func (s *Set[T]) View(f func(live iter.Seq[T])) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(maps.Keys(s.live))
}
