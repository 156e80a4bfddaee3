package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
	"unsafe"

	"github.com/scopecast/scopecast/apps/live"
	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/scope"
)

// startServer runs a real scopecast RTMP server with the live app on a
// loopback port and returns its base URL (its logs are discarded unless
// SCOPECAST_TEST_LOG is set).
func startServer(t *testing.T) string {
	t.Helper()
	url, _ := startServerSrv(t)
	return url
}

func startServerSrv(t *testing.T) (string, *rtmp.Server) {
	t.Helper()
	scopes := scope.New(scope.Options{KeepDelay: -1, Logger: testutil.Logger()})
	if err := scopes.Register(live.Name, live.New()); err != nil {
		t.Fatal(err)
	}
	srv := &rtmp.Server{Scopes: scopes, Logger: testutil.Logger()}
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
	return "rtmp://" + l.Addr().String(), srv
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, url string, opts client.Options) *client.Conn {
	t.Helper()
	c, err := client.Dial(testCtx(t), url, opts)
	if err != nil {
		t.Fatalf("Dial(%s): %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestSplitStreamURL(t *testing.T) {
	for _, tc := range []struct{ in, conn, stream string }{
		{"rtmp://h/live/room/cam1", "rtmp://h/live/room", "cam1"},
		{"rtmp://h:1936/live/cam1", "rtmp://h:1936/live", "cam1"},
		{"rtmp://h/live/cam1?token=a/b", "rtmp://h/live", "cam1?token=a/b"},
		{"rtmp://h/live/cam1/", "rtmp://h/live", "cam1"},
		{"rtmp://h/live", "rtmp://h/live", ""},
		{"rtmp://h", "rtmp://h", ""},
		{"http://h/live/x", "http://h/live/x", ""},
		{"rtmpt://h:5080/live/cam1?t=1", "rtmpt://h:5080/live", "cam1?t=1"},
		{"rtmpt://h/live", "rtmpt://h/live", ""},
		{"rtmps://h/live/x", "rtmps://h/live/x", ""},
	} {
		conn, stream := client.SplitStreamURL(tc.in)
		if conn != tc.conn || stream != tc.stream {
			t.Errorf("SplitStreamURL(%q) = %q, %q; want %q, %q", tc.in, conn, stream, tc.conn, tc.stream)
		}
	}
}

func TestDialBadURL(t *testing.T) {
	for _, u := range []string{"http://h/live", "rtmp:///live", "rtmp://h", "rtmp://h/", "::", "rtmpt:///live", "rtmpt://h/", "rtmps://h/live"} {
		if _, err := client.Dial(context.Background(), u, client.Options{}); !errors.Is(err, client.ErrURL) {
			t.Errorf("Dial(%q) = %v, want ErrURL", u, err)
		}
	}
}

func TestDialConnect(t *testing.T) {
	base := startServer(t)
	for _, opts := range []client.Options{
		{},
		{Digest: true, ObjectEncoding: 3, ChunkSize: 128},
		{ChunkSize: 60000, ConnectArgs: []any{"extra", 1.0}},
	} {
		t.Run(fmt.Sprintf("digest=%v,enc=%v,chunk=%d", opts.Digest, opts.ObjectEncoding, opts.ChunkSize), func(t *testing.T) {
			c := dial(t, base+"/live/room1", opts)
			info := c.ConnectInfo()
			if info == nil || info.GetString("code") != "NetConnection.Connect.Success" {
				t.Fatalf("ConnectInfo = %v", info)
			}
			if enc, _ := info.GetNumber("objectEncoding"); enc != opts.ObjectEncoding {
				t.Errorf("objectEncoding = %v, want %v", enc, opts.ObjectEncoding)
			}
			// The connection is usable: a call round-trips.
			v, err := c.Call(testCtx(t), "getLiveStreams")
			if err != nil {
				t.Fatal(err)
			}
			if l, ok := v.([]any); !ok || len(l) != 0 {
				t.Errorf("getLiveStreams = %#v, want empty list", v)
			}
		})
	}
}

func TestConnectInvalidApp(t *testing.T) {
	base := startServer(t)
	_, err := client.Dial(testCtx(t), base+"/nosuchapp/room", client.Options{})
	var ce *client.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("Dial = %v, want *ConnectError", err)
	}
	if ce.Code != "NetConnection.Connect.InvalidApp" || ce.Description == "" || ce.Info == nil {
		t.Errorf("ConnectError = %+v", ce)
	}
}

func TestDialTimeout(t *testing.T) {
	// A listener that accepts and never answers the handshake.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	_, err = client.Dial(context.Background(), "rtmp://"+l.Addr().String()+"/live", client.Options{Timeout: 200 * time.Millisecond})
	if err == nil {
		t.Fatal("Dial succeeded against a silent server")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Dial took %v with a 200ms timeout", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = client.Dial(ctx, "rtmp://"+l.Addr().String()+"/live", client.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with cancelled ctx = %v, want context.Canceled", err)
	}
}

// media is a synthetic stream: an AVC sequence header, a keyframe, inter
// frames and AAC frames, in publish order.
func media() []chunk.Message {
	big := bytes.Repeat([]byte{0xAB, 0xCD, 0xEF}, 5000) // spans many chunks
	msgs := []chunk.Message{
		{TypeID: chunk.TypeVideo, Timestamp: 0, Payload: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}},
		{TypeID: chunk.TypeAudio, Timestamp: 0, Payload: []byte{0xAF, 0, 0x12, 0x10}},
		{TypeID: chunk.TypeVideo, Timestamp: 0, Payload: append([]byte{0x17, 1, 0, 0, 0}, big...)},
	}
	for i := 1; i <= 5; i++ {
		msgs = append(msgs,
			chunk.Message{TypeID: chunk.TypeAudio, Timestamp: uint32(i * 23), Payload: []byte{0xAF, 1, byte(i), 2, 3}},
			chunk.Message{TypeID: chunk.TypeVideo, Timestamp: uint32(i * 40), Payload: []byte{0x27, 1, 0, 0, 0, byte(i), 9, 9}},
		)
	}
	msgs = append(msgs, chunk.Message{TypeID: chunk.TypeVideo, Timestamp: 0xFFFFFF + 5, Payload: []byte{0x27, 1, 0, 0, 0, 0xEE}})
	return msgs
}

func TestPublishPlayRoundTrip(t *testing.T) {
	base := startServer(t)
	roundTrip(t, base, base, "room")
}

// roundTrip publishes media() from pubBase and plays it from playBase (the
// same server, over RTMP or RTMPT) in /live/<room> and checks that it arrives
// intact. Runs sharing a server use rooms of their own: a finished run's
// connections leave the server asynchronously, and its stream name with them.
func roundTrip(t *testing.T, pubBase, playBase, room string) {
	ctx := testCtx(t)
	base := pubBase
	pub := dial(t, base+"/live/"+room, client.Options{ChunkSize: 1000})
	psid, err := pub.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, psid, "cam1", "live"); err != nil {
		t.Fatal(err)
	}

	// A second publisher of the same name is refused with a status.
	pub2 := dial(t, base+"/live/"+room, client.Options{})
	sid2, err := pub2.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var se *client.StatusError
	if err := pub2.Publish(ctx, sid2, "cam1", ""); !errors.As(err, &se) || se.Code != "NetStream.Publish.BadName" {
		t.Fatalf("second Publish = %v, want StatusError NetStream.Publish.BadName", err)
	}

	// The live app lists the stream.
	v, err := pub2.Call(ctx, "getLiveStreams")
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := v.([]any); !ok || len(l) != 1 || l[0] != "cam1" {
		t.Errorf("getLiveStreams = %#v, want [cam1]", v)
	}

	// Metadata first, then the player joins: it gets the cached metadata,
	// headers and GOP, then live frames.
	meta, err := message.AppendData(nil, "@setDataFrame", "onMetaData", amf.Obj("width", 320.0))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.WriteMessage(&chunk.Message{TypeID: chunk.TypeDataAMF0, StreamID: psid, Payload: meta}); err != nil {
		t.Fatal(err)
	}
	msgs := media()
	half := 3 // header, audio header, keyframe before the player joins
	for i := range msgs[:half] {
		m := msgs[i]
		m.StreamID = psid
		if err := pub.WriteMessage(&m); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the stream has its keyframe: a Call is answered after the
	// server handled everything sent before it.
	if _, err := pub.Call(ctx, "getLiveStreams"); err != nil {
		t.Fatal(err)
	}

	play := dial(t, playBase+"/live/"+room, client.Options{})
	sid, err := play.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := play.Play(ctx, sid, "cam1", -1000); err != nil {
		t.Fatal(err)
	}
	for i := range msgs[half:] {
		m := msgs[half+i]
		m.StreamID = psid
		if err := pub.WriteMessage(&m); err != nil {
			t.Fatal(err)
		}
	}

	var got []chunk.Message
	sawMeta := false
	for len(got) < len(msgs) {
		m, err := play.ReadMessage()
		if err != nil {
			t.Fatalf("ReadMessage after %d media messages: %v", len(got), err)
		}
		switch m.TypeID {
		case chunk.TypeAudio, chunk.TypeVideo:
			if m.StreamID != sid {
				t.Errorf("media on message stream %d, want %d", m.StreamID, sid)
			}
			got = append(got, m)
		case chunk.TypeDataAMF0:
			vals, err := message.DecodeData(m.Payload, false, amf.Limits{})
			if err == nil && len(vals) == 2 && vals[0] == "onMetaData" {
				if len(got) > 0 {
					t.Error("onMetaData after media")
				}
				sawMeta = true
			}
		}
	}
	if !sawMeta {
		t.Error("no onMetaData before media")
	}
	checkSameMedia(t, msgs, got)
	// The first video frame after the sequence header is a keyframe.
	for _, m := range got {
		if m.TypeID == chunk.TypeVideo && m.Payload[1] != 0 {
			if m.Payload[0]>>4 != 1 {
				t.Errorf("first video frame is not a keyframe: % x", head(m.Payload))
			}
			break
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

func TestPlayQueuesStatuses(t *testing.T) {
	base := startServer(t)
	ctx := testCtx(t)
	play := dial(t, base+"/live", client.Options{})
	sid, err := play.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Live play of a stream nobody publishes yet starts (and waits).
	if err := play.Play(ctx, sid, "later", -2000); err != nil {
		t.Fatal(err)
	}
	// Play.Reset arrived before Play.Start and was queued for ReadMessage.
	sawReset := false
	for !sawReset {
		m, err := play.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if m.TypeID == chunk.TypeCommandAMF0 {
			cmd, err := message.DecodeCommand(m.Payload, false, amf.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if o, _ := cmd.Arg(0).(*amf.Object); cmd.Name == "onStatus" && o != nil {
				if code := o.GetString("code"); code == "NetStream.Play.Reset" {
					sawReset = true
				} else {
					t.Fatalf("unexpected status %s before Play.Reset", code)
				}
			}
		}
	}
	// A recorded play (start >= 0) of a missing stream is StreamNotFound.
	sid2, err := play.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var se *client.StatusError
	if err := play.Play(ctx, sid2, "missing", 0); !errors.As(err, &se) || se.Code != "NetStream.Play.StreamNotFound" {
		t.Fatalf("Play(missing, 0) = %v, want StreamNotFound", err)
	}
}

func TestCallErrorAndCommand(t *testing.T) {
	base := startServer(t)
	ctx := testCtx(t)
	c := dial(t, base+"/live", client.Options{})
	_, err := c.Call(ctx, "noSuchMethod", 1.0)
	var ce *client.CallError
	if !errors.As(err, &ce) || ce.Code != "NetConnection.Call.Failed" {
		t.Fatalf("Call(noSuchMethod) = %v, want CallError NetConnection.Call.Failed", err)
	}
	// A raw command with its own transaction id: the reply is returned by
	// ReadMessage, as the client is not waiting for it.
	if err := c.Command(0, "getLiveStreams", 77, nil); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if m.TypeID != chunk.TypeCommandAMF0 {
			continue
		}
		cmd, err := message.DecodeCommand(m.Payload, false, amf.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if cmd.Name == "_result" && cmd.TxID == 77 {
			break
		}
	}
}

func TestDeadline(t *testing.T) {
	base := startServer(t)
	c := dial(t, base+"/live", client.Options{})
	c.SetDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.ReadMessage() // nothing more comes: the deadline expires
	var ne net.Error
	for err == nil {
		_, err = c.ReadMessage()
	}
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("ReadMessage = %v, want a timeout", err)
	}
	if _, err2 := c.ReadMessage(); err2 == nil {
		t.Error("ReadMessage after an error succeeded")
	}
}

func TestHandleCall(t *testing.T) {
	base, srv := startServerSrv(t)
	c := dial(t, base+"/live", client.Options{})
	c.HandleCall("add", func(args []any) (any, error) {
		a, _ := args[0].(float64)
		b, _ := args[1].(float64)
		return a + b, nil
	})
	c.HandleCall("fail", func(args []any) (any, error) {
		return nil, errors.New("nope")
	})
	conns := srv.Conns()
	if len(conns) != 1 {
		t.Fatalf("server has %d connections, want 1", len(conns))
	}
	sc := conns[0]
	type result struct {
		v   any
		err error
	}
	results := make(chan result, 2)
	go func() {
		ctx := context.Background()
		v, err := sc.Call(ctx, "add", 2.0, 3.0)
		results <- result{v, err}
		v, err = sc.Call(ctx, "fail")
		results <- result{v, err}
	}()
	// The client answers inside ReadMessage (here, inside Call's wait).
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	r := <-results
	if r.err != nil || r.v != 5.0 {
		t.Errorf("server Call(add) = %v, %v; want 5", r.v, r.err)
	}
	r = <-results
	var ce *rtmp.CallError
	if !errors.As(r.err, &ce) {
		t.Fatalf("server Call(fail) = %v, %v; want *rtmp.CallError", r.v, r.err)
	}
	if o, _ := ce.Info.(*amf.Object); o == nil || o.GetString("code") != "NetConnection.Call.Failed" || o.GetString("description") != "nope" {
		t.Errorf("_error info = %#v", ce.Info)
	}
	c.Close()
	<-done
}

// With ReusePayloads the player reads the same media (copied before the next
// read), statuses queued while Play waited are intact, and consecutive
// payloads of one chunk stream share a buffer.
func TestReusePayloads(t *testing.T) {
	base := startServer(t)
	ctx := testCtx(t)
	pub := dial(t, base+"/live/reuse", client.Options{ChunkSize: 1000})
	psid, err := pub.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, psid, "cam", "live"); err != nil {
		t.Fatal(err)
	}
	msgs := media()
	send := func(msgs []chunk.Message) {
		for _, m := range msgs {
			m.StreamID = psid
			if err := pub.WriteMessage(&m); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(msgs[:3]) // the cached headers and keyframe arrive while Play waits
	if _, err := pub.Call(ctx, "getLiveStreams"); err != nil {
		t.Fatal(err)
	}
	play := dial(t, base+"/live/reuse", client.Options{ReusePayloads: true})
	sid, err := play.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := play.Play(ctx, sid, "cam", -1000); err != nil {
		t.Fatal(err)
	}
	send(msgs[3:])

	var got []chunk.Message
	statuses := map[string]bool{}
	buffers := map[uint32]map[*byte]int{}               // chunk stream → payload buffers seen
	taken := play.BytesRead() + uint64(play.Buffered()) // bytes taken off the connection
	for len(got) < len(msgs) {
		m, err := play.ReadMessage()
		if err != nil {
			t.Fatalf("ReadMessage after %d media messages: %v", len(got), err)
		}
		if n := play.BytesRead() + uint64(play.Buffered()); n < taken {
			t.Fatalf("BytesRead + Buffered went from %d to %d", taken, n)
		} else {
			taken = n
		}
		if len(m.Payload) > 0 {
			if buffers[m.ChunkStreamID] == nil {
				buffers[m.ChunkStreamID] = map[*byte]int{}
			}
			buffers[m.ChunkStreamID][unsafe.SliceData(m.Payload)]++
		}
		switch m.TypeID {
		case chunk.TypeAudio, chunk.TypeVideo:
			m.Payload = bytes.Clone(m.Payload)
			got = append(got, m)
		case chunk.TypeCommandAMF0:
			cmd, err := message.DecodeCommand(m.Payload, false, amf.Limits{})
			if err != nil {
				t.Fatalf("status payload: %v", err)
			}
			if o, _ := cmd.Arg(0).(*amf.Object); cmd.Name == "onStatus" && o != nil {
				statuses[o.GetString("code")] = true
			}
		}
	}
	if !statuses["NetStream.Play.Reset"] {
		t.Errorf("statuses %v: want the queued NetStream.Play.Reset", statuses)
	}
	checkSameMedia(t, msgs, got)
	reused := false
	for _, bufs := range buffers {
		for _, n := range bufs {
			reused = reused || n > 1
		}
	}
	if !reused {
		t.Error("no payload buffer was reused")
	}
}

// checkSameMedia fails t unless got holds, per kind (audio, video), the
// payloads and timestamps of msgs byte-identical and in order.
func checkSameMedia(t *testing.T, msgs, got []chunk.Message) {
	t.Helper()
	for _, kind := range []uint8{chunk.TypeAudio, chunk.TypeVideo} {
		var want, have []chunk.Message
		for _, m := range msgs {
			if m.TypeID == kind {
				want = append(want, m)
			}
		}
		for _, m := range got {
			if m.TypeID == kind {
				have = append(have, m)
			}
		}
		if len(have) != len(want) {
			t.Fatalf("type %d: got %d messages, want %d", kind, len(have), len(want))
		}
		for i := range want {
			if !bytes.Equal(have[i].Payload, want[i].Payload) || have[i].Timestamp != want[i].Timestamp {
				t.Errorf("type %d message %d: ts %d payload % x…, want ts %d % x…", kind, i,
					have[i].Timestamp, head(have[i].Payload), want[i].Timestamp, head(want[i].Payload))
			}
		}
	}
}

// countingConn counts what passes through it.
type countingConn struct {
	net.Conn
	read, written int
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read += n
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written += n
	return n, err
}

// WrapConn gets the dialled TCP connection before the handshake, and every
// byte the Conn reads or writes goes through what it returns.
func TestWrapConn(t *testing.T) {
	base := startServer(t)
	var cc *countingConn
	c := dial(t, base+"/live/wrap", client.Options{WrapConn: func(nc net.Conn) net.Conn {
		if _, ok := nc.(*net.TCPConn); !ok {
			t.Errorf("WrapConn got a %T, want *net.TCPConn", nc)
		}
		cc = &countingConn{Conn: nc}
		return cc
	}})
	if cc == nil {
		t.Fatal("WrapConn not called")
	}
	if _, err := c.CreateStream(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	const handshake = 1 + 2*1536 // S0+S1+S2 in, C0+C1+C2 out
	if got, want := cc.read, handshake+int(c.BytesRead())+c.Buffered(); got != want {
		t.Errorf("read %d bytes through the wrapper, the Conn took %d", got, want)
	}
	if cc.written <= handshake { // connect and createStream follow the handshake
		t.Errorf("wrote %d bytes through the wrapper: the handshake alone is %d", cc.written, handshake)
	}
}
