package rtmp_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/handshake"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/scope"
)

// rawClient is a hand-made RTMP client whose connect command object carries
// what the test wants (rtmp/client sends a fixed one): here, Enhanced RTMP's
// fourCcList and capsEx. A goroutine reads everything the server sends and
// keeps the commands, in order, until the connection ends.
type rawClient struct {
	nc    net.Conn
	props *amf.Object // connect _result properties

	mu    sync.Mutex
	cmds  []message.Command
	msids []uint32 // message stream of each command
	err   error    // why reading ended
	ended time.Time
	done  chan struct{}
}

func dialRaw(t testing.TB, addr, app string, connectProps ...any) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	if err := handshake.Client(br, nc, false); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	obj := amf.Obj("app", app, "type", "nonprivate", "flashVer", "FMLE/3.0 (compatible; drain test)",
		"tcUrl", "rtmp://"+addr+"/"+app, "objectEncoding", 0.0)
	for i := 0; i+1 < len(connectProps); i += 2 {
		obj.Set(connectProps[i].(string), connectProps[i+1])
	}
	p, err := message.AppendCommand(nil, "connect", 1, obj)
	if err != nil {
		t.Fatal(err)
	}
	wr := chunk.NewWriter(nc, chunk.DefaultChunkSize)
	if err := wr.WriteMessage(&chunk.Message{ChunkStreamID: 3, TypeID: chunk.TypeCommandAMF0, Payload: p}); err != nil {
		t.Fatal(err)
	}
	rd := chunk.NewReader(br, chunk.Limits{})
	c := &rawClient{nc: nc, done: make(chan struct{})}
	for c.props == nil {
		m, err := rd.ReadMessage()
		if err != nil {
			t.Fatalf("reading the connect reply: %v", err)
		}
		if m.TypeID != chunk.TypeCommandAMF0 {
			continue
		}
		cmd, err := message.DecodeCommand(m.Payload, false, amf.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if cmd.Name != "_result" || cmd.TxID != 1 {
			t.Fatalf("connect answered with %s %v", cmd.Name, cmd.Arg(0))
		}
		c.props, _ = cmd.Object.(*amf.Object)
		if c.props == nil {
			c.props = &amf.Object{}
		}
	}
	nc.SetDeadline(time.Time{})
	go func() {
		defer close(c.done)
		for {
			m, err := rd.ReadMessage()
			if err != nil {
				c.mu.Lock()
				c.err, c.ended = err, time.Now()
				c.mu.Unlock()
				return
			}
			if m.TypeID != chunk.TypeCommandAMF0 {
				continue
			}
			if cmd, err := message.DecodeCommand(m.Payload, false, amf.Limits{}); err == nil {
				c.mu.Lock()
				c.cmds = append(c.cmds, cmd)
				c.msids = append(c.msids, m.StreamID)
				c.mu.Unlock()
			}
		}
	}()
	return c
}

// reconnectRequest returns the information object of the
// NetConnection.Connect.ReconnectRequest received (onStatus, transaction 0,
// null command object, on message stream 0), or nil.
func (c *rawClient) reconnectRequest() *amf.Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, cmd := range c.cmds {
		if info, ok := cmd.Arg(0).(*amf.Object); ok && cmd.Name == "onStatus" && cmd.TxID == 0 && cmd.Object == nil &&
			c.msids[i] == 0 && info.GetString("code") == "NetConnection.Connect.ReconnectRequest" {
			return info
		}
	}
	return nil
}

// closed reports whether the server closed the connection, and when.
func (c *rawClient) closed() (bool, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err != nil, c.ended
}

var enhancedProps = []any{"fourCcList", []any{"hvc1", "av01", "avc1"}, "capsEx", 1.0}

// shutdownAsync runs Server.Shutdown with a grace of grace and reports when
// it returned and what.
func shutdownAsync(srv *rtmp.Server, grace time.Duration) (started time.Time, done <-chan error) {
	errc := make(chan error, 1)
	started = time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		errc <- srv.Shutdown(ctx)
	}()
	return started, errc
}

// A graceful shutdown: an Enhanced RTMP client gets
// NetConnection.Connect.ReconnectRequest (status level, with the tcUrl from
// ReconnectURL) and is left open until it leaves by itself; a legacy client
// and an ffmpeg publisher get no such status and are closed at once; the
// listener refuses new clients; Shutdown returns as soon as the last client
// left, long before DrainTimeout.
func TestShutdownDrainsEnhancedClients(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *rtmp.Server, _ *scope.Options) {
		s.DrainTimeout = 20 * time.Second
		s.ReconnectURL = func(c *rtmp.Conn) string { return "rtmp://backup.example" + c.Scope().Path() }
	})
	pub := ffmpegPublish(t, url(ts, "live/legacy"), 30, 25)
	ts.waitPublishing(t, "/live", "legacy")
	enh := dialRaw(t, ts.Addr, "live/room", enhancedProps...)
	if v, _ := enh.props.GetNumber("capsEx"); v != 1 {
		t.Errorf("connect _result capsEx = %v, want 1 (Reconnect) for an Enhanced RTMP client", v)
	}
	legacy := dialRaw(t, ts.Addr, "live/room")
	if _, ok := legacy.props.Get("capsEx"); ok {
		t.Error("connect _result has capsEx for a legacy client")
	}
	cl := dial(t, ts, "live")
	clErr := make(chan error, 1)
	go func() {
		for {
			m, err := cl.ReadMessage()
			if err != nil {
				clErr <- err
				return
			}
			if m.TypeID == chunk.TypeCommandAMF0 && strings.Contains(string(m.Payload), "ReconnectRequest") {
				clErr <- nil
				return
			}
		}
	}()

	started, done := shutdownAsync(ts.Srv, 30*time.Second)
	waitFor(t, 5*time.Second, "ReconnectRequest", func() bool { return enh.reconnectRequest() != nil })
	info := enh.reconnectRequest()
	if info.GetString("level") != "status" || info.GetString("tcUrl") != "rtmp://backup.example/live/room" || info.GetString("description") == "" {
		t.Errorf("ReconnectRequest info %v", info)
	}
	// The others are closed at once, without the request.
	waitFor(t, 5*time.Second, "the legacy client closed", func() bool { ok, _ := legacy.closed(); return ok })
	if legacy.reconnectRequest() != nil {
		t.Error("a legacy client got ReconnectRequest")
	}
	select {
	case err := <-clErr:
		if err == nil {
			t.Error("rtmp/client (legacy) got ReconnectRequest")
		}
	case <-time.After(5 * time.Second):
		t.Error("rtmp/client not closed")
	}
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.Wait() }()
	select {
	case <-pubDone: // ffmpeg's output fails when the server closes: it exits
	case <-time.After(5 * time.Second):
		t.Error("ffmpeg publisher still running 5 s after Shutdown")
	}
	// The enhanced client is still served while it finishes.
	if ok, _ := enh.closed(); ok {
		t.Fatal("the enhanced client was closed during the drain")
	}
	if _, err := net.DialTimeout("tcp", ts.Addr, time.Second); err == nil {
		t.Error("the listener accepts during the drain")
	}
	if got := ts.Srv.Stats().ReconnectRequests.Load(); got != 1 {
		t.Errorf("Stats.ReconnectRequests = %d, want 1", got)
	}
	// It leaves; Shutdown returns at once.
	left := time.Now()
	enh.nc.Close()
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	t.Logf("shutdown took %v; %v after the enhanced client left", time.Since(started).Round(time.Millisecond), time.Since(left).Round(time.Millisecond))
	if time.Since(left) > 2*time.Second {
		t.Errorf("Shutdown returned %v after the last client left", time.Since(left))
	}
}

// An Enhanced RTMP client that does not leave is closed when DrainTimeout
// runs out, after it got the request; a short Shutdown context bounds the
// drain to half of what it has left.
func TestShutdownDrainTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		drain, grace time.Duration
		wantMin      time.Duration
		wantMax      time.Duration
	}{
		{"DrainTimeout", 400 * time.Millisecond, 20 * time.Second, 350 * time.Millisecond, 3 * time.Second},
		{"context", 20 * time.Second, 1 * time.Second, 400 * time.Millisecond, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(s *rtmp.Server, _ *scope.Options) { s.DrainTimeout = tc.drain })
			enh := dialRaw(t, ts.Addr, "live", enhancedProps...)
			waitFor(t, 5*time.Second, "connected", func() bool { return len(ts.Srv.Conns()) == 1 })
			started, done := shutdownAsync(ts.Srv, tc.grace)
			if err := <-done; err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			took := time.Since(started)
			<-enh.done
			_, ended := enh.closed()
			if enh.reconnectRequest() == nil {
				t.Error("no ReconnectRequest before the close")
			}
			if err := enh.err; err != io.EOF && !strings.Contains(err.Error(), "reset") {
				t.Errorf("the client's read ended with %v, want EOF", err)
			}
			if d := ended.Sub(started); d < tc.wantMin || d > tc.wantMax {
				t.Errorf("closed %v after Shutdown started, want %v..%v", d, tc.wantMin, tc.wantMax)
			}
			t.Logf("closed after %v, Shutdown took %v", ended.Sub(started).Round(time.Millisecond), took.Round(time.Millisecond))
		})
	}
}

// DrainTimeout < 0: no request, everyone is closed at once.
func TestShutdownNoDrain(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *rtmp.Server, _ *scope.Options) { s.DrainTimeout = -1 })
	enh := dialRaw(t, ts.Addr, "live", enhancedProps...)
	waitFor(t, 5*time.Second, "connected", func() bool { return len(ts.Srv.Conns()) == 1 })
	started, done := shutdownAsync(ts.Srv, 20*time.Second)
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	<-enh.done
	if enh.reconnectRequest() != nil {
		t.Error("ReconnectRequest with DrainTimeout < 0")
	}
	if _, ended := enh.closed(); ended.Sub(started) > 2*time.Second {
		t.Errorf("closed %v after Shutdown started", ended.Sub(started))
	}
}
