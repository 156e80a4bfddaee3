package chunk

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// basicHeader encodes the basic header of format f for chunk stream csid into
// b and returns its length (1, 2 or 3).
func basicHeader(b *[3]byte, f byte, csid uint32) int {
	switch {
	case csid < 64:
		b[0] = f<<6 | byte(csid)
		return 1
	case csid < 64+256:
		b[0] = f << 6
		b[1] = byte(csid - 64)
		return 2
	default:
		b[0] = f<<6 | 1
		b[1] = byte(csid - 64)
		b[2] = byte((csid - 64) >> 8)
		return 3
	}
}

func basicHeaderLen(csid uint32) int {
	var b [3]byte
	return basicHeader(&b, 0, csid)
}

// checkMessage reports why m cannot be encoded, or nil.
func checkMessage(chunkSize uint32, m *Message) error {
	if chunkSize == 0 {
		return fmt.Errorf("%w: 0", ErrChunkSize)
	}
	if m.ChunkStreamID < MinChunkStreamID || m.ChunkStreamID > MaxChunkStreamID {
		return fmt.Errorf("%w: %d", ErrBadChunkStreamID, m.ChunkStreamID)
	}
	if len(m.Payload) > MaxMessageLength {
		return fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(m.Payload))
	}
	return nil
}

// EncodedLen returns the exact number of bytes AppendMessage adds for m at
// chunkSize. It panics on the same invalid input as AppendMessage.
func EncodedLen(chunkSize uint32, m *Message) int {
	if err := checkMessage(chunkSize, m); err != nil {
		panic(err)
	}
	return encodedLen(chunkSize, m)
}

func encodedLen(chunkSize uint32, m *Message) int {
	bh := basicHeaderLen(m.ChunkStreamID)
	ext := 0
	if m.Timestamp >= 0xFFFFFF {
		ext = 4
	}
	n := len(m.Payload)
	chunks := 1
	if n > 0 {
		chunks = (n + int(chunkSize) - 1) / int(chunkSize)
	}
	return bh + 11 + ext + n + (chunks-1)*(bh+ext)
}

// AppendMessage appends the chunked encoding of m to dst and returns the
// extended slice: a format-0 first chunk with the absolute timestamp, then
// format-3 continuation chunks of at most chunkSize payload bytes, each
// carrying the 4-byte extended timestamp when m.Timestamp >= 0xFFFFFF. The
// basic header takes 1, 2 or 3 bytes as the chunk stream id needs.
//
// It allocates only when dst lacks capacity (at most once). It panics, as a
// programmer error, when chunkSize is 0, m.ChunkStreamID is outside 2..65599
// or the payload exceeds MaxMessageLength; Writer.WriteMessage reports these
// as errors instead.
func AppendMessage(dst []byte, chunkSize uint32, m *Message) []byte {
	if err := checkMessage(chunkSize, m); err != nil {
		panic(err)
	}
	return appendMessage(dst, chunkSize, m)
}

func appendMessage(dst []byte, chunkSize uint32, m *Message) []byte {
	dst = slices.Grow(dst, encodedLen(chunkSize, m))
	var bh [3]byte
	bn := basicHeader(&bh, 0, m.ChunkStreamID)
	dst = append(dst, bh[:bn]...)

	ts := m.Timestamp
	ext := ts >= 0xFFFFFF
	field := ts
	if ext {
		field = 0xFFFFFF
	}
	n := len(m.Payload)
	dst = append(dst,
		byte(field>>16), byte(field>>8), byte(field),
		byte(n>>16), byte(n>>8), byte(n),
		m.TypeID)
	dst = binary.LittleEndian.AppendUint32(dst, m.StreamID)
	if ext {
		dst = binary.BigEndian.AppendUint32(dst, ts)
	}

	p := m.Payload
	k := min(len(p), int(chunkSize))
	dst = append(dst, p[:k]...)
	p = p[k:]
	if len(p) == 0 {
		return dst
	}
	bh[0] |= 3 << 6
	for len(p) > 0 {
		dst = append(dst, bh[:bn]...)
		if ext {
			dst = binary.BigEndian.AppendUint32(dst, ts)
		}
		k = min(len(p), int(chunkSize))
		dst = append(dst, p[:k]...)
		p = p[k:]
	}
	return dst
}

// maxRetainedBuffer bounds the encoding buffer a Writer keeps between
// messages; a larger one (from an unusually large message) is dropped.
const maxRetainedBuffer = 256 << 10

// Writer is a per-connection convenience used for control messages and
// commands: it encodes each message with AppendMessage into an internal
// reusable buffer and writes it with one Write. It is not safe for concurrent
// use.
type Writer struct {
	w         io.Writer
	chunkSize uint32
	buf       []byte
}

// NewWriter returns a Writer to w with the given outgoing chunk size (0 means
// DefaultChunkSize).
func NewWriter(w io.Writer, chunkSize uint32) *Writer {
	if chunkSize == 0 {
		chunkSize = DefaultChunkSize
	}
	return &Writer{w: w, chunkSize: chunkSize}
}

// WriteMessage encodes m at the current chunk size and writes it with a single
// Write. It returns a wrapped ErrBadChunkStreamID or ErrMessageTooLarge for a
// message that cannot be encoded, or the error of the underlying writer.
func (w *Writer) WriteMessage(m *Message) error {
	if err := checkMessage(w.chunkSize, m); err != nil {
		return err
	}
	w.buf = appendMessage(w.buf[:0], w.chunkSize, m)
	_, err := w.w.Write(w.buf)
	if cap(w.buf) > maxRetainedBuffer {
		w.buf = nil
	}
	return err
}

// SetChunkSize changes the outgoing chunk size used by later WriteMessage
// calls; the caller sends the Set Chunk Size message first. Sizes of 0 are
// ignored.
func (w *Writer) SetChunkSize(n uint32) {
	if n != 0 {
		w.chunkSize = n
	}
}

// ChunkSize returns the outgoing chunk size.
func (w *Writer) ChunkSize() uint32 { return w.chunkSize }
