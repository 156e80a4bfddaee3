package scope

import (
	"github.com/scopecast/scopecast/sharedobject"
)

// SharedObjects returns the scope's shared objects, creating the container on first
// use. Objects are keyed by the scope path in the store (Options.SharedObjects), so
// objects of the same name in different scopes are separate. While the container holds
// an object (subscribed, acquired or lingering) it holds the scope; when it becomes
// empty the hold is released. The container is closed when the scope is removed (or the
// tree shut down); on a removed scope SharedObjects returns a closed container, whose
// Get fails with sharedobject.ErrClosed.
func (s *Scope) SharedObjects() *sharedobject.Container {
	s.objects.mu.Lock()
	defer s.objects.mu.Unlock()
	if s.objects.c != nil {
		return s.objects.c
	}
	opts := sharedobject.Options{
		Linger:       s.g.opts.SharedObjectLinger,
		MergeWindow:  s.g.opts.SharedObjectMergeWindow,
		Logger:       s.g.log,
		EmptyChanged: s.sharedObjectsEmpty,
	}
	c := sharedobject.NewContainer(s.path, s.g.opts.SharedObjects, opts)
	s.objects.c = c
	if s.objects.closed {
		c.Close()
	}
	return c
}

// sharedObjectsEmpty takes or releases the container's hold on the scope. The container
// serializes the calls.
func (s *Scope) sharedObjectsEmpty(empty bool) {
	s.releaseSharedObjectsHold()
	if empty {
		return
	}
	r, ok := s.TryHold()
	if !ok {
		return // removed: the container is being closed
	}
	s.objects.mu.Lock()
	s.objects.release = r
	s.objects.mu.Unlock()
}

// closeSharedObjects closes the container (saving what is pending) and drops its hold.
func (s *Scope) closeSharedObjects() {
	s.objects.mu.Lock()
	s.objects.closed = true
	c := s.objects.c
	s.objects.mu.Unlock()
	if c == nil {
		return
	}
	if err := c.Close(); err != nil {
		s.g.log.Error("scope: closing shared objects", "scope", s.path, "err", err)
	}
	s.releaseSharedObjectsHold()
}

// releaseSharedObjectsHold releases the container's hold on the scope, if it has one.
func (s *Scope) releaseSharedObjectsHold() {
	s.objects.mu.Lock()
	release := s.objects.release
	s.objects.release = nil
	s.objects.mu.Unlock()
	if release != nil {
		release()
	}
}
