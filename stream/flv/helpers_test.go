package flv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/stream"
)

// Shared with the other packages' integration tests.
var (
	needTool = testutil.NeedTool
)

var ffmpegInput struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// ffmpegFLV returns a 4 s FLV of testutil.TestPattern made by ffmpeg (H.264
// 320x240 at 25 fps with a keyframe every second, AAC sine), made once per
// test binary.
func ffmpegFLV(t testing.TB) string {
	t.Helper()
	ffmpeg := needTool(t, "ffmpeg")
	in := &ffmpegInput
	in.once.Do(func() {
		in.dir, in.err = os.MkdirTemp("", "flvtest")
		if in.err != nil {
			return
		}
		in.path = filepath.Join(in.dir, "in.flv")
		args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, testutil.TestPattern(4, 25)...)
		cmd := exec.Command(ffmpeg, append(args, "-f", "flv", in.path)...)
		in.out, in.err = cmd.CombinedOutput()
	})
	if in.err != nil {
		t.Fatalf("ffmpeg: %v\n%s", in.err, in.out)
	}
	return in.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ffmpegInput.dir != "" {
		os.RemoveAll(ffmpegInput.dir)
	}
	os.Exit(code)
}

// readTags reads every tag of an FLV file.
func readTags(t testing.TB, path string) (Header, []Tag) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var tags []Tag
	for {
		tg, err := r.ReadTag()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("%s: after %d tags: %v", path, len(tags), err)
			}
			return r.Header(), tags
		}
		tags = append(tags, tg)
	}
}

// ffprobe runs ffprobe counting frames; any output on stderr fails the test.
func ffprobe(t testing.TB, path string) testutil.Probe {
	t.Helper()
	p := testutil.FFprobe(t, path)
	if p.Stderr != "" {
		t.Errorf("ffprobe %s reported errors:\n%s", path, p.Stderr)
	}
	return p
}

// Synthetic media payloads.
var (
	synAVCHeader = []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 0}
	synAACHeader = []byte{0xAF, 0, 0x12, 0x10} // AAC LC 44.1 kHz stereo
)

func synKey(n int) []byte { return append([]byte{0x17, 1, 0, 0, 0}, bytes.Repeat([]byte{0x65}, n)...) }
func synInter(n int) []byte {
	return append([]byte{0x27, 1, 0, 0, 0}, bytes.Repeat([]byte{0x41}, n)...)
}
func synAudio(n int) []byte { return append([]byte{0xAF, 1}, bytes.Repeat([]byte{0x21}, n)...) }

// synMeta is a publisher's onMetaData.
func synMeta() []byte {
	o := &amfObj{ECMA: true, Props: []amfProp{
		{"duration", 0.0}, {"width", 320.0}, {"height", 240.0}, {"framerate", 25.0},
		{"videocodecid", 7.0}, {"audiocodecid", 10.0}, {"encoder", "synthetic"}, {"filesize", 0.0},
	}}
	return amfAppend(append([]byte(nil), metaPrefix...), o)
}

// synPackets returns ms of a stream at 25 fps with a keyframe every gop
// frames, audio every 23 ms, starting at timestamp t0: metadata and headers
// first.
func synPackets(t0 uint32, ms int, gop int) []*stream.Packet {
	ps := []*stream.Packet{
		stream.NewPacket(stream.KindData, t0, synMeta()),
		stream.NewPacket(stream.KindVideo, t0, synAVCHeader),
		stream.NewPacket(stream.KindAudio, t0, synAACHeader),
	}
	v, a := 0, 0
	for {
		tv, ta := v*40, a*23
		if tv >= ms && ta >= ms {
			break
		}
		if tv <= ta && tv < ms {
			payload := synInter(200)
			if v%gop == 0 {
				payload = synKey(2000)
			}
			ps = append(ps, stream.NewPacket(stream.KindVideo, t0+uint32(tv), payload))
			v++
		} else if ta < ms {
			ps = append(ps, stream.NewPacket(stream.KindAudio, t0+uint32(ta), synAudio(50)))
			a++
		} else {
			v++
		}
	}
	return ps
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, what, cond)
}

// ffmpegPackets reads an FLV into stream packets.
func fileToPackets(t testing.TB, path string) []*stream.Packet {
	_, tags := readTags(t, path)
	ps := make([]*stream.Packet, len(tags))
	for i, tg := range tags {
		ps[i] = stream.NewPacket(stream.Kind(tg.Type), tg.Timestamp, tg.Data)
	}
	return ps
}
