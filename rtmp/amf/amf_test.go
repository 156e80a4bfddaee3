package amf

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

func decodeOne(wire []byte, lim Limits, amf3 bool) (any, *Decoder, error) {
	d := NewDecoder(wire, lim)
	var v any
	var err error
	if amf3 {
		v, err = d.ReadAMF3()
	} else {
		v, err = d.ReadAMF0()
	}
	return v, d, err
}

func runTable(t *testing.T, cases []wireCase, amf3 bool) {
	t.Helper()
	appendFn := AppendAMF0
	if amf3 {
		appendFn = AppendAMF3
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, d, err := decodeOne(c.wire, c.lim, amf3)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("decode error = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if d.Len() != 0 || d.Offset() != len(c.wire) {
				t.Fatalf("decoder left %d bytes, offset %d", d.Len(), d.Offset())
			}
			want := c.value
			if c.want != nil {
				want = c.want
			}
			if !Equal(v, want) || !Equal(want, v) {
				t.Fatalf("decoded %#v, want %#v", v, want)
			}
			if c.enc {
				got, err := appendFn([]byte{0xEE}, c.value)
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				if !bytes.Equal(got[1:], c.wire) || got[0] != 0xEE {
					t.Fatalf("encoded\n% x\nwant\n% x", got[1:], c.wire)
				}
			}
			// Round trip of the decoded value.
			re, err := appendFn(nil, v)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			v2, _, err := decodeOne(re, c.lim, amf3)
			if err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			if !Equal(v, v2) {
				t.Fatalf("round trip %#v != %#v", v2, v)
			}
		})
	}
}

func TestAMF0Table(t *testing.T) { runTable(t, amf0Cases, false) }
func TestAMF3Table(t *testing.T) { runTable(t, amf3Cases, true) }

// Every error sentinel must be produced by at least one table case or encoder test.
func TestEverySentinelCovered(t *testing.T) {
	seen := map[error]bool{ErrUnsupportedType: true} // covered by TestEncodeErrors
	for _, c := range append(append([]wireCase{}, amf0Cases...), amf3Cases...) {
		if c.err != nil {
			seen[c.err] = true
		}
	}
	for _, e := range []error{ErrTruncated, ErrDepth, ErrTooLong, ErrTooMany, ErrMarker, ErrReference, ErrExternalizable, ErrUnsupportedType, ErrInvalid} {
		if !seen[e] {
			t.Errorf("no case for %v", e)
		}
	}
}

func TestErrorDetail(t *testing.T) {
	_, _, err := decodeOne(hx("0a 00000001 12"), Limits{}, false)
	if !errors.Is(err, ErrMarker) || !strings.Contains(err.Error(), "0x12") || !strings.Contains(err.Error(), "offset 5") {
		t.Fatalf("error lacks detail: %v", err)
	}
}

// A 5-byte strict-array header claiming 2^32-1 elements must fail fast without a large
// allocation, whatever the element limit.
func TestHostileHeadersAllocateLittle(t *testing.T) {
	for _, c := range []struct {
		wire []byte
		amf3 bool
		lim  Limits
	}{
		{hx("0a ffffffff"), false, Limits{}},
		{hx("0a ffffffff"), false, Limits{MaxElements: math.MaxInt, MaxTotal: math.MaxInt}},
		{hx("0a 7fffffff 05"), false, Limits{MaxElements: math.MaxInt}},
		{hx("0c ffffffff"), false, Limits{MaxStringLen: math.MaxInt}},
		{hx("08 ffffffff"), false, Limits{MaxElements: math.MaxInt}},
		{hx("09 ffffffff 01"), true, Limits{MaxElements: math.MaxInt}},
		{hx("0d ffffffff 00"), true, Limits{MaxElements: math.MaxInt}},
		{hx("0f ffffffff 00"), true, Limits{MaxElements: math.MaxInt}},
		{hx("10 ffffffff 00 01"), true, Limits{MaxElements: math.MaxInt}},
		{hx("11 ffffffff 00"), true, Limits{MaxElements: math.MaxInt}},
		{hx("0a fffffff3 01"), true, Limits{MaxElements: math.MaxInt}},
		{hx("0c ffffffff"), true, Limits{MaxStringLen: math.MaxInt}},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, _, err := decodeOne(c.wire, c.lim, c.amf3)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("% x: decoded without error", c.wire)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 16<<10 {
			t.Errorf("% x: allocated %d bytes", c.wire, n)
		}
		allocs := testing.AllocsPerRun(10, func() { decodeOne(c.wire, c.lim, c.amf3) })
		if allocs > 20 {
			t.Errorf("% x: %v allocations", c.wire, allocs)
		}
	}
}

func TestAMF0ReferenceIdentity(t *testing.T) {
	v, _, err := decodeOne(hx("0a 00000003 03 0000 09 07 0001 07 0000"), Limits{}, false)
	if err != nil {
		t.Fatal(err)
	}
	s := v.([]any)
	if s[0].(*Object) != s[1].(*Object) {
		t.Fatal("reference is not the same pointer")
	}
	inner := s[2].([]any)
	if &inner[0] != &s[0] {
		t.Fatal("reference to strict array does not share its backing array")
	}
	// Self-referencing object: a cycle that decodes, compares and re-encodes.
	v, _, err = decodeOne(cat(hx("03 0004"), "self", hx("07 0000 0000 09")), Limits{}, false)
	if err != nil {
		t.Fatal(err)
	}
	o := v.(*Object)
	if o.Props[0].Value.(*Object) != o {
		t.Fatal("self reference is not the object itself")
	}
}

func TestAMF3ReferenceIdentity(t *testing.T) {
	wire := cat(hx("09 07 01 0a 0b 01 03"), "a", hx("09 00 01 0a 02 09 00"))
	v, _, err := decodeOne(wire, Limits{}, true)
	if err != nil {
		t.Fatal(err)
	}
	s := v.([]any)
	o := s[0].(*Object)
	if s[1].(*Object) != o {
		t.Fatal("object reference is not the same pointer")
	}
	if back := o.Props[0].Value.([]any); &back[0] != &s[0] {
		t.Fatal("reference to the enclosing array does not share it")
	}
	re, err := AppendAMF3(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(re, wire) {
		t.Fatalf("re-encoded\n% x\nwant\n% x", re, wire)
	}
	// An array with an associative part referencing itself from the assoc part.
	wire = cat(hx("09 01 05"), "me", hx("09 00 01"))
	v, _, err = decodeOne(wire, Limits{}, true)
	if err != nil {
		t.Fatal(err)
	}
	a := v.(*Array)
	if a.Assoc[0].Value.(*Array) != a {
		t.Fatal("assoc self reference")
	}
}

func TestTraitsRoundTrip(t *testing.T) {
	for _, c := range amf3Cases {
		o, ok := c.value.(*Object)
		if !ok || c.err != nil {
			continue
		}
		v, _, err := decodeOne(c.wire, Limits{}, true)
		if err != nil {
			t.Fatal(err)
		}
		got := v.(*Object)
		if got.Sealed != o.Sealed || got.Static != o.Static || got.Class != o.Class {
			t.Errorf("%s: traits %q/%d/%v, want %q/%d/%v", c.name, got.Class, got.Sealed, got.Static, o.Class, o.Sealed, o.Static)
		}
	}
}

// The AMF0 0x11 switch starts a fresh AMF3 context per value unless tables are shared.
func TestSwitchContext(t *testing.T) {
	wire := cat(hx("11 06 07"), "abc", hx("11 06 00"))
	d := NewDecoder(wire, Limits{})
	if v, err := d.ReadAMF0(); err != nil || v != "abc" {
		t.Fatalf("first: %v %v", v, err)
	}
	if _, err := d.ReadAMF0(); !errors.Is(err, ErrReference) {
		t.Fatalf("second value referenced the first switch's table: %v", err)
	}
	d = NewDecoder(wire, Limits{})
	d.ShareSwitchTables(true)
	vs := []any{}
	for d.Len() > 0 {
		v, err := d.ReadAMF0()
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if !Equal(vs, []any{"abc", "abc"}) {
		t.Fatalf("shared: %v", vs)
	}
	// The AMF0 encoder writes each switched value with fresh tables.
	b, err := AppendAMF0(nil, []any{XML("x"), XML("x")})
	if err != nil {
		t.Fatal(err)
	}
	if want := cat(hx("0a 00000002 11 0b 03"), "x", hx("11 0b 03"), "x"); !bytes.Equal(b, want) {
		t.Fatalf("got % x want % x", b, want)
	}
	// AMF3 inside AMF0 inside AMF3 is impossible; AMF0 containers around switches count depth.
	deep := cat(strings.Repeat("\x0a\x00\x00\x00\x01", 31), hx("11 09 03 01 09 03 01 01"))
	if _, _, err := decodeOne(deep, Limits{}, false); !errors.Is(err, ErrDepth) {
		t.Fatalf("depth across switch: %v", err)
	}
}

func TestReadAMF3SharesTables(t *testing.T) {
	d := NewDecoder(cat(hx("06 07"), "abc", hx("06 00 0a 0b 01 01 0a 00")), Limits{})
	a, err := d.ReadAMF3()
	if err != nil || a != "abc" {
		t.Fatal(a, err)
	}
	b, err := d.ReadAMF3()
	if err != nil || b != "abc" {
		t.Fatal(b, err)
	}
	o1, err := d.ReadAMF3()
	if err != nil {
		t.Fatal(err)
	}
	o2, err := d.ReadAMF3()
	if err != nil || o1.(*Object) != o2.(*Object) {
		t.Fatal("object reference across ReadAMF3 calls", err)
	}
	d.Reset(hx("06 00"))
	if _, err := d.ReadAMF3(); !errors.Is(err, ErrReference) {
		t.Fatalf("Reset kept tables: %v", err)
	}
}

func TestUTF8(t *testing.T) {
	b, err := AppendUTF8([]byte{9}, "so")
	if err != nil || !bytes.Equal(b, hx("09 0002 736f")) {
		t.Fatalf("% x %v", b, err)
	}
	if _, err := AppendUTF8(nil, strings.Repeat("a", 65536)); !errors.Is(err, ErrTooLong) {
		t.Fatal(err)
	}
	d := NewDecoder(hx("0002 736f 0005 61"), Limits{})
	if s, err := d.ReadUTF8(); err != nil || s != "so" {
		t.Fatal(s, err)
	}
	if _, err := d.ReadUTF8(); !errors.Is(err, ErrTruncated) {
		t.Fatal(err)
	}
	if _, err := NewDecoder(hx("0005 6161616161"), Limits{MaxStringLen: 4}).ReadUTF8(); !errors.Is(err, ErrTooLong) {
		t.Fatal(err)
	}
}

func TestDecodeAMF0All(t *testing.T) {
	var b []byte
	for _, v := range []any{"connect", 1.0, Obj("app", "live"), nil} {
		var err error
		if b, err = AppendAMF0(b, v); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := DecodeAMF0All(b, Limits{})
	if err != nil || !Equal(vs, []any{"connect", 1.0, Obj("app", "live"), nil}) {
		t.Fatal(vs, err)
	}
	vs, err = DecodeAMF0All(append(b, 0x00, 0x01), Limits{})
	if !errors.Is(err, ErrTruncated) || len(vs) != 4 {
		t.Fatal(vs, err)
	}
	// The AMF0 reference table spans the values of one Decoder.
	vs, err = DecodeAMF0All(hx("03 0000 09 07 0000"), Limits{})
	if err != nil || vs[0].(*Object) != vs[1].(*Object) {
		t.Fatal(vs, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	deep := any(nil)
	for range MaxEncodeDepth + 1 {
		deep = []any{deep}
	}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	type custom struct{}
	cases := []struct {
		name string
		v    any
		err  error
	}{
		{"struct", custom{}, ErrUnsupportedType},
		{"chan", make(chan int), ErrUnsupportedType},
		{"nested unsupported", Obj("a", []any{struct{}{}}), ErrUnsupportedType},
		{"map int keys", map[int]any{}, ErrUnsupportedType},
		{"deep", deep, ErrDepth},
		{"cyclic map", cyclic, ErrDepth},
		{"empty key", Obj("", 1), ErrInvalid},
		{"empty array key", &Array{Assoc: []Property{{"", 1}}}, ErrInvalid},
		{"long key", Obj(strings.Repeat("k", 65536), 1), ErrTooLong},
		{"externalizable", &Externalizable{Class: "Foo"}, ErrExternalizable},
		{"date range", time.UnixMilli(9e15), ErrInvalid},
	}
	for _, c := range cases {
		for i, fn := range []func([]byte, any) ([]byte, error){AppendAMF0, AppendAMF3} {
			if c.name == "long key" && i == 1 || c.name == "empty key" && i == 1 {
				continue // AMF3 member names have no u16 limit; checked below
			}
			dst := []byte{1, 2}
			got, err := fn(dst, c.v)
			if !errors.Is(err, c.err) {
				t.Errorf("%s (AMF%d): error %v, want %v", c.name, i*3, err, c.err)
			}
			if !bytes.Equal(got, []byte{1, 2}) {
				t.Errorf("%s: dst modified on error", c.name)
			}
		}
	}
	if _, err := AppendAMF3(nil, Obj("", 1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("AMF3 empty dynamic key: %v", err)
	}
	// A cycle through pointers is written as a reference, not an endless recursion.
	o := Obj("x", 1)
	o.Set("me", o)
	for _, fn := range []func([]byte, any) ([]byte, error){AppendAMF0, AppendAMF3} {
		if _, err := fn(nil, o); err != nil {
			t.Errorf("cycle: %v", err)
		}
	}
}

// Values sharing substructures encode as references in linear time and size.
func TestSharedSubstructureLinear(t *testing.T) {
	v := any([]any{})
	for range 30 {
		v = []any{v, v}
	}
	o := any(Obj())
	for range 30 {
		o = Obj("a", o, "b", o)
	}
	for _, fn := range []func([]byte, any) ([]byte, error){AppendAMF0, AppendAMF3} {
		for _, x := range []any{v, o} {
			b, err := fn(nil, x)
			if err != nil || len(b) > 2000 {
				t.Fatalf("len %d err %v", len(b), err)
			}
		}
	}
	if !Equal(v, v) || !Equal(o, o) {
		t.Fatal("Equal on shared structure")
	}
}

func TestEqual(t *testing.T) {
	cyc1 := Obj("v", 1)
	cyc1.Set("me", cyc1)
	cyc2 := Obj("v", 1)
	cyc2.Set("me", cyc2)
	cyc3 := Obj("v", 2)
	cyc3.Set("me", cyc3)
	cases := []struct {
		a, b any
		eq   bool
	}{
		{int32(3), 3.0, true},
		{3, uint8(3), true},
		{int32(3), 3.5, false},
		{math.NaN(), math.NaN(), true},
		{nil, nil, true},
		{nil, Undefined{}, false},
		{(*Object)(nil), nil, true},
		{"a", "a", true},
		{"a", XML("a"), false},
		{XML("a"), XMLDocument("a"), false},
		{[]byte{1}, []byte{1}, true},
		{[]byte{1}, []byte{2}, false},
		{testDate, testDate.In(time.FixedZone("x", 3600)), true},
		{Obj("a", 1), Obj("a", 1.0), true},
		{Obj("a", 1), Obj("a", 2), false},
		{Obj("a", 1, "b", 2), Obj("b", 2, "a", 1), false},
		{Obj("a", 1), &Object{Class: "C", Props: []Property{{"a", 1}}}, false},
		{Obj("a", 1), &Object{Props: []Property{{"a", 1}}, Sealed: 1, Static: true}, true},
		{Obj("a", 1), &ECMAArray{Props: []Property{{"a", 1}}}, false},
		{*Obj("a", 1), Obj("a", 1), true},
		{[]any{1, "x"}, []any{1.0, "x"}, true},
		{[]any{1}, []any{1, 2}, false},
		{[]any{"a"}, []string{"a"}, true},
		{&Array{Dense: []any{1}}, []any{1}, true},
		{&Array{Assoc: []Property{{"k", 1}}}, []any{}, false},
		{map[string]any{"a": 1}, map[string]any{"a": int32(1)}, true},
		{map[string]any{"a": 1}, map[string]any{"b": 1}, false},
		{&VectorInt{Items: []int32{1}}, &VectorInt{Items: []int32{1}}, true},
		{&VectorInt{Items: []int32{1}}, &VectorInt{Fixed: true, Items: []int32{1}}, false},
		{&VectorDouble{Items: []float64{math.NaN()}}, &VectorDouble{Items: []float64{math.NaN()}}, true},
		{&Dictionary{Entries: []DictEntry{{1, 2}}}, &Dictionary{Entries: []DictEntry{{1, 2}}}, true},
		{&Dictionary{Entries: []DictEntry{{1, 2}}}, &Dictionary{Entries: []DictEntry{{2, 2}}}, false},
		{&Externalizable{Class: ClassObjectProxy, Value: 1}, &Externalizable{Class: ClassObjectProxy, Value: 1}, true},
		{cyc1, cyc2, true},
		{cyc1, cyc3, false},
		{struct{}{}, struct{}{}, false},
	}
	for i, c := range cases {
		if got := Equal(c.a, c.b); got != c.eq {
			t.Errorf("%d: Equal(%#v, %#v) = %v", i, c.a, c.b, got)
		}
		if got := Equal(c.b, c.a); got != c.eq {
			t.Errorf("%d: Equal(%#v, %#v) = %v (reversed)", i, c.b, c.a, got)
		}
	}
}

func TestObjectHelpers(t *testing.T) {
	o := Obj("level", "status", "code", "X", "n", int32(4), "f", 2.5)
	if o.GetString("level") != "status" || o.GetString("n") != "" || o.GetString("missing") != "" {
		t.Fatal("GetString")
	}
	if n, ok := o.GetNumber("n"); !ok || n != 4 {
		t.Fatal("GetNumber int32")
	}
	if n, ok := o.GetNumber("f"); !ok || n != 2.5 {
		t.Fatal("GetNumber float64")
	}
	if _, ok := o.GetNumber("code"); ok {
		t.Fatal("GetNumber string")
	}
	o.Set("code", "Y")
	o.Set("new", true)
	if v, ok := o.Get("code"); !ok || v != "Y" || len(o.Props) != 5 || o.Props[4].Key != "new" {
		t.Fatal("Set", o.Props)
	}
	a := &ECMAArray{}
	a.Set("duration", 3.0)
	a.Set("duration", 4.0)
	if n, _ := a.GetNumber("duration"); n != 4 || len(a.Props) != 1 || a.GetString("x") != "" {
		t.Fatal("ECMAArray helpers")
	}
	if _, ok := a.Get("x"); ok {
		t.Fatal("Get missing")
	}
	for _, bad := range [][]any{{"a"}, {1, 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Obj(%v) did not panic", bad)
				}
			}()
			Obj(bad...)
		}()
	}
}

func TestU29Boundaries(t *testing.T) {
	for _, n := range []int64{0, 1, 63, 64, 127, 128, 8191, 8192, 16383, 16384, 1<<21 - 1, 1 << 21, 1<<28 - 1, -1, -64, -65, -1 << 28} {
		b, err := AppendAMF3(nil, n)
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := decodeOne(b, Limits{}, true)
		if err != nil || v != int32(n) {
			t.Errorf("%d: % x → %v %v", n, b, v, err)
		}
	}
}

func TestLimitsDefaults(t *testing.T) {
	d := NewDecoder(nil, Limits{MaxDepth: 5})
	if d.lim.MaxDepth != 5 || d.lim.MaxStringLen != 1<<20 || d.lim.MaxElements != 65536 || d.lim.MaxTotal != 1<<20 {
		t.Fatalf("%+v", d.lim)
	}
}

// Small inputs referencing a big value many times must not decode into values whose
// encoding is huge.
func TestExpansionLimit(t *testing.T) {
	big := strings.Repeat("s", 1000)
	// AMF3: a 1000-byte string, then 2000 string references to it.
	wire := cat(hx("09 9f 21 01 06 8f 51"), big, bytes.Repeat([]byte{0x06, 0x00}, 1999))
	v, _, err := decodeOne(wire, Limits{}, true)
	if err != nil || len(v.([]any)) != 2000 {
		t.Fatalf("within default limit: %v", err)
	}
	if _, _, err := decodeOne(wire, Limits{MaxExpanded: 1 << 20}, true); !errors.Is(err, ErrTooLong) {
		t.Fatalf("string expansion: %v", err)
	}
	// AMF3: a byte array referenced 63 times.
	chain := hx("09 81 01 01") // dense array of 64 elements: obj table 0
	chain = append(chain, hx("0c 8f 51")...)
	chain = append(chain, bytes.Repeat([]byte{'b'}, 1000)...) // byte array, obj table 1
	for range 63 {
		chain = append(chain, 0x0c, 0x02)
	}
	if _, _, err := decodeOne(chain, Limits{MaxExpanded: 32 << 10}, true); !errors.Is(err, ErrTooLong) {
		t.Fatalf("byte array expansion: %v", err)
	}
	v, _, err = decodeOne(chain, Limits{}, true)
	if err != nil {
		t.Fatal(err)
	}
	// AMF3 re-encoding keeps byte array references.
	re, err := AppendAMF3(nil, v)
	if err != nil || len(re) > len(chain) {
		t.Fatalf("re-encoded %d bytes from %d: %v", len(re), len(chain), err)
	}
	// AMF0: an object referenced through a growing chain.
	amf0 := hx("0a 00000002 03 0001 61") // [ {a: "<1000>"} , ...
	amf0 = append(amf0, 0x0c, 0, 0, 0x03, 0xe8)
	amf0 = append(amf0, big...)
	amf0 = append(amf0, hx("0000 09 0a 00000400")...)
	for range 1024 {
		amf0 = append(amf0, 0x07, 0x00, 0x01)
	}
	if _, _, err := decodeOne(amf0, Limits{MaxExpanded: 512 << 10}, false); !errors.Is(err, ErrTooLong) {
		t.Fatalf("AMF0 reference expansion: %v", err)
	}
	if _, _, err := decodeOne(amf0, Limits{}, false); err != nil {
		t.Fatal(err)
	}
}

// An interned string decodes without allocating, as a property key and as a
// value (it comes from the table already boxed).
func TestInternedStringsDoNotAllocate(t *testing.T) {
	wire := hx("02 0007 636f6e6e656374") // "connect"
	var got any
	allocs := testing.AllocsPerRun(100, func() {
		d := NewDecoder(wire, Limits{})
		got, _ = d.ReadAMF0()
	})
	if got != "connect" || allocs != 0 {
		t.Fatalf("decoded %v with %v allocations, want connect with 0", got, allocs)
	}
}

// Small integral numbers come boxed from a table; others, -0 included, as read.
func TestSmallNumbers(t *testing.T) {
	for wire, want := range map[string]float64{
		"00 3ff0000000000000": 1, "00 406fe00000000000": 255, "00 4070000000000000": 256,
		"00 8000000000000000": math.Copysign(0, -1), "00 3ff8000000000000": 1.5, "00 bff0000000000000": -1,
	} {
		v, err := NewDecoder(hx(wire), Limits{}).ReadAMF0()
		f, ok := v.(float64)
		if err != nil || !ok || f != want || math.Signbit(f) != math.Signbit(want) {
			t.Errorf("%s: %v %v, want %v", wire, v, err, want)
		}
	}
	one := hx("00 3ff0000000000000")
	allocs := testing.AllocsPerRun(100, func() { NewDecoder(one, Limits{}).ReadAMF0() })
	if allocs != 0 {
		t.Errorf("decoding 1.0: %v allocations, want 0", allocs)
	}
}
