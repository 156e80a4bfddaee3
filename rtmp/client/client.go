// Package client is a minimal RTMP client for tests and the load tool: it
// dials over TCP (rtmp://) or HTTP (rtmpt://), runs the handshake and connect, creates streams, publishes, plays,
// makes and answers remote calls, and otherwise hands every message it does
// not consume itself to the caller, unchanged.
//
// It speaks RTMP through scopecast's wire packages (rtmp/chunk, rtmp/amf,
// rtmp/handshake, rtmp/message) and hides nothing: media payloads arrive as
// the server sent them, and statuses are returned as messages unless a method
// is waiting for them.
//
// # Concurrency
//
// A Conn is driven by one goroutine. The exceptions: WriteMessage (and
// Command) may run in a second goroutine while the first reads with
// ReadMessage — all writes are serialized internally, including the
// acknowledgements and ping responses ReadMessage sends — and Close may be
// called from anywhere. CreateStream, Publish, Play and Call read from the
// connection while they wait, so they must not run while another goroutine is
// in ReadMessage.
//
// # Errors and deadlines
//
// A read error, including an expired deadline or a cancelled context while a
// method waits, leaves the chunk stream in an unknown state: the Conn returns
// that error from then on and should be closed.
package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/handshake"
	"github.com/scopecast/scopecast/rtmp/message"
)

// Defaults for zero fields of Options.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultChunkSize = 4096
)

// Chunk stream ids WriteMessage uses for a message whose ChunkStreamID is 0.
const (
	CSIDControl = 2
	CSIDCommand = 3
	CSIDAudio   = 4
	CSIDData    = 5
	CSIDVideo   = 6
)

// Bounds on what a waiting method queues for ReadMessage.
const (
	maxQueued      = 8192
	maxQueuedBytes = 64 << 20
)

// decodeLimits bound the AMF the client decodes from the server.
var decodeLimits = amf.Limits{MaxDepth: 32, MaxStringLen: 1 << 20, MaxElements: 1 << 16, MaxTotal: 1 << 18}

// Options configure Dial. The zero value is usable.
type Options struct {
	Timeout        time.Duration // dial + handshake + connect reply (default 10s)
	Digest         bool          // FP9 digest handshake
	ObjectEncoding float64       // 0 or 3, sent in connect's objectEncoding
	ChunkSize      uint32        // outgoing chunk size announced after connect (default 4096)
	ConnectArgs    []any         // extra connect arguments after the command object
	// LocalAddr, if set, is the local address to dial from (a *net.TCPAddr;
	// e.g. to spread RTMPT sessions, which servers limit per client IP,
	// over several loopback addresses).
	LocalAddr net.Addr
	// ReusePayloads makes ReadMessage reuse payload buffers (see
	// chunk.Reader.SetReusePayloads): a returned payload is then valid only
	// until the next ReadMessage, CreateStream, Publish, Play or Call, which
	// may overwrite it; copy what you keep. It saves an allocation per
	// message for callers that look at each payload once (load tools).
	// Messages queued while a method waits are copied and stay valid until
	// ReadMessage returns them.
	ReusePayloads bool
	// WrapConn, if set, is given the dialled connection (a *net.TCPConn,
	// or the RTMPT session's net.Conn) before the handshake, and the Conn
	// reads and writes through what it returns: a load tool's socket-level
	// instrumentation, for instance (scopecast-chatbench reads kernel
	// receive timestamps this way).
	WrapConn func(net.Conn) net.Conn
}

// Handler answers a server → client call; see Conn.HandleCall.
type Handler func(args []any) (any, error)

// Conn is a connected RTMP client connection.
type Conn struct {
	nc net.Conn
	br *bufio.Reader
	rd *chunk.Reader

	wmu sync.Mutex // serializes writes
	wr  *chunk.Writer
	buf []byte // command encoding scratch, under wmu

	reuse       bool  // Options.ReusePayloads
	err         error // sticky read error
	queue       []chunk.Message
	qhead       int
	queuedBytes int
	window      uint32 // server's acknowledgement window
	lastAck     uint64
	nextTx      float64
	userDL      time.Time
	connectInfo *amf.Object

	hmu      sync.Mutex
	handlers map[string]Handler
}

// Dial connects to rtmp://host[:port]/app[/room…] (port 1935 by default)
// or, tunnelled over HTTP, rtmpt://host[:port]/app[/room…] (port 80 by
// default; scopecast serves RTMPT on its HTTP port, 5080 unless configured,
// so name it). The whole path is the connect "app" ("live/room1") and tcUrl
// is url itself. It runs the handshake and connect, then announces
// Options.ChunkSize. If the server answers connect with _error, Dial returns
// a *ConnectError. Options.Timeout bounds the whole of it, as does ctx.
//
// Over RTMPT the Conn runs on an HTTP session (POST /open/1, then /send,
// /idle and /close, one request at a time on one keep-alive connection,
// made by one goroutine that Close stops); each request is bounded by
// Options.Timeout. HTTP failures are ErrRTMPT; a session the server ended
// reads as io.EOF.
func Dial(ctx context.Context, url string, opts Options) (*Conn, error) {
	t, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var nc net.Conn
	if t.rtmpt {
		nc, err = dialRTMPT(ctx, t, opts.LocalAddr, timeout)
	} else {
		d := net.Dialer{LocalAddr: opts.LocalAddr}
		nc, err = d.DialContext(ctx, "tcp", t.addr)
	}
	if err != nil {
		return nil, err
	}
	if opts.WrapConn != nil {
		nc = opts.WrapConn(nc)
	}
	c := newConn(nc)
	if opts.ReusePayloads {
		c.reuse = true
		c.rd.SetReusePayloads(true)
	}
	if err := c.connect(ctx, url, t.app, opts); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func newConn(nc net.Conn) *Conn {
	br := bufio.NewReaderSize(nc, 16<<10)
	return &Conn{
		nc:       nc,
		br:       br,
		rd:       chunk.NewReader(br, chunk.Limits{}),
		wr:       chunk.NewWriter(nc, chunk.DefaultChunkSize),
		nextTx:   1,
		handlers: make(map[string]Handler),
	}
}

func (c *Conn) connect(ctx context.Context, url, app string, opts Options) error {
	restore := c.arm(ctx)
	err := handshake.Client(c.br, c.nc, opts.Digest)
	restore()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("client: handshake: %w", ctx.Err())
		}
		return err
	}
	obj := amf.Obj(
		"app", app,
		"type", "nonprivate",
		"flashVer", "FMLE/3.0 (compatible; scopecast-client)",
		"tcUrl", url,
		"fpad", false,
		"capabilities", 15.0,
		"audioCodecs", 3575.0,
		"videoCodecs", 252.0,
		"videoFunction", 1.0,
		"objectEncoding", opts.ObjectEncoding,
	)
	result, err := c.invoke(ctx, 0, "connect", obj, opts.ConnectArgs...)
	if err != nil {
		return err
	}
	info, _ := result.Arg(0).(*amf.Object)
	if result.Name == "_error" {
		e := &ConnectError{Info: info}
		if info != nil {
			e.Code, e.Description, e.Application = info.GetString("code"), info.GetString("description"), info.GetString("application")
		}
		return e
	}
	c.connectInfo = info
	size := opts.ChunkSize
	if size == 0 {
		size = DefaultChunkSize
	}
	if size != chunk.DefaultChunkSize {
		c.wmu.Lock()
		err := c.wr.WriteMessage(&chunk.Message{ChunkStreamID: CSIDControl, TypeID: chunk.TypeSetChunkSize, Payload: message.U32(size)})
		if err == nil {
			c.wr.SetChunkSize(size)
		}
		c.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// ConnectInfo returns the information object of the connect _result
// (code NetConnection.Connect.Success, objectEncoding, …).
func (c *Conn) ConnectInfo() *amf.Object { return c.connectInfo }

// HandleCall makes the client answer server → client calls of method name:
// when such a command arrives (in ReadMessage or while a method waits), fn
// runs and, if the command has a transaction id, its value is sent back in
// _result, or its error in _error (a *CallError's Info as is, any other error
// as a NetConnection.Call.Failed information object). The command is not
// returned by ReadMessage. A nil fn removes the handler. Safe to call from any
// goroutine.
func (c *Conn) HandleCall(name string, fn Handler) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if fn == nil {
		delete(c.handlers, name)
		return
	}
	c.handlers[name] = fn
}

func (c *Conn) handler(name string) Handler {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return c.handlers[name]
}

func (c *Conn) tx() float64 {
	tx := c.nextTx
	c.nextTx++
	return tx
}

// CreateStream creates a message stream and returns its id.
func (c *Conn) CreateStream(ctx context.Context) (uint32, error) {
	v, err := c.call(ctx, 0, "createStream", nil)
	if err != nil {
		return 0, err
	}
	f, ok := v.(float64)
	if !ok || f < 0 || f > 0xFFFFFFFF || f != float64(uint32(f)) {
		return 0, fmt.Errorf("%w: createStream result %v", ErrProtocol, v)
	}
	return uint32(f), nil
}

// Publish sends publish(name, mode) on message stream msid ("live" when mode
// is empty) and waits for its onStatus: nil for NetStream.Publish.Start,
// a *StatusError for an error status. Other statuses on msid are queued for
// ReadMessage.
func (c *Conn) Publish(ctx context.Context, msid uint32, name, mode string) error {
	if mode == "" {
		mode = "live"
	}
	if err := c.Command(msid, "publish", 0, nil, name, mode); err != nil {
		return err
	}
	return c.awaitStatus(ctx, msid, "NetStream.Publish.Start")
}

// Play sends play(name, start) on message stream msid (start −2000 plays
// live or recorded, −1000 live only) and waits for NetStream.Play.Start, or
// returns a *StatusError for an error status. Everything else that arrives
// meanwhile (Stream Begin, NetStream.Play.Reset, …) is queued for
// ReadMessage, and so is what follows Play.Start.
func (c *Conn) Play(ctx context.Context, msid uint32, name string, start float64) error {
	if err := c.Command(msid, "play", 0, nil, name, start); err != nil {
		return err
	}
	return c.awaitStatus(ctx, msid, "NetStream.Play.Start")
}

func (c *Conn) awaitStatus(ctx context.Context, msid uint32, want string) error {
	var status *amf.Object
	err := c.await(ctx, func(m *chunk.Message, cmd *message.Command) bool {
		if cmd.Name != "onStatus" || m.StreamID != msid {
			return false
		}
		info, _ := cmd.Arg(0).(*amf.Object)
		if info == nil {
			return false
		}
		if info.GetString("code") == want || info.GetString("level") == "error" {
			status = info
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	if status.GetString("code") == want {
		return nil
	}
	return &StatusError{
		Level:       status.GetString("level"),
		Code:        status.GetString("code"),
		Description: status.GetString("description"),
		Info:        status,
	}
}

// Call invokes method on the server (nc.call) with a fresh transaction id
// and waits for the reply: the _result's value (its first argument after the
// null command object), or a *CallError carrying the _error's information.
func (c *Conn) Call(ctx context.Context, method string, args ...any) (any, error) {
	return c.call(ctx, 0, method, nil, args...)
}

func (c *Conn) call(ctx context.Context, msid uint32, method string, obj any, args ...any) (any, error) {
	reply, err := c.invoke(ctx, msid, method, obj, args...)
	if err != nil {
		return nil, err
	}
	v := reply.Arg(0)
	if len(reply.Args) == 0 {
		v = reply.Object
	}
	if reply.Name == "_error" {
		return nil, newCallError(v)
	}
	return v, nil
}

// invoke sends method with a fresh transaction id and returns the reply to
// it, _result or _error.
func (c *Conn) invoke(ctx context.Context, msid uint32, method string, obj any, args ...any) (message.Command, error) {
	tx := c.tx()
	if err := c.Command(msid, method, tx, obj, args...); err != nil {
		return message.Command{}, err
	}
	var reply message.Command
	err := c.await(ctx, func(m *chunk.Message, cmd *message.Command) bool {
		if (cmd.Name == "_result" || cmd.Name == "_error") && cmd.TxID == tx {
			reply = *cmd
			return true
		}
		return false
	})
	return reply, err
}

// Command sends the AMF0 command name with transaction id tx, command object
// obj (nil for null) and args on message stream msid, chunk stream 3. It does
// not wait for anything.
func (c *Conn) Command(msid uint32, name string, tx float64, obj any, args ...any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	p, err := message.AppendCommand(c.buf[:0], name, tx, obj, args...)
	if err != nil {
		return err
	}
	c.buf = p
	return c.wr.WriteMessage(&chunk.Message{ChunkStreamID: CSIDCommand, TypeID: chunk.TypeCommandAMF0, StreamID: msid, Payload: p})
}

// WriteMessage sends m as is, at the announced chunk size, with one write.
// A ChunkStreamID of 0 picks the usual one for the type: 2 for protocol
// control, 3 for commands, 4 audio, 5 data, 6 video (and 3 otherwise).
// It may run concurrently with ReadMessage.
func (c *Conn) WriteMessage(m *chunk.Message) error {
	if m.ChunkStreamID == 0 {
		mm := *m
		mm.ChunkStreamID = defaultCSID(m.TypeID)
		m = &mm
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.wr.WriteMessage(m)
}

func defaultCSID(typ uint8) uint32 {
	switch typ {
	case chunk.TypeSetChunkSize, chunk.TypeAbort, chunk.TypeAck, chunk.TypeUserControl,
		chunk.TypeWindowAckSize, chunk.TypeSetPeerBandwidth:
		return CSIDControl
	case chunk.TypeAudio:
		return CSIDAudio
	case chunk.TypeVideo:
		return CSIDVideo
	case chunk.TypeDataAMF0, chunk.TypeDataAMF3:
		return CSIDData
	}
	return CSIDCommand
}

// ReadMessage returns the next message from the server that the client does
// not consume itself. The client answers Ping Requests (not returned),
// applies Set Chunk Size and Abort (the chunk reader does), sends
// acknowledgements per the server's Window Acknowledgement Size (the message
// is returned too), answers calls registered with HandleCall (not
// returned), and returns everything else — media, data, onStatus, _result of
// unknown transactions — including what arrived while CreateStream,
// Publish, Play or Call were waiting, in order. The payload belongs to the
// caller (with Options.ReusePayloads only until the next read).
func (c *Conn) ReadMessage() (chunk.Message, error) {
	for {
		if c.qhead < len(c.queue) {
			m := c.queue[c.qhead]
			c.queue[c.qhead] = chunk.Message{}
			c.qhead++
			c.queuedBytes -= len(m.Payload)
			if c.qhead == len(c.queue) {
				c.queue, c.qhead = c.queue[:0], 0
			}
			return m, nil
		}
		m, consumed, err := c.next()
		if err != nil {
			return chunk.Message{}, err
		}
		if !consumed {
			return m, nil
		}
	}
}

// next reads one message and handles what the client consumes itself.
func (c *Conn) next() (m chunk.Message, consumed bool, err error) {
	if c.err != nil {
		return m, false, c.err
	}
	m, err = c.rd.ReadMessage()
	if err != nil {
		c.err = err
		return m, false, err
	}
	if c.window > 0 {
		if n := c.rd.BytesRead(); n-c.lastAck >= uint64(c.window) {
			c.lastAck = n
			if err := c.WriteMessage(&chunk.Message{ChunkStreamID: CSIDControl, TypeID: chunk.TypeAck, Payload: message.U32(uint32(n))}); err != nil {
				return m, false, err
			}
		}
	}
	switch m.TypeID {
	case chunk.TypeWindowAckSize:
		if v, err := message.ParseU32(m.Payload); err == nil {
			c.window = v
		}
	case chunk.TypeUserControl:
		ev, arg, _, err := message.ParseUserControl(m.Payload)
		if err == nil && ev == message.EventPingRequest {
			return m, true, c.WriteMessage(&chunk.Message{ChunkStreamID: CSIDControl, TypeID: chunk.TypeUserControl,
				Payload: message.UserControl(message.EventPingResponse, arg)})
		}
	case chunk.TypeCommandAMF0, chunk.TypeCommandAMF3:
		if c.hasHandlers() {
			cmd, err := message.DecodeCommand(m.Payload, m.TypeID == chunk.TypeCommandAMF3, decodeLimits)
			if err == nil {
				if fn := c.handler(cmd.Name); fn != nil {
					return m, true, c.answer(m.StreamID, &cmd, fn)
				}
			}
		}
	}
	return m, false, nil
}

func (c *Conn) hasHandlers() bool {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return len(c.handlers) > 0
}

func (c *Conn) answer(msid uint32, cmd *message.Command, fn Handler) error {
	v, err := fn(cmd.Args)
	if cmd.TxID == 0 {
		return nil
	}
	if err != nil {
		var ce *CallError
		var info any
		if errors.As(err, &ce) && ce.Info != nil {
			info = ce.Info
		} else {
			info = amf.Obj("level", "error", "code", "NetConnection.Call.Failed", "description", err.Error())
		}
		return c.Command(msid, "_error", cmd.TxID, nil, info)
	}
	return c.Command(msid, "_result", cmd.TxID, nil, v)
}

// await reads until match accepts a command, queueing every other message
// for ReadMessage. ctx bounds the wait.
func (c *Conn) await(ctx context.Context, match func(*chunk.Message, *message.Command) bool) error {
	restore := c.arm(ctx)
	defer restore()
	for {
		m, consumed, err := c.next()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("client: waiting for reply: %w", ctx.Err())
			}
			return err
		}
		if consumed {
			continue
		}
		if m.TypeID == chunk.TypeCommandAMF0 || m.TypeID == chunk.TypeCommandAMF3 {
			cmd, err := message.DecodeCommand(m.Payload, m.TypeID == chunk.TypeCommandAMF3, decodeLimits)
			if err == nil && match(&m, &cmd) {
				return nil
			}
		}
		if len(c.queue)-c.qhead >= maxQueued || c.queuedBytes+len(m.Payload) > maxQueuedBytes {
			c.err = ErrQueueFull
			return ErrQueueFull
		}
		if c.reuse {
			// The reader reuses the buffer with the next message of
			// this chunk stream: the queue keeps a copy. With reuse,
			// a queued payload is thus valid until ReadMessage returns
			// it and then until the next read, as any other.
			m.Payload = append(make([]byte, 0, len(m.Payload)), m.Payload...)
		}
		c.queue = append(c.queue, m)
		c.queuedBytes += len(m.Payload)
	}
}

// arm applies ctx's deadline (or the user's, if earlier) to the connection
// and unblocks reads when ctx is cancelled; the returned func restores the
// user's deadline.
func (c *Conn) arm(ctx context.Context) (restore func()) {
	dl := c.userDL
	if d, ok := ctx.Deadline(); ok && (dl.IsZero() || d.Before(dl)) {
		dl = d
	}
	c.nc.SetDeadline(dl)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.nc.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	return func() {
		if !stop() {
			<-fired
		}
		c.nc.SetDeadline(c.userDL)
	}
}

// SetDeadline sets the read and write deadline of the connection, as
// net.Conn.SetDeadline does; methods that wait use the earlier of it and
// their context's deadline. An expired read deadline breaks the Conn (see
// the package documentation).
func (c *Conn) SetDeadline(t time.Time) error {
	c.userDL = t
	return c.nc.SetDeadline(t)
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// BytesRead returns the number of bytes read from the server so far
// (after the handshake).
func (c *Conn) BytesRead() uint64 { return c.rd.BytesRead() }

// Buffered returns the number of bytes taken off the connection but not yet
// consumed by ReadMessage (or a waiting method). A ReadMessage that advances
// BytesRead by no more than Buffered said before it returns a message that
// had already arrived: it did not read from the connection. Load tools use
// it to read the clock once per socket read rather than once per message.
func (c *Conn) Buffered() int { return c.br.Buffered() }

// Close closes the connection. It may be called from any goroutine; a
// ReadMessage in progress returns an error.
func (c *Conn) Close() error { return c.nc.Close() }
