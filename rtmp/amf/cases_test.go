package amf

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strings"
	"time"
)

// hx parses hex digits, ignoring spaces.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// cat concatenates byte slices and strings (strings are taken as raw bytes).
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch x := p.(type) {
		case []byte:
			b = append(b, x...)
		case string:
			b = append(b, x...)
		case byte:
			b = append(b, x)
		default:
			panic("cat: bad part")
		}
	}
	return b
}

func d64(f float64) []byte { return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)) }

// wireCase is one entry of the shared table seeding unit tests and fuzz corpora.
type wireCase struct {
	name  string
	wire  []byte
	value any  // decoded value (compared with Equal)
	want  any  // decoded value when it differs from value (value is then encode-only)
	enc   bool // encoding value yields exactly wire
	err   error
	lim   Limits
}

var (
	testDate   = time.UnixMilli(1234567890123).UTC()
	longString = strings.Repeat("x", 70000)
	sharedObj  = &Object{}
	selfObj    = func() *Object { o := &Object{}; o.Props = []Property{{"self", o}}; return o }()
	sharedObj3 = &Object{Props: []Property{{"a", int32(1)}}}
)

var amf0Cases = []wireCase{
	{name: "number 1", wire: hx("00 3ff0000000000000"), value: 1.0, enc: true},
	{name: "number 0", wire: hx("00 0000000000000000"), value: 0.0, enc: true},
	{name: "number -2.5", wire: hx("00 c004000000000000"), value: -2.5, enc: true},
	{name: "number int", wire: hx("00 4059000000000000"), value: 100, enc: true},
	{name: "number uint8", wire: hx("00 4059000000000000"), value: uint8(100), enc: true},
	{name: "number int32", wire: hx("00 4059000000000000"), value: int32(100), enc: true},
	{name: "number float32", wire: hx("00 3ff8000000000000"), value: float32(1.5), enc: true},
	{name: "true", wire: hx("01 01"), value: true, enc: true},
	{name: "false", wire: hx("01 00"), value: false, enc: true},
	{name: "true nonzero", wire: hx("01 05"), value: true},
	{name: "empty string", wire: hx("02 0000"), value: "", enc: true},
	{name: "string", wire: cat(hx("02 0005"), "hello"), value: "hello", enc: true},
	{name: "utf8 string", wire: hx("02 0002 c3a9"), value: "é", enc: true},
	{name: "long string", wire: cat(hx("0c 00011170"), longString), value: longString, enc: true},
	{name: "short long string", wire: cat(hx("0c 00000002"), "hi"), value: "hi"},
	{name: "null", wire: hx("05"), value: nil, enc: true},
	{name: "nil object pointer", wire: hx("05"), value: (*Object)(nil), enc: true},
	{name: "undefined", wire: hx("06"), value: Undefined{}, enc: true},
	{name: "unsupported", wire: hx("0d"), value: Undefined{}},
	{name: "empty object", wire: hx("03 0000 09"), value: Obj(), enc: true},
	{name: "object", wire: cat(hx("03 0001"), "a", hx("00 3ff0000000000000 0002"), "bc", hx("02 0001"), "x", hx("0000 09")),
		value: Obj("a", 1.0, "bc", "x"), enc: true},
	{name: "nested object", wire: cat(hx("03 0001"), "o", hx("03 0001"), "n", hx("05 0000 09 0000 09")),
		value: Obj("o", Obj("n", nil)), enc: true},
	{name: "map object sorted", wire: cat(hx("03 0001"), "a", hx("01 01 0001"), "b", hx("05 0000 09")),
		value: map[string]any{"b": nil, "a": true}, want: Obj("a", true, "b", nil), enc: true},
	{name: "typed object", wire: cat(hx("10 0003"), "Foo", hx("0001"), "x", hx("05 0000 09")),
		value: &Object{Class: "Foo", Props: []Property{{"x", nil}}}, enc: true},
	{name: "ecma array", wire: cat(hx("08 00000001 0008"), "duration", hx("00 4024000000000000 0000 09")),
		value: &ECMAArray{Props: []Property{{"duration", 10.0}}}, enc: true},
	{name: "empty ecma array", wire: hx("08 00000000 0000 09"), value: &ECMAArray{}, enc: true},
	{name: "ecma array wrong count", wire: cat(hx("08 00000000 0001"), "a", hx("05 0000 09")),
		value: &ECMAArray{Props: []Property{{"a", nil}}}},
	{name: "ecma array no end", wire: cat(hx("08 00000001 0001"), "a", hx("05")),
		value: &ECMAArray{Props: []Property{{"a", nil}}}},
	{name: "strict array", wire: cat(hx("0a 00000002 00 3ff0000000000000 02 0001"), "a"),
		value: []any{1.0, "a"}, enc: true},
	{name: "empty strict array", wire: hx("0a 00000000"), value: []any{}, enc: true},
	{name: "string slice", wire: cat(hx("0a 00000002 02 0001"), "a", hx("02 0001"), "b"),
		value: []string{"a", "b"}, enc: true},
	{name: "float slice", wire: hx("0a 00000001 00 3ff0000000000000"), value: []float64{1}, enc: true},
	{name: "date", wire: cat(hx("0b"), d64(1234567890123), hx("0000")), value: testDate, enc: true},
	{name: "date tz", wire: cat(hx("0b"), d64(1234567890123), hx("ff88")), value: testDate},
	{name: "date fraction", wire: cat(hx("0b"), d64(1234567890123.7), hx("0000")), value: testDate},
	{name: "xml document", wire: cat(hx("0f 00000004"), "<a/>"), value: XMLDocument("<a/>"), enc: true},
	{name: "reference", wire: hx("0a 00000002 03 0000 09 07 0001"), value: []any{sharedObj, sharedObj}, enc: true},
	{name: "self reference", wire: cat(hx("03 0004"), "self", hx("07 0000 0000 09")), value: selfObj, enc: true},
	{name: "switch integer", wire: hx("11 04 05"), value: int32(5)},
	{name: "switch string", wire: cat(hx("11 06 07"), "abc"), value: "abc"},
	{name: "switch bytearray", wire: hx("11 0c 07 010203"), value: []byte{1, 2, 3}, enc: true},
	{name: "switch xml", wire: cat(hx("11 0b 09"), "<a/>"), value: XML("<a/>"), enc: true},
	{name: "switch object", wire: cat(hx("11 0a 0b 01 03"), "a", hx("04 01 01")), value: Obj("a", int32(1))},
	{name: "switch sealed object", wire: cat(hx("11 0a 13 07"), "Foo", hx("03"), "x", hx("04 05")),
		value: &Object{Class: "Foo", Props: []Property{{"x", int32(5)}}, Sealed: 1, Static: true}, enc: true},
	{name: "switch array", wire: cat(hx("11 09 03 03"), "k", hx("04 01 01 03")),
		value: &Array{Assoc: []Property{{"k", int32(1)}}, Dense: []any{true}}, enc: true},
	{name: "switch vector", wire: hx("11 0d 03 00 00000007"), value: &VectorInt{Items: []int32{7}}, enc: true},

	{name: "err truncated number", wire: hx("00 3ff0"), err: ErrTruncated},
	{name: "err truncated string", wire: cat(hx("02 0005"), "hel"), err: ErrTruncated},
	{name: "err truncated object", wire: cat(hx("03 0001"), "a"), err: ErrTruncated},
	{name: "err truncated end", wire: hx("03 0000"), err: ErrTruncated},
	{name: "err truncated date", wire: cat(hx("0b"), d64(1)), err: ErrTruncated},
	{name: "err empty", wire: nil, err: ErrTruncated},
	{name: "err huge strict array", wire: hx("0a ffffffff"), err: ErrTooMany},
	{name: "err huge strict array big limit", wire: hx("0a ffffffff"), err: ErrTruncated, lim: Limits{MaxElements: math.MaxInt}},
	{name: "err huge long string", wire: hx("0c ffffffff"), err: ErrTooLong},
	{name: "err huge long string big limit", wire: hx("0c ffffffff"), err: ErrTruncated, lim: Limits{MaxStringLen: math.MaxInt}},
	{name: "err string limit", wire: cat(hx("02 0005"), "hello"), err: ErrTooLong, lim: Limits{MaxStringLen: 4}},
	{name: "err element limit", wire: hx("0a 00000003 05 05 05"), err: ErrTooMany, lim: Limits{MaxElements: 2}},
	{name: "err property limit", wire: cat(hx("03 0001"), "a", hx("05 0001"), "b", hx("05 0000 09")), err: ErrTooMany, lim: Limits{MaxElements: 1}},
	{name: "err total limit", wire: hx("0a 00000003 05 05 05"), err: ErrTooMany, lim: Limits{MaxTotal: 3}},
	{name: "err depth", wire: cat(strings.Repeat("\x0a\x00\x00\x00\x01", 3), hx("05")), err: ErrDepth, lim: Limits{MaxDepth: 2}},
	{name: "err depth objects", wire: cat(strings.Repeat("\x03\x00\x01a", 33), hx("05")), err: ErrDepth},
	{name: "err object end alone", wire: hx("09"), err: ErrMarker},
	{name: "err movieclip", wire: hx("04"), err: ErrMarker},
	{name: "err recordset", wire: hx("0e"), err: ErrMarker},
	{name: "err unknown marker", wire: hx("12"), err: ErrMarker},
	{name: "err bad object end", wire: hx("03 0000 05"), err: ErrMarker},
	{name: "err reference", wire: hx("07 0000"), err: ErrReference},
	{name: "err reference range", wire: hx("0a 00000001 07 0001"), err: ErrReference},
	{name: "err date nan", wire: cat(hx("0b"), d64(math.NaN()), hx("0000")), err: ErrInvalid},
	{name: "err date range", wire: cat(hx("0b"), d64(1e16), hx("0000")), err: ErrInvalid},
	{name: "err switch externalizable", wire: cat(hx("11 0a 07 07"), "Foo"), err: ErrExternalizable},
	{name: "err switch truncated", wire: hx("11"), err: ErrTruncated},
}

var amf3Cases = []wireCase{
	{name: "undefined", wire: hx("00"), value: Undefined{}, enc: true},
	{name: "null", wire: hx("01"), value: nil, enc: true},
	{name: "false", wire: hx("02"), value: false, enc: true},
	{name: "true", wire: hx("03"), value: true, enc: true},
	{name: "int 0", wire: hx("04 00"), value: int32(0), enc: true},
	{name: "int 127", wire: hx("04 7f"), value: int32(127), enc: true},
	{name: "int 128", wire: hx("04 8100"), value: int32(128), enc: true},
	{name: "int 16383", wire: hx("04 ff7f"), value: int32(16383), enc: true},
	{name: "int 16384", wire: hx("04 818000"), value: int32(16384), enc: true},
	{name: "int 2097151", wire: hx("04 ffff7f"), value: int32(2097151), enc: true},
	{name: "int 2097152", wire: hx("04 80c08000"), value: int32(2097152), enc: true},
	{name: "int max", wire: hx("04 bfffffff"), value: int32(1<<28 - 1), enc: true},
	{name: "int -1", wire: hx("04 ffffffff"), value: int32(-1), enc: true},
	{name: "int min", wire: hx("04 c0808000"), value: int32(-1 << 28), enc: true},
	{name: "go int", wire: hx("04 8100"), value: 128, enc: true},
	{name: "go uint16", wire: hx("04 8100"), value: uint16(128), enc: true},
	{name: "int too big", wire: hx("05 41b0000000000000"), value: 1 << 28, enc: true},
	{name: "int too small", wire: hx("05 c1b0000001000000"), value: int64(-1<<28 - 1), enc: true},
	{name: "int32 too big", wire: hx("05 41dfffffffc00000"), value: int32(math.MaxInt32), enc: true},
	{name: "uint64 huge", wire: hx("05 43f0000000000000"), value: uint64(math.MaxUint64), enc: true},
	{name: "double", wire: hx("05 3ff8000000000000"), value: 1.5, enc: true},
	{name: "double integral", wire: hx("05 4000000000000000"), value: 2.0, enc: true},
	{name: "empty string", wire: hx("06 01"), value: "", enc: true},
	{name: "string", wire: cat(hx("06 0b"), "hello"), value: "hello", enc: true},
	{name: "string 64 bytes", wire: cat(hx("06 8101"), strings.Repeat("s", 64)), value: strings.Repeat("s", 64), enc: true},
	{name: "string reference", wire: cat(hx("09 05 01 06 03"), "a", hx("06 00")), value: []any{"a", "a"}, enc: true},
	{name: "empty strings not referenced", wire: cat(hx("09 07 01 06 01 06 03"), "b", hx("06 00")), value: []any{"", "b", "b"}, enc: true},
	{name: "xml document", wire: cat(hx("07 09"), "<a/>"), value: XMLDocument("<a/>"), enc: true},
	{name: "xml", wire: cat(hx("0b 09"), "<a/>"), value: XML("<a/>"), enc: true},
	{name: "date", wire: cat(hx("08 01"), d64(1234567890123)), value: testDate, enc: true},
	{name: "date reference", wire: cat(hx("09 05 01 08 01"), d64(1234567890123), hx("08 02")), value: []any{testDate, testDate}},
	{name: "bytearray", wire: hx("0c 07 010203"), value: []byte{1, 2, 3}, enc: true},
	{name: "empty bytearray", wire: hx("0c 01"), value: []byte{}, enc: true},
	{name: "dense array", wire: hx("09 05 01 04 01 04 02"), value: []any{int32(1), int32(2)}, enc: true},
	{name: "empty array", wire: hx("09 01 01"), value: []any{}, enc: true},
	{name: "string slice", wire: cat(hx("09 05 01 06 03"), "a", hx("06 00")), value: []string{"a", "a"}, enc: true},
	{name: "assoc array", wire: cat(hx("09 03 03"), "k", hx("04 01 01 03")),
		value: &Array{Assoc: []Property{{"k", int32(1)}}, Dense: []any{true}}, enc: true},
	{name: "assoc only array", wire: cat(hx("09 01 03"), "k", hx("01 01")),
		value: &Array{Assoc: []Property{{"k", nil}}, Dense: []any{}}, enc: true},
	{name: "ecma array as assoc array", wire: cat(hx("09 01 03"), "k", hx("01 01")),
		value: &ECMAArray{Props: []Property{{"k", nil}}}, want: &Array{Assoc: []Property{{"k", nil}}, Dense: []any{}}, enc: true},
	{name: "anonymous object", wire: cat(hx("0a 0b 01 03"), "a", hx("04 01 01")), value: Obj("a", int32(1)), enc: true},
	{name: "empty anonymous object", wire: hx("0a 0b 01 01"), value: Obj(), enc: true},
	{name: "map object", wire: cat(hx("0a 0b 01 03"), "a", hx("03 03"), "b", hx("01 01")),
		value: map[string]any{"b": nil, "a": true}, want: Obj("a", true, "b", nil), enc: true},
	{name: "typed sealed object", wire: cat(hx("0a 13 07"), "Foo", hx("03"), "x", hx("04 05")),
		value: &Object{Class: "Foo", Props: []Property{{"x", int32(5)}}, Sealed: 1, Static: true}, enc: true},
	{name: "typed dynamic object", wire: cat(hx("0a 1b 07"), "Foo", hx("03"), "x", hx("04 05 03"), "y", hx("01 01")),
		value: &Object{Class: "Foo", Props: []Property{{"x", int32(5)}, {"y", nil}}, Sealed: 1}, enc: true},
	{name: "static empty object", wire: cat(hx("0a 03 07"), "Bar"), value: &Object{Class: "Bar", Static: true}, enc: true},
	{name: "trait reference", wire: cat(hx("09 05 01 0a 0b 01 03"), "a", hx("04 01 01 0a 01 03"), "b", hx("04 02 01")),
		value: []any{Obj("a", int32(1)), Obj("b", int32(2))}, enc: true},
	{name: "sealed trait reference", wire: cat(hx("09 05 01 0a 13 07"), "Foo", hx("03"), "x", hx("04 05 0a 01 04 06")),
		value: []any{
			&Object{Class: "Foo", Props: []Property{{"x", int32(5)}}, Sealed: 1, Static: true},
			&Object{Class: "Foo", Props: []Property{{"x", int32(6)}}, Sealed: 1, Static: true},
		}, enc: true},
	{name: "object reference", wire: cat(hx("09 05 01 0a 0b 01 03"), "a", hx("04 01 01 0a 02")),
		value: []any{sharedObj3, sharedObj3}, enc: true},
	{name: "self reference", wire: cat(hx("0a 0b 01 09"), "self", hx("0a 00 01")), value: selfObj, enc: true},
	{name: "member name is string reference", wire: cat(hx("0a 0b 01 03"), "a", hx("06 00 01")), value: Obj("a", "a"), enc: true},
	{name: "vector int", wire: hx("0d 05 00 00000001 ffffffff"), value: &VectorInt{Items: []int32{1, -1}}, enc: true},
	{name: "vector uint fixed", wire: hx("0e 03 01 ffffffff"), value: &VectorUint{Fixed: true, Items: []uint32{math.MaxUint32}}, enc: true},
	{name: "vector double", wire: hx("0f 03 00 3ff0000000000000"), value: &VectorDouble{Items: []float64{1}}, enc: true},
	{name: "vector object", wire: cat(hx("10 05 00 03"), "*", hx("04 01 06 03"), "a"),
		value: &VectorObject{TypeName: "*", Items: []any{int32(1), "a"}}, enc: true},
	{name: "vector object typed", wire: cat(hx("10 03 01 07"), "Foo", hx("0a 13 00 03"), "x", hx("01")),
		value: &VectorObject{Fixed: true, TypeName: "Foo", Items: []any{&Object{Class: "Foo", Props: []Property{{"x", nil}}, Sealed: 1, Static: true}}}, enc: true},
	{name: "dictionary", wire: cat(hx("11 05 00 06 03"), "k", hx("04 01 04 02 03")),
		value: &Dictionary{Entries: []DictEntry{{"k", int32(1)}, {int32(2), true}}}, enc: true},
	{name: "dictionary weak object key", wire: hx("11 03 01 0a 0b 01 01 01"),
		value: &Dictionary{WeakKeys: true, Entries: []DictEntry{{Obj(), nil}}}, enc: true},
	{name: "array collection", wire: cat(hx("0a 07 43"), ClassArrayCollection, hx("09 03 01 04 01")),
		value: &Externalizable{Class: ClassArrayCollection, Value: []any{int32(1)}}, enc: true},
	{name: "object proxy", wire: cat(hx("0a 07 3b"), ClassObjectProxy, hx("0a 0b 01 03"), "a", hx("01 01")),
		value: &Externalizable{Class: ClassObjectProxy, Value: Obj("a", nil)}, enc: true},

	{name: "err truncated u29", wire: hx("04 80"), err: ErrTruncated},
	{name: "err truncated double", wire: hx("05 3ff0"), err: ErrTruncated},
	{name: "err truncated string", wire: cat(hx("06 0b"), "hel"), err: ErrTruncated},
	{name: "err truncated object", wire: cat(hx("0a 0b 01 03"), "a"), err: ErrTruncated},
	{name: "err empty", wire: nil, err: ErrTruncated},
	{name: "err huge array", wire: hx("09 ffffffff 01"), err: ErrTooMany},
	{name: "err huge array big limit", wire: hx("09 ffffffff 01"), err: ErrTruncated, lim: Limits{MaxElements: math.MaxInt}},
	{name: "err huge vector", wire: hx("0f ffffffff 00"), err: ErrTooMany},
	{name: "err vector short", wire: hx("0d 05 00 00000001"), err: ErrTruncated},
	{name: "err huge sealed count", wire: hx("0a fffffff3 01"), err: ErrTooMany},
	{name: "err huge dictionary", wire: hx("11 ffffffff 00"), err: ErrTooMany},
	{name: "err huge string", wire: hx("06 ffffffff"), err: ErrTooLong},
	{name: "err string limit", wire: cat(hx("06 0b"), "hello"), err: ErrTooLong, lim: Limits{MaxStringLen: 4}},
	{name: "err bytearray limit", wire: hx("0c 0b 0102030405"), err: ErrTooLong, lim: Limits{MaxStringLen: 4}},
	{name: "err assoc limit", wire: cat(hx("09 03 03"), "k", hx("01 01 01")), err: ErrTooMany, lim: Limits{MaxElements: 1}},
	{name: "err dynamic limit", wire: cat(hx("0a 0b 01 03"), "a", hx("01 03"), "b", hx("01 01")), err: ErrTooMany, lim: Limits{MaxElements: 1}},
	{name: "err total limit", wire: hx("09 07 01 01 01 01"), err: ErrTooMany, lim: Limits{MaxTotal: 3}},
	{name: "err depth", wire: cat(strings.Repeat("\x09\x03\x01", 33), hx("01")), err: ErrDepth},
	{name: "err depth dictionary", wire: cat(strings.Repeat("\x11\x03\x00\x01", 3), hx("01")), err: ErrDepth, lim: Limits{MaxDepth: 2}},
	{name: "err unknown marker", wire: hx("12"), err: ErrMarker},
	{name: "err string reference", wire: hx("06 00"), err: ErrReference},
	{name: "err object reference", wire: hx("0a 02"), err: ErrReference},
	{name: "err array reference", wire: hx("09 05 01 09 02"), err: ErrReference},
	{name: "err traits reference", wire: hx("0a 05"), err: ErrReference},
	{name: "err date reference", wire: hx("08 00"), err: ErrReference},
	{name: "err externalizable", wire: cat(hx("0a 07 07"), "Foo", hx("01")), err: ErrExternalizable},
	{name: "err externalizable trait reference", wire: cat(hx("09 05 01 0a 07 07"), "Foo", hx("0a 05")), err: ErrExternalizable},
	{name: "err date nan", wire: cat(hx("08 01"), d64(math.NaN())), err: ErrInvalid},
}
