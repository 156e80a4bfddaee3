package httpflv

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/internal/wdeadline"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
)

const (
	// roundMax bounds the packets one write carries.
	roundMax = 256
	// maxPending bounds the packets held before the FLV header is decided.
	maxPending = 32
	// maxJunk bounds the bytes an HTTP-FLV client may send after its request.
	maxJunk = 64 << 10
)

// output modes of a player.
const (
	modeChunked = iota // hijacked HTTP/1.1: chunked transfer coding, written raw
	modeRaw            // hijacked HTTP/1.0: the body runs to the close
	modeWS             // WebSocket: one binary frame per write
	modeWriter         // a ResponseWriter that cannot be hijacked (HTTP/2): Write and Flush
)

// player is one HTTP-FLV or WebSocket-FLV reader: a scope.Conn. The
// goroutine of ServeHTTP is its writer; a second goroutine reads (and
// discards) what the client sends, to notice when it goes away.
type player struct {
	h      *Handler
	id     string
	proto  string
	remote string
	query  url.Values // the request URL's query (ConnectQuery)
	log    *slog.Logger

	notify chan struct{} // the subscriber's; capacity 1
	ctl    chan struct{} // the reader has a pong due (WebSocket); capacity 1

	closeOnce sync.Once
	done      chan struct{}
	reason    error // set before done is closed

	ncMu sync.Mutex
	nc   net.Conn // once the socket is ours: Close ends a blocked write

	pongMu sync.Mutex
	pong   []byte

	// Writer-owned.
	mode       int
	ws         *websocket.Conn
	rw         http.ResponseWriter
	rc         *http.ResponseController
	st         *stream.Stream
	sub        *stream.Subscriber
	timeout    time.Duration
	deadline   wdeadline.Lazy // the write deadline last set by a write
	started    bool
	sawKey     bool // a video keyframe was written (or held)
	pending    []*stream.Packet
	pkts       []*stream.Packet
	segs       [][]byte // segs[0] is the framing of this write
	wv         net.Buffers
	total      int // bytes of segs[1:]
	media      bool
	head       [16]byte
	fileHeader [flv.HeaderSize + 4]byte // and PreviousTagSize0

	bytesOut    atomic.Uint64 // added to once per write; read by Stats and BytesOut
	connectedAt time.Time
}

func newPlayer(h *Handler, proto string, r *http.Request) *player {
	prefix := "flv"
	if proto == ProtocolWS {
		prefix = "wsflv"
	}
	id := prefix + strconv.FormatUint(nextID.Add(1), 10)
	return &player{
		h:           h,
		id:          id,
		proto:       proto,
		remote:      r.RemoteAddr,
		query:       r.URL.Query(),
		log:         h.logger().With("conn", id, "remote", r.RemoteAddr, "proto", proto),
		notify:      make(chan struct{}, 1),
		ctl:         make(chan struct{}, 1),
		done:        make(chan struct{}),
		connectedAt: time.Now(),
	}
}

// ID implements scope.Conn.
func (p *player) ID() string { return p.id }

// Protocol implements scope.Conn: "http-flv" or "ws-flv".
func (p *player) Protocol() string { return p.proto }

// RemoteAddr implements scope.Conn.
func (p *player) RemoteAddr() string { return p.remote }

// ConnectQuery returns the query of the request URL (/live/cam1.flv?key=x
// gives key=x), as RTMP and WebSocket connections return the query of the
// URL they connected with: access rules look for keys there.
func (p *player) ConnectQuery() url.Values { return p.query }

// BytesOut is how many bytes the reader has been sent: the FLV stream with
// its framing (chunk lines, WebSocket frame headers); the response head and
// WebSocket control frames are not counted. The admin listing shows it.
func (p *player) BytesOut() uint64 { return p.bytesOut.Load() }

// ConnectedAt is when the reader's request came.
func (p *player) ConnectedAt() time.Time { return p.connectedAt }

// Close implements scope.Conn: the reader is disconnected (a write in
// progress is cut short). It returns at once.
func (p *player) Close(reason error) {
	p.closeOnce.Do(func() {
		p.reason = reason
		close(p.done)
		p.ncMu.Lock()
		if p.nc != nil {
			p.nc.SetWriteDeadline(time.Now())
		}
		p.ncMu.Unlock()
	})
}

func (p *player) closing() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *player) setConn(nc net.Conn) {
	p.ncMu.Lock()
	p.nc = nc
	p.ncMu.Unlock()
	if p.closing() { // Close came before the conn was known
		nc.SetWriteDeadline(time.Now())
	}
}

var _ scope.Conn = (*player)(nil)

// serve takes over the response and runs the writer until the end.
func (p *player) serve(w http.ResponseWriter, r *http.Request, st *stream.Stream, sub *stream.Subscriber, origin string) {
	h := p.h
	p.st, p.sub = st, sub
	p.timeout = orDefault(h.WriteTimeout, DefaultWriteTimeout)
	p.pending = make([]*stream.Packet, 0, maxPending)
	p.pkts = make([]*stream.Packet, 0, roundMax)
	p.segs = make([][]byte, 1, roundMax+maxPending+3)

	var readerDone chan struct{}
	switch p.proto {
	case ProtocolWS:
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			p.log.Info("websocket upgrade failed", "err", err)
			return // Upgrade answered the client
		}
		p.mode, p.ws = modeWS, ws
		p.setConn(ws.NetConn())
		readerDone = p.startWSReader()
	default:
		nc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil { // HTTP/2 or a wrapper: stream through the ResponseWriter
			p.mode, p.rw, p.rc = modeWriter, w, http.NewResponseController(w)
			hd := w.Header()
			setMediaHeaders(hd)
			setCORS(hd, origin)
			w.WriteHeader(http.StatusOK)
			p.rc.Flush()
			readerDone = p.watchContext(r)
			break
		}
		nc.SetDeadline(time.Time{}) // the server's read deadlines are not ours
		p.mode = modeChunked
		if !r.ProtoAtLeast(1, 1) {
			p.mode = modeRaw
		}
		p.setConn(nc)
		if err := p.writeResponseHead(origin); err != nil {
			nc.Close()
			p.log.Info("flv response failed", "err", err)
			return
		}
		readerDone = p.startHTTPReader(brw.Reader)
	}
	p.log.Info("flv player started")
	err := p.run()
	p.finish(err, readerDone)
	p.Close(nil) // the reader goroutine's watch ends too
	<-readerDone
	p.log.Info("flv player ended", "reason", errText(err), "bytes", p.bytesOut.Load(), "dropped", sub.Dropped())
}

func errText(err error) string {
	if err == nil {
		return "done"
	}
	return err.Error()
}

// writeResponseHead writes the status line and headers of a hijacked
// response.
func (p *player) writeResponseHead(origin string) error {
	b := make([]byte, 0, 256)
	b = append(b, "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache, no-store\r\nX-Content-Type-Options: nosniff\r\n"...)
	if origin != "" {
		b = append(b, "Access-Control-Allow-Origin: "...)
		b = append(b, origin...)
		b = append(b, "\r\nVary: Origin\r\n"...)
	}
	if p.mode == modeChunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	b = append(b, "Connection: close\r\n\r\n"...)
	p.nc.SetWriteDeadline(p.nextDeadline())
	_, err := p.nc.Write(b)
	return err
}

// startHTTPReader reads and discards what the client sends after its
// request; its end (EOF, reset) closes the player.
func (p *player) startHTTPReader(br *bufio.Reader) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var buf [512]byte
		n := br.Buffered()
		for {
			k, err := br.Read(buf[:])
			n += k
			if err != nil {
				p.Close(ErrClientGone)
				return
			}
			if n > maxJunk {
				p.Close(fmt.Errorf("%w: it sent more than %d bytes after its request", ErrClientGone, maxJunk))
				return
			}
		}
	}()
	return done
}

// watchContext closes the player when the request's context ends (the
// ResponseWriter mode).
func (p *player) watchContext(r *http.Request) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-r.Context().Done():
			p.Close(ErrClientGone)
		case <-p.done:
		}
	}()
	return done
}

// startWSReader reads the client's frames: pings are answered by the
// writer, a close or an error ends the player, everything else is dropped.
func (p *player) startWSReader() chan struct{} {
	ws := p.ws
	readTimeout := orDefault(p.h.ReadTimeout, DefaultReadTimeout)
	ws.SetReadLimit(MaxClientFrame)
	ws.SetReadDeadline(time.Now().Add(readTimeout))
	ws.SetPingHandler(func(data string) error {
		ws.SetReadDeadline(time.Now().Add(readTimeout))
		p.pongMu.Lock()
		p.pong = []byte(data)
		p.pongMu.Unlock()
		select {
		case p.ctl <- struct{}{}:
		default:
		}
		return nil
	})
	ws.SetPongHandler(func(string) error {
		ws.SetReadDeadline(time.Now().Add(readTimeout))
		return nil
	})
	ws.SetCloseHandler(func(int, string) error { return nil }) // the writer answers
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, _, err := ws.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					p.Close(ErrClientGone)
				} else {
					p.Close(fmt.Errorf("%w: %w", ErrClientGone, err))
				}
				return
			}
			ws.SetReadDeadline(time.Now().Add(readTimeout))
		}
	}()
	return done
}

// run is the writer loop. It returns nil when the stream ended (the
// publisher stopped, or the stream was closed), or why the player stops.
func (p *player) run() error {
	merge := orDefault(p.h.MergeWindow, DefaultMergeWindow)
	mt := time.NewTimer(time.Hour)
	mt.Stop()
	defer mt.Stop()
	var pingC <-chan time.Time
	if p.mode == modeWS {
		t := time.NewTicker(orDefault(p.h.PingInterval, DefaultPingInterval))
		defer t.Stop()
		pingC = t.C
	}
	holding := false
	for {
		notify := p.notify
		if holding {
			notify = nil
		}
		select {
		case <-p.done:
			return p.reason
		case <-notify:
		case <-mt.C:
			holding = false
		case <-pingC:
			if err := p.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(p.timeout)); err != nil {
				return p.writeErr(err)
			}
			continue
		case <-p.ctl:
			p.pongMu.Lock()
			data := p.pong
			p.pongMu.Unlock()
			if err := p.ws.WriteControl(websocket.PongMessage, data, time.Now().Add(p.timeout)); err != nil {
				return p.writeErr(err)
			}
			continue
		}
		ended, more := p.pump()
		if len(p.segs) > 1 {
			if err := p.flush(); err != nil {
				return p.writeErr(err)
			}
		}
		if ended {
			return nil
		}
		if err := p.sub.Err(); err != nil {
			if errors.Is(err, stream.ErrClosed) {
				return nil // the stream is gone (its scope was removed)
			}
			return err
		}
		// A full round leaves the rest queued, and Pop has signalled notify
		// for it: come back at once rather than hold.
		if p.media && merge > 0 && !more {
			mt.Reset(merge)
			holding = true
		}
	}
}

// writeErr names a failed write: the player's own reason if it was closed
// meanwhile, a slow reader if the deadline passed.
func (p *player) writeErr(err error) error {
	if p.closing() {
		return p.reason
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: a write took longer than %v", stream.ErrSlowConsumer, p.timeout)
	}
	return fmt.Errorf("%w: %w", ErrClientGone, err)
}

// pump takes what is queued (at most roundMax packets) into this write's
// segments. It reports whether the stream ended (the publisher stopped) and
// whether more packets wait.
func (p *player) pump() (ended, more bool) {
	p.media = false
	batch := p.sub.Pop(p.pkts[:0])
	defer clear(batch)
	for _, pkt := range batch {
		switch pkt.Kind {
		case stream.KindPublishStart:
			if !p.started {
				p.dropPending()
				p.sawKey = false
			}
			continue
		case stream.KindPublishStop:
			if p.started {
				return true, false
			}
			p.dropPending() // a publisher came and went before any media: wait for the next
			p.sawKey = false
			continue
		}
		if len(pkt.Payload) > flv.MaxTagData {
			continue // cannot be framed in FLV
		}
		if pkt.Kind == stream.KindVideo && !pkt.Header {
			if !pkt.Keyframe && !p.sawKey {
				continue // an FLV stream's video starts with a keyframe
			}
			p.sawKey = true
		}
		if !p.started {
			p.pending = append(p.pending, pkt)
			if isMedia(pkt) && !pkt.Header || len(p.pending) == maxPending {
				p.start()
			}
			continue
		}
		p.add(pkt)
	}
	return false, len(batch) == roundMax
}

func isMedia(pkt *stream.Packet) bool {
	return pkt.Kind == stream.KindAudio || pkt.Kind == stream.KindVideo
}

func (p *player) dropPending() {
	clear(p.pending)
	p.pending = p.pending[:0]
}

// start writes the FLV file header, its flags from the packets held so far
// and the codecs the stream has seen, then the held packets.
func (p *player) start() {
	var audio, video bool
	for _, q := range p.pending {
		audio = audio || q.Kind == stream.KindAudio
		video = video || q.Kind == stream.KindVideo
	}
	st := p.st.Stats()
	audio = audio || st.AudioCodec != 0
	video = video || st.VideoCodec != 0
	fh := flv.AppendHeader(p.fileHeader[:0], flv.Header{HasAudio: audio, HasVideo: video})
	p.segs = append(p.segs, fh)
	p.total += len(fh)
	for _, q := range p.pending {
		p.add(q)
	}
	p.dropPending()
	p.started = true
}

// add appends pkt's shared tag bytes to this write.
func (p *player) add(pkt *stream.Packet) {
	b := tagBytes(pkt)
	p.segs = append(p.segs, b)
	p.total += len(b)
	if isMedia(pkt) {
		p.media = true
	}
}

// flush writes this round's segments with one vectored write under one
// deadline: the framing (chunk line or WebSocket header), the tags, and for a
// chunk its closing CRLF.
func (p *player) flush() error {
	defer p.resetSegs()
	switch p.mode {
	case modeChunked:
		p.segs[0] = appendChunkLine(p.head[:0], p.total)
		p.segs = append(p.segs, crlf)
	case modeWS:
		p.segs[0] = appendWSHeader(p.head[:0], p.total)
	default:
		p.segs[0] = nil
	}
	if p.mode == modeWriter {
		return p.writeThrough(p.segs[1:])
	}
	if dl := p.nextDeadline(); !dl.IsZero() {
		p.nc.SetWriteDeadline(dl)
	}
	if p.closing() { // Close may have cut the deadline just before
		return p.reason
	}
	p.wv = p.segs
	n, err := p.wv.WriteTo(p.nc) // writev
	p.bytesOut.Add(uint64(n))
	return err
}

// nextDeadline returns the write deadline a write should set, or zero to
// keep the one set before (see wdeadline.Lazy: a write has at least 7/8 of
// WriteTimeout).
func (p *player) nextDeadline() time.Time {
	if dl := time.Now().Add(p.timeout); p.deadline.Move(dl, p.timeout) {
		return dl
	}
	return time.Time{}
}

func (p *player) resetSegs() {
	clear(p.segs)
	p.segs = p.segs[:1]
	p.wv = nil
	p.total = 0
}

// writeThrough writes segments through the ResponseWriter (which copies
// them into its own buffer) and flushes.
func (p *player) writeThrough(segs [][]byte) error {
	if dl := p.nextDeadline(); !dl.IsZero() {
		p.rc.SetWriteDeadline(dl)
	}
	var total int
	defer func() { p.bytesOut.Add(uint64(total)) }()
	for _, b := range segs {
		n, err := p.rw.Write(b)
		total += n
		if err != nil {
			return err
		}
	}
	return p.rc.Flush()
}

// finish ends the response. A stream that ended (err nil) or a shutdown
// ends it cleanly: the last chunk, or a WebSocket close frame (1000, 1001)
// followed by a short wait for the client's. A slow or gone client is cut
// off (no lingering unread data).
func (p *player) finish(err error, readerDone <-chan struct{}) {
	graceful := err == nil || errors.Is(err, scope.ErrShutdown)
	switch p.mode {
	case modeWriter:
		return // the ResponseWriter ends with ServeHTTP
	case modeChunked:
		if graceful {
			p.nc.SetWriteDeadline(time.Now().Add(time.Second))
			p.nc.Write(lastChunk)
		}
	case modeWS:
		code, text := CloseCode(err)
		p.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
		if graceful { // the client answers with its close frame, which ends the reader
			t := time.NewTimer(time.Second)
			select {
			case <-readerDone:
			case <-t.C:
			}
			t.Stop()
		}
	}
	if tc, ok := p.nc.(*net.TCPConn); ok && !graceful {
		tc.SetLinger(0)
	}
	p.nc.Close()
}

// CloseCode returns the WebSocket close code and reason a WebSocket-FLV
// reader gets when it ends for err: 1000 when the stream ended (err nil), 1001 at
// shutdown, 4408 for a reader too slow to keep up, 4000 otherwise.
func CloseCode(err error) (int, string) {
	switch {
	case err == nil:
		return websocket.CloseNormalClosure, "stream ended"
	case errors.Is(err, scope.ErrShutdown):
		return websocket.CloseGoingAway, "server shutting down"
	case errors.Is(err, stream.ErrSlowConsumer):
		return 4408, "too slow"
	case errors.Is(err, ErrClientGone):
		return websocket.CloseNormalClosure, ""
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return 4000, s
}
