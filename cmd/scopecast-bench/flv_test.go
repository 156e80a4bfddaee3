package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/stream/httpflv"
)

// startFLVServer runs an in-process RTMP server and the HTTP-FLV handler on
// loopback ports: the rtmp:// base URL and the HTTP host:port.
func startFLVServer(t *testing.T) (string, string) {
	t.Helper()
	srv, base := startRTMP(t)
	h := &httpflv.Handler{Scopes: srv.Scopes, Logger: quiet}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	go hs.Serve(hl)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		h.Shutdown(ctx)
	})
	return base, hl.Addr().String()
}

// HTTP-FLV and WebSocket-FLV players: all connect, none behind, keyframe
// first, and the latency figure is there.
func TestBenchFLVPlayers(t *testing.T) {
	for _, scheme := range []string{"http", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			base, hostport := startFLVServer(t)
			src := writeSyntheticFLV(t, 2*time.Second, 4000)
			cfg := Config{
				URL:       base + "/live/room/bench",
				PlayerURL: scheme + "://" + hostport + "/live/room/bench.flv",
				FLV:       src,
				Players:   20,
				Duration:  3 * time.Second,
				Ramp:      100,
				PID:       os.Getpid(),
			}
			rep, text := runBench(t, cfg)
			if rep.Connected != 20 || rep.Failed != 0 || rep.Disconnected != 0 || len(rep.Errors) != 0 {
				t.Errorf("players: %d connected, %d failed, %d disconnected, errors %v", rep.Connected, rep.Failed, rep.Disconnected, rep.Errors)
			}
			if rep.Judged != 20 || rep.Behind != 0 {
				t.Errorf("behind %d of %d judged", rep.Behind, rep.Judged)
			}
			if ff := rep.FirstFrame; ff.Players != 20 || ff.Keyframes != 20 {
				t.Errorf("first frames %+v", ff)
			}
			if l := rep.Latency; l == nil || l.Frames == 0 || l.MedianMS > 1000 || l.MedianMS > l.P99MS || l.P99MS > l.MaxMS {
				t.Errorf("latency %+v", l)
			}
			if !strings.Contains(text, "latency:") {
				t.Error("no latency line")
			}
		})
	}
}

func TestParseFLVURL(t *testing.T) {
	for _, c := range []struct {
		in      string
		ok, bad bool
		host    string
	}{
		{"", false, false, ""},
		{"rtmp://h/live/x", false, false, ""},
		{"rtmpt://h:5080/live/x", false, false, ""},
		{"http://h:5080/live/x.flv", true, false, "h:5080"},
		{"ws://h/live/room/x.flv?token=1", true, false, "h:80"},
		{"http://h:5080/live/x", false, true, ""},
		{"https://h/live/x.flv", false, true, ""},
		{"http:///x.flv", false, true, ""},
	} {
		u, ok, err := parseFLVURL(c.in)
		if ok != c.ok || (err != nil) != c.bad || ok && u.Host != c.host {
			t.Errorf("parseFLVURL(%q) = %v, %v, %v", c.in, u, ok, err)
		}
	}
}
