package wsbridge

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// frameSizes are payload lengths at the edges of the three length forms.
var frameSizes = []int{0, 1, 125, 126, 127, 65535, 65536}

// parseFrame reads one server frame: FIN + text, unmasked.
func parseFrame(tb testing.TB, b []byte) (payload, rest []byte) {
	tb.Helper()
	if len(b) < 2 || b[0] != 0x81 || b[1]&0x80 != 0 {
		tb.Fatalf("bad frame header % x", b[:min(len(b), 2)])
	}
	n, h := int(b[1]), 2
	switch n {
	case 126:
		n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		if n < 126 {
			tb.Fatalf("length %d not minimal", n)
		}
	case 127:
		n, h = int(binary.BigEndian.Uint64(b[2:])), 10
		if n < 1<<16 {
			tb.Fatalf("length %d not minimal", n)
		}
	}
	if len(b) < h+n {
		tb.Fatalf("frame of %d bytes, %d present", n, len(b)-h)
	}
	return b[h : h+n], b[h+n:]
}

func TestAppendFrame(t *testing.T) {
	for _, n := range frameSizes {
		p := bytes.Repeat([]byte{'x'}, n)
		b := appendFrame([]byte("pre"), p)
		got, rest := parseFrame(t, b[3:])
		if !bytes.Equal(got, p) || len(rest) != 0 || string(b[:3]) != "pre" {
			t.Errorf("%d bytes: round trip failed", n)
		}
	}
}

func FuzzAppendFrame(f *testing.F) {
	for _, n := range frameSizes {
		f.Add(bytes.Repeat([]byte{'x'}, n))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		b := appendFrame(nil, p)
		b = appendFrame(b, p)
		got, rest := parseFrame(t, b)
		got2, rest2 := parseFrame(t, rest)
		if !bytes.Equal(got, p) || !bytes.Equal(got2, p) || len(rest2) != 0 {
			t.Fatal("round trip failed")
		}
	})
}
