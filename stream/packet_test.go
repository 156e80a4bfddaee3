package stream

import (
	"bytes"
	"flag"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
)

type classCase struct {
	name     string
	kind     Kind
	payload  []byte
	key, hdr bool
	codec    uint32 // expected codec id from parse (0: don't care)
}

func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case byte:
			b = append(b, v)
		case int:
			b = append(b, byte(v))
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		default:
			panic(fmt.Sprintf("cat: %T", p))
		}
	}
	return b
}

func cc(s string) uint32 { return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3]) }

// classCases seeds both TestNewPacket and FuzzNewPacket (and its corpus files).
var classCases = []classCase{
	// Legacy video.
	{"avc seq header", KindVideo, cat(0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f), false, true, 7},
	{"avc keyframe", KindVideo, cat(0x17, 1, 0, 0, 0, 0, 0, 0, 5, 0x65), true, false, 7},
	{"avc inter", KindVideo, cat(0x27, 1, 0, 0, 0x21, 0, 0, 0, 5, 0x41), false, false, 7},
	{"avc disposable", KindVideo, cat(0x37, 1, 0, 0, 0), false, false, 7},
	{"avc end of sequence", KindVideo, cat(0x17, 2, 0, 0, 0), false, false, 7},
	{"avc one byte", KindVideo, cat(0x17), false, false, 7},
	{"hevc legacy seq header", KindVideo, cat(0x1C, 0, 0, 0, 0, 1), false, true, 12},
	{"hevc legacy keyframe", KindVideo, cat(0x1C, 1, 0, 0, 0, 0x26), true, false, 12},
	{"hevc legacy inter", KindVideo, cat(0x2C, 1, 0, 0, 0, 0x02), false, false, 12},
	{"vp6 keyframe", KindVideo, cat(0x14, 0, 1, 2), true, false, 4},
	{"sorenson inter", KindVideo, cat(0x22, 0, 1), false, false, 2},
	{"legacy info frame", KindVideo, cat(0x57, 1), false, false, 7},
	{"video empty", KindVideo, nil, false, false, 0},
	// Enhanced RTMP video.
	{"hvc1 seq start", KindVideo, cat(0x90, "hvc1", 1, 2, 3), false, true, cc("hvc1")},
	{"hvc1 coded key", KindVideo, cat(0x91, "hvc1", 0, 0, 0, 0x26), true, false, cc("hvc1")},
	{"hvc1 coded inter", KindVideo, cat(0xA1, "hvc1", 0, 0, 0, 0x02), false, false, cc("hvc1")},
	{"hvc1 codedX key", KindVideo, cat(0x93, "hvc1", 0x26), true, false, cc("hvc1")},
	{"hvc1 seq end", KindVideo, cat(0x92, "hvc1"), false, false, cc("hvc1")},
	{"hvc1 metadata", KindVideo, cat(0x94, "hvc1", 2, 0, 9, "colorInfo"), false, false, cc("hvc1")},
	{"av01 seq start", KindVideo, cat(0x90, "av01", 0x81, 0x04), false, true, cc("av01")},
	{"av01 codedX key", KindVideo, cat(0x93, "av01", 0x12, 0), true, false, cc("av01")},
	{"av01 codedX inter", KindVideo, cat(0xA3, "av01", 0x32, 0), false, false, cc("av01")},
	{"av01 mpeg2ts seq start", KindVideo, cat(0x95, "av01", 0x80), false, true, cc("av01")},
	{"vp09 seq start", KindVideo, cat(0x90, "vp09", 1, 0), false, true, cc("vp09")},
	{"vp09 key", KindVideo, cat(0x93, "vp09", 0x82), true, false, cc("vp09")},
	{"vp09 inter", KindVideo, cat(0xA3, "vp09", 0x86), false, false, cc("vp09")},
	{"enhanced generated key", KindVideo, cat(0xC1, "hvc1", 0, 0, 0), false, false, cc("hvc1")},
	{"enhanced command frame", KindVideo, cat(0xD0, 1), false, false, 0},
	{"enhanced seq start short fourcc", KindVideo, cat(0x90, "hv"), false, false, 0},
	{"enhanced key no fourcc", KindVideo, cat(0x91), false, false, 0},
	{"multitrack one track seq start", KindVideo, cat(0x96, 0x00, "hvc1", 0, 1, 2), false, true, cc("hvc1")},
	{"multitrack one track key", KindVideo, cat(0x96, 0x01, "hvc1", 1, 0, 0, 0, 0x26), true, false, cc("hvc1")},
	{"multitrack many codecs inter", KindVideo, cat(0xA6, 0x23, "av01", 0, 0, 0, 1, 0x32), false, false, cc("av01")},
	{"multitrack nested multitrack", KindVideo, cat(0x96, 0x06, "hvc1"), false, false, 0},
	{"multitrack truncated", KindVideo, cat(0x96), false, false, 0},
	{"modex then key", KindVideo, cat(0x97, 0, 0xAA, 0x01, "hvc1", 0, 0, 0), true, false, cc("hvc1")},
	{"modex then seq start", KindVideo, cat(0x97, 2, 1, 2, 3, 0x10, "av01"), false, true, cc("av01")},
	{"modex chained", KindVideo, cat(0x97, 0, 0xAA, 0x07, 0, 0xBB, 0x03, "vp09"), true, false, cc("vp09")},
	{"modex u16 size", KindVideo, cat(0x97, 0xFF, 0, 1, 0xAA, 0xBB, 0x00, "hvc1"), false, true, cc("hvc1")},
	{"modex truncated", KindVideo, cat(0x97), false, false, 0},
	{"modex u16 truncated", KindVideo, cat(0x97, 0xFF, 0), false, false, 0},
	{"modex data truncated", KindVideo, cat(0x97, 0x10, 1, 2), false, false, 0},
	{"modex huge size", KindVideo, cat(0x97, 0xFF, 0xFF, 0xFF, 1), false, false, 0},
	// Audio.
	{"aac seq header", KindAudio, cat(0xAF, 0, 0x12, 0x10), false, true, 10},
	{"aac raw", KindAudio, cat(0xAF, 1, 0x21), false, false, 10},
	{"aac one byte", KindAudio, cat(0xAF), false, false, 10},
	{"mp3", KindAudio, cat(0x2F, 0xFF, 0xFB), false, false, 2},
	{"audio empty", KindAudio, nil, false, false, 0},
	{"exaudio mp4a seq start", KindAudio, cat(0x90, "mp4a", 0x12, 0x10), false, true, cc("mp4a")},
	{"exaudio opus coded", KindAudio, cat(0x91, "Opus", 0xFC), false, false, cc("Opus")},
	{"exaudio seq start short", KindAudio, cat(0x90, "Op"), false, false, 0},
	{"exaudio seq end", KindAudio, cat(0x92, "fLaC"), false, false, cc("fLaC")},
	{"exaudio multichannel config", KindAudio, cat(0x94, "Opus", 1, 2), false, false, cc("Opus")},
	{"exaudio multitrack seq start", KindAudio, cat(0x95, 0x00, "Opus", 0, 1), false, true, cc("Opus")},
	{"exaudio multitrack truncated", KindAudio, cat(0x95), false, false, 0},
	{"exaudio modex seq start", KindAudio, cat(0x97, 0, 9, 0x00, "ac-3", 1), false, true, cc("ac-3")},
	{"exaudio modex truncated", KindAudio, cat(0x97, 5), false, false, 0},
	// Data and events.
	{"onMetaData", KindData, cat(0x02, 0, 10, "onMetaData", 0x08, 0, 0, 0, 0), false, false, 0},
	{"data empty", KindData, nil, false, false, 0},
	{"video bytes as data", KindData, cat(0x17, 0), false, false, 0},
	{"event", KindPublishStart, cat(0x17, 1), false, false, 0},
	{"unknown kind", Kind(7), cat(0x17, 1), false, false, 0},
}

func TestNewPacket(t *testing.T) {
	for _, c := range classCases {
		t.Run(c.name, func(t *testing.T) {
			p := NewPacket(c.kind, 42, c.payload)
			if p.Kind != c.kind || p.Timestamp != 42 || !bytes.Equal(p.Payload, c.payload) {
				t.Fatalf("fields: %+v", p)
			}
			if p.Keyframe != c.key || p.Header != c.hdr {
				t.Errorf("key=%v header=%v, want key=%v header=%v", p.Keyframe, p.Header, c.key, c.hdr)
			}
			if c.codec != 0 {
				var m mediaInfo
				if c.kind == KindVideo {
					m = parseVideo(c.payload)
				} else {
					m = parseAudio(c.payload)
				}
				if m.codec != c.codec {
					t.Errorf("codec %q, want %q", CodecString(m.codec), CodecString(c.codec))
				}
			}
		})
	}
}

func TestIsMetadata(t *testing.T) {
	for _, c := range []struct {
		p    *Packet
		want bool
	}{
		{NewPacket(KindData, 0, cat(0x02, 0, 10, "onMetaData")), true},
		{NewPacket(KindData, 0, cat(0x02, 0, 10, "onMetaDat")), false},
		{NewPacket(KindData, 0, cat(0x02, 0, 10, "onCuePoint")), false},
		{NewPacket(KindVideo, 0, cat(0x02, 0, 10, "onMetaData")), false},
	} {
		if got := isMetadata(c.p); got != c.want {
			t.Errorf("%q: %v", c.p.Payload, got)
		}
	}
}

func TestCodecString(t *testing.T) {
	for id, want := range map[uint32]string{0: "", 7: "7", 10: "10", 255: "255", cc("hvc1"): "hvc1", cc("Opus"): "Opus"} {
		if got := CodecString(id); got != want {
			t.Errorf("CodecString(%d) = %q, want %q", id, got, want)
		}
	}
}

func FuzzNewPacket(f *testing.F) {
	for _, c := range classCases {
		f.Add(uint8(c.kind), c.payload)
	}
	f.Fuzz(func(t *testing.T, kind uint8, payload []byte) {
		p := NewPacket(Kind(kind), 1, payload)
		if p.Keyframe && p.Header {
			t.Fatal("both keyframe and header")
		}
		if p.Keyframe && p.Kind != KindVideo {
			t.Fatal("keyframe on non-video")
		}
		if p.Header && p.Kind != KindVideo && p.Kind != KindAudio {
			t.Fatal("header on non-media")
		}
		_ = CodecString(parseVideo(payload).codec)
		_ = CodecString(parseAudio(payload).codec)
		_ = isMetadata(p)
	})
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz seed files from the test tables")

func corpusName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, strings.ToLower(name))
}

// TestFuzzCorpus keeps testdata/fuzz in step with the case tables of
// FuzzNewPacket and FuzzStream (-update-corpus rewrites it).
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for _, tc := range classCases {
		c.Add("FuzzNewPacket", "seed-"+corpusName(tc.name), uint8(tc.kind), tc.payload)
	}
	for _, tc := range streamCases {
		c.Add("FuzzStream", "seed-"+corpusName(tc.name), tc.ops)
	}
	c.Check(t, *updateCorpus, "-update-corpus")
}

func TestWireMemo(t *testing.T) {
	p := NewPacket(KindVideo, 0, cat(0x17, 1, 0, 0, 0))
	var calls atomic.Int32
	enc := func(tag byte) func(*Packet) []byte {
		return func(p *Packet) []byte {
			calls.Add(1)
			return append([]byte{tag}, p.Payload...)
		}
	}
	first := map[uint64][]byte{}
	for k := uint64(0); k < wireSlots; k++ {
		first[k] = p.Wire(k, enc(byte(k)))
	}
	if calls.Load() != wireSlots {
		t.Fatalf("calls %d", calls.Load())
	}
	for k := uint64(0); k < wireSlots; k++ {
		b := p.Wire(k, enc(0xEE))
		if &b[0] != &first[k][0] || b[0] != byte(k) {
			t.Fatalf("key %d: not the memoized slice", k)
		}
	}
	if calls.Load() != wireSlots {
		t.Fatalf("hits called encode: %d", calls.Load())
	}
	// Beyond the slots: encode on every call, still correct.
	for i := 0; i < 3; i++ {
		if b := p.Wire(99, enc(99)); b[0] != 99 {
			t.Fatal("overflow key result")
		}
	}
	if calls.Load() != wireSlots+3 {
		t.Fatalf("overflow key calls %d", calls.Load())
	}
	static := func(*Packet) []byte { return nil }
	allocs := testing.AllocsPerRun(100, func() { _ = p.Wire(2, static) })
	if allocs != 0 {
		t.Fatalf("hit allocates %v", allocs)
	}
}

func TestWireConcurrent(t *testing.T) {
	for round := 0; round < 50; round++ {
		p := NewPacket(KindAudio, 0, cat(0xAF, 1, 2))
		var calls [wireSlots]atomic.Int32
		var wg sync.WaitGroup
		results := make([][]byte, 32)
		for g := range results {
			wg.Go(func() {
				k := uint64(g % wireSlots)
				results[g] = p.Wire(k, func(p *Packet) []byte {
					calls[k].Add(1)
					return []byte{byte(k), byte(g)}
				})
			})
		}
		wg.Wait()
		for k := range calls {
			if n := calls[k].Load(); n != 1 {
				t.Fatalf("key %d encoded %d times", k, n)
			}
		}
		for g, b := range results {
			if b[0] != byte(g%wireSlots) || &b[0] != &results[g%wireSlots][0] {
				t.Fatalf("goroutine %d got a different slice", g)
			}
		}
	}
}

func TestWireEncodePanicReleasesLock(t *testing.T) {
	p := NewPacket(KindAudio, 0, nil)
	func() {
		defer func() { _ = recover() }()
		p.Wire(1, func(*Packet) []byte { panic("boom") })
	}()
	if b := p.Wire(1, func(*Packet) []byte { return []byte{7} }); b[0] != 7 {
		t.Fatal("after panic")
	}
}
