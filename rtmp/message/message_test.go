package message

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/rtmp/amf"
)

func TestU32(t *testing.T) {
	for _, v := range []uint32{0, 1, 128, 4096, 0x7fffffff, 0xffffffff} {
		b := U32(v)
		if len(b) != 4 || b[0] != byte(v>>24) || b[3] != byte(v) {
			t.Errorf("U32(%d) = % x", v, b)
		}
		got, err := ParseU32(b)
		if err != nil || got != v {
			t.Errorf("ParseU32(U32(%d)) = %d, %v", v, got, err)
		}
	}
	if got, err := ParseU32([]byte{0, 0, 0x10, 0, 0xff}); err != nil || got != 4096 {
		t.Errorf("ParseU32 with a trailing byte = %d, %v; want 4096", got, err)
	}
	for n := range 4 {
		if _, err := ParseU32(make([]byte, n)); !errors.Is(err, ErrShort) {
			t.Errorf("ParseU32 of %d bytes: error %v, want ErrShort", n, err)
		}
	}
}

func TestPeerBandwidth(t *testing.T) {
	for _, tc := range []struct {
		window uint32
		limit  byte
		want   []byte
	}{
		{2500000, LimitDynamic, []byte{0x00, 0x26, 0x25, 0xa0, 2}},
		{5000000, LimitHard, []byte{0x00, 0x4c, 0x4b, 0x40, 0}},
		{0xffffffff, LimitSoft, []byte{0xff, 0xff, 0xff, 0xff, 1}},
	} {
		if got := PeerBandwidth(tc.window, tc.limit); !bytes.Equal(got, tc.want) {
			t.Errorf("PeerBandwidth(%d, %d) = % x, want % x", tc.window, tc.limit, got, tc.want)
		}
	}
}

func TestUserControl(t *testing.T) {
	for _, tc := range []struct {
		event uint16
		args  []uint32
		want  []byte
	}{
		{EventStreamBegin, []uint32{1}, []byte{0, 0, 0, 0, 0, 1}},
		{EventStreamBegin, nil, []byte{0, 0}},
		{EventStreamEOF, []uint32{1}, []byte{0, 1, 0, 0, 0, 1}},
		{EventStreamDry, []uint32{1}, []byte{0, 2, 0, 0, 0, 1}},
		{EventSetBufferLength, []uint32{1, 3000}, []byte{0, 3, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8}},
		{EventStreamIsRecorded, []uint32{1}, []byte{0, 4, 0, 0, 0, 1}},
		{EventPingRequest, []uint32{0x01020304}, []byte{0, 6, 1, 2, 3, 4}},
		{EventPingResponse, []uint32{0x01020304}, []byte{0, 7, 1, 2, 3, 4}},
	} {
		got := UserControl(tc.event, tc.args...)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("UserControl(%d, %v) = % x, want % x", tc.event, tc.args, got, tc.want)
		}
		ev, a1, a2, err := ParseUserControl(got)
		var w1, w2 uint32
		if len(tc.args) > 0 {
			w1 = tc.args[0]
		}
		if len(tc.args) > 1 {
			w2 = tc.args[1]
		}
		if err != nil || ev != tc.event || a1 != w1 || a2 != w2 {
			t.Errorf("ParseUserControl(UserControl(%d, %v)) = %d, %d, %d, %v", tc.event, tc.args, ev, a1, a2, err)
		}
	}
}

func TestParseUserControl(t *testing.T) {
	for _, tc := range userControlCases {
		t.Run(tc.name, func(t *testing.T) {
			ev, a1, a2, err := ParseUserControl(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				if a1 != 0 || a2 != 0 {
					t.Errorf("arguments %d, %d returned with an error", a1, a2)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev != tc.event || a1 != tc.arg1 || a2 != tc.arg2 {
				t.Errorf("got %d, %d, %d; want %d, %d, %d", ev, a1, a2, tc.event, tc.arg1, tc.arg2)
			}
		})
	}
}

// commandEqual compares commands as AMF values.
func commandEqual(a, b Command) bool {
	return a.Name == b.Name && amf.Equal(a.TxID, b.TxID) && amf.Equal(a.Object, b.Object) &&
		amf.Equal(a.Args, b.Args) && (len(a.Args) == 0) == (len(b.Args) == 0)
}

func TestDecodeCommand(t *testing.T) {
	for _, tc := range commandCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeCommand(tc.in, tc.amf3, tc.lim)
			if tc.errs != nil {
				if err == nil || !isAll(err, tc.errs) {
					t.Fatalf("error %v, want all of %v", err, tc.errs)
				}
				if !commandEqual(got, Command{}) {
					t.Errorf("command %+v returned with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !commandEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
			if tc.want.Args == nil && got.Args != nil {
				t.Errorf("Args = %#v, want nil", got.Args)
			}
		})
	}
}

func TestCommandArgs(t *testing.T) {
	c := Command{Name: "play", Args: []any{"stream", -2000.0, int32(7), true, nil, amf.Obj("a", 1.0)}}
	if s, ok := c.StringArg(0); !ok || s != "stream" {
		t.Errorf("StringArg(0) = %q, %v", s, ok)
	}
	if n, ok := c.NumberArg(1); !ok || n != -2000 {
		t.Errorf("NumberArg(1) = %v, %v", n, ok)
	}
	if n, ok := c.NumberArg(2); !ok || n != 7 {
		t.Errorf("NumberArg(2) of an AMF3 integer = %v, %v", n, ok)
	}
	if b, ok := c.BoolArg(3); !ok || !b {
		t.Errorf("BoolArg(3) = %v, %v", b, ok)
	}
	if c.Arg(4) != nil || c.Arg(5) == nil {
		t.Errorf("Arg(4) = %v, Arg(5) = %v", c.Arg(4), c.Arg(5))
	}
	// Wrong type, out of range and negative indexes give the zero value and false.
	for _, i := range []int{-1, 1, 3, 4, 5, 6, 100, math.MaxInt, math.MinInt} {
		if s, ok := c.StringArg(i); ok || s != "" {
			t.Errorf("StringArg(%d) = %q, %v", i, s, ok)
		}
	}
	for _, i := range []int{-1, 0, 3, 4, 5, 6} {
		if n, ok := c.NumberArg(i); ok || n != 0 {
			t.Errorf("NumberArg(%d) = %v, %v", i, n, ok)
		}
	}
	for _, i := range []int{-1, 0, 1, 4, 6} {
		if b, ok := c.BoolArg(i); ok || b {
			t.Errorf("BoolArg(%d) = %v, %v", i, b, ok)
		}
	}
	for _, i := range []int{-1, 6, 7} {
		if c.Arg(i) != nil {
			t.Errorf("Arg(%d) = %v, want nil", i, c.Arg(i))
		}
	}
	var empty Command
	if empty.Arg(0) != nil {
		t.Error("Arg(0) of a command without arguments is not nil")
	}
	if _, ok := empty.NumberArg(0); ok {
		t.Error("NumberArg(0) of a command without arguments is ok")
	}
}

func TestAppendCommandRoundTrip(t *testing.T) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 10e6, time.UTC)
	for _, tc := range []struct {
		name string
		tx   float64
		obj  any
		args []any
	}{
		{"connect", 1, ffmpegConnectObj, nil},
		{"_result", 1, amf.Obj("fmsVer", "FMS/3,5,7,7009", "capabilities", 31.0),
			[]any{amf.Obj("level", "status", "code", "NetConnection.Connect.Success", "objectEncoding", 0.0)}},
		{"createStream", 4, nil, nil},
		{"play", 5, nil, []any{"stream", -2000.0, -1.0, false}},
		{"onStatus", 0, nil, []any{amf.Obj("level", "error", "code", "NetStream.Play.StreamNotFound", "details", nil)}},
		{"rpc", 9, amf.Undefined{}, []any{when, []any{1.0, "two", nil}, &amf.ECMAArray{Props: []amf.Property{{Key: "k", Value: "v"}}},
			strings.Repeat("x", 70000), []byte{1, 2, 3}, amf.Obj("a", 1.0, "b", true)}},
		{"", math.NaN(), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("keep")
			b, err := AppendCommand(bytes.Clone(prefix), tc.name, tc.tx, tc.obj, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, prefix) {
				t.Fatalf("dst prefix lost: % x", b[:4])
			}
			want := Command{Name: tc.name, TxID: tc.tx, Object: tc.obj, Args: tc.args}
			for _, amf3 := range []bool{false, true} {
				in := b[len(prefix):]
				if amf3 {
					in = cat([]byte{0x00}, in)
				}
				got, err := DecodeCommand(in, amf3, amf.Limits{})
				if err != nil {
					t.Fatalf("amf3 %v: %v", amf3, err)
				}
				if !commandEqual(got, want) {
					t.Errorf("amf3 %v: got %.300v\nwant %.300v", amf3, fmt.Sprintf("%#v", got), fmt.Sprintf("%#v", want))
				}
			}
		})
	}
}

func TestAppendCommandErrors(t *testing.T) {
	bad := make(chan int)
	for i, args := range [][]any{{bad}, {"ok", bad}} {
		if _, err := AppendCommand(nil, "x", 1, nil, args...); !errors.Is(err, amf.ErrUnsupportedType) {
			t.Errorf("args %d: error %v, want amf.ErrUnsupportedType", i, err)
		}
	}
	if _, err := AppendCommand(nil, "x", 1, bad); !errors.Is(err, amf.ErrUnsupportedType) {
		t.Errorf("object: error %v, want amf.ErrUnsupportedType", err)
	}
	if _, err := AppendData(nil, "onMetaData", bad); !errors.Is(err, amf.ErrUnsupportedType) {
		t.Errorf("AppendData: error %v, want amf.ErrUnsupportedType", err)
	}
}

func TestAppendDataRoundTrip(t *testing.T) {
	meta := &amf.ECMAArray{Props: []amf.Property{{Key: "width", Value: 1280.0}, {Key: "height", Value: 720.0},
		{Key: "videocodecid", Value: 7.0}, {Key: "encoder", Value: "Lavf61.7.100"}, {Key: "stereo", Value: true}}}
	for i, vals := range [][]any{
		{"@setDataFrame", "onMetaData", meta},
		{"onMetaData", meta},
		{"|RtmpSampleAccess", false, false},
		{"onTextData", amf.Obj("text", "hello", "language", "eng")},
		{"onCuePoint", amf.Obj("name", "cue", "time", 1.5, "parameters", amf.Obj())},
		{},
	} {
		b, err := AppendData([]byte{0xaa}, vals...)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != 0xaa {
			t.Fatalf("%d: dst prefix lost", i)
		}
		for _, amf3 := range []bool{false, true} {
			in := b[1:]
			if amf3 {
				in = cat([]byte{0x00}, in)
			}
			got, err := DecodeData(in, amf3, amf.Limits{})
			if err != nil {
				t.Fatalf("%d amf3 %v: %v", i, amf3, err)
			}
			if len(got) != len(vals) || !amf.Equal(got, vals) {
				t.Errorf("%d amf3 %v: got %#v, want %#v", i, amf3, got, vals)
			}
		}
	}
	if _, err := DecodeData(onMetaData[:len(onMetaData)-1], false, amf.Limits{}); !errors.Is(err, amf.ErrTruncated) {
		t.Errorf("DecodeData of a truncated payload: error %v, want amf.ErrTruncated", err)
	}
}

// TestSetDataFrameToPlayers checks the path of OBS/ffmpeg metadata: what is
// left after @setDataFrame decodes as onMetaData and its array.
func TestSetDataFrameToPlayers(t *testing.T) {
	in, err := AppendData(nil, "@setDataFrame", "onMetaData", amf.Obj("width", 1920.0))
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := UnwrapSetDataFrame(in, false)
	if !ok {
		t.Fatal("not unwrapped")
	}
	vals, err := DecodeData(rest, false, amf.Limits{})
	if err != nil || !amf.Equal(vals, []any{"onMetaData", amf.Obj("width", 1920.0)}) {
		t.Errorf("got %#v, %v", vals, err)
	}
}

func TestUnwrapSetDataFrame(t *testing.T) {
	for _, tc := range setDataFrameCases {
		t.Run(tc.name, func(t *testing.T) {
			in := exact(tc.in)
			rest, ok := UnwrapSetDataFrame(in, tc.amf3)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				if rest != nil {
					t.Errorf("rest = % x with ok false", rest)
				}
				return
			}
			if !bytes.Equal(rest, tc.rest) || rest == nil {
				t.Errorf("rest = % x, want % x", rest, tc.rest)
			}
			if !sliceOf(rest, in) || len(in)-(cap(in)-cap(rest)) != len(rest) {
				t.Errorf("rest is not the tail of the input")
			}
			if len(rest) > 0 {
				in[len(in)-1] ^= 0xff
				if rest[len(rest)-1] != in[len(in)-1] {
					t.Errorf("rest is a copy, not a slice of the input")
				}
			}
		})
	}
}

// exact returns a copy of b with cap == len.
func exact(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// sliceOf reports whether s is a sub-slice of p: both end their capacity at
// the same element (p must have len == cap; see exact). An empty s with no
// capacity is taken to be at the end of p.
func sliceOf(s, p []byte) bool {
	if cap(s) == 0 {
		return len(s) == 0
	}
	if cap(p) == 0 || cap(s) > cap(p) {
		return false
	}
	return &s[:cap(s)][cap(s)-1] == &p[:cap(p)][cap(p)-1]
}

func TestSplitAggregate(t *testing.T) {
	for _, tc := range aggregateCases {
		t.Run(tc.name, func(t *testing.T) {
			in := exact(tc.in)
			var got []sub
			err := SplitAggregate(in, tc.ts, func(typ uint8, ts uint32, body []byte) error {
				if !sliceOf(body, in) {
					t.Errorf("body of sub-message %d is not a slice of the input", len(got))
				}
				got = append(got, sub{typ, ts, body})
				return nil
			})
			if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d sub-messages %v, want %d %v", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.typ != w.typ || g.ts != w.ts || !bytes.Equal(g.body, w.body) {
					t.Errorf("sub-message %d = {%d %d % x}, want {%d %d % x}", i, g.typ, g.ts, g.body, w.typ, w.ts, w.body)
				}
			}
		})
	}
}

func TestSplitAggregateCallbackError(t *testing.T) {
	in := cat(goodTag(9, 0, vKey), goodTag(8, 10, aFrame), goodTag(9, 40, vInter))
	stop := fmt.Errorf("stop here")
	calls := 0
	err := SplitAggregate(in, 0, func(typ uint8, ts uint32, body []byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("error %v, want the callback's error unchanged", err)
	}
	if calls != 2 {
		t.Errorf("%d calls, want 2 (the walk stops at the error)", calls)
	}

	// The callback's error wins over a malformed rest.
	calls = 0
	err = SplitAggregate(cat(goodTag(9, 0, vKey), []byte{1, 2}), 0, func(uint8, uint32, []byte) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("error %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func BenchmarkDecodeCommandConnect(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(ffmpegConnect)))
	for b.Loop() {
		c, err := DecodeCommand(ffmpegConnect, false, amf.Limits{})
		if err != nil || c.Name != "connect" {
			b.Fatal(c, err)
		}
	}
}
