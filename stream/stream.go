package stream

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// maxHeaders bounds the cached sequence headers per media type (more than one
// only for Enhanced RTMP multitrack).
const maxHeaders = 8

// Stream is a live broadcast. The zero value is not usable; call New.
type Stream struct {
	name string
	cfg  Config
	now  func() time.Time // clock, read only on queue overflow; tests replace it

	// writeMu serializes everything that offers packets to subscribers (Write,
	// Publish, Unpublish, Close), so that every subscriber sees one order.
	// Subscribe and Unsubscribe never take it.
	writeMu sync.Mutex

	// subs is the copy-on-write subscriber list: replaced under mu, loaded by
	// Write under mu (so that Subscribe is atomic with respect to Write) and by
	// NumSubscribers without it.
	subs atomic.Pointer[[]*Subscriber]

	drops           atomic.Uint64
	slowDisconnects atomic.Uint64

	mu        sync.Mutex // guards the fields below; held only briefly
	closed    bool
	publisher any
	meta      *Packet
	videoHdrs headerSet
	audioHdrs headerSet
	gop       []*Packet // since the last video keyframe, oldest first; valid only if gopOK
	gopOK     bool
	gopBytes  int
	sawVideo  bool // a video packet was written since Publish
	stats     Stats
}

// Stats is a snapshot of a stream's counters and state.
type Stats struct {
	Publishing      bool
	Subscribers     int
	PacketsIn       uint64 // packets accepted by Write (not counting ignored writes)
	BytesIn         uint64 // payload bytes accepted by Write
	IgnoredWrites   uint64 // Write calls while nobody published
	Dropped         uint64 // media packets skipped, summed over subscribers
	SlowDisconnects uint64 // subscribers closed with ErrSlowConsumer
	LastVideoTS     uint32 // timestamp of the last video packet written, ms
	LastAudioTS     uint32 // timestamp of the last audio packet written, ms
	// VideoCodec and AudioCodec are the codecs of the current publisher as seen
	// in its sequence headers (or, for codecs without headers, its first media
	// packet): a legacy FLV codec id or sound format (7 = AVC, 12 = HEVC,
	// 10 = AAC, 2 = MP3), or an Enhanced RTMP FourCC such as 'hvc1' or 'Opus'
	// packed big-endian; 0 when none seen. Format them with CodecString.
	VideoCodec uint32
	AudioCodec uint32
	GOPPackets int // packets in the GOP cache (0 while it is invalid)
	GOPBytes   int // payload bytes in the GOP cache
}

// headerSet holds the cached sequence headers of one media type: normally one;
// for Enhanced RTMP multitrack, one per distinct header payload, oldest first,
// at most maxHeaders.
type headerSet struct {
	h [maxHeaders]*Packet
	n int
}

func (hs *headerSet) reset() {
	clear(hs.h[:hs.n])
	hs.n = 0
}

func (hs *headerSet) add(p *Packet, multitrack bool) {
	if !multitrack {
		hs.reset()
		hs.h[0], hs.n = p, 1
		return
	}
	for i := 0; i < hs.n; i++ {
		if bytes.Equal(hs.h[i].Payload, p.Payload) {
			hs.h[i] = p
			return
		}
	}
	if hs.n == maxHeaders {
		copy(hs.h[:], hs.h[1:])
		hs.n--
	}
	hs.h[hs.n] = p
	hs.n++
}

// New returns a stream named name, with zero fields of cfg taken from
// DefaultConfig. A negative MaxLag disables slow-subscriber disconnection.
func New(name string, cfg Config) *Stream {
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultConfig.QueueLen
	}
	if cfg.GOPMaxPackets <= 0 {
		cfg.GOPMaxPackets = DefaultConfig.GOPMaxPackets
	}
	if cfg.GOPMaxBytes <= 0 {
		cfg.GOPMaxBytes = DefaultConfig.GOPMaxBytes
	}
	if cfg.MaxLag == 0 {
		cfg.MaxLag = DefaultConfig.MaxLag
	}
	s := &Stream{name: name, cfg: cfg, now: time.Now}
	s.subs.Store(new([]*Subscriber))
	return s
}

// Name returns the stream's name.
func (s *Stream) Name() string { return s.name }

// Config returns the stream's configuration with defaults applied.
func (s *Stream) Config() Config { return s.cfg }

// resetCachesLocked clears metadata, headers and the GOP; the caller holds mu.
func (s *Stream) resetCachesLocked() {
	s.meta = nil
	s.videoHdrs.reset()
	s.audioHdrs.reset()
	s.dropGOPLocked()
	s.sawVideo = false
	s.stats.VideoCodec, s.stats.AudioCodec = 0, 0
}

func (s *Stream) dropGOPLocked() {
	clear(s.gop)
	s.gop = s.gop[:0]
	s.gopOK = false
	s.gopBytes = 0
}

// offerAll offers p to subs and accounts for drops and slow disconnects; the
// caller holds writeMu.
func (s *Stream) offerAll(subs []*Subscriber, p *Packet, audioOnly bool) {
	var drops, slow uint64
	for _, sub := range subs {
		d, sl := sub.offer(p, audioOnly)
		drops += uint64(d)
		if sl {
			slow++
		}
	}
	if drops > 0 {
		s.drops.Add(drops)
	}
	if slow > 0 {
		s.slowDisconnects.Add(slow)
		s.pruneGone()
	}
}

// Publish makes owner the publisher. owner must be non-nil and comparable
// (typically the connection's pointer). It returns an error wrapping
// ErrPublishing if another owner publishes (nil if owner already does, without
// effect) and ErrClosed after Close. The caches are reset and every subscriber
// gets a KindPublishStart item.
func (s *Stream) Publish(owner any) error {
	if owner == nil {
		panic("stream: Publish with a nil owner")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return fmt.Errorf("%w: publish %q", ErrClosed, s.name)
	case s.publisher == owner:
		s.mu.Unlock()
		return nil
	case s.publisher != nil:
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrPublishing, s.name)
	}
	s.publisher = owner
	s.resetCachesLocked()
	subs := *s.subs.Load()
	s.mu.Unlock()
	s.offerAll(subs, publishStartPacket, false)
	return nil
}

// Unpublish ends owner's publishing; it returns an error wrapping
// ErrNotPublisher if owner is not the publisher. Every subscriber gets a
// KindPublishStop item after everything already written, and the caches
// (metadata, headers, GOP) are cleared.
func (s *Stream) Unpublish(owner any) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if s.publisher == nil || s.publisher != owner {
		s.mu.Unlock()
		return fmt.Errorf("%w: unpublish %q", ErrNotPublisher, s.name)
	}
	s.publisher = nil
	s.resetCachesLocked()
	subs := *s.subs.Load()
	s.mu.Unlock()
	s.offerAll(subs, publishStopPacket, false)
	return nil
}

// Publisher returns the current publisher's owner, or nil when none.
func (s *Stream) Publisher() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publisher
}

// Write updates the caches with p and offers it to every subscriber without
// blocking. It is meant to be called by the publisher's goroutine only; calls
// are serialized with Publish, Unpublish and Close. A Write while nobody
// publishes (before Publish, after Unpublish or Close) is ignored and counted
// in Stats.IgnoredWrites, so a late packet from a departing publisher never
// follows its KindPublishStop. p and its payload must not change afterwards.
//
// Caches: a KindData packet whose payload begins with the AMF0 string
// "onMetaData" replaces the metadata; a sequence header replaces the cached
// header of its type (a video header also empties the GOP cache until the next
// keyframe); a video keyframe starts a new GOP; any other packet is appended
// to the GOP while it is valid. A GOP over GOPMaxPackets or GOPMaxBytes is
// dropped until the next keyframe.
//
// Write allocates nothing in steady state, whatever the number of subscribers.
func (s *Stream) Write(p *Packet) {
	s.writeMu.Lock()
	s.mu.Lock()
	if s.publisher == nil {
		s.stats.IgnoredWrites++
		s.mu.Unlock()
		s.writeMu.Unlock()
		return
	}
	s.cacheLocked(p)
	audioOnly := !s.sawVideo
	subs := *s.subs.Load()
	s.mu.Unlock()

	s.offerAll(subs, p, audioOnly)
	s.writeMu.Unlock()
}

// cacheLocked updates counters and caches for p; the caller holds mu.
func (s *Stream) cacheLocked(p *Packet) {
	st := &s.stats
	st.PacketsIn++
	st.BytesIn += uint64(len(p.Payload))
	switch p.Kind {
	case KindVideo:
		s.sawVideo = true
		st.LastVideoTS = p.Timestamp
		if p.Header || st.VideoCodec == 0 {
			v := parseVideo(p.Payload)
			if v.codec != 0 {
				st.VideoCodec = v.codec
			}
			if p.Header {
				s.videoHdrs.add(p, v.multitrack)
				s.dropGOPLocked() // frames before a new header need the old one
				return
			}
		}
		if p.Keyframe {
			s.dropGOPLocked()
			s.gopOK = true
		}
	case KindAudio:
		st.LastAudioTS = p.Timestamp
		if p.Header || st.AudioCodec == 0 {
			a := parseAudio(p.Payload)
			if a.codec != 0 {
				st.AudioCodec = a.codec
			}
			if p.Header {
				s.audioHdrs.add(p, a.multitrack)
				return
			}
		}
	case KindData:
		if isMetadata(p) {
			s.meta = p
			return
		}
	default:
		return // events are not written by publishers; not cached
	}
	if !s.gopOK {
		return
	}
	if len(s.gop) >= s.cfg.GOPMaxPackets || s.gopBytes+len(p.Payload) > s.cfg.GOPMaxBytes {
		s.dropGOPLocked()
		return
	}
	s.gop = append(s.gop, p)
	s.gopBytes += len(p.Payload)
}

// pruneGone removes closed subscribers from the list; the caller holds writeMu.
func (s *Stream) pruneGone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.subs.Load()
	list := make([]*Subscriber, 0, len(old))
	for _, sub := range old {
		if !sub.gone.Load() {
			list = append(list, sub)
		}
	}
	s.subs.Store(&list)
}

// Subscribe adds a subscriber whose queue holds Config.QueueLen items. notify
// must have capacity >= 1; it is owned by the caller and may be shared by
// several subscriptions. It receives a non-blocking send whenever the queue
// goes from empty to non-empty, items remain after a Pop, or the subscriber is
// closed.
//
// If a publisher is active the queue starts with the instant-start snapshot:
// metadata, video header(s), audio header(s), then the cached GOP oldest first,
// so that the first video frame is a keyframe. The GOP is left out if it would
// fill more than three quarters of the queue, or if there is none yet; the
// subscriber then skips media until the next video keyframe (audio-only
// streams: the next audio packet). Without a publisher the queue starts empty
// and a later Publish delivers KindPublishStart. After Close the subscriber is
// returned already closed with ErrClosed.
//
// The subscriber sees the snapshot and then every later Write exactly once.
func (s *Stream) Subscribe(notify chan<- struct{}) *Subscriber {
	if notify == nil || cap(notify) < 1 {
		panic("stream: Subscribe needs a notify channel with capacity >= 1")
	}
	sub := &Subscriber{s: s, notify: notify, ring: make([]*Packet, s.cfg.QueueLen)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sub.closeLocked(ErrClosed)
		sub.signal()
		return sub
	}
	if s.publisher != nil {
		s.snapshotLocked(sub)
	}
	old := *s.subs.Load()
	list := make([]*Subscriber, len(old), len(old)+1)
	copy(list, old)
	list = append(list, sub)
	s.subs.Store(&list)
	s.mu.Unlock()
	// sub is published to Write through mu; its queue is its own again.
	sub.mu.Lock()
	n := sub.n
	sub.mu.Unlock()
	if n > 0 {
		sub.signal()
	}
	return sub
}

// snapshotLocked fills a new subscriber's queue; the caller holds s.mu and sub
// is not yet visible to Write.
func (s *Stream) snapshotLocked(sub *Subscriber) {
	put := func(p *Packet) {
		if p != nil && sub.n < len(sub.ring) {
			sub.push(p)
		}
	}
	put(s.meta)
	for _, h := range s.videoHdrs.h[:s.videoHdrs.n] {
		put(h)
	}
	for _, h := range s.audioHdrs.h[:s.audioHdrs.n] {
		put(h)
	}
	if s.gopOK && len(s.gop) > 0 && sub.n+len(s.gop) <= len(sub.ring)-len(sub.ring)/4 {
		for _, p := range s.gop {
			sub.push(p)
		}
		return
	}
	// No usable GOP: wait for the next keyframe (audio-only: the next audio).
	sub.skipping = true
}

// Unsubscribe removes sub from the stream and closes it (Err returns
// ErrClosed, its queue is released). It is idempotent and does not signal
// notify.
func (s *Stream) Unsubscribe(sub *Subscriber) {
	if sub == nil || sub.s != s {
		return
	}
	s.mu.Lock()
	old := *s.subs.Load()
	for i, x := range old {
		if x == sub {
			list := make([]*Subscriber, 0, len(old)-1)
			list = append(list, old[:i]...)
			list = append(list, old[i+1:]...)
			s.subs.Store(&list)
			break
		}
	}
	s.mu.Unlock()
	sub.mu.Lock()
	if sub.err == nil {
		sub.closeLocked(ErrClosed)
	}
	sub.mu.Unlock()
}

// NumSubscribers returns the number of live subscribers.
func (s *Stream) NumSubscribers() int { return len(*s.subs.Load()) }

// Metadata returns the cached onMetaData packet, or nil.
func (s *Stream) Metadata() *Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.meta
}

// Stats returns a snapshot of the stream's counters.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	st.Publishing = s.publisher != nil
	if s.gopOK {
		st.GOPPackets, st.GOPBytes = len(s.gop), s.gopBytes
	}
	s.mu.Unlock()
	st.Subscribers = s.NumSubscribers()
	st.Dropped = s.drops.Load()
	st.SlowDisconnects = s.slowDisconnects.Load()
	return st
}

// Close ends the stream: the publisher is dropped, the caches are cleared and
// every subscriber ends with ErrClosed (its notify is signalled). Later
// Subscribe calls return closed subscribers, Publish returns ErrClosed and
// Write is ignored. Close is idempotent.
func (s *Stream) Close() {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.publisher = nil
	s.resetCachesLocked()
	subs := *s.subs.Load()
	s.subs.Store(new([]*Subscriber))
	s.mu.Unlock()
	for _, sub := range subs {
		sub.mu.Lock()
		closed := sub.err == nil
		if closed {
			sub.closeLocked(ErrClosed)
		}
		sub.mu.Unlock()
		if closed {
			sub.signal()
		}
	}
}
