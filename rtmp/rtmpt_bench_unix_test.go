//go:build unix

package rtmp_test

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
)

// BenchmarkRTMPTPlayer: one real player (rtmpdump, out of process) of a
// synthetic 2 Mbit/s stream (25 fps × 10 kB video frames, published in
// process with rtmp/client at real time), over rtmp:// and over rtmpt://,
// next to no player at all. One op is one frame (40 ms: ns/op is the pace,
// not a cost). The figures are the process's CPU (server and in-process
// publisher; the player's own CPU is not counted) as a share of one core and
// per delivered MB; the difference to proto=none is the player's cost on the
// server. Run with -benchtime=250x (10 s each).
func BenchmarkRTMPTPlayer(b *testing.B) {
	dump := needTool(b, "rtmpdump")
	for _, proto := range []string{"none", "rtmp", "rtmpt"} {
		b.Run("proto="+proto, func(b *testing.B) {
			ts := startServer(b)
			rs := startRTMPT(b, ts)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pc, err := client.Dial(ctx, url(ts, "live"), client.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { pc.Close() })
			msid, err := pc.CreateStream(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := pc.Publish(ctx, msid, "bench", "live"); err != nil {
				b.Fatal(err)
			}
			go func() { // the client's replies queue would fill otherwise
				for {
					if _, err := pc.ReadMessage(); err != nil {
						return
					}
				}
			}()
			frame := make([]byte, 10_000)
			frame[0], frame[1] = 0x17, 1 // a keyframe to start on
			var tsMS uint32
			write := func() {
				tsMS += 40
				if err := pc.WriteMessage(&chunk.Message{TypeID: chunk.TypeVideo, StreamID: msid, Timestamp: tsMS, Payload: frame}); err != nil {
					b.Fatal(err)
				}
				frame[0] = 0x27
			}
			write()
			st := ts.waitPublishing(b, "/live", "bench")
			delivered := func() uint64 { return 0 }
			switch proto {
			case "rtmp", "rtmpt":
				u := url(ts, "live/bench")
				delivered = func() uint64 { _, out := ts.Srv.Bytes(); return out }
				if proto == "rtmpt" {
					u = rs.url("live/bench")
					delivered = func() uint64 { return rs.H.Stats().BytesOut.Load() }
				}
				cmd := exec.Command(dump, "-q", "--live", "-r", u, "-o", "/dev/null")
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() {
					cmd.Process.Kill()
					cmd.Wait()
				})
				waitFor(b, 10*time.Second, "the player", func() bool {
					write()
					time.Sleep(40 * time.Millisecond)
					return st.Stats().Subscribers == 1 && delivered() > 20_000
				})
			}
			polls0 := rs.H.Stats().Polls.Load() + rs.H.Stats().Sends.Load()
			tick := time.NewTicker(40 * time.Millisecond)
			defer tick.Stop()
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			d0 := delivered()
			start := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				<-tick.C
				write()
			}
			if proto != "none" {
				want := d0 + uint64(b.N)*uint64(len(frame))
				waitFor(b, 10*time.Second, "delivery", func() bool { return delivered() >= want })
			}
			elapsed := time.Since(start)
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "cpu-%")
			if mb := float64(delivered()-d0) / 1e6; mb > 0 {
				b.ReportMetric(cpu.Seconds()*1000/mb, "cpu-ms/MB")
				b.ReportMetric(mb*8/elapsed.Seconds(), "Mbit/s")
			}
			if proto == "rtmpt" {
				reqs := rs.H.Stats().Polls.Load() + rs.H.Stats().Sends.Load() - polls0
				b.ReportMetric(float64(reqs)/elapsed.Seconds(), "requests/s")
			}
		})
	}
}
