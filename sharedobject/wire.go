package sharedobject

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/scopecast/scopecast/rtmp/amf"
)

// EventType is the type of one shared-object event.
type EventType uint8

// Event types. C→S: use, release, request change, request remove, request clear, send.
// S→C: change, success, send, status, clear, remove, use success.
const (
	EventUse           EventType = 1  // empty
	EventRelease       EventType = 2  // empty
	EventRequestChange EventType = 3  // key, value (absent value: null)
	EventChange        EventType = 4  // key, value; one key per event
	EventSuccess       EventType = 5  // key: the writer's change was accepted
	EventSend          EventType = 6  // handler name (AMF0 string with marker), then AMF arguments
	EventStatus        EventType = 7  // code, level
	EventClear         EventType = 8  // empty
	EventRemove        EventType = 9  // key
	EventRequestRemove EventType = 10 // key
	EventUseSuccess    EventType = 11 // empty
	EventRequestClear  EventType = 14 // empty; sent by the npm rtmp-client for so.clear()
)

var eventNames = map[EventType]string{
	EventUse: "use", EventRelease: "release", EventRequestChange: "request change",
	EventChange: "change", EventSuccess: "success", EventSend: "send", EventStatus: "status",
	EventClear: "clear", EventRemove: "remove", EventRequestRemove: "request remove",
	EventUseSuccess: "use success", EventRequestClear: "request clear",
}

// String returns the event type's name.
func (t EventType) String() string {
	if n, ok := eventNames[t]; ok {
		return n
	}
	return fmt.Sprintf("event(%d)", uint8(t))
}

// Event is one shared-object event.
type Event struct {
	Type  EventType
	Key   string // change, success, remove, request change, request remove
	Value any    // change, request change (an AMF value; nil is null)
	Args  []any  // send: Args[0] is the handler name (a string), then its arguments
	// Status: Code (e.g. "SharedObject.NoWriteAccess") and Level ("error").
	Code, Level string
}

// Message is one shared-object message (type 19 or 16).
type Message struct {
	Name       string
	Version    uint32
	Persistent bool   // flags&FlagPersistent != 0
	Flags      uint32 // the raw flags as received (Append keeps them, with FlagPersistent from Persistent)
	Events     []Event
}

// Wire bounds and flags.
const (
	// MaxNameLen bounds shared-object names (bytes).
	MaxNameLen = 1024
	// MaxEvents bounds the events of one message.
	MaxEvents = 1024
	// FlagPersistent is the flags bit of persistent objects (Red5 writes 2).
	FlagPersistent uint32 = 2

	headerLen      = 2 + 4 + 4 + 4 // name length, version, flags, reserved (name excluded)
	eventHeaderLen = 1 + 4
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Decode parses the payload of a type 19 (amf3 false) or type 16 (amf3 true, a leading
// encoding byte 0x00 or 0x03) message. It is pure and bounded by the payload, by
// MaxNameLen and MaxEvents and by lim (zero fields take amf.DefaultLimits); every error
// wraps ErrMalformed. Decoded values never alias payload.
func Decode(payload []byte, amf3 bool, lim amf.Limits) (Message, error) {
	var m Message
	b := payload
	if amf3 {
		if len(b) < 1 {
			return m, malformed("type 16 message without encoding byte")
		}
		if b[0] != 0 && b[0] != 3 {
			return m, malformed("type 16 encoding byte %#02x", b[0])
		}
		b = b[1:]
	}
	if len(b) < 2 {
		return m, malformed("truncated name length")
	}
	nameLen := int(binary.BigEndian.Uint16(b))
	if nameLen > MaxNameLen {
		return m, fmt.Errorf("%w: %w: %d bytes (max %d)", ErrMalformed, ErrNameTooLong, nameLen, MaxNameLen)
	}
	if len(b) < headerLen+nameLen {
		return m, malformed("truncated header (%d bytes)", len(b))
	}
	m.Name = string(b[2 : 2+nameLen])
	b = b[2+nameLen:]
	m.Version = binary.BigEndian.Uint32(b)
	m.Flags = binary.BigEndian.Uint32(b[4:])
	m.Persistent = m.Flags&FlagPersistent != 0
	b = b[12:]

	// First pass: the event framing, so that the value budgets can be shared out.
	n, bodies := 0, 0
	for rest := b; len(rest) > 0; {
		if n == MaxEvents {
			return m, fmt.Errorf("%w: %w: more than %d", ErrMalformed, ErrTooManyEvents, MaxEvents)
		}
		if len(rest) < eventHeaderLen {
			return m, fmt.Errorf("%w: %w: truncated event header at event %d", ErrMalformed, ErrEventLength, n)
		}
		l := binary.BigEndian.Uint32(rest[1:])
		if uint64(l) > uint64(len(rest)-eventHeaderLen) {
			return m, fmt.Errorf("%w: %w: event %d (%s) says %d bytes, %d left", ErrMalformed, ErrEventLength, n, EventType(rest[0]), l, len(rest)-eventHeaderLen)
		}
		rest = rest[eventHeaderLen+int(l):]
		bodies += int(l)
		n++
	}
	if n == 0 {
		return m, nil
	}
	lim = lim.WithDefaults()
	if bodies > lim.MaxExpanded {
		return m, malformed("%d bytes of event bodies exceed the expansion limit %d", bodies, lim.MaxExpanded)
	}
	m.Events = make([]Event, 0, n)
	for i := 0; i < n; i++ {
		t := EventType(b[0])
		l := int(binary.BigEndian.Uint32(b[1:]))
		body := b[eventHeaderLen : eventHeaderLen+l]
		b = b[eventHeaderLen+l:]
		ev, err := decodeEvent(t, body, share(lim, l, bodies))
		if err != nil {
			return m, fmt.Errorf("event %d (%s): %w", i, t, err)
		}
		m.Events = append(m.Events, ev)
	}
	return m, nil
}

// share gives an event of l bytes its part of the message's value budgets.
func share(lim amf.Limits, l, total int) amf.Limits {
	if total <= 0 {
		return lim
	}
	part := func(v int) int {
		p := int(uint64(v) * uint64(l) / uint64(total))
		return max(p, 1)
	}
	lim.MaxTotal = part(lim.MaxTotal)
	lim.MaxExpanded = max(part(lim.MaxExpanded), l)
	return lim
}

func decodeEvent(t EventType, body []byte, lim amf.Limits) (Event, error) {
	ev := Event{Type: t}
	switch t {
	case EventUse, EventRelease, EventClear, EventUseSuccess, EventRequestClear:
		if len(body) != 0 {
			return ev, fmt.Errorf("%w: %w: %d body bytes, want 0", ErrMalformed, ErrEventLength, len(body))
		}
		return ev, nil
	case EventSuccess, EventRemove, EventRequestRemove, EventRequestChange, EventChange, EventStatus, EventSend:
	default:
		return ev, fmt.Errorf("%w: %w: %d", ErrMalformed, ErrUnknownEvent, uint8(t))
	}
	d := amf.NewDecoder(body, lim)
	var err error
	switch t {
	case EventSuccess, EventRemove, EventRequestRemove:
		ev.Key, err = d.ReadUTF8()
	case EventRequestChange, EventChange:
		if ev.Key, err = d.ReadUTF8(); err == nil && d.Len() > 0 {
			ev.Value, err = d.ReadAMF0()
		}
	case EventStatus:
		if ev.Code, err = d.ReadUTF8(); err == nil {
			ev.Level, err = d.ReadUTF8()
		}
	case EventSend:
		var h any
		if h, err = d.ReadAMF0(); err == nil {
			name, ok := h.(string)
			if !ok {
				return ev, malformed("send handler name is %T, not a string", h)
			}
			ev.Args = append(ev.Args, name)
			for err == nil && d.Len() > 0 {
				var v any
				if v, err = d.ReadAMF0(); err == nil {
					ev.Args = append(ev.Args, v)
				}
			}
		}
	}
	if err != nil {
		return ev, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if d.Len() != 0 {
		return ev, fmt.Errorf("%w: %w: %d bytes left over in the body", ErrMalformed, ErrEventLength, d.Len())
	}
	return ev, nil
}

// Append appends the payload of m as a type 19 (amf3 false) or type 16 (amf3 true)
// message: exact event body lengths, one key per change event. In type 16 messages every
// value is written as 0x11 and its AMF3 encoding. On error it returns dst unchanged.
func Append(dst []byte, m *Message, amf3 bool) ([]byte, error) {
	flags := m.Flags &^ FlagPersistent
	if m.Persistent {
		flags |= FlagPersistent
	}
	out, err := appendHeader(dst, m.Name, m.Version, flags, amf3)
	if err != nil {
		return dst, err
	}
	if len(m.Events) > MaxEvents {
		return dst, fmt.Errorf("%w: %d events (max %d)", ErrTooManyEvents, len(m.Events), MaxEvents)
	}
	for i := range m.Events {
		if out, err = appendEvent(out, &m.Events[i], amf3); err != nil {
			return dst, fmt.Errorf("event %d (%s): %w", i, m.Events[i].Type, err)
		}
	}
	return out, nil
}

func appendHeader(dst []byte, name string, version, flags uint32, amf3 bool) ([]byte, error) {
	if len(name) > MaxNameLen {
		return dst, fmt.Errorf("%w: %d bytes (max %d)", ErrNameTooLong, len(name), MaxNameLen)
	}
	if amf3 {
		dst = append(dst, 0)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(name)))
	dst = append(dst, name...)
	dst = binary.BigEndian.AppendUint32(dst, version)
	dst = binary.BigEndian.AppendUint32(dst, flags)
	return binary.BigEndian.AppendUint32(dst, 0), nil
}

// appendValue writes an AMF0 value, or 0x11 and an AMF3 value.
func appendValue(dst []byte, v any, amf3 bool) ([]byte, error) {
	if amf3 {
		out, err := amf.AppendAMF3(append(dst, 0x11), v)
		if err != nil {
			return dst, err
		}
		return out, nil
	}
	return amf.AppendAMF0(dst, v)
}

func appendKey(dst []byte, key string) ([]byte, error) {
	if len(key) > math.MaxUint16 {
		return dst, fmt.Errorf("%w: %d bytes", ErrBadKey, len(key))
	}
	return amf.AppendUTF8(dst, key)
}

// appendEvent appends one event with its exact body length.
func appendEvent(dst []byte, ev *Event, amf3 bool) ([]byte, error) {
	start := len(dst)
	out := append(dst, byte(ev.Type), 0, 0, 0, 0)
	var err error
	switch ev.Type {
	case EventUse, EventRelease, EventClear, EventUseSuccess, EventRequestClear:
	case EventSuccess, EventRemove, EventRequestRemove:
		out, err = appendKey(out, ev.Key)
	case EventRequestChange, EventChange:
		if out, err = appendKey(out, ev.Key); err == nil {
			out, err = appendValue(out, ev.Value, amf3)
		}
	case EventStatus:
		if out, err = appendKey(out, ev.Code); err == nil {
			out, err = appendKey(out, ev.Level)
		}
	case EventSend:
		if len(ev.Args) == 0 {
			return dst, fmt.Errorf("%w: send without handler name", ErrBadValue)
		}
		name, ok := ev.Args[0].(string)
		if !ok {
			return dst, fmt.Errorf("%w: send handler name is %T", ErrBadValue, ev.Args[0])
		}
		if out, err = amf.AppendAMF0(out, name); err == nil {
			for _, a := range ev.Args[1:] {
				if out, err = appendValue(out, a, amf3); err != nil {
					break
				}
			}
		}
	default:
		return dst, fmt.Errorf("%w: %d", ErrUnknownEvent, uint8(ev.Type))
	}
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrBadValue, err)
	}
	l := len(out) - start - eventHeaderLen
	if uint64(l) > math.MaxUint32 {
		return dst, fmt.Errorf("%w: event body of %d bytes", ErrBadValue, l)
	}
	binary.BigEndian.PutUint32(out[start+1:], uint32(l))
	return out, nil
}
