package httpflv_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ffmpeg publishes over RTMP; ffprobe reads the HTTP-FLV URL and finds
// H.264 320x240 and AAC; ffmpeg decodes 50 video frames from it.
func TestHTTPFLVFFprobeAndDecode(t *testing.T) {
	e := startEnv(t)
	ffprobe := needTool(t, "ffprobe")
	ffmpeg := needTool(t, "ffmpeg")
	ffmpegPublish(t, e.rtmpURL("live/room1/cam1"), 20, 25)
	e.waitPublishing(t, "live/room1", "cam1")
	url := e.HTTP + "/live/room1/cam1.flv"

	out, err := exec.Command(ffprobe, "-v", "error", "-rw_timeout", "10000000",
		"-show_entries", "stream=codec_type,codec_name,width,height", "-of", "compact", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	for _, want := range []string{"codec_name=h264|codec_type=video|width=320|height=240", "codec_name=aac|codec_type=audio"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ffprobe found:\n%s\nwant %s", out, want)
		}
	}

	cmd := exec.Command(ffmpeg, "-hide_banner", "-v", "error", "-nostdin", "-rw_timeout", "10000000",
		"-i", url, "-frames:v", "50", "-progress", "pipe:1", "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg decoding %s: %v\n%s", url, err, stderr.String())
	}
	if !strings.Contains(string(out), "frame=50\n") {
		t.Errorf("ffmpeg progress:\n%s\nwant frame=50", out)
	}
	if strings.Contains(stderr.String(), "rror") {
		t.Errorf("ffmpeg complained:\n%s", stderr.String())
	}
	t.Logf("50 frames decoded in %v (the GOP cache gives up to 1 s at once)", time.Since(start).Round(time.Millisecond))
}
