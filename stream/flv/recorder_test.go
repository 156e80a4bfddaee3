package flv

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scopecast/scopecast/stream"
)

type owner struct{ name string }

// record publishes ps into a fresh stream with a recorder attached before the
// first packet, stops the recorder and returns its stats.
// The recorder subscribes before Publish, so that nothing is skipped.
func record(t *testing.T, path string, opts RecorderOptions, ps []*stream.Packet) RecorderStats {
	t.Helper()
	st := stream.New("rec", stream.Config{})
	r, err := StartRecorder(st, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	pub := &owner{"pub"}
	if err := st.Publish(pub); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		st.Write(p)
	}
	if err := st.Unpublish(pub); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	return r.Stats()
}

func metaOf(t *testing.T, tags []Tag) *amfObj {
	t.Helper()
	if len(tags) == 0 || tags[0].Type != TagScript {
		t.Fatalf("the file does not start with a script tag")
	}
	m, err := parseMeta(tags[0].Data)
	if err != nil {
		t.Fatalf("onMetaData: %v", err)
	}
	return m
}

func TestRecorderSynthetic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live", "room", "x.flv")
	// Three inter frames before the first keyframe must be left out.
	var ps []*stream.Packet
	ps = append(ps, synPackets(5000, 3000, 25)[:3]...)
	for i := range 3 {
		ps = append(ps, stream.NewPacket(stream.KindVideo, uint32(4880+40*i), synInter(100)))
	}
	ps = append(ps, synPackets(5000, 3000, 25)[3:]...)
	ps = append(ps, stream.NewPacket(stream.KindData, 5500, []byte("\x02\x00\x0aonCuePoint\x05")))

	st := stream.New("rec", stream.Config{})
	pub := &owner{}
	st.Publish(pub)
	r, err := StartRecorder(st, path, RecorderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !fileExists(path + MarkerSuffix) {
		t.Error("no marker while recording")
	}
	if _, err := StartRecorder(st, path, RecorderOptions{}); !errors.Is(err, ErrRecordBusy) {
		t.Errorf("second recorder of the same file: %v, want ErrRecordBusy", err)
	}
	for _, p := range ps {
		st.Write(p)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case <-r.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	if fileExists(path + MarkerSuffix) {
		t.Error("marker left after Stop")
	}
	stats := r.Stats()
	if stats.Skipped != 3 || stats.Dropped != 0 { // by the stream: it joined without a GOP
		t.Errorf("skipped %d dropped %d, want 3 and 0", stats.Skipped, stats.Dropped)
	}
	h, tags := readTags(t, path)
	if !h.HasAudio || !h.HasVideo {
		t.Errorf("header %+v", h)
	}
	m := metaOf(t, tags)
	fi, _ := os.Stat(path)
	if d, _ := m.num("duration"); math.Abs(d-3.013) > 0.001 {
		t.Errorf("duration %v, want 3.013 (last audio at 2990 + 23)", d)
	}
	if fs, _ := m.num("filesize"); int64(fs) != fi.Size() || fi.Size() != stats.Bytes {
		t.Errorf("filesize %v, file %d, stats %d", fs, fi.Size(), stats.Bytes)
	}
	for k, want := range map[string]any{"width": 320.0, "height": 240.0, "videocodecid": 7.0, "audiocodecid": 10.0,
		"audiosamplerate": 44100.0, "stereo": true, "encoder": "synthetic", "framerate": 25.0} {
		if v, _ := m.get(k); v != want {
			t.Errorf("metadata %s = %v, want %v", k, v, want)
		}
	}
	if stats.Duration != 3013*time.Millisecond {
		t.Errorf("stats duration %v", stats.Duration)
	}
	// Headers first at 0, then a keyframe at 0; rebased timestamps.
	if tags[1].Type != TagVideo || tags[1].Data[1] != 0 || tags[1].Timestamp != 0 ||
		tags[2].Type != TagAudio || tags[2].Data[1] != 0 || tags[2].Timestamp != 0 {
		t.Fatalf("headers not first: %v %v", tags[1].Type, tags[2].Type)
	}
	if tags[3].Type != TagVideo || tags[3].Data[0] != 0x17 || tags[3].Timestamp != 0 {
		t.Errorf("first media tag: type %d ts %d % x, want a keyframe at 0", tags[3].Type, tags[3].Timestamp, tags[3].Data[:2])
	}
	var frames, cue int
	for _, tg := range tags[1:] {
		if tg.Type == TagScript {
			if isMetaPayload(tg.Data) {
				t.Error("a second onMetaData tag was written")
			}
			cue++
			if tg.Timestamp != 500 {
				t.Errorf("cue point at %d, want 500", tg.Timestamp)
			}
		}
		if tg.Type == TagVideo && tg.Data[1] == 1 {
			frames++
		}
	}
	if frames != 75 || cue != 1 {
		t.Errorf("%d video frames, %d cue points; want 75 and 1", frames, cue)
	}
}

// TestRecorderRepublish: when the publisher goes and comes back with
// timestamps from 0, the timeline of the file continues.
func TestRecorderRepublish(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.flv")
	st := stream.New("rec", stream.Config{})
	r, err := StartRecorder(st, path, RecorderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		pub := &owner{strconv.Itoa(i)}
		st.Publish(pub)
		for _, p := range synPackets(uint32(1000*i), 2000, 25) {
			st.Write(p)
		}
		st.Unpublish(pub)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	_, tags := readTags(t, path)
	var lastV uint32
	keys := 0
	for _, tg := range tags {
		if tg.Type == TagVideo && tg.Data[1] == 1 {
			if tg.Timestamp < lastV {
				t.Fatalf("video went back from %d to %d", lastV, tg.Timestamp)
			}
			lastV = tg.Timestamp
			if tg.Data[0] == 0x17 {
				keys++
			}
		}
	}
	if d, _ := metaOf(t, tags).num("duration"); math.Abs(d-4.002) > 0.001 || keys != 4 {
		t.Errorf("duration %v with %d keyframes, want 2 × 2.001 and 4", d, keys)
	}
}

func TestRecorderFFmpeg(t *testing.T) {
	in := ffmpegFLV(t)
	want := ffprobe(t, in)
	ps := fileToPackets(t, in)
	t.Run("from-start", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.flv")
		record(t, out, RecorderOptions{}, ps)
		got := ffprobe(t, out)
		if got.VideoFrames != want.VideoFrames || got.AudioFrames != want.AudioFrames || math.Abs(got.Duration-want.Duration) > 0.05 {
			t.Errorf("recorded %+v, input %+v", got, want)
		}
		_, tags := readTags(t, out)
		if w, _ := metaOf(t, tags).num("width"); w != 320 {
			t.Errorf("width %v", w)
		}
	})
	t.Run("after-publish", func(t *testing.T) {
		// Started right after Publish: the stream skips to the first
		// keyframe, which here costs the AAC frame that precedes it.
		out := filepath.Join(t.TempDir(), "out.flv")
		st := stream.New("rec", stream.Config{})
		pub := &owner{}
		st.Publish(pub)
		r, err := StartRecorder(st, out, RecorderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			st.Write(p)
		}
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
		got := ffprobe(t, out)
		if got.VideoFrames != want.VideoFrames || want.AudioFrames-got.AudioFrames > 1 || math.Abs(got.Duration-want.Duration) > 0.05 {
			t.Errorf("recorded %+v, input %+v", got, want)
		}
		if s := r.Stats(); s.Dropped != 0 || s.Skipped > 1 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("mid-stream", func(t *testing.T) {
		// The recorder joins at 2.5 s: the stream's snapshot gives it the
		// metadata, the headers and the GOP from the keyframe at 2 s.
		out := filepath.Join(t.TempDir(), "out.flv")
		st := stream.New("rec", stream.Config{})
		pub := &owner{}
		st.Publish(pub)
		var r *Recorder
		for _, p := range ps {
			if r == nil && p.Timestamp >= 2500 && p.Kind == stream.KindVideo {
				var err error
				if r, err = StartRecorder(st, out, RecorderOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			st.Write(p)
		}
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
		got := ffprobe(t, out)
		if got.VideoFrames != 50 || math.Abs(got.Duration-2.0) > 0.05 {
			t.Errorf("recorded %+v, want the last 2 s (50 frames)", got)
		}
		_, tags := readTags(t, out)
		if tags[1].Type != TagVideo || tags[1].Data[1] != 0 || tags[3].Data[0] != 0x17 {
			t.Errorf("not headers then a keyframe")
		}
	})
	t.Run("append", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.flv")
		record(t, out, RecorderOptions{Append: true}, ps) // a missing file is created
		record(t, out, RecorderOptions{Append: true}, ps)
		got := ffprobe(t, out)
		if got.VideoFrames != 2*want.VideoFrames || got.AudioFrames != 2*want.AudioFrames || math.Abs(got.Duration-2*want.Duration) > 0.1 {
			t.Errorf("appended %+v, input %+v twice", got, want)
		}
		_, tags := readTags(t, out)
		var last [20]uint32
		for _, tg := range tags[1:] {
			if tg.Timestamp+100 < last[tg.Type] {
				t.Fatalf("type %d went back from %d to %d", tg.Type, last[tg.Type], tg.Timestamp)
			}
			last[tg.Type] = max(last[tg.Type], tg.Timestamp)
		}
		if last[TagVideo] < 7900 {
			t.Errorf("last video at %d, want about 7960", last[TagVideo])
		}
		if n := strings.Count(string(tags[0].Data), "duration"); n != 1 {
			t.Errorf("%d duration keys", n)
		}
	})
}

// TestRecorderAppendForeign appends to a file ffmpeg wrote: its onMetaData
// is smaller than ours and cannot be re-encoded with padding, so its
// duration is patched in place.
func TestRecorderAppendForeign(t *testing.T) {
	in := ffmpegFLV(t)
	out := filepath.Join(t.TempDir(), "out.flv")
	raw, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(out, raw, 0o644)
	record(t, out, RecorderOptions{Append: true}, fileToPackets(t, in))
	want := ffprobe(t, in)
	got := ffprobe(t, out)
	if got.VideoFrames != 2*want.VideoFrames || math.Abs(got.Duration-2*want.Duration) > 0.1 {
		t.Errorf("appended %+v, input %+v twice", got, want)
	}
	// Appending to something that is not FLV is refused and the file kept.
	bad := filepath.Join(t.TempDir(), "bad.flv")
	os.WriteFile(bad, []byte("not a video at all"), 0o644)
	st := stream.New("x", stream.Config{})
	if _, err := StartRecorder(st, bad, RecorderOptions{Append: true}); !errors.Is(err, ErrRecordAppend) {
		t.Errorf("append to garbage: %v", err)
	}
	if b, _ := os.ReadFile(bad); string(b) != "not a video at all" || fileExists(bad+MarkerSuffix) {
		t.Error("garbage file changed or marker left")
	}
}

func TestRecorderStreamClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.flv")
	st := stream.New("rec", stream.Config{})
	st.Publish(&owner{})
	r, err := StartRecorder(st, path, RecorderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range synPackets(0, 1000, 25) {
		st.Write(p)
	}
	waitFor(t, "the recorder to take the packets", func() bool { return r.Stats().Duration >= 1000*time.Millisecond })
	st.Close()
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("recorder did not end when the stream closed")
	}
	if err := r.Err(); !errors.Is(err, ErrRecordStream) || !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Err %v, want ErrRecordStream wrapping stream.ErrClosed", err)
	}
	if err := r.Stop(); !errors.Is(err, ErrRecordStream) {
		t.Errorf("Stop after the end: %v", err)
	}
	if fileExists(path + MarkerSuffix) {
		t.Error("marker left")
	}
	_, tags := readTags(t, path)
	if d, _ := metaOf(t, tags).num("duration"); d < 1 {
		t.Errorf("duration %v", d)
	}
}

func TestRecorderUnwritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	st := stream.New("x", stream.Config{})
	// A path under a regular file: the directory cannot be created.
	if _, err := StartRecorder(st, filepath.Join(file, "sub", "x.flv"), RecorderOptions{}); !errors.Is(err, ErrRecordAccess) {
		t.Errorf("under a file: %v, want ErrRecordAccess", err)
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if _, err := StartRecorder(st, filepath.Join(ro, "x.flv"), RecorderOptions{}); !errors.Is(err, ErrRecordAccess) {
			t.Errorf("read-only directory: %v, want ErrRecordAccess", err)
		}
	}
	if st.NumSubscribers() != 0 {
		t.Error("a failed StartRecorder left a subscriber")
	}
}

// failingFile fails every write after limit bytes, as a full disk does.
type failingFile struct {
	recFile
	mu      sync.Mutex
	limit   int64
	written int64
}

func (f *failingFile) WriteAt(b []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if end := off + int64(len(b)); end > f.limit && end > f.written {
		n := max(0, int(f.limit-off))
		if n > 0 {
			f.recFile.WriteAt(b[:n], off)
		}
		return n, &os.PathError{Op: "write", Path: "x.flv", Err: syscall.ENOSPC}
	}
	f.written = max(f.written, off+int64(len(b)))
	return f.recFile.WriteAt(b, off)
}

func TestRecorderDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.flv")
	st := stream.New("rec", stream.Config{})
	pub := &owner{}
	st.Publish(pub)
	opts := RecorderOptions{FlushInterval: 10 * time.Millisecond}
	opts.wrapFile = func(f recFile) recFile { return &failingFile{recFile: f, limit: 30_000} }
	r, err := StartRecorder(st, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	ps := synPackets(0, 60_000, 25)
	start := time.Now()
	for i, p := range ps {
		st.Write(p)
		if i == len(ps)/10 {
			waitFor(t, "the write error", func() bool {
				select {
				case <-r.Done():
					return true
				default:
					return false
				}
			})
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("publishing %d packets took %v", len(ps), d)
	}
	err = r.Err()
	if !errors.Is(err, ErrRecordWrite) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Err %v, want ErrRecordWrite wrapping ENOSPC", err)
	}
	if st.NumSubscribers() != 0 {
		t.Error("the failed recorder is still subscribed")
	}
	// The file holds whole tags only, and says so.
	h, tags := readTags(t, path)
	_ = h
	fi, _ := os.Stat(path)
	if fi.Size() > 30_000 {
		t.Errorf("file of %d bytes past the limit", fi.Size())
	}
	m := metaOf(t, tags)
	if fs, _ := m.num("filesize"); int64(fs) != fi.Size() {
		t.Errorf("filesize %v, file %d", fs, fi.Size())
	}
	if r.Stop() == nil {
		t.Error("Stop after a write error returned nil")
	}
}

// TestRecorderCrash records in a child process that is killed with SIGKILL
// mid-recording; Repair must give a clean file up to about the kill.
func TestRecorderCrash(t *testing.T) {
	in := ffmpegFLV(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "live", "crash.flv")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "FLV_CRASH_CHILD="+in+"|"+out)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var recorded int64
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "recorded "); ok {
			recorded, _ = strconv.ParseInt(v, 10, 64)
			if recorded >= 6000 {
				break
			}
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if recorded < 6000 {
		t.Fatalf("child stopped at %d ms", recorded)
	}
	if !fileExists(out + MarkerSuffix) {
		t.Fatal("no marker after the crash")
	}
	reps, err := RepairDir(dir)
	if err != nil || len(reps) != 1 {
		t.Fatalf("RepairDir: %v %+v", err, reps)
	}
	rep := reps[0]
	t.Logf("killed at %d ms recorded; repair: %+v", recorded, rep)
	if fileExists(out + MarkerSuffix) {
		t.Error("marker left after repair")
	}
	got := ffprobe(t, out)
	// The child flushes every 250 ms at 4× speed: 1 s of media.
	lost := float64(recorded)/1000 - got.Duration
	if lost > 2.0 || lost < -0.1 {
		t.Errorf("ffprobe duration %.3f s after a kill at %.3f s recorded", got.Duration, float64(recorded)/1000)
	}
	if got.VideoFrames < int((got.Duration-0.2)*25) {
		t.Errorf("%d frames over %.3f s", got.VideoFrames, got.Duration)
	}
	// Idempotent.
	before, _ := os.ReadFile(out)
	rep2, err := Repair(out)
	after, _ := os.ReadFile(out)
	if err != nil || rep2.Truncated != 0 || string(before) != string(after) {
		t.Errorf("second repair: %v %+v changed=%v", err, rep2, string(before) != string(after))
	}
}

// TestCrashChild is the child of TestRecorderCrash: it records the ffmpeg
// file looped at 4× real time until it is killed, printing its progress.
func TestCrashChild(t *testing.T) {
	env := os.Getenv("FLV_CRASH_CHILD")
	if env == "" {
		t.Skip("run by TestRecorderCrash")
	}
	in, out, _ := strings.Cut(env, "|")
	ps := fileToPackets(t, in)
	st := stream.New("crash", stream.Config{})
	pub := &owner{}
	st.Publish(pub)
	r, err := StartRecorder(st, out, RecorderOptions{FlushInterval: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for loop := uint32(0); ; loop++ {
		for i, p := range ps {
			if loop > 0 && i < 3 {
				continue // metadata and headers once
			}
			ts := p.Timestamp + loop*4000
			due := start.Add(time.Duration(ts) * time.Millisecond / 4)
			if d := time.Until(due); d > 0 {
				time.Sleep(d) // pacing the synthetic publisher, not waiting for a result
			}
			st.Write(stream.NewPacket(p.Kind, ts, p.Payload))
			fmt.Printf("recorded %d\n", r.Stats().Duration.Milliseconds())
		}
	}
}
