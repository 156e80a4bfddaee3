package rtmp

import (
	"errors"
	"github.com/scopecast/scopecast/rtmp/internal/connwait"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrRTMPTExpired ends a session whose client made no request for the idle
// lifetime. It is a net.Error whose Timeout() is true, so the connection
// code logs it as an idle close.
var ErrRTMPTExpired net.Error = expiredError{}

type expiredError struct{}

func (expiredError) Error() string   { return "rtmpt: session expired: no request from the client" }
func (expiredError) Timeout() bool   { return true }
func (expiredError) Temporary() bool { return false }

// errRTMPTEnded is what writes get once the session is over.
var errRTMPTEnded = errors.New("rtmpt: session ended")

// rtmptSession is one RTMPT session, and the net.Conn the RTMP connection
// code runs on. Client → server bytes arrive in /send bodies and wait in in
// until Read takes them; server → client bytes wait in out until a /send or
// /idle response takes them.
//
// Lifecycle: the session is open until one of: the client's /close, the
// idle lifetime passing without a request, the handler closing, or the RTMP
// side closing (Close). After Close the session lingers while it still holds
// undelivered output of at most one response (a connect _error must reach
// the client): the poll that takes the last byte ends it. Larger leftovers
// are dropped at once, as a reset drops a TCP socket's.
type rtmptSession struct {
	h      *RTMPTHandler
	id     string
	host   string // the client address the session counts against
	remote net.Addr
	local  net.Addr

	lastSeen atomic.Int64           // unix nanos of the last request
	connID   atomic.Pointer[string] // the id of the RTMP connection it carries, once created

	reqMu sync.Mutex // one request of this session at a time, in arrival order

	mu          sync.Mutex
	in          []byte // client → server, unread from inOff
	inOff       int
	out         []byte // server → client, unpolled from outOff
	outOff      int
	seq         seqWindow // guarded by reqMu
	emptyPolls  int
	localClosed bool               // Close was called (the RTMP side is done)
	ended       bool               // the session is over; buffers are released
	endErr      error              // what Read returns once ended and drained
	dl          connwait.Deadlines // read and write deadlines; their wakeups: input arrived or output polled, deadline changed, ended
	inSpace     connwait.Wakeup    // input consumed, ended
	pollable    connwait.Wakeup    // output arrived, ended
}

// conn returns the id of the RTMP connection the session carries ("" before
// it is created).
func (s *rtmptSession) conn() string {
	if id := s.connID.Load(); id != nil {
		return *id
	}
	return ""
}

func (s *rtmptSession) pendingLocked() int { return len(s.out) - s.outOff }

// Read takes bytes the client sent. It blocks until some arrive, the read
// deadline passes (os.ErrDeadlineExceeded), the connection is closed
// (net.ErrClosed) or the session ends (io.EOF after /close,
// ErrRTMPTExpired after the idle lifetime).
func (s *rtmptSession) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.localClosed {
			return 0, net.ErrClosed
		}
		if s.inOff < len(s.in) {
			n := copy(p, s.in[s.inOff:])
			s.inOff += n
			if s.inOff == len(s.in) {
				s.in, s.inOff = s.in[:0], 0
				if cap(s.in) > 1<<20 {
					s.in = nil
				}
			}
			s.inSpace.Wake()
			return n, nil
		}
		if s.ended {
			return 0, s.endErr
		}
		if len(p) == 0 {
			return 0, nil
		}
		if !s.dl.Read.IsZero() && !time.Now().Before(s.dl.Read) {
			return 0, os.ErrDeadlineExceeded
		}
		ch, dl := s.dl.Readable.Wait(), s.dl.Read
		s.mu.Unlock()
		connwait.Await(ch, dl)
		s.mu.Lock()
	}
}

// Write queues bytes for the client's next polls. It never holds more than
// the handler's pending-output bound: past it, Write blocks until a poll
// takes some, the write deadline passes (os.ErrDeadlineExceeded, which the
// connection code counts as a slow consumer) or the session ends.
func (s *rtmptSession) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.writeLocked(p, s.h.maxPending())
	s.pollable.Wake()
	return n, err
}

// WriteBuffers takes a whole writer round (see rtmp's buffersWriter) and
// wakes a waiting poll once, after all of it is pending — so that one
// response carries the round instead of its first segment.
func (s *rtmptSession) WriteBuffers(v [][]byte) (int64, error) {
	limit := s.h.maxPending()
	s.mu.Lock()
	defer s.mu.Unlock()
	var total int64
	for _, p := range v {
		n, err := s.writeLocked(p, limit)
		total += int64(n)
		if err != nil {
			s.pollable.Wake()
			return total, err
		}
	}
	s.pollable.Wake()
	return total, nil
}

// writeLocked queues p as output, waiting for polls to make room past limit
// (a waiting poll is woken first, so that it can). s.mu is held.
func (s *rtmptSession) writeLocked(p []byte, limit int) (int, error) {
	n := 0
	for len(p) > 0 {
		if s.localClosed {
			return n, net.ErrClosed
		}
		if s.ended {
			return n, errRTMPTEnded
		}
		if space := limit - s.pendingLocked(); space > 0 {
			k := min(space, len(p))
			if s.outOff > 0 && len(s.out)+k > cap(s.out) && s.outOff >= len(s.out)/2 {
				// Reuse the polled front rather than grow.
				m := copy(s.out, s.out[s.outOff:])
				s.out, s.outOff = s.out[:m], 0
			}
			s.out = append(s.out, p[:k]...)
			p = p[k:]
			n += k
			s.h.stats.Pending.Add(int64(k))
			continue
		}
		if !s.dl.Write.IsZero() && !time.Now().Before(s.dl.Write) {
			return n, os.ErrDeadlineExceeded
		}
		s.pollable.Wake() // full: let a poll take some
		ch, dl := s.dl.Writable.Wait(), s.dl.Write
		s.mu.Unlock()
		connwait.Await(ch, dl)
		s.mu.Lock()
	}
	return n, nil
}

// Close ends the RTMP side. Output of at most one response stays for the
// client's next poll; the session then ends. It never blocks.
func (s *rtmptSession) Close() error {
	s.mu.Lock()
	if s.localClosed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.localClosed = true
	s.in, s.inOff = nil, 0
	linger := !s.ended && s.pendingLocked() > 0 && s.pendingLocked() <= s.h.maxResponse()
	s.dl.Readable.Wake()
	s.dl.Writable.Wake()
	s.inSpace.Wake()
	s.pollable.Wake()
	s.mu.Unlock()
	if !linger {
		s.end(net.ErrClosed)
	}
	return nil
}

// end finishes the session: it leaves the handler's table, its buffers are
// released and every blocked call returns. Idempotent. Read returns err once
// the input is drained (the RTMP side may still be reading what arrived).
func (s *rtmptSession) end(err error) bool {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return false
	}
	s.ended, s.endErr = true, err
	s.h.stats.Pending.Add(-int64(s.pendingLocked()))
	s.out, s.outOff = nil, 0
	s.dl.Readable.Wake()
	s.dl.Writable.Wake()
	s.inSpace.Wake()
	s.pollable.Wake()
	s.mu.Unlock()
	s.h.remove(s)
	return true
}

// addInput appends a /send body for Read, waiting while the unread input
// is over bound. It reports false if the session ended or stop fired first.
func (s *rtmptSession) addInput(b []byte, limit int, stop <-chan struct{}) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.ended || s.localClosed {
			return false
		}
		if len(s.in)-s.inOff == 0 || len(s.in)-s.inOff+len(b) <= limit {
			break
		}
		ch := s.inSpace.Wait()
		s.mu.Unlock()
		select {
		case <-ch:
		case <-stop:
		}
		s.mu.Lock()
		select {
		case <-stop:
			return false
		default:
		}
	}
	s.in = append(s.in, b...) // Read rewinds in once it has taken all of it
	s.dl.Readable.Wake()
	return true
}

// waitOutput waits up to d for output while none is pending. The RTMP
// writer hands over a whole round at once (WriteBuffers), so the first wake
// finds it complete.
func (s *rtmptSession) waitOutput(d time.Duration, stop <-chan struct{}) {
	s.mu.Lock()
	if s.pendingLocked() > 0 || s.ended || s.localClosed {
		s.mu.Unlock()
		return
	}
	ch := s.pollable.Wait()
	s.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-stop:
	}
}

// poll appends to dst the delay byte and up to max pending bytes. input
// tells whether the request brought input (data flows). done reports that
// the session is over after this response (the RTMP side closed and its
// last output is taken).
func (s *rtmptSession) poll(dst []byte, max int, input bool) (resp []byte, done bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := min(s.pendingLocked(), max)
	if k > 0 || input || s.pendingLocked() > 0 {
		s.emptyPolls = 0
	} else if s.emptyPolls < 1<<20 {
		s.emptyPolls++
	}
	dst = append(dst, pollDelay(s.emptyPolls))
	if k > 0 {
		dst = append(dst, s.out[s.outOff:s.outOff+k]...)
		s.outOff += k
		s.h.stats.Pending.Add(-int64(k))
		if s.outOff == len(s.out) {
			s.out, s.outOff = s.out[:0], 0
			if cap(s.out) > 1<<20 {
				s.out = nil // a burst passed: give its memory back
			}
		}
		s.dl.Writable.Wake()
	}
	return dst, s.localClosed && s.pendingLocked() == 0
}

func (s *rtmptSession) LocalAddr() net.Addr  { return s.local }
func (s *rtmptSession) RemoteAddr() net.Addr { return s.remote }

// SetDeadline sets both deadlines.
func (s *rtmptSession) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.dl.Set(t)
	s.mu.Unlock()
	return nil
}

// SetReadDeadline bounds Read; a blocked Read re-checks it at once.
func (s *rtmptSession) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.dl.SetRead(t)
	s.mu.Unlock()
	return nil
}

// SetWriteDeadline bounds Write; a blocked Write re-checks it at once.
func (s *rtmptSession) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.dl.SetWrite(t)
	s.mu.Unlock()
	return nil
}

var _ net.Conn = (*rtmptSession)(nil)

// rtmptAddr is a client address that did not parse as ip:port.
type rtmptAddr string

func (a rtmptAddr) Network() string { return "tcp" }
func (a rtmptAddr) String() string  { return string(a) }

// discard reads and drops the rest of r, bounded.
func discard(r io.Reader) { io.Copy(io.Discard, io.LimitReader(r, 64<<10)) }
