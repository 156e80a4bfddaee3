package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/apps/live"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream/flv"
)

// writeSyntheticFLV writes a stream of the given length: onMetaData, AVC and
// AAC sequence headers, 25 fps video with a keyframe every second (frameSize
// bytes per frame) and AAC frames every 23 ms.
func writeSyntheticFLV(t *testing.T, length time.Duration, frameSize int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synthetic.flv")
	var buf bytes.Buffer
	w, err := flv.NewWriter(&buf, flv.Header{HasAudio: true, HasVideo: true})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := message.AppendData(nil, "onMetaData", map[string]any{"width": 320.0, "height": 240.0, "framerate": 25.0})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.WriteTag(flv.Tag{Type: flv.TagScript, Data: meta}))
	must(w.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1}}))
	must(w.WriteTag(flv.Tag{Type: flv.TagAudio, Data: []byte{0xAF, 0, 0x12, 0x10}}))
	end := uint32(length / time.Millisecond)
	frame := bytes.Repeat([]byte{0x42}, frameSize)
	var vts, ats uint32
	for n := 0; vts < end; n++ {
		for ats <= vts {
			must(w.WriteTag(flv.Tag{Type: flv.TagAudio, Timestamp: ats, Data: append([]byte{0xAF, 1}, frame[:200]...)}))
			ats += 23
		}
		hdr := []byte{0x27, 1, 0, 0, 0}
		if n%25 == 0 {
			hdr[0] = 0x17
		}
		must(w.WriteTag(flv.Tag{Type: flv.TagVideo, Timestamp: vts, Data: append(hdr, frame...)}))
		vts += 40
	}
	must(os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

// quiet discards the server's logs (set SCOPECAST_TEST_LOG=1 to see them).
var quiet = func() *slog.Logger {
	if os.Getenv("SCOPECAST_TEST_LOG") == "1" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}()

// startRTMP runs an in-process RTMP server with the live app on a loopback
// port until the test ends: the server and its rtmp:// base URL.
func startRTMP(t *testing.T) (*rtmp.Server, string) {
	t.Helper()
	scopes := scope.New(scope.Options{KeepDelay: -1, Logger: quiet})
	if err := scopes.Register(live.Name, live.New()); err != nil {
		t.Fatal(err)
	}
	srv := &rtmp.Server{Scopes: scopes, Logger: quiet}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		scopes.Shutdown(ctx)
	})
	return srv, "rtmp://" + l.Addr().String()
}

// startServers runs an in-process server and an RTMPT handler for it on a
// loopback HTTP port: rtmp://… and rtmpt://… base URLs.
func startServers(t *testing.T) (string, string) {
	t.Helper()
	srv, base := startRTMP(t)
	h := &rtmp.RTMPTHandler{Server: srv}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		hs.Close()
	})
	return base, "rtmpt://" + strings.TrimPrefix(hs.URL, "http://")
}

// runBench runs the bench with cfg (at most 20 s) and logs its text report.
func runBench(t *testing.T, cfg Config) (*Report, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("report:\n%s", text.String())
	return rep, text.String()
}

func TestBenchInProcess(t *testing.T) {
	_, base := startRTMP(t)
	src := writeSyntheticFLV(t, 2*time.Second, 4000) // shorter than the run: it loops
	cfg := Config{
		URL:      base + "/live/room/bench",
		FLV:      src,
		Players:  20,
		Duration: 3 * time.Second,
		Ramp:     100,
		PID:      os.Getpid(), // the server runs in this process
	}
	rep, text := runBench(t, cfg)

	if rep.Started != 20 || rep.Connected != 20 || rep.Failed != 0 || rep.Disconnected != 0 || len(rep.Errors) != 0 {
		t.Errorf("players: %d started, %d connected, %d failed, %d disconnected, errors %v; want all 20 connected",
			rep.Started, rep.Connected, rep.Failed, rep.Disconnected, rep.Errors)
	}
	if rep.Judged != 20 || rep.Behind != 0 {
		t.Errorf("behind %d of %d judged; want 0 of 20", rep.Behind, rep.Judged)
	}
	if ff := rep.FirstFrame; ff.Players != 20 || ff.Keyframes != 20 {
		t.Errorf("first frames: %d players, %d keyframes; want 20 keyframes", ff.Players, ff.Keyframes)
	}
	if ff := rep.FirstFrame; ff.MedianMS <= 0 || ff.MaxMS > 2000 || ff.MedianMS > ff.P99MS || ff.P99MS > ff.MaxMS {
		t.Errorf("time to first frame: %+v", ff)
	}
	pub := rep.Publisher
	if pub == nil || pub.Error != "" || pub.Loops < 2 {
		t.Fatalf("publisher: %+v; want at least two loops of the 2 s file", pub)
	}
	// The file carries ~0.87 Mbit/s: 25 × 4005 bytes + 43.5 × 202 bytes per second.
	if pub.Mbps < 0.7 || pub.Mbps > 1.0 {
		t.Errorf("publisher rate %.3f Mbit/s, want ~0.87", pub.Mbps)
	}
	if rep.PerPlayerMbps < 0.6*pub.Mbps || rep.PerPlayerMbps > 1.6*pub.Mbps {
		t.Errorf("per-player rate %.3f Mbit/s vs publisher %.3f", rep.PerPlayerMbps, pub.Mbps)
	}
	if rep.DeliveredMbps < 20*0.5*pub.Mbps || rep.DeliveredMbps > 20*1.2*pub.Mbps {
		t.Errorf("delivered %.3f Mbit/s for 20 players of %.3f", rep.DeliveredMbps, pub.Mbps)
	}
	// Frames are 40 ms apart; on a loaded machine they arrive in bursts, so
	// only the order of the figures is certain.
	if g := rep.Gap; g.MaxMS <= 0 || g.MedianOfMediansMS > 200 || g.MaxMS < g.P99OfMaxMS || g.P99OfMaxMS < g.MedianOfMediansMS {
		t.Errorf("frame gaps %+v", g)
	}
	if s := rep.Server; s == nil || s.RSSAfterKB == 0 || s.CPUSeconds < 0 {
		t.Errorf("server figures %+v", s)
	}
	if !strings.Contains(text, "behind:") || !strings.Contains(text, "95%") {
		t.Error("text report lacks the behind line and its definition")
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Error(err)
	}
}

func TestBenchNoPublish(t *testing.T) {
	_, base := startRTMP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Someone else publishes: a first run's publisher, with no players of its own.
	src := writeSyntheticFLV(t, 2*time.Second, 2000)
	url := base + "/live/other"
	pubDone := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Config{URL: url, FLV: src, Players: 0, Duration: 3 * time.Second}, io.Discard)
		pubDone <- err
	}()
	// Wait until the stream is live (poll with a deadline).
	deadline := time.Now().Add(5 * time.Second)
	var rep *Report
	var err error
	for {
		rep, err = Run(ctx, Config{URL: url, NoPublish: true, Players: 5, Duration: 2200 * time.Millisecond}, io.Discard)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	if rep.Reference == nil || rep.Reference.Messages == 0 || rep.Publisher != nil {
		t.Fatalf("reference %+v publisher %+v", rep.Reference, rep.Publisher)
	}
	if rep.Connected != 5 || rep.Behind != 0 || rep.FirstFrame.Keyframes != 5 {
		t.Errorf("connected %d, behind %d of %d, keyframes %d; want 5, 0, 5", rep.Connected, rep.Behind, rep.Judged, rep.FirstFrame.Keyframes)
	}
}

func TestVideoInfo(t *testing.T) {
	for _, tc := range []struct {
		p          []byte
		frame, key bool
	}{
		{nil, false, false},
		{[]byte{0x17, 0}, false, false},                  // AVC sequence header
		{[]byte{0x17, 1, 0, 0, 0}, true, true},           // AVC keyframe
		{[]byte{0x27, 1, 0, 0, 0}, true, false},          // AVC inter frame
		{[]byte{0x17, 2}, false, false},                  // AVC end of sequence
		{[]byte{0x57, 0}, false, false},                  // command frame
		{[]byte{0x12, 0}, true, true},                    // Sorenson keyframe
		{[]byte{0x90, 'h', 'v', 'c', '1'}, false, false}, // enhanced sequence start
		{[]byte{0x91, 'h', 'v', 'c', '1'}, true, true},   // enhanced coded frames, key
		{[]byte{0xA3, 'a', 'v', '0', '1'}, true, false},  // enhanced coded frames X, inter
		{[]byte{0x94, 'h', 'v', 'c', '1'}, false, false}, // enhanced metadata
	} {
		frame, key := videoInfo(tc.p)
		if frame != tc.frame || key != tc.key {
			t.Errorf("videoInfo(% x) = %v, %v; want %v, %v", tc.p, frame, key, tc.frame, tc.key)
		}
	}
}

// The -ramp values are benchutil.ParsePerSecond's (tested there).
func TestArgs(t *testing.T) {
	if err := run(context.Background(), []string{"-ramp", "NaN"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-ramp") {
		t.Errorf("-ramp NaN: %v", err)
	}
	args, err := ffmpegArgs("2M", "1280x720", 10*time.Second, "/tmp/x.flv")
	if err != nil {
		t.Fatal(err)
	}
	line := shellJoin(args)
	for _, want := range []string{"-c:v libx264 -preset ultrafast", "-b:v 2M", "-g 25", "-c:a aac", "-t 10.000", "/tmp/x.flv"} {
		if !strings.Contains(line, want) {
			t.Errorf("ffmpeg command %q lacks %q", line, want)
		}
	}
	if _, err := ffmpegArgs("2M; rm -rf /", "1280x720", time.Second, "x"); err == nil {
		t.Error("a bad bitrate was accepted")
	}
	if err := run(context.Background(), []string{"-url", "rtmp://h/live"}, io.Discard, io.Discard); err == nil {
		t.Error("a URL without a stream name was accepted")
	}
}

// RTMPT publisher and players: 20 players, two source addresses (the
// server allows 16 RTMPT sessions per client IP by default).
func TestBenchRTMPT(t *testing.T) {
	_, tbase := startServers(t)
	src := writeSyntheticFLV(t, 2*time.Second, 4000)
	ips, err := parseSourceIPs("127.0.0.1-127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{URL: tbase + "/live/bench", FLV: src, Players: 20, Duration: 3 * time.Second, Ramp: 100, SourceIPs: ips}
	rep, _ := runBench(t, cfg)
	if rep.Connected != 20 || rep.Failed != 0 || rep.Disconnected != 0 || len(rep.Errors) != 0 {
		t.Errorf("players: %d connected, %d failed, %d disconnected, errors %v; want all 20 connected",
			rep.Connected, rep.Failed, rep.Disconnected, rep.Errors)
	}
	if rep.Publisher == nil || rep.Publisher.Error != "" || rep.Judged == 0 {
		t.Fatalf("publisher %+v, %d judged", rep.Publisher, rep.Judged)
	}
	if rep.Behind > 0 {
		t.Errorf("%d of %d RTMPT players behind", rep.Behind, rep.Judged)
	}
}

// An RTMP publisher with RTMPT players (-player-url).
func TestBenchPlayerURL(t *testing.T) {
	base, tbase := startServers(t)
	src := writeSyntheticFLV(t, 2*time.Second, 4000)
	cfg := Config{URL: base + "/live/mix", PlayerURL: tbase + "/live/mix", FLV: src, Players: 5, Duration: 2500 * time.Millisecond}
	rep, _ := runBench(t, cfg)
	if rep.Connected != 5 || rep.Behind != 0 || rep.PlayerURL != cfg.PlayerURL || rep.PerPlayerMbps <= 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestParseSourceIPs(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "[]",
		"127.0.0.2":             "[127.0.0.2]",
		"127.0.0.2, 127.0.0.3":  "[127.0.0.2 127.0.0.3]",
		"127.0.0.254-127.0.1.1": "[127.0.0.254 127.0.0.255 127.0.1.0 127.0.1.1]",
		"10.0.0.1-10.0.0.1":     "[10.0.0.1]",
		"::1":                   "[::1]",
	} {
		ips, err := parseSourceIPs(in)
		if got := fmt.Sprint(ips); err != nil || got != want {
			t.Errorf("parseSourceIPs(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "127.0.0.3-127.0.0.2", "127.0.0.1-", "10.0.0.0-10.1.0.0", "::1-::2", "1.2.3.4,,"} {
		if _, err := parseSourceIPs(in); err == nil {
			t.Errorf("parseSourceIPs(%q) accepted", in)
		}
	}
	if err := run(context.Background(), []string{"-url", "rtmp://h/live/x", "-player-url", "rtmpt://h/live"}, io.Discard, io.Discard); err == nil {
		t.Error("a -player-url without a stream name was accepted")
	}
}
