package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/stream/flv"
)

// maxSourceBytes bounds the FLV file loaded into memory.
const maxSourceBytes = 512 << 20

// srcTag is one tag of the source file, ready to send.
type srcTag struct {
	typ     uint8  // chunk.TypeAudio, TypeVideo or TypeDataAMF0
	ts      uint32 // relative to the file's first tag
	payload []byte // for data: wrapped in @setDataFrame
}

// source is an FLV file loaded for publishing in a loop.
type source struct {
	tags      []srcTag
	span      uint32  // timestamp advance per loop: last timestamp + one frame interval
	videoFPS  float64 // video frames per second (0: no video)
	msgPerSec float64 // media messages per second
	bytes     int64   // media payload bytes in one loop
}

func loadSource(path string) (*source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := flv.NewReader(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := &source{}
	var total int64
	first := true
	var base, lastTS, lastV, prevV uint32
	var videos, media int
	for {
		t, err := r.ReadTag()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, flv.ErrTruncated) && len(s.tags) > 0 {
				break // a file cut short (e.g. an interrupted recording) still plays
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if total += int64(len(t.Data)); total > maxSourceBytes {
			return nil, fmt.Errorf("%s: more than %d MiB of tags; use a shorter file", path, maxSourceBytes>>20)
		}
		if first {
			base, first = t.Timestamp, false
		}
		ts := t.Timestamp - base
		if t.Timestamp < base {
			ts = 0
		}
		st := srcTag{ts: ts, payload: t.Data}
		switch t.Type {
		case flv.TagAudio:
			st.typ = chunk.TypeAudio
		case flv.TagVideo:
			st.typ = chunk.TypeVideo
			if isFrame(t.Data) {
				videos++
				prevV, lastV = lastV, ts
			}
		case flv.TagScript:
			st.typ = chunk.TypeDataAMF0
			p, err := message.AppendData(nil, "@setDataFrame")
			if err != nil {
				return nil, err
			}
			st.payload = append(p, t.Data...)
		}
		if st.typ != chunk.TypeDataAMF0 {
			media++
			s.bytes += int64(len(st.payload))
		}
		lastTS = max(lastTS, ts)
		s.tags = append(s.tags, st)
	}
	if media == 0 {
		return nil, fmt.Errorf("%s: no audio or video tags", path)
	}
	interval := uint32(40)
	if videos > 1 && lastV > prevV {
		interval = lastV - prevV
	}
	s.span = lastTS + interval
	secs := float64(s.span) / 1000
	s.videoFPS = float64(videos) / secs
	s.msgPerSec = float64(media) / secs
	return s, nil
}

var bitrateRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?[kKmM]?$`)
var sizeRE = regexp.MustCompile(`^[0-9]+x[0-9]+$`)

// ffmpegArgs returns the ffmpeg command line that generates a test FLV:
// libx264 ultrafast at bitrate with a 1 s keyframe interval and AAC audio.
func ffmpegArgs(bitrate, size string, length time.Duration, out string) ([]string, error) {
	if !bitrateRE.MatchString(bitrate) {
		return nil, fmt.Errorf("-gen-bitrate %q: want a number with an optional k or M suffix", bitrate)
	}
	if !sizeRE.MatchString(size) {
		return nil, fmt.Errorf("-gen-size %q: want WIDTHxHEIGHT", size)
	}
	if length < time.Second {
		return nil, fmt.Errorf("-gen-length %v: want at least 1s", length)
	}
	return []string{"ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", fmt.Sprintf("%.3f", length.Seconds()),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate,
		"-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "128k",
		"-f", "flv", out}, nil
}

// generate runs ffmpeg into a new temporary directory and returns the file,
// the command as a shell line, and a cleanup function.
func generate(bitrate, size string, length time.Duration) (path, cmdline string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "scopecast-bench-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, "gen.flv")
	args, err := ffmpegArgs(bitrate, size, length, path)
	if err != nil {
		cleanup()
		return "", "", nil, err
	}
	cmdline = shellJoin(args)
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		cleanup()
		return "", cmdline, nil, fmt.Errorf("ffmpeg: %w\n%s", err, out)
	}
	return path, cmdline, cleanup, nil
}

func shellJoin(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=:./,+") == "" {
			b.WriteString(a)
		} else {
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		}
	}
	return b.String()
}

// videoInfo classifies a video payload: frame is false for sequence
// headers, end-of-sequence and metadata packets and command frames; key is
// the frame type 1. Legacy FLV (codec in the low nibble, AVC/HEVC packet type
// in byte 1) and Enhanced RTMP (bit 0x80, packet type in the low nibble).
func videoInfo(p []byte) (frame, key bool) {
	if len(p) == 0 {
		return false, false
	}
	b := p[0]
	if b&0x80 != 0 { // Enhanced RTMP
		ft, pt := (b>>4)&7, b&0x0F
		if ft == 5 || (pt != 1 && pt != 3) {
			return false, false
		}
		return true, ft == 1
	}
	ft, codec := b>>4, b&0x0F
	if ft == 5 {
		return false, false
	}
	if codec == 7 || codec == 12 { // AVC, HEVC (legacy extension)
		if len(p) < 2 || p[1] != 1 {
			return false, false
		}
	}
	return true, ft == 1
}

func isFrame(p []byte) bool {
	f, _ := videoInfo(p)
	return f
}
