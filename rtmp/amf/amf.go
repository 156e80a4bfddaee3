// Package amf encodes and decodes Action Message Format values, AMF0 and AMF3, as used by
// RTMP commands, data messages and shared objects.
//
// Decoding is pure and bounded: every length or count read from the wire is checked
// against [Limits] and against the bytes remaining before anything is allocated, nesting
// depth is limited, and references (which may form cycles) are resolved to shared
// pointers without recursion, so decoding always terminates.
//
// # Value representation
//
// The decoder produces, and the encoders accept, these Go values:
//
//	nil              null (AMF0 0x05, AMF3 0x01)
//	Undefined{}      undefined (AMF0 0x06 and unsupported 0x0D, AMF3 0x00)
//	bool             boolean
//	float64          AMF0 number, AMF3 double
//	int32            AMF3 integer (29-bit signed)
//	string           AMF0 string and long string, AMF3 string
//	*Object          AMF0 object and typed object, AMF3 object
//	*ECMAArray       AMF0 ECMA array
//	[]any            AMF0 strict array, AMF3 array without associative part
//	*Array           AMF3 array with an associative part
//	time.Time        date (UTC, millisecond precision)
//	XMLDocument      AMF0 xml-document, AMF3 xml-doc
//	XML              AMF3 xml
//	[]byte           AMF3 ByteArray
//	*VectorInt, *VectorUint, *VectorDouble, *VectorObject   AMF3 vectors
//	*Dictionary      AMF3 dictionary
//	*Externalizable  AMF3 flex.messaging.io.ArrayCollection and ObjectProxy
//
// The encoders also accept Go natives: all integer kinds (AMF0 number; AMF3 integer when
// the value fits in 29 bits signed, double otherwise), float32, map[string]any (an
// anonymous object with sorted keys), []string and []float64 (strict array in AMF0, dense
// array in AMF3 — never a vector; use the vector types for vectors), and Object, ECMAArray
// and Array by value. AMF0 has no encoding for []byte, XML, vectors, dictionaries,
// externalizables, *Array and objects with AMF3 traits (Sealed > 0 or Static); those are
// written as an AMF3 value behind the AMF0 0x11 switch marker. A nil slice or map encodes as an empty array or object; a nil pointer of
// one of the package's types encodes as null.
//
// # References
//
// AMF0 reference markers (0x07) decode to the referenced value itself: the same pointer for
// *Object and *ECMAArray, the same backing array for []any. The AMF0 reference table is
// kept by the [Decoder] across successive ReadAMF0 calls (one Decoder per message).
//
// AMF3 string, object and trait tables used by [Decoder.ReadAMF3] live in the Decoder and
// are shared by successive ReadAMF3 calls. An AMF0 0x11 switch marker starts a fresh AMF3
// context for that one value, by default: BlazeDS-derived decoders (for example the J5
// Amf0Input variant) create a new Amf3Input per switch and Flash Player serialises each
// switched value on its own, and a fresh context makes a mismatching peer fail loudly
// (reference out of range) rather than silently resolve a reference to a wrong value. Red5
// shares one reference store across the AMF3 parameters of a Flex message; call
// [Decoder.ShareSwitchTables] to get that behaviour.
//
// The encoders write references for values they meet again by identity (*Object,
// *ECMAArray, *Array, non-empty []any, vectors, dictionaries, externalizables) and, in
// AMF3, for repeated strings and traits. So values with cycles encode (as references) and
// values with shared parts encode in linear time (AMF3 byte arrays too; AMF0 writes
// strings, and AMF3 values behind a switch, in full each time — which is why decoding
// bounds the expanded size with Limits.MaxExpanded). Nesting deeper than
// [MaxEncodeDepth] is an error.
package amf

import (
	"errors"
	"fmt"
)

// Undefined is the ActionScript undefined value.
type Undefined struct{}

// XMLDocument is an XML document (AMF0 xml-document 0x0F, AMF3 xml-doc 0x07), kept as text.
type XMLDocument string

// XML is an E4X XML value (AMF3 xml 0x0B), kept as text.
type XML string

// Property is one key/value member of an object or array.
type Property struct {
	Key   string
	Value any
}

// Object is an anonymous or typed object.
//
// Sealed and Static carry AMF3 traits so that AMF3 objects round-trip: the first Sealed
// properties are the traits' sealed members, the rest are dynamic members. Static means
// the traits are not dynamic; it is ignored when there are properties beyond the sealed
// ones. AMF0 ignores both. The zero value is an anonymous dynamic object.
type Object struct {
	Class  string     // "" for anonymous objects
	Props  []Property // in wire order (AMF3: sealed members first, then dynamic)
	Sealed int        // AMF3: number of leading Props that are sealed members
	Static bool       // AMF3: traits are not dynamic
}

// ECMAArray is an AMF0 ECMA (associative) array.
type ECMAArray struct {
	Props []Property
}

// Array is an AMF3 array with an associative part. AMF3 arrays with an empty associative
// part decode to []any.
type Array struct {
	Assoc []Property
	Dense []any
}

// VectorInt is an AMF3 Vector.<int>.
type VectorInt struct {
	Fixed bool
	Items []int32
}

// VectorUint is an AMF3 Vector.<uint>.
type VectorUint struct {
	Fixed bool
	Items []uint32
}

// VectorDouble is an AMF3 Vector.<Number>.
type VectorDouble struct {
	Fixed bool
	Items []float64
}

// VectorObject is an AMF3 Vector of objects; TypeName is the element class name ("*" for
// any type, "" when not given).
type VectorObject struct {
	Fixed    bool
	TypeName string
	Items    []any
}

// DictEntry is one key/value pair of a [Dictionary].
type DictEntry struct {
	Key   any
	Value any
}

// Dictionary is an AMF3 flash.utils.Dictionary; Entries are in wire order.
type Dictionary struct {
	WeakKeys bool
	Entries  []DictEntry
}

// Externalizable AMF3 classes this package understands: each wraps exactly one AMF3 value.
const (
	ClassArrayCollection = "flex.messaging.io.ArrayCollection"
	ClassObjectProxy     = "flex.messaging.io.ObjectProxy"
)

// Externalizable is an AMF3 externalizable object of a class whose external form is known:
// [ClassArrayCollection] (Value is its source array) or [ClassObjectProxy] (Value is the
// proxied object).
type Externalizable struct {
	Class string
	Value any
}

func knownExternal(class string) bool {
	return class == ClassArrayCollection || class == ClassObjectProxy
}

// Limits bound what one [Decoder] accepts. Zero fields take the value in [DefaultLimits].
type Limits struct {
	MaxDepth     int // nesting depth of containers (default 32)
	MaxStringLen int // bytes in one string/xml/bytearray (default 1 MiB)
	MaxElements  int // elements/properties in one container (default 65536)
	MaxTotal     int // values decoded by one Decoder in total (default 1<<20)
	// MaxExpanded bounds the bytes read by one Decoder plus, for every reference resolved
	// (AMF0 references, AMF3 string and object references), the expanded size of what it
	// refers to (default 64 MiB). It stops small inputs that reference a large string or
	// array many times from decoding into values whose encoding (AMF0 has no string
	// references) would be huge.
	MaxExpanded int
}

// DefaultLimits are the limits used for zero fields of a Limits.
var DefaultLimits = Limits{
	MaxDepth:     32,
	MaxStringLen: 1 << 20,
	MaxElements:  65536,
	MaxTotal:     1 << 20,
	MaxExpanded:  64 << 20,
}

// WithDefaults returns l with every zero (or negative) field set from
// DefaultLimits: what a Decoder made with l enforces.
func (l Limits) WithDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxStringLen <= 0 {
		l.MaxStringLen = DefaultLimits.MaxStringLen
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	if l.MaxTotal <= 0 {
		l.MaxTotal = DefaultLimits.MaxTotal
	}
	if l.MaxExpanded <= 0 {
		l.MaxExpanded = DefaultLimits.MaxExpanded
	}
	return l
}

// MaxEncodeDepth is the deepest container nesting the encoders accept.
const MaxEncodeDepth = 256

// Errors returned by this package, wrapped with detail (offset, marker, type).
var (
	ErrTruncated       = errors.New("amf: truncated input")
	ErrDepth           = errors.New("amf: nesting too deep")
	ErrTooLong         = errors.New("amf: string or byte array too long")
	ErrTooMany         = errors.New("amf: too many elements")
	ErrMarker          = errors.New("amf: unexpected marker")
	ErrReference       = errors.New("amf: bad reference")
	ErrExternalizable  = errors.New("amf: unsupported externalizable class")
	ErrUnsupportedType = errors.New("amf: unsupported Go type")
	ErrInvalid         = errors.New("amf: invalid value")
)

// Obj builds an anonymous object from alternating string keys and values:
// Obj("level", "status", "code", code). It panics on an odd count or a non-string key.
func Obj(kv ...any) *Object {
	if len(kv)%2 != 0 {
		panic("amf.Obj: odd number of arguments")
	}
	o := &Object{Props: make([]Property, 0, len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			panic(fmt.Sprintf("amf.Obj: key %d is %T, not string", i/2, kv[i]))
		}
		o.Props = append(o.Props, Property{Key: k, Value: kv[i+1]})
	}
	return o
}

func propsGet(ps []Property, key string) (any, bool) {
	for i := range ps {
		if ps[i].Key == key {
			return ps[i].Value, true
		}
	}
	return nil, false
}

func propsString(ps []Property, key string) string {
	v, _ := propsGet(ps, key)
	s, _ := v.(string)
	return s
}

func propsNumber(ps []Property, key string) (float64, bool) {
	v, _ := propsGet(ps, key)
	switch n := v.(type) {
	case float64:
		return n, true
	case int32:
		return float64(n), true
	}
	return 0, false
}

func propsSet(ps []Property, key string, v any) []Property {
	for i := range ps {
		if ps[i].Key == key {
			ps[i].Value = v
			return ps
		}
	}
	return append(ps, Property{Key: key, Value: v})
}

// Get returns the value of the first property named key.
func (o *Object) Get(key string) (any, bool) { return propsGet(o.Props, key) }

// GetString returns the property as a string; "" when missing or not a string.
func (o *Object) GetString(key string) string { return propsString(o.Props, key) }

// GetNumber returns a float64 property, or an int32 one converted.
func (o *Object) GetNumber(key string) (float64, bool) { return propsNumber(o.Props, key) }

// Set replaces the first property named key in place, or appends it.
func (o *Object) Set(key string, v any) { o.Props = propsSet(o.Props, key, v) }

// Get returns the value of the first property named key.
func (a *ECMAArray) Get(key string) (any, bool) { return propsGet(a.Props, key) }

// GetString returns the property as a string; "" when missing or not a string.
func (a *ECMAArray) GetString(key string) string { return propsString(a.Props, key) }

// GetNumber returns a float64 property, or an int32 one converted.
func (a *ECMAArray) GetNumber(key string) (float64, bool) { return propsNumber(a.Props, key) }

// Set replaces the first property named key in place, or appends it.
func (a *ECMAArray) Set(key string, v any) { a.Props = propsSet(a.Props, key, v) }
