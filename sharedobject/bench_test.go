package sharedobject

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopecast/scopecast/rtmp/amf"
)

// nopSub accepts deliveries; with encode it also asks for its payload, as a writer would.
type nopSub struct {
	id     string
	encode bool
	amf3   bool
}

func (s *nopSub) ID() string { return s.id }
func (s *nopSub) AMF3() bool { return s.amf3 }
func (s *nopSub) Deliver(d *Delivery) error {
	if s.encode {
		_, err := d.Payload(s)
		return err
	}
	return nil
}

// BenchmarkSetAttribute1000Subs: one write fanned out to 1000 subscribers (transient),
// both payload layouts encoded once, the writer's success encoded for it.
func BenchmarkSetAttribute1000Subs(b *testing.B) {
	c := NewContainer("/bench", nil, Options{Logger: quiet})
	defer c.Close()
	o, _ := c.Get("chat", false, true)
	o.Acquire()
	for i := range 1000 {
		o.Subscribe(&nopSub{id: fmt.Sprint("s", i), encode: i < 3, amf3: i == 1})
	}
	writer := Origin("s0")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := o.SetAttribute(writer, "msg", float64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// nopRunSub is a nopSub that takes runs, counting them (and its calls).
type nopRunSub struct {
	nopSub
	runs, calls *atomic.Int64
}

func (s *nopRunSub) DeliverRun(r *Run) error { s.runs.Add(1); s.calls.Add(1); return nil }

func (s *nopRunSub) Deliver(d *Delivery) error { s.calls.Add(1); return s.nopSub.Deliver(d) }

// sweepObject returns an object with a merge window of an hour (its ends called by
// the benchmark) and 1000 subscribers taking runs, counted in runs and calls, their
// joins handed out (the counts then reset).
func sweepObject(b *testing.B, runs, calls *atomic.Int64) *SharedObject {
	c := NewContainer("/bench", nil, Options{Logger: quiet, MergeWindow: time.Hour})
	b.Cleanup(func() { c.Close() })
	o, _ := c.Get("chat", false, true)
	o.Acquire()
	for i := range 1000 {
		o.Subscribe(&nopRunSub{nopSub{id: fmt.Sprint("s", i)}, runs, calls})
	}
	sweepNow(b, o) // the joins held after the first
	runs.Store(0)
	calls.Store(0)
	return o
}

// BenchmarkSweep1000Subs: the merged fan-out (Options.MergeWindow): 10 writes held
// within a window, then the sweep that hands them to 1000 subscribers taking runs (one
// DeliverRun each; the Run is made once per part of the sweep, see sweepSplit).
func BenchmarkSweep1000Subs(b *testing.B) {
	var runs, calls atomic.Int64
	o := sweepObject(b, &runs, &calls)
	b.ReportAllocs()
	i, n := 0, 0
	for b.Loop() {
		n++
		for range 10 {
			i++
			if err := o.SetAttribute("", "msg", float64(i)); err != nil {
				b.Fatal(err)
			}
		}
		sweepNow(b, o)
	}
	if got := runs.Load(); got != int64(n)*1000 {
		b.Fatalf("%d runs for %d sweeps of 1000 subscribers", got, n)
	}
}

// BenchmarkSweep1000SubsJoin: BenchmarkSweep1000Subs with a subscriber joining in the
// middle of each window (and leaving in the next): the others still get one Run.
func BenchmarkSweep1000SubsJoin(b *testing.B) {
	var runs, calls atomic.Int64
	o := sweepObject(b, &runs, &calls)
	b.ReportAllocs()
	i, n := 0, 0
	var joiner *nopRunSub
	for b.Loop() {
		n++
		for j := range 10 {
			if j == 5 {
				if joiner != nil {
					o.Unsubscribe(joiner)
				}
				joiner = &nopRunSub{nopSub{id: fmt.Sprint("j", n)}, &runs, &calls}
				o.Subscribe(joiner)
			}
			i++
			if err := o.SetAttribute("", "msg", float64(i)); err != nil {
				b.Fatal(err)
			}
		}
		sweepNow(b, o)
	}
	b.ReportMetric(float64(calls.Load())/float64(n), "calls/op")
	if got := runs.Load(); got < int64(n)*1000 {
		b.Fatalf("%d runs for %d sweeps of 1000 subscribers", got, n)
	}
}

// boltContainer returns a container on a new BoltStore, both closed with the benchmark.
func boltContainer(b *testing.B) (*BoltStore, *Container) {
	s, err := OpenBolt(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c := NewContainer("/bench", s, Options{Logger: quiet})
	b.Cleanup(func() { c.Close() })
	return s, c
}

// BenchmarkPersistentSaves: writes to persistent objects on a BoltStore from many
// goroutines; each SetAttribute returns after its fsync, grouped.
func BenchmarkPersistentSaves(b *testing.B) {
	s, c := boltContainer(b)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		o, err := c.Get(fmt.Sprint("o", n.Add(1)), true, true)
		if err != nil {
			b.Error(err)
			return
		}
		o.Acquire()
		defer o.Release()
		i := 0
		for pb.Next() {
			i++
			if err := o.SetAttribute("", "k", float64(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "saves/s")
	b.ReportMetric(float64(s.Commits())/float64(b.N), "fsyncs/op")
}

// BenchmarkPersistentSavesSerial: one writer, so one fsync per change (the floor).
func BenchmarkPersistentSavesSerial(b *testing.B) {
	_, c := boltContainer(b)
	o, _ := c.Get("o", true, true)
	o.Acquire()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := o.SetAttribute("", "k", float64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "saves/s")
}

func BenchmarkDecode(b *testing.B) {
	m := &Message{Name: "chat", Version: 7, Flags: 16, Events: []Event{
		{Type: EventRequestChange, Key: "msg", Value: amf.Obj("user", "alice", "text", "hello there", "ts", 1.7e12)},
		{Type: EventSend, Args: []any{"onMsg", "hello", float64(1)}},
	}}
	p, _ := Append(nil, m, false)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := Decode(p, false, amf.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	m := &Message{Name: "chat", Version: 7, Events: []Event{
		{Type: EventChange, Key: "msg", Value: amf.Obj("user", "alice", "text", "hello there", "ts", 1.7e12)},
	}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = Append(buf[:0], m, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunFramed is a sweep's encoding work in the chat benchmark: six
// new batches of one change each (a {from, text} object, as the chat page
// writes), each encoded and framed once for the recipients, and the run of
// them framed once, as an RTMP subscriber without events of its own asks for
// it.
func BenchmarkRunFramed(b *testing.B) {
	sub := &nopSub{id: "reader"}
	frame := func(p []byte) []byte { // an RTMP type 19 header (11 bytes + basic header) before the payload
		out := make([]byte, 12, 12+len(p))
		return append(out, p...)
	}
	events := make([][]OriginEvent, 6)
	for i := range events {
		events[i] = []OriginEvent{{Origin: "writer", Event: Event{Type: EventChange, Key: "message",
			Value: amf.Obj("from", "rtmp-42", "text", fmt.Sprintf("cb1a2b3c|%d|1234567890123", 1000+i))}}}
	}
	b.ReportAllocs()
	for b.Loop() {
		r := &Run{ds: make([]*Delivery, len(events))}
		for i, ev := range events {
			r.ds[i] = newDelivery("chat", uint32(i+1), false, ev)
		}
		out, err := r.Framed(sub, 1, frame)
		if err != nil || len(out) == 0 {
			b.Fatal(len(out), err)
		}
	}
}
