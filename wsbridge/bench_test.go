package wsbridge

import (
	"fmt"
	"testing"

	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/sharedobject"
)

// benchConn is a connection without a socket: its queue is emptied by the
// benchmark instead of a writer.
func benchConn(h *Handler, i int) *conn {
	return &conn{h: h, id: fmt.Sprintf("ws%d", i), qmax: 4, notify: make(chan struct{}, 1), done: make(chan struct{})}
}

// pop takes the one item queued on c (the benchmark's writer).
func pop(tb testing.TB, c *conn) outItem {
	batch, _, _ := c.take()
	if len(batch) != 1 {
		tb.Fatalf("%d items queued, want 1", len(batch))
	}
	it := batch[0]
	c.recycle(batch)
	return it
}

// One chat message fanned out to N WebSocket subscribers: the delivery is
// rendered to JSON (and framed) once, then each subscriber's Deliver queues
// the shared frames.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h := &Handler{}
			objs := sharedobject.NewContainer("/chat/bench", nil, sharedobject.Options{})
			so, err := objs.Get("chat", false, true)
			if err != nil {
				b.Fatal(err)
			}
			conns := make([]*conn, n)
			for i := range conns {
				conns[i] = benchConn(h, i)
				if err := so.Subscribe(conns[i]); err != nil {
					b.Fatal(err)
				}
				pop(b, conns[i]) // the join
			}
			seq := 0
			b.ReportAllocs()
			for b.Loop() {
				seq++
				v := amf.Obj("id", "ws0-1", "from", "alice", "text", "hello, everyone in the room", "time", float64(seq))
				if err := so.SetAttribute("", "message", v); err != nil {
					b.Fatal(err)
				}
				for _, c := range conns {
					if it := pop(b, c); it.frame == nil {
						b.Fatal("no shared frame")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subscriber")
		})
	}
}

// Rendering one change event to JSON.
func BenchmarkRender(b *testing.B) {
	objs := sharedobject.NewContainer("/chat/bench", nil, sharedobject.Options{})
	so, _ := objs.Get("chat", false, true)
	c := benchConn(&Handler{}, 0)
	so.Subscribe(c)
	pop(b, c)
	so.SetAttribute("", "message", amf.Obj("id", "ws0-1", "from", "alice", "text", "hello, everyone in the room", "time", 1.7e12))
	pop(b, c)
	d := lastDelivery(b, so)
	b.ReportAllocs()
	for b.Loop() {
		renderFor(d, "")
	}
}

// lastDelivery subscribes a recorder and captures a change delivery.
func lastDelivery(b *testing.B, so *sharedobject.SharedObject) *sharedobject.Delivery {
	r := &recorder{}
	so.Subscribe(r)
	so.SetAttribute("", "message", amf.Obj("id", "ws0-2", "from", "alice", "text", "hello, everyone in the room", "time", 1.7e12))
	so.Unsubscribe(r)
	if r.last == nil {
		b.Fatal("no delivery")
	}
	return r.last
}

type recorder struct{ last *sharedobject.Delivery }

func (r *recorder) ID() string                             { return "rec" }
func (r *recorder) AMF3() bool                             { return false }
func (r *recorder) Deliver(d *sharedobject.Delivery) error { r.last = d; return nil }
