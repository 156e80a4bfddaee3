package sharedobject

import (
	"sync"
	"sync/atomic"
)

// Origin identifies who caused an event: a connection (its scope.Conn ID), a WebSocket
// client, or the server ("").
type Origin string

// OriginEvent is an event with the origin that caused it.
type OriginEvent struct {
	Event
	Origin Origin
}

// Subscriber is a client receiving a shared object's events (an RTMP connection, a
// WebSocket client).
type Subscriber interface {
	// ID identifies the subscriber; it equals the Origin of the events it causes and
	// must not be empty.
	ID() string
	// AMF3 reports whether it wants type 16 messages (objectEncoding 3).
	AMF3() bool
	// Deliver hands over one batch without blocking. An error (e.g. its queue is full)
	// makes the shared object drop the subscriber at once: it receives nothing more from
	// that object, and its owner is expected to disconnect it.
	Deliver(d *Delivery) error
}

// Delivery is one batch of events of one shared object, immutable and shared by all its
// recipients.
//
// Who sees what: an EventChange is seen by its origin as an EventSuccess (key only) and
// by everyone else as it is; EventSuccess and EventStatus events are for their origin
// only; every other event is for every recipient. [Delivery.Payload] applies these rules.
type Delivery struct {
	name       string
	version    uint32
	persistent bool
	events     []OriginEvent
	origins    []string // distinct origins of change/success/status events
	forAll     bool     // some event is for every recipient

	enc [2]struct {
		once sync.Once
		b    []byte
		err  error
	}
	wire wireMemo // encodings shared by the recipients with no events of their own (Shared)
}

// wireSlots bounds the encodings a Delivery keeps: RTMP layouts × chunk
// sizes in use, and the WebSocket frames.
const wireSlots = 4

// wireMemo keeps the shared encodings. Readers scan the published slots
// without a lock; writers add under mu.
type wireMemo struct {
	mu   sync.Mutex
	n    atomic.Uint32
	keys [wireSlots]uint64
	vals [wireSlots][]byte
	errs [wireSlots]error
}

func newDelivery(name string, version uint32, persistent bool, events []OriginEvent) *Delivery {
	d := &Delivery{name: name, version: version, persistent: persistent, events: events}
	for i := range events {
		e := &events[i]
		switch e.Type {
		case EventChange, EventSuccess, EventStatus:
			if e.Origin != "" && !d.hasOrigin(string(e.Origin)) {
				d.origins = append(d.origins, string(e.Origin))
			}
			if e.Type == EventChange {
				d.forAll = true
			}
		default:
			d.forAll = true
		}
	}
	return d
}

func (d *Delivery) hasOrigin(id string) bool {
	for _, o := range d.origins {
		if o == id {
			return true
		}
	}
	return false
}

// Name returns the shared object's name.
func (d *Delivery) Name() string { return d.name }

// Version returns the object's version after this batch.
func (d *Delivery) Version() uint32 { return d.version }

// Persistent reports whether the object is persistent.
func (d *Delivery) Persistent() bool { return d.persistent }

// Events returns the events with their origins. The slice must not be modified.
func (d *Delivery) Events() []OriginEvent { return d.events }

// For reports whether the subscriber with that ID has anything to receive in d.
func (d *Delivery) For(id string) bool { return d.forAll || d.hasOrigin(id) }

// EventsFor returns the events as the subscriber with that ID sees them (see Delivery).
func (d *Delivery) EventsFor(id string) []Event {
	out := make([]Event, 0, len(d.events))
	for i := range d.events {
		if e, ok := d.view(i, id); ok {
			out = append(out, e)
		}
	}
	return out
}

// view returns event i as recipient id sees it.
func (d *Delivery) view(i int, id string) (Event, bool) {
	e := &d.events[i]
	mine := id != "" && string(e.Origin) == id
	switch e.Type {
	case EventChange:
		if mine {
			return Event{Type: EventSuccess, Key: e.Key}, true
		}
	case EventSuccess, EventStatus:
		if !mine {
			return Event{}, false
		}
	}
	return e.Event, true
}

// Payload returns the RTMP message payload for sub: type 16 layout if sub.AMF3(), type
// 19 otherwise, and with the events as sub sees them. The payloads of recipients that
// originated none of the events are encoded once per layout and shared (they must not
// be modified); the others are encoded per call. It returns nil, nil when sub has
// nothing to receive.
func (d *Delivery) Payload(sub Subscriber) ([]byte, error) {
	id := sub.ID()
	amf3 := sub.AMF3()
	if d.hasOrigin(id) {
		return d.encodeExact(id, amf3)
	}
	if !d.forAll {
		return nil, nil
	}
	v := &d.enc[0]
	if amf3 {
		v = &d.enc[1]
	}
	v.once.Do(func() { v.b, v.err = d.encodeExact("", amf3) })
	return v.b, v.err
}

// Framed returns the payload for sub (as Payload does) framed for its
// transport by frame, e.g. chunked into an RTMP message; frame must not keep
// the payload it is given (a pooled buffer). The framing of a payload shared
// by several recipients is done once per key and shared (the result must not
// be modified): key must name everything frame depends on besides the
// payload (keys below 1<<62), and the layout (AMF0 or AMF3) is added to it
// here. A recipient with events of its own gets a framing of its own. It
// returns nil, nil when sub has nothing to receive.
func (d *Delivery) Framed(sub Subscriber, key uint64, frame func(payload []byte) []byte) ([]byte, error) {
	id, amf3 := sub.ID(), sub.AMF3()
	if d.hasOrigin(id) {
		return d.encodeTo(id, amf3, frame)
	}
	if !d.forAll {
		return nil, nil
	}
	return d.Shared(key<<1|b2u(amf3), func() ([]byte, error) { return d.encodeTo("", amf3, frame) })
}

// Shared returns what build makes of d for the recipients that caused none
// of its events (see Delivery: for them the batch is the same), made once
// per key and shared by every caller with that key: it must not be
// modified. Transports keep their encodings of a batch here (Framed for
// RTMP); each uses keys of its own. Beyond a few keys build runs each time.
func (d *Delivery) Shared(key uint64, build func() ([]byte, error)) ([]byte, error) {
	return d.wire.get(key, build)
}

// get returns the value kept for key, made by build the first time (while
// there are free slots; beyond them build runs each time).
func (m *wireMemo) get(key uint64, build func() ([]byte, error)) ([]byte, error) {
	n := m.n.Load()
	for i := uint32(0); i < n; i++ {
		if m.keys[i] == key {
			return m.vals[i], m.errs[i]
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock() // build may panic
	n = m.n.Load()
	for i := uint32(0); i < n; i++ {
		if m.keys[i] == key {
			return m.vals[i], m.errs[i]
		}
	}
	b, err := build()
	if n < wireSlots {
		m.keys[n], m.vals[n], m.errs[n] = key, b, err
		m.n.Store(n + 1)
	}
	return b, err
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// scratchPool holds the buffers values and payloads are encoded in before
// they are checked (checkValue), copied out or framed (encodeTo).
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// scratchMax is the largest scratch buffer put back in the pool.
const scratchMax = 64 << 10

// encodeExact returns the payload as id sees it in a buffer of its exact
// size (one allocation per payload instead of one per doubling).
func (d *Delivery) encodeExact(id string, amf3 bool) ([]byte, error) {
	return d.encodeTo(id, amf3, exactCopy)
}

func exactCopy(p []byte) []byte { return append(make([]byte, 0, len(p)), p...) }

// encodeTo encodes the payload as id sees it in a pooled buffer, so that
// growing it leaves no garbage behind, and returns what out makes of it (out
// must not keep it).
func (d *Delivery) encodeTo(id string, amf3 bool, out func(payload []byte) []byte) ([]byte, error) {
	sp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(sp)
	p, err := d.encode((*sp)[:0], id, amf3)
	if err != nil {
		return nil, err
	}
	if cap(p) <= scratchMax { // keep what it grew to, within reason
		*sp = p[:0]
	}
	return out(p), nil
}

func (d *Delivery) encode(dst []byte, id string, amf3 bool) ([]byte, error) {
	flags := uint32(0)
	if d.persistent {
		flags = FlagPersistent
	}
	out, err := appendHeader(dst, d.name, d.version, flags, amf3)
	if err != nil {
		return nil, err
	}
	for i := range d.events {
		e, ok := d.view(i, id)
		if !ok {
			continue
		}
		if out, err = appendEvent(out, &e, amf3); err != nil {
			return nil, err
		}
	}
	return out, nil
}
