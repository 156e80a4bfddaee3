package client

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus files from the tables")

// replyCases seed TestReadReply and FuzzRTMPTReply.
var replyCases = []struct {
	name   string
	raw    string
	status int
	body   string
	keep   bool
	err    bool
}{
	{"poll", "HTTP/1.1 200 OK\r\nContent-Type: application/x-fcs\r\nContent-Length: 4\r\nConnection: Keep-Alive\r\n\r\n\x01abc", 200, "\x01abc", true, false},
	{"empty-poll", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n\x21", 200, "\x21", true, false},
	{"open", "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n1234567890123456789\n", 200, "1234567890123456789\n", true, false},
	{"unknown-session", "HTTP/1.1 400 Bad Request\r\nContent-Length: 1\r\n\r\n\x00", 400, "\x00", true, false},
	{"close-conn", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n\x01z", 200, "\x01z", false, false},
	{"http10", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n\x01", 200, "\x01", false, false},
	{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\x01ab\r\n2\r\ncd\r\n0\r\n\r\n", 200, "\x01abcd", true, false},
	{"until-close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n\x01hello", 200, "\x01hello", false, false},
	{"too-long", "HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n", 200, "", false, true},
	{"chunked-too-long", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", 80, strings.Repeat("x", 80)), 200, "", false, true},
	{"short-body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n\x01ab", 200, "", false, true},
	{"garbage", "RTMP\x03\x00\x00", 0, "", false, true},
	{"empty", "", 0, "", false, true},
	{"bad-length", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", 0, "", false, true},
}

const replyLimit = 64

func TestReadReply(t *testing.T) {
	for _, tc := range replyCases {
		status, body, keep, err := readReply(bufio.NewReader(strings.NewReader(tc.raw)), replyLimit, nil)
		if (err != nil) != tc.err {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if status != tc.status || string(body) != tc.body || keep != tc.keep {
			t.Errorf("%s: %d %q keep=%v, want %d %q keep=%v", tc.name, status, body, keep, tc.status, tc.body, tc.keep)
		}
	}
	// Two answers on one connection, the scratch buffer reused.
	raw := replyCases[0].raw + replyCases[1].raw
	br := bufio.NewReader(strings.NewReader(raw))
	_, b1, _, err := readReply(br, replyLimit, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, b2, _, err := readReply(br, replyLimit, b1[:0])
	if err != nil || string(b2) != "\x21" {
		t.Fatalf("second answer %q, %v", b2, err)
	}
}

func FuzzRTMPTReply(f *testing.F) {
	for _, tc := range replyCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		br := bufio.NewReader(bytes.NewReader(raw))
		for range 3 {
			_, body, keep, err := readReply(br, replyLimit, nil)
			if len(body) > replyLimit+1 {
				t.Fatalf("body of %d bytes, limit %d", len(body), replyLimit)
			}
			if err != nil || !keep {
				return
			}
			if _, err := parseSessionID(body); err == nil && len(bytes.TrimRight(body, "\r\n")) > rtmptMaxIDLen {
				t.Fatalf("session id %q over the limit accepted", body)
			}
		}
	})
}

// TestFuzzCorpus keeps testdata/fuzz/FuzzRTMPTReply in step with replyCases
// (go test -run TestFuzzCorpus -update rewrites it).
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for _, tc := range replyCases {
		c.Add("FuzzRTMPTReply", "seed-"+tc.name, []byte(tc.raw))
	}
	c.Check(t, *update, "-update")
}

func TestParseSessionID(t *testing.T) {
	for in, want := range map[string]string{
		"1234567890123456789\n": "1234567890123456789",
		"abc_DEF-9\r\n":         "abc_DEF-9",
		"7":                     "7",
	} {
		if got, err := parseSessionID([]byte(in)); err != nil || got != want {
			t.Errorf("parseSessionID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "\n", "12/34\n", "../x", "a b", strings.Repeat("1", 65), "\x01" + "123"} {
		if got, err := parseSessionID([]byte(in)); !errors.Is(err, ErrRTMPT) {
			t.Errorf("parseSessionID(%q) = %q, %v; want ErrRTMPT", in, got, err)
		}
	}
}

func TestParseURLSchemes(t *testing.T) {
	for in, want := range map[string]target{
		"rtmp://h/live/room":         {addr: "h:1935", host: "h", app: "live/room"},
		"rtmpt://h/live":             {rtmpt: true, addr: "h:80", host: "h", app: "live"},
		"rtmpt://h:5080/live?x=1":    {rtmpt: true, addr: "h:5080", host: "h:5080", app: "live?x=1"},
		"rtmpt://[::1]:5080/live/r/": {rtmpt: true, addr: "[::1]:5080", host: "[::1]:5080", app: "live/r"},
	} {
		got, err := parseURL(in)
		if err != nil || got != want {
			t.Errorf("parseURL(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestIdleSleep(t *testing.T) {
	for d, want := range map[byte]time.Duration{0: 50 * time.Millisecond, 1: 50 * time.Millisecond, 3: 50 * time.Millisecond,
		5: 75 * time.Millisecond, 9: 135 * time.Millisecond, 33: 495 * time.Millisecond, 255: 500 * time.Millisecond} {
		if got := idleSleep(d); got != want {
			t.Errorf("idleSleep(%d) = %v, want %v", d, got, want)
		}
	}
}

// A connection without a poller: Read and Write block and honour deadlines.
func TestRTMPTConnDeadlines(t *testing.T) {
	c := &rtmptConn{done: make(chan struct{})}
	close(c.done) // no poller to wait for
	isTimeout := func(err error) bool {
		var ne net.Error
		return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
	}

	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(make([]byte, 10)); !isTimeout(err) {
		t.Fatalf("Read = %v, want a timeout", err)
	}
	// A blocked Read returns as soon as the deadline moves into the past.
	c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		done <- err
	}()
	c.SetDeadline(time.Unix(1, 0))
	if err := <-done; !isTimeout(err) {
		t.Fatalf("blocked Read = %v, want a timeout", err)
	}

	// Write takes up to the output bound, then blocks until the deadline.
	c.SetDeadline(time.Time{})
	c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	n, err := c.Write(make([]byte, rtmptMaxOut+100))
	if n != rtmptMaxOut || !isTimeout(err) {
		t.Fatalf("Write = %d, %v; want %d and a timeout", n, err, rtmptMaxOut)
	}
	c.SetWriteDeadline(time.Time{})
	go func() {
		_, err := c.Write([]byte{1})
		done <- err
	}()
	c.SetWriteDeadline(time.Unix(1, 0))
	if err := <-done; !isTimeout(err) {
		t.Fatalf("blocked Write = %v, want a timeout", err)
	}

	// Received bytes are read out, then Close ends everything.
	c.in = append(c.in, "abc"...)
	c.SetDeadline(time.Time{})
	buf := make([]byte, 2)
	if n, err := c.Read(buf); n != 2 || err != nil || string(buf) != "ab" {
		t.Fatalf("Read = %d %v %q", n, err, buf)
	}
	go func() {
		_, err := c.Write([]byte{1}) // blocks: output full
		done <- err
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write blocked over Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
}
