package rtmp_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopecast/scopecast/rtmp"
)

// rtmptServer is an RTMPT handler in front of a test server.
type rtmptServer struct {
	Addr string // host:port of the HTTP server
	H    *rtmp.RTMPTHandler
}

// startRTMPT serves RTMPT for ts on a loopback HTTP port until the test ends.
func startRTMPT(t testing.TB, ts *testServer, opts ...func(*rtmp.RTMPTHandler)) *rtmptServer {
	t.Helper()
	h := &rtmp.RTMPTHandler{Server: ts.Srv}
	for _, o := range opts {
		o(h)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("rtmpt shutdown: %v", err)
		}
		hs.Close()
		if n := h.Stats().Sessions.Load(); n != 0 {
			t.Errorf("%d sessions open after shutdown", n)
		}
		if n := h.Stats().Pending.Load(); n != 0 {
			t.Errorf("%d output bytes held after shutdown", n)
		}
	})
	return &rtmptServer{Addr: strings.TrimPrefix(hs.URL, "http://"), H: h}
}

func (rs *rtmptServer) url(path string) string { return fmt.Sprintf("rtmpt://%s/%s", rs.Addr, path) }

// ffmpeg publishes over rtmpt://, ffmpeg plays over rtmp://.
func TestRTMPTFFmpegPublish(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	rs := startRTMPT(t, ts)
	pub := ffmpegPublish(t, rs.url("live/t1"), 7, 25)
	ts.waitPublishing(t, "/live", "t1")
	out := tempFile(t, "play.flv")
	log, err := exec.Command(needTool(t, "ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin",
		"-i", url(ts, "live/t1"), "-t", "4", "-c", "copy", "-y", out).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg player: %v\n%s", err, log)
	}
	pub.Wait()
	p := ffprobe(t, out)
	t.Logf("ffmpeg rtmp player of an rtmpt publisher: %+v; rtmpt stats %s", p, statsLine(rs.H))
	checkProbe(t, p, 4)
	if rs.H.Stats().BytesIn.Load() < 100_000 {
		t.Errorf("rtmpt took only %d bytes in", rs.H.Stats().BytesIn.Load())
	}
}

// ffmpeg publishes over rtmp://; ffmpeg and rtmpdump play over rtmpt://.
func TestRTMPTPlayers(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	rs := startRTMPT(t, ts)
	pub := ffmpegPublish(t, url(ts, "live/t2"), 9, 25)
	ts.waitPublishing(t, "/live", "t2")
	ffOut, dumpOut := tempFile(t, "ffmpeg.flv"), tempFile(t, "rtmpdump.flv")
	var wg sync.WaitGroup
	var ffErr, dumpErr error
	var ffLog, dumpLog []byte
	wg.Add(2)
	go func() {
		defer wg.Done()
		ffLog, ffErr = exec.Command(needTool(t, "ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin",
			"-i", rs.url("live/t2"), "-t", "4", "-c", "copy", "-y", ffOut).CombinedOutput()
	}()
	go func() {
		defer wg.Done()
		dumpLog, dumpErr = exec.Command(needTool(t, "rtmpdump"), "-q", "--live", "-r", rs.url("live/t2"), "-o", dumpOut).CombinedOutput()
	}()
	wg.Wait()
	pub.Wait()
	if ffErr != nil {
		t.Fatalf("ffmpeg rtmpt player: %v\n%s", ffErr, ffLog)
	}
	if dumpErr != nil {
		t.Logf("rtmpdump: %v\n%s", dumpErr, dumpLog)
	}
	p := ffprobe(t, ffOut)
	t.Logf("ffmpeg rtmpt player: %+v", p)
	checkProbe(t, p, 4)
	d := ffprobe(t, dumpOut)
	t.Logf("rtmpdump rtmpt player: %+v; rtmpt stats %s", d, statsLine(rs.H))
	if !hasCodecs(d, "h264", "aac") {
		t.Errorf("rtmpdump file codecs %v, want h264+aac", d.Codecs)
	}
	if d.VideoFrames < 6*25 || d.VideoFrames > 9*25+5 {
		t.Errorf("rtmpdump decoded %d video frames of a 9 s stream", d.VideoFrames)
	}
}

// checkProbe: secs seconds of 25 fps H.264 and ~43/s AAC, plus the GOP a player starts with.
func checkProbe(t *testing.T, p probe, secs int) {
	t.Helper()
	if !hasCodecs(p, "h264", "aac") || p.Width != 320 || p.Height != 240 {
		t.Errorf("codecs %v size %dx%d, want h264+aac 320x240", p.Codecs, p.Width, p.Height)
	}
	if p.VideoFrames < secs*25-10 || p.VideoFrames > secs*25+30 {
		t.Errorf("decoded %d video frames in %d s at 25 fps", p.VideoFrames, secs)
	}
	if p.AudioFrames < secs*43-20 {
		t.Errorf("decoded %d audio frames in %d s (~43/s)", p.AudioFrames, secs)
	}
}

func statsLine(h *rtmp.RTMPTHandler) string {
	s := h.Stats()
	return fmt.Sprintf("sessions=%d opened=%d refused=%d expired=%d in=%d out=%d pending=%d sends=%d polls=%d bad=%d",
		s.Sessions.Load(), s.Opened.Load(), s.Refused.Load(), s.Expired.Load(), s.BytesIn.Load(), s.BytesOut.Load(),
		s.Pending.Load(), s.Sends.Load(), s.Polls.Load(), s.BadRequests.Load())
}

// A connect rejection reaches an ffmpeg rtmpt client before the session closes.
func TestRTMPTConnectRejection(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	if err := ts.Scopes.Register("guarded", &rejectApp{reason: "tickets only"}); err != nil {
		t.Fatal(err)
	}
	rs := startRTMPT(t, ts)
	for _, c := range []struct{ path, want string }{
		{"nosuchapp/x", `Application "nosuchapp" is not installed`},
		{"guarded/room/x", "tickets only"},
	} {
		out, err := exec.Command(needTool(t, "ffmpeg"), "-hide_banner", "-nostdin", "-f", "lavfi", "-i", "testsrc2", "-t", "1",
			"-c:v", "libx264", "-f", "flv", rs.url(c.path)).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Server error: ") || !strings.Contains(string(out), c.want) {
			t.Errorf("ffmpeg to %s: err %v, output lacks %q:\n%s", c.path, err, c.want, out)
		}
	}
	waitFor(t, 5*time.Second, "rejected sessions gone", func() bool { return rs.H.Stats().Sessions.Load() == 0 })
	if n := ts.Srv.Stats().Rejected.Load(); n != 2 {
		t.Errorf("rejected counter %d, want 2", n)
	}
}

// post sends one RTMPT request.
func post(t testing.TB, c *http.Client, addr, path string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := c.Post("http://"+addr+path, "application/x-fcs", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading: %v", path, err)
	}
	return resp.StatusCode, b
}

// openSession opens an RTMPT session and returns its id.
func openSession(t testing.TB, c *http.Client, addr string) string {
	t.Helper()
	code, b := post(t, c, addr, "/open/1", []byte{0})
	if code != 200 || len(b) < 2 || b[len(b)-1] != '\n' {
		t.Fatalf("open: %d %q", code, b)
	}
	return string(b[:len(b)-1])
}

// Unknown session → 400; GET → 405; oversized body → 413; ident2 → 404;
// the response headers are the ones RTMPT clients expect.
func TestRTMPTRequests(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	rs := startRTMPT(t, ts, func(h *rtmp.RTMPTHandler) { h.MaxBodySize = 1000 })
	c := &http.Client{}
	id := openSession(t, c, rs.Addr)
	if len(id) != 19 {
		t.Errorf("session id %q, want 19 digits", id)
	}
	if code, b := post(t, c, rs.Addr, "/idle/1234567890123456789/0", []byte{0}); code != 400 || !bytes.Equal(b, []byte{0}) {
		t.Errorf("unknown session: %d %q, want 400 and one 0 byte", code, b)
	}
	resp, err := c.Get("http://" + rs.Addr + "/idle/" + id + "/0")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d Allow %q, want 405 POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if code, _ := post(t, c, rs.Addr, "/send/"+id+"/1", make([]byte, 1001)); code != 413 {
		t.Errorf("oversized body: %d, want 413", code)
	}
	if code, _ := post(t, c, rs.Addr, "/fcs/ident2", nil); code != 404 {
		t.Errorf("ident2: %d, want 404", code)
	}
	if code, _ := post(t, c, rs.Addr, "/send/"+id+"/x", nil); code != 400 {
		t.Errorf("bad seq: %d, want 400", code)
	}
	resp, err = c.Post("http://"+rs.Addr+"/idle/"+id+"/2", "application/x-fcs", bytes.NewReader([]byte{0}))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != 200 || len(b) != 1 || b[0] != 1 || h.Get("Content-Type") != "application/x-fcs" ||
		h.Get("Cache-Control") != "no-cache" || h.Get("Connection") != "Keep-Alive" || h.Get("Content-Length") != "1" {
		t.Errorf("idle: %d %q %v", resp.StatusCode, b, h)
	}
	if code, b := post(t, c, rs.Addr, "/close/"+id+"/3", []byte{0}); code != 200 || !bytes.Equal(b, []byte{0}) {
		t.Errorf("close: %d %q", code, b)
	}
	if code, _ := post(t, c, rs.Addr, "/idle/"+id+"/4", []byte{0}); code != 400 {
		t.Errorf("idle after close: %d, want 400", code)
	}
	waitFor(t, 5*time.Second, "closed session's connection gone", func() bool { return ts.Srv.Stats().Active.Load() == 0 })
}

// dialFrom returns an HTTP client whose connections come from local IP ip.
func dialFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

// rtmptProxy tunnels TCP connections through RTMPT sessions, polling as
// ffmpeg does: one request at a time on one keep-alive connection, /send
// when it has bytes, /idle (one 0 byte) otherwise. It lets rtmp/client
// players run over RTMPT.
type rtmptProxy struct {
	Addr   string
	rs     *rtmptServer
	hc     *http.Client
	l      net.Listener
	quit   chan struct{}
	paused atomic.Bool // stop polling, as a client that went away without closing
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t testing.TB, rs *rtmptServer, hc *http.Client) *rtmptProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rtmptProxy{Addr: l.Addr().String(), rs: rs, hc: hc, l: l, quit: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			p.wg.Add(1)
			go p.tunnel(c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		close(p.quit)
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// server is a testServer whose address is the proxy's, for play().
func (p *rtmptProxy) server(ts *testServer) *testServer {
	return &testServer{Addr: p.Addr, Srv: ts.Srv, Scopes: ts.Scopes}
}

func (p *rtmptProxy) do(path string, body []byte) (int, []byte, error) {
	resp, err := p.hc.Post("http://"+p.rs.Addr+path, "application/x-fcs", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (p *rtmptProxy) tunnel(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	code, b, err := p.do("/open/1", []byte{0})
	if err != nil || code != 200 {
		return
	}
	id := strings.TrimSpace(string(b))
	in := make(chan []byte, 64)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(in)
		for {
			buf := make([]byte, 32<<10)
			n, err := c.Read(buf)
			if n > 0 {
				select {
				case in <- buf[:n]:
				case <-p.quit:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for seq := 0; ; seq++ {
		if p.paused.Load() {
			<-p.quit
			return
		}
		var body []byte
		eof := false
	gather:
		for len(body) < 256<<10 {
			select {
			case b, ok := <-in:
				if !ok {
					eof = true
					break gather
				}
				body = append(body, b...)
			default:
				break gather
			}
		}
		cmd := "send"
		switch {
		case eof && len(body) == 0:
			p.do(fmt.Sprintf("/close/%s/%d", id, seq), []byte{0})
			return
		case len(body) == 0:
			cmd, body = "idle", []byte{0}
		}
		code, b, err := p.do(fmt.Sprintf("/%s/%s/%d", cmd, id, seq), body)
		if err != nil || code != 200 || len(b) == 0 {
			return
		}
		if _, err := c.Write(b[1:]); err != nil {
			return
		}
	}
}

// A flood of /open from two addresses stays within the per-address and
// total limits; a healthy RTMPT player keeps playing through it; the flood's
// sessions, which never poll, expire and release what they held.
func TestRTMPTSessionFlood(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	rs := startRTMPT(t, ts, func(h *rtmp.RTMPTHandler) {
		h.MaxSessions = 24
		h.SessionIdle = time.Second
	})
	ffmpegPublish(t, url(ts, "live/flood"), 12, 25)
	ts.waitPublishing(t, "/live", "flood")
	px := startProxy(t, rs, &http.Client{})
	pl := play(t, px.server(ts), "live", "flood")
	waitFor(t, 10*time.Second, "the rtmpt player's first second", func() bool { return len(pl.Video()) >= 25 })

	var maxOpen atomic.Int64
	flood := func(ip string) (ok, refused int) {
		c := dialFrom(ip)
		defer c.CloseIdleConnections()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					resp, err := c.Post("http://"+rs.Addr+"/open/1", "application/x-fcs", bytes.NewReader([]byte{0}))
					if err != nil {
						t.Errorf("open from %s: %v", ip, err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if n := rs.H.Stats().Sessions.Load(); n > maxOpen.Load() {
						maxOpen.Store(n)
					}
					mu.Lock()
					switch resp.StatusCode {
					case 200:
						ok++
					case 503:
						refused++
					default:
						t.Errorf("open: status %d", resp.StatusCode)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return ok, refused
	}
	ok2, ref2 := flood("127.0.0.2")
	ok3, ref3 := flood("127.0.0.3")
	t.Logf("flood: 127.0.0.2 %d opened %d refused; 127.0.0.3 %d opened %d refused; max open %d; %s",
		ok2, ref2, ok3, ref3, maxOpen.Load(), statsLine(rs.H))
	if ok2 != 16 || ok3 != 24-16-1 {
		t.Errorf("opened %d and %d, want 16 (per address) and 7 (total 24 with the player)", ok2, ok3)
	}
	if maxOpen.Load() > 24 {
		t.Errorf("%d sessions open at once, limit 24", maxOpen.Load())
	}
	// The player keeps playing through the flood and the expiry.
	n := len(pl.Video())
	waitFor(t, 10*time.Second, "flood sessions expired", func() bool { return rs.H.Stats().Sessions.Load() == 1 })
	waitFor(t, 10*time.Second, "the player's next second", func() bool { return len(pl.Video()) >= n+25 })
	if got := rs.H.Stats().Expired.Load(); got != 23 {
		t.Errorf("%d sessions expired, want 23", got)
	}
	waitFor(t, 10*time.Second, "the flood's RTMP connections gone", func() bool { return ts.Srv.Stats().Active.Load() == 2 })
	if codes := pl.Codes(); len(codes) > 0 {
		t.Errorf("player got %v", codes)
	}
}

// A player that stops polling: its output stops at the bound, then the
// session expires and the output is released; the publisher goes on.
func TestRTMPTStoppedPlayer(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	const bound = 64 << 10
	rs := startRTMPT(t, ts, func(h *rtmp.RTMPTHandler) {
		h.MaxPendingOutput = bound
		h.SessionIdle = 2 * time.Second
	})
	pub := goRTMPPublish(t, ts.Addr, "live", "quiet")
	frame := make([]byte, 10_000)
	frame[0], frame[1] = 0x17, 1
	var tsMS uint32
	publish := func() {
		t.Helper()
		tsMS += 40
		if err := pub.Video(tsMS, frame); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	publish()
	px := startProxy(t, rs, &http.Client{})
	pl := play(t, px.server(ts), "live", "quiet")
	waitFor(t, 10*time.Second, "the player's first frames", func() bool {
		publish()
		return len(pl.Video()) >= 5
	})
	px.paused.Store(true)
	var most int64
	waitFor(t, 10*time.Second, "output piling up to the bound", func() bool {
		publish()
		most = max(most, rs.H.Stats().Pending.Load())
		return most >= bound-int64(len(frame))
	})
	waitFor(t, 10*time.Second, "the quiet session expired", func() bool {
		publish()
		most = max(most, rs.H.Stats().Pending.Load())
		return rs.H.Stats().Sessions.Load() == 0
	})
	if most > bound {
		t.Errorf("%d bytes pending, bound %d", most, bound)
	}
	waitFor(t, 10*time.Second, "output released", func() bool { return rs.H.Stats().Pending.Load() == 0 })
	waitFor(t, 10*time.Second, "the player's connection gone", func() bool { return ts.Srv.Stats().Active.Load() == 1 })
	t.Logf("most pending %d; %s", most, statsLine(rs.H))
	publish() // the publisher is unaffected
}
