package httpflv_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopecast/scopecast/apps/live"
	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
	"github.com/scopecast/scopecast/stream/httpflv"
)

var (
	needTool      = testutil.NeedTool
	waitFor       = testutil.WaitFor
	ffmpegPublish = testutil.FFmpegPublish // (t, url, secs, gop, extra...)
)

var testLogger = testutil.Logger

// env is a scope tree with the live app (and a "guarded" app whose hooks the
// tests set), an RTMP server and an HTTP server with the FLV handler, on
// loopback ports, until the test ends.
type env struct {
	Scopes  *scope.Global
	RTMP    string // host:port
	HTTP    string // http://host:port
	Handler *httpflv.Handler
	Guard   *guard
}

type envOpt func(*httpflv.Handler, *scope.Options)

// guard is an application whose hooks record and may refuse.
type guard struct {
	scope.BaseHandler
	mu       sync.Mutex
	play     func(c scope.Conn, name string) error
	protos   []string
	names    []string
	stopped  []string
	connects int
	queries  []string // ConnectQuery().Encode() of each connect that has one
}

func (g *guard) Connect(c scope.Conn, s *scope.Scope, params []any) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.connects++
	g.protos = append(g.protos, c.Protocol())
	if cq, ok := c.(interface{ ConnectQuery() url.Values }); ok {
		g.queries = append(g.queries, cq.ConnectQuery().Encode())
	}
	return nil
}

func (g *guard) Play(c scope.Conn, s *scope.Scope, name string) error {
	g.mu.Lock()
	fn := g.play
	g.names = append(g.names, name)
	g.mu.Unlock()
	if fn != nil {
		return fn(c, name)
	}
	return nil
}

func (g *guard) StopPlay(c scope.Conn, s *scope.Scope, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = append(g.stopped, name)
}

func startEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	so := scope.Options{KeepDelay: 200 * time.Millisecond, Logger: testLogger()}
	h := &httpflv.Handler{Logger: testLogger()}
	for _, o := range opts {
		o(h, &so)
	}
	scopes := scope.New(so)
	g := &guard{}
	if err := scopes.Register(live.Name, live.New()); err != nil {
		t.Fatal(err)
	}
	if err := scopes.Register("guarded", g); err != nil {
		t.Fatal(err)
	}
	h.Scopes = scopes
	rtmpAddr, stopRTMP := startRTMP(t, scopes)
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); hs.Serve(hl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("httpflv shutdown: %v", err)
		}
		stopRTMP(ctx)
		scopes.Shutdown(ctx)
		wg.Wait()
	})
	return &env{Scopes: scopes, RTMP: rtmpAddr, HTTP: "http://" + hl.Addr().String(), Handler: h, Guard: g}
}

// pubConn is a scope connection that publishes from the test.
type pubConn struct{ id string }

func (c *pubConn) ID() string         { return c.id }
func (c *pubConn) Protocol() string   { return "test" }
func (c *pubConn) RemoteAddr() string { return "test" }
func (c *pubConn) Close(error)        {}

// publisher publishes a stream from the test through the scope API.
type publisher struct {
	t  testing.TB
	e  *env
	c  *pubConn
	s  *scope.Scope
	st *stream.Stream
}

var pubSeq int

func (e *env) publish(t testing.TB, path, name string) *publisher {
	t.Helper()
	pubSeq++
	c := &pubConn{id: "pub" + strconv.Itoa(pubSeq)}
	s, err := e.Scopes.Connect(c, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Publish(c, name, "live")
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{t: t, e: e, c: c, s: s, st: st}
	t.Cleanup(p.stop)
	return p
}

func (p *publisher) write(kind stream.Kind, ts uint32, payload []byte) *stream.Packet {
	pkt := stream.NewPacket(kind, ts, payload)
	p.st.Write(pkt)
	return pkt
}

func (p *publisher) stop() {
	if p.s == nil {
		return
	}
	p.s.Unpublish(p.c, p.st)
	p.e.Scopes.Disconnect(p.c, p.s)
	p.s = nil
}

// Synthetic media: AVC + AAC.
var (
	metaPayload = []byte("\x02\x00\x0aonMetaData\x08\x00\x00\x00\x01\x00\x05width\x00\x40\x74\x00\x00\x00\x00\x00\x00\x00\x00\x09")
	avcHeader   = []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0, 4, 0x67, 0x42, 0xC0, 0x1E, 1, 0, 4, 0x68, 0xCE, 0x3C, 0x80}
	aacHeader   = []byte{0xAF, 0, 0x12, 0x10}
)

func keyframe(n int) []byte {
	return append([]byte{0x17, 1, 0, 0, 0}, bytes.Repeat([]byte{0x65}, n)...)
}
func inter(n int) []byte { return append([]byte{0x27, 1, 0, 0, 0}, bytes.Repeat([]byte{0x41}, n)...) }
func audio(n int) []byte { return append([]byte{0xAF, 1}, bytes.Repeat([]byte{0x21}, n)...) }

// startMedia writes metadata, headers and a keyframe.
func (p *publisher) startMedia(ts uint32) {
	p.write(stream.KindData, 0, metaPayload)
	p.write(stream.KindVideo, 0, avcHeader)
	p.write(stream.KindAudio, 0, aacHeader)
	p.write(stream.KindVideo, ts, keyframe(100))
}

// rawResp is a raw GET's connection, after reading the response head; the
// body is read from br.
type rawResp struct {
	nc               net.Conn
	br               *bufio.Reader
	Status           int
	Header           http.Header
	TransferEncoding []string  // taken out of Header by http.ReadResponse
	Body             io.Reader // the de-chunked body
}

// rawGet sends an HTTP/1.1 GET of path with the header lines hdr.
func rawGet(t testing.TB, e *env, path string, hdr ...string) *rawResp {
	t.Helper()
	return rawGetProto(t, e, "HTTP/1.1", path, hdr...)
}

// rawGetProto is rawGet with the request line's protocol proto.
func rawGetProto(t testing.TB, e *env, proto, path string, hdr ...string) *rawResp {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.HTTP, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET " + path + " " + proto + "\r\nHost: " + strings.TrimPrefix(e.HTTP, "http://") + "\r\n"
	for _, h := range hdr {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Time{})
	return &rawResp{nc: nc, br: br, Status: resp.StatusCode, Header: resp.Header, TransferEncoding: resp.TransferEncoding, Body: resp.Body}
}

// readFLV reads tags from r until n tags were read or r ends.
func readFLV(t testing.TB, r io.Reader, n int) (flv.Header, []flv.Tag, error) {
	t.Helper()
	fr, err := flv.NewReader(r)
	if err != nil {
		return flv.Header{}, nil, err
	}
	var tags []flv.Tag
	for len(tags) < n {
		tag, err := fr.ReadTag()
		if err != nil {
			return fr.Header(), tags, err
		}
		tags = append(tags, tag)
	}
	return fr.Header(), tags, nil
}

// waitPublishing waits until stream name in scope path has a publisher.
func (e *env) waitPublishing(t testing.TB, path, name string) *stream.Stream {
	t.Helper()
	var st *stream.Stream
	waitFor(t, 15*time.Second, "publisher of "+path+"/"+name, func() bool {
		s := e.Scopes.Lookup(path)
		if s == nil {
			return false
		}
		st = s.Stream(name)
		return st != nil && st.Publisher() != nil
	})
	return st
}

func (e *env) rtmpURL(path string) string { return fmt.Sprintf("rtmp://%s/%s", e.RTMP, path) }
