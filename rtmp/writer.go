package rtmp

import (
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/scopecast/scopecast/internal/wdeadline"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/stream"
)

type outOp uint8

const (
	opMessage      outOp = iota // write msg
	opAddSub                    // start delivering sub
	opRemoveSub                 // stop delivering sub
	opPause                     // pause (flag) or resume sub
	opReceiveAudio              // receiveAudio(flag)
	opReceiveVideo              // receiveVideo(flag)
	opSeek                      // a recording's play continues from vsub (after a seek)
	opClose                     // write everything before, then stop
)

// outItem is one instruction for the writer goroutine.
// It is kept small (32 bytes): every connection's queue holds DefaultOutQueue
// of them.
type outItem struct {
	op   outOp
	flag bool
	pos  uint32         // opSeek: the position sought, ms
	msg  *chunk.Message // opMessage
	sub  *playSub
	vsub *stream.Subscriber // opSeek: the new subscriber
}

// playSub is a play on one message stream. The writer goroutine owns its
// mutable fields once opAddSub handed it over.
type playSub struct {
	msid uint32
	name string
	st   *stream.Stream
	sub  *stream.Subscriber

	// A play of a recording: the subscriber is private, fed by a flv.Source;
	// its publish events are not the publisher's (the end of the file is
	// Play.Complete), and a pause leaves its queue in place.
	vod      bool
	duration float64 // the recording's, s (onPlayStatus)

	// writer-owned
	bytes            uint64 // payload bytes sent (onPlayStatus)
	noAudio, noVideo bool
	paused           bool
	waitKey          bool // drop video until a keyframe (after unpause or receiveVideo(true))
	keyA, keyV, keyD uint64
	encA, encV, encD func(*stream.Packet) []byte
}

const popBatch = 64

// writerState is owned by the writer goroutine; chunkSize and soFrame are
// also used by a fan-out that holds the write token (writeSODirect).
type writerState struct {
	chunkSize uint32
	subs      []*playSub
	wbuf      []byte      // encoded control messages of this round
	bufs      [][]byte    // segments to write this round, in order
	wv        net.Buffers // what WriteTo consumes (a view of bufs)
	pkts      [popBatch]*stream.Packet
	timeout   time.Duration
	merge     time.Duration // MergeWindow

	tbuf        []byte              // a round gathered for a conn without writev (TLS)
	deadline    wdeadline.Lazy      // the write deadline last set
	soFrame     func([]byte) []byte // chunks a shared-object payload (soFramer)
	soFrameSize uint32              // the chunk size soFrame was made for
}

func (w *writerState) init(c *Conn) {
	w.chunkSize = chunk.DefaultChunkSize
	w.bufs = make([][]byte, 0, 2*popBatch)
	w.timeout = orDefault(c.srv.WriteTimeout, DefaultWriteTimeout)
	w.merge = c.srv.MergeWindow
	if w.merge == 0 {
		w.merge = DefaultMergeWindow
	}
}

// writeLoop is the socket's writer; a shared-object fan-out writes to an
// idle plain socket directly, between its rounds (soqueue.go). Each round it
// takes every instruction that is ready and every packet its subscriptions
// hold, then writes them with one vectored write under a deadline.
//
// Merged writes: after a write that carried media, the writer holds media for
// MergeWindow: it ignores notifications until the merge timer fires and then
// takes everything that arrived meanwhile, so one write (and one wake-up)
// carries several frames. Instructions (commands, statuses, control) are
// written at once even while media is held. After an idle spell the first
// packet goes out immediately.
//
// Shared-object batches go out at once: a busy object merges them itself
// (sharedobject.Options.MergeWindow) and hands each subscriber one run per
// window, which is one segment to write.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	defer func() {
		if r := recover(); r != nil {
			c.recovered("writer", r)
			c.Close(errPanic)
		}
	}()
	w := &c.w
	ping := time.NewTicker(orDefault(c.srv.PingInterval, DefaultPingInterval))
	defer ping.Stop()
	merge := time.NewTimer(time.Hour)
	merge.Stop()
	defer merge.Stop()
	holding := false // media waits for the merge timer
	for {
		closing := false
		notify := c.notify
		if holding {
			notify = nil
		}
		var it outItem
		got, pinged := false, false
		select {
		case <-c.done:
			return
		case it = <-c.out:
			got = true
		case <-notify:
		case <-c.so.notify:
		case <-merge.C:
			holding = false
		case <-ping.C:
			pinged = true
		}
		c.takeWriteToken() // before anything joins this round's segments
		if got {
			closing = c.apply(it)
		}
		if pinged {
			c.addControl(csidControl, chunk.TypeUserControl, 0,
				message.UserControl(message.EventPingRequest, uint32(time.Since(c.started).Milliseconds())))
		}
	drain:
		for i := 0; i < DefaultOutQueue && !closing; i++ {
			select {
			case it := <-c.out:
				closing = c.apply(it)
			default:
				break drain
			}
		}
		pumped := false
		if !closing && !holding {
			n := len(w.bufs)
			if err := c.pump(); err != nil {
				c.Close(err)
			}
			pumped = len(w.bufs) > n
		}
		c.takeSO()
		if len(w.bufs) == 0 {
			c.releaseWriteToken()
			if closing {
				return
			}
			continue
		}
		err := c.flush()
		c.releaseWriteToken()
		if err != nil {
			if isTimeout(err) { // the player cannot take what it is sent
				err = fmt.Errorf("%w: a write took longer than %v", stream.ErrSlowConsumer, w.timeout)
			}
			c.Close(err)
			return
		}
		if closing {
			return
		}
		if pumped && w.merge > 0 {
			merge.Reset(w.merge)
			holding = true
		}
	}
}

// takeWriteToken makes the writer the socket's only writer until
// releaseWriteToken (see Conn.wtok): a fan-out writing directly holds it for
// one non-blocking write at most, so this waits a few microseconds at worst.
// Bytes that write left go first in this round.
func (c *Conn) takeWriteToken() {
	if c.raw == nil {
		return
	}
	for !c.wtok.CompareAndSwap(false, true) {
		runtime.Gosched()
	}
	if c.partial != nil {
		c.w.bufs = append(c.w.bufs, c.partial)
		c.partial = nil
	}
}

func (c *Conn) releaseWriteToken() {
	if c.raw != nil {
		c.wtok.Store(false)
	}
}

// apply executes one instruction; it reports whether the writer must stop.
func (c *Conn) apply(it outItem) bool {
	w := &c.w
	switch it.op {
	case opMessage:
		m := it.msg
		c.addControl(m.ChunkStreamID, m.TypeID, m.StreamID, m.Payload)
		if m.TypeID == chunk.TypeSetChunkSize && len(m.Payload) >= 4 {
			if n, err := message.ParseU32(m.Payload); err == nil && n > 0 {
				w.chunkSize = n
			}
		}
	case opAddSub:
		ps := it.sub
		ps.keyA = wireKey(w.chunkSize, csidAudio, ps.msid)
		ps.keyV = wireKey(w.chunkSize, csidVideo, ps.msid)
		ps.keyD = wireKey(w.chunkSize, csidData, ps.msid)
		ps.encA = c.mediaEncoder(csidAudio, ps.msid)
		ps.encV = c.mediaEncoder(csidVideo, ps.msid)
		ps.encD = c.mediaEncoder(csidData, ps.msid)
		w.subs = append(w.subs, ps)
	case opRemoveSub:
		for i, ps := range w.subs {
			if ps == it.sub {
				w.subs = append(w.subs[:i], w.subs[i+1:]...)
				break
			}
		}
	case opPause:
		it.sub.paused = it.flag
		if !it.flag && !it.sub.vod { // live media was dropped meanwhile
			it.sub.waitKey = true
		}
	case opSeek:
		ps := it.sub
		ps.sub, ps.waitKey = it.vsub, false
		c.addControl(csidControl, chunk.TypeUserControl, 0, message.UserControl(message.EventStreamBegin, ps.msid))
		c.addStatus(ps.msid, "status", codeSeekNotify, fmt.Sprintf("Seeking %d (stream ID: %d).", it.pos, ps.msid), ps.name)
		c.addStatus(ps.msid, "status", codePlayStart, "Started playing "+ps.name+".", ps.name)
	case opReceiveAudio:
		it.sub.noAudio = !it.flag
	case opReceiveVideo:
		it.sub.noVideo = !it.flag
		if it.flag {
			it.sub.waitKey = true
		}
	case opClose:
		return true
	}
	return false
}

// wireKey names an encoding of a packet: chunk size, chunk stream and message
// stream. Players that share it share the bytes.
func wireKey(chunkSize uint32, csid uint8, msid uint32) uint64 {
	return uint64(chunkSize)<<32 | uint64(msid&0xFFFFFF)<<8 | uint64(csid)
}

// mediaEncoder returns the function that chunks a packet for this connection's
// chunk size, on chunk stream csid and message stream msid. It runs at most
// once per packet for all players sharing the key.
func (c *Conn) mediaEncoder(csid uint8, msid uint32) func(*stream.Packet) []byte {
	size := c.w.chunkSize
	return func(p *stream.Packet) []byte {
		m := chunk.Message{ChunkStreamID: uint32(csid), Timestamp: p.Timestamp, TypeID: uint8(p.Kind), StreamID: msid, Payload: p.Payload}
		return chunk.AppendMessage(make([]byte, 0, chunk.EncodedLen(size, &m)), size, &m)
	}
}

// addControl encodes a message into this round's control buffer and queues
// the bytes in order with the media segments.
func (c *Conn) addControl(csid uint32, typ uint8, msid uint32, payload []byte) {
	w := &c.w
	m := chunk.Message{ChunkStreamID: csid, TypeID: typ, StreamID: msid, Payload: payload}
	start := len(w.wbuf)
	w.wbuf = chunk.AppendMessage(w.wbuf, w.chunkSize, &m)
	w.bufs = append(w.bufs, w.wbuf[start:len(w.wbuf):len(w.wbuf)])
}

// addStatus queues an onStatus from the writer goroutine itself.
func (c *Conn) addStatus(msid uint32, level, code, desc, details string) {
	info := statusObject(level, code, desc)
	info.Set("details", details)
	info.Set("clientid", c.id)
	p, err := message.AppendCommand(nil, "onStatus", 0, nil, info)
	if err != nil {
		return
	}
	c.addControl(csidCommand, chunk.TypeCommandAMF0, msid, p)
}

// addPlayComplete ends a recording's playback: onPlayStatus with
// NetStream.Play.Complete, NetStream.Play.Stop, then Stream EOF.
func (c *Conn) addPlayComplete(ps *playSub) {
	info := amf.Obj("level", "status", "code", codePlayComplete, "duration", ps.duration, "bytes", float64(ps.bytes))
	if p, err := message.AppendData(nil, "onPlayStatus", info); err == nil {
		c.addControl(csidData, chunk.TypeDataAMF0, ps.msid, p)
	}
	c.addStatus(ps.msid, "status", codePlayStop, "Stopped playing "+ps.name+".", ps.name)
	c.addControl(csidControl, chunk.TypeUserControl, 0, message.UserControl(message.EventStreamEOF, ps.msid))
}

// pump moves packets from every subscription into this round's segments.
func (c *Conn) pump() error {
	w := &c.w
	more := false
	for _, ps := range w.subs {
		if ps.vod && ps.paused {
			continue // the Source is paused too; what it queued waits
		}
		batch := ps.sub.Pop(w.pkts[:0])
		if len(batch) == popBatch {
			more = true
		}
		for i, p := range batch {
			c.addPacket(ps, p)
			w.pkts[i] = nil
		}
		if err := ps.sub.Err(); err != nil && err != stream.ErrClosed {
			return err
		}
	}
	if more { // come back for the rest after this write
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
	return nil
}

func (c *Conn) addPacket(ps *playSub, p *stream.Packet) {
	w := &c.w
	switch p.Kind {
	case stream.KindPublishStart:
		if ps.vod { // the Source (re)starting: the play's own statuses went out
			return
		}
		c.addControl(csidControl, chunk.TypeUserControl, 0, message.UserControl(message.EventStreamBegin, ps.msid))
		c.addStatus(ps.msid, "status", codePlayPublishNotify, ps.name+" is now published.", ps.name)
		return
	case stream.KindPublishStop:
		if ps.vod {
			c.addPlayComplete(ps)
			return
		}
		c.addStatus(ps.msid, "status", codePlayUnpubNotify, ps.name+" is now unpublished.", ps.name)
		return
	}
	if ps.vod {
		ps.bytes += uint64(len(p.Payload))
	}
	if ps.paused {
		return
	}
	switch p.Kind {
	case stream.KindAudio:
		if ps.noAudio {
			return
		}
		w.bufs = append(w.bufs, p.Wire(ps.keyA, ps.encA))
	case stream.KindVideo:
		if ps.noVideo {
			return
		}
		if ps.waitKey && !p.Header {
			if !p.Keyframe {
				return
			}
			ps.waitKey = false
		}
		w.bufs = append(w.bufs, p.Wire(ps.keyV, ps.encV))
	case stream.KindData:
		w.bufs = append(w.bufs, p.Wire(ps.keyD, ps.encD))
	}
}

// buffersWriter is a conn that takes a whole writer round in one call, as
// the net package's TCP and Unix sockets do with writev (an RTMPT session
// implements it so that a poll sees a round whole). On any other conn,
// net.Buffers.WriteTo would fall back to one Write per segment — for TLS one
// record and one syscall each — so flush gathers the round into one Write.
type buffersWriter interface {
	WriteBuffers(v [][]byte) (int64, error)
}

// flush writes this round's segments: one vectored write on TCP and Unix
// sockets, WriteBuffers where the connection has it (RTMPT), one gathered
// write otherwise (TLS).
func (c *Conn) flush() error {
	w := &c.w
	if len(w.bufs) == 0 {
		return nil
	}
	if dl := time.Now().Add(w.timeout); w.deadline.Move(dl, w.timeout) {
		c.nc.SetWriteDeadline(dl)
	}
	var n int64
	var err error
	switch nc := c.nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		w.wv = w.bufs
		n, err = w.wv.WriteTo(nc) // writev
	case buffersWriter:
		n, err = nc.WriteBuffers(w.bufs)
	default: // TLS and other wrappers
		w.tbuf = w.tbuf[:0]
		for _, b := range w.bufs {
			w.tbuf = append(w.tbuf, b...)
		}
		var k int
		k, err = nc.Write(w.tbuf)
		n = int64(k)
		if cap(w.tbuf) > 1<<20 {
			w.tbuf = nil
		}
	}
	c.countOut(uint64(n))
	clear(w.bufs) // drop packet references
	w.bufs = w.bufs[:0]
	if cap(w.wbuf) > 1<<20 {
		w.wbuf = nil
	} else {
		w.wbuf = w.wbuf[:0]
	}
	return err
}
