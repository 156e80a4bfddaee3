package flv

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopecast/scopecast/stream"
)

// fakeClock is a manual clock. It knows which Sleep calls are blocked, so a
// test can wait until the Source has done everything that was due.
type fakeClock struct {
	mu       sync.Mutex
	now      time.Time
	seq      uint64 // Sleep calls that blocked
	sleeping int
	timers   []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan struct{}
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(d time.Duration, wake, stop <-chan struct{}) bool {
	select {
	case <-stop:
		return false
	case <-wake:
		return true
	default:
	}
	ft := &fakeTimer{ch: make(chan struct{})}
	c.mu.Lock()
	c.seq++
	c.sleeping++
	if d > 0 {
		ft.at = c.now.Add(d)
		c.timers = append(c.timers, ft)
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.sleeping--
		for i, x := range c.timers {
			if x == ft {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
	}()
	select {
	case <-stop:
		return false
	case <-wake:
	case <-ft.ch:
	}
	return true
}

// advance moves the clock and fires the due timers; it returns how many.
func (c *fakeClock) advance(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	fired := 0
	kept := c.timers[:0]
	for _, ft := range c.timers {
		if !ft.at.After(c.now) {
			close(ft.ch)
			fired++
		} else {
			kept = append(kept, ft)
		}
	}
	c.timers = kept
	return fired
}

func (c *fakeClock) state() (uint64, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq, c.sleeping
}

// vod is a Source under test with its clock and a subscriber.
type vod struct {
	t   *testing.T
	clk *fakeClock
	src *Source
	sub *stream.Subscriber
	buf []*stream.Packet
}

// vodFile writes a 10 s file: onMetaData, AVC and AAC headers, video at 25
// fps with a keyframe every second, audio every 23 ms.
func vodFile(t *testing.T) *File {
	path := filepath.Join(t.TempDir(), "vod.flv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := NewWriter(f, Header{HasAudio: true, HasVideo: true})
	m, _ := encodeMetaSized(&amfObj{ECMA: true, Props: []amfProp{{"duration", 10.005}, {"filesize", 0.0}}}, 256)
	w.WriteTag(Tag{Type: TagScript, Data: m})
	w.WriteTag(Tag{Type: TagVideo, Data: synAVCHeader})
	w.WriteTag(Tag{Type: TagAudio, Data: synAACHeader})
	for _, p := range synPackets(0, 10000, 25)[3:] {
		w.WriteTag(Tag{Type: uint8(p.Kind), Timestamp: p.Timestamp, Data: p.Payload})
	}
	f.Close()
	file, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	return file
}

func newVOD(t *testing.T, file *File, opts SourceOptions) *vod {
	v := &vod{t: t, clk: newFakeClock(), buf: make([]*stream.Packet, 0, 256)}
	opts.clock = v.clk
	st := stream.New("vod", stream.Config{QueueLen: 4096})
	v.sub = st.Subscribe(make(chan struct{}, 1))
	v.src = NewSource(file, st, opts)
	v.act(v.src.Start)
	t.Cleanup(v.src.Stop)
	return v
}

// settle waits until the Source has blocked in a Sleep begun after seq0 with
// no wake-up pending: everything due has been written.
func (v *vod) settle(seq0 uint64) {
	v.t.Helper()
	waitFor(v.t, "the source to settle", func() bool {
		seq, sleeping := v.clk.state()
		return seq > seq0 && sleeping == 1 && len(v.src.wake) == 0
	})
}

func (v *vod) act(f func()) {
	v.t.Helper()
	seq0, _ := v.clk.state()
	f()
	v.settle(seq0)
}

func (v *vod) step(d time.Duration) {
	v.t.Helper()
	seq0, _ := v.clk.state()
	if v.clk.advance(d) > 0 {
		v.settle(seq0)
	}
}

func (v *vod) drain() []*stream.Packet {
	var out []*stream.Packet
	for {
		v.buf = v.sub.Pop(v.buf[:0])
		if len(v.buf) == 0 {
			return out
		}
		out = append(out, v.buf...)
	}
}

// media returns the media packets' timestamps and checks that they rise.
func media(t *testing.T, ps []*stream.Packet) (lo, hi uint32, n int) {
	t.Helper()
	lo = ^uint32(0)
	var last [2]uint32
	for _, p := range ps {
		if p.Kind != stream.KindAudio && p.Kind != stream.KindVideo || p.Header {
			continue
		}
		i := int(p.Kind - stream.KindAudio)
		if p.Timestamp < last[i] {
			t.Fatalf("kind %d went back from %d to %d", p.Kind, last[i], p.Timestamp)
		}
		last[i] = p.Timestamp
		lo, hi, n = min(lo, p.Timestamp), max(hi, p.Timestamp), n+1
	}
	return lo, hi, n
}

// startsPlayback checks the head of a playback: [PublishStart,] onMetaData,
// the two headers, then a keyframe at ts.
func startsPlayback(t *testing.T, ps []*stream.Packet, publish bool, ts uint32) {
	t.Helper()
	if publish {
		if len(ps) == 0 || ps[0].Kind != stream.KindPublishStart {
			t.Fatalf("no PublishStart first")
		}
		ps = ps[1:]
	}
	if len(ps) < 4 || ps[0].Kind != stream.KindData || !isMetaPayload(ps[0].Payload) || ps[0].Timestamp != ts ||
		ps[1].Kind != stream.KindVideo || !ps[1].Header || ps[2].Kind != stream.KindAudio || !ps[2].Header {
		t.Fatalf("playback does not start with metadata and headers at %d", ts)
	}
	for _, p := range ps[3:] {
		if p.Kind == stream.KindVideo {
			if !p.Keyframe || p.Timestamp != ts {
				t.Fatalf("first video frame: key %v at %d, want a keyframe at %d", p.Keyframe, p.Timestamp, ts)
			}
			return
		}
	}
	t.Fatal("no video")
}

func TestOpenFileIndex(t *testing.T) {
	f := vodFile(t)
	if f.Duration() != 10005*time.Millisecond || len(f.Keyframes()) != 10 || f.Keyframes()[3] != 3*time.Second || f.Damaged() != nil {
		t.Errorf("duration %v, keyframes %v, damaged %v", f.Duration(), f.Keyframes(), f.Damaged())
	}
	if !isMetaPayload(f.Metadata()) || !f.Header().HasVideo {
		t.Error("metadata or header")
	}
	in := ffmpegFLV(t)
	ff, err := OpenFile(in)
	if err != nil {
		t.Fatal(err)
	}
	defer ff.Close()
	if d := ff.Duration(); d < 3950*time.Millisecond || d > 4100*time.Millisecond || len(ff.Keyframes()) != 4 {
		t.Errorf("ffmpeg file: duration %v, keyframes %v", d, ff.Keyframes())
	}
}

func TestSourcePacing(t *testing.T) {
	v := newVOD(t, vodFile(t), SourceOptions{})
	ps := v.drain()
	startsPlayback(t, ps, true, 0)
	if _, hi, _ := media(t, ps); hi != 1000 {
		t.Fatalf("first burst up to %d, want the 1 s read-ahead (1000)", hi)
	}
	prev := uint32(1000)
	for i := 1; i <= 4; i++ {
		v.step(500 * time.Millisecond)
		ps := v.drain()
		lo, hi, n := media(t, ps)
		want := uint32(1000 + 500*i)
		if n == 0 || lo <= prev || hi > want || hi < want-40 {
			t.Fatalf("after %d ms: media %d..%d (%d), want (%d, %d]", 500*i, lo, hi, n, prev, want)
		}
		prev = hi
	}
	if p := v.src.Position(); p != 2*time.Second {
		t.Errorf("position %v", p)
	}
	// Small steps write only what became due.
	v.step(10 * time.Millisecond)
	if _, hi, n := media(t, v.drain()); n > 1 || n == 1 && hi > 3010 {
		t.Errorf("10 ms later: %d packets up to %d", n, hi)
	}
}

func TestSourceStartOffset(t *testing.T) {
	v := newVOD(t, vodFile(t), SourceOptions{Start: 3500 * time.Millisecond})
	ps := v.drain()
	startsPlayback(t, ps, true, 3000)
	if lo, hi, _ := media(t, ps); lo < 2990 || hi != 4000 {
		t.Errorf("media %d..%d, want from the keyframe at 3000 to 4000", lo, hi)
	}
	if p := v.src.Position(); p != 3*time.Second {
		t.Errorf("position %v", p)
	}
}

func TestSourceSeek(t *testing.T) {
	v := newVOD(t, vodFile(t), SourceOptions{})
	v.drain()
	v.step(300 * time.Millisecond)
	v.drain()
	v.act(func() { v.src.Seek(7300 * time.Millisecond) })
	ps := v.drain()
	startsPlayback(t, ps, false, 7000)
	if lo, hi, _ := media(t, ps); lo < 6990 || hi != 8000 {
		t.Errorf("after seek: media %d..%d", lo, hi)
	}
	v.step(500 * time.Millisecond)
	if lo, hi, _ := media(t, v.drain()); lo <= 8000 || hi > 8500 {
		t.Errorf("paced after seek: %d..%d", lo, hi)
	}
	// Backwards, and before the first keyframe.
	v.act(func() { v.src.Seek(-5 * time.Second) })
	startsPlayback(t, v.drain(), false, 0)
}

func TestSourcePauseResume(t *testing.T) {
	v := newVOD(t, vodFile(t), SourceOptions{})
	v.drain()
	v.step(500 * time.Millisecond)
	_, hi, _ := media(t, v.drain())
	v.act(v.src.Pause)
	v.step(5 * time.Second)
	if ps := v.drain(); len(ps) != 0 {
		t.Fatalf("%d packets while paused", len(ps))
	}
	if p := v.src.Position(); p != 500*time.Millisecond {
		t.Errorf("position while paused %v", p)
	}
	v.act(v.src.Resume)
	v.step(500 * time.Millisecond)
	lo, hi2, _ := media(t, v.drain())
	if lo <= hi || hi2 > 2000 || hi2 < 1960 {
		t.Errorf("after resume: %d..%d (paused after %d)", lo, hi2, hi)
	}
	if p := v.src.Position(); p != time.Second {
		t.Errorf("position %v", p)
	}
}

func TestSourceLengthAndEnd(t *testing.T) {
	v := newVOD(t, vodFile(t), SourceOptions{Start: 2 * time.Second, Length: 1500 * time.Millisecond})
	var all []*stream.Packet
	for i := 0; i < 10; i++ {
		all = append(all, v.drain()...)
		v.step(500 * time.Millisecond)
	}
	all = append(all, v.drain()...)
	if all[len(all)-1].Kind != stream.KindPublishStop {
		t.Fatal("no PublishStop at the end of Length")
	}
	if lo, hi, _ := media(t, all); lo < 1990 || hi >= 3500 {
		t.Errorf("media %d..%d, want [2000, 3500)", lo, hi)
	}
	// Seek after the end plays again.
	v.act(func() { v.src.Seek(9 * time.Second) })
	ps := v.drain()
	startsPlayback(t, ps, true, 9000)
	for range 5 {
		v.step(500 * time.Millisecond)
		ps = append(ps, v.drain()...)
	}
	if ps[len(ps)-1].Kind != stream.KindPublishStop {
		t.Fatal("no PublishStop at the end of the file")
	}
	if _, hi, _ := media(t, ps); hi != 9982 || v.src.Position() != 9982*time.Millisecond {
		t.Errorf("last media %d, position %v", hi, v.src.Position())
	}
	v.src.Stop()
	v.src.Stop()
	if err := v.src.Seek(0); err != ErrSourceStopped {
		t.Errorf("Seek after Stop: %v", err)
	}
}

func TestSourceBacklog(t *testing.T) {
	var backlog atomic.Int64
	backlog.Store(1000)
	v := newVOD(t, vodFile(t), SourceOptions{Backlog: func() int { return int(backlog.Load()) }, MaxBacklog: 100})
	if _, _, n := media(t, v.drain()); n != 0 {
		t.Fatalf("%d media packets written over a full backlog", n)
	}
	backlog.Store(0)
	v.step(backlogPoll)
	if _, hi, _ := media(t, v.drain()); hi < 1000 {
		t.Errorf("after the backlog cleared: up to %d", hi)
	}
}

// TestSourceRealClock plays the last half second of the file at real pace
// with a short read-ahead: it takes roughly that long.
func TestSourceRealClock(t *testing.T) {
	st := stream.New("vod", stream.Config{})
	notify := make(chan struct{}, 1)
	sub := st.Subscribe(notify)
	src := NewSource(vodFile(t), st, SourceOptions{Start: 9500 * time.Millisecond, ReadAhead: 50 * time.Millisecond})
	start := time.Now()
	src.Start()
	defer src.Stop()
	buf := make([]*stream.Packet, 0, 64)
	for done := false; !done; {
		select {
		case <-notify:
		case <-time.After(10 * time.Second):
			t.Fatal("playback did not end")
		}
		buf = sub.Pop(buf[:0])
		for _, p := range buf {
			done = done || p.Kind == stream.KindPublishStop
		}
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("0.5 s of media played in %v", d)
	}
}
