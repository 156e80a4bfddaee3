package amf

import (
	"bytes"
	"math"
	"slices"
	"testing"
	"time"

	amf0 "github.com/yutopp/go-amf0"
)

// Differential test against github.com/yutopp/go-amf0 v0.1.1, on well-formed values only
// (it allocates whatever a strict-array header claims).
//
// Skipped, because go-amf0 cannot do them: long strings (0x0C: "not implemented" both
// ways), undefined (0x06: not implemented), references (0x07), typed objects (0x10), XML
// documents (0x0F), AMF3 (0x11). Dates use whole seconds: go-amf0 decodes the millisecond
// remainder as nanoseconds. Strings are valid UTF-8 (go-amf0 rejects anything else).
// go-amf0 writes map keys in random order, so objects are compared as maps.
func diffValues() []any {
	return []any{
		0.0, 1.0, -2.5, 1e300, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1),
		true, false,
		"", "hello", "héllo ✓ 日本", string(bytes.Repeat([]byte("a"), 65535)),
		nil,
		time.Unix(1234567890, 0).UTC(), time.Unix(0, 0).UTC(), time.Unix(-86400, 0).UTC(),
		map[string]interface{}{},
		map[string]interface{}{"app": "live", "flashVer": "FMLE/3.0", "objectEncoding": 0.0, "fpad": false, "n": nil},
		map[string]interface{}{"nested": map[string]interface{}{"deeper": map[string]interface{}{"x": 1.0}}, "list": []interface{}{1.0, "two"}},
		amf0.ECMAArray{},
		amf0.ECMAArray{"duration": 10.5, "width": 1280.0, "encoder": "Lavf", "stereo": true},
		// go-amf0 reuses one element value across the members of an ECMA array, so a second
		// container member decodes as garbage (unexpected EOF): one container per array here.
		amf0.ECMAArray{"obj": map[string]interface{}{"a": "b"}, "z": 1.0},
		amf0.ECMAArray{"inner": amf0.ECMAArray{"k": 1.0}},
		[]interface{}{},
		[]interface{}{1.0, "a", nil, true, []interface{}{2.0}, map[string]interface{}{"k": "v"}, amf0.ECMAArray{"e": 0.0}},
		[]interface{}{time.Unix(1, 0).UTC()},
	}
}

// toOurs converts a go-amf0 value into this package's form (maps become objects with
// sorted keys).
func toOurs(v any) any {
	switch x := v.(type) {
	case map[string]interface{}:
		o := &Object{}
		for _, k := range sortedKeys(x) {
			o.Props = append(o.Props, Property{k, toOurs(x[k])})
		}
		return o
	case amf0.ECMAArray:
		a := &ECMAArray{}
		for _, k := range sortedKeys(x) {
			a.Props = append(a.Props, Property{k, toOurs(x[k])})
		}
		return a
	case []interface{}:
		s := make([]any, len(x))
		for i := range x {
			s[i] = toOurs(x[i])
		}
		return s
	}
	return v
}

// toTheirs converts one of our decoded values into go-amf0's form.
func toTheirs(v any) any {
	switch x := v.(type) {
	case *Object:
		m := map[string]interface{}{}
		for _, p := range x.Props {
			m[p.Key] = toTheirs(p.Value)
		}
		return m
	case *ECMAArray:
		m := amf0.ECMAArray{}
		for _, p := range x.Props {
			m[p.Key] = toTheirs(p.Value)
		}
		return m
	case []any:
		s := make([]interface{}, len(x))
		for i := range x {
			s[i] = toTheirs(x[i])
		}
		return s
	}
	return v
}

func sortedKeys[M ~map[string]interface{}](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// nativeEqual compares go-amf0-form values (maps unordered, dates as instants).
func nativeEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]interface{}:
		y, ok := b.(map[string]interface{})
		return ok && mapsEqual(x, y)
	case amf0.ECMAArray:
		y, ok := b.(amf0.ECMAArray)
		return ok && mapsEqual(x, y)
	case []interface{}:
		y, ok := b.([]interface{})
		return ok && slices.EqualFunc(x, y, nativeEqual)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return a == b
}

func mapsEqual[M ~map[string]interface{}](x, y M) bool {
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		w, ok := y[k]
		if !ok || !nativeEqual(v, w) {
			return false
		}
	}
	return true
}

func TestDifferentialGoAMF0(t *testing.T) {
	for i, want := range diffValues() {
		// go-amf0 encodes, we decode.
		var buf bytes.Buffer
		if err := amf0.NewEncoder(&buf).Encode(want); err != nil {
			t.Fatalf("%d: go-amf0 encode %#v: %v", i, want, err)
		}
		got, d, err := decodeOne(buf.Bytes(), Limits{}, false)
		if err != nil || d.Len() != 0 {
			t.Fatalf("%d: decode % x: %v (left %d)", i, buf.Bytes(), err, d.Len())
		}
		if !nativeEqual(toTheirs(got), want) {
			t.Errorf("%d: we decoded %#v, go-amf0 encoded %#v", i, got, want)
		}

		// We encode, go-amf0 decodes.
		ours, err := AppendAMF0(nil, toOurs(want))
		if err != nil {
			t.Fatalf("%d: encode: %v", i, err)
		}
		var back interface{}
		if err := amf0.NewDecoder(bytes.NewReader(ours)).Decode(&back); err != nil {
			t.Fatalf("%d: go-amf0 decode % x: %v", i, ours, err)
		}
		if !nativeEqual(back, want) {
			t.Errorf("%d: go-amf0 decoded %#v from our %#v", i, back, want)
		}
		// Without maps (whose order go-amf0 randomises) both encoders agree byte for byte.
		if !hasMap(want) && !bytes.Equal(ours, buf.Bytes()) {
			t.Errorf("%d: bytes differ:\nours   % x\ntheirs % x", i, ours, buf.Bytes())
		}
	}
}

func hasMap(v any) bool {
	switch x := v.(type) {
	case map[string]interface{}, amf0.ECMAArray:
		return true
	case []interface{}:
		return slices.ContainsFunc(x, hasMap)
	}
	return false
}
