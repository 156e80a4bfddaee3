package rtmp

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/sharedobject"
)

// MaxSOQueue bounds the shared-object batches waiting for one connection's
// writer: two seconds of an object changed 1000 times a second. A client
// that lets more pile up is not reading and is closed.
const MaxSOQueue = 2048

// soQueue holds the shared-object batches waiting for a connection's writer.
// Deliver runs on whichever goroutine fans a batch out (the writer of the
// change, or a shared object's merge timer, for 1000 subscribers in a row),
// so it must be cheap: a lock, an append, and a wake-up only when the queue
// was empty.
type soQueue struct {
	mu      sync.Mutex
	items   []soItem
	batches int           // batches in items (a run counts each of its batches)
	spare   []soItem      // the writer's last take, reused
	notify  chan struct{} // capacity 1: something was queued
}

// errOwnRun: a run with events of the connection's own goes batch by batch.
var errOwnRun = errors.New("run with own events")

// soItem is one batch or one run of batches (see sharedobject.Run).
type soItem struct {
	d *sharedobject.Delivery
	r *sharedobject.Run
}

// Deliver queues a shared-object batch for the writer without blocking. A
// client with MaxSOQueue batches waiting is not reading and is
// disconnected (the object drops it too): a shared object's subscribers are
// never silently skipped.
func (c *Conn) Deliver(d *sharedobject.Delivery) error {
	return c.queueSO(soItem{d: d}, 1)
}

// DeliverRun queues a run of batches (a busy object's merge window) as one
// item: one wake-up and one write for all of them.
func (c *Conn) DeliverRun(r *sharedobject.Run) error {
	return c.queueSO(soItem{r: r}, len(r.Deliveries()))
}

func (c *Conn) queueSO(it soItem, batches int) error {
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	q := &c.so
	q.mu.Lock()
	if c.raw != nil && len(q.items) == 0 && c.wtok.CompareAndSwap(false, true) {
		q.mu.Unlock()
		written, err := c.writeSODirect(it)
		if err != nil {
			c.Close(err)
			return err
		}
		if written {
			return nil
		}
		q.mu.Lock() // the socket is busy: the writer takes it after all
	}
	if q.batches+batches > MaxSOQueue {
		q.mu.Unlock()
		c.Close(ErrQueueFull)
		return ErrQueueFull
	}
	first := len(q.items) == 0
	q.items = append(q.items, it)
	q.batches += batches
	q.mu.Unlock()
	if first {
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
	return nil
}

// writeSODirect writes a batch or run to the socket from the fan-out's own
// goroutine, with one non-blocking write, when the writer is idle (the caller
// took c.wtok; it is released here) and nothing is waiting for it: no
// wake-up of the writer goroutine at all, the cost that dominates a fan-out
// to a thousand subscribers. It reports false, having written nothing, when
// the write must go through the writer: the batch is not one shared segment
// (its own events), a previous write left bytes, or the socket takes nothing
// now. Bytes a partial write left become c.partial, written first by the
// writer, which is woken.
func (c *Conn) writeSODirect(it soItem) (written bool, err error) {
	defer c.wtok.Store(false)
	if c.partial != nil {
		return false, nil
	}
	var b []byte
	var name string
	if it.r != nil {
		b, err = c.runBytes(it.r)
		if err == errOwnRun {
			return false, nil
		}
		name = it.r.Deliveries()[0].Name()
	} else {
		w := &c.w
		c.soFramerFor(w.chunkSize)
		b, err = it.d.Framed(c, uint64(w.chunkSize), w.soFrame)
		name = it.d.Name()
	}
	if err != nil { // as addSO: logged, and the client gets the next batches
		c.log.Error("encoding shared object batch", "name", name, "err", err)
		return true, nil
	}
	if len(b) == 0 { // nothing for this subscriber
		return true, nil
	}
	n, werr := rawWrite(c.raw, b)
	c.countOut(uint64(n))
	switch {
	case werr != nil:
		return false, werr
	case n == 0:
		return false, nil
	case n < len(b):
		c.partial = b[n:]
		select {
		case c.so.notify <- struct{}{}:
		default:
		}
	}
	return true, nil
}

// runBytes returns the shared bytes of a run for this connection, or nil, nil
// when it must go batch by batch (its own events are in it).
func (c *Conn) runBytes(r *sharedobject.Run) ([]byte, error) {
	if r.Own(c.id) {
		return nil, errOwnRun
	}
	w := &c.w
	c.soFramerFor(w.chunkSize)
	key := uint64(w.chunkSize)<<1 | b2u(c.AMF3())
	return r.Shared(key, func() ([]byte, error) {
		var out []byte
		for _, d := range r.Deliveries() {
			f, err := d.Framed(c, uint64(w.chunkSize), w.soFrame)
			if err != nil {
				return nil, err
			}
			out = append(out, f...)
		}
		return out, nil
	})
}

// rawWrite makes one non-blocking write of b: it returns the bytes written
// (0 when the socket buffer is full or the write deadline passed) and any
// other error.
func rawWrite(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), b)
		return true // never wait for the socket: the writer does that
	})
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, nil
		}
		return 0, err
	}
	switch {
	case werr == syscall.EAGAIN || werr == syscall.EINTR:
		return 0, nil
	case werr != nil:
		return 0, werr
	}
	return n, nil
}

// takeSO moves every queued batch into this round's segments, in order, and
// returns how many there were.
func (c *Conn) takeSO() int {
	q := &c.so
	q.mu.Lock()
	batch := q.items
	q.items = q.spare[:0]
	q.batches = 0
	q.mu.Unlock()
	for i, it := range batch {
		if it.r != nil {
			c.addRun(it.r)
		} else {
			c.addSO(it.d)
		}
		batch[i] = soItem{}
	}
	q.spare = batch[:0]
	return len(batch)
}

// addRun queues a run of batches: for a connection that caused none of its
// events, the chunked messages of the whole run, made once per chunk size and
// layout and shared by every such subscriber (one segment to write); for the
// others, batch by batch as addSO.
func (c *Conn) addRun(r *sharedobject.Run) {
	b, err := c.runBytes(r)
	switch {
	case err == errOwnRun:
		for _, d := range r.Deliveries() {
			c.addSO(d)
		}
	case err != nil:
		c.log.Error("encoding shared object batches", "name", r.Deliveries()[0].Name(), "err", err)
	case len(b) > 0:
		c.w.bufs = append(c.w.bufs, b)
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// addSO queues one batch as this connection sees it (type 16 after
// objectEncoding 3, type 19 otherwise) on chunk stream 3, message stream 0.
// The chunked bytes of a batch are made once per chunk size and layout and
// shared by every subscriber that sees the same events.
func (c *Conn) addSO(d *sharedobject.Delivery) {
	w := &c.w
	c.soFramerFor(w.chunkSize)
	b, err := d.Framed(c, uint64(w.chunkSize), w.soFrame)
	if err != nil {
		c.log.Error("encoding shared object batch", "name", d.Name(), "err", err)
		return
	}
	if b != nil {
		w.bufs = append(w.bufs, b)
	}
}

// soFramerFor makes w.soFrame chunk at size.
func (c *Conn) soFramerFor(size uint32) {
	if w := &c.w; w.soFrame == nil || w.soFrameSize != size {
		w.soFrame, w.soFrameSize = c.soFramer(size), size
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

var _ sharedobject.RunSubscriber = (*Conn)(nil)
