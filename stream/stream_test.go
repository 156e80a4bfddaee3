package stream

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Test packets. The timestamp doubles as a sequence number.
func pMeta(ts uint32) *Packet {
	return NewPacket(KindData, ts, cat(0x02, 0, 10, "onMetaData", 0x08, 0, 0, 0, 0, 0, 0, 9))
}
func pVHdr(ts uint32) *Packet  { return NewPacket(KindVideo, ts, cat(0x17, 0, 0, 0, 0, 1, 0x64)) }
func pAHdr(ts uint32) *Packet  { return NewPacket(KindAudio, ts, cat(0xAF, 0, 0x12, 0x10)) }
func pKey(ts uint32) *Packet   { return NewPacket(KindVideo, ts, cat(0x17, 1, 0, 0, 0, 0x65)) }
func pInter(ts uint32) *Packet { return NewPacket(KindVideo, ts, cat(0x27, 1, 0, 0, 0, 0x41)) }
func pAudio(ts uint32) *Packet { return NewPacket(KindAudio, ts, cat(0xAF, 1, 0x21)) }

// fakeClock is an injectable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestStream(cfg Config) (*Stream, *fakeClock) {
	s := New("test", cfg)
	c := &fakeClock{t: time.Unix(1000, 0)}
	s.now = c.now
	return s, c
}

func drain(sub *Subscriber) []*Packet {
	var out []*Packet
	buf := make([]*Packet, 0, 7) // odd size: exercises partial pops and wrap-around
	for {
		buf = sub.Pop(buf[:0])
		if len(buf) == 0 {
			return out
		}
		out = append(out, buf...)
	}
}

func desc(p *Packet) string {
	switch {
	case p.Kind == KindPublishStart:
		return "start"
	case p.Kind == KindPublishStop:
		return "stop"
	case isMetadata(p):
		return fmt.Sprintf("meta%d", p.Timestamp)
	case p.Header && p.Kind == KindVideo:
		return fmt.Sprintf("vh%d", p.Timestamp)
	case p.Header:
		return fmt.Sprintf("ah%d", p.Timestamp)
	case p.Keyframe:
		return fmt.Sprintf("K%d", p.Timestamp)
	case p.Kind == KindVideo:
		return fmt.Sprintf("v%d", p.Timestamp)
	case p.Kind == KindAudio:
		return fmt.Sprintf("a%d", p.Timestamp)
	}
	return fmt.Sprintf("d%d", p.Timestamp)
}

func descs(ps []*Packet) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += " "
		}
		s += desc(p)
	}
	return s
}

func expect(t *testing.T, sub *Subscriber, want string) {
	t.Helper()
	if got := descs(drain(sub)); got != want {
		t.Fatalf("queue:\n got %q\nwant %q", got, want)
	}
}

func notified(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestInstantStart(t *testing.T) {
	s, _ := newTestStream(Config{})
	owner := new(int)
	if err := s.Publish(owner); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Packet{pMeta(0), pVHdr(0), pAHdr(0), pKey(1), pAudio(2), pInter(3), pAudio(4), pKey(5), pInter(6), pAudio(7)} {
		s.Write(p)
	}
	if m := s.Metadata(); m == nil || m.Timestamp != 0 {
		t.Fatal("metadata not cached")
	}
	ch := make(chan struct{}, 1)
	sub := s.Subscribe(ch)
	if !notified(ch) {
		t.Fatal("snapshot did not notify")
	}
	expect(t, sub, "meta0 vh0 ah0 K5 v6 a7")
	s.Write(pInter(8))
	if !notified(ch) {
		t.Fatal("no notify on empty to non-empty")
	}
	s.Write(pAudio(9))
	expect(t, sub, "v8 a9")

	st := s.Stats()
	if !st.Publishing || st.Subscribers != 1 || st.PacketsIn != 12 || st.GOPPackets != 5 ||
		st.VideoCodec != 7 || st.AudioCodec != 10 || st.LastVideoTS != 8 || st.LastAudioTS != 9 {
		t.Fatalf("stats %+v", st)
	}
	// A new header replaces the cached one and restarts the GOP at the next keyframe.
	s.Write(pMeta(10))
	s.Write(pVHdr(11))
	s.Write(pInter(12))
	sub2 := s.Subscribe(ch)
	expect(t, sub2, "meta10 vh11 ah0")
	if !sub2.Skipping() {
		t.Fatal("no GOP: should wait for a keyframe")
	}
	s.Write(pAudio(13))
	s.Write(pInter(14))
	s.Write(pKey(15))
	s.Write(pAudio(16))
	expect(t, sub2, "K15 a16")
	if sub2.Dropped() != 2 {
		t.Fatalf("dropped %d", sub2.Dropped())
	}
	expect(t, sub, "meta10 vh11 v12 a13 v14 K15 a16")
}

func TestSubscribeBeforeFirstKeyframe(t *testing.T) {
	s, _ := newTestStream(Config{})
	s.Publish(1)
	ch := make(chan struct{}, 1)
	sub := s.Subscribe(ch)
	expect(t, sub, "")
	s.Write(pVHdr(0))
	s.Write(pInter(1)) // a publisher that starts mid-GOP
	s.Write(pKey(2))
	expect(t, sub, "vh0 K2")
}

func TestAudioOnlyInstantStart(t *testing.T) {
	s, _ := newTestStream(Config{})
	s.Publish(1)
	s.Write(pAHdr(0))
	s.Write(pAudio(1))
	sub := s.Subscribe(make(chan struct{}, 1))
	s.Write(pAudio(2))
	expect(t, sub, "ah0 a2")
}

func TestGOPBound(t *testing.T) {
	for _, cfg := range []Config{{GOPMaxPackets: 4}, {GOPMaxBytes: 4 * 6}} {
		s, _ := newTestStream(cfg)
		s.Publish(1)
		s.Write(pKey(0))
		s.Write(pInter(1))
		s.Write(pInter(2))
		s.Write(pInter(3))
		if st := s.Stats(); st.GOPPackets != 4 || st.GOPBytes != 24 {
			t.Fatalf("%+v: stats %+v", cfg, st)
		}
		s.Write(pInter(4)) // over the bound: dropped until the next keyframe
		s.Write(pInter(5))
		if st := s.Stats(); st.GOPPackets != 0 {
			t.Fatalf("%+v: GOP kept over bound: %+v", cfg, st)
		}
		sub := s.Subscribe(make(chan struct{}, 1))
		s.Write(pInter(6))
		s.Write(pKey(7))
		s.Write(pInter(8))
		expect(t, sub, "K7 v8")
		if st := s.Stats(); st.GOPPackets != 2 {
			t.Fatalf("%+v: GOP not restarted: %+v", cfg, st)
		}
		sub2 := s.Subscribe(make(chan struct{}, 1))
		expect(t, sub2, "K7 v8")
	}
}

func TestGOPLargerThanQueue(t *testing.T) {
	s, _ := newTestStream(Config{QueueLen: 8})
	s.Publish(1)
	s.Write(pVHdr(0))
	s.Write(pKey(1))
	for i := uint32(2); i < 8; i++ {
		s.Write(pInter(i)) // GOP of 7 > 3/4 of 8
	}
	sub := s.Subscribe(make(chan struct{}, 1))
	expect(t, sub, "vh0")
	s.Write(pInter(8))
	s.Write(pKey(9))
	expect(t, sub, "K9")
}

func TestPublishEvents(t *testing.T) {
	s, _ := newTestStream(Config{})
	ch := make(chan struct{}, 1)
	sub := s.Subscribe(ch)
	if s.Publisher() != nil || s.NumSubscribers() != 1 {
		t.Fatal("fresh stream")
	}
	expect(t, sub, "")
	s.Write(pKey(0)) // nobody publishes: ignored
	if st := s.Stats(); st.IgnoredWrites != 1 || st.PacketsIn != 0 || st.Publishing {
		t.Fatalf("stats %+v", st)
	}
	a, b := new(int), new(int)
	if err := s.Publish(a); err != nil {
		t.Fatal(err)
	}
	if !notified(ch) {
		t.Fatal("publish start did not notify")
	}
	if err := s.Publish(a); err != nil {
		t.Fatalf("re-publish by the same owner: %v", err)
	}
	if err := s.Publish(b); !errors.Is(err, ErrPublishing) {
		t.Fatalf("second publisher: %v", err)
	}
	if err := s.Unpublish(b); !errors.Is(err, ErrNotPublisher) {
		t.Fatalf("unpublish by another: %v", err)
	}
	if s.Publisher() != a {
		t.Fatal("publisher")
	}
	s.Write(pMeta(1))
	s.Write(pVHdr(1))
	s.Write(pKey(2))
	if err := s.Unpublish(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Unpublish(a); !errors.Is(err, ErrNotPublisher) {
		t.Fatalf("double unpublish: %v", err)
	}
	s.Write(pInter(3)) // late packet after unpublish: ignored
	if s.Metadata() != nil || s.Stats().GOPPackets != 0 || s.Publisher() != nil {
		t.Fatal("caches not cleared")
	}
	late := s.Subscribe(ch)
	if err := s.Publish(b); err != nil {
		t.Fatal(err)
	}
	s.Write(pVHdr(10))
	s.Write(pKey(11))
	if err := s.Unpublish(b); err != nil {
		t.Fatal(err)
	}
	expect(t, sub, "start meta1 vh1 K2 stop start vh10 K11 stop")
	expect(t, late, "start vh10 K11 stop")
	if st := s.Stats(); st.VideoCodec != 0 || st.IgnoredWrites != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCloseAndUnsubscribe(t *testing.T) {
	s, _ := newTestStream(Config{})
	s.Publish(1)
	ch1, ch2 := make(chan struct{}, 1), make(chan struct{}, 1)
	sub1, sub2 := s.Subscribe(ch1), s.Subscribe(ch2)
	s.Write(pKey(0))
	notified(ch1)
	notified(ch2)
	s.Unsubscribe(sub2)
	s.Unsubscribe(sub2)
	if !errors.Is(sub2.Err(), ErrClosed) || s.NumSubscribers() != 1 || len(sub2.Pop(make([]*Packet, 0, 4))) != 0 {
		t.Fatal("unsubscribe")
	}
	s.Close()
	s.Close()
	if !notified(ch1) || !errors.Is(sub1.Err(), ErrClosed) || len(sub1.Pop(make([]*Packet, 0, 4))) != 0 {
		t.Fatal("close did not end the subscriber")
	}
	if s.NumSubscribers() != 0 || s.Publisher() != nil {
		t.Fatal("state after close")
	}
	if err := s.Publish(2); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	late := s.Subscribe(ch2)
	if !notified(ch2) || !errors.Is(late.Err(), ErrClosed) {
		t.Fatal("subscribe after close")
	}
	s.Write(pKey(1))
	s.Unsubscribe(late)
	other := New("other", Config{})
	other.Unsubscribe(sub1) // foreign subscriber: ignored
}

func TestPopResignals(t *testing.T) {
	s, _ := newTestStream(Config{})
	s.Publish(1)
	ch := make(chan struct{}, 1)
	sub := s.Subscribe(ch)
	for i := uint32(0); i < 5; i++ {
		s.Write(pAudio(i))
	}
	if !notified(ch) || notified(ch) {
		t.Fatal("want exactly one pending notification")
	}
	buf := sub.Pop(make([]*Packet, 0, 2))
	if len(buf) != 2 || !notified(ch) {
		t.Fatal("partial pop must re-signal")
	}
	buf = sub.Pop(make([]*Packet, 1, 4)) // appends after existing elements
	if len(buf) != 4 || buf[1].Timestamp != 2 || sub.Len() != 0 || notified(ch) {
		t.Fatalf("pop %d, len %d", len(buf), sub.Len())
	}
}

func TestBadArguments(t *testing.T) {
	s := New("x", Config{})
	for name, f := range map[string]func(){
		"nil notify": func() { s.Subscribe(nil) },
		"unbuffered": func() { s.Subscribe(make(chan struct{})) },
		"nil owner":  func() { s.Publish(nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestDefaults(t *testing.T) {
	if got := New("x", Config{}).Config(); got != DefaultConfig {
		t.Fatalf("%+v", got)
	}
	if got := New("x", Config{QueueLen: 3, MaxLag: -1}).Config(); got.QueueLen != 3 || got.MaxLag != -1 {
		t.Fatalf("%+v", got)
	}
}

// TestSlowSubscriber: a subscriber never drained does not affect a drained one;
// it is skipped to keyframes, counted, and finally disconnected.
func TestSlowSubscriber(t *testing.T) {
	s, clock := newTestStream(Config{QueueLen: 16, MaxLag: 5 * time.Second})
	s.Publish(1)
	fastCh, slowCh := make(chan struct{}, 1), make(chan struct{}, 1)
	fast, slow := s.Subscribe(fastCh), s.Subscribe(slowCh)
	var got []*Packet
	var written []*Packet
	write := func(p *Packet) {
		written = append(written, p)
		s.Write(p)
		got = append(got, drain(fast)...)
	}
	write(pVHdr(0))
	write(pAHdr(0))
	seq := uint32(1)
	gop := func() { // keyframe, then 9 packets
		write(pKey(seq))
		seq++
		for i := 0; i < 9; i++ {
			if i%2 == 0 {
				write(pAudio(seq))
			} else {
				write(pInter(seq))
			}
			seq++
		}
	}
	gop() // 12 queued for slow
	if slow.Skipping() || slow.Dropped() != 0 {
		t.Fatal("early skip")
	}
	gop() // overflows at the 17th item
	if !slow.Skipping() || slow.Dropped() == 0 {
		t.Fatalf("skipping %v dropped %d", slow.Skipping(), slow.Dropped())
	}
	gop() // keyframe ends the skip
	if slow.Skipping() {
		t.Fatal("keyframe did not end the skip")
	}
	// Peek without catching up: headers kept, then the keyframe.
	buf := slow.Pop(make([]*Packet, 0, 3))
	if descs(buf) != "vh0 ah0 K21" {
		t.Fatalf("after skip: %q", descs(buf))
	}
	clock.advance(6 * time.Second)
	gop() // overflows again, still behind, more than MaxLag later
	if !errors.Is(slow.Err(), ErrSlowConsumer) || !notified(slowCh) {
		t.Fatalf("slow consumer not disconnected: %v", slow.Err())
	}
	if len(slow.Pop(make([]*Packet, 0, 4))) != 0 {
		t.Fatal("pop after disconnect")
	}
	if s.NumSubscribers() != 1 {
		t.Fatal("slow subscriber not removed")
	}
	s.Unsubscribe(slow) // what its connection does; a no-op now
	gop()
	if descs(got) != descs(written) {
		t.Fatalf("fast subscriber lost packets:\n got %s\nwant %s", descs(got), descs(written))
	}
	if fast.Dropped() != 0 || fast.Err() != nil {
		t.Fatal("fast subscriber affected")
	}
	st := s.Stats()
	if st.SlowDisconnects != 1 || st.Dropped != slow.Dropped() || st.Dropped == 0 {
		t.Fatalf("stats %+v, slow dropped %d", st, slow.Dropped())
	}
}

// A subscriber that overflows once and then catches up starts a new lag
// episode at its next overflow instead of being disconnected.
func TestSlowSubscriberCatchesUp(t *testing.T) {
	s, clock := newTestStream(Config{QueueLen: 8, MaxLag: time.Second})
	s.Publish(1)
	sub := s.Subscribe(make(chan struct{}, 1))
	s.Write(pVHdr(0))
	seq := uint32(1)
	for i := 0; i < 10; i++ { // overflow
		s.Write(pInter(seq))
		seq++
	}
	if !sub.Skipping() {
		t.Fatal("no overflow")
	}
	s.Write(pKey(seq))
	seq++
	expect(t, sub, fmt.Sprintf("vh0 K%d", seq-1)) // caught up
	clock.advance(time.Hour)
	for i := 0; i < 10; i++ {
		s.Write(pInter(seq))
		seq++
	}
	if sub.Err() != nil || !sub.Skipping() {
		t.Fatalf("caught-up subscriber: err %v skipping %v", sub.Err(), sub.Skipping())
	}
	// Never drained from here: the next overflow past MaxLag disconnects it.
	s.Write(pKey(seq))
	seq++
	clock.advance(2 * time.Second)
	for i := 0; i < 10; i++ {
		s.Write(pInter(seq))
		seq++
	}
	if !errors.Is(sub.Err(), ErrSlowConsumer) {
		t.Fatalf("err %v", sub.Err())
	}
}

// Events and headers survive overflow, in order.
func TestOverflowKeepsEventsAndHeaders(t *testing.T) {
	s, _ := newTestStream(Config{QueueLen: 4, MaxLag: -1})
	s.Publish(1)
	sub := s.Subscribe(make(chan struct{}, 1))
	s.Write(pKey(1))
	s.Write(pInter(2))
	s.Write(pAudio(3))
	s.Write(pAHdr(4))
	s.Write(pVHdr(5)) // overflow: K1 v2 a3 discarded
	s.Write(pInter(6))
	s.Write(pMeta(7))
	s.Unpublish(1)
	expect(t, sub, "ah4 vh5 meta7 stop")
	if sub.Dropped() != 4 {
		t.Fatalf("dropped %d", sub.Dropped())
	}
	// A queue full of items that must not be dropped: disconnected.
	for i := 0; i < 3; i++ {
		s.Publish(1)
		s.Unpublish(1)
	}
	if !errors.Is(sub.Err(), ErrSlowConsumer) {
		t.Fatalf("err %v", sub.Err())
	}
}

func TestAudioOnlySkip(t *testing.T) {
	s, _ := newTestStream(Config{QueueLen: 4, MaxLag: -1})
	s.Publish(1)
	sub := s.Subscribe(make(chan struct{}, 1))
	s.Write(pAHdr(0))
	for i := uint32(1); i <= 5; i++ {
		s.Write(pAudio(i)) // a4 overflows: a1..a3 discarded, a4 resumes
	}
	expect(t, sub, "ah0 a4 a5")
	if sub.Dropped() != 3 || sub.Skipping() {
		t.Fatalf("dropped %d skipping %v", sub.Dropped(), sub.Skipping())
	}
}

func TestMultitrackHeaders(t *testing.T) {
	s, _ := newTestStream(Config{})
	s.Publish(1)
	t0 := NewPacket(KindVideo, 0, cat(0x96, 0x00, "hvc1", 0, 1))
	t1 := NewPacket(KindVideo, 1, cat(0x96, 0x00, "av01", 1, 2))
	t0again := NewPacket(KindVideo, 2, cat(0x96, 0x00, "hvc1", 0, 1))
	for _, p := range []*Packet{t0, t1, t0again} {
		if !p.Header {
			t.Fatal("not a header")
		}
		s.Write(p)
	}
	expect(t, s.Subscribe(make(chan struct{}, 1)), "vh2 vh1")
	for i := 0; i < maxHeaders+2; i++ {
		s.Write(NewPacket(KindVideo, uint32(10+i), cat(0x96, 0x00, "hvc1", byte(i), 1)))
	}
	if got := drain(s.Subscribe(make(chan struct{}, 1))); len(got) != maxHeaders || got[0].Timestamp != 12 {
		t.Fatalf("bounded multitrack headers: %s", descs(got))
	}
	s.Write(pVHdr(50)) // a single-track header replaces them all
	expect(t, s.Subscribe(make(chan struct{}, 1)), "vh50")
}

// TestExactlyOnceConcurrentSubscribe: subscribers join while the publisher
// writes; each must see its snapshot and then every later packet exactly once.
func TestExactlyOnceConcurrentSubscribe(t *testing.T) {
	const n = 3000
	s := New("race", Config{QueueLen: n + 64, GOPMaxPackets: n})
	owner := new(int)
	s.Publish(owner)
	packets := make([]*Packet, n)
	packets[0] = pVHdr(0)
	for i := 1; i < n; i++ {
		switch {
		case i%25 == 1:
			packets[i] = pKey(uint32(i))
		case i%2 == 0:
			packets[i] = pAudio(uint32(i))
		default:
			packets[i] = pInter(uint32(i))
		}
	}
	const subs = 40
	var wg, subscribed sync.WaitGroup
	subscribed.Add(subs)
	wg.Go(func() {
		for _, p := range packets {
			s.Write(p)
		}
		subscribed.Wait() // then every subscriber gets the stop
		s.Unpublish(owner)
	})
	results := make([][]*Packet, subs)
	for i := range subs {
		wg.Go(func() {
			ch := make(chan struct{}, 1)
			sub := s.Subscribe(ch)
			subscribed.Done()
			buf := make([]*Packet, 0, 16)
			deadline := time.After(20 * time.Second)
			for {
				select {
				case <-ch:
				case <-deadline:
					t.Errorf("sub %d: timed out", i)
					return
				}
				buf = sub.Pop(buf[:0])
				results[i] = append(results[i], buf...)
				if len(buf) > 0 && buf[len(buf)-1].Kind == KindPublishStop {
					return
				}
			}
		})
	}
	wg.Wait()
	midStream := 0
	for i, got := range results {
		if len(got) == 0 || got[len(got)-1].Kind != KindPublishStop {
			t.Fatalf("sub %d: no stop: %s", i, descs(got))
		}
		got = got[:len(got)-1]
		media := got
		for len(media) > 0 && media[0].Header {
			media = media[1:]
		}
		if len(media) == 0 {
			continue // joined after the last packet
		}
		if media[0].Timestamp > 1 {
			midStream++
		}
		if !media[0].Keyframe {
			t.Fatalf("sub %d: first media %s is not a keyframe", i, desc(media[0]))
		}
		for j := 1; j < len(media); j++ {
			if media[j].Timestamp != media[j-1].Timestamp+1 {
				t.Fatalf("sub %d: %s after %s", i, desc(media[j]), desc(media[j-1]))
			}
		}
		if last := media[len(media)-1].Timestamp; last != n-1 {
			t.Fatalf("sub %d: last %d", i, last)
		}
	}
	t.Logf("%d of %d subscribers joined mid-stream", midStream, subs)
}

// TestConcurrentChurn exercises every entry point at once under -race, with
// small queues so that skipping and disconnection happen.
func TestConcurrentChurn(t *testing.T) {
	s := New("churn", Config{QueueLen: 8, MaxLag: time.Nanosecond})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		owner := new(int)
		for round := 0; round < 20; round++ {
			s.Publish(owner)
			s.Write(pMeta(0))
			s.Write(pVHdr(0))
			for i := uint32(1); i < 200; i++ {
				switch {
				case i%10 == 1:
					s.Write(pKey(i))
				case i%2 == 0:
					s.Write(pAudio(i))
				default:
					s.Write(pInter(i))
				}
			}
			s.Unpublish(owner)
		}
		close(stop)
	})
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			ch := make(chan struct{}, 1)
			buf := make([]*Packet, 0, 3)
			for {
				sub := s.Subscribe(ch)
				for k := 0; k < 50 && sub.Err() == nil; k++ {
					select {
					case <-stop:
						s.Unsubscribe(sub)
						return
					case <-ch:
					}
					if g%2 == 0 || k%3 == 0 {
						buf = sub.Pop(buf[:0])
					}
					_ = sub.Dropped()
				}
				_ = s.Stats()
				s.Unsubscribe(sub)
			}
		})
	}
	wg.Wait()
	// Every subscriber left, whether closed as slow, pruned or unsubscribed.
	if n, st := s.NumSubscribers(), s.Stats(); n != 0 || st.Subscribers != 0 || st.Publishing {
		t.Errorf("after the churn: %d subscribers, stats %+v", n, st)
	}
	s.Close()
}

func TestWriteZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	for _, n := range []int{1, 50} {
		s, _ := newTestStream(Config{QueueLen: 64})
		s.Publish(1)
		subs := make([]*Subscriber, n)
		ch := make(chan struct{}, 1)
		for i := range subs {
			subs[i] = s.Subscribe(ch)
		}
		ps := []*Packet{pKey(0), pAudio(1), pInter(2), pAudio(3), pInter(4)}
		buf := make([]*Packet, 0, 64)
		i := 0
		step := func() {
			s.Write(ps[i%len(ps)])
			i++
			if i%32 == 0 {
				for _, sub := range subs {
					buf = sub.Pop(buf[:0])
				}
			}
		}
		for range 200 {
			step() // warm up the GOP slice
		}
		if a := testing.AllocsPerRun(1000, step); a != 0 {
			t.Fatalf("subs=%d: %v allocs per Write", n, a)
		}
	}
}
