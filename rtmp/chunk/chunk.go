// Package chunk implements the RTMP chunk stream: a bounded, fuzzed reader that
// reassembles messages from chunks, and a writer that encodes a message once into
// bytes that any number of connections sharing a chunk size can write unchanged.
//
// Encoding is stateless on purpose: every message starts with a format-0 chunk
// (absolute timestamp) and continues with format-3 chunks, each carrying the
// extended timestamp when the timestamp is 0xFFFFFF or more (as ffmpeg and
// librtmp expect). The bytes of a message therefore depend only on the chunk
// size, the chunk stream id, the message stream id and the message itself, so the
// server can produce them once per packet and share them among players.
//
// # Reading
//
// The Reader accepts all four chunk header formats. Timestamps follow the
// specification and ffmpeg (libavformat/rtmppkt.c):
//
//   - format 0 carries the absolute timestamp;
//   - formats 1 and 2 carry a delta added (modulo 2^32) to the timestamp of the
//     previous message header on the same chunk stream;
//   - a format-3 chunk that starts a new message re-applies the timestamp field
//     of the previous header of that chunk stream as a delta. After a format-1
//     or format-2 header that is its delta; after a format-0 header it is the
//     format-0 timestamp value itself (the specification: "if the delta between
//     the first message and the second message is same as the timestamp of the
//     first message, then a chunk of Type 3 could immediately follow the chunk of
//     Type 0"). ffmpeg's writer relies on exactly this rule (librtmp,
//     nginx-rtmp and Red5 read a delta of 0 there instead; the two agree
//     whenever the format-0 timestamp is 0). When that previous field was
//     0xFFFFFF, the format-3 chunk carries a 4-byte extended delta.
//
// A format-3 continuation chunk of a message whose first header had an extended
// timestamp carries the 4-byte extended timestamp again (ffmpeg, librtmp). Some
// old encoders omit it; when the underlying reader can peek (a *bufio.Reader)
// and at least 4 bytes of the chunk are buffered, the Reader only consumes those
// 4 bytes if they equal the message's extended timestamp field or its absolute
// timestamp, and otherwise treats them as payload. Without peeking it assumes
// the field is present.
//
// A format 0, 1 or 2 header arriving on a chunk stream in the middle of a message
// is tolerated as a continuation if it does not change the message length; its
// timestamp, type and stream id are ignored (the message keeps those of its first
// chunk). A changed length is ErrHeaderChanged.
package chunk

import (
	"errors"
)

// Message type ids.
const (
	TypeSetChunkSize     uint8 = 1
	TypeAbort            uint8 = 2
	TypeAck              uint8 = 3
	TypeUserControl      uint8 = 4
	TypeWindowAckSize    uint8 = 5
	TypeSetPeerBandwidth uint8 = 6
	TypeAudio            uint8 = 8
	TypeVideo            uint8 = 9
	TypeDataAMF3         uint8 = 15
	TypeSharedObjectAMF3 uint8 = 16
	TypeCommandAMF3      uint8 = 17
	TypeDataAMF0         uint8 = 18
	TypeSharedObjectAMF0 uint8 = 19
	TypeCommandAMF0      uint8 = 20
	TypeAggregate        uint8 = 22
)

// Chunk size bounds. The wire allows 1..0x7FFFFFFF; we accept a sane range.
const (
	DefaultChunkSize = 128
	MinChunkSize     = 1 // peers may legally send tiny sizes; MinChunkSize guards zero
	MaxChunkSize     = 16 << 20
)

// Chunk stream id bounds: 0 and 1 select the 2- and 3-byte basic header forms,
// 2 is protocol control, and the 3-byte form reaches 64+65535.
const (
	MinChunkStreamID = 2
	MaxChunkStreamID = 65599
)

// MaxMessageLength is the largest message length the 24-bit length field can carry.
const MaxMessageLength = 0xFFFFFF

// Message is one complete RTMP message.
type Message struct {
	ChunkStreamID uint32 // 2..65599
	Timestamp     uint32 // absolute, in milliseconds
	TypeID        uint8
	StreamID      uint32 // message stream id
	Payload       []byte // owned by the receiver of the Message; never modified by this package after return
}

// Limits bound what a Reader accepts from a peer. Zero fields take the value
// of DefaultLimits, except MaxPendingBytes, which defaults to twice
// MaxMessageSize (and follows later SetMaxMessageSize calls).
type Limits struct {
	MaxChunkSize    uint32 // largest Set Chunk Size accepted (default MaxChunkSize)
	MaxMessageSize  uint32 // largest message length accepted (default 16 MiB)
	MaxChunkStreams int    // chunk streams with header state kept at once (default 64)
	MaxPendingBytes int    // sum of lengths of partially received messages (default 2*MaxMessageSize)
}

// DefaultLimits are used for zero fields of a Limits.
var DefaultLimits = Limits{
	MaxChunkSize:    MaxChunkSize,
	MaxMessageSize:  16 << 20,
	MaxChunkStreams: 64,
	MaxPendingBytes: 32 << 20,
}

// Errors returned by the Reader (and Writer). They are wrapped with detail;
// test with errors.Is.
var (
	ErrChunkSize           = errors.New("chunk: invalid chunk size")
	ErrMessageTooLarge     = errors.New("chunk: message too large")
	ErrTooManyChunkStreams = errors.New("chunk: too many chunk streams")
	ErrPendingTooLarge     = errors.New("chunk: too many bytes pending in partial messages")
	ErrNoPreviousHeader    = errors.New("chunk: compressed header without a previous header")
	ErrBadChunkStreamID    = errors.New("chunk: invalid chunk stream id") // from Writer.WriteMessage
	ErrHeaderChanged       = errors.New("chunk: message length changed in the middle of a message")
)
