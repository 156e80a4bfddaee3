package rtmp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
)

// --- helpers ----------------------------------------------------------------

// clip is an FLV file made by ffmpeg (H.264 + AAC, 25 fps, a keyframe a
// second) and its tags.
type clip struct {
	Path         string
	Tags         []flv.Tag
	Video, Audio int // media frames, sequence headers not counted
	Duration     time.Duration
}

// keyAt returns the timestamp of the keyframe at or before ms (the first
// one if there is none before).
func (c *clip) keyAt(ms uint32) uint32 {
	key, first := uint32(0), true
	for _, tg := range c.Tags {
		if tg.Type == flv.TagVideo && len(tg.Data) > 1 && tg.Data[0]>>4 == 1 && tg.Data[1] == 1 && (first || tg.Timestamp <= ms) {
			key, first = tg.Timestamp, false
		}
	}
	return key
}

// framesFrom counts the video frames from the keyframe at or before ms:
// where playback from ms starts.
func (c *clip) framesFrom(ms uint32) int {
	key := c.keyAt(ms)
	n := 0
	for _, tg := range c.Tags {
		if tg.Type == flv.TagVideo && tg.Timestamp >= key && len(tg.Data) > 1 && tg.Data[1] == 1 {
			n++
		}
	}
	return n
}

func makeClip(t testing.TB, secs float64) *clip {
	t.Helper()
	bin := needTool(t, "ffmpeg")
	p := filepath.Join(t.TempDir(), "clip.flv")
	args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, testutil.TestPattern(secs, 25)...)
	out, err := exec.Command(bin, append(args, "-f", "flv", p)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg clip: %v\n%s", err, out)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := flv.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	c := &clip{Path: p}
	for {
		tg, err := r.ReadTag()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c.Tags = append(c.Tags, tg)
		pk := stream.NewPacket(stream.Kind(tg.Type), tg.Timestamp, tg.Data)
		switch {
		case pk.Header || tg.Type == flv.TagScript:
		case tg.Type == flv.TagVideo && len(tg.Data) > 1 && tg.Data[1] == 1: // AVC NALUs, not the end of sequence
			c.Video++
		case tg.Type == flv.TagAudio:
			c.Audio++
		}
		c.Duration = max(c.Duration, time.Duration(tg.Timestamp)*time.Millisecond)
	}
	return c
}

// session is an rtmp/client connection with one message stream that
// collects, once started, the statuses, results and media it receives.
type session struct {
	c    *client.Conn
	msid uint32

	mu      sync.Mutex
	started bool
	infos   []*amf.Object // onStatus and onPlayStatus information objects
	at      []int         // len(media) when each info arrived
	results map[float64]any
	media   []media
	done    chan struct{}
}

func dialSession(t testing.TB, ts *testServer, app string) *session {
	t.Helper()
	return dialSessionURL(t, url(ts, app))
}

func dialSessionURL(t testing.TB, u string) *session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, u, client.Options{})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	msid, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatalf("createStream: %v", err)
	}
	s := &session{c: c, msid: msid, results: map[float64]any{}, done: make(chan struct{})}
	t.Cleanup(func() {
		c.Close()
		s.mu.Lock()
		started := s.started
		s.mu.Unlock()
		if started {
			<-s.done
		}
	})
	return s
}

// publish publishes name in mode and starts reading.
func (s *session) publish(t testing.TB, name, mode string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.c.Publish(ctx, s.msid, name, mode)
	s.start()
	return err
}

// play sends play(name, start, length) and starts reading (without waiting).
func (s *session) play(t testing.TB, name string, start, length float64) {
	t.Helper()
	s.start()
	if err := s.c.Command(s.msid, "play", 0, nil, name, start, length); err != nil {
		t.Fatal(err)
	}
}

func (s *session) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	go func() {
		defer close(s.done)
		for {
			m, err := s.c.ReadMessage()
			if err != nil {
				return
			}
			switch m.TypeID {
			case 8, 9:
				s.mu.Lock()
				s.media = append(s.media, media{Kind: stream.Kind(m.TypeID), TS: m.Timestamp, Payload: m.Payload, At: time.Now()})
				s.mu.Unlock()
			case 18:
				vals, err := amf.DecodeAMF0All(m.Payload, amf.Limits{})
				if err == nil && len(vals) == 2 && vals[0] == "onPlayStatus" {
					if o, ok := vals[1].(*amf.Object); ok {
						s.mu.Lock()
						s.infos = append(s.infos, o)
						s.at = append(s.at, len(s.media))
						s.mu.Unlock()
					}
				}
			case 20:
				cmd, err := message.DecodeCommand(m.Payload, false, amf.Limits{})
				if err != nil {
					continue
				}
				s.mu.Lock()
				switch cmd.Name {
				case "onStatus":
					if o, ok := cmd.Arg(0).(*amf.Object); ok {
						s.infos = append(s.infos, o)
						s.at = append(s.at, len(s.media))
					}
				case "_result", "_error":
					s.results[cmd.TxID] = cmd.Arg(0)
				}
				s.mu.Unlock()
			}
		}
	}()
}

// codes returns the status codes received so far, in order.
func (s *session) codes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, o := range s.infos {
		out = append(out, o.GetString("code"))
	}
	return out
}

func (s *session) info(code string) *amf.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.infos {
		if o.GetString("code") == code {
			return o
		}
	}
	return nil
}

// mediaAt returns how many media messages had arrived when the first
// status with code did.
func (s *session) mediaAt(code string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.infos {
		if o.GetString("code") == code {
			return s.at[i]
		}
	}
	return -1
}

func (s *session) waitCode(t testing.TB, code string) *amf.Object {
	t.Helper()
	var o *amf.Object
	waitFor(t, 20*time.Second, code+" (have "+strings.Join(s.codes(), ", ")+")", func() bool {
		o = s.info(code)
		return o != nil
	})
	return o
}

func (s *session) Media() []media {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]media(nil), s.media...)
}

// call sends a command with transaction id tx on message stream 0 and
// waits for its _result or _error.
func (s *session) call(t testing.TB, tx float64, name string, args ...any) any {
	t.Helper()
	s.start()
	if err := s.c.Command(0, name, tx, nil, args...); err != nil {
		t.Fatal(err)
	}
	var v any
	waitFor(t, 10*time.Second, name+" result", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		var ok bool
		v, ok = s.results[tx]
		return ok
	})
	return v
}

// send publishes tags as they are (the publisher's own timestamps), at
// once; the recorder takes timestamps, not arrival times.
func (s *session) send(t testing.TB, tags []flv.Tag) {
	t.Helper()
	for _, tg := range tags {
		if err := s.c.WriteMessage(&chunk.Message{TypeID: tg.Type, Timestamp: tg.Timestamp, StreamID: s.msid, Payload: tg.Data}); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
}

// upTo returns the tags before ms.
func upTo(tags []flv.Tag, ms uint32) []flv.Tag {
	for i, tg := range tags {
		if tg.Timestamp >= ms {
			return tags[:i]
		}
	}
	return tags
}

// checkFile probes file and decodes all of it: any error output fails.
var checkFile = testutil.CheckFile

func wantCodecs(t testing.TB, p probe) {
	t.Helper()
	if strings.Join(p.Codecs, ",") != "h264,aac" || p.Width != 320 || p.Height != 240 {
		t.Errorf("codecs %v, %dx%d; want h264,aac 320x240", p.Codecs, p.Width, p.Height)
	}
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func withStreams(dir string) serverOpt {
	return func(s *rtmp.Server, _ *scope.Options) {
		s.StreamsDir = dir
		s.RecordFlushInterval = 100 * time.Millisecond
	}
}

// --- recording ---------------------------------------------------------------

// A publisher in record mode: Record.Start after Publish.Start, Record.Stop
// before Unpublish.Success, and a file with every frame sent, the true
// duration in onMetaData, the right codecs and nothing ffmpeg complains about.
// A second session in append mode continues the timeline.
func TestRecordAndAppend(t *testing.T) {
	t.Parallel()
	cl := makeClip(t, 2)
	dir := t.TempDir()
	ts := startServer(t, withStreams(dir))
	file := filepath.Join(dir, "live", "room", "show.flv")

	for i, mode := range []string{"record", "append"} {
		s := dialSession(t, ts, "live/room")
		if err := s.publish(t, "show?token=x", mode); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		s.waitCode(t, "NetStream.Record.Start")
		if _, err := os.Stat(file + flv.MarkerSuffix); err != nil {
			t.Errorf("%s: no marker while recording: %v", mode, err)
		}
		s.send(t, cl.Tags)
		if err := s.c.Command(s.msid, "closeStream", 0, nil); err != nil {
			t.Fatal(err)
		}
		s.waitCode(t, "NetStream.Unpublish.Success")
		codes := s.codes()
		if r, u := slices.Index(codes, "NetStream.Record.Stop"), slices.Index(codes, "NetStream.Unpublish.Success"); r < 0 || r > u {
			t.Errorf("%s: statuses %v; want Record.Stop before Unpublish.Success", mode, codes)
		}
		if _, err := os.Stat(file + flv.MarkerSuffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: marker left after Record.Stop: %v", mode, err)
		}
		fi := checkFile(t, file)
		n := i + 1
		wantCodecs(t, fi)
		if fi.VideoFrames != n*cl.Video || !near(float64(fi.AudioFrames), float64(n*cl.Audio), 1) {
			t.Errorf("%s: %d video, %d audio frames; sent %d, %d in all", mode, fi.VideoFrames, fi.AudioFrames, n*cl.Video, n*cl.Audio)
		}
		want := float64(n) * (cl.Duration.Seconds() + 0.04)
		if !near(fi.Duration, want, 0.1) {
			t.Errorf("%s: duration %.3f s, want %.3f", mode, fi.Duration, want)
		}
		if len(ts.Srv.Recordings()) != 0 {
			t.Errorf("%s: recordings left: %+v", mode, ts.Srv.Recordings())
		}
	}
}

// ffmpeg publishes live (it cannot ask for record mode); the server API
// records the stream while it runs, and the publisher leaving ends it.
func TestRecordingByServerAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	done := make(chan rtmp.RecordingInfo, 2)
	ts := startServer(t, withStreams(dir), func(s *rtmp.Server, _ *scope.Options) {
		s.OnRecordDone = func(ri rtmp.RecordingInfo, err error) {
			if err != nil {
				t.Errorf("OnRecordDone(%s): %v", ri.Name, err)
			}
			done <- ri
		}
	})
	if err := ts.Srv.StartRecording("live", "cam", false); !errors.Is(err, rtmp.ErrNoStream) {
		t.Errorf("StartRecording without a stream: %v", err)
	}
	if err := (&rtmp.Server{}).StartRecording("live", "cam", false); !errors.Is(err, rtmp.ErrRecordingDisabled) {
		t.Errorf("StartRecording without StreamsDir: %v", err)
	}
	ff := ffmpegPublish(t, url(ts, "live/cam"), 3, 25)
	// Alongside, a publisher asks for its own recording in the stream key.
	ff2 := ffmpegPublish(t, url(ts, "live/cam2?mode=record"), 2, 25)
	ts.waitPublishing(t, "live", "cam")
	if err := ts.Srv.StartRecording("live", "cam", false); err != nil {
		t.Fatal(err)
	}
	if err := ts.Srv.StartRecording("/live/", "cam", true); !errors.Is(err, rtmp.ErrAlreadyRecording) {
		t.Errorf("second StartRecording: %v", err)
	}
	ts.waitPublishing(t, "live", "cam2")
	recs := ts.Srv.Recordings()
	if len(recs) != 2 || recs[0].Scope != "/live" || recs[0].Name != "cam" || recs[0].Publisher ||
		recs[1].Name != "cam2" || !recs[1].Publisher {
		t.Fatalf("Recordings() = %+v", recs)
	}
	if err := ff.Wait(); err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	if err := ff2.Wait(); err != nil {
		t.Fatalf("ffmpeg ?mode=record: %v", err)
	}
	waitFor(t, 10*time.Second, "the recording to end with its publisher", func() bool { return len(ts.Srv.Recordings()) == 0 })
	if err := ts.Srv.StopRecording("live", "cam"); !errors.Is(err, rtmp.ErrNotRecording) {
		t.Errorf("StopRecording after the end: %v", err)
	}
	for range 2 { // OnRecordDone reports each finished file once
		ri := <-done
		if ri.Stats.Bytes == 0 || ri.Path != filepath.Join(dir, "live", ri.Name+".flv") || ri.Publisher != (ri.Name == "cam2") {
			t.Errorf("OnRecordDone got %+v", ri)
		}
	}
	fi := checkFile(t, filepath.Join(dir, "live", "cam.flv"))
	wantCodecs(t, fi)
	// From the first keyframe after the start to the end: most of 3 s.
	if fi.Duration < 1.5 || fi.Duration > 3.1 || !near(float64(fi.VideoFrames), fi.Duration*25, 2) {
		t.Errorf("duration %.3f s with %d video frames", fi.Duration, fi.VideoFrames)
	}
	// Recorded from the publisher's first packet: all of it.
	fi2 := checkFile(t, filepath.Join(dir, "live", "cam2.flv"))
	wantCodecs(t, fi2)
	if fi2.VideoFrames != 50 || !near(fi2.Duration, 2, 0.1) {
		t.Errorf("?mode=record: %d video frames in %.3f s; ffmpeg sent 50 in 2 s", fi2.VideoFrames, fi2.Duration)
	}
}

// StopRecording ends a publisher's own recording: Record.Stop, and the
// stream goes on live.
func TestStopRecordingKeepsPublishing(t *testing.T) {
	t.Parallel()
	cl := makeClip(t, 2)
	dir := t.TempDir()
	ts := startServer(t, withStreams(dir))
	s := dialSession(t, ts, "live")
	if err := s.publish(t, "cam", "record"); err != nil {
		t.Fatal(err)
	}
	s.waitCode(t, "NetStream.Record.Start")
	p := play(t, ts, "live", "cam")
	first := upTo(cl.Tags, 1000)
	s.send(t, first)
	var lastVideo uint32
	for _, tg := range first {
		if tg.Type == flv.TagVideo {
			lastVideo = tg.Timestamp
		}
	}
	// The player has all of it: so has the stream, and the recorder's queue.
	waitFor(t, 10*time.Second, "player media", func() bool {
		v := p.Video()
		return len(v) > 0 && v[len(v)-1].TS == lastVideo
	})
	if err := ts.Srv.StopRecording("live", "cam"); err != nil {
		t.Fatal(err)
	}
	s.waitCode(t, "NetStream.Record.Stop")
	n := len(p.Video())
	s.send(t, cl.Tags[len(upTo(cl.Tags, 1000)):])
	waitFor(t, 10*time.Second, "live media after the recording stopped", func() bool { return len(p.Video()) > n+10 })
	fi := checkFile(t, filepath.Join(dir, "live", "cam.flv"))
	if !near(fi.Duration, 1, 0.1) {
		t.Errorf("duration %.3f s, want about 1", fi.Duration)
	}
}

// Names that would leave the streams directory are refused for recording
// and playback; an unwritable streams directory refuses the recording with
// Record.NoAccess while the live stream goes on; so does a server without
// one.
func TestRecordingRefusals(t *testing.T) {
	t.Parallel()
	cl := makeClip(t, 2)
	root := t.TempDir()
	dir := filepath.Join(root, "streams")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(root, "secret.flv")
	if err := os.WriteFile(secret, mustRead(t, cl.Path), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, withStreams(dir))

	s := dialSession(t, ts, "live")
	var se *client.StatusError
	if err := s.publish(t, ".hidden", "record"); !errors.As(err, &se) || se.Code != "NetStream.Publish.BadName" {
		t.Errorf("record .hidden: %v", err)
	}
	for _, name := range []string{"../secret", "..", "a/../../secret", `..\secret`} {
		p := dialSession(t, ts, "live")
		p.play(t, name, 0, -1)
		p.waitCode(t, "NetStream.Play.StreamNotFound")
		if v := p.call(t, 7, "getStreamLength", name); v != 0.0 {
			t.Errorf("getStreamLength(%q) = %v", name, v)
		}
	}
	// ../secret from a room is still inside the streams directory at best.
	p := dialSession(t, ts, "live/room")
	p.play(t, "../../../secret", 0, -1)
	p.waitCode(t, "NetStream.Play.StreamNotFound")
	if len(p.Media()) != 0 {
		t.Error("media from outside the streams directory")
	}

	for _, tc := range []struct {
		name string
		opt  serverOpt
	}{
		{"unwritable", withStreams(secret)}, // a file where the directory should be
		{"disabled", withStreams("")},
	} {
		ts := startServer(t, tc.opt)
		s := dialSession(t, ts, "live")
		if err := s.publish(t, "cam", "record"); err != nil {
			t.Fatalf("%s: publish: %v", tc.name, err)
		}
		s.waitCode(t, "NetStream.Record.NoAccess")
		if slices.Index(s.codes(), "NetStream.Record.Start") >= 0 {
			t.Errorf("%s: Record.Start with NoAccess", tc.name)
		}
		pl := play(t, ts, "live", "cam")
		s.send(t, cl.Tags)
		waitFor(t, 10*time.Second, tc.name+": the live stream goes on", func() bool { return len(pl.Video()) >= 25 })
		v := dialSession(t, ts, "live")
		v.play(t, "cam2", 0, -1)
		v.waitCode(t, "NetStream.Play.StreamNotFound")
	}
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// --- the server process: kill -9 and a full disk ------------------------------

var buildServer = testutil.BuildScopecast

// startProc runs the scopecast binary with -data data; shell, if set, is a
// shell prefix ("ulimit -f 400;") for the exec.
var startProc = testutil.StartScopecast

// kill -9 of the server mid-recording: the next start repairs the file,
// which then plays cleanly up to about the kill.
func TestRecordingSurvivesKill(t *testing.T) {
	t.Parallel()
	cl := makeClip(t, 3)
	bin := buildServer(t)
	data := t.TempDir()
	file := filepath.Join(data, "streams", "live", "cam.flv")

	p := startProc(t, bin, data, "")
	s := dialSessionURL(t, "rtmp://"+p.Addr+"/live")
	if err := s.publish(t, "cam", "record"); err != nil {
		t.Fatal(err)
	}
	s.waitCode(t, "NetStream.Record.Start")
	s.send(t, upTo(cl.Tags, 2000))
	// Wait for the flush (every 500 ms by default), then send a little more
	// that the kill may cut anywhere.
	waitFor(t, 10*time.Second, "2 s on disk", func() bool {
		f, err := flv.OpenFile(file)
		if err != nil {
			return false
		}
		defer f.Close()
		return f.Duration() >= 1900*time.Millisecond
	})
	s.send(t, upTo(cl.Tags, 2300)[len(upTo(cl.Tags, 2000)):])
	p.Cmd.Process.Kill() // SIGKILL: no shutdown, no final metadata
	p.Cmd.Wait()
	if _, err := os.Stat(file + flv.MarkerSuffix); err != nil {
		t.Fatalf("no marker after the kill: %v", err)
	}

	p2 := startProc(t, bin, data, "")
	if !p2.Logged("recording repaired after a crash") {
		t.Error("the restart did not report a repair")
	}
	if _, err := os.Stat(file + flv.MarkerSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker after the repair: %v", err)
	}
	fi := checkFile(t, file)
	wantCodecs(t, fi)
	if fi.Duration < 1.9 || fi.Duration > 2.4 {
		t.Errorf("repaired duration %.3f s; the kill came after 2.0-2.3 s", fi.Duration)
	}
	// And it plays over RTMP.
	v := dialSessionURL(t, "rtmp://"+p2.Addr+"/live")
	if got := v.call(t, 5, "getStreamLength", "cam"); !near(got.(float64), fi.Duration, 0.1) {
		t.Errorf("getStreamLength = %v, file %.3f s", got, fi.Duration)
	}

	// SIGTERM mid-recording: the shutdown finalizes the file, no repair needed.
	s2 := dialSessionURL(t, "rtmp://"+p2.Addr+"/live")
	if err := s2.publish(t, "cam2", "record"); err != nil {
		t.Fatal(err)
	}
	s2.waitCode(t, "NetStream.Record.Start")
	s2.send(t, upTo(cl.Tags, 1000))
	file2 := filepath.Join(data, "streams", "live", "cam2.flv")
	waitFor(t, 10*time.Second, "1 s on disk", func() bool {
		f, err := flv.OpenFile(file2)
		if err != nil {
			return false
		}
		defer f.Close()
		return f.Duration() >= 900*time.Millisecond
	})
	p2.Cmd.Process.Signal(syscall.SIGTERM)
	if err := p2.Cmd.Wait(); err != nil {
		t.Errorf("server after SIGTERM: %v", err)
	}
	if _, err := os.Stat(file2 + flv.MarkerSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker after a clean shutdown: %v", err)
	}
	if fi := checkFile(t, file2); !near(fi.Duration, 1, 0.1) {
		t.Errorf("duration after SIGTERM %.3f s, want about 1", fi.Duration)
	}
}

// A full disk (here: the file size limit of the server process) stops the
// recording with Record.NoAccess; the publisher and its players go on.
func TestRecordingDiskFull(t *testing.T) {
	t.Parallel()
	cl := makeClip(t, 3)
	bin := buildServer(t)
	data := t.TempDir()
	p := startProc(t, bin, data, "ulimit -f 200;") // 200 blocks of 512 bytes: 100 KiB per file
	s := dialSessionURL(t, "rtmp://"+p.Addr+"/live")
	if err := s.publish(t, "cam", "record"); err != nil {
		t.Fatal(err)
	}
	s.waitCode(t, "NetStream.Record.Start")
	pl := dialSessionURL(t, "rtmp://"+p.Addr+"/live")
	pl.play(t, "cam", -1000, -1)
	pl.waitCode(t, "NetStream.Play.Start")
	// Half a second fits and reaches the file; the next flush does not fit.
	file := filepath.Join(data, "streams", "live", "cam.flv")
	s.send(t, upTo(cl.Tags, 500))
	waitFor(t, 10*time.Second, "0.4 s on disk", func() bool {
		f, err := flv.OpenFile(file)
		if err != nil {
			return false
		}
		defer f.Close()
		return f.Duration() >= 400*time.Millisecond
	})
	s.send(t, upTo(cl.Tags, 2000)[len(upTo(cl.Tags, 500)):])
	s.waitCode(t, "NetStream.Record.NoAccess")
	n := len(pl.Media())
	s.send(t, cl.Tags[len(upTo(cl.Tags, 2000)):])
	waitFor(t, 10*time.Second, "live media after the disk filled", func() bool { return len(pl.Media()) >= n+30 })
	if fi, err := os.Stat(file); err != nil || fi.Size() > 100<<10 {
		t.Fatalf("file past the limit: %v", err)
	}
	fi := checkFile(t, file)
	if fi.Duration < 0.4 || fi.Duration >= 2 {
		t.Errorf("the cut recording lasts %.3f s", fi.Duration)
	}
}

// --- playback ----------------------------------------------------------------

// vodServer serves a copy of a clip as the recording live/vod.
func vodServer(t testing.TB, cl *clip) *testServer {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "live"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "live", "vod.flv"), mustRead(t, cl.Path), 0o644); err != nil {
		t.Fatal(err)
	}
	return startServer(t, withStreams(dir))
}

// ffmpeg plays a recording over RTMP and seeks into it (its -ss sends the
// seek command); rtmpdump asks for a start offset in play itself.
func TestPlayRecordingWithRealClients(t *testing.T) {
	t.Parallel()
	cl := makeClip(t, 3)
	ts := vodServer(t, cl)

	// Three players at once (each plays in real time): ffmpeg from the
	// start, rtmpdump with a start offset in play, ffmpeg with -ss (which
	// on an RTMP input sends the seek command).
	ffmpeg, rtmpdump := needTool(t, "ffmpeg"), needTool(t, "rtmpdump")
	out := []string{tempFile(t, "ffmpeg.flv"), tempFile(t, "rtmpdump.flv"), tempFile(t, "ffmpeg-ss.flv")}
	cmds := []*exec.Cmd{
		exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
			"-rtmp_live", "recorded", "-i", url(ts, "live/vod"), "-c", "copy", "-f", "flv", out[0]),
		exec.Command(rtmpdump, "-q", "-r", url(ts, "live/vod"), "-A", "2.5", "-o", out[1]),
		exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
			"-rtmp_live", "recorded", "-ss", "1.5", "-i", url(ts, "live/vod"), "-c", "copy", "-f", "flv", out[2]),
	}
	errs := make([]error, len(cmds))
	outs := make([][]byte, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() { outs[i], errs[i] = cmd.CombinedOutput() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmds[i].Args, err, outs[i])
		}
	}
	fi := checkFile(t, out[0])
	wantCodecs(t, fi)
	if fi.VideoFrames != cl.Video || !near(float64(fi.AudioFrames), float64(cl.Audio), 1) {
		t.Errorf("ffmpeg got %d video, %d audio frames; file has %d, %d", fi.VideoFrames, fi.AudioFrames, cl.Video, cl.Audio)
	}
	// From the keyframe at or before 2.5 s (rtmpdump shifts timestamps by
	// the offset it asked for, so count frames).
	if fi := checkFile(t, out[1]); fi.VideoFrames != cl.framesFrom(2500) {
		t.Errorf("rtmpdump -A 2.5: %d video frames; want %d", fi.VideoFrames, cl.framesFrom(2500))
	}
	if fi := checkFile(t, out[2]); fi.VideoFrames != cl.framesFrom(1500) {
		t.Errorf("ffmpeg -ss 1.5: %d video frames; want %d", fi.VideoFrames, cl.framesFrom(1500))
	}
}

// Playback through the scripted client: start offset, seek, pause and
// unpause, Play.Complete with onPlayStatus, getStreamLength, length limit.
func TestPlayRecordingSeekPause(t *testing.T) {
	t.Parallel()
	cl := makeClip(t, 3)
	ts := vodServer(t, cl)
	s := dialSession(t, ts, "live")
	if v := s.call(t, 3, "getStreamLength", "vod"); !near(v.(float64), cl.Duration.Seconds()+0.04, 0.05) {
		t.Errorf("getStreamLength = %v", v)
	}
	s.play(t, "vod", 1500, -1)
	s.waitCode(t, "NetStream.Play.Start")
	waitFor(t, 10*time.Second, "media", func() bool { return len(s.Media()) > 0 })
	if first := s.Media()[0]; first.TS != cl.keyAt(1500) {
		t.Errorf("play from 1500 ms starts at %d, want the keyframe at %d", first.TS, cl.keyAt(1500))
	}
	// Seek back to 0: Seek.Notify, then the keyframe at 0.
	var before int
	if err := s.c.Command(s.msid, "seek", 0, nil, 0.0); err != nil {
		t.Fatal(err)
	}
	s.waitCode(t, "NetStream.Seek.Notify")
	before = s.mediaAt("NetStream.Seek.Notify")
	var first *stream.Packet
	waitFor(t, 10*time.Second, "a video frame after the seek", func() bool {
		for _, m := range s.Media()[before:] {
			if p := stream.NewPacket(m.Kind, m.TS, m.Payload); m.Kind == stream.KindVideo && !p.Header {
				first = p
				return true
			}
		}
		return false
	})
	if !first.Keyframe || first.Timestamp != cl.keyAt(0) {
		t.Errorf("after seek(0): first video frame at %d, keyframe %v", first.Timestamp, first.Keyframe)
	}
	// Pause: Pause.Notify, and nothing arrives until Unpause.Notify; then
	// playback goes on where it was, without a frame lost.
	if err := s.c.Command(s.msid, "pause", 0, nil, true, 0.0); err != nil {
		t.Fatal(err)
	}
	s.waitCode(t, "NetStream.Pause.Notify")
	<-time.After(500 * time.Millisecond) // paused for a while, in real time
	if err := s.c.Command(s.msid, "pause", 0, nil, false, 0.0); err != nil {
		t.Fatal(err)
	}
	s.waitCode(t, "NetStream.Unpause.Notify")
	if p, u := s.mediaAt("NetStream.Pause.Notify"), s.mediaAt("NetStream.Unpause.Notify"); p != u {
		t.Errorf("%d media messages arrived while paused", u-p)
	}
	done := s.waitCode(t, "NetStream.Play.Complete")
	if d, _ := done.GetNumber("duration"); !near(d, cl.Duration.Seconds()+0.04, 0.05) {
		t.Errorf("onPlayStatus duration %v", d)
	}
	if b, _ := done.GetNumber("bytes"); b <= 0 {
		t.Errorf("onPlayStatus bytes %v", b)
	}
	s.waitCode(t, "NetStream.Play.Stop")
	if c, st := slices.Index(s.codes(), "NetStream.Play.Complete"), slices.Index(s.codes(), "NetStream.Play.Stop"); c > st {
		t.Errorf("statuses %v: Play.Complete after Play.Stop", s.codes())
	}
	frames := 0
	for _, m := range s.Media()[before:] {
		if m.Kind == stream.KindVideo && len(m.Payload) > 1 && m.Payload[1] == 1 {
			frames++
		}
	}
	if frames != cl.Video {
		t.Errorf("after seek(0): %d video frames, want %d", frames, cl.Video)
	}

	// A length limit: play 1 s from 0.
	s2 := dialSession(t, ts, "live")
	s2.play(t, "vod", 0, 1000)
	s2.waitCode(t, "NetStream.Play.Complete")
	var last uint32
	for _, m := range s2.Media() {
		last = max(last, m.TS)
	}
	if k := cl.keyAt(0); last >= k+1000 || last < k+900 {
		t.Errorf("play 1 s: last timestamp %d", last)
	}
	// −2000 with no live stream plays the recording; −1000 waits for live.
	s3 := dialSession(t, ts, "live")
	s3.play(t, "vod", -2000, -1)
	s3.waitCode(t, "NetStream.Play.Start")
	waitFor(t, 10*time.Second, "recorded media for -2000", func() bool { return len(s3.Media()) > 0 })
	s4 := dialSession(t, ts, "live")
	s4.play(t, "vod", -1000, -1)
	s4.waitCode(t, "NetStream.Play.Start")
	if err := s4.c.Command(s4.msid, "seek", 0, nil, 0.0); err != nil {
		t.Fatal(err)
	}
	s4.waitCode(t, "NetStream.Seek.Failed")
	if len(s4.Media()) != 0 {
		t.Error("live-only play got recorded media")
	}
}
