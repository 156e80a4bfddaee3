package stream

import (
	"encoding/binary"
	"strconv"
	"sync"
	"sync/atomic"
)

// Packet is one item of a stream: a media or data message (Kind 8, 9, 18) whose
// Payload is the FLV tag body, or an event (KindPublishStart, KindPublishStop).
//
// A Packet and its Payload are immutable once written to a stream: the same
// *Packet is queued for every subscriber, and the Payload bytes are shared,
// never copied. A Packet holds a mutex (for Wire) and must not be copied after
// first use; pass *Packet.
type Packet struct {
	Kind      Kind
	Timestamp uint32 // ms
	Payload   []byte // FLV tag body; immutable once the packet is written to a stream
	Keyframe  bool   // video keyframe (not a sequence header)
	Header    bool   // codec sequence header (video or audio)

	wire wireMemo
}

// wireSlots is how many Wire keys are memoized per packet.
const wireSlots = 4

// WireKeyFLVTag is the Wire key under which a packet's whole FLV tag is
// memoized: the 11-byte tag header, the payload and the 4-byte previous tag
// size, as HTTP-FLV and WebSocket-FLV players write it (stream/httpflv).
// Keys with the top bit set are reserved for such non-RTMP encodings; the
// RTMP server's keys (chunk size < 2^31 in the high word) never set it.
const WireKeyFLVTag uint64 = 1 << 63

// wireMemo memoizes up to wireSlots encodings. Slots [0, n) are complete and
// immutable: they are written under mu before n is raised with an atomic store,
// so a reader that loads n may read them without the lock.
type wireMemo struct {
	n    atomic.Uint32
	mu   sync.Mutex
	keys [wireSlots]uint64
	vals [wireSlots][]byte
}

// Event packets: package-level singletons, queued by reference.
var (
	publishStartPacket = &Packet{Kind: KindPublishStart}
	publishStopPacket  = &Packet{Kind: KindPublishStop}
)

// IsEvent reports whether k is an event kind (KindPublishStart, KindPublishStop)
// rather than a media or data kind.
func (k Kind) IsEvent() bool { return k >= KindPublishStart }

// NewPacket returns a packet of the given kind and timestamp with its Keyframe
// and Header flags set from the payload:
//
//   - Legacy video (b0&0x80 == 0): frame type b0>>4 (1 = key), codec id b0&0x0F.
//     For AVC (7) and HEVC (12) the AVCPacketType b1 decides: 0 = sequence
//     header, 1 = NALUs (a keyframe if the frame type is 1), 2 = end of
//     sequence (neither). Other legacy codecs: frame type 1 is a keyframe.
//   - Enhanced RTMP video (b0&0x80 set): frame type (b0>>4)&7, packet type
//     b0&0x0F. ModEx (7) prefixes are skipped to the real packet type.
//     SequenceStart (0) and MPEG2TSSequenceStart (5) are headers; CodedFrames (1)
//     and CodedFramesX (3) with frame type 1 are keyframes; SequenceEnd (2),
//     Metadata (4) and Command frames (frame type 5) are neither. Multitrack (6)
//     is classified by the packet type in the multitrack byte that follows, the
//     same way (nested Multitrack/ModEx there: neither). A FourCC must follow,
//     so a truncated enhanced header is neither.
//   - Audio: sound format b0>>4. AAC (10) with b1 == 0 is a header. ExHeader (9):
//     packet type b0&0x0F after ModEx, Multitrack (5) looked through as for video;
//     SequenceStart (0) followed by a FourCC is a header. Audio is never a keyframe.
//   - Data and events: neither.
//
// Empty and truncated payloads classify as neither; NewPacket never panics.
// The payload is kept, not copied.
func NewPacket(kind Kind, ts uint32, payload []byte) *Packet {
	p := &Packet{Kind: kind, Timestamp: ts, Payload: payload}
	switch kind {
	case KindVideo:
		v := parseVideo(payload)
		p.Keyframe, p.Header = v.key, v.header
	case KindAudio:
		a := parseAudio(payload)
		p.Header = a.header
	}
	return p
}

// Wire memoizes an encoding of the packet for a consumer-chosen key (the RTMP
// server packs chunk size, chunk stream id and message stream id into it). The
// first caller for a key runs encode and its result is returned to every later
// and concurrent caller with the same key; concurrent callers wait for it.
// Up to 4 keys are memoized per packet; beyond that encode runs on every call.
// The returned slice is shared and must not be modified.
//
// A hit takes no lock and allocates nothing. encode runs under the packet's
// memo lock, so it must not call Wire on the same packet.
func (p *Packet) Wire(key uint64, encode func(p *Packet) []byte) []byte {
	m := &p.wire
	n := m.n.Load()
	for i := uint32(0); i < n; i++ {
		if m.keys[i] == key {
			return m.vals[i]
		}
	}
	return p.wireSlow(key, encode)
}

func (p *Packet) wireSlow(key uint64, encode func(p *Packet) []byte) []byte {
	m := &p.wire
	m.mu.Lock()
	n := m.n.Load()
	for i := uint32(0); i < n; i++ {
		if m.keys[i] == key {
			m.mu.Unlock()
			return m.vals[i]
		}
	}
	if n == wireSlots {
		m.mu.Unlock()
		return encode(p)
	}
	defer m.mu.Unlock() // encode may panic
	b := encode(p)
	m.keys[n] = key
	m.vals[n] = b
	m.n.Store(n + 1)
	return b
}

// isMetadata reports whether p is a data packet carrying onMetaData: its payload
// begins with the AMF0 string "onMetaData".
func isMetadata(p *Packet) bool {
	const prefix = "\x02\x00\x0AonMetaData"
	return p.Kind == KindData && len(p.Payload) >= len(prefix) && string(p.Payload[:len(prefix)]) == prefix
}

// mediaInfo is what parseVideo and parseAudio learn from a tag body.
type mediaInfo struct {
	key, header bool
	multitrack  bool
	codec       uint32 // legacy codec id / sound format, or Enhanced RTMP FourCC; 0 if unknown
}

// skipModEx skips Enhanced RTMP ModEx prefixes starting at b[i] with packet type
// pt == modEx, returning the real packet type and the index after it. ok is
// false if the payload is truncated. Each round consumes at least two bytes.
func skipModEx(b []byte, i int, pt, modEx byte) (byte, int, bool) {
	for pt == modEx {
		if i >= len(b) {
			return 0, i, false
		}
		size := int(b[i]) + 1
		i++
		if size == 256 {
			if i+2 > len(b) {
				return 0, i, false
			}
			size = int(binary.BigEndian.Uint16(b[i:])) + 1
			i += 2
		}
		i += size
		if i >= len(b) {
			return 0, i, false
		}
		pt = b[i] & 0x0F // high nibble: modifier type
		i++
	}
	return pt, i, true
}

func fourCC(b []byte, i int) (uint32, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[i:]), true
}

// Enhanced RTMP packet types.
const (
	vptSequenceStart     = 0
	vptCodedFrames       = 1
	vptCodedFramesX      = 3
	vptMPEG2TSSeqStart   = 5
	vptMultitrack        = 6
	vptModEx             = 7
	aptSequenceStart     = 0
	aptMultitrack        = 5
	aptModEx             = 7
	legacyAVC            = 7
	legacyHEVC           = 12
	soundFormatAAC       = 10
	soundFormatExHeader  = 9
	frameTypeKey         = 1
	enhancedFrameCommand = 5
)

func parseVideo(b []byte) (v mediaInfo) {
	if len(b) == 0 {
		return
	}
	b0 := b[0]
	if b0&0x80 == 0 {
		ft, codec := b0>>4, b0&0x0F
		v.codec = uint32(codec)
		switch codec {
		case legacyAVC, legacyHEVC:
			if len(b) < 2 {
				return
			}
			switch b[1] {
			case 0:
				v.header = true
			case 1:
				v.key = ft == frameTypeKey
			}
		default:
			v.key = ft == frameTypeKey
		}
		return
	}
	ft, pt := (b0>>4)&7, b0&0x0F
	pt, i, ok := skipModEx(b, 1, pt, vptModEx)
	if !ok || ft == enhancedFrameCommand {
		return
	}
	if pt == vptMultitrack {
		if i >= len(b) {
			return
		}
		v.multitrack = true
		pt = b[i] & 0x0F // high nibble: multitrack type
		i++
		if pt == vptMultitrack || pt == vptModEx {
			return
		}
	}
	cc, ok := fourCC(b, i)
	if !ok {
		return
	}
	v.codec = cc
	switch pt {
	case vptSequenceStart, vptMPEG2TSSeqStart:
		v.header = true
	case vptCodedFrames, vptCodedFramesX:
		v.key = ft == frameTypeKey
	}
	return
}

func parseAudio(b []byte) (a mediaInfo) {
	if len(b) == 0 {
		return
	}
	format := b[0] >> 4
	switch format {
	case soundFormatAAC:
		a.codec = soundFormatAAC
		a.header = len(b) >= 2 && b[1] == 0
	case soundFormatExHeader:
		pt, i, ok := skipModEx(b, 1, b[0]&0x0F, aptModEx)
		if !ok {
			return
		}
		if pt == aptMultitrack {
			if i >= len(b) {
				return
			}
			a.multitrack = true
			pt = b[i] & 0x0F
			i++
			if pt == aptMultitrack || pt == aptModEx {
				return
			}
		}
		cc, ok := fourCC(b, i)
		if !ok {
			return
		}
		a.codec = cc
		a.header = pt == aptSequenceStart
	default:
		a.codec = uint32(format)
	}
	return
}

// CodecString formats a codec id as reported in Stats: a FourCC such as "hvc1"
// or "mp4a" for Enhanced RTMP codecs, else the legacy FLV codec id or sound
// format in decimal ("7" for AVC, "10" for AAC); "" for 0 (none seen).
func CodecString(id uint32) string {
	if id == 0 {
		return ""
	}
	if id > 0xFF {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], id)
		return string(b[:])
	}
	return strconv.FormatUint(uint64(id), 10)
}
