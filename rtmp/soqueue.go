package rtmp

import (
	"net"
	"sync"
	"time"

	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/sharedobject"
)

// DefaultSOMergeWindow is Server.SOMergeWindow's default.
const DefaultSOMergeWindow = 5 * time.Millisecond

// A busy subscriber's hold grows (doubling) while each gathers at least
// soGrowAt batches, up to maxSOWindowFactor × SOMergeWindow.
const (
	soGrowAt          = 8
	maxSOWindowFactor = 4
)

// MaxSOQueue bounds the shared-object batches waiting for one connection's
// writer: two seconds of an object changed 1000 times a second. A client
// that lets more pile up is not reading and is closed.
const MaxSOQueue = 2048

// soQueue holds the shared-object batches waiting for a connection's writer.
// Deliver runs on whichever goroutine fans a batch out (the writer of the
// change, for 1000 subscribers in a row), so it must be cheap: a lock, an
// append, and a wake-up only when the queue was empty.
type soQueue struct {
	mu     sync.Mutex
	items  []*sharedobject.Delivery
	spare  []*sharedobject.Delivery // the writer's last batch, reused
	notify chan struct{}            // capacity 1: something was queued
}

// Deliver queues a shared-object batch for the writer without blocking. A
// client with MaxSOQueue batches waiting is not reading and is
// disconnected (the object drops it too): a shared object's subscribers are
// never silently skipped.
func (c *Conn) Deliver(d *sharedobject.Delivery) error {
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	q := &c.so
	q.mu.Lock()
	if len(q.items) >= MaxSOQueue {
		q.mu.Unlock()
		c.Close(ErrQueueFull)
		return ErrQueueFull
	}
	first := len(q.items) == 0
	q.items = append(q.items, d)
	q.mu.Unlock()
	if first {
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
	return nil
}

// takeSO moves every queued batch into this round's segments, in order, and
// returns how many there were.
func (c *Conn) takeSO() int {
	q := &c.so
	q.mu.Lock()
	batch := q.items
	q.items = q.spare[:0]
	q.mu.Unlock()
	for i, d := range batch {
		c.addSO(d)
		batch[i] = nil
	}
	q.spare = batch[:0]
	return len(batch)
}

// addSO queues one batch as this connection sees it (type 16 after
// objectEncoding 3, type 19 otherwise) on chunk stream 3, message stream 0.
// The chunked bytes of a batch are made once per chunk size and layout and
// shared by every subscriber that sees the same events.
func (c *Conn) addSO(d *sharedobject.Delivery) {
	w := &c.w
	if w.soFrame == nil || w.soFrameSize != w.chunkSize {
		w.soFrame, w.soFrameSize = c.soFramer(w.chunkSize), w.chunkSize
	}
	b, err := d.Framed(c, uint64(w.chunkSize), w.soFrame)
	if err != nil {
		c.log.Error("encoding shared object batch", "name", d.Name(), "err", err)
		return
	}
	if b != nil {
		w.bufs = append(w.bufs, b)
	}
}

// soFramer returns the function that chunks a shared-object payload for this
// connection at chunk size size.
func (c *Conn) soFramer(size uint32) func([]byte) []byte {
	typ := chunk.TypeSharedObjectAMF0
	if c.AMF3() {
		typ = chunk.TypeSharedObjectAMF3
	}
	return func(p []byte) []byte {
		m := chunk.Message{ChunkStreamID: csidCommand, TypeID: typ, Payload: p}
		return chunk.AppendMessage(make([]byte, 0, chunk.EncodedLen(size, &m)), size, &m)
	}
}

var _ sharedobject.Subscriber = (*Conn)(nil)
