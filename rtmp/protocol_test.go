package rtmp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/rtmp/handshake"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
)

// syntheticFrame is a legacy AVC frame (key or inter) of n bytes, numbered i.
func syntheticFrame(key bool, i, n int) []byte {
	b := make([]byte, n)
	b[0] = 0x27 // inter, AVC
	if key {
		b[0] = 0x17
	}
	b[1] = 1 // NALU
	binary.BigEndian.PutUint32(b[5:], uint32(i))
	return b
}

var avcHeader = []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 'f', 'a', 'k', 'e'}

// rawPlayer connects, creates a stream and plays name with our wire packages,
// with a tiny receive buffer, and then never reads: the slowest player there is.
func rawPlayer(t *testing.T, addr, app, name string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := handshake.Client(nc, nc, false); err != nil {
		t.Fatal(err)
	}
	w := chunk.NewWriter(nc, 128)
	send := func(msid uint32, name string, tx float64, obj any, args ...any) {
		p, err := message.AppendCommand(nil, name, tx, obj, args...)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteMessage(&chunk.Message{ChunkStreamID: 3, TypeID: chunk.TypeCommandAMF0, StreamID: msid, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	send(0, "connect", 1, map[string]any{"app": app, "tcUrl": "rtmp://" + addr + "/" + app})
	send(0, "createStream", 2, nil)
	send(1, "play", 0, nil, name) // the server gives the first stream id 1
	return nc
}

// A player that stops reading is skipped and then disconnected; a healthy
// player of the same stream receives every frame, unchanged and in order,
// and the publisher never waits.
func TestSlowPlayerDoesNotHurtHealthyPlayer(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *rtmp.Server, o *scope.Options) {
		s.WriteTimeout = 2 * time.Second
		o.StreamConfig = stream.Config{QueueLen: 64, MaxLag: 500 * time.Millisecond}
	})
	pub := goRTMPPublish(t, ts.Addr, "live", "fat")
	st := ts.waitPublishing(t, "/live", "fat")
	if err := pub.Video(0, avcHeader); err != nil {
		t.Fatal(err)
	}
	healthy := play(t, ts, "live", "fat")
	rawPlayer(t, ts.Addr, "live", "fat")
	waitFor(t, 5*time.Second, "two subscribers", func() bool { return st.NumSubscribers() == 2 })

	// 150 frames of 40 KB at 25 ms: 1.6 MB/s, far more than a 4 KB window takes.
	const frames = 150
	var sent [][]byte
	start := time.Now()
	var maxWrite time.Duration
	for i := range frames {
		f := syntheticFrame(i%25 == 0, i, 40_000)
		t0 := time.Now()
		if err := pub.Video(uint32(i*25), f); err != nil {
			t.Fatal(err)
		}
		maxWrite = max(maxWrite, time.Since(t0))
		sent = append(sent, f)
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 25 * time.Millisecond)))
	}
	waitFor(t, 10*time.Second, "healthy player to receive every frame", func() bool { return len(healthy.Video()) >= frames+1 })
	v := healthy.Video()
	if !bytes.Equal(v[0].Payload, avcHeader) {
		t.Errorf("healthy player's first message is not the sequence header")
	}
	for i, f := range sent {
		if !bytes.Equal(v[i+1].Payload, f) || v[i+1].TS != uint32(i*25) {
			t.Fatalf("healthy player frame %d differs (ts %d)", i, v[i+1].TS)
		}
	}
	// It is closed either for overflowing its queue for too long or for a
	// write that did not finish within the write timeout, whichever comes first.
	waitFor(t, 10*time.Second, "the slow player to be disconnected", func() bool { return ts.Srv.Stats().SlowClosed.Load() == 1 })
	t.Logf("publisher's slowest write %v; stream %+v", maxWrite, st.Stats())
}

// rpcApp has methods a client can call, one of which calls the client back.
func rpcApp() scope.Handler {
	return scope.BaseHandler{Methods: map[string]scope.Method{
		"add": func(_ context.Context, _ scope.Conn, _ *scope.Scope, args []any) (any, error) {
			a, _ := args[0].(float64)
			b, _ := args[1].(float64)
			return a + b, nil
		},
		"fail": func(context.Context, scope.Conn, *scope.Scope, []any) (any, error) {
			return nil, errors.New("the method failed on purpose")
		},
		"askClient": func(ctx context.Context, c scope.Conn, _ *scope.Scope, args []any) (any, error) {
			caller, ok := c.(scope.Caller)
			if !ok {
				return nil, errors.New("connection cannot be called")
			}
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return caller.Call(ctx, "clientMul", args...)
		},
	}}
}

// nc.call reaches application methods and gets _result or _error; an unknown
// command gets _error Call.Failed and the connection goes on; the server calls
// a client method and gets its result.
func TestRemoteCalls(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	if err := ts.Scopes.Register("rpc", rpcApp()); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts, "rpc/room")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.HandleCall("clientMul", func(args []any) (any, error) {
		a, _ := args[0].(float64)
		b, _ := args[1].(float64)
		return a * b, nil
	})

	if v, err := c.Call(ctx, "add", 2.0, 40.0); err != nil || v != 42.0 {
		t.Errorf("add(2, 40) = %v, %v", v, err)
	}
	var ce *client.CallError
	if _, err := c.Call(ctx, "noSuchMethod", 1.0); !errors.As(err, &ce) || ce.Code != "NetConnection.Call.Failed" {
		t.Errorf("unknown command: %v, want _error NetConnection.Call.Failed", err)
	}
	if _, err := c.Call(ctx, "fail"); !errors.As(err, &ce) || ce.Code != "NetConnection.Call.Failed" || ce.Description != "the method failed on purpose" {
		t.Errorf("failing method: %v", err)
	}
	if v, err := c.Call(ctx, "askClient", 6.0, 7.0); err != nil || v != 42.0 {
		t.Errorf("server → client call: %v, %v, want 42", v, err)
	}
	// Still connected and serving after the failures.
	if v, err := c.Call(ctx, "add", 1.0, 1.0); err != nil || v != 2.0 {
		t.Errorf("after errors: add(1, 1) = %v, %v", v, err)
	}
	// getLiveStreams is a method of the live app, not of rpc.
	if v, err := c.Call(ctx, "getLiveStreams"); !errors.As(err, &ce) {
		t.Errorf("getLiveStreams belongs to the live app, not rpc: %v %v", v, err)
	}
}

// An application method runs under a context that ends with its connection:
// a method still running when the client leaves sees it cancelled (and the
// connection's teardown, which waits for its methods, can finish).
func TestCallCancelledWhenClientLeaves(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	started, ended := make(chan struct{}, 1), make(chan error, 1)
	err := ts.Scopes.Register("block", scope.BaseHandler{Methods: map[string]scope.Method{
		"block": func(ctx context.Context, _ scope.Conn, _ *scope.Scope, _ []any) (any, error) {
			started <- struct{}{}
			<-ctx.Done()
			ended <- ctx.Err()
			return nil, ctx.Err()
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts, "block")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go c.Call(ctx, "block")
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the method did not start")
	}
	c.Close()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the method's context ended with %v, want context.Canceled", err)
		}
	case <-ctx.Done():
		t.Fatal("the method's context was not cancelled when its client left")
	}
	waitFor(t, 10*time.Second, "the connection to end", func() bool { return ts.Srv.Stats().Active.Load() == 0 })
}

// Connect refusals carry the status codes PROTOCOL.md lists.
func TestConnectStatusCodes(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.Scopes.Register("guarded", &rejectApp{reason: "no ticket"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct{ app, code, application string }{
		{"nosuch", "NetConnection.Connect.InvalidApp", ""},
		{"guarded/a/b", "NetConnection.Connect.Rejected", "no ticket"},
		{"live/../etc", "NetConnection.Connect.Rejected", ""},
	} {
		_, err := client.Dial(ctx, url(ts, c.app), client.Options{})
		var ce *client.ConnectError
		if !errors.As(err, &ce) || ce.Code != c.code || ce.Application != c.application && c.application != "" {
			t.Errorf("connect %s: %v, want %s %q", c.app, err, c.code, c.application)
		}
	}
}

// A player that arrives before the publisher waits; it starts on
// PublishNotify, hears UnpublishNotify when the publisher leaves, and resumes
// without reconnecting when a publisher comes back.
func TestPlayBeforePublishAndRepublish(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	p := play(t, ts, "live/r", "later")
	for round := range 2 {
		pub := goRTMPPublish(t, ts.Addr, "live/r", "later")
		ts.waitPublishing(t, "/live/r", "later")
		pub.Video(0, avcHeader)
		for i := range 5 {
			pub.Video(uint32(i*40), syntheticFrame(i == 0, i, 100))
		}
		want := (round + 1) * 6
		waitFor(t, 5*time.Second, fmt.Sprintf("round %d frames", round), func() bool { return len(p.Video()) >= want })
		pub.close()
		waitFor(t, 5*time.Second, "unpublish", func() bool {
			return slices.Contains(p.Codes()[min(len(p.Codes()), round*2):], "NetStream.Play.UnpublishNotify")
		})
	}
	want := []string{"NetStream.Play.PublishNotify", "NetStream.Play.UnpublishNotify", "NetStream.Play.PublishNotify", "NetStream.Play.UnpublishNotify"}
	if got := p.Codes(); !slices.Equal(got, want) {
		t.Errorf("player statuses %v, want %v", got, want)
	}
	if v := p.Video(); !bytes.Equal(v[6].Payload, avcHeader) {
		t.Errorf("after the republish the player did not get the new sequence header first")
	}
}

// Hostile input closes that one connection, is counted, and harms nobody:
// a player keeps receiving a stream throughout.
func TestHostileInputIsolated(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *rtmp.Server, _ *scope.Options) { s.HandshakeTimeout = time.Second })
	pub := goRTMPPublish(t, ts.Addr, "live", "steady")
	ts.waitPublishing(t, "/live", "steady")
	pub.Video(0, avcHeader)
	p := play(t, ts, "live", "steady")

	afterHandshake := func(payload []byte) []byte {
		var b bytes.Buffer
		b.Write(payload)
		return b.Bytes()
	}
	cases := []struct {
		name  string
		bytes func() []byte // sent after a good handshake unless raw
		raw   bool
	}{
		{"tls client hello", func() []byte { return []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03") }, true},
		{"http request", func() []byte { return []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n") }, true},
		{"truncated handshake", func() []byte { return append([]byte{3}, make([]byte, 100)...) }, true},
		{"16 MiB message before connect", func() []byte {
			return afterHandshake([]byte{0x03, 0, 0, 0, 0xff, 0xff, 0xff, 20, 0, 0, 0, 0})
		}, false},
		{"strict array of 2^32 elements in connect", func() []byte {
			body := []byte{0x02, 0, 7, 'c', 'o', 'n', 'n', 'e', 'c', 't', 0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x0a, 0xff, 0xff, 0xff, 0xff}
			m := chunk.Message{ChunkStreamID: 3, TypeID: 20, Payload: body}
			return chunk.AppendMessage(nil, 128, &m)
		}, false},
		{"command before connect", func() []byte {
			p, _ := message.AppendCommand(nil, "play", 0, nil, "steady")
			m := chunk.Message{ChunkStreamID: 3, TypeID: 20, StreamID: 1, Payload: p}
			return chunk.AppendMessage(nil, 128, &m)
		}, false},
		{"compressed header without a previous one", func() []byte { return []byte{0xc5, 1, 2, 3} }, false},
		{"chunk size zero", func() []byte {
			m := chunk.Message{ChunkStreamID: 2, TypeID: 1, Payload: []byte{0, 0, 0, 0}}
			return chunk.AppendMessage(nil, 128, &m)
		}, false},
		{"not AMF at all", func() []byte {
			m := chunk.Message{ChunkStreamID: 3, TypeID: 20, Payload: []byte{0x42, 0x42, 0x42}}
			return chunk.AppendMessage(nil, 128, &m)
		}, false},
	}
	before := ts.Srv.Stats().Protocol.Load()
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", ts.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			if !c.raw {
				if err := handshake.Client(nc, nc, i%2 == 0); err != nil {
					t.Errorf("%s: handshake: %v", c.name, err)
					return
				}
			}
			nc.Write(c.bytes())
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, nc); err != nil {
				t.Errorf("%s: the server did not close the connection: %v", c.name, err)
			}
		}()
	}
	// Meanwhile the stream flows.
	for i := range 50 {
		pub.Video(uint32(i*20), syntheticFrame(i%10 == 0, i, 1000))
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	waitFor(t, 5*time.Second, "every frame at the healthy player", func() bool { return len(p.Video()) >= 51 })
	if got := ts.Srv.Stats().Protocol.Load() - before; got < uint64(len(cases)) {
		t.Errorf("%d protocol errors counted for %d hostile connections", got, len(cases))
	}
	if n := ts.Srv.Stats().Panics.Load(); n != 0 {
		t.Errorf("%d panics", n)
	}
}
