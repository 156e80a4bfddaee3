package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/cmd/internal/benchutil"
	"github.com/scopecast/scopecast/cmd/internal/procstat"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/sharedobject"
)

// Modes: the path chat messages take through the room's shared object.
const (
	// ModeChat: the chat path of docs/websocket.md. WebSocket clients send
	// {"type":"chat","text":…}; the bridge writes the attribute "message".
	// RTMP clients request a change of "message" to {from, text}. Receivers
	// see a change of "message" (WebSocket: a change frame; RTMP: event 4);
	// the sender gets an acknowledgement (ack frame; RTMP: success, event 5).
	ModeChat = "chat"
	// ModeSend: SharedObject send. WebSocket clients send
	// {"type":"send","handler":"onChatMessage","args":[text]}, RTMP clients a
	// send event; receivers see a message frame (RTMP: event 6). An RTMP
	// sender receives its own send too (shared-object semantics): counted as
	// an echo, not a delivery.
	ModeSend = "send"
)

// sendHandler is the handler name of ModeSend messages.
const sendHandler = "onChatMessage"

// Config is one run.
type Config struct {
	WSURL       string        // ws://host:port/app/room…
	RTMPURL     string        // rtmp://host:port/app/room… (the same room)
	SO          string        // shared object (default "chat", the bridge's default)
	Origin      string        // Origin header of the WebSocket clients (default http://<ws host>)
	WSClients   int           // WebSocket clients
	RTMPClients int           // RTMP clients
	Rate        float64       // messages per second, all senders together
	RTMPShare   float64       // share of the messages sent by RTMP clients (0..1)
	Writers     int           // clients that send, chosen at random once (0: any client, message by message)
	Duration    time.Duration // sending phase
	Ramp        float64       // connections opened per second (0: as fast as they complete, 64 at a time)
	Settle      time.Duration // after the last join: wait until no bytes arrived for this long (presence traffic)
	SettleMax   time.Duration // … but at most this long
	Drain       time.Duration // after the last send: wait at most this long for missing deliveries
	Timeout     time.Duration // per-connection dial + join timeout
	Mode        string        // ModeChat or ModeSend
	PID         int           // server process to measure (0: none)
	Seed        uint64        // random seed for sender choice (0: from the clock)
}

func (c *Config) defaults() {
	if c.SO == "" {
		c.SO = "chat"
	}
	if c.Mode == "" {
		c.Mode = ModeChat
	}
	if c.Timeout <= 0 {
		c.Timeout = 20 * time.Second
	}
	if c.Settle <= 0 {
		c.Settle = 500 * time.Millisecond
	}
	if c.SettleMax <= 0 {
		c.SettleMax = 60 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 5 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
}

// Client kinds.
const (
	kindWS   = 0
	kindRTMP = 1
)

// peer is one client. Its reader goroutine owns the fields below "reader";
// the sender goroutine writes through ws or rc.
type peer struct {
	idx  int
	kind int
	name string
	ws   *websocket.Conn
	rc   *client.Conn
	rx   *rxConn // the socket under ws or rc, with receive timestamps (nil: none)

	joined   chan struct{} // closed on the snapshot (WebSocket) or use success (RTMP)
	joinOnce sync.Once
	done     chan struct{} // closed when the reader ends
	dead     atomic.Bool   // the connection ended (read error) before the tool closed it
	sent     int           // messages this peer sent (sender goroutine)
	wbuf     []byte        // sender's scratch frame

	// reader (its arrivals are in bench.slots)
	dups      int    // further copies of a message already received
	echoes    int    // own messages received back
	acks      int    // acknowledgements of own messages
	errFrames int    // error frames / status events
	stray     int    // markers that did not parse or named an unknown id
	err       error  // the read error that ended the reader (nil: closed by the tool)
	errAt     int64  // when (ns since start)
	buf       []byte // WebSocket read buffer

	// Written by the reader, read by settle and drain: per peer, so that
	// the readers do not contend on shared counters.
	received atomic.Int64 // distinct messages of others received
	bytesIn  atomic.Int64 // bytes read
	_        [64]byte     // keeps the next peer's fields off this cache line
}

// bench is the state of a run.
type bench struct {
	cfg    Config
	start  time.Time
	marker []byte // "cb<nonce>|": marks this run's messages
	peers  []*peer

	// messages, indexed by id; written by the sender before the message is sent
	sendNs  []int64
	senders []int32
	nSent   atomic.Int64 // messages sent so far (ids below are valid)

	// slots[id*len(peers)+peer.idx] is message id's arrival at that peer,
	// written by the peer's reader. Message-major: the 1000 receivers of a
	// message write, within milliseconds, to one stretch of memory that stays
	// in the cache, rather than each to a line of its own table that the other
	// receivers' traffic evicted since its last message (a cache miss on
	// every delivery, 12 % of the tool's CPU at 1000 changes/s).
	slots []slot

	closing atomic.Bool // the tool is closing the clients: read errors are ours
}

// delivered returns the first deliveries to others so far, all peers.
func (b *bench) delivered() int64 {
	var n int64
	for _, p := range b.peers {
		n += p.received.Load()
	}
	return n
}

// bytesIn returns the bytes read so far by every peer.
func (b *bench) bytesIn() int64 {
	var n int64
	for _, p := range b.peers {
		n += p.bytesIn.Load()
	}
	return n
}

// slot is one message's arrival at one peer.
type slot struct {
	lat  int64 // latency in ns (0: not received)
	klat int64 // latency to the socket in ns (0: not received or no stamp)
}

// slot returns message id's arrival at p.
func (b *bench) slot(id int, p *peer) *slot { return &b.slots[id*len(b.peers)+p.idx] }

// now is the tool's clock: monotonic nanoseconds since the run started.
func (b *bench) now() int64 { return int64(time.Since(b.start)) }

// Run runs the benchmark and returns its report. Progress goes to logw.
func Run(ctx context.Context, cfg Config, logw io.Writer) (*Report, error) {
	cfg.defaults()
	if cfg.Mode != ModeChat && cfg.Mode != ModeSend {
		return nil, fmt.Errorf("mode %q: want %s or %s", cfg.Mode, ModeChat, ModeSend)
	}
	if cfg.WSClients+cfg.RTMPClients < 2 {
		return nil, errors.New("want at least two clients")
	}
	if cfg.Origin == "" {
		u, err := url.Parse(cfg.WSURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("-ws %q: not a ws:// URL", cfg.WSURL)
		}
		cfg.Origin = "http://" + u.Host
	}
	maxMsgs := max(int(math.Round(cfg.Rate*cfg.Duration.Seconds())), 1) // message k is due at k/Rate
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	b := &bench{
		cfg:     cfg,
		start:   time.Now(),
		marker:  fmt.Appendf(nil, "cb%06x|", rng.Uint32()&0xffffff),
		sendNs:  make([]int64, maxMsgs),
		senders: make([]int32, maxMsgs),
	}
	n := cfg.WSClients + cfg.RTMPClients
	b.peers = make([]*peer, n)
	// The arrival table, written through once now: the page faults of its
	// first touch (160 MB for 1000 clients × 10000 messages) happen here
	// rather than in the readers while the tool measures.
	b.slots = make([]slot, n*maxMsgs)
	clear(b.slots)
	for i := range b.peers {
		p := &peer{idx: i, kind: kindWS, joined: make(chan struct{}), done: make(chan struct{})}
		if i >= cfg.WSClients {
			p.kind = kindRTMP
			p.name = "rtmp-" + strconv.Itoa(i-cfg.WSClients)
		} else {
			p.name = "ws-" + strconv.Itoa(i)
		}
		b.peers[i] = p
	}
	defer b.closeAll()

	rep := &Report{Config: cfg, LoadBefore: procstat.LoadAvg()}
	var srv0, self0 procstat.Sample
	if cfg.PID > 0 {
		var err error
		if srv0, err = procstat.Read(cfg.PID); err != nil {
			return nil, fmt.Errorf("server pid %d: %w", cfg.PID, err)
		}
	}
	self0, _ = procstat.Read(0)

	// Join phase.
	fmt.Fprintf(logw, "scopecast-chatbench: opening %d WebSocket + %d RTMP clients\n", cfg.WSClients, cfg.RTMPClients)
	joinStart := time.Now()
	if err := b.connectAll(ctx); err != nil {
		return nil, err
	}
	rep.Join.ConnectS = benchutil.Round(time.Since(joinStart).Seconds(), 3)
	settle := b.settle(ctx)
	rep.Join.SettleS = benchutil.Round(settle.Seconds(), 3)
	rep.Join.Bytes = b.bytesIn()
	fmt.Fprintf(logw, "scopecast-chatbench: all joined in %.1f s, quiet after %.1f s more; sending %g msg/s for %v\n",
		rep.Join.ConnectS, rep.Join.SettleS, cfg.Rate, cfg.Duration)
	var srv1 procstat.Sample
	if cfg.PID > 0 {
		srv1, _ = procstat.Read(cfg.PID)
		rep.Join.ServerCPUS = benchutil.Round(srv1.CPU-srv0.CPU, 2)
	}
	self1, _ := procstat.Read(0)
	busy1 := procstat.CPUBusy()
	rep.Join.ToolCPUS = benchutil.Round(self1.CPU-self0.CPU, 2)
	for _, p := range b.peers { // the presence traffic is not the run's
		if p.dead.Load() {
			rep.Join.Dropped++
		}
	}
	bytes0 := b.bytesIn()

	// Send phase.
	sendStart := time.Now()
	late := b.sendLoop(ctx, rng)
	sendEnd := time.Now()
	drained := b.drain(ctx)
	runEnd := time.Now()
	var srv2 procstat.Sample
	if cfg.PID > 0 {
		srv2, _ = procstat.Read(cfg.PID)
	}
	self2, _ := procstat.Read(0)
	busy2 := procstat.CPUBusy()
	rep.LoadAfter = procstat.LoadAvg()
	rep.Run.BytesIn = b.bytesIn() - bytes0

	b.closeAll() // stops the readers: their state is ours from here on
	b.report(rep, sendStart, sendEnd, runEnd, drained, late)
	if cfg.PID > 0 {
		rep.Server = &ServerReport{
			PID:         cfg.PID,
			CPUSeconds:  benchutil.Round(srv2.CPU-srv1.CPU, 2),
			CPUCores:    benchutil.Round((srv2.CPU-srv1.CPU)/srv2.At.Sub(srv1.At).Seconds(), 3),
			RSSStartKB:  srv0.RSSKB,
			RSSJoinedKB: srv1.RSSKB,
			RSSEndKB:    srv2.RSSKB,
		}
		if n > 0 {
			rep.Server.RSSPerClientKB = benchutil.Round(float64(int64(srv1.RSSKB)-int64(srv0.RSSKB))/float64(n), 1)
		}
	}
	rep.Tool = ToolReport{
		CPUSeconds: benchutil.Round(self2.CPU-self1.CPU, 2),
		CPUCores:   benchutil.Round((self2.CPU-self1.CPU)/self2.At.Sub(self1.At).Seconds(), 3),
		RSSKB:      self2.RSSKB,
	}
	others := busy2 - busy1 - (self2.CPU - self1.CPU)
	if cfg.PID > 0 {
		others -= srv2.CPU - srv1.CPU
	}
	rep.OthersCores = benchutil.Round(max(others, 0)/self2.At.Sub(self1.At).Seconds(), 3)
	return rep, nil
}

// connectAll opens every client, paced by cfg.Ramp, and waits for each to
// join the object.
func (b *bench) connectAll(ctx context.Context) error {
	cfg := b.cfg
	parallel := 64
	var interval time.Duration
	if cfg.Ramp > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Ramp)
	}
	sem := make(chan struct{}, parallel)
	errc := make(chan error, len(b.peers))
	var wg sync.WaitGroup
	t0 := time.Now()
	// RTMP clients first, spread among the WebSocket ones would change
	// nothing: every client is joined before the first message.
	for i, p := range b.peers {
		if interval > 0 {
			if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := b.open(ctx, p); err != nil {
				errc <- fmt.Errorf("%s: %w", p.name, err)
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := ctx.Err(); err != nil {
		return err
	}
	var errs []error
	for err := range errc {
		errs = append(errs, err)
		if len(errs) == 5 {
			break
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("opening clients: %w", errors.Join(errs...))
	}
	return nil
}

// open dials p, starts its reader and waits until it joined the object.
func (b *bench) open(ctx context.Context, p *peer) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	if p.kind == kindWS {
		u, err := url.Parse(b.cfg.WSURL)
		if err != nil {
			return err
		}
		q := u.Query()
		q.Set("name", p.name)
		if b.cfg.SO != "chat" {
			q.Set("so", b.cfg.SO)
		}
		u.RawQuery = q.Encode()
		d := websocket.Dialer{HandshakeTimeout: b.cfg.Timeout, ReadBufferSize: 4096, WriteBufferSize: 1024,
			NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return p.wrap(nc), nil
			}}
		ws, resp, err := d.DialContext(ctx, u.String(), http.Header{"Origin": {b.cfg.Origin}})
		if err != nil {
			if resp != nil {
				return fmt.Errorf("websocket %s: HTTP %s (does the server mount the WebSocket bridge?): %w", u, resp.Status, err)
			}
			return fmt.Errorf("websocket %s: %w", u, err)
		}
		p.ws = ws
		p.buf = make([]byte, 1024)
		go b.readWS(p)
	} else {
		// The reader looks at each payload once, before its next read:
		// no allocation per message.
		rc, err := client.Dial(ctx, b.cfg.RTMPURL, client.Options{ConnectArgs: []any{p.name}, ReusePayloads: true, WrapConn: p.wrap})
		if err != nil {
			return fmt.Errorf("rtmp %s: %w", b.cfg.RTMPURL, err)
		}
		p.rc = rc
		go b.readRTMP(p)
		m := sharedobject.Message{Name: b.cfg.SO, Events: []sharedobject.Event{{Type: sharedobject.EventUse}}}
		if err := b.writeSO(p, &m); err != nil {
			return err
		}
	}
	select {
	case <-p.joined:
		return nil
	case <-p.done:
		return fmt.Errorf("closed before joining: %v", p.err)
	case <-ctx.Done():
		return fmt.Errorf("no snapshot / use success: %w", ctx.Err())
	}
}

func (b *bench) writeSO(p *peer, m *sharedobject.Message) error {
	payload, err := sharedobject.Append(p.wbuf[:0], m, false)
	if err != nil {
		return err
	}
	p.wbuf = payload
	// WriteMessage writes the payload out before it returns: the buffer is ours again.
	return p.rc.WriteMessage(&chunk.Message{ChunkStreamID: client.CSIDCommand, TypeID: chunk.TypeSharedObjectAMF0, Payload: payload})
}

// settle waits until no client has received anything for cfg.Settle (the
// presence updates of the joins have arrived), at most cfg.SettleMax.
func (b *bench) settle(ctx context.Context) time.Duration {
	t0 := time.Now()
	last := b.bytesIn()
	quietSince := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Since(t0) < b.cfg.SettleMax {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return time.Since(t0)
		}
		if v := b.bytesIn(); v != last {
			last, quietSince = v, time.Now()
		} else if time.Since(quietSince) >= b.cfg.Settle {
			return quietSince.Sub(t0)
		}
	}
	return time.Since(t0)
}

// sendLoop sends the messages at cfg.Rate from random clients (of the
// cfg.Writers chosen at the start, if set), one goroutine (so sends are spaced
// exactly). It returns the largest lateness of a send.
func (b *bench) sendLoop(ctx context.Context, rng *rand.Rand) time.Duration {
	cfg := b.cfg
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	writers := b.peers
	if cfg.Writers > 0 && cfg.Writers < len(writers) {
		writers = slices.Clone(writers)
		rng.Shuffle(len(writers), func(i, j int) { writers[i], writers[j] = writers[j], writers[i] })
		writers = writers[:cfg.Writers]
	}
	var ws, rt []*peer
	for _, p := range writers {
		if p.kind == kindWS {
			ws = append(ws, p)
		} else {
			rt = append(rt, p)
		}
	}
	pick := func() *peer {
		group := ws
		if len(rt) > 0 && (len(ws) == 0 || rng.Float64() < cfg.RTMPShare) {
			group = rt
		}
		for range 16 {
			if p := group[rng.IntN(len(group))]; !p.dead.Load() {
				return p
			}
		}
		return nil
	}
	var late time.Duration
	t0 := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for id := range len(b.sendNs) {
		due := t0.Add(time.Duration(id) * interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return late
			}
		} else if ctx.Err() != nil {
			return late
		}
		late = max(late, time.Since(due))
		p := pick()
		if p == nil {
			continue
		}
		ts := b.now()
		b.sendNs[id], b.senders[id] = ts, int32(p.idx)
		b.nSent.Store(int64(id + 1))
		if err := b.sendOne(p, id, ts); err != nil {
			b.sendNs[id] = -1 // not sent: not expected
			continue
		}
		p.sent++
	}
	return late
}

// sendOne sends message id from p: text "cb<nonce>|<id>|<ts>".
func (b *bench) sendOne(p *peer, id int, ts int64) error {
	text := make([]byte, 0, 48)
	text = append(text, b.marker...)
	text = strconv.AppendInt(text, int64(id), 10)
	text = append(text, '|')
	text = strconv.AppendInt(text, ts, 10)
	if p.kind == kindWS {
		f := p.wbuf[:0]
		if b.cfg.Mode == ModeChat {
			f = append(f, `{"type":"chat","text":"`...)
			f = append(f, text...)
			f = append(f, `"}`...)
		} else {
			f = append(f, `{"type":"send","handler":"`+sendHandler+`","args":["`...)
			f = append(f, text...)
			f = append(f, `"]}`...)
		}
		p.wbuf = f
		return p.ws.WriteMessage(websocket.TextMessage, f)
	}
	var ev sharedobject.Event
	if b.cfg.Mode == ModeChat {
		ev = sharedobject.Event{Type: sharedobject.EventRequestChange, Key: "message", Value: amf.Obj("from", p.name, "text", string(text))}
	} else {
		ev = sharedobject.Event{Type: sharedobject.EventSend, Args: []any{sendHandler, string(text)}}
	}
	return b.writeSO(p, &sharedobject.Message{Name: b.cfg.SO, Events: []sharedobject.Event{ev}})
}

// drain waits until every message sent reached every other client that is
// still connected, at most cfg.Drain. It reports whether all arrived.
func (b *bench) drain(ctx context.Context) bool {
	deadline := time.Now().Add(b.cfg.Drain)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var want int64
		alive := 0
		for _, p := range b.peers {
			if !p.dead.Load() {
				alive++
			}
		}
		sent := int(b.nSent.Load())
		for id := range sent {
			if b.sendNs[id] >= 0 {
				want += int64(alive - 1)
			}
		}
		if b.delivered() >= want {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false
		}
	}
}

// closeAll closes every client and waits for the readers. Idempotent.
func (b *bench) closeAll() {
	b.closing.Store(true)
	var wg sync.WaitGroup
	for _, p := range b.peers {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch {
			case p.ws != nil:
				p.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				p.ws.Close()
			case p.rc != nil:
				p.rc.Close()
			default:
				return
			}
			<-p.done
		}()
	}
	wg.Wait()
}

// record handles one marker found at the start of s (just past the marker):
// "<id>|<ts>". at is the tool's clock after the read that completed the
// message, kat the kernel's receive stamp of that read (Unix ns; 0: none):
// on the tool's clock, kat − the wall clock at the start (the wall clock
// and the monotonic clock advance together, only a step of the wall clock
// parts them).
func (b *bench) record(p *peer, s []byte, at, kat int64) {
	id, rest, ok := parseUint(s)
	if !ok || len(rest) == 0 || rest[0] != '|' {
		p.stray++
		return
	}
	ts, _, ok := parseUint(rest[1:])
	if !ok || id >= uint64(len(b.sendNs)) || id >= uint64(b.nSent.Load()) {
		p.stray++
		return
	}
	if int(b.senders[id]) == p.idx {
		p.echoes++
		return
	}
	sl := b.slot(int(id), p)
	if sl.lat != 0 {
		p.dups++
		return
	}
	sl.lat = max(at-int64(ts), 1)
	if kat != 0 {
		sl.klat = max(kat-b.start.UnixNano()-int64(ts), 1)
	}
	p.received.Add(1)
}

// scan records every marker of this run in frame.
func (b *bench) scan(p *peer, frame []byte, at, kat int64) {
	for {
		i := bytes.Index(frame, b.marker)
		if i < 0 {
			return
		}
		frame = frame[i+len(b.marker):]
		b.record(p, frame, at, kat)
	}
}

func parseUint(s []byte) (uint64, []byte, bool) {
	var v uint64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9' && i < 19; i++ {
		v = v*10 + uint64(s[i]-'0')
	}
	return v, s[i:], i > 0
}

// wrap is the dial hook of p's connection: it keeps the socket's receive
// timestamps where the system gives them.
func (p *peer) wrap(nc net.Conn) net.Conn {
	nc = wrapRX(nc)
	p.rx, _ = nc.(*rxConn)
	return nc
}

func (p *peer) markJoined() { p.joinOnce.Do(func() { close(p.joined) }) }

func (p *peer) fail(b *bench, err error) {
	p.err, p.errAt = err, b.now()
	p.dead.Store(true)
}

// readWS is the reader of a WebSocket client: it reads each frame's first
// len(p.buf) bytes (every frame of this run's messages fits) and discards the
// rest (presence snapshots and changes).
func (b *bench) readWS(p *peer) {
	defer close(p.done)
	for {
		_, r, err := p.ws.NextReader()
		if err != nil {
			if !b.closing.Load() {
				p.fail(b, err)
			}
			return
		}
		n, err := io.ReadFull(r, p.buf)
		at := b.now()
		switch err {
		case io.EOF, io.ErrUnexpectedEOF:
		case nil:
			m, _ := io.Copy(io.Discard, r)
			p.bytesIn.Add(m)
		default:
			if !b.closing.Load() {
				p.fail(b, err)
			}
			return
		}
		p.bytesIn.Add(int64(n))
		f := p.buf[:n]
		switch {
		case bytes.HasPrefix(f, []byte(`{"type":"ack"`)):
			p.acks++
		case bytes.HasPrefix(f, []byte(`{"type":"snapshot"`)):
			p.markJoined()
		case bytes.HasPrefix(f, []byte(`{"type":"error"`)):
			p.errFrames++
		case bytes.HasPrefix(f, []byte(`{"type":"change","key":"message"`)), bytes.HasPrefix(f, []byte(`{"type":"message"`)):
			b.scan(p, f, at, p.rx.lastRX())
		}
	}
}

// readRTMP is the reader of an RTMP client: it walks the events of every
// shared-object message without decoding values (presence values are large)
// and looks for markers in change and send events.
//
// A message's arrival time is the clock read just after the socket read
// that brought its last byte: a message that was whole in the client's
// buffer before ReadMessage (ReadMessage consumed no more than was
// buffered) keeps the time taken after the read that filled the buffer.
// That is one clock read per socket read instead of one per message.
func (b *bench) readRTMP(p *peer) {
	defer close(p.done)
	var at int64
	for {
		buffered, n0 := uint64(p.rc.Buffered()), p.rc.BytesRead()
		m, err := p.rc.ReadMessage()
		if err != nil {
			if !b.closing.Load() {
				p.fail(b, err)
			}
			return
		}
		if at == 0 || p.rc.BytesRead()-n0 > buffered {
			at = b.now()
		}
		p.bytesIn.Add(int64(len(m.Payload)))
		if m.TypeID != chunk.TypeSharedObjectAMF0 {
			continue
		}
		if err := b.walkSO(p, m.Payload, at, p.rx.lastRX()); err != nil {
			p.stray++
		}
	}
}

var errShort = errors.New("short shared-object message")

// walkSO reads the header and events of an AMF0 shared-object message.
func (b *bench) walkSO(p *peer, s []byte, at, kat int64) error {
	if len(s) < 2 {
		return errShort
	}
	nl := int(binary.BigEndian.Uint16(s))
	s = s[2:]
	if len(s) < nl+12 {
		return errShort
	}
	if string(s[:nl]) != b.cfg.SO {
		return nil
	}
	s = s[nl+12:] // name, version, flags, reserved
	for len(s) > 0 {
		if len(s) < 5 {
			return errShort
		}
		typ, n := sharedobject.EventType(s[0]), int(binary.BigEndian.Uint32(s[1:5]))
		s = s[5:]
		if len(s) < n {
			return errShort
		}
		body := s[:n]
		s = s[n:]
		switch typ {
		case sharedobject.EventUseSuccess:
			p.markJoined()
		case sharedobject.EventSuccess:
			if len(body) >= 2 && string(body[2:]) == "message" {
				p.acks++
			}
		case sharedobject.EventStatus:
			p.errFrames++
		case sharedobject.EventChange, sharedobject.EventSend:
			if typ == sharedobject.EventSend || len(body) >= 9 && string(body[:9]) == "\x00\x07message" {
				b.scan(p, body, at, kat)
			}
		}
	}
	return nil
}
