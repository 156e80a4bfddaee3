package rtmp

import (
	"fmt"
	"net"
	"time"

	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/sharedobject"
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
	opSharedObject              // write a shared-object batch
	opClose                     // write everything before, then stop
)

// outItem is one instruction for the writer goroutine.
type outItem struct {
	op   outOp
	msg  chunk.Message
	sub  *playSub
	so   *sharedobject.Delivery
	flag bool
}

// playSub is a play on one message stream. The writer goroutine owns its
// mutable fields once opAddSub handed it over.
type playSub struct {
	msid uint32
	name string
	st   *stream.Stream
	sub  *stream.Subscriber

	// writer-owned
	noAudio, noVideo bool
	paused           bool
	waitKey          bool // drop video until a keyframe (after unpause or receiveVideo(true))
	keyA, keyV, keyD uint64
	encA, encV, encD func(*stream.Packet) []byte
}

const popBatch = 64

// writerState is owned by the writer goroutine.
type writerState struct {
	chunkSize uint32
	subs      []*playSub
	wbuf      []byte      // encoded control messages of this round
	bufs      [][]byte    // segments to write this round, in order
	wv        net.Buffers // what WriteTo consumes (a view of bufs)
	pkts      [popBatch]*stream.Packet
	timeout   time.Duration
	merge     time.Duration // MergeWindow
}

func (w *writerState) init(c *Conn) {
	w.chunkSize = chunk.DefaultChunkSize
	w.bufs = make([][]byte, 0, 2*popBatch)
	w.timeout = orDur(c.srv.WriteTimeout, DefaultWriteTimeout)
	w.merge = c.srv.MergeWindow
	if w.merge == 0 {
		w.merge = DefaultMergeWindow
	}
}

// writeLoop is the only writer of the socket. Each round it takes every
// instruction that is ready and every packet its subscriptions hold, then
// writes them with one vectored write under a deadline. Media that arrives
// within MergeWindow of the last write waits for the window to close, so that
// one write carries several frames; instructions are written at once.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	defer func() {
		if r := recover(); r != nil {
			c.recovered("writer", r)
			c.Close(errPanic)
		}
	}()
	w := &c.w
	ping := time.NewTicker(orDur(c.srv.PingInterval, DefaultPingInterval))
	defer ping.Stop()
	merge := time.NewTimer(time.Hour)
	merge.Stop()
	defer merge.Stop()
	var holdUntil time.Time // media waits until then
	armed := false
	for {
		closing, media := false, false
		notify := c.notify
		if armed { // holding: the merge timer's round takes what arrives meanwhile
			notify = nil
		}
		select {
		case <-c.done:
			return
		case it := <-c.out:
			closing = c.apply(it)
		case <-notify:
			media = true
		case <-merge.C:
			armed = false
		case <-ping.C:
			c.addControl(csidControl, chunk.TypeUserControl, 0,
				message.UserControl(message.EventPingRequest, uint32(time.Since(c.started).Milliseconds())))
		}
		if media && w.merge > 0 && len(w.bufs) == 0 {
			if now := time.Now(); now.Before(holdUntil) {
				if !armed {
					merge.Reset(holdUntil.Sub(now))
					armed = true
				}
				continue
			}
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
		if !closing {
			if err := c.pump(); err != nil {
				c.Close(err)
			}
		}
		if len(w.bufs) == 0 {
			if closing {
				return
			}
			continue
		}
		if err := c.flush(); err != nil {
			if isTimeout(err) { // the player cannot take what it is sent
				err = fmt.Errorf("%w: a write took longer than %v", stream.ErrSlowConsumer, w.timeout)
			}
			c.Close(err)
			return
		}
		if closing {
			return
		}
		if w.merge > 0 {
			holdUntil = time.Now().Add(w.merge)
		}
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
		if !it.flag {
			it.sub.waitKey = true
		}
	case opReceiveAudio:
		it.sub.noAudio = !it.flag
	case opReceiveVideo:
		it.sub.noVideo = !it.flag
		if it.flag {
			it.sub.waitKey = true
		}
	case opSharedObject:
		p, err := it.so.Payload(c)
		if err != nil {
			c.log.Error("encoding shared object batch", "name", it.so.Name(), "err", err)
			break
		}
		if p != nil {
			typ := chunk.TypeSharedObjectAMF0
			if c.AMF3() {
				typ = chunk.TypeSharedObjectAMF3
			}
			c.addControl(csidCommand, typ, 0, p)
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

// pump moves packets from every subscription into this round's segments.
func (c *Conn) pump() error {
	w := &c.w
	more := false
	for _, ps := range w.subs {
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
		c.addControl(csidControl, chunk.TypeUserControl, 0, message.UserControl(message.EventStreamBegin, ps.msid))
		c.addStatus(ps.msid, "status", codePlayPublishNotify, ps.name+" is now published.", ps.name)
		return
	case stream.KindPublishStop:
		c.addStatus(ps.msid, "status", codePlayUnpubNotify, ps.name+" is now unpublished.", ps.name)
		return
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

// flush writes this round's segments with one vectored write.
func (c *Conn) flush() error {
	w := &c.w
	if len(w.bufs) == 0 {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(w.timeout))
	w.wv = w.bufs
	n, err := w.wv.WriteTo(c.nc)
	c.srv.stats.BytesOut.Add(uint64(n))
	clear(w.bufs) // drop packet references
	w.bufs = w.bufs[:0]
	if cap(w.wbuf) > 1<<20 {
		w.wbuf = nil
	} else {
		w.wbuf = w.wbuf[:0]
	}
	return err
}
