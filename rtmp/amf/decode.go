package amf

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"
)

// AMF0 markers.
const (
	m0Number      = 0x00
	m0Boolean     = 0x01
	m0String      = 0x02
	m0Object      = 0x03
	m0MovieClip   = 0x04
	m0Null        = 0x05
	m0Undefined   = 0x06
	m0Reference   = 0x07
	m0ECMAArray   = 0x08
	m0ObjectEnd   = 0x09
	m0StrictArray = 0x0A
	m0Date        = 0x0B
	m0LongString  = 0x0C
	m0Unsupported = 0x0D
	m0RecordSet   = 0x0E
	m0XMLDocument = 0x0F
	m0TypedObject = 0x10
	m0AVMPlus     = 0x11
)

// AMF3 markers.
const (
	m3Undefined    = 0x00
	m3Null         = 0x01
	m3False        = 0x02
	m3True         = 0x03
	m3Integer      = 0x04
	m3Double       = 0x05
	m3String       = 0x06
	m3XMLDoc       = 0x07
	m3Date         = 0x08
	m3Array        = 0x09
	m3Object       = 0x0A
	m3XML          = 0x0B
	m3ByteArray    = 0x0C
	m3VectorInt    = 0x0D
	m3VectorUint   = 0x0E
	m3VectorDouble = 0x0F
	m3VectorObject = 0x10
	m3Dictionary   = 0x11
)

// maxDateMs is the ECMAScript time value range (±100,000,000 days).
const maxDateMs = 8.64e15

// traits3 is one entry of an AMF3 traits table.
type traits3 struct {
	class   string
	dynamic bool
	ext     bool
	names   []string
}

// entry is one object of a reference table with its expanded size: the input bytes it
// took plus the expanded sizes of the references inside it (0 while being decoded).
type entry struct {
	v any
	w int
}

// ctx3 holds the AMF3 reference tables.
type ctx3 struct {
	strs   []string
	objs   []entry
	traits []*traits3
}

// add appends v to the object table, returning its index.
func (c *ctx3) add(v any) int {
	c.objs = append(c.objs, entry{v: v})
	return len(c.objs) - 1
}

func (c *ctx3) reset() {
	clear(c.objs)
	c.strs, c.objs, c.traits = c.strs[:0], c.objs[:0], c.traits[:0]
}

// Decoder reads AMF values from a byte slice. It is not safe for concurrent use.
// Decoded values never alias the input.
type Decoder struct {
	b      []byte
	off    int
	lim    Limits
	total  int
	depth  int
	extra  int     // expanded sizes of the references resolved so far
	refs0  []entry // AMF0 reference table
	c3     ctx3    // AMF3 tables of ReadAMF3
	shared bool    // 0x11 switches use c3
}

// NewDecoder returns a Decoder reading b with the given limits (zero fields take
// [DefaultLimits]).
func NewDecoder(b []byte, lim Limits) *Decoder {
	return &Decoder{b: b, lim: lim.WithDefaults()}
}

// Reset makes d read b from the start, with empty reference tables and a fresh value count.
func (d *Decoder) Reset(b []byte) {
	d.b, d.off, d.total, d.depth, d.extra = b, 0, 0, 0, 0
	clear(d.refs0)
	d.refs0 = d.refs0[:0]
	d.c3.reset()
}

// ShareSwitchTables selects whether AMF3 values behind AMF0 0x11 switch markers share the
// Decoder's AMF3 reference tables (those of ReadAMF3) instead of starting a fresh context
// per switch (the default). See the package documentation.
func (d *Decoder) ShareSwitchTables(shared bool) { d.shared = shared }

// Len returns the number of bytes not yet consumed.
func (d *Decoder) Len() int { return len(d.b) - d.off }

// Offset returns the number of bytes consumed.
func (d *Decoder) Offset() int { return d.off }

// ReadAMF0 decodes one AMF0 value (an 0x11 marker is followed by one AMF3 value).
func (d *Decoder) ReadAMF0() (any, error) {
	d.depth = 0
	return d.amf0()
}

// ReadAMF3 decodes one AMF3 value, sharing the AMF3 reference tables with earlier
// ReadAMF3 calls on d.
func (d *Decoder) ReadAMF3() (any, error) {
	d.depth = 0
	return d.amf3(&d.c3)
}

// ReadUTF8 reads a u16 length and that many bytes, with no marker.
func (d *Decoder) ReadUTF8() (string, error) {
	n, err := d.u16()
	if err != nil {
		return "", err
	}
	return d.str(int(n))
}

// DecodeAMF0All decodes every AMF0 value until the end of b.
func DecodeAMF0All(b []byte, lim Limits) ([]any, error) {
	d := NewDecoder(b, lim)
	var buf [8]any // a command's values: name, transaction id, object, arguments
	vs := buf[:0]
	for d.Len() > 0 {
		v, err := d.ReadAMF0()
		if err != nil {
			return exact(vs), err
		}
		vs = append(vs, v)
	}
	return exact(vs), nil
}

// exact returns a copy of s on the heap with room for exactly its elements, or nil when
// s is empty: what a slice gathered in an array on the stack becomes when it is returned.
func exact[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// ---- primitives ----

func (d *Decoder) errf(err error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format+" at offset %d", append(append([]any{err}, args...), d.off)...)
}

func (d *Decoder) need(n int) error {
	if n < 0 || n > len(d.b)-d.off {
		return d.errf(ErrTruncated, "need %d bytes, have %d", n, len(d.b)-d.off)
	}
	return nil
}

func (d *Decoder) u8() (byte, error) {
	if d.off >= len(d.b) {
		return 0, d.errf(ErrTruncated, "need 1 byte")
	}
	v := d.b[d.off]
	d.off++
	return v, nil
}

func (d *Decoder) u16() (uint16, error) {
	if err := d.need(2); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v, nil
}

func (d *Decoder) u32() (uint32, error) {
	if err := d.need(4); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *Decoder) f64() (float64, error) {
	if err := d.need(8); err != nil {
		return 0, err
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:]))
	d.off += 8
	return v, nil
}

// number reads a float64 value. The integers 0..255 (transaction ids, codec ids,
// capabilities) come boxed from a table, so that returning them as an any does not
// allocate.
func (d *Decoder) number() (any, error) {
	f, err := d.f64()
	if i := int(f); i >= 0 && i < len(smallNumbers) && float64(i) == f && !math.Signbit(f) {
		return smallNumbers[i], err
	}
	return f, err
}

var smallNumbers = func() (t [256]any) {
	for i := range t {
		t[i] = float64(i)
	}
	return t
}()

// checkLen validates a byte length from the wire before anything is allocated.
func (d *Decoder) checkLen(n uint64) error {
	if n > uint64(d.lim.MaxStringLen) {
		return d.errf(ErrTooLong, "length %d exceeds limit %d", n, d.lim.MaxStringLen)
	}
	return d.need(int(n))
}

// checkCount validates an element count from the wire, each element taking at least
// minBytes bytes, before anything is allocated.
func (d *Decoder) checkCount(n uint64, minBytes int) error {
	if n > uint64(d.lim.MaxElements) {
		return d.errf(ErrTooMany, "%d elements exceed limit %d", n, d.lim.MaxElements)
	}
	if n*uint64(minBytes) > uint64(d.Len()) {
		return d.errf(ErrTruncated, "%d elements need at least %d bytes, have %d", n, n*uint64(minBytes), d.Len())
	}
	return nil
}

func (d *Decoder) str(n int) (string, error) {
	b, in, err := d.strBytes(n)
	if in != nil {
		return in.(string), nil
	}
	return string(b), err
}

// strValue is str for a string value: an interned one comes already boxed, so that
// returning it as an any does not allocate either.
func (d *Decoder) strValue(n int) (any, error) {
	b, in, err := d.strBytes(n)
	if in != nil {
		return in, nil
	}
	return string(b), err
}

// strBytes consumes a string of n bytes: its bytes, and the boxed string when it is
// one of the interned ones.
func (d *Decoder) strBytes(n int) ([]byte, any, error) {
	if n == 0 {
		return nil, nil, nil
	}
	if err := d.checkLen(uint64(n)); err != nil {
		return nil, nil, err
	}
	b := d.b[d.off : d.off+n]
	d.off += n
	if n <= maxInterned {
		return b, interned[string(b)], nil // no allocation for the lookup
	}
	return b, nil, nil
}

// Frequent RTMP command names, property names and status codes are returned from this
// table, boxed, instead of being allocated again for every message.
const maxInterned = 40

var interned = func() map[string]any {
	m := map[string]any{}
	for _, s := range strings.Fields(`connect _result _error onStatus onBWDone close call
		createStream deleteStream closeStream releaseStream FCPublish FCUnpublish onFCPublish
		onFCUnpublish publish play play2 pause seek receiveAudio receiveVideo getStreamLength
		live record append
		app flashVer swfUrl tcUrl fpad capabilities audioCodecs videoCodecs videoFunction pageUrl
		objectEncoding type nonprivate fourCcList capsEx fmsVer mode
		level code description details clientid status error warning application
		NetConnection.Connect.Success NetConnection.Connect.Rejected NetConnection.Connect.Closed
		NetStream.Publish.Start NetStream.Play.Start NetStream.Play.Reset NetStream.Play.Stop
		NetStream.Unpublish.Success
		@setDataFrame onMetaData onCuePoint |RtmpSampleAccess
		duration width height videodatarate framerate videocodecid audiodatarate
		audiosamplerate audiosamplesize stereo audiocodecid encoder filesize
		hasAudio hasVideo hasMetadata canSeekToEnd creationdate`) {
		m[s] = s
	}
	return m
}()

func (d *Decoder) count() error {
	d.total++
	if d.total > d.lim.MaxTotal {
		return d.errf(ErrTooMany, "more than %d values", d.lim.MaxTotal)
	}
	return nil
}

func (d *Decoder) enter() error {
	d.depth++
	if d.depth > d.lim.MaxDepth {
		return d.errf(ErrDepth, "depth %d exceeds limit %d", d.depth, d.lim.MaxDepth)
	}
	return nil
}

func (d *Decoder) leave() { d.depth-- }

// expanded is the size of everything decoded so far with references expanded.
func (d *Decoder) expanded() int { return d.off + d.extra }

// resolved accounts for a reference to a value of expanded size w.
func (d *Decoder) resolved(w int) error {
	if w > d.lim.MaxExpanded-d.expanded() {
		return d.errf(ErrTooLong, "expanded size exceeds limit %d", d.lim.MaxExpanded)
	}
	d.extra += w
	return nil
}

func (d *Decoder) date(ms float64) (time.Time, error) {
	if math.IsNaN(ms) || ms > maxDateMs || ms < -maxDateMs {
		return time.Time{}, d.errf(ErrInvalid, "date %v ms out of range", ms)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

// ---- AMF0 ----

func (d *Decoder) amf0() (any, error) {
	m, err := d.u8()
	if err != nil {
		return nil, err
	}
	if err := d.count(); err != nil {
		return nil, err
	}
	switch m {
	case m0Number:
		return d.number()
	case m0Boolean:
		b, err := d.u8()
		return b != 0, err
	case m0String:
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		return d.strValue(int(n))
	case m0LongString, m0XMLDocument:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		s, err := d.str(int(n))
		if m == m0XMLDocument {
			return XMLDocument(s), err
		}
		return s, err
	case m0Null:
		return nil, nil
	case m0Undefined, m0Unsupported:
		return Undefined{}, nil
	case m0Reference:
		i, err := d.u16()
		if err != nil {
			return nil, err
		}
		if int(i) >= len(d.refs0) {
			return nil, d.errf(ErrReference, "AMF0 reference %d of %d", i, len(d.refs0))
		}
		e := d.refs0[i]
		return e.v, d.resolved(e.w)
	case m0Object, m0TypedObject:
		o := &Object{}
		if m == m0TypedObject {
			n, err := d.u16()
			if err != nil {
				return nil, err
			}
			if o.Class, err = d.str(int(n)); err != nil {
				return nil, err
			}
		}
		idx, start := d.add0(o)
		ps, err := d.amf0Props(-1)
		o.Props = ps
		d.refs0[idx].w = d.expanded() - start
		return o, err
	case m0ECMAArray:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		a := &ECMAArray{}
		idx, start := d.add0(a)
		ps, err := d.amf0Props(int64(n))
		a.Props = ps
		d.refs0[idx].w = d.expanded() - start
		return a, err
	case m0StrictArray:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		if err := d.checkCount(uint64(n), 1); err != nil {
			return nil, err
		}
		if err := d.enter(); err != nil {
			return nil, err
		}
		s := make([]any, n)
		idx, start := d.add0(s)
		for i := range s {
			if s[i], err = d.amf0(); err != nil {
				return nil, err
			}
		}
		d.refs0[idx].w = d.expanded() - start
		d.leave()
		return s, nil
	case m0Date:
		ms, err := d.f64()
		if err != nil {
			return nil, err
		}
		if _, err := d.u16(); err != nil { // time zone: reserved, ignored
			return nil, err
		}
		return d.date(ms)
	case m0AVMPlus:
		if d.shared {
			return d.amf3(&d.c3)
		}
		var c ctx3
		return d.amf3(&c)
	}
	d.off--
	return nil, d.errf(ErrMarker, "AMF0 marker 0x%02x", m)
}

// add0 appends v to the AMF0 reference table and returns its index and the expanded size
// before it (the marker byte was read already).
func (d *Decoder) add0(v any) (int, int) {
	d.refs0 = append(d.refs0, entry{v: v})
	return len(d.refs0) - 1, d.expanded() - 1
}

// amf0Props reads object or ECMA array members until the object-end marker. For ECMA
// arrays (count >= 0) the end marker may be missing when the input ends right after the
// announced number of members, as some encoders do.
//
// The members are gathered in a buffer on the stack and copied once into a slice of
// their exact number (nil for none): one allocation where appending to a nil slice took
// one per doubling (5 for the 9 members of a connect object).
func (d *Decoder) amf0Props(count int64) ([]Property, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	var buf [16]Property
	ps, err := buf[:0], error(nil)
	for {
		if count >= 0 && d.Len() == 0 && int64(len(ps)) == count {
			break
		}
		var n uint16
		if n, err = d.u16(); err != nil {
			break
		}
		if n == 0 {
			var m byte
			if m, err = d.u8(); err == nil && m != m0ObjectEnd {
				d.off--
				err = d.errf(ErrMarker, "AMF0 marker 0x%02x after empty key, want object end", m)
			}
			break
		}
		var k string
		if k, err = d.str(int(n)); err != nil {
			break
		}
		if len(ps) >= d.lim.MaxElements {
			err = d.errf(ErrTooMany, "more than %d properties", d.lim.MaxElements)
			break
		}
		var v any
		if v, err = d.amf0(); err != nil {
			break
		}
		ps = append(ps, Property{Key: k, Value: v})
	}
	if err == nil {
		d.leave()
	}
	return exact(ps), err
}

// ---- AMF3 ----

// u29 reads an AMF3 variable-length unsigned 29-bit integer.
func (d *Decoder) u29() (uint32, error) {
	var v uint32
	for i := 0; i < 4; i++ {
		b, err := d.u8()
		if err != nil {
			return 0, err
		}
		if i == 3 {
			return v<<8 | uint32(b), nil
		}
		v = v<<7 | uint32(b&0x7F)
		if b&0x80 == 0 {
			return v, nil
		}
	}
	return v, nil // unreachable
}

func (d *Decoder) str3(c *ctx3) (string, error) {
	u, err := d.u29()
	if err != nil {
		return "", err
	}
	if u&1 == 0 {
		i := int(u >> 1)
		if i >= len(c.strs) {
			return "", d.errf(ErrReference, "AMF3 string reference %d of %d", i, len(c.strs))
		}
		s := c.strs[i]
		return s, d.resolved(len(s))
	}
	s, err := d.str(int(u >> 1))
	if err != nil {
		return "", err
	}
	if s != "" {
		c.strs = append(c.strs, s)
	}
	return s, nil
}

// objRef reads a U29 with a reference flag: it returns the referenced object, or the
// inline value (u >> 1) with isRef false.
func (d *Decoder) objRef(c *ctx3) (ref any, inline uint32, isRef bool, err error) {
	u, err := d.u29()
	if err != nil {
		return nil, 0, false, err
	}
	if u&1 == 0 {
		i := int(u >> 1)
		if i >= len(c.objs) {
			return nil, 0, false, d.errf(ErrReference, "AMF3 object reference %d of %d", i, len(c.objs))
		}
		e := c.objs[i]
		return e.v, 0, true, d.resolved(e.w)
	}
	return nil, u >> 1, false, nil
}

func (d *Decoder) amf3(c *ctx3) (any, error) {
	start := d.expanded()
	m, err := d.u8()
	if err != nil {
		return nil, err
	}
	if err := d.count(); err != nil {
		return nil, err
	}
	switch m {
	case m3Undefined:
		return Undefined{}, nil
	case m3Null:
		return nil, nil
	case m3False:
		return false, nil
	case m3True:
		return true, nil
	case m3Integer:
		u, err := d.u29()
		if err != nil {
			return nil, err
		}
		return int32(u<<3) >> 3, nil // sign-extend 29 bits
	case m3Double:
		return d.number()
	case m3String:
		return d.str3(c)
	case m3XMLDoc, m3XML, m3ByteArray:
		ref, n, isRef, err := d.objRef(c)
		if err != nil || isRef {
			return ref, err
		}
		if err := d.checkLen(uint64(n)); err != nil {
			return nil, err
		}
		var v any
		switch m {
		case m3XMLDoc:
			s, _ := d.str(int(n))
			v = XMLDocument(s)
		case m3XML:
			s, _ := d.str(int(n))
			v = XML(s)
		default:
			b := make([]byte, n)
			copy(b, d.b[d.off:])
			d.off += int(n)
			v = b
		}
		c.objs = append(c.objs, entry{v, d.expanded() - start})
		return v, nil
	case m3Date:
		ref, _, isRef, err := d.objRef(c)
		if err != nil || isRef {
			return ref, err
		}
		ms, err := d.f64()
		if err != nil {
			return nil, err
		}
		t, err := d.date(ms)
		if err != nil {
			return nil, err
		}
		c.objs = append(c.objs, entry{t, d.expanded() - start})
		return t, nil
	case m3Array:
		return d.array3(c, start)
	case m3Object:
		return d.object3(c, start)
	case m3VectorInt, m3VectorUint, m3VectorDouble, m3VectorObject:
		return d.vector3(c, m, start)
	case m3Dictionary:
		ref, n, isRef, err := d.objRef(c)
		if err != nil || isRef {
			return ref, err
		}
		weak, err := d.u8()
		if err != nil {
			return nil, err
		}
		if err := d.checkCount(uint64(n), 2); err != nil {
			return nil, err
		}
		if err := d.enter(); err != nil {
			return nil, err
		}
		dict := &Dictionary{WeakKeys: weak != 0, Entries: make([]DictEntry, n)}
		idx := c.add(dict)
		for i := range dict.Entries {
			e := &dict.Entries[i]
			if e.Key, err = d.amf3(c); err != nil {
				return nil, err
			}
			if e.Value, err = d.amf3(c); err != nil {
				return nil, err
			}
		}
		c.objs[idx].w = d.expanded() - start
		d.leave()
		return dict, nil
	}
	d.off--
	return nil, d.errf(ErrMarker, "AMF3 marker 0x%02x", m)
}

func (d *Decoder) array3(c *ctx3, start int) (any, error) {
	ref, n, isRef, err := d.objRef(c)
	if err != nil || isRef {
		return ref, err
	}
	if err := d.checkCount(uint64(n), 1); err != nil {
		return nil, err
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	a := &Array{}
	idx := c.add(a)
	for {
		k, err := d.str3(c)
		if err != nil {
			return nil, err
		}
		if k == "" {
			break
		}
		if len(a.Assoc)+int(n) >= d.lim.MaxElements {
			return nil, d.errf(ErrTooMany, "more than %d array elements", d.lim.MaxElements)
		}
		v, err := d.amf3(c)
		if err != nil {
			return nil, err
		}
		a.Assoc = append(a.Assoc, Property{Key: k, Value: v})
	}
	if err := d.checkCount(uint64(n), 1); err != nil { // input shrank while reading Assoc
		return nil, err
	}
	dense := make([]any, n)
	var out any = a
	if len(a.Assoc) == 0 {
		c.objs[idx].v = dense
		out = dense
	} else {
		a.Dense = dense
	}
	for i := range dense {
		if dense[i], err = d.amf3(c); err != nil {
			return nil, err
		}
	}
	c.objs[idx].w = d.expanded() - start
	d.leave()
	return out, nil
}

func (d *Decoder) object3(c *ctx3, start int) (any, error) {
	ref, u, isRef, err := d.objRef(c)
	if err != nil || isRef {
		return ref, err
	}
	// u is the U29O value shifted right by one.
	var t *traits3
	switch {
	case u&1 == 0: // traits reference
		i := int(u >> 1)
		if i >= len(c.traits) {
			return nil, d.errf(ErrReference, "AMF3 traits reference %d of %d", i, len(c.traits))
		}
		t = c.traits[i]
	case u&2 != 0: // traits-ext: externalizable
		class, err := d.str3(c)
		if err != nil {
			return nil, err
		}
		t = &traits3{class: class, ext: true}
		c.traits = append(c.traits, t)
	default:
		t = &traits3{dynamic: u&4 != 0}
		n := u >> 3
		if err := d.checkCount(uint64(n), 1); err != nil {
			return nil, err
		}
		if t.class, err = d.str3(c); err != nil {
			return nil, err
		}
		t.names = make([]string, n)
		for i := range t.names {
			if t.names[i], err = d.str3(c); err != nil {
				return nil, err
			}
		}
		c.traits = append(c.traits, t)
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	if t.ext {
		if !knownExternal(t.class) {
			return nil, d.errf(ErrExternalizable, "class %q", t.class)
		}
		e := &Externalizable{Class: t.class}
		idx := c.add(e)
		if e.Value, err = d.amf3(c); err != nil {
			return nil, err
		}
		c.objs[idx].w = d.expanded() - start
		d.leave()
		return e, nil
	}
	if err := d.checkCount(uint64(len(t.names)), 1); err != nil {
		return nil, err
	}
	o := &Object{Class: t.class, Sealed: len(t.names), Static: !t.dynamic}
	idx := c.add(o)
	if len(t.names) > 0 {
		o.Props = make([]Property, len(t.names))
		for i, name := range t.names {
			o.Props[i].Key = name
			if o.Props[i].Value, err = d.amf3(c); err != nil {
				return nil, err
			}
		}
	}
	if t.dynamic {
		for {
			k, err := d.str3(c)
			if err != nil {
				return nil, err
			}
			if k == "" {
				break
			}
			if len(o.Props) >= d.lim.MaxElements {
				return nil, d.errf(ErrTooMany, "more than %d properties", d.lim.MaxElements)
			}
			v, err := d.amf3(c)
			if err != nil {
				return nil, err
			}
			o.Props = append(o.Props, Property{Key: k, Value: v})
		}
	}
	c.objs[idx].w = d.expanded() - start
	d.leave()
	return o, nil
}

func (d *Decoder) vector3(c *ctx3, m byte, start int) (any, error) {
	ref, n, isRef, err := d.objRef(c)
	if err != nil || isRef {
		return ref, err
	}
	fixed, err := d.u8()
	if err != nil {
		return nil, err
	}
	size := 1
	switch m {
	case m3VectorInt, m3VectorUint:
		size = 4
	case m3VectorDouble:
		size = 8
	}
	if err := d.checkCount(uint64(n), size); err != nil {
		return nil, err
	}
	var v any
	switch m {
	case m3VectorInt:
		vi := &VectorInt{Fixed: fixed != 0, Items: make([]int32, n)}
		for i := range vi.Items {
			vi.Items[i] = int32(binary.BigEndian.Uint32(d.b[d.off:]))
			d.off += 4
		}
		v = vi
	case m3VectorUint:
		vu := &VectorUint{Fixed: fixed != 0, Items: make([]uint32, n)}
		for i := range vu.Items {
			vu.Items[i] = binary.BigEndian.Uint32(d.b[d.off:])
			d.off += 4
		}
		v = vu
	case m3VectorDouble:
		vd := &VectorDouble{Fixed: fixed != 0, Items: make([]float64, n)}
		for i := range vd.Items {
			vd.Items[i] = math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:]))
			d.off += 8
		}
		v = vd
	default:
		tn, err := d.str3(c)
		if err != nil {
			return nil, err
		}
		if err := d.checkCount(uint64(n), 1); err != nil {
			return nil, err
		}
		if err := d.enter(); err != nil {
			return nil, err
		}
		vo := &VectorObject{Fixed: fixed != 0, TypeName: tn, Items: make([]any, n)}
		idx := c.add(vo)
		for i := range vo.Items {
			if vo.Items[i], err = d.amf3(c); err != nil {
				return nil, err
			}
		}
		c.objs[idx].w = d.expanded() - start
		d.leave()
		return vo, nil
	}
	c.objs = append(c.objs, entry{v, d.expanded() - start})
	return v, nil
}
