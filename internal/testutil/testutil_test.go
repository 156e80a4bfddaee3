package testutil

import (
	"io"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitForPolls(t *testing.T) {
	var n atomic.Int32
	go func() {
		time.Sleep(20 * time.Millisecond)
		n.Store(1)
	}()
	WaitFor(t, 5*time.Second, "the flag", func() bool { return n.Load() == 1 })
}

func TestNeedToolFindsAShell(t *testing.T) {
	if NeedTool(t, "sh") == "" {
		t.Fatal("no path for sh")
	}
}

// The test pattern, written to a file, is what FFprobe and CheckFile say.
func TestPatternProbes(t *testing.T) {
	ffmpeg := NeedTool(t, "ffmpeg")
	file := filepath.Join(t.TempDir(), "pattern.flv")
	args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, TestPattern(1, 25)...)
	if out, err := exec.Command(ffmpeg, append(args, "-f", "flv", file)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	p := CheckFile(t, file)
	if p.VideoCodec != "h264" || p.AudioCodec != "aac" || len(p.Codecs) != 2 || p.Width != 320 || p.Height != 240 {
		t.Errorf("probe %+v", p)
	}
	if p.VideoFrames != 25 || p.AudioFrames < 40 || p.Duration < 0.9 || p.Duration > 1.1 {
		t.Errorf("frames %d video, %d audio in %.3f s", p.VideoFrames, p.AudioFrames, p.Duration)
	}
}

func TestTCPPair(t *testing.T) {
	d, a := TCPPair(t)
	if _, err := d.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("accepted end read %q, %v", buf, err)
	}
	if d.LocalAddr().String() != a.RemoteAddr().String() {
		t.Fatalf("ends of different connections: %v, %v", d.LocalAddr(), a.RemoteAddr())
	}
}
