package httpflv

import (
	"fmt"
	"net"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/stream"
)

// benchPlayer is a reader as serve sets it up, writing to nc.
func benchPlayer(h *Handler, st *stream.Stream, mode int, nc net.Conn) *player {
	p := &player{h: h, id: "bench", notify: make(chan struct{}, 1), done: make(chan struct{}), mode: mode, nc: nc, st: st}
	p.timeout = DefaultWriteTimeout
	p.pending = make([]*stream.Packet, 0, maxPending)
	p.pkts = make([]*stream.Packet, 0, roundMax)
	p.segs = make([][]byte, 1, roundMax+maxPending+3)
	p.sub = st.Subscribe(p.notify)
	return p
}

// BenchmarkFanout publishes one 10 KB video frame per op to N readers: the
// stream's offer to every queue, then each reader's writer round (pop, the
// shared FLV tag via Packet.Wire, framing, vectored write). allocs/op are per
// frame, whatever N is: the packet and its one tag encoding.
func BenchmarkFanout(b *testing.B) {
	for _, mode := range []struct {
		name string
		m    int
	}{{"http", modeChunked}, {"ws", modeWS}} {
		for _, n := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/readers=%d", mode.name, n), func(b *testing.B) {
				st := stream.New("bench", stream.Config{QueueLen: 512})
				owner := new(int)
				if err := st.Publish(owner); err != nil {
					b.Fatal(err)
				}
				h := &Handler{}
				ps := make([]*player, n)
				for i := range ps {
					ps[i] = benchPlayer(h, st, mode.m, testutil.DiscardConn{})
				}
				payload := make([]byte, 10_000)
				payload[0], payload[1] = 0x27, 1
				key := append([]byte{0x17, 1}, payload[2:]...)
				st.Write(stream.NewPacket(stream.KindVideo, 0, key))
				var ts uint32
				round := func() {
					for _, p := range ps {
						p.pump()
						if len(p.segs) > 1 {
							if err := p.flush(); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
				round() // the FLV header and the keyframe
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					ts += 40
					st.Write(stream.NewPacket(stream.KindVideo, ts, payload))
					round()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
				var out uint64
				for _, p := range ps {
					out += p.BytesOut()
				}
				if want := uint64(b.N) * uint64(n) * uint64(len(payload)); out < want {
					b.Fatalf("%d bytes delivered, want at least %d", out, want)
				}
			})
		}
	}
}
