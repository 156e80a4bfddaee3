package flv

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// amfCases: encodings and what they decode to (err: the decode fails with
// ErrAMF). Valid cases must re-encode to the same bytes.
var amfCases = []struct {
	name string
	in   []byte
	want any
	err  bool
}{
	{name: "number", in: []byte{0, 0x40, 0x59, 0, 0, 0, 0, 0, 0}, want: 100.0},
	{name: "true", in: []byte{1, 1}, want: true},
	{name: "false", in: []byte{1, 0}, want: false},
	{name: "string", in: []byte("\x02\x00\x03abc"), want: "abc"},
	{name: "empty-string", in: []byte("\x02\x00\x00"), want: ""},
	{name: "null", in: []byte{5}, want: nil},
	{name: "undefined", in: []byte{6}, want: amfUndef{}},
	{name: "date", in: []byte{0x0B, 0x42, 0x77, 0, 0, 0, 0, 0, 0, 0, 0}, want: amfDateV{MS: math.Float64frombits(0x4277000000000000)}},
	{name: "object", in: []byte("\x03\x00\x01a\x01\x01\x00\x00\x09"), want: &amfObj{Props: []amfProp{{"a", true}}}},
	{name: "ecma", in: []byte("\x08\x00\x00\x00\x01\x00\x01w\x00\x40\x74\x00\x00\x00\x00\x00\x00\x00\x00\x09"),
		want: &amfObj{ECMA: true, Props: []amfProp{{"w", 320.0}}}},
	{name: "strict-array", in: []byte("\x0A\x00\x00\x00\x02\x05\x01\x00"), want: []any{nil, false}},
	{name: "nested", in: []byte("\x03\x00\x01k\x0A\x00\x00\x00\x01\x03\x00\x00\x09\x00\x00\x09"),
		want: &amfObj{Props: []amfProp{{"k", []any{&amfObj{}}}}}},

	{name: "err-empty", in: []byte{}, err: true},
	{name: "err-short-number", in: []byte{0, 1, 2}, err: true},
	{name: "err-short-bool", in: []byte{1}, err: true},
	{name: "err-string-past-end", in: []byte("\x02\x00\x09abc"), err: true},
	{name: "err-long-string-past-end", in: []byte("\x0C\xFF\xFF\xFF\xFFabc"), err: true},
	{name: "err-strict-count-huge", in: []byte("\x0A\x7F\xFF\xFF\xFF\x05"), err: true, want: "a 2G count over one byte allocates nothing large"},
	{name: "err-object-unterminated", in: []byte("\x03\x00\x01a\x05"), err: true},
	{name: "err-reference", in: []byte{0x07, 0, 1}, err: true},
	{name: "err-typed-object", in: []byte("\x10\x00\x01T\x00\x00\x09"), err: true},
	{name: "err-amf3-switch", in: []byte{0x11, 1}, err: true},
	{name: "err-too-deep", in: []byte(strings.Repeat("\x0A\x00\x00\x00\x01", 40) + "\x05"), err: true},
	{name: "err-short-date", in: []byte{0x0B, 0}, err: true},
}

func TestAMF(t *testing.T) {
	for _, tc := range amfCases {
		t.Run(tc.name, func(t *testing.T) {
			v, n, err := amfDecode(tc.in)
			if tc.err {
				if !errors.Is(err, ErrAMF) {
					t.Fatalf("decode = %v, %v; want ErrAMF", v, err)
				}
				return
			}
			if err != nil || n != len(tc.in) {
				t.Fatalf("decode: %v after %d of %d bytes", err, n, len(tc.in))
			}
			if !reflect.DeepEqual(v, tc.want) {
				t.Fatalf("decoded %#v, want %#v", v, tc.want)
			}
			if enc := amfAppend(nil, v); !bytes.Equal(enc, tc.in) {
				t.Fatalf("re-encoded % x, want % x", enc, tc.in)
			}
		})
	}
	// A long string is encoded with the long marker.
	long := strings.Repeat("x", 70000)
	enc := amfAppend(nil, long)
	if v, _, err := amfDecode(enc); err != nil || v != long || enc[0] != amfLongString {
		t.Errorf("long string: %v", err)
	}
}

func TestEncodeMetaSized(t *testing.T) {
	o := &amfObj{ECMA: true, Props: []amfProp{{"duration", 1.5}, {"filesize", 10.0}, {"encoder", strings.Repeat("e", 600)}, {"width", 320.0}}}
	for _, size := range []int{1024, 2000, 70000 + 200, 650} {
		b, ok := encodeMetaSized(o, size)
		if !ok || len(b) != size {
			t.Fatalf("size %d: ok %v len %d", size, ok, len(b))
		}
		m, err := parseMeta(b)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if w, _ := m.num("width"); w != 320 {
			t.Errorf("size %d: width %v", size, w)
		}
		_, hasEnc := m.get("encoder")
		if hasEnc != (size > 1000) {
			t.Errorf("size %d: encoder kept %v", size, hasEnc)
		}
		if !patchNumber(b, "duration", 7.25) {
			t.Fatal("no duration to patch")
		}
		if m, _ := parseMeta(b); m == nil {
			t.Fatal("patched metadata unreadable")
		} else if d, _ := m.num("duration"); d != 7.25 {
			t.Errorf("patched duration %v", d)
		}
	}
	if _, ok := encodeMetaSized(o, 40); ok {
		t.Error("essential fields encoded into 40 bytes")
	}
	// updateMeta: full re-encode when possible, else numbers in place.
	b, _ := encodeMetaSized(o, 1024)
	final := buildMeta(nil, o, &mediaInfo{}, 0, 0)
	if !updateMeta(b, final, 3*time.Second, 99) {
		t.Fatal("updateMeta failed")
	}
	m, _ := parseMeta(b)
	if d, _ := m.num("duration"); d != 3 {
		t.Errorf("duration %v", d)
	}
	if f, _ := m.num("filesize"); f != 99 {
		t.Errorf("filesize %v", f)
	}
}

// num returns key's value if it is a number.
func (o *amfObj) num(key string) (float64, bool) {
	v, ok := o.get(key)
	f, isNum := v.(float64)
	return f, ok && isNum
}
