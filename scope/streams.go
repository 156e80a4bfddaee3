package scope

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/scopecast/scopecast/stream"
)

// streamEntry is a live stream of a scope with the bookkeeping that decides its life.
type streamEntry struct {
	st      *stream.Stream
	pub     Conn // the publisher, or nil
	subs    map[*stream.Subscriber]struct{}
	pins    int    // PublishPrepared calls between the hook and stream.Publish
	release func() // the stream's hold on the scope
}

func (e *streamEntry) empty() bool { return e.pub == nil && len(e.subs) == 0 && e.pins == 0 }

// entryLocked returns the entry for name, creating the stream (and holding the scope) if
// missing. s.smu held.
func (s *Scope) entryLocked(name string) (*streamEntry, error) {
	if s.streamsClosed {
		return nil, fmt.Errorf("%w: stream %q in %s", ErrShutdown, name, s.path)
	}
	if e := s.streams[name]; e != nil {
		return e, nil
	}
	release, ok := s.TryHold()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrRemoved, s.path)
	}
	e := &streamEntry{
		st:      stream.New(name, s.streamCfg()),
		subs:    make(map[*stream.Subscriber]struct{}),
		release: release,
	}
	s.streams[name] = e
	return e, nil
}

// dropIfEmptyLocked removes and closes the stream of an entry without publisher and
// subscribers, releasing its hold on the scope. s.smu held.
func (s *Scope) dropIfEmptyLocked(e *streamEntry) {
	if !e.empty() || s.streams[e.st.Name()] != e {
		return
	}
	delete(s.streams, e.st.Name())
	e.st.Close()
	e.release()
}

var validModes = map[string]bool{"live": true, "record": true, "append": true}

// Publish makes c the publisher of the stream name in s. name may carry a "?query"
// (tokens): the Publish hook sees name as given, the stream is named by the part before
// "?" (see [CheckName]). mode is "live", "record" or "append" ("" means "live"). Order:
// name check (ErrBadName), a quick in-use check (ErrBadName), the Publish hook (its error
// returned as is), then stream.Publish(c). If another connection won the race for the
// name meanwhile, the Unpublish hook undoes the Publish hook and the error wraps
// ErrBadName. The stream is created if missing.
func (s *Scope) Publish(c Conn, name, mode string) (*stream.Stream, error) {
	return s.PublishPrepared(c, name, mode, nil)
}

// PublishPrepared is Publish with a step between the Publish hook and stream.Publish:
// prepare (if not nil) is called with the stream, created if missing, once the hook has
// accepted, without any lock of this package held; the stream stays in the scope
// meanwhile. This is where a recorder subscribes so that it sees the publisher's first
// packets. An error from prepare abandons the publish (the Unpublish hook undoes the
// Publish hook) and is returned as is. If stream.Publish then fails (another connection
// won the race for the name, or the scope is going away), the error is returned as by
// Publish and the caller must undo what prepare did.
func (s *Scope) PublishPrepared(c Conn, name, mode string, prepare func(*stream.Stream) error) (*stream.Stream, error) {
	base, err := CheckName(name)
	if err != nil {
		return nil, err
	}
	if mode == "" {
		mode = "live"
	}
	if !validModes[mode] {
		return nil, fmt.Errorf("%w: unknown publish mode %q", ErrBadName, mode)
	}
	s.smu.Lock()
	if e := s.streams[base]; e != nil && e.pub != nil {
		s.smu.Unlock()
		return nil, fmt.Errorf("%w: %q is already published in %s", ErrBadName, base, s.path)
	}
	s.smu.Unlock()

	h := s.handler
	if err := s.g.hook(s, c, "Publish", func() error { return h.Publish(c, s, name, mode) }); err != nil {
		return nil, err
	}

	s.smu.Lock()
	e, err := s.entryLocked(base)
	if err == nil && prepare != nil {
		e.pins++
		s.smu.Unlock()
		perr := prepare(e.st)
		s.smu.Lock()
		e.pins--
		if perr != nil {
			s.dropIfEmptyLocked(e)
			err = perr
		}
	}
	if err == nil {
		if perr := e.st.Publish(c); perr != nil {
			s.dropIfEmptyLocked(e)
			if errors.Is(perr, stream.ErrPublishing) {
				err = fmt.Errorf("%w: %q is already published in %s", ErrBadName, base, s.path)
			} else {
				err = fmt.Errorf("scope: publish %q in %s: %w", base, s.path, perr)
			}
		} else {
			e.pub = c
		}
	}
	s.smu.Unlock()
	if err != nil {
		s.g.hook(s, c, "Unpublish", func() error { h.Unpublish(c, s, base); return nil })
		return nil, err
	}
	return e.st, nil
}

// Unpublish ends c's publishing of st (stream.Unpublish(c)) and calls the Unpublish hook.
// The stream is removed when it has no subscribers left. It is a no-op if c is not st's
// publisher in s (so calling it twice is harmless).
func (s *Scope) Unpublish(c Conn, st *stream.Stream) {
	if c == nil || st == nil {
		return
	}
	s.smu.Lock()
	e := s.streams[st.Name()]
	if e == nil || e.st != st || e.pub == nil || e.pub.ID() != c.ID() {
		s.smu.Unlock()
		return
	}
	if err := st.Unpublish(c); err != nil {
		s.g.log.Warn("scope: unpublish", "scope", s.path, "stream", st.Name(), "conn", c.ID(), "err", err)
	}
	e.pub = nil
	s.dropIfEmptyLocked(e)
	s.smu.Unlock()
	s.g.hook(s, c, "Unpublish", func() error { s.handler.Unpublish(c, s, st.Name()); return nil })
}

// Subscribe calls the Play hook (which sees name as given, query included; its error is
// returned as is) and subscribes c to the stream named by name's part before "?",
// creating the stream, waiting for a publisher, if missing. notify is passed to
// stream.Subscribe and must have a capacity of at least 1 (a programmer error otherwise:
// Subscribe panics).
func (s *Scope) Subscribe(c Conn, name string, notify chan<- struct{}) (*stream.Stream, *stream.Subscriber, error) {
	if notify == nil || cap(notify) < 1 {
		panic("scope: Subscribe needs a notify channel with capacity >= 1")
	}
	base, err := CheckName(name)
	if err != nil {
		return nil, nil, err
	}
	h := s.handler
	if err := s.g.hook(s, c, "Play", func() error { return h.Play(c, s, name) }); err != nil {
		return nil, nil, err
	}
	s.smu.Lock()
	e, err := s.entryLocked(base)
	if err != nil {
		s.smu.Unlock()
		s.g.hook(s, c, "StopPlay", func() error { h.StopPlay(c, s, base); return nil })
		return nil, nil, err
	}
	sub := e.st.Subscribe(notify)
	e.subs[sub] = struct{}{}
	s.smu.Unlock()
	return e.st, sub, nil
}

// AuthorizePlay calls the Play hook for a play that does not subscribe to a live stream
// of the scope, such as the playback of a recording: the hook sees name as given, query
// included, and its error is returned as is. A successful AuthorizePlay is ended with
// PlayStopped.
func (s *Scope) AuthorizePlay(c Conn, name string) error {
	if _, err := CheckName(name); err != nil {
		return err
	}
	h := s.handler
	return s.g.hook(s, c, "Play", func() error { return h.Play(c, s, name) })
}

// PlayStopped calls the StopPlay hook for a play authorized with AuthorizePlay; name is
// without query.
func (s *Scope) PlayStopped(c Conn, name string) {
	s.g.hook(s, c, "StopPlay", func() error { s.handler.StopPlay(c, s, name); return nil })
}

// Unsubscribe removes sub from st and calls the StopPlay hook; the stream is removed when
// it has neither publisher nor subscribers. It is a no-op if sub is not a current
// subscriber of st in s.
func (s *Scope) Unsubscribe(c Conn, st *stream.Stream, sub *stream.Subscriber) {
	if st == nil || sub == nil {
		return
	}
	s.smu.Lock()
	e := s.streams[st.Name()]
	if e == nil || e.st != st {
		s.smu.Unlock()
		return
	}
	if _, ok := e.subs[sub]; !ok {
		s.smu.Unlock()
		return
	}
	delete(e.subs, sub)
	st.Unsubscribe(sub)
	s.dropIfEmptyLocked(e)
	s.smu.Unlock()
	s.g.hook(s, c, "StopPlay", func() error { s.handler.StopPlay(c, s, st.Name()); return nil })
}

// Stream returns the existing stream of that name (without query), or nil.
func (s *Scope) Stream(name string) *stream.Stream {
	s.smu.Lock()
	defer s.smu.Unlock()
	if e := s.streams[name]; e != nil {
		return e.st
	}
	return nil
}

// Streams returns the scope's streams sorted by name.
func (s *Scope) Streams() []*stream.Stream {
	s.smu.Lock()
	out := make([]*stream.Stream, 0, len(s.streams))
	for _, e := range s.streams {
		out = append(out, e.st)
	}
	s.smu.Unlock()
	slices.SortFunc(out, func(a, b *stream.Stream) int { return cmp.Compare(a.Name(), b.Name()) })
	return out
}

// closeStreams closes every stream and refuses new ones (the scope is going away).
func (s *Scope) closeStreams() {
	s.smu.Lock()
	s.streamsClosed = true
	entries := s.streams
	s.streams = make(map[string]*streamEntry)
	s.smu.Unlock()
	for _, e := range entries {
		e.st.Close()
		e.release()
	}
}
