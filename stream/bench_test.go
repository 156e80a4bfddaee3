package stream

import (
	"fmt"
	"testing"
)

// BenchmarkWrite measures one Write fanned out to N subscribers. Every
// subscriber is drained every 64 writes (inside the loop, so the cost of Pop is
// included, amortized), and its queue never overflows.
func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			s := New("bench", Config{QueueLen: 128})
			s.Publish(1)
			ch := make(chan struct{}, 1)
			subs := make([]*Subscriber, n)
			for i := range subs {
				subs[i] = s.Subscribe(ch)
			}
			// A 2 s GOP at 30 fps with audio: keyframe, then video and audio.
			ps := make([]*Packet, 100)
			for i := range ps {
				switch {
				case i == 0:
					ps[i] = NewPacket(KindVideo, uint32(i), cat(0x17, 1, make([]byte, 40000)))
				case i%2 == 1:
					ps[i] = NewPacket(KindAudio, uint32(i), cat(0xAF, 1, make([]byte, 300)))
				default:
					ps[i] = NewPacket(KindVideo, uint32(i), cat(0x27, 1, make([]byte, 4000)))
				}
			}
			buf := make([]*Packet, 0, 128)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				s.Write(ps[i%len(ps)])
				i++
				if i%64 == 0 {
					for _, sub := range subs {
						buf = sub.Pop(buf[:0])
					}
				}
			}
			b.StopTimer()
			if st := s.Stats(); st.Dropped != 0 {
				b.Fatalf("drops: %+v", st)
			}
		})
	}
}

func BenchmarkWireHit(b *testing.B) {
	p := NewPacket(KindVideo, 0, cat(0x17, 1, 0, 0, 0))
	enc := func(p *Packet) []byte { return append([]byte(nil), p.Payload...) }
	for k := uint64(0); k < wireSlots; k++ {
		p.Wire(k, enc)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Wire(wireSlots-1, enc) // the last slot: the longest scan
	}
}

func BenchmarkNewPacket(b *testing.B) {
	payload := cat(0x91, "hvc1", 0, 0, 0, 0x26)
	b.ReportAllocs()
	for b.Loop() {
		_ = NewPacket(KindVideo, 0, payload)
	}
}

// BenchmarkSubscribe measures a join with a full instant-start snapshot.
func BenchmarkSubscribe(b *testing.B) {
	s := New("bench", Config{})
	s.Publish(1)
	s.Write(pMeta(0))
	s.Write(pVHdr(0))
	s.Write(pAHdr(0))
	s.Write(pKey(1))
	for i := uint32(2); i < 120; i++ {
		s.Write(pInter(i))
	}
	ch := make(chan struct{}, 1)
	b.ReportAllocs()
	for b.Loop() {
		s.Unsubscribe(s.Subscribe(ch))
	}
}
