package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/apps/chat"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/wsbridge"
)

// startServer runs an in-process server: the chat app with presence, the
// RTMP server and the WebSocket bridge, as cmd/scopecast mounts them, with
// the shared objects' merge window (0: none). It returns the ws:// and
// rtmp:// URLs of room /chat/bench.
func startServer(t *testing.T, window time.Duration) (wsURL, rtmpURL string) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	scopes := scope.New(scope.Options{Logger: log, SharedObjectMergeWindow: window})
	app := chat.New()
	app.Presence = true
	if err := scopes.Register(chat.Name, app); err != nil {
		t.Fatal(err)
	}
	srv := &rtmp.Server{Scopes: scopes, Logger: log}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(l)
	}()
	h := &wsbridge.Handler{Scopes: scopes, Page: chat.Page(), Logger: log}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		hs.Close()
		srv.Shutdown(ctx)
		scopes.Shutdown(ctx)
		<-served
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/chat/bench", "rtmp://" + l.Addr().String() + "/chat/bench"
}

// Both message paths, both kinds of clients: every message reaches every
// other client exactly once, senders get acknowledgements, and the report
// adds up.
func TestRunInProcess(t *testing.T) {
	for _, mode := range []string{ModeChat, ModeSend} {
		t.Run(mode, func(t *testing.T) {
			wsURL, rtmpURL := startServer(t, 0)
			cfg := Config{
				WSURL: wsURL, RTMPURL: rtmpURL, WSClients: 8, RTMPClients: 3,
				Rate: 40, RTMPShare: 0.3, Duration: time.Second, Mode: mode,
				Settle: 100 * time.Millisecond, Drain: 10 * time.Second, Seed: 7,
			}
			rep := runExactlyOnce(t, cfg)
			var out bytes.Buffer
			rep.WriteText(&out)
			t.Log("\n" + out.String())
			d := rep.Deliveries
			if rep.Run.SentWS == 0 || rep.Run.SentRTMP == 0 || rep.Run.Writers < 2 {
				t.Errorf("sent %d ws, %d rtmp from %d clients; want both kinds, from several", rep.Run.SentWS, rep.Run.SentRTMP, rep.Run.Writers)
			}
			wantEchoes := int64(0)
			if mode == ModeSend {
				wantEchoes = int64(rep.Run.SentRTMP) // an RTMP sender gets its own send back
			}
			if d.Echoes != wantEchoes || d.Acks != d.AcksWanted {
				t.Errorf("echoes %d (want %d), acks %d of %d", d.Echoes, wantEchoes, d.Acks, d.AcksWanted)
			}
			for _, path := range []string{"ws→ws", "ws→rtmp", "rtmp→ws", "rtmp→rtmp"} {
				if rep.ByPath[path].N == 0 {
					t.Errorf("no deliveries on path %s", path)
				}
			}
			if rep.Latency.P50 <= 0 || rep.Latency.Max < rep.Latency.P99 {
				t.Errorf("latency %+v", rep.Latency)
			}
			// Every message reached every receiver, so each has a last
			// delivery, no earlier than any single delivery's median.
			if l := rep.LastReceiver; l.N != rep.Run.Sent || l.P99 < rep.Latency.P50 || l.Max != rep.Latency.Max {
				t.Errorf("last receiver %+v (sent %d, latency %+v)", l, rep.Run.Sent, rep.Latency)
			}
			if f := rep.FirstReceiver; f.N != rep.Run.Sent || f.P50 > rep.LastReceiver.P50 || f.Max > rep.LastReceiver.Max {
				t.Errorf("first receiver %+v, last %+v", f, rep.LastReceiver)
			}
			// On Linux every read has the kernel's receive stamp, which
			// comes before the tool's read of the same bytes.
			if runtime.GOOS == "linux" {
				sl, sf := rep.SocketLastReceiver, rep.SocketFirstReceiver
				if sl.N != rep.Run.Sent || sf.N != rep.Run.Sent || sf.P50 <= 0 || sf.P50 > sl.P50 {
					t.Errorf("socket latencies: last %+v, first %+v; want %d messages each", sl, sf, rep.Run.Sent)
				}
				if sl.P50 > rep.LastReceiver.P50 || sl.Max > rep.LastReceiver.Max {
					t.Errorf("to the socket %+v, later than to the tool's read %+v", sl, rep.LastReceiver)
				}
			}
		})
	}
}

// -writers 1 is the benchmark: one writer makes every change, the
// other clients receive each once.
func TestRunInProcessOneWriter(t *testing.T) {
	wsURL, rtmpURL := startServer(t, 5*time.Millisecond)
	cfg := Config{
		WSURL: wsURL, RTMPURL: rtmpURL, RTMPClients: 6, Writers: 1,
		Rate: 50, RTMPShare: 1, Duration: time.Second, Mode: ModeChat,
		Settle: 100 * time.Millisecond, Drain: 10 * time.Second, Seed: 7,
	}
	rep := runExactlyOnce(t, cfg)
	if rep.Run.Writers != 1 || rep.Run.SentRTMP != rep.Run.Sent {
		t.Errorf("sent %d (%d rtmp) from %d clients; want all from one RTMP client", rep.Run.Sent, rep.Run.SentRTMP, rep.Run.Writers)
	}
	if d := rep.Deliveries; d.Acks != d.AcksWanted {
		t.Errorf("acks %d of %d", d.Acks, d.AcksWanted)
	}
}

// With the merge window and 520 subscribers the object's sweeps are split
// over goroutines (sharedobject's sweepSplit, at GOMAXPROCS 2 or more): under
// the race detector, every change still reaches every other client once.
func TestRunInProcessSplitSweeps(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	wsURL, rtmpURL := startServer(t, 5*time.Millisecond)
	cfg := Config{
		WSURL: wsURL, RTMPURL: rtmpURL, WSClients: 8, RTMPClients: 512,
		Rate: 200, RTMPShare: 0.9, Duration: time.Second, Mode: ModeChat,
		Settle: 100 * time.Millisecond, Drain: 20 * time.Second, Seed: 7,
	}
	if d := runExactlyOnce(t, cfg).Deliveries; d.Acks != d.AcksWanted {
		t.Errorf("acks %d of %d", d.Acks, d.AcksWanted)
	}
}

// runExactlyOnce runs cfg and checks that it sent every message of its rate
// and duration and that each reached every other client exactly once.
func runExactlyOnce(t *testing.T, cfg Config) *Report {
	t.Helper()
	rep, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Deliveries
	sent := int(cfg.Rate * cfg.Duration.Seconds())
	if want := int64(sent * (cfg.WSClients + cfg.RTMPClients - 1)); rep.Run.Sent != sent || d.Expected != want || d.Received != want || d.Lost != 0 || !rep.Run.Complete {
		t.Errorf("sent %d, expected %d, received %d, lost %d, complete %v; want %d sent, %d in", rep.Run.Sent, d.Expected, d.Received, d.Lost, rep.Run.Complete, sent, want)
	}
	if d.Duplicates != 0 || d.Stray != 0 || d.ErrFrames != 0 || d.Disconnected != 0 || len(rep.Errors) != 0 {
		t.Errorf("duplicates %d, stray %d, error frames %d, disconnected %d, errors %v; want none",
			d.Duplicates, d.Stray, d.ErrFrames, d.Disconnected, rep.Errors)
	}
	return rep
}

// The -rate and -ramp values are benchutil.ParsePerSecond's (tested there).
func TestArgs(t *testing.T) {
	for _, args := range [][]string{{"-rate", "x/s"}, {"-rate", "0"}, {"-ramp", "-1"}, {"-writers", "-1"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%q: %v", args, err)
		}
	}
}
