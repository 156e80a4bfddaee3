package httpflv

import (
	"encoding/binary"
	"strconv"

	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
)

// tagBytes returns p's whole FLV tag, encoded once per packet and shared by
// every reader (stream.Packet.Wire with stream.WireKeyFLVTag). p must be a
// media or data packet with at most flv.MaxTagData payload bytes.
func tagBytes(p *stream.Packet) []byte {
	return p.Wire(stream.WireKeyFLVTag, encodeTag)
}

// encodeTag encodes p as an FLV tag: header, payload, previous tag size.
func encodeTag(p *stream.Packet) []byte {
	b := make([]byte, 0, flv.TagHeaderSize+len(p.Payload)+4)
	return flv.AppendTag(b, uint8(p.Kind), p.Timestamp, p.Payload)
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
