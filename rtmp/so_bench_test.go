package rtmp

import (
	"fmt"
	"io"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/sharedobject"
)

// BenchmarkSOFanout changes a shared object with N subscribers, RTMP
// connections on loopback TCP sockets that a goroutine each reads out, one
// change per op, fanned out batch by batch (no merge window): each
// subscriber's batch goes to its socket with one direct non-blocking write
// (writeSODirect) while its writer is idle, through its writer otherwise.
// allocs/op are per change, whatever N is: the batch and its one encoding.
func BenchmarkSOFanout(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			srv := &Server{}
			ct := sharedobject.NewContainer("/bench", nil, sharedobject.Options{})
			defer ct.Close()
			so, err := ct.Get("chat", false, true)
			if err != nil {
				b.Fatal(err)
			}
			conns := make([]*Conn, n)
			readers := make(chan struct{}, n)
			for i := range conns {
				cc, sc := testutil.TCPPair(b)
				go func() { io.Copy(io.Discard, cc); readers <- struct{}{} }()
				c := newConn(srv, sc, "rtmp")
				c.w.init(c)
				c.writerStarted = true
				go c.writeLoop()
				if err := so.Subscribe(c); err != nil {
					b.Fatal(err)
				}
				conns[i] = c
			}
			defer func() {
				for _, c := range conns {
					c.Close(nil)
					<-c.writerDone
					c.nc.Close()
					<-readers
				}
			}()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := so.SetAttribute("", "msg", float64(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
			if so.Subscribers() != n {
				b.Fatalf("%d subscribers left of %d", so.Subscribers(), n)
			}
		})
	}
}
