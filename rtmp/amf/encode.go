package amf

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// sliceID identifies a non-empty []any by its backing array and length, so that shared
// slices (AMF0 strict arrays and AMF3 arrays decoded from references) are written as
// references rather than expanded again.
type sliceID struct {
	p *any
	n int
}

// bytesID identifies a non-empty []byte (AMF3 ByteArrays are in the object table).
type bytesID struct {
	p *byte
	n int
}

func identity(v any) (any, bool) {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return nil, false
		}
		return sliceID{&x[0], len(x)}, true
	case []byte:
		if len(x) == 0 {
			return nil, false
		}
		return bytesID{&x[0], len(x)}, true
	case *Object, *ECMAArray, *Array, *VectorInt, *VectorUint, *VectorDouble, *VectorObject,
		*Dictionary, *Externalizable:
		return x, true
	}
	return nil, false
}

// idTable maps value identities to reference indexes; the first few live in an array so
// that encoding small values does not allocate a map.
type idTable struct {
	small [8]idEntry
	n     int
	m     map[any]int
}

type idEntry struct {
	id any
	i  int
}

func (t *idTable) get(id any) (int, bool) {
	if t.m != nil {
		i, ok := t.m[id]
		return i, ok
	}
	for _, e := range t.small[:t.n] {
		if e.id == id {
			return e.i, true
		}
	}
	return 0, false
}

func (t *idTable) put(id any, i int) {
	if t.m == nil && t.n < len(t.small) {
		t.small[t.n] = idEntry{id, i}
		t.n++
		return
	}
	if t.m == nil {
		t.m = make(map[any]int, 2*len(t.small))
		for _, e := range t.small {
			t.m[e.id] = e.i
		}
	}
	t.m[id] = i
}

// enc3 holds the AMF3 reference tables of an encoder.
type enc3 struct {
	strs   map[string]int
	objs   idTable
	nobj   int
	traits map[string]int
	ntr    int
}

type encoder struct {
	b     []byte
	depth int
	refs0 idTable // AMF0 reference table by identity
	n0    int     // AMF0 reference table size
}

// AppendAMF0 appends the AMF0 encoding of v to dst. On error it returns dst unchanged.
func AppendAMF0(dst []byte, v any) ([]byte, error) {
	e := encoder{b: dst}
	if err := e.amf0(v); err != nil {
		return dst, err
	}
	return e.b, nil
}

// AppendAMF3 appends the AMF3 encoding of v to dst, with fresh reference tables. On
// error it returns dst unchanged.
func AppendAMF3(dst []byte, v any) ([]byte, error) {
	e := encoder{b: dst}
	var c enc3
	if err := e.amf3(&c, v); err != nil {
		return dst, err
	}
	return e.b, nil
}

// AppendUTF8 appends a u16 length and the bytes of s (no marker).
func AppendUTF8(dst []byte, s string) ([]byte, error) {
	if len(s) > math.MaxUint16 {
		return dst, fmt.Errorf("%w: %d bytes in a u16-length string", ErrTooLong, len(s))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...), nil
}

func (e *encoder) enter() error {
	e.depth++
	if e.depth > MaxEncodeDepth {
		return fmt.Errorf("%w: encoding deeper than %d", ErrDepth, MaxEncodeDepth)
	}
	return nil
}

func (e *encoder) leave() { e.depth-- }

func (e *encoder) u8(b byte)      { e.b = append(e.b, b) }
func (e *encoder) u16(v uint16)   { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32)   { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) f64(v float64)  { e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(v)) }
func (e *encoder) raw(s string)   { e.b = append(e.b, s...) }
func (e *encoder) rawB(bs []byte) { e.b = append(e.b, bs...) }

func (e *encoder) utf8(s string) error {
	if len(s) > math.MaxUint16 {
		return fmt.Errorf("%w: %d bytes in a u16-length string", ErrTooLong, len(s))
	}
	e.u16(uint16(len(s)))
	e.raw(s)
	return nil
}

func dateMs(t time.Time) (float64, error) {
	ms := t.UnixMilli()
	if ms > maxDateMs || ms < -maxDateMs {
		return 0, fmt.Errorf("%w: date %v out of range", ErrInvalid, t)
	}
	return float64(ms), nil
}

// number converts Go numeric kinds. isInt reports an integer kind; i is its value when it
// fits in int64 (uint64 above MaxInt64 reports isInt false).
func number(v any) (f float64, i int64, isInt, ok bool) {
	switch n := v.(type) {
	case float64:
		return n, 0, false, true
	case float32:
		return float64(n), 0, false, true
	case int:
		return float64(n), int64(n), true, true
	case int8:
		return float64(n), int64(n), true, true
	case int16:
		return float64(n), int64(n), true, true
	case int32:
		return float64(n), int64(n), true, true
	case int64:
		return float64(n), n, true, true
	case uint:
		return float64(n), int64(n), n <= math.MaxInt64, true
	case uint8:
		return float64(n), int64(n), true, true
	case uint16:
		return float64(n), int64(n), true, true
	case uint32:
		return float64(n), int64(n), true, true
	case uint64:
		return float64(n), int64(n), n <= math.MaxInt64, true
	}
	return 0, 0, false, false
}

// nilPointer reports a nil pointer of one of the package's reference types.
func nilPointer(v any) bool {
	switch x := v.(type) {
	case *Object:
		return x == nil
	case *ECMAArray:
		return x == nil
	case *Array:
		return x == nil
	case *VectorInt:
		return x == nil
	case *VectorUint:
		return x == nil
	case *VectorDouble:
		return x == nil
	case *VectorObject:
		return x == nil
	case *Dictionary:
		return x == nil
	case *Externalizable:
		return x == nil
	}
	return false
}

func sortedProps(m map[string]any) []Property {
	ps := make([]Property, 0, len(m))
	for k, v := range m {
		ps = append(ps, Property{Key: k, Value: v})
	}
	slices.SortFunc(ps, func(a, b Property) int { return strings.Compare(a.Key, b.Key) })
	return ps
}

// ---- AMF0 ----

// ref0 writes an AMF0 reference if v was written before; otherwise it adds v to the
// reference table (every complex value takes an index, identifiable or not).
func (e *encoder) ref0(v any) bool {
	if id, ok := identity(v); ok {
		if i, seen := e.refs0.get(id); seen {
			e.u8(m0Reference)
			e.u16(uint16(i))
			return true
		}
		if e.n0 <= math.MaxUint16 {
			e.refs0.put(id, e.n0)
		}
	}
	e.n0++
	return false
}

func (e *encoder) amf0(v any) error {
	if nilPointer(v) {
		e.u8(m0Null)
		return nil
	}
	if f, _, _, ok := number(v); ok {
		e.u8(m0Number)
		e.f64(f)
		return nil
	}
	switch x := v.(type) {
	case nil:
		e.u8(m0Null)
	case Undefined:
		e.u8(m0Undefined)
	case bool:
		e.u8(m0Boolean)
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		if len(x) <= math.MaxUint16 {
			e.u8(m0String)
			e.u16(uint16(len(x)))
		} else {
			if uint64(len(x)) > math.MaxUint32 {
				return fmt.Errorf("%w: %d-byte string", ErrTooLong, len(x))
			}
			e.u8(m0LongString)
			e.u32(uint32(len(x)))
		}
		e.raw(x)
	case XMLDocument:
		if uint64(len(x)) > math.MaxUint32 {
			return fmt.Errorf("%w: %d-byte XML document", ErrTooLong, len(x))
		}
		e.u8(m0XMLDocument)
		e.u32(uint32(len(x)))
		e.raw(string(x))
	case time.Time:
		ms, err := dateMs(x)
		if err != nil {
			return err
		}
		e.u8(m0Date)
		e.f64(ms)
		e.u16(0)
	case *Object:
		if x.Sealed > 0 || x.Static {
			// AMF3 traits have no AMF0 form: keep them by switching.
			e.u8(m0AVMPlus)
			var c enc3
			return e.amf3(&c, x)
		}
		if e.ref0(x) {
			return nil
		}
		return e.object0(x.Class, x.Props)
	case Object:
		return e.amf0(&x)
	case map[string]any:
		e.n0++
		return e.object0("", sortedProps(x))
	case *ECMAArray:
		if e.ref0(x) {
			return nil
		}
		return e.ecma0(x.Props)
	case ECMAArray:
		return e.amf0(&x)
	case []any:
		if e.ref0(x) {
			return nil
		}
		return strictArray0(e, x)
	case []string:
		e.n0++
		return strictArray0(e, x)
	case []float64:
		e.n0++
		return strictArray0(e, x)
	case *Array, Array, []byte, XML, *VectorInt, *VectorUint, *VectorDouble, *VectorObject,
		*Dictionary, *Externalizable:
		e.u8(m0AVMPlus)
		var c enc3
		return e.amf3(&c, v)
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedType, v)
	}
	return nil
}

func (e *encoder) object0(class string, ps []Property) error {
	if class != "" {
		e.u8(m0TypedObject)
		if err := e.utf8(class); err != nil {
			return err
		}
	} else {
		e.u8(m0Object)
	}
	return e.props0(ps)
}

func (e *encoder) ecma0(ps []Property) error {
	e.u8(m0ECMAArray)
	e.u32(uint32(len(ps)))
	return e.props0(ps)
}

func (e *encoder) props0(ps []Property) error {
	if err := e.enter(); err != nil {
		return err
	}
	for _, p := range ps {
		if p.Key == "" {
			return fmt.Errorf("%w: empty property key", ErrInvalid)
		}
		if err := e.utf8(p.Key); err != nil {
			return err
		}
		if err := e.amf0(p.Value); err != nil {
			return err
		}
	}
	e.u16(0)
	e.u8(m0ObjectEnd)
	e.leave()
	return nil
}

func strictArray0[T any](e *encoder, s []T) error {
	if uint64(len(s)) > math.MaxUint32 {
		return fmt.Errorf("%w: %d-element array", ErrTooMany, len(s))
	}
	if err := e.enter(); err != nil {
		return err
	}
	e.u8(m0StrictArray)
	e.u32(uint32(len(s)))
	for _, x := range s {
		if err := e.amf0(x); err != nil {
			return err
		}
	}
	e.leave()
	return nil
}

// ---- AMF3 ----

const (
	maxU29    = 1<<29 - 1
	maxInt29  = 1<<28 - 1
	minInt29  = -1 << 28
	maxLen3   = 1<<28 - 1 // lengths and counts share the U29 with a flag bit
	maxTraits = 1<<25 - 1 // sealed member count in U29O-traits
)

func (e *encoder) u29(v uint32) {
	switch {
	case v < 0x80:
		e.b = append(e.b, byte(v))
	case v < 0x4000:
		e.b = append(e.b, byte(v>>7)|0x80, byte(v&0x7F))
	case v < 0x200000:
		e.b = append(e.b, byte(v>>14)|0x80, byte(v>>7)|0x80, byte(v&0x7F))
	default:
		e.b = append(e.b, byte(v>>22)|0x80, byte(v>>15)|0x80, byte(v>>8)|0x80, byte(v))
	}
}

func checkLen3(n int) error {
	if n > maxLen3 {
		return fmt.Errorf("%w: %d bytes or elements exceed the AMF3 limit", ErrTooLong, n)
	}
	return nil
}

func (e *encoder) str3(c *enc3, s string) error {
	if s == "" {
		e.u8(0x01)
		return nil
	}
	if i, ok := c.strs[s]; ok {
		e.u29(uint32(i) << 1)
		return nil
	}
	if err := checkLen3(len(s)); err != nil {
		return err
	}
	if c.strs == nil {
		c.strs = make(map[string]int)
	}
	c.strs[s] = len(c.strs)
	e.u29(uint32(len(s))<<1 | 1)
	e.raw(s)
	return nil
}

// ref3 writes an object reference if v was written before; otherwise it takes the next
// object table index for v.
func (e *encoder) ref3(c *enc3, v any) bool {
	if id, ok := identity(v); ok {
		if i, seen := c.objs.get(id); seen {
			e.u29(uint32(i) << 1)
			return true
		}
		if c.nobj <= maxLen3 {
			c.objs.put(id, c.nobj)
		}
	}
	c.nobj++
	return false
}

func (e *encoder) int3(i int64) {
	if i >= minInt29 && i <= maxInt29 {
		e.u8(m3Integer)
		e.u29(uint32(i) & maxU29)
		return
	}
	e.u8(m3Double)
	e.f64(float64(i))
}

func (e *encoder) amf3(c *enc3, v any) error {
	if nilPointer(v) {
		e.u8(m3Null)
		return nil
	}
	if f, i, isInt, ok := number(v); ok {
		if isInt {
			e.int3(i)
		} else {
			e.u8(m3Double)
			e.f64(f)
		}
		return nil
	}
	switch x := v.(type) {
	case nil:
		e.u8(m3Null)
	case Undefined:
		e.u8(m3Undefined)
	case bool:
		if x {
			e.u8(m3True)
		} else {
			e.u8(m3False)
		}
	case string:
		e.u8(m3String)
		return e.str3(c, x)
	case XMLDocument:
		e.u8(m3XMLDoc)
		return e.bytes3(c, string(x))
	case XML:
		e.u8(m3XML)
		return e.bytes3(c, string(x))
	case []byte:
		e.u8(m3ByteArray)
		if err := checkLen3(len(x)); err != nil {
			return err
		}
		if e.ref3(c, x) {
			return nil
		}
		e.u29(uint32(len(x))<<1 | 1)
		e.rawB(x)
	case time.Time:
		ms, err := dateMs(x)
		if err != nil {
			return err
		}
		e.u8(m3Date)
		c.nobj++
		e.u8(0x01)
		e.f64(ms)
	case []any:
		e.u8(m3Array)
		if e.ref3(c, x) {
			return nil
		}
		return array3(e, c, nil, x)
	case []string:
		e.u8(m3Array)
		c.nobj++
		return array3(e, c, nil, x)
	case []float64:
		e.u8(m3Array)
		c.nobj++
		return array3(e, c, nil, x)
	case *Array:
		e.u8(m3Array)
		if e.ref3(c, x) {
			return nil
		}
		return array3(e, c, x.Assoc, x.Dense)
	case Array:
		e.u8(m3Array)
		c.nobj++
		return array3(e, c, x.Assoc, x.Dense)
	case *ECMAArray:
		e.u8(m3Array)
		if e.ref3(c, x) {
			return nil
		}
		return array3[any](e, c, x.Props, nil)
	case ECMAArray:
		e.u8(m3Array)
		c.nobj++
		return array3[any](e, c, x.Props, nil)
	case *Object:
		e.u8(m3Object)
		if e.ref3(c, x) {
			return nil
		}
		return e.object3(c, x)
	case Object:
		e.u8(m3Object)
		c.nobj++
		return e.object3(c, &x)
	case map[string]any:
		e.u8(m3Object)
		c.nobj++
		return e.object3(c, &Object{Props: sortedProps(x)})
	case *Externalizable:
		e.u8(m3Object)
		if !knownExternal(x.Class) {
			return fmt.Errorf("%w: class %q", ErrExternalizable, x.Class)
		}
		if e.ref3(c, x) {
			return nil
		}
		if err := e.traits3(c, x.Class, 0x07, nil); err != nil {
			return err
		}
		if err := e.enter(); err != nil {
			return err
		}
		if err := e.amf3(c, x.Value); err != nil {
			return err
		}
		e.leave()
	case *VectorInt:
		e.u8(m3VectorInt)
		if e.ref3(c, x) {
			return nil
		}
		if err := e.vecHead(len(x.Items), x.Fixed); err != nil {
			return err
		}
		for _, it := range x.Items {
			e.u32(uint32(it))
		}
	case *VectorUint:
		e.u8(m3VectorUint)
		if e.ref3(c, x) {
			return nil
		}
		if err := e.vecHead(len(x.Items), x.Fixed); err != nil {
			return err
		}
		for _, it := range x.Items {
			e.u32(it)
		}
	case *VectorDouble:
		e.u8(m3VectorDouble)
		if e.ref3(c, x) {
			return nil
		}
		if err := e.vecHead(len(x.Items), x.Fixed); err != nil {
			return err
		}
		for _, it := range x.Items {
			e.f64(it)
		}
	case *VectorObject:
		e.u8(m3VectorObject)
		if e.ref3(c, x) {
			return nil
		}
		if err := e.vecHead(len(x.Items), x.Fixed); err != nil {
			return err
		}
		if err := e.str3(c, x.TypeName); err != nil {
			return err
		}
		if err := e.enter(); err != nil {
			return err
		}
		for _, it := range x.Items {
			if err := e.amf3(c, it); err != nil {
				return err
			}
		}
		e.leave()
	case *Dictionary:
		e.u8(m3Dictionary)
		if e.ref3(c, x) {
			return nil
		}
		if err := e.vecHead(len(x.Entries), x.WeakKeys); err != nil {
			return err
		}
		if err := e.enter(); err != nil {
			return err
		}
		for _, en := range x.Entries {
			if err := e.amf3(c, en.Key); err != nil {
				return err
			}
			if err := e.amf3(c, en.Value); err != nil {
				return err
			}
		}
		e.leave()
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedType, v)
	}
	return nil
}

// bytes3 writes an inline XML document or XML body (object table entry, no identity).
func (e *encoder) bytes3(c *enc3, s string) error {
	if err := checkLen3(len(s)); err != nil {
		return err
	}
	c.nobj++
	e.u29(uint32(len(s))<<1 | 1)
	e.raw(s)
	return nil
}

// vecHead writes the inline count and a flag byte of a vector or dictionary.
func (e *encoder) vecHead(n int, flag bool) error {
	if err := checkLen3(n); err != nil {
		return err
	}
	e.u29(uint32(n)<<1 | 1)
	if flag {
		e.u8(1)
	} else {
		e.u8(0)
	}
	return nil
}

func array3[T any](e *encoder, c *enc3, assoc []Property, dense []T) error {
	if err := checkLen3(len(dense)); err != nil {
		return err
	}
	if err := e.enter(); err != nil {
		return err
	}
	e.u29(uint32(len(dense))<<1 | 1)
	for _, p := range assoc {
		if p.Key == "" {
			return fmt.Errorf("%w: empty array key", ErrInvalid)
		}
		if err := e.str3(c, p.Key); err != nil {
			return err
		}
		if err := e.amf3(c, p.Value); err != nil {
			return err
		}
	}
	e.u8(0x01)
	for _, x := range dense {
		if err := e.amf3(c, x); err != nil {
			return err
		}
	}
	e.leave()
	return nil
}

// traits3 writes a traits reference, or inline traits with header bits u (the low three
// bits 011 or 111 plus dynamic flag and sealed count) and adds them to the table.
func (e *encoder) traits3(c *enc3, class string, u uint32, names []Property) error {
	var key strings.Builder
	key.Grow(len(class) + 8)
	fmt.Fprintf(&key, "%d:%s", u, class)
	for _, p := range names {
		key.WriteByte(0)
		key.WriteString(p.Key)
	}
	k := key.String()
	if i, ok := c.traits[k]; ok {
		e.u29(uint32(i)<<2 | 0x01)
		return nil
	}
	if c.ntr <= maxTraits {
		if c.traits == nil {
			c.traits = make(map[string]int)
		}
		c.traits[k] = c.ntr
	}
	c.ntr++
	e.u29(u)
	if err := e.str3(c, class); err != nil {
		return err
	}
	for _, p := range names {
		if err := e.str3(c, p.Key); err != nil {
			return err
		}
	}
	return nil
}

func (e *encoder) object3(c *enc3, o *Object) error {
	sealed := min(max(o.Sealed, 0), len(o.Props))
	if sealed > maxTraits {
		return fmt.Errorf("%w: %d sealed members", ErrTooMany, sealed)
	}
	dynamic := !o.Static || len(o.Props) > sealed
	u := uint32(sealed)<<4 | 0x03
	if dynamic {
		u |= 0x08
	}
	if err := e.traits3(c, o.Class, u, o.Props[:sealed]); err != nil {
		return err
	}
	if err := e.enter(); err != nil {
		return err
	}
	for _, p := range o.Props[:sealed] {
		if err := e.amf3(c, p.Value); err != nil {
			return err
		}
	}
	if dynamic {
		for _, p := range o.Props[sealed:] {
			if p.Key == "" {
				return fmt.Errorf("%w: empty dynamic member name", ErrInvalid)
			}
			if err := e.str3(c, p.Key); err != nil {
				return err
			}
			if err := e.amf3(c, p.Value); err != nil {
				return err
			}
		}
		e.u8(0x01)
	}
	e.leave()
	return nil
}
