package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp/amf"
)

var updateCorpus = flag.Bool("update", false, "rewrite the seed corpus files under testdata/fuzz")

// fuzzLimits keep one fuzz input from decoding into much.
var fuzzLimits = amf.Limits{MaxDepth: 16, MaxStringLen: 1 << 12, MaxElements: 256, MaxTotal: 1 << 12, MaxExpanded: 1 << 20}

// commandSeed is one FuzzDecodeCommand input.
type commandSeed struct {
	name string
	in   []byte
	amf3 bool
}

// commandSeeds are the command cases and, since data messages share the
// layout, the @setDataFrame cases.
func commandSeeds() []commandSeed {
	var seeds []commandSeed
	for _, tc := range commandCases {
		seeds = append(seeds, commandSeed{tc.name, tc.in, tc.amf3})
	}
	for _, tc := range setDataFrameCases {
		seeds = append(seeds, commandSeed{"data-" + tc.name, tc.in, tc.amf3})
	}
	return seeds
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range commandSeeds() {
		f.Add(s.in, s.amf3)
	}
	f.Fuzz(func(t *testing.T, data []byte, amf3 bool) {
		data = exact(data)
		c, err := DecodeCommand(data, amf3, fuzzLimits)
		if err != nil {
			if !errors.Is(err, ErrCommand) {
				t.Fatalf("error %v does not wrap ErrCommand", err)
			}
			if !commandEqual(c, Command{}) {
				t.Fatalf("command %#v returned with error %v", c, err)
			}
		} else {
			// Whatever decodes re-encodes (AMF0, then as type 17) and decodes the same.
			enc, err := AppendCommand(nil, c.Name, c.TxID, c.Object, c.Args...)
			if err != nil {
				t.Fatalf("re-encoding %#v: %v", c, err)
			}
			for _, a3 := range []bool{false, true} {
				in := enc
				if a3 {
					in = cat([]byte{0x00}, enc)
				}
				again, err := DecodeCommand(in, a3, amf.Limits{})
				if err != nil {
					t.Fatalf("re-encoded command (amf3 %v) does not decode: %v\n%#v", a3, err, c)
				}
				if !commandEqual(again, c) {
					t.Fatalf("re-encoded command (amf3 %v) differs:\n got %#v\nwant %#v", a3, again, c)
				}
			}
			// The same payload is a data message starting with the name.
			vals, err := DecodeData(data, amf3, fuzzLimits)
			if err != nil || len(vals) == 0 || vals[0] != c.Name {
				t.Fatalf("DecodeData = %v, %v for command %q", vals, err, c.Name)
			}
		}
		if rest, ok := UnwrapSetDataFrame(data, amf3); ok {
			if !sliceOf(rest, data) || cap(data)-cap(rest)+len(rest) != len(data) || len(rest) > len(data)-16 {
				t.Fatalf("rest of %d bytes is not a tail of the %d-byte input", len(rest), len(data))
			}
		} else if rest != nil {
			t.Fatal("rest with ok false")
		}
	})
}

// errFuzzStop is returned by the FuzzSplitAggregate callback for sub-messages
// of type 0xee.
var errFuzzStop = errors.New("stop")

func FuzzSplitAggregate(f *testing.F) {
	for _, tc := range aggregateCases {
		f.Add(tc.in, tc.ts)
	}
	f.Fuzz(func(t *testing.T, data []byte, aggTS uint32) {
		data = exact(data)
		end := 0 // end of the previous body in data
		var t0 uint32
		n := 0
		stopped := false
		err := SplitAggregate(data, aggTS, func(typ uint8, ts uint32, body []byte) error {
			if !sliceOf(body, data) {
				t.Fatalf("body %d is not a slice of the input", n)
			}
			off := len(data)
			if cap(body) > 0 {
				off = cap(data) - cap(body)
			}
			if stopped {
				t.Fatal("callback called after it returned an error")
			}
			want := 11
			if n > 0 {
				want = end + 4 + 11 // after the back pointer
			}
			if off != want || off+len(body) > len(data) {
				t.Fatalf("body %d at [%d:%d] of %d, want it at %d", n, off, off+len(body), len(data), want)
			}
			h := data[off-11 : off]
			size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
			tt := uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6])
			if typ != h[0] || size != len(body) {
				t.Fatalf("sub-message %d: type %d size %d, header says %d %d", n, typ, len(body), h[0], size)
			}
			if n == 0 {
				t0 = tt
				if ts != aggTS {
					t.Fatalf("first sub-message at %d, aggregate at %d", ts, aggTS)
				}
			} else if ts-aggTS != tt-t0 {
				t.Fatalf("sub-message %d at %d: offset %d from the aggregate, header offset %d", n, ts, ts-aggTS, tt-t0)
			}
			end = off + len(body)
			n++
			if typ == 0xee {
				stopped = true
				return errFuzzStop
			}
			return nil
		})
		switch {
		case err == nil:
			if rest := len(data) - end; n == 0 && len(data) != 0 || n > 0 && rest != 0 && rest != 4 {
				t.Fatalf("%d bytes left after %d sub-messages without an error", rest, n)
			}
		case errors.Is(err, errFuzzStop):
			if err != errFuzzStop || !stopped {
				t.Fatalf("callback error changed to %v", err)
			}
		case !errors.Is(err, ErrAggregate):
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func FuzzParseUserControl(f *testing.F) {
	for _, tc := range userControlCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, a1, a2, err := ParseUserControl(data)
		if err != nil {
			if !errors.Is(err, ErrShort) || len(data) >= 10 || a1 != 0 || a2 != 0 {
				t.Fatalf("error %v for %d bytes, args %d %d", err, len(data), a1, a2)
			}
			return
		}
		if ev != binary.BigEndian.Uint16(data) {
			t.Fatalf("event %d from % x", ev, data)
		}
		// What was parsed re-encodes to a prefix of the input.
		var args []uint32
		switch {
		case len(data) >= 10:
			args = []uint32{a1, a2}
		case len(data) >= 6:
			args = []uint32{a1}
			if a2 != 0 || ev == EventSetBufferLength {
				t.Fatalf("event %d: second argument %d from %d bytes", ev, a2, len(data))
			}
		default:
			if ev != EventStreamBegin || len(data) != 2 || a1 != 0 || a2 != 0 {
				t.Fatalf("event %d accepted from %d bytes", ev, len(data))
			}
		}
		if enc := UserControl(ev, args...); !bytes.HasPrefix(data, enc) {
			t.Fatalf("UserControl(%d, %v) = % x, not a prefix of % x", ev, args, enc, data)
		}
	})
}

// TestFuzzCorpus keeps testdata/fuzz in step with the case tables: every
// seed has its file, and no other file is there (crashers belong in the
// tables). Run `go test -run TestFuzzCorpus -update ./rtmp/message/` after
// changing a table.
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for _, s := range commandSeeds() {
		c.Add("FuzzDecodeCommand", s.name, s.in, s.amf3)
	}
	for _, tc := range aggregateCases {
		c.Add("FuzzSplitAggregate", tc.name, tc.in, tc.ts)
	}
	for _, tc := range userControlCases {
		c.Add("FuzzParseUserControl", tc.name, tc.in)
	}
	c.Check(t, *updateCorpus, "-update")
}
