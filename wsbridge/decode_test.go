package wsbridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp/amf"
)

// decodeCases is the table that seeds both TestDecode and FuzzDecode (and the
// corpus under testdata/fuzz/FuzzDecode).
var decodeCases = []struct {
	name string
	in   string
	want Request
	err  error
}{
	{"send", `{"type":"send","handler":"onMessage","args":["hi",1,true,null]}`,
		Request{Op: OpSend, Handler: "onMessage", Args: []any{"hi", 1.0, true, nil}}, nil},
	{"send no args", `{"type":"send","handler":"h"}`, Request{Op: OpSend, Handler: "h", Args: []any{}}, nil},
	{"set object", `{"type":"set","key":"k","value":{"b":1,"a":[1,{"x":"y"}]}}`,
		Request{Op: OpSet, Key: "k", Value: amf.Obj("a", []any{1.0, amf.Obj("x", "y")}, "b", 1.0)}, nil},
	{"set null removes", `{"type":"set","key":"k","value":null}`, Request{Op: OpSet, Key: "k"}, nil},
	{"set empty key", `{"type":"set","key":"","value":"v"}`, Request{Op: OpSet, Key: "", Value: "v"}, nil},
	{"remove", `{"type":"remove","key":"k"}`, Request{Op: OpRemove, Key: "k"}, nil},
	{"clear", `{"type":"clear"}`, Request{Op: OpClear}, nil},
	{"chat", `{"type":"chat","text":"hello <b>"}`, Request{Op: OpChat, Text: "hello <b>"}, nil},
	{"red5", `{"name":"chat","method":"messageTransmit","message":{"data":"hi from red5"}}`,
		Request{Op: OpChat, Text: "hi from red5", Compat: "red5"}, nil},
	{"plain text", "  just text \n", Request{Op: OpChat, Text: "just text", Compat: "text"}, nil},
	{"plain text with brace later", `hi {there}`, Request{Op: OpChat, Text: "hi {there}", Compat: "text"}, nil},
	{"plain JSON array is text", `[1,2]`, Request{Op: OpChat, Text: "[1,2]", Compat: "text"}, nil},
	{"unicode", `{"type":"chat","text":"h\u00e9 \ud83d\ude00"}`, Request{Op: OpChat, Text: "hé 😀"}, nil},
	{"extra fields ignored", `{"type":"clear","x":[1,2,3]}`, Request{Op: OpClear}, nil},

	{"empty", ``, Request{}, ErrBadRequest},
	{"spaces", "   \n", Request{}, ErrBadRequest},
	{"truncated", `{"type":"chat","text":`, Request{}, ErrInvalidJSON},
	{"trailing garbage", `{"type":"clear"} x`, Request{}, ErrInvalidJSON},
	{"not utf8", "{\"type\":\"chat\",\"text\":\"\xff\"}", Request{}, ErrInvalidJSON},
	{"not utf8 text", "\xfe\xff", Request{}, ErrInvalidJSON},
	{"no type", `{}`, Request{}, ErrBadRequest},
	{"unknown type", `{"type":"dance"}`, Request{}, ErrBadRequest},
	{"type not string", `{"type":5}`, Request{}, ErrBadRequest},
	{"set no key", `{"type":"set","value":1}`, Request{}, ErrBadRequest},
	{"set no value", `{"type":"set","key":"k"}`, Request{}, ErrBadRequest},
	{"remove no key", `{"type":"remove"}`, Request{}, ErrBadRequest},
	{"key not string", `{"type":"set","key":1,"value":2}`, Request{}, ErrBadRequest},
	{"long key", `{"type":"remove","key":"` + strings.Repeat("k", MaxKeyLen+1) + `"}`, Request{}, ErrBadRequest},
	{"send no handler", `{"type":"send","args":[]}`, Request{}, ErrBadRequest},
	{"send empty handler", `{"type":"send","handler":""}`, Request{}, ErrBadRequest},
	{"args not array", `{"type":"send","handler":"h","args":{}}`, Request{}, ErrBadRequest},
	{"too many args", `{"type":"send","handler":"h","args":[` + strings.Repeat("0,", MaxArgs) + `0]}`, Request{}, ErrBadRequest},
	{"too deep", `{"type":"set","key":"k","value":` + strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2) + `}`, Request{}, ErrBadRequest},
	{"just deep enough", `{"type":"set","key":"k","value":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}`,
		Request{Op: OpSet, Key: "k", Value: nested(MaxDepth + 1)}, nil},
	{"chat empty", `{"type":"chat","text":""}`, Request{}, ErrBadRequest},
	{"red5 empty", `{"name":"chat","method":"messageTransmit","message":{"data":""}}`, Request{}, ErrBadRequest},
	{"red5 wrong method", `{"name":"chat","method":"other","message":{"data":"x"}}`, Request{}, ErrBadRequest},
	{"red5 data not string", `{"method":"messageTransmit","message":{"data":1}}`, Request{}, ErrBadRequest},
	{"huge number", `{"type":"set","key":"k","value":1e400}`, Request{}, ErrBadRequest},
}

func nested(n int) any {
	var v any = []any{}
	for range n - 1 {
		v = []any{v}
	}
	return v
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases {
		got, err := Decode([]byte(tc.in))
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v\nwant %#v", tc.name, got, tc.want)
		}
	}
}

// TestFuzzCorpus keeps the seed corpus files in step with the tables
// (decodeCases for FuzzDecode, frameSizes for FuzzAppendFrame): regenerate
// them with SCOPECAST_WRITE_CORPUS=1 go test -run TestFuzzCorpus ./wsbridge.
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for i, tc := range decodeCases {
		c.Add("FuzzDecode", fmt.Sprintf("seed-%02d", i), []byte(tc.in))
	}
	for i, n := range frameSizes {
		c.Add("FuzzAppendFrame", fmt.Sprintf("seed-%02d", i), bytes.Repeat([]byte{'x'}, n))
	}
	c.Check(t, os.Getenv("SCOPECAST_WRITE_CORPUS") != "", "with SCOPECAST_WRITE_CORPUS=1")
}

// FuzzDecode: Decode never panics, errors wrap a sentinel, results respect the
// bounds, and what it accepts renders back to valid JSON.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrInvalidJSON) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		switch r.Op {
		case OpChat:
			if r.Text == "" {
				t.Fatal("empty chat accepted")
			}
		case OpSend:
			if r.Handler == "" || len(r.Args) > MaxArgs {
				t.Fatalf("bad send accepted: %#v", r)
			}
		case OpSet, OpRemove, OpClear:
			if len(r.Key) > MaxKeyLen {
				t.Fatal("long key accepted")
			}
		default:
			t.Fatalf("unknown op %q accepted", r.Op)
		}
		for _, v := range append([]any{r.Value}, r.Args...) {
			out := AppendJSON(nil, v)
			if !json.Valid(out) {
				t.Fatalf("AppendJSON(%#v) = %q is not JSON", v, out)
			}
			if _, err := amf.AppendAMF0(nil, v); err != nil {
				t.Fatalf("decoded value cannot be AMF-encoded: %v", err)
			}
		}
	})
}

// AMF values of every kind render as valid JSON, cycles and huge shared
// structures included.
func TestAppendJSON(t *testing.T) {
	cyc := amf.Obj("name", "loop")
	cyc.Set("self", cyc)
	shared := []any{"x"}
	for range 40 { // 2^40 leaves if expanded
		shared = []any{shared, shared}
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, `null`},
		{amf.Undefined{}, `null`},
		{true, `true`},
		{1.5, `1.5`},
		{math.NaN(), `null`},
		{math.Inf(1), `null`},
		{int32(-7), `-7`},
		{"a\"b\\c\n\x01<>&\u2028", `"a\"b\\c\n\u0001<>&\u2028"`},
		{"bad \xff utf8", `"bad \ufffd utf8"`},
		{amf.Obj("b", 1.0, "a", "x"), `{"b":1,"a":"x"}`},
		{&amf.ECMAArray{Props: []amf.Property{{Key: "k", Value: []any{1.0, nil}}}}, `{"k":[1,null]}`},
		{&amf.Array{Dense: []any{"d"}, Assoc: []amf.Property{{Key: "k", Value: 2.0}}}, `{"0":"d","k":2}`},
		{&amf.Array{Dense: []any{"d"}}, `["d"]`},
		{time.UnixMilli(1700000000123).UTC(), `"2023-11-14T22:13:20.123Z"`},
		{[]byte{1, 2, 3}, `"AQID"`},
		{amf.XML("<x/>"), `"\u003cx/\u003e"`},
		{&amf.VectorInt{Items: []int32{1, -2}}, `[1,-2]`},
		{&amf.VectorDouble{Items: []float64{0.5}}, `[0.5]`},
		{&amf.Dictionary{Entries: []amf.DictEntry{{Key: "k", Value: 1.0}}}, `[{"key":"k","value":1}]`},
		{map[string]any{"z": 1, "a": []string{"s"}}, `{"a":["s"],"z":1}`},
		{struct{}{}, `null`},
	} {
		got := string(AppendJSON(nil, tc.v))
		if tc.want == `"\u003cx/\u003e"` { // we do not escape HTML: the page uses textContent
			tc.want = `"<x/>"`
		}
		if got != tc.want {
			t.Errorf("AppendJSON(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
	for _, v := range []any{cyc, shared} {
		out := AppendJSON(nil, v)
		if !json.Valid(out) || len(out) > 8<<20 {
			t.Errorf("%T: %d bytes, valid %v", v, len(out), json.Valid(out))
		}
	}
}
