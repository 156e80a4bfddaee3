package rtmp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
)

// startRTMPS serves RTMPS for ts on another loopback port (with a fresh
// self-signed certificate) and returns its address and the certificate file. Its cleanup shuts the
// server down (before startServer's, which finds nothing left to do), so that
// ServeTLS has returned when the test ends.
func startRTMPS(t testing.TB, ts *testServer) (addr, certFile string) {
	t.Helper()
	certFile, keyFile := testutil.SelfSignedCert(t)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- ts.Srv.ServeTLS(l, &tls.Config{Certificates: []tls.Certificate{cert}}) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ts.Srv.Shutdown(ctx)
		if err := <-errc; !errors.Is(err, rtmp.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	return l.Addr().String(), certFile
}

// ffmpeg publishes over rtmps:// (to a self-signed certificate: ffmpeg's
// GnuTLS does not verify unless asked); ffmpeg plays over rtmps:// (verifying
// the certificate: -tls_verify 1 -ca_file) and rtmp:// at once; both files
// decode with the frames of the time played.
func TestRTMPSPublishAndPlay(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	addr, certFile := startRTMPS(t, ts)
	pub := ffmpegPublish(t, "rtmps://"+addr+"/live/sec", 9, 25)
	ts.waitPublishing(t, "/live", "sec")
	protos := map[string]int{}
	for _, c := range ts.Srv.Conns() {
		protos[c.Protocol()]++
	}
	if protos["rtmps"] != 1 {
		t.Errorf("connections by protocol %v, want the publisher on rtmps", protos)
	}

	urls := map[string]string{"rtmps": "rtmps://" + addr + "/live/sec", "rtmp": url(ts, "live/sec")}
	tlsArgs := map[string][]string{"rtmps": {"-tls_verify", "1", "-ca_file", certFile}}
	outs := map[string]string{}
	logs := map[string][]byte{}
	errs := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for proto, u := range urls {
		out := tempFile(t, proto+"-play.flv")
		outs[proto] = out
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, tlsArgs[proto]...)
			args = append(args, "-i", u, "-t", "4", "-c", "copy", "-y", out)
			log, err := exec.Command(needTool(t, "ffmpeg"), args...).CombinedOutput()
			mu.Lock()
			logs[proto], errs[proto] = log, err
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := pub.Wait(); err != nil {
		t.Errorf("ffmpeg rtmps publisher: %v", err)
	}
	probes := map[string]probe{}
	for proto := range urls {
		if errs[proto] != nil {
			t.Fatalf("ffmpeg %s player: %v\n%s", proto, errs[proto], logs[proto])
		}
		p := ffprobe(t, outs[proto])
		t.Logf("ffmpeg %s player of an rtmps publisher: %+v", proto, p)
		checkProbe(t, p, 4)
		probes[proto] = p
	}
	if d := probes["rtmps"].VideoFrames - probes["rtmp"].VideoFrames; d < -25 || d > 25 {
		t.Errorf("rtmps player %d video frames, rtmp player %d: more than a GOP apart",
			probes["rtmps"].VideoFrames, probes["rtmp"].VideoFrames)
	}
}

// A client that opens TCP to the RTMPS port and never finishes TLS (silent,
// or a partial ClientHello) is closed at HandshakeTimeout, and its goroutine
// ends; a plain RTMP handshake on the RTMPS port is refused.
func TestRTMPSHandshakeTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *rtmp.Server, _ *scope.Options) { s.HandshakeTimeout = 300 * time.Millisecond })
	addr, _ := startRTMPS(t, ts)
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"silent", nil},
		{"partial ClientHello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}},
		{"plain RTMP C0+C1", append([]byte{3}, make([]byte, 1536)...)},
	} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := nc.Write(tc.send); err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, nc)
		took := time.Since(start)
		nc.Close()
		// A reset is a close too: the server closes with our C1 unread.
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%s: read %v after %v, want the server to close", tc.name, err, took)
		}
		if tc.send == nil || len(tc.send) < 100 {
			if took < 250*time.Millisecond || took > 5*time.Second || n != 0 {
				t.Errorf("%s: closed after %v with %d bytes, want at HandshakeTimeout (300 ms) with none", tc.name, took, n)
			}
		}
		t.Logf("%s: closed after %v (%d bytes)", tc.name, took.Round(time.Millisecond), n)
	}
	waitFor(t, 5*time.Second, "no connection left", func() bool { return ts.Srv.Stats().Active.Load() == 0 })
	if got := ts.Srv.Stats().Protocol.Load(); got != 3 {
		t.Errorf("%d protocol errors counted, want 3 failed handshakes", got)
	}
}

// ServeTLS refuses a configuration without a certificate.
func TestServeTLSConfigErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	for _, cfg := range []*tls.Config{nil, {}} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.Srv.ServeTLS(l, cfg); !errors.Is(err, rtmp.ErrTLSConfig) {
			t.Errorf("ServeTLS(%v) = %v, want ErrTLSConfig", cfg, err)
		}
		l.Close()
	}
	if err := ts.Srv.ListenAndServeTLS("127.0.0.1:0", "/nonexistent/cert.pem", "/nonexistent/key.pem"); !errors.Is(err, rtmp.ErrTLSConfig) {
		t.Errorf("ListenAndServeTLS without files = %v, want ErrTLSConfig", err)
	}
}
