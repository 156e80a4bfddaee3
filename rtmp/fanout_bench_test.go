package rtmp

import (
	"fmt"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/stream"
)

// BenchmarkFanout publishes one 10 KB video frame per op to N players: the
// stream's offer to every queue, then each player's writer round (pop, shared
// chunk encoding via Packet.Wire, vectored write). allocs/op are per frame,
// whatever N is: the packet and its one encoding.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("players=%d", n), func(b *testing.B) {
			st := stream.New("bench", stream.Config{QueueLen: 512})
			owner := new(int)
			if err := st.Publish(owner); err != nil {
				b.Fatal(err)
			}
			srv := &Server{}
			conns := make([]*Conn, n)
			for i := range conns {
				c := newConn(srv, testutil.DiscardConn{}, "rtmp")
				c.w.init(c)
				c.w.chunkSize = DefaultChunkSize
				ps := &playSub{msid: 1, name: "bench", st: st, sub: st.Subscribe(c.notify)}
				c.apply(outItem{op: opAddSub, sub: ps})
				conns[i] = c
			}
			payload := make([]byte, 10_000)
			payload[0], payload[1] = 0x27, 1
			// Start at a keyframe, as a player does.
			key := append([]byte{0x17, 1}, payload[2:]...)
			st.Write(stream.NewPacket(stream.KindVideo, 0, key))
			var ts uint32
			b.ReportAllocs()
			for b.Loop() {
				ts += 40
				st.Write(stream.NewPacket(stream.KindVideo, ts, payload))
				for _, c := range conns {
					if err := c.pump(); err != nil {
						b.Fatal(err)
					}
					if err := c.flush(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
			var out uint64
			for _, c := range conns {
				out += c.BytesOut()
			}
			if want := uint64(b.N) * uint64(n) * uint64(len(payload)); out < want {
				b.Fatalf("%d bytes delivered, want at least %d", out, want)
			}
		})
	}
}
