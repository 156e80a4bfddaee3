package wsbridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/scopecast/scopecast/rtmp/amf"
)

// Op is the operation a client frame asks for.
type Op string

// Client operations (the "type" of a client frame).
const (
	OpSend   Op = "send"   // send a message to a handler: SharedObject send
	OpSet    Op = "set"    // set a property (a null value removes it)
	OpRemove Op = "remove" // remove a property
	OpClear  Op = "clear"  // remove every property
	OpChat   Op = "chat"   // a chat message: set property "message" (see ChatKey)
)

// Decoding bounds.
const (
	// MaxDepth bounds the nesting of JSON values in a client frame.
	MaxDepth = 32
	// MaxKeyLen bounds property keys and handler names (bytes).
	MaxKeyLen = 1024
	// MaxArgs bounds the arguments of a send.
	MaxArgs = 64
)

// Request is one decoded client frame.
type Request struct {
	Op      Op
	Key     string // set, remove
	Value   any    // set: an AMF value (nil removes)
	Handler string // send
	Args    []any  // send: AMF values
	Text    string // chat
	// Compat names the compatibility form a chat request came in: "" (JSON
	// {"type":"chat"}), "text" (a plain text frame) or "red5" (Red5's chat demo).
	Compat string
}

// Decode parses one client text frame. It is pure and bounded by the frame and
// MaxDepth. A frame whose first non-space byte is not '{' is a plain text chat
// message; a frame that starts with '{' must be a JSON object: one of the
// operations of Op, or Red5's chat demo form
// {"name":"chat","method":"messageTransmit","message":{"data":"…"}}. JSON objects
// become *amf.Object values with their keys in sorted order, numbers float64.
// Errors wrap ErrInvalidJSON (not JSON at all) or ErrBadRequest (JSON, but not
// a request we understand).
func Decode(frame []byte) (Request, error) {
	if !utf8.Valid(frame) {
		return Request{}, fmt.Errorf("%w: frame is not UTF-8", ErrInvalidJSON)
	}
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		text := string(bytes.TrimSpace(frame))
		if text == "" {
			return Request{}, fmt.Errorf("%w: empty message", ErrBadRequest)
		}
		return Request{Op: OpChat, Text: text, Compat: "text"}, nil
	}
	var raw struct {
		Type    *string           `json:"type"`
		Key     *string           `json:"key"`
		Value   json.RawMessage   `json:"value"`
		Handler *string           `json:"handler"`
		Args    []json.RawMessage `json:"args"`
		Text    *string           `json:"text"`
		// Red5's chat demo.
		Name    *string `json:"name"`
		Method  *string `json:"method"`
		Message *struct {
			Data *string `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(frame, &raw); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return Request{}, fmt.Errorf("%w: field %q has the wrong type", ErrBadRequest, ute.Field)
		}
		return Request{}, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	if raw.Type == nil {
		if raw.Method != nil && *raw.Method == "messageTransmit" && raw.Message != nil && raw.Message.Data != nil {
			if *raw.Message.Data == "" {
				return Request{}, fmt.Errorf("%w: empty message", ErrBadRequest)
			}
			return Request{Op: OpChat, Text: *raw.Message.Data, Compat: "red5"}, nil
		}
		return Request{}, fmt.Errorf("%w: no \"type\"", ErrBadRequest)
	}
	r := Request{Op: Op(*raw.Type)}
	switch r.Op {
	case OpSet, OpRemove:
		if raw.Key == nil {
			return Request{}, fmt.Errorf("%w: %s without \"key\"", ErrBadRequest, r.Op)
		}
		if len(*raw.Key) > MaxKeyLen {
			return Request{}, fmt.Errorf("%w: key of %d bytes", ErrBadRequest, len(*raw.Key))
		}
		r.Key = *raw.Key
		if r.Op == OpSet {
			if raw.Value == nil {
				return Request{}, fmt.Errorf("%w: set without \"value\"", ErrBadRequest)
			}
			v, err := decodeValue(raw.Value)
			if err != nil {
				return Request{}, err
			}
			r.Value = v
		}
	case OpSend:
		if raw.Handler == nil || *raw.Handler == "" {
			return Request{}, fmt.Errorf("%w: send without \"handler\"", ErrBadRequest)
		}
		if len(*raw.Handler) > MaxKeyLen {
			return Request{}, fmt.Errorf("%w: handler name of %d bytes", ErrBadRequest, len(*raw.Handler))
		}
		if len(raw.Args) > MaxArgs {
			return Request{}, fmt.Errorf("%w: %d arguments (at most %d)", ErrBadRequest, len(raw.Args), MaxArgs)
		}
		r.Handler = *raw.Handler
		r.Args = make([]any, 0, len(raw.Args))
		for _, a := range raw.Args {
			v, err := decodeValue(a)
			if err != nil {
				return Request{}, err
			}
			r.Args = append(r.Args, v)
		}
	case OpClear:
	case OpChat:
		if raw.Text == nil || *raw.Text == "" {
			return Request{}, fmt.Errorf("%w: chat without \"text\"", ErrBadRequest)
		}
		r.Text = *raw.Text
	default:
		return Request{}, fmt.Errorf("%w: unknown type %q", ErrBadRequest, truncate(*raw.Type, 64))
	}
	return r, nil
}

// decodeValue turns a JSON value into an AMF value: objects become *amf.Object
// with sorted keys, arrays []any, numbers float64.
func decodeValue(b json.RawMessage) (any, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) { // e.g. a number out of range
			return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	return toAMF(v, 0)
}

func toAMF(v any, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: value nested deeper than %d", ErrBadRequest, MaxDepth)
	}
	switch v := v.(type) {
	case map[string]any:
		o := &amf.Object{Props: make([]amf.Property, 0, len(v))}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			x, err := toAMF(v[k], depth+1)
			if err != nil {
				return nil, err
			}
			o.Props = append(o.Props, amf.Property{Key: k, Value: x})
		}
		return o, nil
	case []any:
		out := make([]any, len(v))
		for i := range v {
			x, err := toAMF(v[i], depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	default: // nil, bool, float64, string
		return v, nil
	}
}

// Encoding bounds for AMF values rendered as JSON: deeper values, and values
// beyond the node budget, are written as null (AMF values may share parts and
// even form cycles).
const (
	maxEncodeDepth = 64
	maxEncodeNodes = 1 << 16
)

// jsonWriter renders AMF values as JSON with a node budget.
type jsonWriter struct {
	b     []byte
	nodes int
}

func (w *jsonWriter) str(s string) { w.b = appendString(w.b, s) }

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) num(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		w.raw("null")
		return
	}
	w.b = strconv.AppendFloat(w.b, f, 'g', -1, 64)
}

func (w *jsonWriter) props(ps []amf.Property, depth int) {
	w.b = append(w.b, '{')
	for i, p := range ps {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.str(p.Key)
		w.b = append(w.b, ':')
		w.value(p.Value, depth+1)
	}
	w.b = append(w.b, '}')
}

func (w *jsonWriter) array(n int, item func(i int), depth int) {
	w.b = append(w.b, '[')
	for i := range n {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		item(i)
	}
	w.b = append(w.b, ']')
}

// value writes v. See docs/websocket.md for the mapping.
func (w *jsonWriter) value(v any, depth int) {
	w.nodes++
	if depth > maxEncodeDepth || w.nodes > maxEncodeNodes {
		w.raw("null")
		return
	}
	switch v := v.(type) {
	case nil, amf.Undefined:
		w.raw("null")
	case bool:
		w.b = strconv.AppendBool(w.b, v)
	case float64:
		w.num(v)
	case float32:
		w.num(float64(v))
	case int32:
		w.b = strconv.AppendInt(w.b, int64(v), 10)
	case int:
		w.b = strconv.AppendInt(w.b, int64(v), 10)
	case int64:
		w.b = strconv.AppendInt(w.b, v, 10)
	case uint32:
		w.b = strconv.AppendUint(w.b, uint64(v), 10)
	case string:
		w.str(v)
	case amf.XML:
		w.str(string(v))
	case amf.XMLDocument:
		w.str(string(v))
	case time.Time:
		w.str(v.UTC().Format("2006-01-02T15:04:05.000Z"))
	case []byte:
		w.str(base64.StdEncoding.EncodeToString(v))
	case *amf.Object:
		if v == nil {
			w.raw("null")
			return
		}
		w.props(v.Props, depth)
	case amf.Object:
		w.props(v.Props, depth)
	case *amf.ECMAArray:
		if v == nil {
			w.raw("null")
			return
		}
		w.props(v.Props, depth)
	case amf.ECMAArray:
		w.props(v.Props, depth)
	case *amf.Array:
		if v == nil {
			w.raw("null")
			return
		}
		w.amfArray(v, depth)
	case amf.Array:
		w.amfArray(&v, depth)
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		w.b = append(w.b, '{')
		for i, k := range keys {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.str(k)
			w.b = append(w.b, ':')
			w.value(v[k], depth+1)
		}
		w.b = append(w.b, '}')
	case []any:
		w.array(len(v), func(i int) { w.value(v[i], depth+1) }, depth)
	case []string:
		w.array(len(v), func(i int) { w.str(v[i]) }, depth)
	case []float64:
		w.array(len(v), func(i int) { w.num(v[i]) }, depth)
	case *amf.VectorInt:
		w.array(len(v.Items), func(i int) { w.b = strconv.AppendInt(w.b, int64(v.Items[i]), 10) }, depth)
	case *amf.VectorUint:
		w.array(len(v.Items), func(i int) { w.b = strconv.AppendUint(w.b, uint64(v.Items[i]), 10) }, depth)
	case *amf.VectorDouble:
		w.array(len(v.Items), func(i int) { w.num(v.Items[i]) }, depth)
	case *amf.VectorObject:
		w.array(len(v.Items), func(i int) { w.value(v.Items[i], depth+1) }, depth)
	case *amf.Dictionary:
		w.array(len(v.Entries), func(i int) {
			w.raw(`{"key":`)
			w.value(v.Entries[i].Key, depth+2)
			w.raw(`,"value":`)
			w.value(v.Entries[i].Value, depth+2)
			w.b = append(w.b, '}')
		}, depth)
	case *amf.Externalizable:
		w.value(v.Value, depth+1)
	default:
		w.raw("null")
	}
}

// amfArray writes an AMF3 array with an associative part as an object: the
// dense items under their indexes, then the associative members.
func (w *jsonWriter) amfArray(a *amf.Array, depth int) {
	if len(a.Assoc) == 0 {
		w.array(len(a.Dense), func(i int) { w.value(a.Dense[i], depth+1) }, depth)
		return
	}
	w.b = append(w.b, '{')
	for i, x := range a.Dense {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, '"')
		w.b = strconv.AppendInt(w.b, int64(i), 10)
		w.raw(`":`)
		w.value(x, depth+1)
	}
	for i, p := range a.Assoc {
		if i > 0 || len(a.Dense) > 0 {
			w.b = append(w.b, ',')
		}
		w.str(p.Key)
		w.b = append(w.b, ':')
		w.value(p.Value, depth+1)
	}
	w.b = append(w.b, '}')
}

// AppendJSON appends v, an AMF value (or one of the Go natives the amf
// encoders accept), as JSON. Objects and ECMA arrays become JSON objects,
// arrays and vectors arrays, dates ISO 8601 strings (UTC, milliseconds), byte
// arrays base64 strings, XML strings, dictionaries arrays of {"key","value"},
// NaN, infinities, undefined and unknown types null. Nesting deeper than 64
// levels, and anything beyond 65536 values, is written as null: shared and
// cyclic values always end.
func AppendJSON(dst []byte, v any) []byte {
	w := jsonWriter{b: dst}
	w.value(v, 0)
	return w.b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// control characters, U+2028 and U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"':
				b = append(b, '\\', '"')
			case '\\':
				b = append(b, '\\', '\\')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
