package flv

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scopecast/scopecast/stream"
)

// media2M is one second of a synthetic 2 Mbit/s stream: 25 video frames
// (a 40 KB keyframe, then 7.5 KB frames) and 43 AAC frames of 370 bytes,
// interleaved by timestamp.
func media2M(sec int) []*stream.Packet {
	var ps []*stream.Packet
	v, a := 0, 0
	base := uint32(sec * 1000)
	for v < 25 || a < 43 {
		if a >= 43 || v < 25 && v*40 <= a*23 {
			d := synInter(7500)
			if v == 0 {
				d = synKey(40000)
			}
			ps = append(ps, stream.NewPacket(stream.KindVideo, base+uint32(v*40), d))
			v++
		} else {
			ps = append(ps, stream.NewPacket(stream.KindAudio, base+uint32(a*23), synAudio(370)))
			a++
		}
	}
	return ps
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkRecorder measures one recorder's sustained throughput: packets
// of a 2 Mbit/s stream written to a stream and recorded to a temp file. The
// CPU time per packet (publisher and recorder together) is the figure that
// does not depend on the machine's load; wall-clock rates do.
func BenchmarkRecorder(b *testing.B) {
	sec := media2M(0)
	var bytesPerSec int
	for _, p := range sec {
		bytesPerSec += len(p.Payload)
	}
	st := stream.New("bench", stream.Config{QueueLen: 8192})
	st.Publish(&owner{})
	st.Write(stream.NewPacket(stream.KindVideo, 0, synAVCHeader))
	r, err := StartRecorder(st, filepath.Join(b.TempDir(), "b.flv"), RecorderOptions{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(bytesPerSec / len(sec)))
	b.ReportAllocs()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		p := sec[n%len(sec)]
		st.Write(stream.NewPacket(p.Kind, uint32(n/len(sec)*1000)+p.Timestamp, p.Payload))
		n++
		if n%2048 == 0 { // sustained rate: do not run ahead of the writer
			for r.Stats().Tags+4096 < uint64(n) {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	if err := r.Stop(); err != nil {
		b.Fatal(err)
	}
	if d := r.Stats().Dropped; d > 0 {
		b.Errorf("%d packets dropped", d)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/packet")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecorders20 runs 20 recordings of 2 Mbit/s streams at once, each
// publisher pacing its packets in real time; an operation is one second.
// It reports the process CPU time per recording as a share of one core, the
// publishers' slowest Write, and fails if anything is dropped. Run it with
// -benchtime=10x.
func BenchmarkRecorders20(b *testing.B) {
	const n = 20
	dir := b.TempDir()
	sts := make([]*stream.Stream, n)
	recs := make([]*Recorder, n)
	for i := range n {
		sts[i] = stream.New(fmt.Sprint("s", i), stream.Config{})
		sts[i].Publish(&owner{})
		sts[i].Write(stream.NewPacket(stream.KindVideo, 0, synAVCHeader))
		r, err := StartRecorder(sts[i], filepath.Join(dir, fmt.Sprint(i, ".flv")), RecorderOptions{Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = r
	}
	media := media2M(0)
	b.ReportAllocs()
	cpu0, wall0 := cpuTime(), time.Now()
	secs := 0
	var maxWrite time.Duration
	var mu sync.Mutex
	for b.Loop() {
		start := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var worst time.Duration
				offset := time.Duration(i) * time.Millisecond // publishers out of phase
				for _, p := range media {
					if d := time.Until(start.Add(offset + time.Duration(p.Timestamp)*time.Millisecond)); d > 0 {
						time.Sleep(d) // the publisher's real-time pace
					}
					q := stream.NewPacket(p.Kind, uint32(secs*1000)+p.Timestamp, p.Payload)
					t0 := time.Now()
					sts[i].Write(q)
					worst = max(worst, time.Since(t0))
				}
				mu.Lock()
				maxWrite = max(maxWrite, worst)
				mu.Unlock()
			}()
		}
		wg.Wait()
		if d := time.Until(start.Add(time.Second)); d > 0 {
			time.Sleep(d)
		}
		secs++
	}
	for _, r := range recs {
		if err := r.Stop(); err != nil {
			b.Fatal(err)
		}
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	var dropped uint64
	for _, r := range recs {
		dropped += r.Stats().Dropped
		if d := r.Stats().Duration; d < time.Duration(secs)*time.Second-100*time.Millisecond {
			b.Errorf("recorded %v of %d s", d, secs)
		}
	}
	if dropped > 0 {
		b.Errorf("%d packets dropped", dropped)
	}
	b.ReportMetric(float64(cpu)/float64(wall)/n*100, "%cpu/recording")
	b.ReportMetric(float64(maxWrite.Microseconds()), "max-write-µs")
}
