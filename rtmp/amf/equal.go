package amf

import (
	"bytes"
	"slices"
	"time"
)

// maxEqualDepth bounds the recursion of Equal on very deep (non-cyclic) values.
const maxEqualDepth = 4096

// Equal reports whether a and b are deeply equal AMF values. Numbers compare by value
// across Go numeric types (int32 3 equals float64 3; NaN equals NaN); dates compare as
// instants; *Object and *ECMAArray compare Class and Props in order (AMF3 traits layout,
// Sealed and Static, is ignored); an *Array with an empty associative part equals the
// slice of its dense part; nil pointers of the package's types equal nil. Cyclic values
// are handled.
func Equal(a, b any) bool {
	var s eqState
	return s.eq(a, b)
}

type eqState struct {
	visited map[[2]any]struct{}
	depth   int
}

// seen records that the pair (x, y) is being compared and reports whether it already was:
// a pair met again is assumed equal (as reflect.DeepEqual does), which ends cycles and
// keeps shared substructures linear.
func (s *eqState) seen(x, y any) bool {
	k := [2]any{x, y}
	if _, ok := s.visited[k]; ok {
		return true
	}
	if s.visited == nil {
		s.visited = make(map[[2]any]struct{})
	}
	s.visited[k] = struct{}{}
	return false
}

// asList returns v as a list of elements when it is an array-like value.
func asList(v any) (n int, at func(int) any, id any, ok bool) {
	switch x := v.(type) {
	case []any:
		id, _ := identity(x)
		return len(x), func(i int) any { return x[i] }, id, true
	case []string:
		return len(x), func(i int) any { return x[i] }, nil, true
	case []float64:
		return len(x), func(i int) any { return x[i] }, nil, true
	case *Array:
		if len(x.Assoc) == 0 {
			id, _ := identity(x.Dense)
			return len(x.Dense), func(i int) any { return x.Dense[i] }, id, true
		}
	}
	return 0, nil, nil, false
}

func (s *eqState) eq(a, b any) bool {
	if nilPointer(a) {
		a = nil
	}
	if nilPointer(b) {
		b = nil
	}
	a, b = byPointer(a), byPointer(b)
	if fa, _, _, ok := number(a); ok {
		fb, _, _, ok := number(b)
		return ok && (fa == fb || fa != fa && fb != fb)
	}
	if s.depth > maxEqualDepth {
		return false
	}
	s.depth++
	defer func() { s.depth-- }()

	if na, atA, idA, ok := asList(a); ok {
		nb, atB, idB, ok := asList(b)
		if !ok || na != nb {
			return false
		}
		if idA != nil && idB != nil && s.seen(idA, idB) {
			return true
		}
		for i := range na {
			if !s.eq(atA(i), atB(i)) {
				return false
			}
		}
		return true
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case Undefined, bool, string, XMLDocument, XML:
		return a == b
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case *Object:
		y, ok := b.(*Object)
		if !ok || x.Class != y.Class {
			return false
		}
		return x == y || s.seen(x, y) || s.props(x.Props, y.Props)
	case *ECMAArray:
		y, ok := b.(*ECMAArray)
		if !ok {
			return false
		}
		return x == y || s.seen(x, y) || s.props(x.Props, y.Props)
	case *Array:
		y, ok := b.(*Array)
		if !ok {
			return false
		}
		if x == y || s.seen(x, y) {
			return true
		}
		if !s.props(x.Assoc, y.Assoc) || len(x.Dense) != len(y.Dense) {
			return false
		}
		for i := range x.Dense {
			if !s.eq(x.Dense[i], y.Dense[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !s.eq(v, w) {
				return false
			}
		}
		return true
	case *VectorInt:
		y, ok := b.(*VectorInt)
		return ok && x.Fixed == y.Fixed && slices.Equal(x.Items, y.Items)
	case *VectorUint:
		y, ok := b.(*VectorUint)
		return ok && x.Fixed == y.Fixed && slices.Equal(x.Items, y.Items)
	case *VectorDouble:
		y, ok := b.(*VectorDouble)
		if !ok || x.Fixed != y.Fixed || len(x.Items) != len(y.Items) {
			return false
		}
		for i, f := range x.Items {
			g := y.Items[i]
			if f != g && (f == f || g == g) {
				return false
			}
		}
		return true
	case *VectorObject:
		y, ok := b.(*VectorObject)
		if !ok || x.Fixed != y.Fixed || x.TypeName != y.TypeName || len(x.Items) != len(y.Items) {
			return false
		}
		if x == y || s.seen(x, y) {
			return true
		}
		for i := range x.Items {
			if !s.eq(x.Items[i], y.Items[i]) {
				return false
			}
		}
		return true
	case *Dictionary:
		y, ok := b.(*Dictionary)
		if !ok || x.WeakKeys != y.WeakKeys || len(x.Entries) != len(y.Entries) {
			return false
		}
		if x == y || s.seen(x, y) {
			return true
		}
		for i := range x.Entries {
			if !s.eq(x.Entries[i].Key, y.Entries[i].Key) || !s.eq(x.Entries[i].Value, y.Entries[i].Value) {
				return false
			}
		}
		return true
	case *Externalizable:
		y, ok := b.(*Externalizable)
		if !ok || x.Class != y.Class {
			return false
		}
		return x == y || s.seen(x, y) || s.eq(x.Value, y.Value)
	}
	return false
}

// byPointer turns Object, ECMAArray and Array values into pointers.
func byPointer(v any) any {
	switch x := v.(type) {
	case Object:
		return &x
	case ECMAArray:
		return &x
	case Array:
		return &x
	}
	return v
}

func (s *eqState) props(x, y []Property) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i].Key != y[i].Key || !s.eq(x[i].Value, y[i].Value) {
			return false
		}
	}
	return true
}
