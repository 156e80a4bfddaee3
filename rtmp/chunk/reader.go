package chunk

import (
	"encoding/binary"
	"fmt"
	"io"
)

// peeker is implemented by *bufio.Reader; it lets the Reader detect a missing
// extended timestamp on continuation chunks without consuming payload.
type peeker interface {
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
	Buffered() int
}

// csState is the per-chunk-stream state: the last message header seen on the
// chunk stream and the message being reassembled, if any.
type csState struct {
	timestamp uint32 // absolute timestamp of the last message header
	delta     uint32 // timestamp field (or extended value) of the last header, re-applied by format 3
	tsField   uint32 // 24-bit timestamp field of the last format 0/1/2 header; 0xFFFFFF: extended
	length    uint32
	streamID  uint32
	typeID    uint8

	// message in progress (its first header set the fields above: while it
	// lasts, tsField == 0xFFFFFF means its continuation chunks carry the
	// extended timestamp delta)
	active bool
	buf    []byte
	off    uint32

	spare []byte // reuse mode: the payload last returned on this chunk stream, for the next message
}

// Reader reassembles RTMP messages from a chunk stream. It is not safe for
// concurrent use.
type Reader struct {
	rd          io.Reader
	pk          peeker // nil when rd cannot peek
	lim         Limits
	pendingAuto bool // lim.MaxPendingBytes follows MaxMessageSize
	chunkSize   uint32
	nread       uint64
	pending     int // sum of lengths of active messages
	reuse       bool
	retained    int // reuse mode: sum of the capacities of the spare buffers
	nstreams    int
	low         [64]*csState // chunk streams 2..63
	high        map[uint32]*csState
	hdr         [16]byte
}

// NewReader returns a Reader of the chunk stream r, which is usually a
// *bufio.Reader. Zero fields of lim take their value from DefaultLimits
// (MaxPendingBytes: twice MaxMessageSize). The incoming chunk size starts at
// DefaultChunkSize.
func NewReader(r io.Reader, lim Limits) *Reader {
	rd := &Reader{rd: r, chunkSize: DefaultChunkSize}
	if p, ok := r.(peeker); ok {
		rd.pk = p
	}
	if lim.MaxChunkSize == 0 {
		lim.MaxChunkSize = DefaultLimits.MaxChunkSize
	}
	if lim.MaxMessageSize == 0 {
		lim.MaxMessageSize = DefaultLimits.MaxMessageSize
	}
	if lim.MaxChunkStreams <= 0 {
		lim.MaxChunkStreams = DefaultLimits.MaxChunkStreams
	}
	if lim.MaxPendingBytes <= 0 {
		rd.pendingAuto = true
		lim.MaxPendingBytes = 2 * int(lim.MaxMessageSize)
	}
	rd.lim = lim
	return rd
}

// SetMaxMessageSize changes the largest message length accepted from now on,
// e.g. small before connect and larger after. Zero restores the default. When
// the Limits given to NewReader left MaxPendingBytes zero, it becomes 2*n.
// Messages already in progress keep their size.
func (r *Reader) SetMaxMessageSize(n uint32) {
	if n == 0 {
		n = DefaultLimits.MaxMessageSize
	}
	r.lim.MaxMessageSize = n
	if r.pendingAuto {
		r.lim.MaxPendingBytes = 2 * int(n)
	}
}

// SetReusePayloads switches payload reuse on or off. By default every
// payload is a fresh allocation that the caller owns (see ReadMessage). With
// reuse on, the Reader keeps the buffer of the last message returned on each
// chunk stream and reassembles the next message of that chunk stream into
// it when it fits: a returned payload is valid only until the next call of
// ReadMessage, which may overwrite it, and the caller must copy what it
// keeps. This saves an allocation per message for readers that look at each
// payload once (load tools). The kept buffers add at most
// Limits.MaxPendingBytes to the Reader's memory; larger ones are dropped.
// Switching reuse off drops the kept buffers.
func (r *Reader) SetReusePayloads(on bool) {
	r.reuse = on
	if !on {
		for _, st := range r.low {
			if st != nil {
				st.spare = nil
			}
		}
		for _, st := range r.high {
			st.spare = nil
		}
		r.retained = 0
	}
}

// ChunkSize returns the current incoming chunk size.
func (r *Reader) ChunkSize() uint32 { return r.chunkSize }

// BytesRead returns the total number of bytes consumed from the underlying
// reader, for acknowledgements.
func (r *Reader) BytesRead() uint64 { return r.nread }

// ReadMessage returns the next complete message.
//
// Set Chunk Size (type 1) and Abort (type 2) are handled here and not
// returned: Set Chunk Size must hold a value in 1..Limits.MaxChunkSize
// (ErrChunkSize otherwise, also when shorter than 4 bytes); Abort discards the
// partial message on the chunk stream it names (a payload shorter than 4 bytes
// is ignored). They are recognised by type id on any chunk stream.
//
// The payload is allocated once per message at its exact length and is never
// reused or modified afterwards; the caller owns it. A zero-length message has
// a non-nil empty payload. SetReusePayloads(true) changes this: the payload
// is then valid only until the next ReadMessage.
//
// Errors are io.EOF (the transport ended between messages, with no partial
// message pending), io.ErrUnexpectedEOF (it ended anywhere else), other
// transport errors as returned by the underlying reader, or a wrapped sentinel
// of this package. After an error the Reader must not be used again.
func (r *Reader) ReadMessage() (Message, error) {
	for {
		m, ok, err := r.readChunk()
		if err != nil {
			return Message{}, err
		}
		if !ok {
			continue
		}
		switch m.TypeID {
		case TypeSetChunkSize:
			if err := r.setChunkSize(m.Payload); err != nil {
				return Message{}, err
			}
			continue
		case TypeAbort:
			r.abort(m.Payload)
			continue
		}
		return m, nil
	}
}

func (r *Reader) setChunkSize(p []byte) error {
	if len(p) < 4 {
		return fmt.Errorf("%w: set chunk size payload of %d bytes", ErrChunkSize, len(p))
	}
	n := binary.BigEndian.Uint32(p)
	if n == 0 || n&0x80000000 != 0 || n > r.lim.MaxChunkSize {
		return fmt.Errorf("%w: %d (limit %d)", ErrChunkSize, n, r.lim.MaxChunkSize)
	}
	r.chunkSize = n
	return nil
}

func (r *Reader) abort(p []byte) {
	if len(p) < 4 {
		return
	}
	csid := binary.BigEndian.Uint32(p)
	st := r.lookup(csid)
	if st == nil || !st.active {
		return
	}
	r.pending -= int(st.length)
	st.active = false
	r.keep(st)
}

// keep ends the use of st.buf: in reuse mode it becomes the chunk stream's
// spare buffer if the retained total allows, otherwise it is dropped.
func (r *Reader) keep(st *csState) {
	if r.reuse && st.buf != nil && st.spare == nil && r.retained+cap(st.buf) <= r.lim.MaxPendingBytes {
		st.spare = st.buf
		r.retained += cap(st.buf)
	}
	st.buf = nil
}

// payload returns the buffer of a new message of length n on st: the spare
// buffer in reuse mode when it is large enough, a new one otherwise.
func (r *Reader) payload(st *csState, n uint32) []byte {
	if sp := st.spare; sp != nil {
		st.spare = nil
		r.retained -= cap(sp)
		if uint32(cap(sp)) >= n {
			return sp[:n]
		}
	}
	return make([]byte, n)
}

func (r *Reader) lookup(csid uint32) *csState {
	if csid < 64 {
		return r.low[csid]
	}
	return r.high[csid]
}

func (r *Reader) fill(p []byte) error {
	n, err := io.ReadFull(r.rd, p)
	r.nread += uint64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// messageHeaderLen is the message header length of each chunk format.
var messageHeaderLen = [4]int{11, 7, 3, 0}

// readChunk reads one chunk. It returns ok when the chunk completed a message.
func (r *Reader) readChunk() (Message, bool, error) {
	// Basic header.
	n, err := io.ReadFull(r.rd, r.hdr[:1])
	r.nread += uint64(n)
	if err != nil {
		if err == io.EOF && r.pending != 0 {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, false, err
	}
	format := r.hdr[0] >> 6
	csid := uint32(r.hdr[0] & 0x3f)
	switch csid {
	case 0:
		if err := r.fill(r.hdr[:1]); err != nil {
			return Message{}, false, err
		}
		csid = 64 + uint32(r.hdr[0])
	case 1:
		if err := r.fill(r.hdr[:2]); err != nil {
			return Message{}, false, err
		}
		csid = 64 + uint32(r.hdr[0]) + uint32(r.hdr[1])<<8
	}

	st := r.lookup(csid)
	if st == nil {
		if format != 0 {
			return Message{}, false, fmt.Errorf("%w: format %d on chunk stream %d", ErrNoPreviousHeader, format, csid)
		}
		if r.nstreams >= r.lim.MaxChunkStreams {
			return Message{}, false, fmt.Errorf("%w: chunk stream %d would exceed %d", ErrTooManyChunkStreams, csid, r.lim.MaxChunkStreams)
		}
		st = new(csState)
		if csid < 64 {
			r.low[csid] = st
		} else {
			if r.high == nil {
				r.high = make(map[uint32]*csState)
			}
			r.high[csid] = st
		}
		r.nstreams++
	}

	// Message header.
	hn := messageHeaderLen[format]
	if hn > 0 {
		if err := r.fill(r.hdr[:hn]); err != nil {
			return Message{}, false, err
		}
	}
	h := &r.hdr
	var field uint32
	if format < 3 {
		field = uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
	}
	length, typeID, streamID := st.length, st.typeID, st.streamID
	if format <= 1 {
		length = uint32(h[3])<<16 | uint32(h[4])<<8 | uint32(h[5])
		typeID = h[6]
	}
	if format == 0 {
		streamID = binary.LittleEndian.Uint32(h[7:11])
	}

	if st.active {
		// Continuation of the message in progress.
		if format < 3 {
			if field == 0xFFFFFF {
				if err := r.fill(r.hdr[:4]); err != nil {
					return Message{}, false, err
				}
			}
			if format <= 1 && length != st.length {
				return Message{}, false, fmt.Errorf("%w: chunk stream %d, %d then %d", ErrHeaderChanged, csid, st.length, length)
			}
		} else if st.tsField == 0xFFFFFF {
			if err := r.skipContinuationExt(st); err != nil {
				return Message{}, false, err
			}
		}
	} else {
		// First chunk of a new message.
		var val uint32
		if format < 3 {
			st.tsField = field
			val = field
		} else {
			val = st.delta
		}
		if st.tsField == 0xFFFFFF { // format 0-2: the field; format 3: inherited
			if err := r.fill(r.hdr[:4]); err != nil {
				return Message{}, false, err
			}
			val = binary.BigEndian.Uint32(r.hdr[:4])
		}
		ts := val
		if format != 0 {
			ts = st.timestamp + val
		}
		st.timestamp, st.delta = ts, val
		st.length, st.typeID, st.streamID = length, typeID, streamID

		if length > r.lim.MaxMessageSize {
			return Message{}, false, fmt.Errorf("%w: %d bytes on chunk stream %d (limit %d)", ErrMessageTooLarge, length, csid, r.lim.MaxMessageSize)
		}
		if r.pending+int(length) > r.lim.MaxPendingBytes {
			return Message{}, false, fmt.Errorf("%w: %d + %d bytes (limit %d)", ErrPendingTooLarge, r.pending, length, r.lim.MaxPendingBytes)
		}
		st.active = true
		st.buf = r.payload(st, length)
		st.off = 0
		r.pending += int(length)
	}

	// Chunk payload.
	k := min(st.length-st.off, r.chunkSize)
	if err := r.fill(st.buf[st.off : st.off+k]); err != nil {
		return Message{}, false, err
	}
	st.off += k
	if st.off < st.length {
		return Message{}, false, nil
	}
	m := Message{
		ChunkStreamID: csid,
		Timestamp:     st.timestamp,
		TypeID:        st.typeID,
		StreamID:      st.streamID,
		Payload:       st.buf,
	}
	r.pending -= int(st.length)
	st.active = false
	r.keep(st)
	return m, true, nil
}

// skipContinuationExt consumes the extended timestamp of a format-3
// continuation chunk. See the package documentation for the heuristic used
// when the underlying reader can peek.
func (r *Reader) skipContinuationExt(st *csState) error {
	if r.pk != nil && min(st.length-st.off, r.chunkSize) >= 4 && r.pk.Buffered() >= 4 {
		p, err := r.pk.Peek(4)
		if err != nil {
			return err
		}
		v := binary.BigEndian.Uint32(p)
		if v != st.delta && v != st.timestamp {
			return nil // absent: these bytes are payload
		}
		n, err := r.pk.Discard(4)
		r.nread += uint64(n)
		return err
	}
	return r.fill(r.hdr[:4])
}
