package flv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/scopecast/scopecast/stream"
)

// Source defaults and bounds.
const (
	DefaultReadAhead = time.Second
	MaxReadAhead     = 10 * time.Second
	// backlogPoll is how often a Source looks at a consumer's backlog
	// while it waits for it to shrink.
	backlogPoll = 10 * time.Millisecond
)

// ErrSourceStopped is returned by Seek after Stop.
var ErrSourceStopped = errors.New("flv: source stopped")

// SourceOptions tune a Source.
type SourceOptions struct {
	Start     time.Duration // play from the keyframe at or before this position
	Length    time.Duration // play at most this long from where playback (re)starts; 0 or negative: to the end
	ReadAhead time.Duration // how far ahead of real time tags are written (default 1 s, at most MaxReadAhead)
	// Backlog, if set, returns how many packets the consumer has not taken
	// yet; the Source waits while it is over MaxBacklog/2, so that VOD is
	// never skipped by the stream's slow-subscriber policy.
	Backlog    func() int
	MaxBacklog int // default: the stream's subscriber queue length

	clock clock // tests: a fake clock
}

// clock is the time source of a Source. Sleep blocks until d has passed
// (d <= 0: no time limit), wake has a value or stop is closed; it reports
// false on stop.
type clock interface {
	Now() time.Time
	Sleep(d time.Duration, wake <-chan struct{}, stop <-chan struct{}) bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(d time.Duration, wake <-chan struct{}, stop <-chan struct{}) bool {
	var tc <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-stop:
		return false
	case <-wake:
	case <-tc:
	}
	return true
}

// Source plays a File into a stream at real-time pace, so that a VOD player
// is fed by the same stream and writer path as a live one.
//
// The Source publishes into the stream it is given (it is the publisher;
// the stream should be fresh and private to one player). Its goroutine writes
// the file's onMetaData, then the sequence headers in force at the start
// point, then the tags from the keyframe at or before the start, paced so that
// a tag with timestamp T is written once the playback position reaches
// T - ReadAhead. Packets carry the file's own timestamps, so a player sees
// the position in the file (after a seek too). At the end of the file or of
// Length it Unpublishes: subscribers get KindPublishStop (NetStream.Play.
// Complete for the player). It then waits: a Seek starts playing again (a new
// Publish, so KindPublishStart first), Stop ends it.
type Source struct {
	f    *File
	st   *stream.Stream
	opts SourceOptions
	clk  clock

	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex
	started  bool
	stopped  bool
	seeking  bool
	seekTo   time.Duration
	paused   bool
	ended    bool
	posBase  time.Duration // position at timeBase
	timeBase time.Time
	endPos   time.Duration
	err      error
}

// NewSource returns a Source that will play f into st once started.
func NewSource(f *File, st *stream.Stream, opts SourceOptions) *Source {
	if opts.ReadAhead <= 0 {
		opts.ReadAhead = DefaultReadAhead
	}
	opts.ReadAhead = min(opts.ReadAhead, MaxReadAhead)
	if opts.MaxBacklog <= 0 {
		opts.MaxBacklog = st.Config().QueueLen
	}
	if opts.Start < 0 {
		opts.Start = 0
	}
	clk := opts.clock
	if clk == nil {
		clk = realClock{}
	}
	return &Source{
		f: f, st: st, opts: opts, clk: clk,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// Start starts the Source's goroutine; later calls, and calls after Stop, do
// nothing.
func (s *Source) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	go s.run()
}

// Stop ends the Source and waits for its goroutine; it Unpublishes if it
// was publishing. Stop is idempotent.
func (s *Source) Stop() {
	s.mu.Lock()
	s.stopped = true
	started := s.started
	s.mu.Unlock()
	s.stopOnce.Do(func() { close(s.stop) })
	if started {
		<-s.done
	}
}

// Done is closed when the Source's goroutine has returned: after Stop, or
// at once if it could not publish (see Err).
func (s *Source) Done() <-chan struct{} { return s.done }

// Err returns why the Source could not play (the stream's Publish error,
// or a read error of the file), or nil.
func (s *Source) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Seek makes playback continue from the keyframe at or before to (a
// negative to means 0; past the end, the last keyframe): the metadata and
// sequence headers are written again, then the tags from there, and pacing
// restarts. A pause stays in force. After the end of playback, Seek plays
// again. It returns ErrSourceStopped after Stop.
func (s *Source) Seek(to time.Duration) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return ErrSourceStopped
	}
	s.seeking, s.seekTo = true, max(to, 0)
	s.mu.Unlock()
	s.poke()
	return nil
}

// Pause stops writing tags; the position stays where it is.
func (s *Source) Pause() {
	s.mu.Lock()
	if !s.paused && !s.ended {
		s.posBase = s.posLocked(s.clk.Now())
		s.paused = true
	}
	s.mu.Unlock()
	s.poke()
}

// Resume continues after Pause at real-time pace from the paused position.
func (s *Source) Resume() {
	s.mu.Lock()
	if s.paused {
		s.paused = false
		s.timeBase = s.clk.Now()
	}
	s.mu.Unlock()
	s.poke()
}

// Position returns the playback position: a file timestamp that advances in
// real time from the keyframe playback started at (the tags up to
// ReadAhead beyond it have been written), frozen while paused; after the end,
// the timestamp of the last tag written.
func (s *Source) Position() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posLocked(s.clk.Now())
}

func (s *Source) posLocked(now time.Time) time.Duration {
	switch {
	case s.ended:
		return s.endPos
	case s.paused || s.timeBase.IsZero():
		return s.posBase
	}
	return s.posBase + now.Sub(s.timeBase)
}

func (s *Source) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// wait blocks until d has passed (d <= 0: no time limit), a control call,
// or Stop; it reports false on Stop.
func (s *Source) wait(d time.Duration) bool {
	return s.clk.Sleep(d, s.wake, s.stop)
}

// player is the state of the Source's goroutine.
type player struct {
	s          *Source
	publishing bool
	rd         *Reader
	next       *Tag
	limit      int64 // ms, -1: none
	last       uint32
}

func (s *Source) run() {
	defer close(s.done)
	p := &player{s: s}
	defer func() {
		if p.publishing {
			s.st.Unpublish(s)
		}
	}()
	if !p.publish() {
		return
	}
	if err := p.position(s.opts.Start); err != nil {
		s.setErr(err)
		p.end()
	}
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		s.mu.Lock()
		if s.seeking {
			to := s.seekTo
			s.seeking = false
			s.mu.Unlock()
			if !p.publishing && !p.publish() {
				return
			}
			if err := p.position(to); err != nil {
				s.setErr(err)
				p.end()
			}
			continue
		}
		idle := s.paused || s.ended
		s.mu.Unlock()
		if idle {
			if !s.wait(0) {
				return
			}
			continue
		}
		if p.next == nil {
			t, err := p.rd.ReadTag()
			if err != nil {
				if err != io.EOF {
					s.setErr(err)
				}
				p.end()
				continue
			}
			if t.Type == TagScript && isMetaPayload(t.Data) {
				continue // sent when playback started
			}
			p.next = &t
		}
		ts := p.next.Timestamp
		if p.limit >= 0 && int64(ts) >= p.limit {
			p.end()
			continue
		}
		// Pacing: write once the position reaches ts - ReadAhead.
		if d := time.Duration(ts)*time.Millisecond - s.opts.ReadAhead - s.Position(); d > 0 {
			if !s.wait(d) {
				return
			}
			continue
		}
		if s.opts.Backlog != nil && s.opts.Backlog() > s.opts.MaxBacklog/2 {
			if !s.wait(backlogPoll) {
				return
			}
			continue
		}
		s.st.Write(stream.NewPacket(stream.Kind(p.next.Type), ts, p.next.Data))
		p.last = ts
		p.next = nil
	}
}

func (s *Source) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (p *player) publish() bool {
	if err := p.s.st.Publish(p.s); err != nil {
		p.s.setErr(err)
		return false
	}
	p.publishing = true
	return true
}

// position starts playback at the sync point at or before to.
func (p *player) position(to time.Duration) error {
	s, f := p.s, p.s.f
	ms := uint32(min(to.Milliseconds(), int64(^uint32(0))))
	sp := f.seekPoint(ms)
	hdrs, err := f.headersBefore(sp.off, sp.ts)
	if err != nil {
		return err
	}
	if f.meta != nil {
		s.st.Write(stream.NewPacket(stream.KindData, sp.ts, f.meta))
	}
	for _, h := range hdrs {
		s.st.Write(h)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f.f, sp.off, f.end-sp.off), 64<<10)
	p.rd = &Reader{r: br, maxSize: DefaultMaxTagSize}
	p.next = nil
	p.last = sp.ts
	p.limit = -1
	if s.opts.Length > 0 {
		p.limit = int64(sp.ts) + s.opts.Length.Milliseconds()
	}
	s.mu.Lock()
	s.ended = false
	s.posBase = time.Duration(sp.ts) * time.Millisecond
	s.timeBase = s.clk.Now()
	s.mu.Unlock()
	return nil
}

// end finishes playback: Unpublish, then idle until a Seek or Stop.
func (p *player) end() {
	s := p.s
	if p.publishing {
		s.st.Unpublish(s)
		p.publishing = false
	}
	s.mu.Lock()
	s.ended = true
	s.paused = false
	s.endPos = time.Duration(p.last) * time.Millisecond
	s.mu.Unlock()
}

// String describes the source for logs.
func (s *Source) String() string { return fmt.Sprintf("flv.Source(%s)", s.f.path) }
