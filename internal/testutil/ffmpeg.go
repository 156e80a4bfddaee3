package testutil

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestPattern returns ffmpeg's input and encoding arguments for the media the
// integration tests publish and record: lavfi's testsrc2, 320x240 at 25 fps,
// in H.264 (ultrafast, zerolatency, yuv420p, a keyframe every gop frames) and
// a 440 Hz sine at 44.1 kHz in AAC at 64 kbit/s, secs seconds long. The
// output options and the output are the caller's.
func TestPattern(secs float64, gop int) []string {
	return []string{
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", strconv.FormatFloat(secs, 'f', -1, 64),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", strconv.Itoa(gop), "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "64k",
	}
}

// FFmpegPublish starts ffmpeg publishing TestPattern(secs, gop) in real time
// (-re) as FLV to url (rtmp://, rtmps://, rtmpt://…); extra goes before the
// output. The caller may Wait for it; when the test ends ffmpeg is killed if
// it still runs, and its error output is logged if the test failed.
func FFmpegPublish(t testing.TB, url string, secs float64, gop int, extra ...string) *exec.Cmd {
	t.Helper()
	bin := NeedTool(t, "ffmpeg")
	args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re"}, TestPattern(secs, gop)...)
	args = append(args, extra...)
	args = append(args, "-f", "flv", url)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("publisher stderr: %s", stderr.String())
		}
	})
	return cmd
}

// Probe is what ffprobe found in a media file, decoding all of it.
type Probe struct {
	Codecs      []string // codec names in stream order
	VideoCodec  string   // the video stream's codec name
	AudioCodec  string   // the audio stream's codec name
	VideoFrames int
	AudioFrames int
	Width       int
	Height      int
	StartTime   float64 // s
	Duration    float64 // s; for FLV, onMetaData's duration when there is one
	Stderr      string  // ffprobe's error output (-v error)
}

// FFprobe runs ffprobe on file, counting frames. A file ffprobe cannot open
// fails the test; what it says on stderr about the rest is in Stderr.
func FFprobe(t testing.TB, file string) Probe {
	t.Helper()
	bin := NeedTool(t, "ffprobe")
	cmd := exec.Command(bin, "-v", "error", "-count_frames",
		"-show_entries", "stream=codec_type,codec_name,nb_read_frames,width,height:format=start_time,duration",
		"-of", "json", file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", file, err, stderr.String())
	}
	var out struct {
		Streams []struct {
			CodecType    string `json:"codec_type"`
			CodecName    string `json:"codec_name"`
			NbReadFrames string `json:"nb_read_frames"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
		} `json:"streams"`
		Format struct {
			StartTime string `json:"start_time"`
			Duration  string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("ffprobe %s output: %v\n%s", file, err, stdout.String())
	}
	p := Probe{Stderr: stderr.String()}
	p.StartTime, _ = strconv.ParseFloat(out.Format.StartTime, 64)
	p.Duration, _ = strconv.ParseFloat(out.Format.Duration, 64)
	for _, s := range out.Streams {
		p.Codecs = append(p.Codecs, s.CodecName)
		n, _ := strconv.Atoi(s.NbReadFrames)
		switch s.CodecType {
		case "video":
			p.VideoCodec, p.VideoFrames = s.CodecName, n
			p.Width, p.Height = s.Width, s.Height
		case "audio":
			p.AudioCodec, p.AudioFrames = s.CodecName, n
		}
	}
	return p
}

// CheckFile probes file and decodes all of it with ffmpeg: a word on stderr
// from either fails the test.
func CheckFile(t testing.TB, file string) Probe {
	t.Helper()
	p := FFprobe(t, file)
	if p.Stderr != "" {
		t.Errorf("ffprobe %s reported errors:\n%s", filepath.Base(file), p.Stderr)
	}
	dec := exec.Command(NeedTool(t, "ffmpeg"), "-hide_banner", "-v", "error", "-nostdin", "-i", file, "-f", "null", "-")
	var stderr bytes.Buffer
	dec.Stderr = &stderr
	if err := dec.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("decoding %s: %v\n%s", filepath.Base(file), err, stderr.String())
	}
	return p
}
