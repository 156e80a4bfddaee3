package httpflv

import (
	"encoding/binary"
	"strconv"

	"github.com/scopecast/scopecast/stream"
)

const (
	tagHeaderSize = 11
	prevSizeLen   = 4
	// maxTagData is the largest tag body the FLV format can frame (u24).
	maxTagData = 0xFFFFFF
	// fileHeaderLen is the FLV file header and PreviousTagSize0.
	fileHeaderLen = 13
)

// tagBytes returns p's whole FLV tag, encoded once per packet and shared by
// every reader (stream.Packet.Wire with stream.WireKeyFLVTag). p must be a
// media or data packet with at most maxTagData payload bytes.
func tagBytes(p *stream.Packet) []byte {
	return p.Wire(stream.WireKeyFLVTag, encodeTag)
}

// encodeTag encodes p as an FLV tag: header (type, u24 size, u24 timestamp
// and its high byte, u24 stream id 0), payload, u32 previous tag size.
func encodeTag(p *stream.Packet) []byte {
	n := len(p.Payload)
	ts := p.Timestamp
	b := make([]byte, 0, tagHeaderSize+n+prevSizeLen)
	b = append(b,
		byte(p.Kind), byte(n>>16), byte(n>>8), byte(n),
		byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24),
		0, 0, 0)
	b = append(b, p.Payload...)
	return binary.BigEndian.AppendUint32(b, uint32(tagHeaderSize+n))
}

// appendFileHeader appends the FLV file header with the given flags and
// PreviousTagSize0.
func appendFileHeader(b []byte, audio, video bool) []byte {
	var flags byte
	if audio {
		flags |= 0x04
	}
	if video {
		flags |= 0x01
	}
	return append(b, 'F', 'L', 'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0)
}

// appendChunkLine appends the line that opens an HTTP/1.1 chunk of n bytes.
func appendChunkLine(b []byte, n int) []byte {
	b = strconv.AppendUint(b, uint64(n), 16)
	return append(b, '\r', '\n')
}

// appendWSHeader appends the header of one final, unmasked binary WebSocket
// frame of n payload bytes (RFC 6455 5.2; a server's frames are not masked).
func appendWSHeader(b []byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, 0x82, byte(n))
	case n < 1<<16:
		return append(b, 0x82, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x82, 127)
		return binary.BigEndian.AppendUint64(b, uint64(n))
	}
}

// Shared framing bytes; never modified.
var (
	crlf      = []byte("\r\n")
	lastChunk = []byte("0\r\n\r\n")
)
