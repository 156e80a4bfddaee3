package rtmp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopecast/scopecast/internal/conntrack"
)

// RTMPT (RTMP tunnelled over HTTP; PROTOCOL.md, RTMPT). Every session is
// adapted to a net.Conn (rtmptSession) and served by Server.ServeConn with
// protocol "rtmpt": the connection code is the same as for RTMP.

// Defaults for zero fields of an RTMPTHandler.
const (
	DefaultRTMPTMaxBody         = 1 << 20
	DefaultRTMPTMaxResponse     = 256 << 10
	DefaultRTMPTMaxPending      = 8 << 20
	DefaultRTMPTMaxInput        = 4 << 20
	DefaultRTMPTSessionsPerAddr = 16
	DefaultRTMPTMaxSessions     = 4096
	DefaultRTMPTSessionIdle     = 30 * time.Second
	DefaultRTMPTPollWait        = 50 * time.Millisecond
)

// RTMPT errors.
var (
	// ErrRTMPTLimit refuses an /open over a session limit (HTTP 503).
	ErrRTMPTLimit = errors.New("rtmpt: too many sessions")
	// ErrRTMPTReorder ends a session whose /send arrived after a later one
	// had been taken: its bytes cannot be put back in order.
	ErrRTMPTReorder = errors.New("rtmpt: request out of order")
	errRTMPTClosed  = errors.New("rtmpt: handler closed")
)

// RTMPTHandler serves RTMPT sessions over HTTP. Mount it at "/" of the
// public HTTP mux or on the exact paths it serves:
//
//	h := &rtmp.RTMPTHandler{Server: srv}
//	for _, p := range []string{"/open/", "/send/", "/idle/", "/close/", "/fcs/ident2"} {
//		mux.Handle(p, h)
//	}
//	...
//	h.Shutdown(ctx) // ends every session; with srv.Shutdown
//
// Requests:
//
//	POST /open/1              → "<session id>\n" (19 random decimal digits)
//	POST /send/<id>/<seq>     body: RTMP bytes  → [delay][RTMP bytes]
//	POST /idle/<id>/<seq>     body ignored      → [delay][RTMP bytes]
//	POST /close/<id>/<seq>    ends the session  → one 0 byte
//	/fcs/ident2               → 404
//
// Responses carry Content-Type application/x-fcs, Cache-Control no-cache,
// Connection Keep-Alive and an explicit Content-Length (librtmp needs it).
// An unknown or ended session is 400 with a one-byte body 0; a method other
// than POST 405 (Allow: POST); a body over MaxBodySize 413; an /open over a
// limit 503; a /send whose sequence number was already used, or which
// arrived after a later /send, 409 (see seqWindow; the latter also ends the
// session, whose stream it would corrupt).
//
// The delay byte is 1 while data flows (the response or the request carries
// bytes, or output is waiting) and grows after more than 10 empty polls in a
// row: 3, 5, 9, 17, 33.
//
// Sessions count against MaxSessionsPerAddr by the HTTP peer's IP: behind a
// reverse proxy that is the proxy's. Session ids are random and not bound to
// an address.
//
// The zero value is usable once Server is set. Behind a timeout-happy HTTP
// server note that ffmpeg and librtmp keep one connection alive between
// polls.
type RTMPTHandler struct {
	Server *Server // serves the sessions' RTMP (required)

	MaxBodySize        int64         // largest request body (default 1 MiB)
	MaxResponseSize    int           // RTMP bytes in one response (default 256 KiB); the rest waits for the next poll
	MaxPendingOutput   int           // output waiting for polls per session (default 8 MiB); a full session's writes block until the write deadline
	MaxPendingInput    int           // input not yet read per session (default 4 MiB); a /send waits for room
	MaxSessionsPerAddr int           // open sessions per client IP (default 16)
	MaxSessions        int           // open sessions in all (default 4096)
	SessionIdle        time.Duration // no request for this long ends a session (default 30s)
	// PollWait holds an /idle that finds no output for up to this long,
	// answering as soon as output arrives (default 50ms; negative: answer at
	// once, as Red5 does). librtmp (rtmpdump) polls again at once after an
	// empty answer, thousands of times a second on a LAN; the wait turns
	// that into long polling and costs no latency; 50ms is longer than the
	// gap between frames of a live stream, so a player's polls are seldom
	// empty. A client that queues a /send behind its held /idle on the same
	// connection waits for it at most this long. /send is never held
	// (ffmpeg's publisher waits for each answer before it goes on).
	PollWait time.Duration

	stats RTMPTStats

	serving conntrack.Group // the sessions' ServeConn and the janitor

	mu       sync.Mutex
	sessions map[string]*rtmptSession
	perAddr  map[string]int
	stop     chan struct{} // stops the janitor
}

// RTMPTStats are the RTMPT counters, read with atomic loads.
type RTMPTStats struct {
	Sessions    atomic.Int64  // sessions open now
	Opened      atomic.Uint64 // sessions opened in all
	Refused     atomic.Uint64 // /open refused by a session limit or shutdown
	Expired     atomic.Uint64 // sessions ended for want of requests
	BytesIn     atomic.Uint64 // RTMP bytes in /send bodies
	BytesOut    atomic.Uint64 // RTMP bytes in responses
	Pending     atomic.Int64  // output bytes waiting for polls, all sessions
	Sends       atomic.Uint64 // /send requests served
	Polls       atomic.Uint64 // /idle requests served
	BadRequests atomic.Uint64 // requests answered 4xx
}

// Stats returns the handler's live counters.
func (h *RTMPTHandler) Stats() *RTMPTStats { return &h.stats }

func (h *RTMPTHandler) maxBody() int64 { return orDefault(h.MaxBodySize, DefaultRTMPTMaxBody) }
func (h *RTMPTHandler) maxResponse() int {
	return orDefault(h.MaxResponseSize, DefaultRTMPTMaxResponse)
}
func (h *RTMPTHandler) maxPending() int     { return orDefault(h.MaxPendingOutput, DefaultRTMPTMaxPending) }
func (h *RTMPTHandler) maxInput() int       { return orDefault(h.MaxPendingInput, DefaultRTMPTMaxInput) }
func (h *RTMPTHandler) idle() time.Duration { return orDefault(h.SessionIdle, DefaultRTMPTSessionIdle) }

func (h *RTMPTHandler) logger() *slog.Logger { return h.Server.logger() }

// ServeHTTP serves one RTMPT request.
func (h *RTMPTHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := parseRTMPTPath(r.URL.Path)
	switch {
	case errors.Is(err, ErrRTMPTPath), err == nil && req.cmd == cmdIdent:
		h.stats.BadRequests.Add(1)
		http.NotFound(w, r)
		return
	case err != nil:
		h.fail(w, http.StatusBadRequest, err)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, fmt.Errorf("rtmpt: method %s", r.Method))
		return
	}
	if req.cmd == cmdOpen {
		h.open(w, r)
		return
	}
	h.serveSession(w, r, req)
}

// fail answers a refused request in plain text.
func (h *RTMPTHandler) fail(w http.ResponseWriter, code int, err error) {
	h.stats.BadRequests.Add(1)
	http.Error(w, err.Error(), code)
}

// reply writes an RTMPT response.
func reply(w http.ResponseWriter, code int, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/x-fcs")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Connection", "Keep-Alive")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

var zeroByte = []byte{0}

// unknownSession answers a request for a session that does not exist (any
// more): 400 with one 0 byte, as Red5 starts its answer.
func (h *RTMPTHandler) unknownSession(w http.ResponseWriter) {
	h.stats.BadRequests.Add(1)
	reply(w, http.StatusBadRequest, zeroByte)
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads a whole request body of at most MaxBodySize bytes, or
// answers 413 and returns nil. Put the buffer back with bodyPool.
func (h *RTMPTHandler) readBody(w http.ResponseWriter, r *http.Request) *bytes.Buffer {
	limit := h.maxBody()
	if r.ContentLength > limit {
		h.fail(w, http.StatusRequestEntityTooLarge, fmt.Errorf("rtmpt: body of %d bytes, limit %d", r.ContentLength, limit))
		return nil
	}
	b := bodyPool.Get().(*bytes.Buffer)
	b.Reset()
	_, err := b.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err == nil && int64(b.Len()) > limit {
		err = fmt.Errorf("rtmpt: body over %d bytes", limit)
		h.fail(w, http.StatusRequestEntityTooLarge, err)
		putBody(b)
		return nil
	}
	if err != nil {
		h.fail(w, http.StatusBadRequest, fmt.Errorf("rtmpt: reading body: %w", err))
		putBody(b)
		return nil
	}
	return b
}

func putBody(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		bodyPool.Put(b)
	}
}

var respPool = sync.Pool{New: func() any { return new([]byte) }}

// open starts a session and its RTMP connection.
func (h *RTMPTHandler) open(w http.ResponseWriter, r *http.Request) {
	if h.Server == nil {
		panic("rtmp: RTMPTHandler.Server is nil")
	}
	discard(r.Body) // ffmpeg and librtmp send one byte
	s := &rtmptSession{h: h}
	s.remote, s.host = clientAddr(r.RemoteAddr)
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		s.local = a
	} else {
		s.local = rtmptAddr("")
	}
	s.lastSeen.Store(time.Now().UnixNano())
	if err := h.add(s); err != nil {
		h.stats.Refused.Add(1)
		h.logger().Debug("rtmpt open refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	go func() {
		defer h.serving.Leave()
		h.Server.ServeConn(s, "rtmpt")
		s.Close()
	}()
	reply(w, http.StatusOK, []byte(s.id+"\n"))
}

// clientAddr is the peer's address and the key it counts against.
func clientAddr(remote string) (net.Addr, string) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return rtmptAddr(remote), remote
	}
	return net.TCPAddrFromAddrPort(ap), ap.Addr().Unmap().String()
}

// newSessionID is 19 decimal digits from crypto/rand (about 63 bits).
func newSessionID() string {
	var b [8]byte
	rand.Read(b[:])
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])%9e18+1e18, 10)
}

// add registers a new session under the limits, starts the janitor if
// needed, and counts the session's serving goroutine in h.serving (the
// caller's goroutine leaves it).
func (h *RTMPTHandler) add(s *rtmptSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.serving.Enter() {
		return errRTMPTClosed
	}
	if n := orDefault(h.MaxSessions, DefaultRTMPTMaxSessions); len(h.sessions) >= n {
		h.serving.Leave()
		return fmt.Errorf("%w: %d open", ErrRTMPTLimit, n)
	}
	if n := orDefault(h.MaxSessionsPerAddr, DefaultRTMPTSessionsPerAddr); h.perAddr[s.host] >= n {
		h.serving.Leave()
		return fmt.Errorf("%w: %d open from %s", ErrRTMPTLimit, n, s.host)
	}
	if h.sessions == nil {
		h.sessions = make(map[string]*rtmptSession)
		h.perAddr = make(map[string]int)
	}
	for {
		s.id = newSessionID()
		if h.sessions[s.id] == nil {
			break
		}
	}
	h.sessions[s.id] = s
	h.perAddr[s.host]++
	h.stats.Sessions.Add(1)
	h.stats.Opened.Add(1)
	if h.stop == nil && h.serving.Enter() { // refused if Shutdown began just now: it ends this session
		h.stop = make(chan struct{})
		go h.janitor(h.stop)
	}
	return nil
}

// remove takes an ended session out of the table.
func (h *RTMPTHandler) remove(s *rtmptSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessions[s.id] != s {
		return
	}
	delete(h.sessions, s.id)
	if h.perAddr[s.host]--; h.perAddr[s.host] <= 0 {
		delete(h.perAddr, s.host)
	}
	h.stats.Sessions.Add(-1)
}

func (h *RTMPTHandler) lookup(id string) *rtmptSession {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[id]
}

// janitor ends sessions without a request for the idle lifetime.
func (h *RTMPTHandler) janitor(stop <-chan struct{}) {
	defer h.serving.Leave()
	idle := h.idle()
	t := time.NewTicker(min(max(idle/4, 10*time.Millisecond), 5*time.Second))
	defer t.Stop()
	var old []*rtmptSession
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			cutoff := now.Add(-idle).UnixNano()
			h.mu.Lock()
			for _, s := range h.sessions {
				if s.lastSeen.Load() < cutoff {
					old = append(old, s)
				}
			}
			h.mu.Unlock()
			for i, s := range old {
				if s.end(ErrRTMPTExpired) {
					h.stats.Expired.Add(1)
					h.logger().Info("rtmpt session expired", "conn", s.conn(), "remote", s.remote.String(), "idle", idle)
				}
				old[i] = nil
			}
			old = old[:0]
		}
	}
}

// serveSession serves /send, /idle and /close.
func (h *RTMPTHandler) serveSession(w http.ResponseWriter, r *http.Request, req rtmptRequest) {
	s := h.lookup(req.id)
	if s == nil {
		discard(r.Body)
		h.unknownSession(w)
		return
	}
	s.lastSeen.Store(time.Now().UnixNano())
	var body *bytes.Buffer
	if req.cmd == cmdSend {
		if body = h.readBody(w, r); body == nil {
			return
		}
		defer putBody(body)
	} else {
		discard(r.Body) // ffmpeg and librtmp send one 0 byte with /idle and /close
	}

	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if ended {
		h.unknownSession(w)
		return
	}
	if req.cmd == cmdClose {
		s.end(io.EOF)
		reply(w, http.StatusOK, zeroByte)
		return
	}
	input := body != nil && body.Len() > 0
	switch v := s.seq.check(req.seq, input); v {
	case seqDuplicate:
		if input {
			h.fail(w, http.StatusConflict, fmt.Errorf("rtmpt: /send sequence number %d already used; its bytes were not taken", req.seq))
			return
		}
		// An /idle carries nothing: serve it as a poll.
	case seqReorder:
		s.end(fmt.Errorf("%w: /send %d after a later one", ErrRTMPTReorder, req.seq))
		h.fail(w, http.StatusConflict, fmt.Errorf("%w: /send %d after a later /send; session ended", ErrRTMPTReorder, req.seq))
		return
	default:
		s.seq.mark(req.seq, input)
	}
	if input {
		h.stats.BytesIn.Add(uint64(body.Len()))
		if !s.addInput(body.Bytes(), max(h.maxInput(), int(h.maxBody())), r.Context().Done()) {
			h.unknownSession(w)
			return
		}
	}
	if req.cmd == cmdSend {
		h.stats.Sends.Add(1)
	} else {
		h.stats.Polls.Add(1)
		wait := h.PollWait
		if wait == 0 {
			wait = DefaultRTMPTPollWait
		}
		if wait > 0 {
			s.waitOutput(wait, r.Context().Done())
		}
	}
	bp := respPool.Get().(*[]byte)
	resp, done := s.poll((*bp)[:0], h.maxResponse(), input)
	h.stats.BytesOut.Add(uint64(len(resp) - 1))
	if done {
		s.end(net.ErrClosed)
	}
	reply(w, http.StatusOK, resp)
	if cap(resp) <= h.maxResponse()+1 {
		*bp = resp[:0]
		respPool.Put(bp)
	}
}

// Shutdown ends every session and refuses new ones, then waits until their
// RTMP connections and the janitor have stopped or ctx is done.
func (h *RTMPTHandler) Shutdown(ctx context.Context) error {
	h.serving.Close() // before taking the sessions: one that opens after is refused
	h.mu.Lock()
	if h.stop != nil {
		close(h.stop)
		h.stop = nil
	}
	all := slices.Collect(maps.Values(h.sessions))
	h.mu.Unlock()
	for _, s := range all {
		s.end(net.ErrClosed)
	}
	return h.serving.Wait(ctx)
}

// Close is Shutdown without a time limit.
func (h *RTMPTHandler) Close() error { return h.Shutdown(context.Background()) }
