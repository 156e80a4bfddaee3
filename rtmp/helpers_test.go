package rtmp_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	gortmp "github.com/yutopp/go-rtmp"
	gomsg "github.com/yutopp/go-rtmp/message"

	"github.com/sirupsen/logrus"

	"github.com/scopecast/scopecast/apps/live"
	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
)

// Shared with the other packages' integration tests.
var (
	needTool      = testutil.NeedTool
	waitFor       = testutil.WaitFor
	ffmpegPublish = testutil.FFmpegPublish // (t, url, secs, gop, extra...)
	ffprobe       = testutil.FFprobe
)

// probe is what ffprobe found in a file.
type probe = testutil.Probe

// testServer is a real server on a loopback port.
type testServer struct {
	Addr   string
	Srv    *rtmp.Server
	Scopes *scope.Global
}

type serverOpt func(*rtmp.Server, *scope.Options)

// startServer runs a server with the live app on 127.0.0.1:0 until the test ends.
func startServer(t testing.TB, opts ...serverOpt) *testServer {
	t.Helper()
	so := scope.Options{KeepDelay: 200 * time.Millisecond, Logger: testLogger()}
	srv := &rtmp.Server{Logger: testLogger()}
	for _, o := range opts {
		o(srv, &so)
	}
	scopes := scope.New(so)
	if err := scopes.Register(live.Name, live.New()); err != nil {
		t.Fatal(err)
	}
	srv.Scopes = scopes
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		scopes.Shutdown(ctx)
		<-done
	})
	return &testServer{Addr: l.Addr().String(), Srv: srv, Scopes: scopes}
}

var testLogger = testutil.Logger

// waitPublishing waits until stream name in scope path has a publisher.
func (ts *testServer) waitPublishing(t testing.TB, path, name string) *stream.Stream {
	t.Helper()
	var st *stream.Stream
	waitFor(t, 15*time.Second, "publisher of "+path+"/"+name, func() bool {
		s := ts.Scopes.Lookup(path)
		if s == nil {
			return false
		}
		st = s.Stream(name)
		return st != nil && st.Publisher() != nil
	})
	return st
}

// --- go-rtmp, the independent client ---------------------------------------

// media is one message a player received.
type media struct {
	Kind    stream.Kind
	TS      uint32
	Payload []byte
	At      time.Time
}

// player is an rtmp/client connection playing a stream in the background,
// recording every media message with its arrival time.
type player struct {
	mu       sync.Mutex
	got      []media
	codes    []string // onStatus codes after Play.Start
	playSent time.Time
	err      error
	done     chan struct{}
	c        *client.Conn
}

// play connects to app (a scope path) and plays name from its live edge.
func play(t testing.TB, ts *testServer, app, name string) *player {
	t.Helper()
	c := dial(t, ts, app)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msid, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatalf("createStream: %v", err)
	}
	p := &player{done: make(chan struct{}), c: c, playSent: time.Now()}
	if err := c.Play(ctx, msid, name, -2000); err != nil {
		t.Fatalf("play %s: %v", name, err)
	}
	go func() {
		defer close(p.done)
		for {
			m, err := c.ReadMessage()
			if err != nil {
				p.mu.Lock()
				p.err = err
				p.mu.Unlock()
				return
			}
			switch m.TypeID {
			case 8, 9:
				p.mu.Lock()
				p.got = append(p.got, media{Kind: stream.Kind(m.TypeID), TS: m.Timestamp, Payload: m.Payload, At: time.Now()})
				p.mu.Unlock()
			case 20:
				if cmd, err := message.DecodeCommand(m.Payload, false, amf.Limits{}); err == nil && cmd.Name == "onStatus" {
					if info, ok := cmd.Arg(0).(*amf.Object); ok && info.GetString("code") != "NetStream.Play.Reset" {
						p.mu.Lock()
						p.codes = append(p.codes, info.GetString("code"))
						p.mu.Unlock()
					}
				}
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-p.done
	})
	return p
}

// Media returns a copy of what arrived so far.
func (p *player) Media() []media {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]media(nil), p.got...)
}

// Codes returns the onStatus codes received after Play.Start.
func (p *player) Codes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.codes...)
}

// Video returns the video messages that arrived so far.
func (p *player) Video() []media {
	var v []media
	for _, m := range p.Media() {
		if m.Kind == stream.KindVideo {
			v = append(v, m)
		}
	}
	return v
}

func quietLogrus() *logrus.Logger {
	l := logrus.New()
	if os.Getenv("SCOPECAST_TEST_LOG") == "" {
		l.SetOutput(io.Discard)
	}
	return l
}

// goRTMPConnect dials and connects with go-rtmp.
func goRTMPConnect(t testing.TB, addr, app string, h gortmp.Handler) (*gortmp.ClientConn, error) {
	t.Helper()
	cc, err := gortmp.Dial("rtmp", addr, &gortmp.ConnConfig{Handler: h, Logger: quietLogrus()})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { cc.Close() })
	err = cc.Connect(&gomsg.NetConnectionConnect{Command: gomsg.NetConnectionConnectCommand{
		App: app, Type: "nonprivate", FlashVer: "LNX 9,0,124,2", TCURL: "rtmp://" + addr + "/" + app,
	}})
	return cc, err
}

// goPublisher publishes synthetic frames with go-rtmp.
type goPublisher struct {
	cc *gortmp.ClientConn
	st *gortmp.Stream
}

// close ends the publisher's connection.
func (p *goPublisher) close() { p.cc.Close() }

func goRTMPPublish(t testing.TB, addr, app, name string) *goPublisher {
	t.Helper()
	cc, err := goRTMPConnect(t, addr, app, &gortmp.DefaultHandler{})
	if err != nil {
		t.Fatalf("go-rtmp connect: %v", err)
	}
	st, err := cc.CreateStream(nil, 4096)
	if err != nil {
		t.Fatalf("go-rtmp createStream: %v", err)
	}
	if err := st.Publish(&gomsg.NetStreamPublish{PublishingName: name, PublishingType: "live"}); err != nil {
		t.Fatalf("go-rtmp publish: %v", err)
	}
	return &goPublisher{cc: cc, st: st}
}

func (p *goPublisher) Video(ts uint32, payload []byte) error {
	return p.st.Write(6, ts, &gomsg.VideoMessage{Payload: bytes.NewReader(payload)})
}

func (p *goPublisher) Audio(ts uint32, payload []byte) error {
	return p.st.Write(4, ts, &gomsg.AudioMessage{Payload: bytes.NewReader(payload)})
}

// tempFile names a file in the test's temp dir (kept under artifacts/ when
// SCOPECAST_ARTIFACTS is set).
func tempFile(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("SCOPECAST_ARTIFACTS"); dir != "" {
		d := filepath.Join(dir, t.Name())
		os.MkdirAll(d, 0o755)
		return filepath.Join(d, name)
	}
	return filepath.Join(t.TempDir(), name)
}

func url(ts *testServer, path string) string { return fmt.Sprintf("rtmp://%s/%s", ts.Addr, path) }

// dial connects an rtmp/client connection to path (a scope path, with its
// query if any) on ts; it is closed when the test ends.
func dial(t testing.TB, ts *testServer, path string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url(ts, path), client.Options{})
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
