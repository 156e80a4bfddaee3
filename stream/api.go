// Package stream is a live broadcast: one publisher, any number of subscribers,
// cached metadata, sequence headers and the GOP since the last keyframe, and a
// bounded queue per subscriber so that no subscriber ever blocks the publisher.
//
// The package knows nothing of RTMP. A Packet's payload is the FLV tag body
// (audio, video or script data) and is immutable once written; consumers that
// need a wire encoding memoize it on the packet with Packet.Wire, so that the
// bytes for a thousand players are produced once.
//
// # Use
//
// The publisher's connection calls Publish, then Write for every message, then
// Unpublish. Each player calls Subscribe with a notify channel and, in its own
// goroutine, waits on notify and drains its queue with Pop; when Err becomes
// non-nil it disconnects and calls Unsubscribe. The package starts no
// goroutines.
//
// # Instant start
//
// A subscriber that joins while a publisher is active first receives the
// cached onMetaData, the video and audio sequence headers and the GOP since the
// last video keyframe, oldest first; if the GOP is not available (none yet,
// over its bound, or over three quarters of the queue) it skips media until
// the next keyframe instead. Either way the first video frame it sees after
// the headers is a keyframe.
//
// # Slow subscribers
//
// Each subscriber has a fixed ring of Config.QueueLen packets. Write never
// waits for it:
//
//  1. Overflow. When an offer finds the queue full, the queued droppable items
//     (audio and video that are not sequence headers, and data other than
//     onMetaData) are discarded; events, sequence headers and onMetaData stay
//     in order. The subscriber is then skipping, and the offered packet is
//     handled as below.
//  2. Skipping. Every droppable packet is dropped until a video keyframe,
//     which is queued and ends the skip. On a stream that has carried no video
//     since Publish (audio-only), the next audio packet ends it. Events,
//     headers and onMetaData are always queued. Each dropped packet is counted
//     in Subscriber.Dropped and Stats.Dropped.
//  3. Behind. A subscriber falls behind at an overflow and has caught up once a
//     Pop leaves its queue empty while it is not skipping. If an overflow
//     happens while it is still behind and more than Config.MaxLag after it
//     fell behind, the subscriber is closed with ErrSlowConsumer and its
//     notify is signalled; it is also closed if its queue is full of items
//     that must not be dropped. The clock is read only at overflows, never per
//     packet. A subscriber that is closed is removed from the stream; its
//     connection is expected to disconnect it (Unsubscribe is then a no-op).
//
// So a consumer that stalls, or that keeps draining slower than the stream
// arrives, is skipped to keyframes and disconnected at the first overflow more
// than MaxLag after its first; one that hiccups and catches up is only skipped.
//
// # Concurrency
//
// Write, Publish, Unpublish and Close are serialized by a write lock that
// Subscribe and Unsubscribe never take; the caches and the copy-on-write
// subscriber list share a second lock that each holds only briefly, so a
// subscriber sees its snapshot and then every later Write exactly once. Each
// queue has its own small mutex, held for a few pointer moves.
package stream

import (
	"errors"
	"time"
)

// Kind is the kind of a queued item. Media kinds use the FLV/RTMP type ids.
type Kind uint8

// Item kinds.
const (
	KindAudio Kind = 8
	KindVideo Kind = 9
	KindData  Kind = 18 // script data (onMetaData and other data messages), AMF0

	// Events, queued in order with media so that a player sees them where they happened.
	KindPublishStart Kind = 100 // a publisher started (or came back)
	KindPublishStop  Kind = 101 // the publisher stopped
)

// Errors. Functions return them wrapped with detail; test with errors.Is.
var (
	ErrPublishing   = errors.New("stream: already has a publisher")
	ErrNotPublisher = errors.New("stream: not the publisher")
	ErrSlowConsumer = errors.New("stream: subscriber too slow, disconnected")
	ErrClosed       = errors.New("stream: closed")
)

// Config tunes a Stream. Zero fields take the defaults in DefaultConfig.
type Config struct {
	QueueLen      int           // per-subscriber queue capacity in packets (default 1024: a 4 s GOP at 60 fps with audio fits ¾ of it)
	GOPMaxPackets int           // GOP cache bound in packets (default 1024; over it the cache is dropped until the next keyframe)
	GOPMaxBytes   int           // GOP cache bound in payload bytes (default 16 MiB)
	MaxLag        time.Duration // a subscriber that stays behind longer than this is disconnected at its next overflow (default 10s; negative: never)
}

// DefaultConfig holds the defaults for zero Config fields.
var DefaultConfig = Config{QueueLen: 1024, GOPMaxPackets: 1024, GOPMaxBytes: 16 << 20, MaxLag: 10 * time.Second}
