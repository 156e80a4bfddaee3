package handshake

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
)

type interopResult struct {
	scheme Scheme
	err    error
}

// serveOnce accepts one connection, runs Server on it and then checks that
// the first chunk is an AMF0 "connect" command, as any RTMP client sends right
// after the handshake.
func serveOnce(t *testing.T) (string, <-chan interopResult) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	res := make(chan interopResult, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- interopResult{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		scheme, err := Server(br, c)
		if err != nil {
			res <- interopResult{scheme, err}
			return
		}
		// Basic header (1 byte, fmt 0) + 11-byte message header, then the
		// AMF0 string "connect".
		first := make([]byte, 12+10)
		if _, err := io.ReadFull(br, first); err != nil {
			res <- interopResult{scheme, fmt.Errorf("reading first chunk: %w", err)}
			return
		}
		if first[0]>>6 != 0 || first[7] != 20 || !bytes.Equal(first[12:], []byte("\x02\x00\x07connect")) {
			res <- interopResult{scheme, fmt.Errorf("first chunk is not a connect command: % x", first)}
			return
		}
		res <- interopResult{scheme, nil}
	}()
	return ln.Addr().String(), res
}

func runInterop(t *testing.T, want Scheme, tool string, args func(url string) []string) {
	t.Helper()
	path := testutil.NeedTool(t, tool)
	addr, res := serveOnce(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args("rtmp://"+addr+"/app/x")...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		cmd.Wait() // the client fails once we hang up; its status is irrelevant
	}()
	select {
	case r := <-res:
		if r.err != nil {
			cancel()
			cmd.Wait()
			t.Fatalf("handshake with %s failed: %v\n%s output:\n%s", tool, r.err, tool, out.String())
		}
		if r.scheme != want {
			t.Errorf("%s: scheme = %v, want %v", tool, r.scheme, want)
		}
	case <-ctx.Done():
		t.Fatalf("%s: no handshake within the timeout", tool)
	}
}

// ffmpeg always sends a digest C1 (scheme 1). When publishing it echoes S1.
func TestInteropFFmpegPublish(t *testing.T) {
	runInterop(t, Digest1, "ffmpeg", func(url string) []string {
		return []string{"-nostdin", "-hide_banner", "-loglevel", "error",
			"-f", "lavfi", "-i", "testsrc", "-t", "1", "-f", "flv", url}
	})
}

// When playing, ffmpeg validates S1's digest and S2's signature and gives up
// before connect if either is wrong.
func TestInteropFFmpegPlay(t *testing.T) {
	runInterop(t, Digest1, "ffmpeg", func(url string) []string {
		return []string{"-nostdin", "-hide_banner", "-loglevel", "error",
			"-i", url, "-t", "1", "-f", "null", "-"}
	})
}

// Plain rtmpdump (no SWF verification) uses the simple handshake.
func TestInteropRtmpdumpSimple(t *testing.T) {
	runInterop(t, None, "rtmpdump", func(url string) []string {
		return []string{"-q", "-m", "5", "-r", url, "-o", os.DevNull}
	})
}

// With SWF verification parameters librtmp switches to the FP9 handshake and
// rejects a server whose S1 digest or S2 signature does not verify.
func TestInteropRtmpdumpDigest(t *testing.T) {
	runInterop(t, Digest1, "rtmpdump", func(url string) []string {
		return []string{"-q", "-m", "5", "-r", url, "-o", os.DevNull,
			"-w", "0000000000000000000000000000000000000000000000000000000000000000", "-x", "1"}
	})
}
