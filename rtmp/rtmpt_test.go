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
