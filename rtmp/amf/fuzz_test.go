package amf

import (
	"os"
	"regexp"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
)

// reLimits are the limits for decoding a re-encoded value: the encoder may legitimately
// write a value deeper or longer than it was read (an AMF3 *Array written behind a switch
// in AMF0 cannot reference the AMF0 values around it).
var reLimits = Limits{MaxDepth: MaxEncodeDepth, MaxTotal: 1 << 30}

// checkRoundTrip re-encodes a decoded value and checks that it decodes to an Equal value.
func checkRoundTrip(t *testing.T, v any, amf3 bool) {
	t.Helper()
	appendFn := AppendAMF0
	if amf3 {
		appendFn = AppendAMF3
	}
	b, err := appendFn(nil, v)
	if err != nil {
		t.Fatalf("re-encode %#v: %v", v, err)
	}
	v2, d, err := decodeOne(b, reLimits, amf3)
	if err != nil {
		t.Fatalf("re-decode % x: %v", b, err)
	}
	if d.Len() != 0 {
		t.Fatalf("re-decode left %d bytes", d.Len())
	}
	if !Equal(v, v2) || !Equal(v2, v) {
		t.Fatalf("round trip mismatch:\n%#v\n%#v", v, v2)
	}
}

func fuzzDecode(t *testing.T, b []byte, amf3 bool) {
	d := NewDecoder(b, Limits{})
	for d.Len() > 0 {
		off := d.Offset()
		var v any
		var err error
		if amf3 {
			v, err = d.ReadAMF3()
		} else {
			v, err = d.ReadAMF0()
		}
		if err != nil {
			return
		}
		if d.Offset() <= off {
			t.Fatal("no progress")
		}
		checkRoundTrip(t, v, amf3)
	}
}

func FuzzDecodeAMF0(f *testing.F) {
	for _, c := range amf0Cases {
		f.Add(c.wire)
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzDecode(t, b, false) })
}

func FuzzDecodeAMF3(f *testing.F) {
	for _, c := range amf3Cases {
		f.Add(c.wire)
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzDecode(t, b, true) })
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// TestFuzzCorpusFiles keeps testdata/fuzz in step with the case tables: every table entry
// has a seed file. Run with AMF_WRITE_CORPUS=1 to (re)write them.
func TestFuzzCorpusFiles(t *testing.T) {
	var c testutil.Corpus
	for target, cases := range map[string][]wireCase{"FuzzDecodeAMF0": amf0Cases, "FuzzDecodeAMF3": amf3Cases} {
		for _, tc := range cases {
			c.Add(target, "seed-"+unsafeName.ReplaceAllString(tc.name, "-"), tc.wire)
		}
	}
	c.Check(t, os.Getenv("AMF_WRITE_CORPUS") != "", "with AMF_WRITE_CORPUS=1")
}
