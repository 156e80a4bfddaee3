package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// This file holds the small AMF0 subset the package needs for onMetaData
// (flv may not import rtmp/amf): numbers, booleans, strings and long strings,
// null and undefined, objects, ECMA arrays, strict arrays and dates. Decoding
// is bounded: nesting is limited to amfMaxDepth, and every count is checked
// against the bytes left, so the work and the memory are linear in the input.
// References, typed objects, XML and AMF3 are refused with ErrAMF.

// ErrAMF reports AMF0 data this package cannot decode (malformed, too deep,
// or a type outside the subset).
var ErrAMF = errors.New("flv: bad AMF0 data")

// AMF0 type markers.
const (
	amfNumber     = 0x00
	amfBoolean    = 0x01
	amfString     = 0x02
	amfObject     = 0x03
	amfNull       = 0x05
	amfUndefined  = 0x06
	amfECMAArray  = 0x08
	amfObjectEnd  = 0x09
	amfStrict     = 0x0A
	amfDate       = 0x0B
	amfLongString = 0x0C
)

// amfMaxDepth bounds the nesting of objects and arrays.
const amfMaxDepth = 16

// amfProp is one property of an object or ECMA array, in wire order.
type amfProp struct {
	Key   string
	Value any
}

// amfObj is an anonymous object (ECMA false) or an ECMA array.
type amfObj struct {
	ECMA  bool
	Props []amfProp
}

// amfUndef is the undefined value; amfDateV a date (ms since the epoch and
// the time zone field, kept for a faithful re-encoding).
type (
	amfUndef struct{}
	amfDateV struct {
		MS float64
		TZ int16
	}
)

// Values: float64, bool, string, nil (null), amfUndef, *amfObj, []any (strict
// array), amfDateV.

func (o *amfObj) get(key string) (any, bool) {
	for _, p := range o.Props {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// set replaces the value of key, or appends it.
func (o *amfObj) set(key string, v any) {
	for i := range o.Props {
		if o.Props[i].Key == key {
			o.Props[i].Value = v
			return
		}
	}
	o.Props = append(o.Props, amfProp{key, v})
}

// amfDecode decodes one value from b and returns it with the bytes consumed.
func amfDecode(b []byte) (any, int, error) { return amfDecodeDepth(b, 0) }

func amfDecodeDepth(b []byte, depth int) (any, int, error) {
	if len(b) == 0 {
		return nil, 0, fmt.Errorf("%w: missing value", ErrAMF)
	}
	switch b[0] {
	case amfNumber:
		if len(b) < 9 {
			return nil, 0, fmt.Errorf("%w: truncated number", ErrAMF)
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b[1:9])), 9, nil
	case amfBoolean:
		if len(b) < 2 {
			return nil, 0, fmt.Errorf("%w: truncated boolean", ErrAMF)
		}
		return b[1] != 0, 2, nil
	case amfString:
		s, n, err := amfShortString(b[1:])
		return s, n + 1, err
	case amfLongString:
		if len(b) < 5 {
			return nil, 0, fmt.Errorf("%w: truncated long string", ErrAMF)
		}
		l := binary.BigEndian.Uint32(b[1:5])
		if uint64(l) > uint64(len(b)-5) {
			return nil, 0, fmt.Errorf("%w: long string of %d bytes in %d", ErrAMF, l, len(b)-5)
		}
		return string(b[5 : 5+l]), 5 + int(l), nil
	case amfNull:
		return nil, 1, nil
	case amfUndefined:
		return amfUndef{}, 1, nil
	case amfDate:
		if len(b) < 11 {
			return nil, 0, fmt.Errorf("%w: truncated date", ErrAMF)
		}
		return amfDateV{math.Float64frombits(binary.BigEndian.Uint64(b[1:9])), int16(binary.BigEndian.Uint16(b[9:11]))}, 11, nil
	case amfObject, amfECMAArray:
		if depth >= amfMaxDepth {
			return nil, 0, fmt.Errorf("%w: nested deeper than %d", ErrAMF, amfMaxDepth)
		}
		o := &amfObj{ECMA: b[0] == amfECMAArray}
		p := 1
		if o.ECMA {
			if len(b) < 5 {
				return nil, 0, fmt.Errorf("%w: truncated ECMA array", ErrAMF)
			}
			p = 5 // the count is advisory; the end marker ends the array
		}
		for {
			if len(b)-p >= 3 && b[p] == 0 && b[p+1] == 0 && b[p+2] == amfObjectEnd {
				return o, p + 3, nil
			}
			k, n, err := amfShortString(b[p:])
			if err != nil {
				return nil, 0, err
			}
			p += n
			v, n, err := amfDecodeDepth(b[p:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			p += n
			o.Props = append(o.Props, amfProp{k, v})
		}
	case amfStrict:
		if depth >= amfMaxDepth {
			return nil, 0, fmt.Errorf("%w: nested deeper than %d", ErrAMF, amfMaxDepth)
		}
		if len(b) < 5 {
			return nil, 0, fmt.Errorf("%w: truncated strict array", ErrAMF)
		}
		cnt := binary.BigEndian.Uint32(b[1:5])
		if uint64(cnt) > uint64(len(b)-5) { // every value takes at least one byte
			return nil, 0, fmt.Errorf("%w: strict array of %d values in %d bytes", ErrAMF, cnt, len(b)-5)
		}
		arr := make([]any, 0, cnt)
		p := 5
		for range cnt {
			v, n, err := amfDecodeDepth(b[p:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			p += n
			arr = append(arr, v)
		}
		return arr, p, nil
	}
	return nil, 0, fmt.Errorf("%w: unsupported type marker %#02x", ErrAMF, b[0])
}

// amfShortString decodes a u16-length string without a marker.
func amfShortString(b []byte) (string, int, error) {
	if len(b) < 2 {
		return "", 0, fmt.Errorf("%w: truncated string length", ErrAMF)
	}
	l := int(binary.BigEndian.Uint16(b))
	if l > len(b)-2 {
		return "", 0, fmt.Errorf("%w: string of %d bytes in %d", ErrAMF, l, len(b)-2)
	}
	return string(b[2 : 2+l]), 2 + l, nil
}

// amfAppend encodes v. Strings longer than 65535 bytes become long strings;
// object keys are cut to 65535 bytes. Values of other Go types encode as null.
func amfAppend(b []byte, v any) []byte {
	return amfAppendDepth(b, v, 0)
}

func amfAppendDepth(b []byte, v any, depth int) []byte {
	if depth > amfMaxDepth {
		return append(b, amfNull)
	}
	switch v := v.(type) {
	case float64:
		b = append(b, amfNumber)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(v))
	case bool:
		if v {
			return append(b, amfBoolean, 1)
		}
		return append(b, amfBoolean, 0)
	case string:
		if len(v) > math.MaxUint16 {
			b = append(b, amfLongString)
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			return append(b, v...)
		}
		return amfAppendKey(append(b, amfString), v)
	case amfUndef:
		return append(b, amfUndefined)
	case amfDateV:
		b = append(b, amfDate)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.MS))
		return binary.BigEndian.AppendUint16(b, uint16(v.TZ))
	case *amfObj:
		if v.ECMA {
			b = append(b, amfECMAArray)
			b = binary.BigEndian.AppendUint32(b, uint32(len(v.Props)))
		} else {
			b = append(b, amfObject)
		}
		for _, p := range v.Props {
			b = amfAppendKey(b, p.Key)
			b = amfAppendDepth(b, p.Value, depth+1)
		}
		return append(b, 0, 0, amfObjectEnd)
	case []any:
		b = append(b, amfStrict)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		for _, x := range v {
			b = amfAppendDepth(b, x, depth+1)
		}
		return b
	}
	return append(b, amfNull)
}

func amfAppendKey(b []byte, s string) []byte {
	if len(s) > math.MaxUint16 {
		s = s[:math.MaxUint16]
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
