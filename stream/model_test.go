package stream

import (
	"testing"
	"time"
)

// The stream model check: a byte string drives a sequence of operations on one
// stream (writes of every kind, publish and unpublish, subscribe, pops of
// various sizes, unsubscribe, clock steps); afterwards every subscriber's
// deliveries are checked against what was offered to it.

type modelSub struct {
	sub      *Subscriber
	snapshot []*Packet
	offered  []*Packet // offered after the snapshot
	received []*Packet // popped after the snapshot
}

// streamCases seeds FuzzStream and its corpus; TestStreamModel runs them.
var streamCases = []struct {
	name string
	ops  []byte
}{
	{"empty", nil},
	{"subscribe publish write", []byte{4, 6, 0, 8, 0, 0, 5, 0, 3, 1, 0, 2, 0, 3, 5, 0, 9}},
	{"overflow skip", []byte{2, 8, 0, 6, 0, 6, 0, 0, 5, 0, 6, 0, 0, 1, 0, 3, 0, 4, 0, 1, 0, 2, 0, 0, 0, 1, 5, 1, 9, 5, 0, 9}},
	{"slow disconnect", []byte{2, 8, 0, 6, 0, 0, 0, 0, 1, 0, 1, 0, 1, 9, 50, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 9, 50, 0, 1, 0, 1, 0, 1}},
	{"republish", []byte{3, 6, 0, 8, 0, 0, 5, 0, 0, 8, 0, 8, 0, 0, 6, 0, 0, 5, 1, 9, 8, 0, 0, 3}},
	{"audio only", []byte{3, 8, 0, 6, 0, 0, 6, 0, 3, 0, 3, 0, 3, 0, 4, 0, 3, 5, 0, 9}},
	{"late joiners", []byte{6, 8, 0, 0, 7, 0, 5, 0, 6, 0, 0, 0, 1, 0, 3, 6, 0, 0, 2, 6, 0, 7, 1, 0, 0, 6, 0, 5, 2, 2}},
	{"regress resume needs keyframe", []byte("$02Z1010820202027202027")}, // a crasher the fuzzer found
}

func TestStreamModel(t *testing.T) {
	for _, c := range streamCases {
		t.Run(c.name, func(t *testing.T) { runModel(t, c.ops) })
	}
}

func FuzzStream(f *testing.F) {
	for _, c := range streamCases {
		f.Add(c.ops)
	}
	f.Fuzz(runModel)
}

func runModel(t *testing.T, ops []byte) {
	if len(ops) > 4096 {
		return
	}
	next := func() byte {
		if len(ops) == 0 {
			return 0
		}
		b := ops[0]
		ops = ops[1:]
		return b
	}
	qlen := int(next()%8) + 2
	s, clock := newTestStream(Config{QueueLen: qlen, GOPMaxPackets: 6, MaxLag: time.Second})
	ch := make(chan struct{}, 1)
	var subs []*modelSub
	publishing := false
	owner := new(int)
	var videos = map[*Packet]int{} // accepted non-header video, in write order
	seq := uint32(0)
	offer := func(p *Packet) {
		for _, m := range subs {
			m.offered = append(m.offered, p)
		}
	}
	for len(ops) > 0 {
		switch op := next() % 10; op {
		case 0, 1, 2, 3, 4:
			seq++
			var p *Packet
			switch next() % 9 {
			case 0:
				p = pKey(seq)
			case 1, 2:
				p = pInter(seq)
			case 3, 4:
				p = pAudio(seq)
			case 5:
				p = pVHdr(seq)
			case 6:
				p = pAHdr(seq)
			case 7:
				p = pMeta(seq)
			case 8:
				p = NewPacket(KindData, seq, cat(0x02, 0, 10, "onCuePoint"))
			}
			s.Write(p)
			if publishing {
				if p.Kind == KindVideo && !p.Header {
					videos[p] = len(videos)
				}
				offer(p)
			}
		case 5:
			if len(subs) > 0 {
				m := subs[int(next())%len(subs)]
				buf := m.sub.Pop(make([]*Packet, 0, int(next()%8)+1))
				m.received = append(m.received, buf...)
				if n := m.sub.Len(); n > qlen {
					t.Fatalf("queue %d > %d", n, qlen)
				}
			}
		case 6:
			if len(subs) < 5 {
				sub := s.Subscribe(ch)
				snap := sub.Pop(make([]*Packet, 0, qlen))
				checkSnapshot(t, snap)
				subs = append(subs, &modelSub{sub: sub, snapshot: snap})
			}
		case 7:
			if len(subs) > 0 {
				i := int(next()) % len(subs)
				m := subs[i]
				s.Unsubscribe(m.sub)
				m.received = append(m.received, m.sub.Pop(make([]*Packet, 0, 4))...)
				checkSub(t, m, videos)
				subs = append(subs[:i], subs[i+1:]...)
			}
		case 8:
			if publishing {
				if err := s.Unpublish(owner); err != nil {
					t.Fatal(err)
				}
				offer(publishStopPacket)
			} else {
				if err := s.Publish(owner); err != nil {
					t.Fatal(err)
				}
				offer(publishStartPacket)
			}
			publishing = !publishing
		case 9:
			clock.advance(time.Duration(next()) * 100 * time.Millisecond)
		}
		live := 0
		for _, m := range subs {
			if m.sub.Err() == nil {
				live++
			}
		}
		if s.NumSubscribers() != live {
			t.Fatalf("NumSubscribers %d, live %d", s.NumSubscribers(), live)
		}
	}
	var dropped uint64
	for _, m := range subs {
		m.received = append(m.received, drain(m.sub)...)
		checkSub(t, m, videos)
		dropped += m.sub.Dropped()
	}
	if st := s.Stats(); st.Dropped < dropped {
		t.Fatalf("stream dropped %d < subscribers' %d", st.Dropped, dropped)
	}
}

// checkSnapshot: at most one metadata, then headers, then a GOP that starts
// with a keyframe.
func checkSnapshot(t *testing.T, snap []*Packet) {
	t.Helper()
	i := 0
	if i < len(snap) && isMetadata(snap[i]) {
		i++
	}
	for i < len(snap) && snap[i].Header {
		i++
	}
	if i < len(snap) && !snap[i].Keyframe {
		t.Fatalf("snapshot GOP starts with %s: %s", desc(snap[i]), descs(snap))
	}
}

func checkSub(t *testing.T, m *modelSub, videos map[*Packet]int) {
	t.Helper()
	closed := m.sub.Err() != nil
	// Deliveries are a subsequence of the offers; every skipped offer is droppable.
	j, skipped := 0, 0
	for _, p := range m.offered {
		if j < len(m.received) && m.received[j] == p {
			j++
			continue
		}
		if !closed && (p.Kind.IsEvent() || p.Header || isMetadata(p)) { // independent of droppable
			t.Fatalf("lost %s; offered %s; received %s", desc(p), descs(m.offered), descs(m.received))
		}
		skipped++
	}
	if j != len(m.received) {
		t.Fatalf("received %s not in order of offers %s", descs(m.received), descs(m.offered))
	}
	if !closed && uint64(skipped) > m.sub.Dropped() {
		// Dropped also counts snapshot media discarded at an overflow.
		t.Fatalf("skipped %d, Dropped %d", skipped, m.sub.Dropped())
	}
	// After a gap in the video, the first video is a keyframe.
	last := -1
	for _, p := range append(append([]*Packet{}, m.snapshot...), m.received...) {
		if p.Kind == KindPublishStart {
			last = -1
			continue
		}
		idx, ok := videos[p]
		if !ok {
			continue
		}
		if last >= 0 && idx != last+1 && !p.Keyframe {
			t.Fatalf("video gap before %s (index %d after %d): %s", desc(p), idx, last, descs(m.received))
		}
		last = idx
	}
}
