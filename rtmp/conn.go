package rtmp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	neturl "net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/scopecast/scopecast/internal/wdeadline"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/handshake"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
)

// Chunk stream ids used toward clients: all below 64, commands on 3 and
// protocol control on 2 as strict clients require (PROTOCOL.md, Chunks).
const (
	csidControl = 2
	csidCommand = 3
	csidAudio   = 4
	csidData    = 5
	csidVideo   = 6
)

// Errors that end a connection.
var (
	ErrQueueFull    = errors.New("rtmp: output queue full (client not reading)")
	ErrNotConnected = errors.New("rtmp: command before connect")
	errRejected     = errors.New("rtmp: connect rejected")
	errTooManyCalls = errors.New("too many calls in flight on this connection")
	errPanic        = errors.New("rtmp: internal error (panic recovered)")
)

// maxCallsInFlight bounds the application methods one connection runs at once.
const maxCallsInFlight = 16

// AMF limits before and after a successful connect.
var (
	preConnectAMF = amf.Limits{MaxDepth: 8, MaxStringLen: 16 << 10, MaxElements: 256, MaxTotal: 4096}
	connectedAMF  = amf.Limits{MaxDepth: 32, MaxStringLen: 1 << 20, MaxElements: 1 << 16, MaxTotal: 1 << 18}
)

// Conn is one client connection. It implements scope.Conn and scope.Caller.
type Conn struct {
	srv      *Server
	nc       net.Conn
	id       string
	protocol string
	log      *slog.Logger
	br       *bufio.Reader
	rd       *chunk.Reader
	started  time.Time

	out    chan outItem  // read goroutine (and callers) → writer
	notify chan struct{} // stream subscribers → writer
	so     soQueue       // shared-object batches → writer
	// Direct writes of shared-object batches (soqueue.go): raw is the socket
	// of a plain TCP or Unix connection (nil otherwise), wtok the right to
	// write it — the writer holds it from each wake-up to the end of its
	// write, a fan-out for one non-blocking write — and partial what a
	// non-blocking write left: the token's next holder writes it first.
	raw        *rawSocket
	wtok       atomic.Bool
	partial    []byte
	ctx        context.Context // cancelled when the connection must stop; the client's calls run under it
	cancel     context.CancelFunc
	done       <-chan struct{} // ctx.Done()
	writerDone chan struct{}
	closeMu    sync.Mutex
	closeErr   error
	// enhanced: the client connected announcing Enhanced RTMP (fourCcList
	// or capsEx), so Shutdown may ask it to reconnect (drain.go). Stored
	// after scope, so a Shutdown that sees it sees the scope too.
	enhanced atomic.Bool

	// Owned by the read goroutine.
	scope          *scope.Scope
	query          string
	objectEncoding float64
	streams        map[uint32]*netStream
	nextStreamID   uint32
	peerWindow     uint32
	lastAck        uint64
	lastIn         uint64
	graceful       bool // flush queued output before closing
	writerStarted  bool
	usedSO         bool           // the connection used a shared object
	readDeadline   wdeadline.Lazy // the idle deadline last set (moved lazily, as the writer's)

	// Client → server calls in flight.
	calls   sync.WaitGroup
	callSem chan struct{}

	// Server → client calls.
	callMu  sync.Mutex
	nextTx  float64
	pending map[float64]chan callResult

	w writerState // owned by the writer goroutine (and the write token's holder)

	cs connStats // byte counters (stats.go)
}

// netStream is a message stream made by createStream.
type netStream struct {
	id      uint32
	pub     *stream.Stream
	pubName string
	play    *playSub
	vod     *vodPlay // the play is of a recording
}

type callResult struct {
	value any
	err   error
}

func newConn(s *Server, nc net.Conn, protocol string) *Conn {
	id := "c" + strconv.FormatUint(s.nextID.Add(1), 10)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		srv:        s,
		nc:         nc,
		id:         id,
		protocol:   protocol,
		started:    time.Now(),
		out:        make(chan outItem, DefaultOutQueue),
		notify:     make(chan struct{}, 1),
		so:         soQueue{notify: make(chan struct{}, 1)},
		ctx:        ctx,
		cancel:     cancel,
		done:       ctx.Done(),
		writerDone: make(chan struct{}),
		streams:    make(map[uint32]*netStream),
		nextTx:     1,
		pending:    make(map[float64]chan callResult),
		callSem:    make(chan struct{}, maxCallsInFlight),
	}
	c.initStats()
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn: // not wrappers: a direct write would bypass them
		if rc, err := nc.(syscall.Conn).SyscallConn(); err == nil {
			c.raw = newRawSocket(rc)
		}
	}
	if ss, ok := nc.(*rtmptSession); ok {
		ss.connID.Store(&id) // for the session's own log lines
	}
	c.log = s.logger().With("conn", id, "proto", protocol, "remote", nc.RemoteAddr().String())
	c.br = bufio.NewReaderSize(nc, 4<<10) // larger reads bypass it
	c.rd = chunk.NewReader(c.br, chunk.Limits{MaxMessageSize: PreConnectMaxMessageSize})
	return c
}

// ID is unique in the process.
func (c *Conn) ID() string { return c.id }

// Protocol is "rtmp", "rtmpt" or "rtmps".
func (c *Conn) Protocol() string { return c.protocol }

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() string { return c.nc.RemoteAddr().String() }

// Scope is the scope the connection connected to, nil before connect.
func (c *Conn) Scope() *scope.Scope { return c.scope }

// Close asks the connection to close with reason; it returns at once.
func (c *Conn) Close(reason error) {
	c.closeMu.Lock()
	if c.closeErr == nil {
		c.closeErr = reason
	}
	c.closeMu.Unlock()
	c.cancel()
	// Unblock the read goroutine; the writer sees done.
	c.nc.SetReadDeadline(time.Now())
}

func (c *Conn) reason() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.closeErr
}

// serve runs the connection: handshake, writer goroutine, read loop, teardown.
// A panic is recovered: it closes this connection only.
func (c *Conn) serve() {
	srv := c.srv
	defer func() {
		if r := recover(); r != nil {
			c.recovered("reader", r)
			if c.writerStarted {
				func() {
					defer func() { recover() }()
					c.teardown(errPanic)
				}()
			}
			c.cancel()
			c.nc.Close()
		}
	}()
	c.nc.SetDeadline(time.Now().Add(orDefault(srv.HandshakeTimeout, DefaultHandshakeTimeout)))
	if _, err := handshake.Server(c.br, c.nc); err != nil {
		c.log.Debug("handshake failed", "err", err)
		srv.stats.Protocol.Add(1)
		c.nc.Close()
		return
	}
	c.nc.SetDeadline(time.Time{})
	c.w.init(c)
	c.writerStarted = true
	go c.writeLoop()

	err := c.readLoop()
	c.teardown(err)
}

// recovered logs and counts a recovered panic.
func (c *Conn) recovered(where string, r any) {
	c.srv.stats.Panics.Add(1)
	c.log.Error("panic serving connection", "goroutine", where, "panic", r, "stack", string(debug.Stack()))
}

func (c *Conn) readLoop() error {
	idle := orDefault(c.srv.IdleTimeout, DefaultIdleTimeout)
	for {
		if dl := time.Now().Add(idle); c.readDeadline.Move(dl, idle) {
			c.nc.SetReadDeadline(dl)
			// Close closes done, then sets a past read deadline: looking at
			// done after moving the deadline, never before, a Close is
			// never undone by the move.
			select {
			case <-c.done:
				return net.ErrClosed // teardown reports Close's reason
			default:
			}
		}
		m, err := c.rd.ReadMessage()
		if n := c.rd.BytesRead(); n != c.lastIn {
			c.countIn(n - c.lastIn)
			c.lastIn = n
		}
		if err != nil {
			return err
		}
		if err := c.handle(m); err != nil {
			return err
		}
		if c.peerWindow > 0 {
			if n := c.rd.BytesRead(); n-c.lastAck >= uint64(c.peerWindow) {
				c.lastAck = n
				c.sendControl(chunk.TypeAck, message.U32(uint32(n)))
			}
		}
	}
}

// teardown stops every stream, leaves the scope, stops the writer and closes
// the socket; err is why the read loop ended.
func (c *Conn) teardown(err error) {
	select {
	case <-c.done:
		if r := c.reason(); r != nil {
			err = r
		}
	default:
	}
	switch {
	case err == nil, errors.Is(err, errRejected):
	case errors.Is(err, scope.ErrShutdown):
		c.log.Info("closing for shutdown")
	case errors.Is(err, ErrKicked):
		c.log.Info("closing: kicked", "err", err)
	case isEOF(err):
		c.log.Debug("client closed the connection")
	case isTimeout(err):
		c.log.Info("closing idle connection", "err", err)
	case errors.Is(err, stream.ErrSlowConsumer):
		c.srv.stats.SlowClosed.Add(1)
		c.log.Warn("closing slow player", "err", err)
	default:
		c.srv.stats.Protocol.Add(1)
		c.log.Warn("closing connection", "err", err)
	}
	for _, ns := range c.streams {
		c.closeNetStream(ns, false)
	}
	if c.usedSO {
		c.scope.SharedObjects().Unsubscribe(c)
	}
	if c.scope != nil {
		c.srv.Scopes.Disconnect(c, c.scope)
	}
	if c.graceful {
		t := time.NewTimer(orDefault(c.srv.WriteTimeout, DefaultWriteTimeout))
		select {
		case <-c.writerDone:
		case <-t.C:
		}
		t.Stop()
	}
	c.cancel()
	c.calls.Wait() // methods see their context cancelled
	<-c.writerDone
	if c.graceful {
		c.lingeringClose()
	}
	c.nc.Close()
	c.callMu.Lock()
	for tx, ch := range c.pending {
		ch <- callResult{err: net.ErrClosed}
		delete(c.pending, tx)
	}
	c.callMu.Unlock()
}

// lingeringClose half-closes the socket and drains what the client still
// sends for a moment. Closing with unread input makes the kernel send a reset,
// and a reset can destroy the reply (a connect _error) before the client
// reads it.
func (c *Conn) lingeringClose() {
	type closeWriter interface{ CloseWrite() error }
	cw, ok := c.nc.(closeWriter)
	if !ok {
		return
	}
	cw.CloseWrite()
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, io.LimitReader(c.br, 1<<20))
}

// isEOF reports an error that means the client went away: the read side's
// EOF or reset, or the writer's reset or broken pipe (the writer's error
// becomes the reason when it closes the connection first).
func isEOF(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// enqueue hands an item to the writer without blocking. A client that does
// not read its replies fills the queue and is disconnected.
func (c *Conn) enqueue(it outItem) {
	select {
	case c.out <- it:
	default:
		c.Close(ErrQueueFull)
	}
}

func (c *Conn) sendControl(typ uint8, payload []byte) {
	c.enqueue(outItem{msg: &chunk.Message{ChunkStreamID: csidControl, TypeID: typ, Payload: payload}})
}

func (c *Conn) sendCommand(msid uint32, name string, tx float64, obj any, args ...any) {
	p, err := message.AppendCommand(nil, name, tx, obj, args...)
	if err != nil { // our own values: a programmer error, but never worth a crash
		c.log.Error("encoding command", "name", name, "err", err)
		return
	}
	c.enqueue(outItem{msg: &chunk.Message{ChunkStreamID: csidCommand, TypeID: chunk.TypeCommandAMF0, StreamID: msid, Payload: p}})
}

func (c *Conn) sendStatus(msid uint32, info *amf.Object) {
	info.Set("clientid", c.id)
	c.sendCommand(msid, "onStatus", 0, nil, info)
}

// closeAfterFlush makes the read loop stop and the writer write everything
// queued so far before the socket closes (rejections must reach the client).
func (c *Conn) closeAfterFlush() {
	c.graceful = true
	c.enqueue(outItem{op: opClose})
}

// handle dispatches one message; an error ends the connection.
func (c *Conn) handle(m chunk.Message) error {
	switch m.TypeID {
	case chunk.TypeAck, chunk.TypeSetPeerBandwidth:
		return nil
	case chunk.TypeWindowAckSize:
		v, err := message.ParseU32(m.Payload)
		if err != nil {
			return err
		}
		c.peerWindow = max(v, 4096)
		return nil
	case chunk.TypeUserControl:
		ev, arg, _, err := message.ParseUserControl(m.Payload)
		if err != nil { // nothing we rely on but pings: be lenient
			c.log.Debug("ignoring malformed user control message", "err", err)
			return nil
		}
		if ev == message.EventPingRequest {
			c.sendControlUser(message.EventPingResponse, arg)
		}
		return nil
	case chunk.TypeCommandAMF0, chunk.TypeCommandAMF3:
		return c.onCommand(m)
	}
	if c.scope == nil {
		return fmt.Errorf("%w: message type %d", ErrNotConnected, m.TypeID)
	}
	switch m.TypeID {
	case chunk.TypeAudio, chunk.TypeVideo:
		c.onMedia(m.StreamID, stream.Kind(m.TypeID), m.Timestamp, m.Payload)
	case chunk.TypeDataAMF0, chunk.TypeDataAMF3:
		c.onData(m.StreamID, m.Timestamp, m.Payload, m.TypeID == chunk.TypeDataAMF3)
	case chunk.TypeAggregate:
		return message.SplitAggregate(m.Payload, m.Timestamp, func(typ uint8, ts uint32, body []byte) error {
			switch typ {
			case chunk.TypeAudio, chunk.TypeVideo:
				c.onMedia(m.StreamID, stream.Kind(typ), ts, body)
			case chunk.TypeDataAMF0:
				c.onData(m.StreamID, ts, body, false)
			}
			return nil
		})
	case chunk.TypeSharedObjectAMF0, chunk.TypeSharedObjectAMF3:
		return c.onSharedObject(m)
	default:
		c.log.Debug("ignoring message", "type", m.TypeID)
	}
	return nil
}

func (c *Conn) sendControlUser(ev uint16, args ...uint32) {
	c.sendControl(chunk.TypeUserControl, message.UserControl(ev, args...))
}

func (c *Conn) onMedia(msid uint32, kind stream.Kind, ts uint32, payload []byte) {
	ns := c.streams[msid]
	if ns == nil || ns.pub == nil {
		c.srv.stats.MediaDropped.Add(1)
		return
	}
	ns.pub.Write(stream.NewPacket(kind, ts, payload))
}

func (c *Conn) onData(msid uint32, ts uint32, payload []byte, amf3 bool) {
	if rest, ok := message.UnwrapSetDataFrame(payload, amf3); ok {
		payload = rest
	} else if amf3 && len(payload) > 0 && payload[0] == 0 {
		payload = payload[1:]
	}
	ns := c.streams[msid]
	if ns == nil || ns.pub == nil {
		// Some publishers send @setDataFrame on message stream 0: it belongs to
		// the connection's one publishing stream.
		ns = nil
		for _, s := range c.streams {
			if s.pub != nil {
				if ns != nil {
					return // ambiguous
				}
				ns = s
			}
		}
		if ns == nil {
			return
		}
	}
	ns.pub.Write(stream.NewPacket(stream.KindData, ts, payload))
}

func (c *Conn) amfLimits() amf.Limits {
	if c.scope == nil {
		return preConnectAMF
	}
	return connectedAMF
}

// onCommand decodes and dispatches a command message.
func (c *Conn) onCommand(m chunk.Message) error {
	cmd, err := message.DecodeCommand(m.Payload, m.TypeID == chunk.TypeCommandAMF3, c.amfLimits())
	if err != nil {
		return err
	}
	if cmd.Name == "connect" {
		return c.onConnect(&cmd)
	}
	if c.scope == nil {
		return fmt.Errorf("%w: %q", ErrNotConnected, cmd.Name)
	}
	msid := m.StreamID
	switch cmd.Name {
	case "createStream":
		c.onCreateStream(&cmd)
	case "deleteStream":
		if id, ok := cmd.NumberArg(0); ok {
			if ns := c.streams[uint32(id)]; ns != nil {
				c.closeNetStream(ns, true)
				delete(c.streams, ns.id)
			}
		}
	case "closeStream":
		if ns := c.streams[msid]; ns != nil {
			c.closeNetStream(ns, true)
		}
	case "releaseStream", "FCUnpublish", "FCSubscribe", "FCUnsubscribe":
		if cmd.TxID != 0 {
			c.sendCommand(0, "_result", cmd.TxID, nil, nil)
		}
	case "FCPublish":
		name, _ := cmd.StringArg(0)
		c.sendCommand(0, "onFCPublish", 0, nil, amf.Obj("code", codePublishStart, "description", name))
		if cmd.TxID != 0 {
			c.sendCommand(0, "_result", cmd.TxID, nil, nil)
		}
	case "publish":
		c.onPublish(msid, &cmd)
	case "play":
		c.onPlay(msid, &cmd)
	case "play2":
		c.onPlay2(msid, &cmd)
	case "pause", "pauseRaw":
		c.onPause(msid, &cmd)
	case "seek":
		ns := c.streams[msid]
		ms, ok := cmd.NumberArg(0)
		if ns == nil || ns.vod == nil || !ok {
			c.sendStatus(msid, statusObject("error", codeSeekFailed, "Seeking is not possible in a live stream."))
			break
		}
		c.seekRecording(ns, ms)
	case "receiveAudio", "receiveVideo":
		if ns := c.streams[msid]; ns != nil && ns.play != nil {
			on, _ := cmd.BoolArg(0)
			op := opReceiveAudio
			if cmd.Name == "receiveVideo" {
				op = opReceiveVideo
			}
			c.enqueue(outItem{op: op, sub: ns.play, flag: on})
		}
	case "getStreamLength":
		raw, _ := cmd.StringArg(0)
		c.sendCommand(0, "_result", cmd.TxID, nil, c.streamLength(raw))
	case "_result", "_error":
		c.resolveCall(&cmd)
	default:
		c.onCall(&cmd)
	}
	return nil
}

func (c *Conn) onConnect(cmd *message.Command) error {
	if c.scope != nil {
		return fmt.Errorf("rtmp: second connect")
	}
	obj, _ := cmd.Object.(*amf.Object)
	if obj == nil {
		obj = &amf.Object{}
	}
	app := obj.GetString("app")
	path, query, _ := strings.Cut(app, "?")
	path = strings.Trim(path, "/")
	c.query = query
	c.objectEncoding, _ = obj.GetNumber("objectEncoding")
	_, fourCC := obj.Get("fourCcList")
	enhanced := fourCC || announcesReconnect(obj)
	c.log = c.log.With("app", path)
	sc, err := c.srv.Scopes.Connect(c, path, cmd.Args)
	if err != nil {
		info := connectFailure(path, err)
		c.srv.stats.Rejected.Add(1)
		c.srv.countRejected(err)
		c.log.Info("connect rejected", "scope", "/"+path, "err", err)
		// The properties are null, as FMS sends them: ffmpeg looks for the
		// description in the first object after the transaction id only.
		// (go-rtmp v0.0.7 panics on a null one; ffmpeg, a real client, wins.)
		c.sendCommand(0, "_error", cmd.TxID, nil, info)
		c.closeAfterFlush()
		return errRejected
	}
	c.scope = sc
	c.enhanced.Store(enhanced)
	c.log = c.log.With("scope", sc.Path())
	c.rd.SetMaxMessageSize(orDefault(c.srv.MaxMessageSize, DefaultMaxMessageSize))
	win := orDefault(c.srv.WindowAckSize, DefaultWindowAckSize)
	c.sendControl(chunk.TypeWindowAckSize, message.U32(win))
	c.sendControl(chunk.TypeSetPeerBandwidth, message.PeerBandwidth(win, message.LimitDynamic))
	c.sendControl(chunk.TypeSetChunkSize, message.U32(orDefault(c.srv.ChunkSize, DefaultChunkSize)))
	c.sendControlUser(message.EventStreamBegin, 0)
	info := statusObject("status", codeConnectSuccess, "Connection succeeded.")
	info.Set("objectEncoding", c.objectEncoding)
	info.Set("data", amf.Obj("version", "3,5,7,7009"))
	c.sendCommand(0, "_result", cmd.TxID, c.connectProps(), info)
	c.log.Info("connected")
	return nil
}

// connectProps is the properties object of connect replies.
func (c *Conn) connectProps() *amf.Object {
	fms := c.srv.FMSVersion
	if fms == "" {
		fms = "FMS/3,5,7,7009"
	}
	props := amf.Obj("fmsVer", fms, "capabilities", 31.0, "mode", 1.0)
	if c.enhanced.Load() { // E-RTMP v2: the server states what it supports
		props.Set("capsEx", float64(capsExReconnect))
	}
	return props
}

func (c *Conn) onCreateStream(cmd *message.Command) {
	if len(c.streams) >= orDefault(c.srv.MaxStreams, DefaultMaxStreams) {
		c.sendCommand(0, "_error", cmd.TxID, nil, statusObject("error", codeCallFailed, "Too many streams on this connection."))
		return
	}
	c.nextStreamID++
	id := c.nextStreamID
	c.streams[id] = &netStream{id: id}
	c.sendCommand(0, "_result", cmd.TxID, nil, float64(id))
}

func (c *Conn) onPublish(msid uint32, cmd *message.Command) {
	ns := c.streams[msid]
	raw, _ := cmd.StringArg(0)
	name, query := scope.SplitName(raw)
	if ns == nil {
		c.sendStatus(msid, statusObject("error", codeFailed, "publish on a stream that was not created"))
		return
	}
	if ns.pub != nil || ns.play != nil {
		c.sendStatus(msid, statusObject("error", codePublishBadName, "The stream is already in use on this connection."))
		return
	}
	mode, _ := cmd.StringArg(1)
	if mode == "" {
		mode = "live"
	}
	// Encoders such as OBS and ffmpeg always publish "live"; the stream key
	// may ask for a recording instead: name?mode=record or name?mode=append.
	if mode == "live" && query != "" {
		if q, err := neturl.ParseQuery(query); err == nil {
			if m := q.Get("mode"); m == "record" || m == "append" {
				mode = m
			}
		}
	}
	// record and append: the recorder subscribes between the Publish hook and
	// stream.Publish, so that it sees the first keyframe and the headers.
	recordMode := mode == "record" || mode == "append"
	var (
		rec     *recording
		recErr  error
		prepare func(*stream.Stream) error
	)
	if recordMode {
		if c.srv.StreamsDir != "" {
			if _, err := flv.SafePath(c.srv.StreamsDir, c.scope.Path(), name); err != nil {
				c.log.Info("publish refused", "stream", name, "mode", mode, "err", err)
				c.sendStatus(msid, publishFailure(name, fmt.Errorf("%w: %w", scope.ErrBadName, err)))
				return
			}
		}
		prepare = func(st *stream.Stream) error {
			rec, recErr = c.srv.startRecording(st, c.scope, name, mode == "append", c, msid)
			return nil
		}
	}
	st, err := c.scope.PublishPrepared(c, raw, mode, prepare)
	if err != nil {
		if rec != nil {
			c.srv.stopRecording(rec, false)
			close(rec.announced)
		}
		c.log.Info("publish refused", "stream", name, "err", err)
		c.sendStatus(msid, publishFailure(name, err))
		return
	}
	ns.pub, ns.pubName = st, name
	c.log.Info("publishing", "stream", name, "mode", mode)
	c.sendControlUser(message.EventStreamBegin, msid)
	info := statusObject("status", codePublishStart, name+" is now published.")
	info.Set("details", name)
	c.sendStatus(msid, info)
	switch {
	case rec != nil:
		c.log.Info("recording started", "stream", name, "file", rec.rec.Path(), "append", mode == "append")
		c.sendStatus(msid, recordStatus(codeRecordStart, name))
		close(rec.announced)
	case recordMode:
		c.log.Warn("recording refused, publishing live", "stream", name, "err", recErr)
		c.sendStatus(msid, recordFailure(name, recErr))
	}
}

func (c *Conn) onPlay(msid uint32, cmd *message.Command) {
	raw, _ := cmd.StringArg(0)
	start, ok := cmd.NumberArg(1)
	if !ok {
		start = -2000
	}
	length, _ := cmd.NumberArg(2)
	reset := true
	if b, ok := cmd.BoolArg(3); ok {
		reset = b
	}
	c.startPlay(msid, raw, start, length, reset)
}

func (c *Conn) onPlay2(msid uint32, cmd *message.Command) {
	o, _ := cmd.Arg(0).(*amf.Object)
	if o == nil {
		c.sendStatus(msid, statusObject("error", codePlayFailed, "play2 needs a parameters object"))
		return
	}
	start, ok := o.GetNumber("start")
	if !ok {
		start = -2000
	}
	length, _ := o.GetNumber("len")
	c.startPlay(msid, o.GetString("streamName"), start, length, o.GetString("transition") != "append")
}

// startPlay starts a play on msid. start (ms) chooses what plays: −1000 the
// live stream only; ≥ 0 the recording from that offset (the live stream if
// there is no recording but a publisher); other negative values (−2000) the
// live stream if it is publishing, else the recording, else the live stream
// once it starts. length (ms) bounds the playback of a recording (0 or
// less: to the end).
func (c *Conn) startPlay(msid uint32, raw string, start, length float64, reset bool) {
	ns := c.streams[msid]
	name, _ := scope.SplitName(raw)
	if ns == nil {
		c.sendStatus(msid, statusObject("error", codeFailed, "play on a stream that was not created"))
		return
	}
	if ns.pub != nil {
		c.sendStatus(msid, statusObject("error", codePlayFailed, "The stream is publishing on this connection."))
		return
	}
	if ns.play != nil {
		c.stopPlay(ns, false)
	}
	live := false
	if st := c.scope.Stream(name); st != nil && st.Publisher() != nil {
		live = true
	}
	var path string
	switch {
	case start == -1000:
	case start >= 0:
		p, err := c.recordingPath(name)
		if err != nil && !live {
			c.log.Info("play: no recording", "stream", name, "err", err)
			c.sendNotFound(msid, name)
			return
		}
		path = p
	default:
		if !live {
			path, _ = c.recordingPath(name)
		}
	}
	if path != "" {
		c.playRecording(ns, raw, name, path, start, length, reset)
		return
	}
	st, sub, err := c.scope.Subscribe(c, raw, c.notify)
	if err != nil {
		c.log.Info("play refused", "stream", name, "err", err)
		c.sendStatus(msid, playFailure(name, err))
		return
	}
	c.sendPlayStart(msid, name, reset, false)
	ps := &playSub{msid: msid, name: name, st: st, sub: sub}
	ns.play = ps
	c.enqueue(outItem{op: opAddSub, sub: ps})
	c.log.Info("playing", "stream", name)
}

func (c *Conn) sendSampleAccess(msid uint32) {
	if p, err := message.AppendData(nil, "|RtmpSampleAccess", true, true); err == nil {
		c.enqueue(outItem{msg: &chunk.Message{ChunkStreamID: csidData, TypeID: chunk.TypeDataAMF0, StreamID: msid, Payload: p}})
	}
}

func (c *Conn) onPause(msid uint32, cmd *message.Command) {
	ns := c.streams[msid]
	if ns == nil || ns.play == nil {
		return
	}
	pause, _ := cmd.BoolArg(0)
	if v := ns.vod; v != nil {
		v.paused = pause
		if pause {
			v.src.Pause()
		} else {
			v.src.Resume()
		}
	}
	c.enqueue(outItem{op: opPause, sub: ns.play, flag: pause})
	if pause {
		c.sendStatus(msid, statusObject("status", codePauseNotify, "Paused "+ns.play.name+"."))
	} else {
		c.sendStatus(msid, statusObject("status", codeUnpauseNotify, "Unpaused "+ns.play.name+"."))
	}
}

// stopPlay ends a play; notify sends Play.Stop to the client.
func (c *Conn) stopPlay(ns *netStream, notify bool) {
	ps := ns.play
	ns.play = nil
	c.enqueue(outItem{op: opRemoveSub, sub: ps})
	if ns.vod != nil {
		c.stopRecordingPlay(ns)
	} else {
		c.scope.Unsubscribe(c, ps.st, ps.sub)
	}
	if notify {
		info := statusObject("status", codePlayStop, "Stopped playing "+ps.name+".")
		info.Set("details", ps.name)
		c.sendStatus(ns.id, info)
	}
}

// closeNetStream stops what the message stream publishes or plays.
func (c *Conn) closeNetStream(ns *netStream, notify bool) {
	if ns.pub != nil {
		// A recording of the stream ends with its publisher, before Unpublish,
		// so that the recorder writes everything the publisher sent.
		if r := c.srv.recordingOf(c.scope.Path(), ns.pubName); r != nil {
			c.srv.stopRecording(r, notify && r.conn == c)
		}
		c.scope.Unpublish(c, ns.pub)
		c.log.Info("unpublished", "stream", ns.pubName)
		if notify {
			info := statusObject("status", codeUnpublishSuccess, ns.pubName+" is now unpublished.")
			info.Set("details", ns.pubName)
			c.sendStatus(ns.id, info)
		}
		ns.pub, ns.pubName = nil, ""
	}
	if ns.play != nil {
		c.stopPlay(ns, notify)
	}
}

// onCall serves a client's nc.call: an application method on the scope's
// handler. The reply is _result(tx, null, value) or _error with Call.Failed.
// Methods run in their own goroutine, so that one may call the client back
// (whose _result the read loop must keep reading) and a slow one does not
// stall the connection; at most maxCallsInFlight run at once.
func (c *Conn) onCall(cmd *message.Command) {
	select {
	case c.callSem <- struct{}{}:
	default:
		if cmd.TxID != 0 {
			c.sendCommand(0, "_error", cmd.TxID, nil, callFailure(cmd.Name, errTooManyCalls))
		}
		return
	}
	sc := c.scope
	c.calls.Add(1)
	go func() {
		defer func() {
			<-c.callSem
			c.calls.Done()
		}()
		res, err := sc.Call(c.ctx, c, cmd.Name, cmd.Args)
		if cmd.TxID == 0 {
			if err != nil {
				c.log.Debug("call without reply failed", "method", cmd.Name, "err", err)
			}
			return
		}
		if err != nil {
			c.sendCommand(0, "_error", cmd.TxID, nil, callFailure(cmd.Name, err))
			return
		}
		c.sendCommand(0, "_result", cmd.TxID, nil, res)
	}()
}

// Call invokes method on the client and waits for its _result or _error.
func (c *Conn) Call(ctx context.Context, method string, args ...any) (any, error) {
	ch := make(chan callResult, 1)
	c.callMu.Lock()
	tx := c.nextTx
	c.nextTx++
	c.pending[tx] = ch
	c.callMu.Unlock()
	defer func() {
		c.callMu.Lock()
		delete(c.pending, tx)
		c.callMu.Unlock()
	}()
	c.sendCommand(0, method, tx, nil, args...)
	select {
	case r := <-ch:
		return r.value, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, net.ErrClosed
	}
}

// CallError is a client's _error reply to a server call.
type CallError struct{ Info any }

func (e *CallError) Error() string {
	if o, ok := e.Info.(*amf.Object); ok {
		return "rtmp: call failed: " + o.GetString("code") + ": " + o.GetString("description")
	}
	return fmt.Sprintf("rtmp: call failed: %v", e.Info)
}

func (c *Conn) resolveCall(cmd *message.Command) {
	c.callMu.Lock()
	ch := c.pending[cmd.TxID]
	delete(c.pending, cmd.TxID)
	c.callMu.Unlock()
	if ch == nil {
		return // a reply to nothing we asked: ignore, as Flash does
	}
	v := cmd.Arg(0)
	if v == nil && len(cmd.Args) == 0 {
		v = cmd.Object
	}
	if cmd.Name == "_error" {
		ch <- callResult{err: &CallError{Info: v}}
		return
	}
	ch <- callResult{value: v}
}

// onSharedObject applies a shared-object message (type 19, or 16 for AMF3)
// to the scope's objects. Malformed messages close the connection; refusals
// reach the client as SharedObject statuses and the connection goes on.
func (c *Conn) onSharedObject(m chunk.Message) error {
	so, err := sharedobject.Decode(m.Payload, m.TypeID == chunk.TypeSharedObjectAMF3, connectedAMF)
	if err != nil {
		return err
	}
	c.usedSO = true
	if err := c.scope.SharedObjects().Apply(c, &so); err != nil {
		if errors.Is(err, sharedobject.ErrMalformed) {
			return err
		}
		c.log.Debug("shared object refused", "name", so.Name, "err", err)
	}
	return nil
}

// AMF3 reports whether the client negotiated objectEncoding 3: its
// shared-object messages are type 16.
func (c *Conn) AMF3() bool { return c.objectEncoding == 3 }

var _ scope.Conn = (*Conn)(nil)
var _ scope.Caller = (*Conn)(nil)
