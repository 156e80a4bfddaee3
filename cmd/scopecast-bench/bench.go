package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopecast/scopecast/cmd/internal/procstat"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
)

// Measurement constants (see behindDefinition).
const (
	bucketMS      = 100              // players count bytes per 100 ms of timestamps
	bucketSlack   = 30 * time.Second // timestamps beyond the run a player can see (GOP cache)
	tailSlackMS   = 1000             // the last second the publisher sent is not judged
	minJudgedMS   = 1000             // a player needs this much judged timeline
	behindRatio   = 0.95             // below this share of the publisher's bytes: behind
	refReadyWait  = 10 * time.Second // no-publish: wait this long for the reference's first frame
	defaultPlayTO = 10 * time.Second // per-player connect + play timeout
	publishGrace  = 10 * time.Second // publisher socket deadline after the end
	gapCapFactor  = 1.25             // gap slice capacity: expected frames × this
	defaultFPS    = 30.0             // gap slice sizing when the frame rate is unknown
	maxRefEntries = 10 << 20         // bound on the reference timeline
	playStart     = -1000            // play start argument: live only
)

const behindDefinition = "a player is behind if, over the RTMP timestamp range from its first video frame's " +
	"timestamp up to 1 s before the last timestamp the publisher sent by the end of the run, it received " +
	"less than 95% of the audio+video payload bytes the publisher sent in that range (counted by timestamp, " +
	"in 100 ms steps); players with less than 1 s of such range are not judged"

const behindDefinitionRef = "as with a publisher, but the reference is an extra player connected before the others " +
	"(with -no-publish the tool cannot see the publisher): a player is behind if it received less than 95% of the " +
	"audio+video payload bytes the reference received over the same timestamp range"

// Config is one run of the benchmark.
type Config struct {
	URL        string        // rtmp[t]://host[:port]/app[/room…]/stream (the publisher; the players unless PlayerURL)
	PlayerURL  string        // the players' URL of the same stream, e.g. over RTMPT, or http(s)://…/stream.flv (HTTP-FLV), ws://…/stream.flv (WebSocket-FLV) (empty: URL)
	SourceIPs  []net.IP      // local addresses for the players, in turn (empty: the system's choice)
	FLV        string        // file to publish (required unless NoPublish)
	Players    int           // players to open
	Duration   time.Duration // whole run, ramp included
	Ramp       float64       // players started per second; 0: all at once
	PID        int           // server process to measure (0: none)
	NoPublish  bool          // play a stream someone else publishes
	PlayTO     time.Duration // per-player connect + play timeout (default 10s)
	FFmpegLine string        // the ffmpeg command that generated FLV, for the report
}

// refEntry is one media message of the reference timeline.
type refEntry struct {
	ts   uint32
	size uint32
}

// player is the state of one player; only its goroutine writes it until
// the run's WaitGroup is done.
type player struct {
	started   bool
	connected bool
	err       error // connect/play failure, or the read error that ended it early
	dropped   bool  // connected, then lost before the end

	playSent  time.Time
	joinedAt  time.Time
	firstAt   time.Time
	firstTS   uint32
	haveFirst bool
	firstKey  bool

	bytes   uint64   // audio+video payload bytes received before the end
	buckets []uint32 // bytes by (ts - firstTS) / bucketMS, from the first frame on
	gaps    []int32  // µs between consecutive video frames
	lastV   time.Time
	maxGap  time.Duration
	liveTS  uint32 // frames from this timestamp on were published after play
	live    bool   // the previous frame was live

	local net.Addr // the address to dial from (nil: any)

	// latency[ms] counts live video frames received ms after the publisher
	// sent them (the last bucket: that long or longer).
	latency *[latencyBuckets]uint32
}

// latencyBuckets bounds the delivery latency histogram (1 ms buckets).
const latencyBuckets = 4096

type bench struct {
	cfg      Config
	connURL  string // the publisher's
	name     string
	playURL  string // the players' connection URL
	playName string
	flvURL   *url.URL // HTTP-FLV or WebSocket-FLV players (PlayerURL http:// or ws://)
	src      *source
	// sendAt[ts] is when the publisher sent the video frame of timestamp ts
	// (unix ns; 0: none): players measure their delivery latency with it.
	sendAt  []atomic.Int64
	endAt   time.Time    // set before any player starts
	pubEnd  atomic.Int64 // endAt for the publisher, which starts first (unix ns; 0: not yet)
	stopped atomic.Bool
	pubSID  uint32
	// pubBegin is when the publisher's timestamp 0 was due (unix ns; 0 with
	// -no-publish): frames with older timestamps than a player's play time
	// came from the GOP cache.
	pubBegin atomic.Int64

	mu      sync.Mutex
	conns   map[io.Closer]struct{}
	players []player
	wg      sync.WaitGroup

	// Reference timeline: the publisher's sent media, or the reference player's.
	ref       []refEntry
	refBytes  uint64
	refMsgs   int
	refLoops  int
	refPlayer *player
	pubErr    error
}

// Run runs the benchmark and returns its report. Progress and diagnostics go
// to logw (one line per phase, never per message).
func Run(ctx context.Context, cfg Config, logw io.Writer) (*Report, error) {
	if cfg.Players < 0 || cfg.Duration <= 0 {
		return nil, fmt.Errorf("need players >= 0 and a positive duration")
	}
	if cfg.PlayTO <= 0 {
		cfg.PlayTO = defaultPlayTO
	}
	connURL, name := client.SplitStreamURL(cfg.URL)
	if name == "" {
		return nil, fmt.Errorf("-url %q: want rtmp[t]://host[:port]/app[/room…]/stream", cfg.URL)
	}
	r := &bench{cfg: cfg, connURL: connURL, name: name, playURL: connURL, playName: name, conns: make(map[io.Closer]struct{})}
	if u, ok, err := parseFLVURL(cfg.PlayerURL); err != nil {
		return nil, err
	} else if ok {
		r.flvURL = u
	} else if cfg.PlayerURL != "" {
		if r.playURL, r.playName = client.SplitStreamURL(cfg.PlayerURL); r.playName == "" {
			return nil, fmt.Errorf("-player-url %q: want rtmp[t]://host[:port]/app[/room…]/stream", cfg.PlayerURL)
		}
	}
	if !cfg.NoPublish {
		if cfg.FLV == "" {
			return nil, fmt.Errorf("no FLV file to publish (-flv, or let the tool generate one)")
		}
		src, err := loadSource(cfg.FLV)
		if err != nil {
			return nil, err
		}
		r.src = src
		r.sendAt = make([]atomic.Int64, int((cfg.Duration+publishGrace)/time.Millisecond))
	}
	fps := defaultFPS
	if r.src != nil && r.src.videoFPS > 0 {
		fps = r.src.videoFPS
	}
	nBuckets := int((cfg.Duration + bucketSlack) / (bucketMS * time.Millisecond))
	gapCap := int(cfg.Duration.Seconds()*fps*gapCapFactor) + 16
	r.players = make([]player, cfg.Players)
	bucketMem := make([]uint32, nBuckets*cfg.Players)
	gapMem := make([]int32, gapCap*cfg.Players)
	latMem := make([][latencyBuckets]uint32, cfg.Players)
	for i := range r.players {
		r.players[i].latency = &latMem[i]
		r.players[i].buckets = bucketMem[i*nBuckets : (i+1)*nBuckets : (i+1)*nBuckets]
		r.players[i].gaps = gapMem[i*gapCap : i*gapCap : (i+1)*gapCap]
	}

	// The stream: our publisher, or a reference player of someone else's.
	var pubWG sync.WaitGroup
	var pubConn *client.Conn
	pubCtx, pubCancel := context.WithCancel(ctx)
	defer pubCancel()
	ready := make(chan struct{})
	if !cfg.NoPublish {
		c, err := r.startPublisher(ctx)
		if err != nil {
			return nil, fmt.Errorf("publisher: %w", err)
		}
		pubConn = c
		r.ref = make([]refEntry, 0, min(maxRefEntries, int((cfg.Duration.Seconds()+1)*r.src.msgPerSec*1.1)+64))
		pubWG.Add(2)
		go func() {
			defer pubWG.Done()
			for {
				if _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
		go func() {
			defer pubWG.Done()
			r.pubErr = r.publish(pubCtx, c, ready)
		}()
		select {
		case <-ready:
		case <-ctx.Done():
			c.Close()
			pubWG.Wait()
			return nil, ctx.Err()
		}
	}

	start := time.Now()
	r.endAt = start.Add(cfg.Duration)
	r.pubEnd.Store(r.endAt.UnixNano())
	if cfg.NoPublish {
		rp := &player{buckets: make([]uint32, nBuckets), gaps: make([]int32, 0, gapCap), latency: new([latencyBuckets]uint32)}
		r.refPlayer = rp
		r.ref = make([]refEntry, 0, 4096)
		first := make(chan struct{})
		r.wg.Add(1)
		go r.play(ctx, rp, first)
		t := time.NewTimer(refReadyWait)
		select {
		case <-first:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		if !rp.haveFirstSafe(r) {
			r.closeAll()
			r.wg.Wait()
			err := rp.err
			if err == nil {
				err = errors.New("no video frame")
			}
			return nil, fmt.Errorf("reference player of %s: %w", cfg.URL, err)
		}
	}

	var before procstat.Sample
	if cfg.PID > 0 {
		var err error
		if before, err = procstat.Read(cfg.PID); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(logw, "scopecast-bench: %d players on %s for %v\n", cfg.Players, cfg.URL, cfg.Duration)

	// Ramp the players up.
	endTimer := time.NewTimer(time.Until(r.endAt))
	defer endTimer.Stop()
	canceled := false
	var tick *time.Timer
ramp:
	for i := range r.players {
		if cfg.Ramp > 0 && i > 0 {
			due := start.Add(time.Duration(float64(i) / cfg.Ramp * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				if tick == nil {
					tick = time.NewTimer(d)
				} else {
					tick.Reset(d)
				}
				select {
				case <-tick.C:
				case <-endTimer.C:
					break ramp
				case <-ctx.Done():
					canceled = true
					break ramp
				}
			}
		}
		if !time.Now().Before(r.endAt) {
			break
		}
		p := &r.players[i]
		p.started = true
		if n := len(cfg.SourceIPs); n > 0 {
			p.local = &net.TCPAddr{IP: cfg.SourceIPs[i%n]}
		}
		r.wg.Add(1)
		go r.play(ctx, p, nil)
	}
	if tick != nil {
		tick.Stop()
	}
	if !canceled {
		select {
		case <-endTimer.C:
		case <-ctx.Done():
			canceled = true
		}
	}
	end := time.Now()
	r.stopped.Store(true)
	var after procstat.Sample
	var procErr error
	if cfg.PID > 0 {
		after, procErr = procstat.Read(cfg.PID)
	}
	r.closeAll()
	r.wg.Wait()
	pubCancel()
	if pubConn != nil {
		pubConn.Close()
	}
	pubWG.Wait()

	rep := r.report(start, end)
	if cfg.PID > 0 {
		if procErr != nil {
			return nil, procErr
		}
		rep.addServer(cfg.PID, before, after)
	}
	if canceled {
		rep.Interrupted = true
	}
	return rep, nil
}

// haveFirstSafe reads the reference player's first-frame flag under the run lock.
func (p *player) haveFirstSafe(r *bench) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return p.haveFirst
}

func (r *bench) register(c io.Closer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped.Load() {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *bench) unregister(c io.Closer) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// closeAll closes every player connection (their reads end at once),
// several at a time: closing an RTMPT connection waits for its poller,
// which may be in a poll the server holds for 50 ms.
func (r *bench) closeAll() {
	r.mu.Lock()
	conns := make([]io.Closer, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	work := make(chan io.Closer)
	var wg sync.WaitGroup
	for range min(len(conns), 64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.Close()
			}
		}()
	}
	for _, c := range conns {
		work <- c
	}
	close(work)
	wg.Wait()
}

func (r *bench) startPublisher(ctx context.Context) (*client.Conn, error) {
	c, err := client.Dial(ctx, r.connURL, client.Options{Timeout: r.cfg.PlayTO})
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.PlayTO)
	defer cancel()
	sid, err := c.CreateStream(cctx)
	if err == nil {
		err = c.Publish(cctx, sid, r.name, "live")
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	r.pubSID = sid
	c.SetDeadline(time.Now().Add(r.cfg.Duration + publishGrace + r.cfg.PlayTO))
	return c, nil
}

// publish sends the source at real-time pace by tag timestamps, looping with
// monotonic timestamps, until the end of the run. It closes ready once the
// first video keyframe (or, without video, the first media message) is out.
func (r *bench) publish(ctx context.Context, c *client.Conn, ready chan struct{}) error {
	sid := r.pubSID
	readyOnce := sync.OnceFunc(func() { close(ready) })
	defer readyOnce()
	begin := time.Now()
	r.pubBegin.Store(begin.UnixNano())
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var offset uint32
	msg := chunk.Message{StreamID: sid}
	for loop := 0; ; loop++ {
		r.refLoops = loop
		for i := range r.src.tags {
			t := &r.src.tags[i]
			if loop > 0 && t.typ == chunk.TypeDataAMF0 {
				continue // metadata once
			}
			ts := offset + t.ts
			due := begin.Add(time.Duration(ts) * time.Millisecond)
			if e := r.pubEnd.Load(); e != 0 && due.UnixNano() >= e {
				return nil
			}
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return nil
				}
			}
			if r.stopped.Load() {
				return nil
			}
			msg.ChunkStreamID, msg.TypeID, msg.Timestamp, msg.Payload = 0, t.typ, ts, t.payload
			if err := c.WriteMessage(&msg); err != nil {
				if r.stopped.Load() || ctx.Err() != nil {
					return nil
				}
				return err
			}
			if t.typ == chunk.TypeDataAMF0 {
				continue
			}
			if t.typ == chunk.TypeVideo && int64(ts) < int64(len(r.sendAt)) {
				r.sendAt[ts].Store(time.Now().UnixNano())
			}
			if len(r.ref) < maxRefEntries {
				r.ref = append(r.ref, refEntry{ts: ts, size: uint32(len(t.payload))})
			}
			r.refBytes += uint64(len(t.payload))
			r.refMsgs++
			if frame, key := videoInfo(t.payload); t.typ == chunk.TypeAudio && r.src.videoFPS == 0 || t.typ == chunk.TypeVideo && frame && key {
				readyOnce()
			}
		}
		offset += r.src.span
	}
}

// play runs one player until the end of the run. first, if not nil, is
// closed at the first video frame (the reference player).
func (r *bench) play(ctx context.Context, p *player, first chan struct{}) {
	defer r.wg.Done()
	dctx, cancel := context.WithDeadline(ctx, r.endAt)
	defer cancel()
	if r.flvURL != nil && p != r.refPlayer {
		r.playFLV(dctx, p)
		return
	}
	url, name := r.playURL, r.playName
	if p == r.refPlayer { // with -no-publish the reference plays -url
		url, name = r.connURL, r.name
	}
	c, err := client.Dial(dctx, url, client.Options{Timeout: r.cfg.PlayTO, LocalAddr: p.local})
	if err != nil {
		p.err = connectErr("connect", err, r)
		return
	}
	defer c.Close()
	if !r.register(c) {
		p.err = errors.New("connect: not finished by the end of the run")
		return
	}
	defer r.unregister(c)
	c.SetDeadline(r.endAt)
	pctx, pcancel := context.WithTimeout(dctx, r.cfg.PlayTO)
	sid, err := c.CreateStream(pctx)
	if err != nil {
		pcancel()
		p.err = connectErr("createStream", err, r)
		return
	}
	p.playSent = time.Now()
	err = c.Play(pctx, sid, name, playStart)
	pcancel()
	if err != nil {
		p.err = connectErr("play", err, r)
		return
	}
	r.joined(p)
	for {
		m, err := c.ReadMessage()
		if err != nil {
			r.readEnded(p, err)
			return
		}
		if r.receive(p, first, m.TypeID, m.Timestamp, m.Payload) {
			return
		}
	}
}

// joined marks a player connected: its play succeeded.
func (r *bench) joined(p *player) {
	p.connected = true
	p.joinedAt = time.Now()
	if b := r.pubBegin.Load(); b != 0 && p.playSent.UnixNano() > b {
		p.liveTS = uint32((p.playSent.UnixNano() - b) / int64(time.Millisecond))
	}
}

// readEnded records why a player's reading ended before the end of the run.
func (r *bench) readEnded(p *player, err error) {
	if !r.stopped.Load() && time.Now().Before(r.endAt) {
		p.err, p.dropped = fmt.Errorf("read: %w", err), true
	}
}

// receive counts one message a player got (type, timestamp, payload as in
// RTMP and FLV alike). It reports whether the run is over for the player.
func (r *bench) receive(p *player, first chan struct{}, typ uint8, ts uint32, payload []byte) bool {
	ref := p == r.refPlayer
	switch typ {
	case chunk.TypeAudio:
	case chunk.TypeVideo:
		frame, key := videoInfo(payload)
		if !frame {
			break
		}
		now := time.Now()
		if !now.Before(r.endAt) {
			return true
		}
		if !p.haveFirst {
			if ref {
				r.mu.Lock()
			}
			p.haveFirst, p.firstAt, p.firstTS, p.firstKey = true, now, ts, key
			if ref {
				r.mu.Unlock()
				close(first)
			}
		}
		live := ts >= p.liveTS
		if live && p.live {
			g := now.Sub(p.lastV)
			p.gaps = append(p.gaps, int32(min(g/time.Microsecond, 1<<31-1)))
			p.maxGap = max(p.maxGap, g)
		}
		if live && int64(ts) < int64(len(r.sendAt)) {
			if sent := r.sendAt[ts].Load(); sent != 0 {
				lat := (now.UnixNano() - sent) / int64(time.Millisecond)
				p.latency[min(max(lat, 0), latencyBuckets-1)]++
			}
		}
		p.lastV, p.live = now, live
	default:
		return false
	}
	if !p.haveFirst {
		return false
	}
	n := uint32(len(payload))
	p.bytes += uint64(n)
	if d := ts - p.firstTS; ts >= p.firstTS && d/bucketMS < uint32(len(p.buckets)) {
		p.buckets[d/bucketMS] += n
	}
	if ref && len(r.ref) < maxRefEntries {
		r.ref = append(r.ref, refEntry{ts: ts, size: n})
		r.refBytes += uint64(n)
		r.refMsgs++
	}
	return false
}

// connectErr classifies a failure to connect or play.
func connectErr(step string, err error, r *bench) error {
	if r.stopped.Load() || errors.Is(err, context.DeadlineExceeded) && !time.Now().Before(r.endAt) {
		return fmt.Errorf("%s: not finished by the end of the run", step)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: timeout", step)
	}
	return fmt.Errorf("%s: %w", step, err)
}
