package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
)

// Shared with the other packages' integration tests.
var (
	waitFor = testutil.WaitFor
)

// startRTMPT serves RTMPT for srv on a loopback HTTP server and returns its
// base URL, rtmpt://127.0.0.1:port.
func startRTMPT(t *testing.T, srv *rtmp.Server, opts ...func(*rtmp.RTMPTHandler)) (string, *rtmp.RTMPTHandler) {
	t.Helper()
	h := &rtmp.RTMPTHandler{Server: srv}
	for _, o := range opts {
		o(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("rtmpt shutdown: %v", err)
		}
		hs.Close()
	})
	return "rtmpt://" + strings.TrimPrefix(hs.URL, "http://"), h
}

func TestRTMPTDialConnectCall(t *testing.T) {
	_, srv := startServerSrv(t)
	base, h := startRTMPT(t, srv)
	for _, opts := range []client.Options{{}, {Digest: true, ObjectEncoding: 3, ChunkSize: 128}} {
		c := dial(t, base+"/live/room1", opts)
		if info := c.ConnectInfo(); info == nil || info.GetString("code") != "NetConnection.Connect.Success" {
			t.Fatalf("ConnectInfo = %v", info)
		}
		v, err := c.Call(testCtx(t), "getLiveStreams")
		if err != nil {
			t.Fatal(err)
		}
		if l, ok := v.([]any); !ok || len(l) != 0 {
			t.Errorf("getLiveStreams = %#v, want empty list", v)
		}
		var ce *client.CallError
		if _, err := c.Call(testCtx(t), "noSuchMethod"); !errors.As(err, &ce) || ce.Code != "NetConnection.Call.Failed" {
			t.Errorf("Call(noSuchMethod) = %v, want CallError", err)
		}
		conns := srv.Conns()
		if len(conns) != 1 || conns[0].Protocol() != "rtmpt" {
			t.Fatalf("server connections %v, want one rtmpt", conns)
		}
		if h.Stats().Sessions.Load() != 1 {
			t.Errorf("%d rtmpt sessions, want 1", h.Stats().Sessions.Load())
		}
		c.Close()
		waitFor(t, 5*time.Second, "the server connection to end", func() bool { return len(srv.Conns()) == 0 })
	}
}

func TestRTMPTPublishPlay(t *testing.T) {
	base, srv := startServerSrv(t)
	tbase, h := startRTMPT(t, srv)
	t.Run("rtmpt to rtmpt", func(t *testing.T) { roundTrip(t, tbase, tbase, "a") })
	t.Run("rtmp to rtmpt", func(t *testing.T) { roundTrip(t, base, tbase, "b") })
	t.Run("rtmpt to rtmp", func(t *testing.T) { roundTrip(t, tbase, base, "c") })
	if h.Stats().BytesIn.Load() == 0 || h.Stats().BytesOut.Load() == 0 {
		t.Errorf("rtmpt carried %d bytes in, %d out", h.Stats().BytesIn.Load(), h.Stats().BytesOut.Load())
	}
}

func TestRTMPTConnectRejected(t *testing.T) {
	_, srv := startServerSrv(t)
	base, h := startRTMPT(t, srv)
	_, err := client.Dial(testCtx(t), base+"/nosuchapp/room", client.Options{})
	var ce *client.ConnectError
	if !errors.As(err, &ce) || ce.Code != "NetConnection.Connect.InvalidApp" {
		t.Fatalf("Dial = %v, want ConnectError InvalidApp", err)
	}
	waitFor(t, 5*time.Second, "the session to end", func() bool { return h.Stats().Sessions.Load() == 0 })
}

func TestRTMPTOpenRefused(t *testing.T) {
	_, srv := startServerSrv(t)
	base, _ := startRTMPT(t, srv, func(h *rtmp.RTMPTHandler) { h.MaxSessions = 1 })
	dial(t, base+"/live", client.Options{})
	_, err := client.Dial(testCtx(t), base+"/live", client.Options{})
	if !errors.Is(err, client.ErrRTMPT) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Dial over the session limit = %v, want ErrRTMPT with HTTP 503", err)
	}
	// Not an RTMPT server at all.
	hs := httptest.NewServer(http.NotFoundHandler())
	defer hs.Close()
	_, err = client.Dial(testCtx(t), "rtmpt://"+strings.TrimPrefix(hs.URL, "http://")+"/live", client.Options{})
	if !errors.Is(err, client.ErrRTMPT) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Dial of a plain HTTP server = %v, want ErrRTMPT with HTTP 404", err)
	}
}

// Close sends /close: the server's session ends at once.
func TestRTMPTCloseEndsSession(t *testing.T) {
	_, srv := startServerSrv(t)
	base, h := startRTMPT(t, srv)
	c, err := client.Dial(testCtx(t), base+"/live", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.Stats().Sessions.Load(); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
	// Let it go quiet, so the poller is waiting or in a held poll.
	polls := h.Stats().Polls.Load()
	waitFor(t, 5*time.Second, "two empty polls", func() bool { return h.Stats().Polls.Load() >= polls+2 })
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if n := h.Stats().Sessions.Load(); n != 0 {
		t.Errorf("%d sessions after Close, want 0", n)
	}
	for i := 0; ; i++ { // messages already buffered may still be read
		if _, err := c.ReadMessage(); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("ReadMessage after Close = %v, want net.ErrClosed", err)
			}
			break
		}
		if i > 10 {
			t.Fatal("ReadMessage keeps succeeding after Close")
		}
	}
	waitFor(t, 5*time.Second, "the server connection to end", func() bool { return len(srv.Conns()) == 0 })
}

// The server closing the connection reaches the client as the end of the
// stream.
func TestRTMPTServerCloses(t *testing.T) {
	_, srv := startServerSrv(t)
	base, h := startRTMPT(t, srv)
	c := dial(t, base+"/live", client.Options{})
	conns := srv.Conns()
	if len(conns) != 1 {
		t.Fatalf("%d server connections", len(conns))
	}
	conns[0].Close(errors.New("test"))
	for {
		_, err := c.ReadMessage()
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("ReadMessage = %v, want EOF", err)
		}
		break
	}
	waitFor(t, 5*time.Second, "the session to end", func() bool { return h.Stats().Sessions.Load() == 0 })
	if err := c.WriteMessage(&chunk.Message{TypeID: chunk.TypeAudio, Payload: []byte{0xAF}}); err == nil {
		t.Error("a write after the session ended succeeded")
	}
}

func TestRTMPTDeadline(t *testing.T) {
	_, srv := startServerSrv(t)
	base, _ := startRTMPT(t, srv)
	c := dial(t, base+"/live", client.Options{})
	start := time.Now()
	c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	var err error
	for err == nil {
		_, err = c.ReadMessage()
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("ReadMessage = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the deadline fired after %v", d)
	}

	// Close from another goroutine unblocks a ReadMessage at once.
	c2 := dial(t, base+"/live", client.Options{})
	c2.SetDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := c2.ReadMessage(); err != nil {
				done <- err
				return
			}
		}
	}()
	start = time.Now()
	c2.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadMessage after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadMessage still blocked 5 s after Close")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
}

// A server that closes the HTTP connection after every answer: the client
// dials a new one for the next request, and the session goes on.
func TestRTMPTNoKeepAlive(t *testing.T) {
	base, srv := startServerSrv(t)
	h := &rtmp.RTMPTHandler{Server: srv}
	hs := httptest.NewUnstartedServer(h)
	hs.Config.SetKeepAlivesEnabled(false)
	hs.Start()
	t.Cleanup(func() {
		h.Close()
		hs.Close()
	})
	tbase := "rtmpt://" + strings.TrimPrefix(hs.URL, "http://")
	roundTrip(t, base, tbase, "room")
}
