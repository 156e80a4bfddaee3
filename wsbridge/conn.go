package wsbridge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/internal/wdeadline"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
)

// outItem is one entry of a connection's output queue: a delivery to render
// for this connection (d), or complete frame bytes (header and payload),
// shared with other connections or its own.
type outItem struct {
	d     *sharedobject.Delivery
	frame []byte
}

// conn is one WebSocket client: a scope.Conn and a sharedobject.Subscriber.
// The goroutine of ServeHTTP reads; one writer goroutine owns the writes.
type conn struct {
	h      *Handler
	ws     *websocket.Conn
	id     string
	remote string
	name   string
	query  url.Values // the request URL's query (ConnectQuery)
	log    *slog.Logger

	// The output queue: Deliver and send append under qmu and signal notify
	// (capacity 1) when the queue was empty; the writer takes it all at once.
	qmu     sync.Mutex
	q       []outItem
	qmax    int
	pong    []byte // payload of a ping to answer; pongDue says one is due
	pongDue bool
	notify  chan struct{}
	// peerClosed is set once a close frame went out from the read side
	// (gorilla's echo, or its 1009): no data frame may follow it.
	peerClosed atomic.Bool

	// The writer's own: the spare queue slice, the batch's buffers, and the
	// write deadline last set by flush.
	spare     []outItem
	bufs      net.Buffers
	wdeadline wdeadline.Lazy

	done       chan struct{} // closed by Close
	readerDone chan struct{} // closed when the read loop ended
	writerDone chan struct{}
	closeOnce  sync.Once
	closeCode  int
	closeText  string
	closeErr   error

	chatSeq atomic.Uint64

	// Byte counters (BytesIn, BytesOut): one atomic add per frame read and
	// per write of the writer; started is when the upgrade succeeded.
	bytesIn, bytesOut atomic.Uint64
	started           time.Time

	// tokens of the rate limiter; used by the read loop only.
	tokens float64
	last   time.Time
}

func newConn(h *Handler, ws *websocket.Conn, r *http.Request) *conn {
	id := "ws" + strconv.FormatUint(nextID.Add(1), 10)
	c := &conn{
		h:          h,
		ws:         ws,
		id:         id,
		remote:     r.RemoteAddr,
		qmax:       orDefault(h.QueueSize, DefaultQueueSize),
		notify:     make(chan struct{}, 1),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		tokens:     float64(orDefault(h.Burst, DefaultBurst)),
		last:       time.Now(),
	}
	c.started = c.last
	c.query = r.URL.Query()
	c.name = cleanName(c.query.Get("name"))
	if c.name == "" {
		c.name = id
	}
	c.log = h.logger().With("conn", id, "remote", c.remote, "scope", "/"+strings.Trim(r.URL.Path, "/"))
	return c
}

// ID implements scope.Conn and sharedobject.Subscriber.
func (c *conn) ID() string { return c.id }

// Protocol implements scope.Conn.
func (c *conn) Protocol() string { return "ws" }

// RemoteAddr implements scope.Conn.
func (c *conn) RemoteAddr() string { return c.remote }

// ConnectQuery returns the query of the WebSocket URL (ws://host/chat/room?key=x),
// where access rules look for keys.
func (c *conn) ConnectQuery() url.Values { return c.query }

// BytesIn is how many bytes of data frames the client has sent: each
// message's payload and one frame header (a message the client fragmented
// counts one header; control frames are not counted).
func (c *conn) BytesIn() uint64 { return c.bytesIn.Load() }

// BytesOut is how many bytes of data frames the connection has written
// (control frames — pings, pongs, close — are not counted).
func (c *conn) BytesOut() uint64 { return c.bytesOut.Load() }

// ConnectedAt is when the WebSocket upgrade succeeded.
func (c *conn) ConnectedAt() time.Time { return c.started }

// countRead counts a message of n payload bytes read from the client: a
// client frame has a 2-byte header, 2 or 8 more for a long payload, and a
// 4-byte mask key.
func (c *conn) countRead(n int) {
	hdr := 2 + 4
	switch {
	case n >= 1<<16:
		hdr += 8
	case n >= 126:
		hdr += 2
	}
	c.bytesIn.Add(uint64(hdr + n))
}

// AMF3 implements sharedobject.Subscriber (unused: deliveries become JSON).
func (c *conn) AMF3() bool { return false }

// Close implements scope.Conn: the writer sends a close frame for reason (see
// CloseCode) and the connection ends. It returns at once.
func (c *conn) Close(reason error) {
	code, text := CloseCode(reason)
	c.closeWith(code, text, reason)
}

func (c *conn) closeWith(code int, text string, reason error) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText, c.closeErr = code, truncate(text, 120), reason
		close(c.done)
	})
}

func (c *conn) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Deliver implements sharedobject.Subscriber: it queues d without blocking. A
// client whose queue is full is disconnected (and the object drops it).
func (c *conn) Deliver(d *sharedobject.Delivery) error {
	it := outItem{d: d}
	if !needsOwn(d, c.id) {
		it = outItem{frame: bystanderFrames(d)}
		if len(it.frame) == 0 {
			return nil
		}
	}
	if c.closing() {
		return net.ErrClosed
	}
	if !c.push(it) {
		c.Close(ErrQueueFull)
		return ErrQueueFull
	}
	return nil
}

// push queues it unless the queue is full, and wakes the writer if the queue
// was empty (otherwise the writer has been woken already and takes it with
// the others).
func (c *conn) push(it outItem) bool {
	c.qmu.Lock()
	if len(c.q) >= c.qmax {
		c.qmu.Unlock()
		return false
	}
	c.q = append(c.q, it)
	wake := len(c.q) == 1
	c.qmu.Unlock()
	if wake {
		c.wake()
	}
	return true
}

func (c *conn) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// take returns everything queued (and a pong to send, if one is due),
// leaving the queue empty.
func (c *conn) take() (batch []outItem, pong []byte, pongDue bool) {
	c.qmu.Lock()
	batch, c.q = c.q, c.spare[:0]
	pong, pongDue = c.pong, c.pongDue
	c.pong, c.pongDue = nil, false
	c.qmu.Unlock()
	c.spare = nil
	return batch, pong, pongDue
}

// recycle hands a written batch's slice back for the next swap.
func (c *conn) recycle(batch []outItem) {
	clear(batch)
	c.spare = batch[:0]
}

// queuePong has the writer answer a ping (the latest one, as RFC 6455 allows),
// so that only the writer goroutine writes data and pongs.
func (c *conn) queuePong(payload string) error {
	c.qmu.Lock()
	c.pong, c.pongDue = []byte(payload), true
	c.qmu.Unlock()
	c.wake()
	return nil
}

// send queues a frame of this connection's own (its payload: framed here); a
// full queue closes it.
func (c *conn) send(payload []byte) {
	if !c.push(outItem{frame: appendFrame(nil, payload)}) {
		c.Close(ErrQueueFull)
	}
}

func (c *conn) sendError(code string, err error) {
	b := append([]byte(nil), `{"type":"error","code":`...)
	b = appendString(b, code)
	b = append(b, `,"message":`...)
	b = appendString(b, truncate(err.Error(), 200))
	c.send(append(b, '}'))
}

// serve runs the connection: connect to the scope, join the shared object,
// read frames until the end, then leave.
func (c *conn) serve(u *url.URL) {
	h := c.h
	c.ws.SetPingHandler(c.queuePong)
	c.ws.SetCloseHandler(func(code int, _ string) error {
		// As gorilla's default: echo the code. Data frames stop here.
		c.peerClosed.Store(true)
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
		return nil
	})
	go c.writeLoop()
	defer func() {
		close(c.readerDone)
		<-c.writerDone
		c.ws.Close()
	}()

	q := u.Query()
	soName := q.Get("so")
	if soName == "" {
		soName = DefaultSO
	}
	if err := checkSOName(soName); err != nil {
		c.Close(err)
		c.drainReads()
		return
	}
	s, err := h.Scopes.Connect(c, u.Path, connectParams(q))
	if err != nil {
		code, text := CloseCode(err)
		if code == 4000 { // a hook's plain error is a refusal too
			code, text = 4403, "rejected: "+err.Error()
		}
		c.log.Info("websocket connect refused", "err", err)
		c.closeWith(code, text, err)
		c.drainReads()
		return
	}
	c.log = c.log.With("scope", s.Path())
	defer h.Scopes.Disconnect(c, s)
	objs := s.SharedObjects()
	defer objs.Unsubscribe(c)

	b := append([]byte(nil), `{"type":"welcome","id":`...)
	b = appendString(b, c.id)
	b = append(b, `,"name":`...)
	b = appendString(b, c.name)
	b = append(b, `,"scope":`...)
	b = appendString(b, s.Path())
	b = append(b, `,"so":`...)
	b = appendString(b, soName)
	c.send(append(b, '}'))

	if err := objs.Apply(c, &sharedobject.Message{Name: soName, Events: []sharedobject.Event{{Type: sharedobject.EventUse}}}); err != nil {
		c.log.Info("websocket shared object refused", "so", soName, "err", err)
		c.Close(err)
		c.drainReads()
		return
	}
	c.log.Debug("websocket connected", "so", soName)
	c.readLoop(objs, soName)
	c.log.Debug("websocket closed", "code", c.closeCode, "reason", c.closeText, "err", c.closeErr)
}

// drainReads reads (and ignores) frames until the peer closes or the writer
// closes the socket, so that the client's close frame is read.
func (c *conn) drainReads() {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		c.countRead(len(data))
	}
}

func (c *conn) readLoop(objs *sharedobject.Container, soName string) {
	h := c.h
	c.ws.SetReadLimit(orDefault(h.MaxMessageSize, DefaultMaxMessageSize))
	readTimeout := orDefault(h.ReadTimeout, DefaultReadTimeout)
	c.ws.SetReadDeadline(time.Now().Add(readTimeout))
	c.ws.SetPongHandler(func(string) error {
		c.ws.SetReadDeadline(time.Now().Add(readTimeout))
		return nil
	})
	rate, burst := orDefault(h.Rate, DefaultRate), float64(orDefault(h.Burst, DefaultBurst))
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			var ne net.Error
			switch {
			case errors.As(err, &ce):
				c.Close(nil)
			case errors.Is(err, websocket.ErrReadLimit):
				c.peerClosed.Store(true) // gorilla sent 1009
				c.Close(fmt.Errorf("%w: over %d bytes", ErrTooBig, orDefault(h.MaxMessageSize, DefaultMaxMessageSize)))
			case errors.As(err, &ne) && ne.Timeout():
				c.Close(ErrTimeout)
			default:
				c.peerClosed.Store(true) // a protocol error: gorilla sent 1002
				c.Close(err)
			}
			return
		}
		c.countRead(len(data))
		if c.closing() {
			continue // wait for the client's close frame; apply nothing more
		}
		now := time.Now()
		c.ws.SetReadDeadline(now.Add(readTimeout))
		c.tokens = min(burst, c.tokens+now.Sub(c.last).Seconds()*rate)
		c.last = now
		if c.tokens < 1 {
			c.log.Info("websocket client over its rate limit")
			c.Close(ErrRateLimit)
			continue
		}
		c.tokens--
		if typ != websocket.TextMessage {
			c.Close(ErrBinary)
			continue
		}
		req, err := Decode(data)
		if err != nil {
			if errors.Is(err, ErrInvalidJSON) {
				c.Close(err)
			} else {
				c.sendError("bad_request", err)
			}
			continue
		}
		c.apply(objs, soName, &req)
	}
}

// apply turns a request into a shared-object message from this connection,
// applied like an RTMP client's (so the container's access hooks apply).
func (c *conn) apply(objs *sharedobject.Container, soName string, r *Request) {
	var ev sharedobject.Event
	switch r.Op {
	case OpSet:
		ev = sharedobject.Event{Type: sharedobject.EventRequestChange, Key: r.Key, Value: r.Value}
	case OpRemove:
		ev = sharedobject.Event{Type: sharedobject.EventRequestRemove, Key: r.Key}
	case OpClear:
		ev = sharedobject.Event{Type: sharedobject.EventRequestClear}
	case OpSend:
		ev = sharedobject.Event{Type: sharedobject.EventSend, Args: append([]any{r.Handler}, r.Args...)}
	case OpChat:
		seq := c.chatSeq.Add(1)
		ev = sharedobject.Event{Type: sharedobject.EventRequestChange, Key: ChatKey, Value: amf.Obj(
			"id", c.id+"-"+strconv.FormatUint(seq, 10),
			"from", c.name,
			"text", r.Text,
			"time", float64(time.Now().UnixMilli()),
		)}
	}
	err := objs.Apply(c, &sharedobject.Message{Name: soName, Events: []sharedobject.Event{ev}})
	switch {
	case err == nil:
	case errors.Is(err, sharedobject.ErrNoWriteAccess):
		// The refusal reached the client as a status (an error frame) in order.
	case errors.Is(err, sharedobject.ErrNotSubscribed), errors.Is(err, sharedobject.ErrNotFound):
		c.Close(err) // dropped (its queue was full): it is closing
	case errors.Is(err, sharedobject.ErrClosed):
		c.Close(scope.ErrShutdown)
	case errors.Is(err, sharedobject.ErrHandler):
		c.sendError("refused", err)
	case errors.Is(err, sharedobject.ErrBadKey), errors.Is(err, sharedobject.ErrBadValue):
		c.sendError("bad_value", err)
	default:
		c.log.Warn("websocket request failed", "op", r.Op, "err", err)
		c.sendError("internal", err)
	}
}

func (c *conn) writeLoop() {
	defer close(c.writerDone)
	h := c.h
	writeTimeout := orDefault(h.WriteTimeout, DefaultWriteTimeout)
	ping := time.NewTicker(orDefault(h.PingInterval, DefaultPingInterval))
	defer ping.Stop()
	window := h.MergeWindow
	if window == 0 {
		window = DefaultMergeWindow
	}
	// Merged writes: a delivery that comes within the window after a write
	// waits for the window's end, so that a busy room costs a few writes per
	// window rather than one per delivery. The wait is armed only then: a
	// client that receives less often than the window costs no timer. Once a
	// wait gathered several frames (busy), the writer waits right after each
	// write, without a wake-up for the first delivery; a wait that gathers
	// nothing ends that.
	merge := time.NewTimer(time.Hour)
	merge.Stop()
	defer merge.Stop()
	var last time.Time // the last write of data frames
	busy := false
	for {
		if busy {
			select {
			case <-ping.C:
				if !c.ping(writeTimeout) {
					return
				}
			default:
			}
		} else {
			select {
			case <-c.notify:
			case <-ping.C:
				if !c.ping(writeTimeout) {
					return
				}
				continue
			case <-c.done:
				c.finish(!errors.Is(c.closeErr, ErrQueueFull))
				return
			}
		}
		held := busy
		if wait := window - time.Since(last); window > 0 && !last.IsZero() && wait > 0 {
			if !c.hold(merge, wait) {
				c.finish(!errors.Is(c.closeErr, ErrQueueFull))
				return
			}
			held = true
		}
		n, err := c.flush(writeTimeout)
		if err != nil {
			c.Close(err)
			c.finish(false)
			return
		}
		if n > 0 {
			last = time.Now()
		}
		if held {
			busy = n > 1
		}
	}
}

// ping sends a ping; on failure it ends the connection and reports false.
func (c *conn) ping(timeout time.Duration) bool {
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(timeout)); err != nil {
		c.Close(err)
		c.finish(false)
		return false
	}
	return true
}

// hold waits d on timer t; it reports false if the connection is closing.
func (c *conn) hold(t *time.Timer, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-c.done:
		t.Stop()
		return false
	}
}

// flush writes everything queued: a due pong first (through gorilla, which
// writes a control frame at once and buffers nothing), then the data frames
// in one writev with one write deadline. It returns how many data frames it
// wrote.
func (c *conn) flush(timeout time.Duration) (frames int, err error) {
	deadline := time.Now().Add(timeout)
	batch, pong, pongDue := c.take()
	defer c.recycle(batch)
	if pongDue {
		if err := c.ws.WriteControl(websocket.PongMessage, pong, deadline); err != nil && err != websocket.ErrCloseSent {
			return 0, err
		}
	}
	if len(batch) == 0 || c.peerClosed.Load() {
		return 0, nil
	}
	bufs := c.bufs[:0]
	for _, it := range batch {
		if it.d == nil {
			bufs = append(bufs, it.frame)
			continue
		}
		for _, p := range renderFor(it.d, c.id) {
			bufs = append(bufs, appendFrame(nil, p))
		}
	}
	defer func() {
		clear(bufs[:cap(bufs)])
		c.bufs = bufs[:0]
	}()
	if len(bufs) == 0 {
		return 0, nil
	}
	nc := c.ws.NetConn()
	if c.wdeadline.Move(deadline, timeout) {
		if err := nc.SetWriteDeadline(deadline); err != nil {
			return 0, err
		}
	}
	w := bufs // WriteTo consumes its receiver
	written, err := w.WriteTo(nc)
	c.bytesOut.Add(uint64(written))
	return len(bufs), err
}

// finish ends the connection from the writer. Gracefully (flush set): the
// frames already queued (within CloseTimeout), the close frame, then a short
// wait for the client's close frame before the socket closes. Otherwise (the
// client does not read, or a write failed): a close frame if it fits at once,
// then an abortive close, so that the kernel does not keep the unread data.
func (c *conn) finish(flush bool) {
	h := c.h
	closeTimeout := orDefault(h.CloseTimeout, DefaultCloseTimeout)
	if flush {
		c.flush(closeTimeout)
	}
	wait := closeTimeout
	if !flush {
		wait = 10 * time.Millisecond
	}
	if c.closeCode != websocket.CloseMessageTooBig { // gorilla's reader sent that one
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeText), time.Now().Add(wait))
	}
	if flush {
		t := time.NewTimer(closeTimeout)
		select {
		case <-c.readerDone:
		case <-t.C:
		}
		t.Stop()
	} else if tc, ok := c.ws.NetConn().(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.ws.NetConn().Close()
}

// appendFrame appends payload as one unmasked, final text frame (RFC 6455
// 5.2: a server's frames are not masked), header and payload.
func appendFrame(dst, payload []byte) []byte {
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x81, byte(n))
	case n < 1<<16:
		dst = append(dst, 0x81, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x81, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// needsOwn reports whether d must be rendered for id alone: id caused some of
// its events (it gets acknowledgements), or d is id's join (use success).
func needsOwn(d *sharedobject.Delivery, id string) bool {
	for _, e := range d.Events() {
		if string(e.Origin) == id || e.Type == sharedobject.EventUseSuccess {
			return true
		}
	}
	return false
}

// renderFor renders d as the subscriber id sees it: one JSON frame per event;
// its own events become acknowledgements, a join becomes one snapshot frame.
// id "" renders the frames of every subscriber that caused none of d's events.
func renderFor(d *sharedobject.Delivery, id string) [][]byte {
	evs := d.Events()
	var frames [][]byte
	version := d.Version()
	if len(evs) > 0 && evs[0].Type == sharedobject.EventUseSuccess {
		b := append([]byte(nil), `{"type":"snapshot","so":`...)
		b = appendString(b, d.Name())
		b = append(b, `,"persistent":`...)
		b = strconv.AppendBool(b, d.Persistent())
		b = append(b, `,"version":`...)
		b = strconv.AppendUint(b, uint64(version), 10)
		b = append(b, `,"data":{`...)
		n := 0
		for _, e := range evs[1:] {
			if e.Type != sharedobject.EventChange {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendString(b, e.Key)
			b = append(b, ':')
			b = AppendJSON(b, e.Value)
		}
		return [][]byte{append(b, "}}"...)}
	}
	for _, e := range evs {
		mine := id != "" && string(e.Origin) == id
		var b []byte
		switch {
		case mine && (e.Type == sharedobject.EventChange || e.Type == sharedobject.EventSuccess):
			b = appendAck(b, "set", "key", e.Key)
		case mine && e.Type == sharedobject.EventRemove:
			b = appendAck(b, "remove", "key", e.Key)
		case mine && e.Type == sharedobject.EventClear:
			b = appendAck(b, "clear", "", "")
		case mine && e.Type == sharedobject.EventSend:
			h, _ := firstString(e.Args)
			b = appendAck(b, "send", "handler", h)
		case mine && e.Type == sharedobject.EventStatus:
			b = append(b, `{"type":"error","code":`...)
			b = appendString(b, statusCode(e.Code))
			b = append(b, `,"status":`...)
			b = appendString(b, e.Code)
			b = append(b, `,"message":`...)
			b = appendString(b, e.Level+": "+e.Code)
		case mine:
			continue
		case e.Type == sharedobject.EventChange:
			b = append(b, `{"type":"change","key":`...)
			b = appendString(b, e.Key)
			b = append(b, `,"value":`...)
			b = AppendJSON(b, e.Value)
		case e.Type == sharedobject.EventRemove:
			b = append(b, `{"type":"remove","key":`...)
			b = appendString(b, e.Key)
		case e.Type == sharedobject.EventClear:
			b = append(b, `{"type":"clear"`...)
		case e.Type == sharedobject.EventSend:
			h, _ := firstString(e.Args)
			b = append(b, `{"type":"message","handler":`...)
			b = appendString(b, h)
			b = append(b, `,"args":`...)
			var args []any
			if len(e.Args) > 0 {
				args = e.Args[1:]
			}
			b = AppendJSON(b, args)
		default: // success and status of others, use success: not for us
			continue
		}
		if !mine {
			b = append(b, `,"origin":`...)
			b = appendString(b, string(e.Origin))
		}
		b = append(b, `,"version":`...)
		b = strconv.AppendUint(b, uint64(version), 10)
		frames = append(frames, append(b, '}'))
	}
	return frames
}

func appendAck(b []byte, op, field, value string) []byte {
	b = append(b, `{"type":"ack","op":"`...)
	b = append(b, op...)
	b = append(b, '"')
	if field != "" {
		b = append(b, `,"`...)
		b = append(b, field...)
		b = append(b, `":`...)
		b = appendString(b, value)
	}
	return b
}

func firstString(args []any) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	s, ok := args[0].(string)
	return s, ok
}

// statusCode maps a shared-object status to an error frame code.
func statusCode(status string) string {
	switch status {
	case sharedobject.StatusNoReadAccess:
		return "no_read_access"
	case sharedobject.StatusNoWriteAccess:
		return "no_write_access"
	case sharedobject.StatusBadPersistence:
		return "bad_persistence"
	}
	return "refused"
}

// framesKey names the WebSocket frames among a Delivery's shared encodings
// (RTMP's keys are chunk sizes, far below it).
const framesKey = 1 << 63

// bystanderFrames returns d's frames for the subscribers that caused none of
// its events: complete WebSocket frames one after the other (nil if none),
// rendered and framed once per delivery however many clients receive it
// (Delivery.Shared). The bytes are shared: read only.
func bystanderFrames(d *sharedobject.Delivery) []byte {
	b, _ := d.Shared(framesKey, func() ([]byte, error) {
		var b []byte
		for _, f := range renderFor(d, "") {
			b = appendFrame(b, f)
		}
		return b, nil
	})
	return b
}
