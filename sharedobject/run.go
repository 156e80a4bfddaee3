package sharedobject

// A Run is consecutive batches of one shared object's writes that go to its
// subscribers together (see [Options.MergeWindow]; another subscriber's join
// in between is not part of it): the same batches, in order, for every
// subscriber of the run, each of which sees them as [Delivery] describes. A
// Run is immutable and shared by all its recipients.
type Run struct {
	ds   []*Delivery
	wire wireMemo // encodings shared by the recipients with no events of their own
}

// RunSubscriber is a Subscriber that takes a run of batches in one call: one
// queue operation, one wake-up and (for a transport) one write for all of
// them. A shared object hands runs of two or more batches to the subscribers
// that implement it and calls Deliver once per batch for the others. The
// error has Deliver's meaning.
type RunSubscriber interface {
	Subscriber
	DeliverRun(r *Run) error
}

// Deliveries returns the batches in order. The slice must not be modified.
func (r *Run) Deliveries() []*Delivery { return r.ds }

// For reports whether the subscriber with that ID has anything to receive in r.
func (r *Run) For(id string) bool {
	for _, d := range r.ds {
		if d.For(id) {
			return true
		}
	}
	return false
}

// Own reports whether the subscriber with that ID caused events of r that it
// sees differently from the others (see Delivery): if not, the run is the
// same for it as for every other such recipient and its encodings can be
// shared (Shared).
func (r *Run) Own(id string) bool {
	for _, d := range r.ds {
		if d.hasOrigin(id) {
			return true
		}
	}
	return false
}

// Framed returns the run as sub sees it, each batch framed by frame (see
// [Delivery.Framed]) and the frames concatenated: one segment to write. For
// the recipients that caused none of its events it is made once per key and
// layout and shared (it must not be modified); the others get their own. It
// returns nil, nil when sub has nothing to receive.
func (r *Run) Framed(sub Subscriber, key uint64, frame func(payload []byte) []byte) ([]byte, error) {
	build := func() ([]byte, error) { // the frames first, then one buffer of their size
		var fs [16][]byte
		frames, n := fs[:0], 0
		for _, d := range r.ds {
			f, err := d.Framed(sub, key, frame)
			if err != nil {
				return nil, err
			}
			frames, n = append(frames, f), n+len(f)
		}
		if n == 0 {
			return nil, nil
		}
		out := make([]byte, 0, n)
		for _, f := range frames {
			out = append(out, f...)
		}
		return out, nil
	}
	if r.Own(sub.ID()) {
		return build()
	}
	return r.Shared(key<<1|b2u(sub.AMF3()), build)
}

// Shared returns what build makes of r for the recipients that caused none of
// its events (Own is false), made once per key and shared by every caller
// with that key: it must not be modified. As with [Delivery.Shared], each
// transport uses keys of its own, and beyond a few keys build runs each time.
func (r *Run) Shared(key uint64, build func() ([]byte, error)) ([]byte, error) {
	return r.wire.get(key, build)
}
