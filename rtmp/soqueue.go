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
// change, or a shared object's sweep, for 1000 subscribers in a row), so it
// must be cheap: one non-blocking write when the writer is idle and nothing
// waits (writeSODirect), otherwise a lock, an append, and a wake-up only when
// the queue was empty. An object hands a connection its batches from one
// goroutine at a time, so they stay in order; batches of different objects
// have no order between them.
type soQueue struct {
	mu      sync.Mutex
	items   []soItem
	batches int           // batches in items (a run counts each of its batches)
	spare   []soItem      // the writer's last take, reused
	notify  chan struct{} // capacity 1: something was queued
}

// soItem is one batch or one run of batches (see sharedobject.Run).
type soItem struct {
	d *sharedobject.Delivery
	r *sharedobject.Run
}

func (it soItem) name() string {
	if it.r != nil {
		return it.r.Deliveries()[0].Name()
	}
	return it.d.Name()
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
// the write must go through the writer: a previous write left bytes, or the
// socket takes nothing now. Bytes a partial write left become c.partial,
// written first by the writer, which is woken.
func (c *Conn) writeSODirect(it soItem) (written bool, err error) {
	defer c.wtok.Store(false)
	if c.partial != nil {
		return false, nil
	}
	b := c.soBytes(it)
	if len(b) == 0 { // nothing for this subscriber
		return true, nil
	}
	n, werr := c.raw.Write(b)
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

// soBytes returns a batch or run as this connection sees it (type 16 after
// objectEncoding 3, type 19 otherwise, on chunk stream 3, message stream 0),
// chunked: one segment, shared by every subscriber that sees the same events
// at the same chunk size. An encoding error is logged and gives nil: the
// client gets the next batches.
func (c *Conn) soBytes(it soItem) []byte {
	w := &c.w
	if w.soFrame == nil || w.soFrameSize != w.chunkSize {
		w.soFrame, w.soFrameSize = c.soFramer(w.chunkSize), w.chunkSize
	}
	var b []byte
	var err error
	if it.r != nil {
		b, err = it.r.Framed(c, uint64(w.chunkSize), w.soFrame)
	} else {
		b, err = it.d.Framed(c, uint64(w.chunkSize), w.soFrame)
	}
	if err != nil {
		c.log.Error("encoding shared object batch", "name", it.name(), "err", err)
		return nil
	}
	return b
}

// rawSocket makes non-blocking writes to a plain TCP or Unix socket, for the
// holder of the connection's write token (Conn.wtok). The write function is
// bound once: a closure per write would escape through RawConn.Write and cost
// an allocation on every write of a fan-out.
type rawSocket struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // s.write
	b   []byte
	n   int
	err error
}

func newRawSocket(rc syscall.RawConn) *rawSocket {
	s := &rawSocket{rc: rc}
	s.fn = s.write
	return s
}

func (s *rawSocket) write(fd uintptr) bool {
	s.n, s.err = syscall.Write(int(fd), s.b)
	return true // never wait for the socket: the writer does that
}

// Write makes one non-blocking write of b: it returns the bytes written (0
// when the socket buffer is full or the write deadline passed) and any other
// error. The caller holds the write token.
func (s *rawSocket) Write(b []byte) (int, error) {
	s.b, s.n, s.err = b, 0, nil
	err := s.rc.Write(s.fn)
	s.b = nil
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, nil
		}
		return 0, err
	}
	switch {
	case s.err == syscall.EAGAIN || s.err == syscall.EINTR:
		return 0, nil
	case s.err != nil:
		return 0, s.err
	}
	return s.n, nil
}

// takeSO moves every queued batch into this round's segments, in order.
func (c *Conn) takeSO() {
	q := &c.so
	q.mu.Lock()
	batch := q.items
	q.items = q.spare[:0]
	q.batches = 0
	q.mu.Unlock()
	for i, it := range batch {
		if b := c.soBytes(it); len(b) > 0 {
			c.w.bufs = append(c.w.bufs, b)
		}
		batch[i] = soItem{}
	}
	q.spare = batch[:0]
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
