package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/scopecast/scopecast/rtmp/internal/connwait"
)

// RTMPT: RTMP tunnelled over HTTP (rtmpt:// URLs). Dial opens a session with
// POST /open/1 and runs the RTMP connection over an rtmptConn, a net.Conn
// whose bytes travel in POST /send/<id>/<seq> bodies and come back in the
// answers to /send and /idle/<id>/<seq> polls; Close sends
// /close/<id>/<seq>.
//
// One goroutine per connection (the poller) makes every HTTP request, one
// at a time, on one keep-alive connection, numbering them from 0 after
// /open as ffmpeg and rtmpdump do. It sends as soon as there is output,
// polls again at once after an answer that carried data or followed a
// /send, and after an empty answer waits before the next /idle: 50 ms (as
// ffmpeg does) while the server's delay byte is 1, longer as the byte grows
// (15 ms per unit, at most 500 ms). Output written meanwhile goes out at
// once. scopecast's server holds an /idle up to 50 ms until output arrives
// (long polling), so a player's polls are seldom empty.

// RTMPT bounds.
const (
	rtmptMaxSend    = 256 << 10 // bytes per /send body
	rtmptMaxOut     = 1 << 20   // output waiting for a /send; Write blocks past it
	rtmptMaxIn      = 1 << 20   // input not yet read; no polling past it
	rtmptMaxReply   = 4 << 20   // largest response body accepted
	rtmptMaxIDLen   = 64        // longest session id accepted from /open
	rtmptIdleSleep  = 50 * time.Millisecond
	rtmptDelayUnit  = 15 * time.Millisecond
	rtmptMaxSleep   = 500 * time.Millisecond
	rtmptCloseGrace = time.Second // Close's bound on the request in flight, the last /send and /close
)

// ErrRTMPT reports an RTMPT failure at the HTTP level: a refused /open, an
// HTTP status other than 200, a malformed answer, a broken HTTP connection.
// When the server ends the session (HTTP 400 to a poll, as after /close or
// a rejected connect), reads return io.EOF instead, once the input taken so
// far is read.
var ErrRTMPT = errors.New("client: rtmpt")

// errRTMPTEnded is what writes get after the server ended the session.
var errRTMPTEnded = fmt.Errorf("%w: session ended by the server", ErrRTMPT)

// rtmptConn is an RTMPT session as a net.Conn.
type rtmptConn struct {
	addr, host string
	local      net.Addr // the dialer's local address, for redials
	timeout    time.Duration
	id         string
	localAddr  net.Addr
	remoteAddr net.Addr

	// The poller's own state.
	br   *bufio.Reader
	seq  uint64
	req  []byte // request scratch
	body []byte // response body scratch
	send []byte // the /send body being sent

	mu      sync.Mutex
	tc      net.Conn // the HTTP connection (nil between a server's Connection: close and the next request)
	in      []byte   // received, unread from inOff
	inOff   int
	out     []byte // written, not yet sent
	err     error  // the poller stopped: io.EOF (session ended) or why
	closed  bool   // Close was called
	closeBy time.Time
	dl      connwait.Deadlines // read and write deadlines, and the wakeups of blocked Reads and Writes
	// Broadcasts, under mu.
	kick connwait.Wakeup // for the poller: output, room for input, Close
	done chan struct{}
}

// dialRTMPT dials the HTTP server, opens a session (bounded by ctx) and
// starts the poller.
func dialRTMPT(ctx context.Context, t target, local net.Addr, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{LocalAddr: local}
	tc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	c := &rtmptConn{
		addr: t.addr, host: t.host, local: local, timeout: timeout,
		localAddr: tc.LocalAddr(), remoteAddr: tc.RemoteAddr(),
		br: bufio.NewReaderSize(tc, 16<<10), tc: tc, done: make(chan struct{}),
	}
	dl, _ := ctx.Deadline()
	tc.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { tc.SetDeadline(time.Unix(1, 0)) })
	status, body, err := c.do("/open/1", []byte{0})
	if !stop() || ctx.Err() != nil {
		tc.Close()
		return nil, fmt.Errorf("%w: /open: %w", ErrRTMPT, ctx.Err())
	}
	if err == nil && status != http.StatusOK {
		err = statusError("/open/1", status, body)
	}
	if err == nil {
		c.id, err = parseSessionID(body)
	}
	if err != nil {
		if c.tc != nil {
			c.tc.Close()
		}
		return nil, err
	}
	go c.run()
	return c, nil
}

// parseSessionID reads the answer to /open: the session id and a newline.
// The id goes into request paths: 1–64 ASCII letters, digits, '-' or '_'.
func parseSessionID(b []byte) (string, error) {
	id := bytes.TrimRight(b, "\r\n")
	if len(id) == 0 || len(id) > rtmptMaxIDLen {
		return "", fmt.Errorf("%w: /open answered %d bytes, want a session id", ErrRTMPT, len(b))
	}
	for _, ch := range id {
		if !('0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || ch == '-' || ch == '_') {
			return "", fmt.Errorf("%w: /open answered %.64q, not a session id", ErrRTMPT, b)
		}
	}
	return string(id), nil
}

func statusError(path string, status int, body []byte) error {
	return fmt.Errorf("%w: %s: HTTP %d %s: %.120q", ErrRTMPT, path, status, http.StatusText(status), bytes.TrimSpace(body))
}

// appendRequest appends an RTMPT request: POST path with body.
func appendRequest(dst []byte, host, path string, body []byte) []byte {
	dst = append(dst, "POST "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUser-Agent: scopecast-client\r\nContent-Type: application/x-fcs\r\nConnection: Keep-Alive\r\nCache-Control: no-cache\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// readReply reads one HTTP response from br and appends its body, at most
// max bytes, to dst. keep reports whether the connection may carry another
// request.
func readReply(br *bufio.Reader, max int, dst []byte) (status int, body []byte, keep bool, err error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, dst, false, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > int64(max) {
		return resp.StatusCode, dst, false, fmt.Errorf("%w: answer of %d bytes, limit %d", ErrRTMPT, resp.ContentLength, max)
	}
	if resp.ContentLength >= 0 {
		n := int(resp.ContentLength)
		dst = growTo(dst, n)
		if _, err := io.ReadFull(resp.Body, dst[len(dst):len(dst)+n]); err != nil {
			return resp.StatusCode, dst, false, err
		}
		return resp.StatusCode, dst[:len(dst)+n], !resp.Close, nil
	}
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			if len(dst)-start > max {
				return resp.StatusCode, dst, false, fmt.Errorf("%w: answer over %d bytes", ErrRTMPT, max)
			}
			dst = growTo(dst, min(max+1-(len(dst)-start), 32<<10))
		}
		n, rerr := resp.Body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > max {
			return resp.StatusCode, dst, false, fmt.Errorf("%w: answer over %d bytes", ErrRTMPT, max)
		}
		if rerr == io.EOF {
			return resp.StatusCode, dst, !resp.Close, nil
		}
		if rerr != nil {
			return resp.StatusCode, dst, false, rerr
		}
	}
}

// growTo makes room for at least n more bytes after len(b). Not
// slices.Grow, which rounds the capacity up to a size class: readReply
// reads into the whole capacity, and its bound on the body (at most one
// byte over the limit, FuzzRTMPTReply) needs no more than it asked for.
func growTo(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+max(n, len(b)))
	copy(nb, b)
	return nb
}

// do makes one request on the HTTP connection (redialling it if the server
// closed the previous one) and returns the status and body. The body is
// valid until the next do. Deadlines are the caller's.
func (c *rtmptConn) do(path string, body []byte) (int, []byte, error) {
	c.mu.Lock()
	tc, dl := c.tc, c.closeBy
	c.mu.Unlock()
	if tc == nil {
		if dl.IsZero() {
			dl = time.Now().Add(c.timeout)
		}
		d := net.Dialer{LocalAddr: c.local, Deadline: dl}
		nc, err := d.Dial("tcp", c.addr)
		if err != nil {
			return 0, nil, err
		}
		nc.SetDeadline(dl)
		c.mu.Lock()
		c.tc, tc = nc, nc
		c.mu.Unlock()
		c.br.Reset(nc)
	}
	c.req = appendRequest(c.req[:0], c.host, path, body)
	if cap(c.req) > 2*rtmptMaxSend {
		defer func() { c.req = nil }()
	}
	if _, err := tc.Write(c.req); err != nil {
		return 0, nil, err
	}
	status, resp, keep, err := readReply(c.br, rtmptMaxReply, c.body[:0])
	if cap(resp) <= 2*rtmptMaxSend {
		c.body = resp[:0]
	} else {
		c.body = nil
	}
	if err != nil {
		return 0, nil, err
	}
	if !keep {
		c.dropHTTP()
	}
	return status, resp, nil
}

// path is the next request's path; it takes a sequence number.
func (c *rtmptConn) path(cmd string) string {
	p := "/" + cmd + "/" + c.id + "/" + strconv.FormatUint(c.seq, 10)
	c.seq++
	return p
}

// arm bounds the next request: the request timeout, or Close's grace.
func (c *rtmptConn) arm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tc == nil {
		return
	}
	if !c.closeBy.IsZero() {
		c.tc.SetDeadline(c.closeBy)
	} else {
		c.tc.SetDeadline(time.Now().Add(c.timeout))
	}
}

// idleSleep is the wait after an empty answer with delay byte d.
func idleSleep(d byte) time.Duration {
	return min(max(time.Duration(d)*rtmptDelayUnit, rtmptIdleSleep), rtmptMaxSleep)
}

// run is the poller: it makes every request until the session ends or
// Close, then sends the last output and /close.
func (c *rtmptConn) run() {
	defer func() {
		c.mu.Lock()
		if c.tc != nil {
			c.tc.Close()
			c.tc = nil
		}
		c.mu.Unlock()
		close(c.done)
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	active := true // poll at once
	var next time.Time
	for {
		c.mu.Lock()
		cmd := ""
		for cmd == "" {
			switch {
			case c.closed:
				c.mu.Unlock()
				c.finish()
				return
			case len(c.out) > 0:
				k := min(len(c.out), rtmptMaxSend)
				c.send = append(c.send[:0], c.out[:k]...)
				n := copy(c.out, c.out[k:])
				c.out = c.out[:n]
				if n == 0 && cap(c.out) > rtmptMaxOut {
					c.out = nil
				}
				c.dl.Writable.Wake()
				cmd = "send"
				continue
			}
			room := len(c.in)-c.inOff < rtmptMaxIn
			if room && (active || !time.Now().Before(next)) {
				cmd = "idle"
				continue
			}
			ch := c.kick.Wait()
			c.mu.Unlock()
			if room {
				timer.Reset(time.Until(next))
				select {
				case <-ch:
				case <-timer.C:
				}
				timer.Stop()
			} else {
				<-ch
			}
			c.mu.Lock()
		}
		c.mu.Unlock()

		body := zeroBody
		if cmd == "send" {
			body = c.send
		}
		path := c.path(cmd)
		c.arm()
		status, resp, err := c.do(path, body)
		if cap(c.send) > 2*rtmptMaxSend {
			c.send = nil
		}
		switch {
		case err == nil && status == http.StatusOK && len(resp) > 0:
		case err == nil && status == http.StatusBadRequest:
			// The session is over: after /close, expiry, or the server's
			// RTMP side closing once its last output was taken.
			c.stop(io.EOF)
			return
		case err == nil && status == http.StatusOK:
			c.stop(fmt.Errorf("%w: %s: empty answer", ErrRTMPT, path))
			return
		case err == nil:
			c.stop(statusError(path, status, resp))
			return
		default:
			if c.isClosed() {
				// Close cut the request short; the HTTP connection is
				// unusable: /close goes on a new one, within the grace.
				c.dropHTTP()
				c.finish()
				return
			}
			c.stop(fmt.Errorf("%w: %s: %w", ErrRTMPT, path, err))
			return
		}
		data := resp[1:]
		if len(data) > 0 {
			c.mu.Lock()
			if c.inOff > 0 && c.inOff == len(c.in) {
				c.in, c.inOff = c.in[:0], 0
			} else if c.inOff > 0 && len(c.in)+len(data) > cap(c.in) {
				n := copy(c.in, c.in[c.inOff:])
				c.in, c.inOff = c.in[:n], 0
			}
			if !c.closed {
				c.in = append(c.in, data...)
			}
			c.dl.Readable.Wake()
			c.mu.Unlock()
		}
		if len(data) > 0 || cmd == "send" {
			active = true
		} else {
			active = false
			next = time.Now().Add(idleSleep(resp[0]))
		}
	}
}

var zeroBody = []byte{0}

func (c *rtmptConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// dropHTTP closes the HTTP connection; the next request dials a new one.
func (c *rtmptConn) dropHTTP() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tc != nil {
		c.tc.Close()
		c.tc = nil
	}
}

// stop records why the poller stopped and wakes every waiter.
func (c *rtmptConn) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return // a Close cut the request short
	}
	c.err = err
	c.out = nil
	c.dl.Readable.Wake()
	c.dl.Writable.Wake()
}

// finish sends what was written before Close, then /close, all within
// Close's grace.
func (c *rtmptConn) finish() {
	for {
		c.mu.Lock()
		k := min(len(c.out), rtmptMaxSend)
		c.send = append(c.send[:0], c.out[:k]...)
		c.out = c.out[k:]
		c.mu.Unlock()
		if k == 0 {
			break
		}
		c.arm()
		if status, _, err := c.do(c.path("send"), c.send); err != nil || status != http.StatusOK {
			return
		}
	}
	c.arm()
	c.do(c.path("close"), zeroBody)
}

// Read takes received bytes. It blocks until some arrive, the read deadline
// passes (os.ErrDeadlineExceeded), the connection is closed (net.ErrClosed)
// or the session ends (io.EOF, or the error that stopped it).
func (c *rtmptConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.closed {
			return 0, net.ErrClosed
		}
		if c.inOff < len(c.in) {
			wasFull := len(c.in)-c.inOff >= rtmptMaxIn
			n := copy(p, c.in[c.inOff:])
			c.inOff += n
			if c.inOff == len(c.in) {
				c.in, c.inOff = c.in[:0], 0
				if cap(c.in) > 2*rtmptMaxIn {
					c.in = nil
				}
			}
			if wasFull && len(c.in)-c.inOff < rtmptMaxIn {
				c.kick.Wake()
			}
			return n, nil
		}
		if c.err != nil {
			return 0, c.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if !c.dl.Read.IsZero() && !time.Now().Before(c.dl.Read) {
			return 0, os.ErrDeadlineExceeded
		}
		ch, dl := c.dl.Readable.Wait(), c.dl.Read
		c.mu.Unlock()
		connwait.Await(ch, dl)
		c.mu.Lock()
	}
}

// Write queues p for the next /send. Past the output bound it blocks until
// the poller takes some, the write deadline passes
// (os.ErrDeadlineExceeded), the connection is closed or the session ends.
func (c *rtmptConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for len(p) > 0 {
		if c.closed {
			return n, net.ErrClosed
		}
		if c.err == io.EOF {
			return n, errRTMPTEnded
		}
		if c.err != nil {
			return n, c.err
		}
		if space := rtmptMaxOut - len(c.out); space > 0 {
			k := min(space, len(p))
			c.out = append(c.out, p[:k]...)
			p, n = p[k:], n+k
			c.kick.Wake()
			continue
		}
		if !c.dl.Write.IsZero() && !time.Now().Before(c.dl.Write) {
			return n, os.ErrDeadlineExceeded
		}
		ch, dl := c.dl.Writable.Wait(), c.dl.Write
		c.mu.Unlock()
		connwait.Await(ch, dl)
		c.mu.Lock()
	}
	return n, nil
}

// Close sends what was written, then /close, and stops the poller; it
// returns once the poller has stopped, within about a second (the request
// in flight, usually a poll the server holds for up to 50 ms, is cut at
// that bound).
func (c *rtmptConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	c.closeBy = time.Now().Add(rtmptCloseGrace)
	if c.tc != nil {
		c.tc.SetDeadline(c.closeBy)
	}
	c.in, c.inOff = nil, 0
	c.dl.Readable.Wake()
	c.dl.Writable.Wake()
	c.kick.Wake()
	c.mu.Unlock()
	<-c.done
	return nil
}

// LocalAddr is the local address of the HTTP connection.
func (c *rtmptConn) LocalAddr() net.Addr { return c.localAddr }

// RemoteAddr is the HTTP server's address.
func (c *rtmptConn) RemoteAddr() net.Addr { return c.remoteAddr }

// SetDeadline sets both deadlines; blocked calls re-check at once.
func (c *rtmptConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.dl.Set(t)
	c.mu.Unlock()
	return nil
}

// SetReadDeadline bounds Read.
func (c *rtmptConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.dl.SetRead(t)
	c.mu.Unlock()
	return nil
}

// SetWriteDeadline bounds Write.
func (c *rtmptConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.dl.SetWrite(t)
	c.mu.Unlock()
	return nil
}

var _ net.Conn = (*rtmptConn)(nil)
