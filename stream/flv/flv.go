// Package flv reads and writes FLV files: the tag Reader and Writer, the
// Recorder (a stream subscriber that writes a crash-safe, appendable FLV
// file), Repair for files cut by a crash, and the VOD Source that plays a
// File into a stream at real-time pace. It imports only the standard library
// and the stream package; the AMF0 subset it needs for onMetaData is its own
// (amf.go: bounded, fuzzed through FuzzRepair and FuzzOpenFile, tested in
// TestAMF).
//
// Layout (PROTOCOL.md, FLV): "FLV", version 1, flags (audio 0x04, video
// 0x01), u32 data offset (9), u32 PreviousTagSize0 = 0; then per tag: u8 type,
// u24 data size, u24 timestamp + u8 timestamp extension (the high byte), u24
// stream id (0), the data, u32 previous tag size (11 + data size).
//
// Reading is bounded: the header's data offset, the tag size and the bytes
// allocated before they are read are all limited, so a hostile or damaged
// file costs at most the limit, never what its length fields claim.
//
// # Recordings
//
// A recording is an FLV file that starts with the header and one onMetaData
// tag of a fixed size reserved at creation: an ECMA array led by the numbers
// duration and filesize and padded with a "_padding" string property. Each
// flush (every FlushInterval) appends whole tags and then patches the two
// numbers in place; Stop re-encodes the final metadata (true duration, file
// size, codec ids, sample rate, frame and data rates, the publisher's own
// fields) into the same bytes. The media tags never move, so the final
// metadata is at the start of the file without a rewrite, and at any moment
// the file on disk is whole up to its last flush with a duration no older
// than that flush.
//
// Crash safety: while a file is written, a marker FILE.recording exists. A
// crash leaves the marker and at most a partial last tag; RepairDir (at
// server start) cuts the partial tag, patches duration and filesize and
// removes the marker. A kill -9 loses the media not yet flushed: at most one
// FlushInterval plus what was queued for the recorder.
package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Tag types.
const (
	TagAudio  uint8 = 8
	TagVideo  uint8 = 9
	TagScript uint8 = 18
)

// Sizes and limits.
const (
	HeaderSize    = 9  // file header without PreviousTagSize0
	TagHeaderSize = 11 // tag header before the data
	// DefaultMaxTagSize bounds the data of one tag (the u24 size field
	// allows just under 16 MiB).
	DefaultMaxTagSize = 16 << 20
	// MaxDataOffset bounds the header's data offset (the bytes skipped
	// after the 9-byte header).
	MaxDataOffset = 64 << 10
	// MaxTagData is the most data one tag can frame (its u24 size field).
	MaxTagData = 0xFFFFFF
)

// Errors of this package, wrapped with detail; test with errors.Is.
var (
	ErrHeader      = errors.New("flv: bad file header")
	ErrTagType     = errors.New("flv: unsupported tag type")
	ErrTagTooLarge = errors.New("flv: tag too large")
	ErrTruncated   = errors.New("flv: truncated tag")
	ErrPrevSize    = errors.New("flv: previous tag size does not match")
)

// Header is the information of an FLV file header.
type Header struct{ HasAudio, HasVideo bool }

// Tag is one FLV tag: its type (8 audio, 9 video, 18 script data), its
// timestamp in milliseconds (the 32-bit value of the timestamp and its
// extension byte) and its data, the RTMP message payload.
type Tag struct {
	Type      uint8
	Timestamp uint32
	Data      []byte
}

// Reader reads tags from an FLV file. It is not safe for concurrent use.
type Reader struct {
	r       io.Reader
	h       Header
	maxSize int
	hdr     [TagHeaderSize]byte
	prev    [4]byte
	err     error
}

// NewReader reads and checks the file header of r (signature "FLV",
// version 1, data offset at least 9 and at most MaxDataOffset, bytes between
// the header and the offset skipped) and PreviousTagSize0, which must be 0.
// Errors wrap ErrHeader, or ErrTruncated if r ends early.
func NewReader(r io.Reader) (*Reader, error) {
	var b [HeaderSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, fmt.Errorf("%w: reading header: %w", ErrTruncated, err)
	}
	h, off, err := parseHeader(&b)
	if err != nil {
		return nil, err
	}
	if skip := off - HeaderSize; skip > 0 {
		if n, err := io.CopyN(io.Discard, r, skip); err != nil {
			return nil, fmt.Errorf("%w: header extension: %d of %d bytes: %w", ErrTruncated, n, skip, err)
		}
	}
	var p [4]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return nil, fmt.Errorf("%w: reading PreviousTagSize0: %w", ErrTruncated, err)
	}
	if v := binary.BigEndian.Uint32(p[:]); v != 0 {
		return nil, fmt.Errorf("%w: PreviousTagSize0 is %d", ErrHeader, v)
	}
	return &Reader{r: r, h: h, maxSize: DefaultMaxTagSize}, nil
}

// parseHeader checks a file header (signature "FLV", version 1, data offset
// from HeaderSize to MaxDataOffset) and returns its flags and data offset.
func parseHeader(b *[HeaderSize]byte) (Header, int64, error) {
	if b[0] != 'F' || b[1] != 'L' || b[2] != 'V' {
		return Header{}, 0, fmt.Errorf("%w: signature %q", ErrHeader, b[:3])
	}
	if b[3] != 1 {
		return Header{}, 0, fmt.Errorf("%w: version %d", ErrHeader, b[3])
	}
	off := int64(binary.BigEndian.Uint32(b[5:9]))
	if off < HeaderSize || off > MaxDataOffset {
		return Header{}, 0, fmt.Errorf("%w: data offset %d", ErrHeader, off)
	}
	return Header{HasAudio: b[4]&0x04 != 0, HasVideo: b[4]&0x01 != 0}, off, nil
}

// Header returns the file header's flags.
func (r *Reader) Header() Header { return r.h }

// SetMaxTagSize bounds the data size of the tags read from now on (0 or
// less restores DefaultMaxTagSize).
func (r *Reader) SetMaxTagSize(n int) {
	if n <= 0 {
		n = DefaultMaxTagSize
	}
	r.maxSize = n
}

// ReadTag returns the next tag. It returns io.EOF when the file ends cleanly
// after a tag's previous-tag-size field, and otherwise wraps ErrTruncated (the
// file ends inside a tag), ErrTagType (a type other than 8, 9, 18, or the
// filter/encryption bit set), ErrTagTooLarge, or ErrPrevSize (the field after
// the data is not 11 + data size). After an error, every later call returns
// it again. The data is a fresh slice owned by the caller.
func (r *Reader) ReadTag() (Tag, error) {
	if r.err != nil {
		return Tag{}, r.err
	}
	t, err := r.readTag()
	if err != nil {
		r.err = err
	}
	return t, err
}

func (r *Reader) readTag() (Tag, error) {
	h := r.hdr[:]
	n, err := io.ReadFull(r.r, h)
	if err != nil {
		if n == 0 && err == io.EOF {
			return Tag{}, io.EOF
		}
		return Tag{}, fmt.Errorf("%w: tag header: %d of %d bytes: %w", ErrTruncated, n, TagHeaderSize, err)
	}
	th, ok := parseTagHeader(h)
	if !ok {
		return Tag{}, fmt.Errorf("%w: type byte %#02x", ErrTagType, th.typ)
	}
	size := th.size
	if size > r.maxSize {
		return Tag{}, fmt.Errorf("%w: %d bytes (limit %d)", ErrTagTooLarge, size, r.maxSize)
	}
	data, err := readN(r.r, size)
	if err != nil {
		return Tag{}, fmt.Errorf("%w: tag data: %d of %d bytes: %w", ErrTruncated, len(data), size, err)
	}
	if n, err := io.ReadFull(r.r, r.prev[:]); err != nil {
		return Tag{}, fmt.Errorf("%w: previous tag size: %d of 4 bytes: %w", ErrTruncated, n, err)
	}
	if v := binary.BigEndian.Uint32(r.prev[:]); v != uint32(TagHeaderSize+size) {
		return Tag{}, fmt.Errorf("%w: %d after a tag of %d bytes", ErrPrevSize, v, TagHeaderSize+size)
	}
	return Tag{Type: th.typ, Timestamp: th.ts, Data: data}, nil
}

// tagHeader is a parsed tag header.
type tagHeader struct {
	typ  byte
	size int    // data bytes
	ts   uint32 // milliseconds, the extension byte as the top 8 bits
}

// parseTagHeader parses the first TagHeaderSize bytes of h; ok is false when
// the type is not audio, video or script.
func parseTagHeader(h []byte) (th tagHeader, ok bool) {
	_ = h[TagHeaderSize-1]
	th = tagHeader{
		typ:  h[0],
		size: int(h[1])<<16 | int(h[2])<<8 | int(h[3]),
		ts:   uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]),
	}
	return th, th.typ == TagAudio || th.typ == TagVideo || th.typ == TagScript
}

// readStep is how much readN allocates ahead of the bytes it has read, so
// that a size field cannot make it allocate more than the input holds plus
// one step.
const readStep = 64 << 10

// readN reads exactly n bytes into a fresh slice. It allocates at once when
// n is small and grows the slice as bytes arrive otherwise.
func readN(r io.Reader, n int) ([]byte, error) {
	if n <= readStep {
		b := make([]byte, n)
		k, err := io.ReadFull(r, b)
		return b[:k], unexpected(err)
	}
	b := make([]byte, 0, readStep)
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(cap(b), n-len(b)))
		}
		k, err := io.ReadFull(r, b[len(b):min(cap(b), n)])
		b = b[:len(b)+k]
		if err != nil {
			return b, unexpected(err)
		}
	}
	return b, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer writes an FLV file. It is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
	err error
}

// NewWriter writes the file header with the flags of h and PreviousTagSize0.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	if _, err := w.Write(AppendHeader(nil, h)); err != nil {
		return nil, err
	}
	return &Writer{w: w}, nil
}

// AppendHeader appends the file header with the flags of h (data offset 9)
// and PreviousTagSize0 to b.
func AppendHeader(b []byte, h Header) []byte {
	var flags byte
	if h.HasAudio {
		flags |= 0x04
	}
	if h.HasVideo {
		flags |= 0x01
	}
	return append(b, 'F', 'L', 'V', 1, flags, 0, 0, 0, HeaderSize, 0, 0, 0, 0)
}

// WriteTag writes t and its previous-tag-size field with one Write. The type
// must be 8, 9 or 18 (ErrTagType) and the data at most MaxTagData bytes
// (ErrTagTooLarge); these are reported without writing anything. A failed
// write of the underlying writer is returned by every later call, as the
// file is then incomplete.
func (w *Writer) WriteTag(t Tag) error {
	if w.err != nil {
		return w.err
	}
	if t.Type != TagAudio && t.Type != TagVideo && t.Type != TagScript {
		return fmt.Errorf("%w: %d", ErrTagType, t.Type)
	}
	n := len(t.Data)
	if n > MaxTagData {
		return fmt.Errorf("%w: %d bytes (the format allows %d)", ErrTagTooLarge, n, MaxTagData)
	}
	b := AppendTag(w.buf[:0], t.Type, t.Timestamp, t.Data)
	if _, err := w.w.Write(b); err != nil {
		w.err = err
		return err
	}
	if cap(b) <= 1<<20 {
		w.buf = b[:0]
	}
	return nil
}

// AppendTag appends one tag to b: the tag header (type, u24 data size, u24
// timestamp and its high byte, u24 stream id 0), data and the u32 previous
// tag size. The caller checks what WriteTag checks: typ is 8, 9 or 18 and
// data is at most MaxTagData bytes.
func AppendTag(b []byte, typ uint8, ts uint32, data []byte) []byte {
	n := len(data)
	b = append(b,
		typ, byte(n>>16), byte(n>>8), byte(n),
		byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24),
		0, 0, 0)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, uint32(TagHeaderSize+n))
}
