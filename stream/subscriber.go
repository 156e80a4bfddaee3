package stream

import (
	"sync"
	"sync/atomic"
	"time"
)

// Subscriber is one consumer of a Stream: a bounded queue that the stream fills
// without blocking and the consumer drains with Pop, woken through its notify
// channel. See the package documentation for the slow-subscriber policy.
type Subscriber struct {
	s      *Stream
	notify chan<- struct{}

	dropped atomic.Uint64
	gone    atomic.Bool // closed or unsubscribed; mirrors err != nil

	mu       sync.Mutex
	ring     []*Packet // fixed, len == QueueLen; nil once closed
	head, n  int
	skipping bool      // dropping media until the next video keyframe (or audio, audio-only)
	behind   bool      // has overflowed and not caught up since
	since    time.Time // when it fell behind
	err      error
}

func (sub *Subscriber) signal() {
	select {
	case sub.notify <- struct{}{}:
	default:
	}
}

// droppable reports whether q may be discarded or skipped for a slow
// subscriber: audio and video that are not sequence headers, and data other
// than onMetaData. Events, headers and metadata are never dropped.
func droppable(q *Packet) bool {
	switch q.Kind {
	case KindAudio, KindVideo:
		return !q.Header
	case KindData:
		return !isMetadata(q)
	}
	return false
}

// resumes reports whether a skipping subscriber may take media packet p again.
func resumes(p *Packet, audioOnly bool) bool {
	return p.Kind == KindVideo && p.Keyframe || audioOnly && p.Kind == KindAudio
}

// push appends p; the caller holds mu and has checked there is room.
func (sub *Subscriber) push(p *Packet) (wasEmpty bool) {
	i := sub.head + sub.n
	if i >= len(sub.ring) {
		i -= len(sub.ring)
	}
	sub.ring[i] = p
	sub.n++
	return sub.n == 1
}

// discardMedia drops the droppable packets from the queue, keeping the others in
// order, and returns how many were dropped. The caller holds mu.
func (sub *Subscriber) discardMedia() int {
	l := len(sub.ring)
	w := 0
	for r := 0; r < sub.n; r++ {
		ri := sub.head + r
		if ri >= l {
			ri -= l
		}
		q := sub.ring[ri]
		sub.ring[ri] = nil
		if droppable(q) {
			continue
		}
		wi := sub.head + w
		if wi >= l {
			wi -= l
		}
		sub.ring[wi] = q
		w++
	}
	d := sub.n - w
	sub.n = w
	return d
}

// closeLocked ends the subscriber with err; the caller holds mu.
func (sub *Subscriber) closeLocked(err error) {
	sub.err = err
	sub.gone.Store(true)
	clear(sub.ring)
	sub.ring = nil
	sub.head, sub.n = 0, 0
}

// offer queues p without blocking, applying the slow-subscriber policy. It is
// called with the stream's write lock held, so offers are serialized. It
// returns the number of media packets dropped and whether the subscriber was
// closed as slow.
func (sub *Subscriber) offer(p *Packet, audioOnly bool) (drops int, slow bool) {
	sub.mu.Lock()
	if sub.err != nil {
		sub.mu.Unlock()
		return 0, false
	}
	drop := droppable(p)
	if sub.skipping && drop {
		if !resumes(p, audioOnly) {
			sub.mu.Unlock()
			sub.dropped.Add(1)
			return 1, false
		}
		sub.skipping = false
	}
	if sub.n == len(sub.ring) {
		// Overflow: the one place where time is measured.
		s := sub.s
		now := s.now()
		if sub.behind && s.cfg.MaxLag >= 0 && now.Sub(sub.since) > s.cfg.MaxLag {
			sub.closeLocked(ErrSlowConsumer)
			sub.mu.Unlock()
			sub.signal()
			return 0, true
		}
		if !sub.behind {
			sub.behind, sub.since = true, now
		}
		drops = sub.discardMedia()
		sub.skipping = true
		if drop && !resumes(p, audioOnly) {
			drops++
		} else if sub.n == len(sub.ring) {
			// Full of events, headers and metadata: nothing left to skip.
			sub.closeLocked(ErrSlowConsumer)
			sub.mu.Unlock()
			sub.dropped.Add(uint64(drops))
			sub.signal()
			return drops, true
		} else {
			if drop {
				sub.skipping = false // p is where it resumes
			}
			sub.push(p)
		}
		wake := sub.n > 0
		sub.mu.Unlock()
		sub.dropped.Add(uint64(drops))
		if wake {
			// The consumer is behind; a spurious wake-up is harmless, and the
			// queue may have been emptied and refilled by the discard.
			sub.signal()
		}
		return drops, false
	}
	wasEmpty := sub.push(p)
	sub.mu.Unlock()
	if wasEmpty {
		sub.signal()
	}
	return 0, false
}

// Pop moves queued items into dst, appending at most cap(dst)-len(dst), without
// blocking, and returns dst. Items are media and data packets and the event
// packets of kinds KindPublishStart and KindPublishStop (shared singletons).
// If items remain queued after Pop, notify is signalled again, so a consumer
// may simply wait on notify after every Pop. Once Err is non-nil Pop returns dst
// unchanged.
func (sub *Subscriber) Pop(dst []*Packet) []*Packet {
	room := cap(dst) - len(dst)
	sub.mu.Lock()
	if sub.err != nil || room == 0 || sub.n == 0 {
		sub.mu.Unlock()
		return dst
	}
	k := min(room, sub.n)
	l := len(sub.ring)
	first := min(k, l-sub.head)
	seg := sub.ring[sub.head : sub.head+first]
	dst = append(dst, seg...)
	clear(seg)
	if rest := k - first; rest > 0 {
		seg = sub.ring[:rest]
		dst = append(dst, seg...)
		clear(seg)
	}
	sub.head += k
	if sub.head >= l {
		sub.head -= l
	}
	sub.n -= k
	if sub.n == 0 && !sub.skipping {
		sub.behind = false // caught up
	}
	more := sub.n > 0
	sub.mu.Unlock()
	if more {
		sub.signal()
	}
	return dst
}

// Len returns the number of items queued.
func (sub *Subscriber) Len() int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.n
}

// Skipping reports whether the subscriber is skipping media until the next
// video keyframe (or, on an audio-only stream, the next audio packet).
func (sub *Subscriber) Skipping() bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.skipping
}

// Err returns nil while the subscriber is live, ErrSlowConsumer once it has
// been disconnected for falling behind, and ErrClosed once the stream was
// closed or the subscriber unsubscribed.
func (sub *Subscriber) Err() error {
	if !sub.gone.Load() { // the common case, on every writer round: no lock
		return nil
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

// Dropped returns the number of media packets skipped for this subscriber.
func (sub *Subscriber) Dropped() uint64 { return sub.dropped.Load() }
