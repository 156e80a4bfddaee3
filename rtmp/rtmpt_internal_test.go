package rtmp

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/scope"
)

var updateRTMPTCorpus = flag.Bool("rtmpt.update", false, "rewrite testdata/fuzz/FuzzRTMPT from the case tables")

// rtmptPathCases seed both TestRTMPTPath and FuzzRTMPT.
var rtmptPathCases = []struct {
	name, path string
	cmd        rtmptCmd
	id         string
	seq        uint64
	err        error
}{
	{"ident2", "/fcs/ident2", cmdIdent, "", 0, nil},
	{"open", "/open/1", cmdOpen, "", 1, nil},
	{"open-big", "/open/9999999999999999999", cmdOpen, "", 9999999999999999999, nil},
	{"send-ffmpeg-first", "/send/1234567890123456789/0", cmdSend, "1234567890123456789", 0, nil},
	{"idle", "/idle/42/17", cmdIdle, "42", 17, nil},
	{"close", "/close/42/18", cmdClose, "42", 18, nil},
	{"root", "/", 0, "", 0, ErrRTMPTPath},
	{"empty", "", 0, "", 0, ErrRTMPTPath},
	{"no-slash", "open/1", 0, "", 0, ErrRTMPTPath},
	{"unknown", "/crossdomain.xml", 0, "", 0, ErrRTMPTPath},
	{"ident", "/fcs/ident", 0, "", 0, ErrRTMPTPath},
	{"open-empty", "/open/", 0, "", 0, ErrRTMPTBadRequest},
	{"open-none", "/open", 0, "", 0, ErrRTMPTBadRequest},
	{"open-letters", "/open/x", 0, "", 0, ErrRTMPTBadRequest},
	{"send-no-seq", "/send/42", 0, "", 0, ErrRTMPTBadRequest},
	{"send-empty-seq", "/send/42/", 0, "", 0, ErrRTMPTBadRequest},
	{"send-empty-id", "/send//1", 0, "", 0, ErrRTMPTBadRequest},
	{"send-alpha-id", "/send/ABC/1", 0, "", 0, ErrRTMPTBadRequest},
	{"send-seq-sign", "/send/42/-1", 0, "", 0, ErrRTMPTBadRequest},
	{"send-seq-plus", "/send/42/+1", 0, "", 0, ErrRTMPTBadRequest},
	{"send-seq-overflow", "/send/42/99999999999999999999", 0, "", 0, ErrRTMPTBadRequest},
	{"send-seq-trailing", "/send/42/1/", 0, "", 0, ErrRTMPTBadRequest},
	{"send-id-long", "/send/" + strings.Repeat("1", 33) + "/1", 0, "", 0, ErrRTMPTBadRequest},
	{"send-seq-space", "/send/42/1 ", 0, "", 0, ErrRTMPTBadRequest},
	{"control-char", "/\x17", 0, "", 0, ErrRTMPTPath},
	{"idle-unicode-digit", "/idle/4\u0662/1", 0, "", 0, ErrRTMPTBadRequest},
}

func TestRTMPTPath(t *testing.T) {
	for _, tc := range rtmptPathCases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseRTMPTPath(tc.path)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && (req.cmd != tc.cmd || req.id != tc.id || req.seq != tc.seq) {
				t.Errorf("got %v %q %d, want %v %q %d", req.cmd, req.id, req.seq, tc.cmd, tc.id, tc.seq)
			}
		})
	}
}

// seqStep is one request in a sequence-number script.
type seqStep struct {
	seq   uint64
	input bool
	want  seqVerdict
}

// rtmptSeqCases seed both TestRTMPTSeqWindow and FuzzRTMPT.
var rtmptSeqCases = []struct {
	name  string
	steps []seqStep
}{
	{"ffmpeg", []seqStep{{0, true, seqOK}, {1, false, seqOK}, {2, true, seqOK}, {3, false, seqOK}, {4, false, seqOK}}},
	{"starts-at-one", []seqStep{{1, true, seqOK}, {2, true, seqOK}}},
	{"gap", []seqStep{{0, true, seqOK}, {5, true, seqOK}, {6, false, seqOK}}},
	{"retry-send", []seqStep{{0, true, seqOK}, {1, true, seqOK}, {1, true, seqDuplicate}, {2, true, seqOK}}},
	{"retry-idle", []seqStep{{0, false, seqOK}, {0, false, seqDuplicate}, {1, true, seqOK}}},
	{"idle-overtakes-send", []seqStep{{0, true, seqOK}, {2, false, seqOK}, {1, true, seqOK}, {3, true, seqOK}}},
	{"send-overtakes-send", []seqStep{{0, true, seqOK}, {2, true, seqOK}, {1, true, seqReorder}}},
	{"late-idle", []seqStep{{0, true, seqOK}, {2, true, seqOK}, {1, false, seqOK}}},
	{"too-old", []seqStep{{0, false, seqOK}, {100, false, seqOK}, {30, false, seqDuplicate}, {37, false, seqOK}, {36, false, seqDuplicate}}},
	{"far-jump", []seqStep{{5, true, seqOK}, {1 << 62, false, seqOK}, {1<<62 - 1, false, seqOK}, {5, false, seqDuplicate}}},
	{"max-seq", []seqStep{{1<<63 - 1, true, seqOK}, {1<<63 - 1, true, seqDuplicate}}},
}

func TestRTMPTSeqWindow(t *testing.T) {
	for _, tc := range rtmptSeqCases {
		t.Run(tc.name, func(t *testing.T) {
			var w seqWindow
			for i, st := range tc.steps {
				got := w.check(st.seq, st.input)
				if got != st.want {
					t.Fatalf("step %d (seq %d input %v): %v, want %v", i, st.seq, st.input, got, st.want)
				}
				if got == seqOK {
					w.mark(st.seq, st.input)
				}
			}
		})
	}
}

func TestRTMPTPollDelay(t *testing.T) {
	want := []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 5, 9, 17, 33, 33, 33}
	for n, w := range want {
		if got := pollDelay(n); got != w {
			t.Errorf("pollDelay(%d) = %d, want %d", n, got, w)
		}
	}
	// Through a session: empty polls grow the delay; pending data resets it.
	h := &RTMPTHandler{}
	s := &rtmptSession{h: h}
	var got []byte
	for range 14 {
		r, _ := s.poll(nil, 10, false)
		got = append(got, r[0])
	}
	if !bytes.Equal(got, []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 5, 9, 17}) {
		t.Errorf("delays %v", got)
	}
	s.Write([]byte("abc"))
	if r, _ := s.poll(nil, 10, false); !bytes.Equal(r, []byte("\x01abc")) {
		t.Errorf("poll with data %q", r)
	}
	if r, _ := s.poll(nil, 10, true); r[0] != 1 {
		t.Errorf("delay after input %d", r[0])
	}
}

// Deadlines unblock blocked Reads and Writes with a timeout; Close unblocks
// them with net.ErrClosed; output never exceeds the bound; a response never
// exceeds its bound.
func TestRTMPTSessionConn(t *testing.T) {
	t.Run("read-deadline", func(t *testing.T) {
		s := &rtmptSession{h: &RTMPTHandler{}}
		done := make(chan error)
		go func() {
			_, err := s.Read(make([]byte, 10))
			done <- err
		}()
		s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if err := <-done; !isTimeout(err) {
			t.Fatalf("blocked read: %v, want a timeout", err)
		}
		s.SetReadDeadline(time.Time{})
		go func() {
			_, err := s.Read(make([]byte, 10))
			done <- err
		}()
		s.SetReadDeadline(time.Now()) // as Conn.Close does
		if err := <-done; !isTimeout(err) {
			t.Fatalf("read after a past deadline: %v", err)
		}
		s.SetReadDeadline(time.Time{})
		s.addInput([]byte("hello"), 100, nil)
		b := make([]byte, 3)
		if n, err := s.Read(b); n != 3 || err != nil || string(b) != "hel" {
			t.Fatalf("read %d %v %q", n, err, b)
		}
	})
	t.Run("write-bound", func(t *testing.T) {
		h := &RTMPTHandler{MaxPendingOutput: 10, MaxResponseSize: 4}
		s := &rtmptSession{h: h}
		done := make(chan error)
		go func() {
			_, err := s.Write([]byte("0123456789abcdef"))
			done <- err
		}()
		// The first 10 bytes are queued; the writer waits for a poll.
		waitPending(t, h, 10)
		r, _ := s.poll(nil, h.maxResponse(), false)
		if string(r) != "\x010123" {
			t.Fatalf("first response %q", r)
		}
		waitPending(t, h, 10) // the writer filled the room again
		r, _ = s.poll(nil, h.maxResponse(), false)
		if string(r) != "\x014567" {
			t.Fatalf("second response %q", r)
		}
		if err := <-done; err != nil {
			t.Fatalf("write: %v", err)
		}
		if n := h.stats.Pending.Load(); n != 8 {
			t.Fatalf("pending %d, want 8", n)
		}
		if n, err := s.Write([]byte("gh")); n != 2 || err != nil {
			t.Fatalf("write into the room: %d %v", n, err)
		}
		s.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		n, err := s.Write([]byte("x"))
		if n != 0 || !isTimeout(err) {
			t.Fatalf("write to a full session: %d %v, want a timeout", n, err)
		}
		var all []byte
		for {
			r, _ := s.poll(nil, h.maxResponse(), false)
			if len(r) == 1 {
				break
			}
			if len(r) > 1+h.maxResponse() {
				t.Fatalf("response of %d bytes", len(r))
			}
			all = append(all, r[1:]...)
		}
		if string(all) != "89abcdefgh" {
			t.Fatalf("rest %q", all)
		}
	})
	t.Run("close-unblocks", func(t *testing.T) {
		h := &RTMPTHandler{MaxPendingOutput: 4, MaxResponseSize: 2}
		s := &rtmptSession{h: h}
		rd, wr := make(chan error), make(chan error)
		go func() {
			_, err := s.Read(make([]byte, 1))
			rd <- err
		}()
		go func() {
			_, err := s.Write([]byte("12345678"))
			wr <- err
		}()
		waitPending(t, h, 4)
		s.Close()
		if err := <-rd; !errors.Is(err, net.ErrClosed) {
			t.Errorf("read after close: %v", err)
		}
		if err := <-wr; !errors.Is(err, net.ErrClosed) {
			t.Errorf("write after close: %v", err)
		}
		// 4 bytes pending > one response (2): dropped at once.
		if n := h.stats.Pending.Load(); n != 0 {
			t.Errorf("pending after close %d", n)
		}
	})
	t.Run("close-lingers-for-last-reply", func(t *testing.T) {
		h := &RTMPTHandler{}
		s := &rtmptSession{h: h}
		s.Write([]byte("_error"))
		s.Close()
		r, done := s.poll(nil, h.maxResponse(), false)
		if string(r) != "\x01_error" || !done {
			t.Errorf("last poll %q done %v", r, done)
		}
	})
	t.Run("end-releases", func(t *testing.T) {
		h := &RTMPTHandler{}
		s := &rtmptSession{h: h}
		s.Write(make([]byte, 1000))
		s.addInput([]byte("in"), 100, nil)
		s.end(ErrRTMPTExpired)
		if n := h.stats.Pending.Load(); n != 0 {
			t.Errorf("pending after end %d", n)
		}
		b := make([]byte, 10)
		if n, err := s.Read(b); n != 2 || err != nil {
			t.Errorf("input arrived before the end: %d %v", n, err)
		}
		if _, err := s.Read(b); !errors.Is(err, ErrRTMPTExpired) || !isTimeout(err) {
			t.Errorf("read after expiry: %v", err)
		}
		if _, err := s.Write(b); err == nil {
			t.Errorf("write after end succeeded")
		}
	})
	t.Run("input-bound", func(t *testing.T) {
		s := &rtmptSession{h: &RTMPTHandler{}}
		s.addInput(make([]byte, 8), 10, nil)
		stop := make(chan struct{})
		done := make(chan bool)
		go func() { done <- s.addInput(make([]byte, 8), 10, stop) }()
		b := make([]byte, 8)
		s.Read(b) // room again
		if !<-done {
			t.Fatalf("input not taken after the reader made room")
		}
		go func() { done <- s.addInput(make([]byte, 8), 10, stop) }()
		close(stop)
		if <-done {
			t.Fatalf("input taken over the bound")
		}
	})
}

func waitPending(t *testing.T, h *RTMPTHandler, n int64) {
	t.Helper()
	testutil.WaitFor(t, 5*time.Second, fmt.Sprintf("%d bytes pending", n), func() bool { return h.stats.Pending.Load() == n })
}

// rtmptFuzzSeeds are FuzzRTMPT's seeds: every path case, with a script of
// sequence numbers from the seq cases.
type rtmptFuzzSeed struct {
	name, method, path string
	body, script       []byte
}

func rtmptFuzzSeeds() []rtmptFuzzSeed {
	var seeds []rtmptFuzzSeed
	for _, tc := range rtmptPathCases {
		seeds = append(seeds, rtmptFuzzSeed{"path-" + tc.name, "POST", tc.path, []byte{0}, nil})
	}
	seeds = append(seeds, rtmptFuzzSeed{"get-idle", "GET", "/idle/42/1", nil, nil})
	seeds = append(seeds, rtmptFuzzSeed{"big-body", "POST", "/send/42/1", make([]byte, 300), nil})
	for _, tc := range rtmptSeqCases {
		var script []byte
		for _, st := range tc.steps {
			b := byte(st.seq % 128)
			if st.input {
				b |= 0x80
			}
			script = append(script, b)
		}
		seeds = append(seeds, rtmptFuzzSeed{"seq-" + tc.name, "POST", "/idle/42/0", nil, script})
	}
	return seeds
}

// FuzzRTMPT: the path grammar, the handler's answers to any request, and
// the sequence-number window against a model.
func FuzzRTMPT(f *testing.F) {
	for _, s := range rtmptFuzzSeeds() {
		f.Add(s.method, s.path, s.body, s.script)
	}
	srv := &Server{Scopes: scope.New(scope.Options{})}
	srv.Shutdown(context.Background()) // sessions end at once: no RTMP served
	f.Fuzz(func(t *testing.T, method, path string, body, script []byte) {
		req, err := parseRTMPTPath(path)
		if err == nil {
			// The parse is canonical: printing it back gives the path.
			var back string
			switch req.cmd {
			case cmdIdent:
				back = "/fcs/ident2"
			case cmdOpen:
				back = path // leading zeros are kept in the path, not the value
			default:
				back = fmt.Sprintf("/%s/%s/%s", req.cmd, req.id, path[strings.LastIndexByte(path, '/')+1:])
			}
			if back != path {
				t.Fatalf("%q parsed as %+v", path, req)
			}
			if req.id != "" && (len(req.id) > maxRTMPTIDLen || strings.Trim(req.id, "0123456789") != "") {
				t.Fatalf("bad id %q accepted", req.id)
			}
		} else if !errors.Is(err, ErrRTMPTPath) && !errors.Is(err, ErrRTMPTBadRequest) {
			t.Fatalf("unexpected error %v", err)
		}

		// The handler answers every request with a known status and a
		// well-formed RTMPT response.
		h := &RTMPTHandler{Server: srv, MaxBodySize: 256}
		if !validMethod(method) {
			method = "POST"
		}
		r := httptest.NewRequest(method, "http://x/", bytes.NewReader(body))
		r.URL.Path = path // any string, as a raw request line may carry
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200:
			if w.Header().Get("Content-Type") != "application/x-fcs" || w.Header().Get("Content-Length") != fmt.Sprint(w.Body.Len()) {
				t.Fatalf("200 without RTMPT headers: %v", w.Header())
			}
		case 400, 404, 405, 413, 503:
		default:
			t.Fatalf("%s %q: status %d", method, path, w.Code)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}

		// The window agrees with a model, and input is only ever taken in
		// increasing order: the stream cannot be corrupted.
		var win seqWindow
		seen := map[uint64]bool{}
		var top, lastInput uint64
		var started, hasInput bool
		var base uint64 = 1000
		for _, b := range script {
			seq := base + uint64(b&0x7F) - 64
			input := b&0x80 != 0
			want := seqOK
			switch {
			case started && (seen[seq] || seq+seqWindowLen <= top):
				want = seqDuplicate
			case input && hasInput && seq < lastInput:
				want = seqReorder
			}
			got := win.check(seq, input)
			if got != want {
				t.Fatalf("seq %d input %v: %v, model %v", seq, input, got, want)
			}
			if got != seqOK {
				continue
			}
			win.mark(seq, input)
			seen[seq] = true
			if !started || seq > top {
				top = seq
			}
			started = true
			if input {
				if hasInput && seq <= lastInput {
					t.Fatalf("input %d taken after %d", seq, lastInput)
				}
				hasInput, lastInput = true, seq
			}
			base = top // keep the script near the top of the window
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// TestRTMPTFuzzCorpus keeps testdata/fuzz/FuzzRTMPT in step with the case
// tables. Run `go test -run TestRTMPTFuzzCorpus -rtmpt.update` after changing one.
func TestRTMPTFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for _, s := range rtmptFuzzSeeds() {
		c.Add("FuzzRTMPT", s.name, s.method, s.path, s.body, s.script)
	}
	c.Check(t, *updateRTMPTCorpus, "-rtmpt.update")
}

// The handler end to end without a network: open, send, idle, close, and
// the session's RTMP connection runs the handshake through the adapter.
func TestRTMPTHandlerHandshake(t *testing.T) {
	srv := &Server{Scopes: scope.New(scope.Options{})}
	h := &RTMPTHandler{Server: srv}
	defer func() {
		h.Close()
		srv.Shutdown(context.Background())
	}()
	do := func(path string, body []byte) (int, []byte) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "http://x"+path, bytes.NewReader(body)))
		return w.Code, w.Body.Bytes()
	}
	code, b := do("/open/1", []byte{0})
	if code != 200 {
		t.Fatalf("open: %d", code)
	}
	id := strings.TrimSuffix(string(b), "\n")
	c0c1 := make([]byte, 1537)
	c0c1[0] = 3
	var got []byte
	code, b = do("/send/"+id+"/0", c0c1)
	if code != 200 {
		t.Fatalf("send: %d %q", code, b)
	}
	got = append(got, b[1:]...)
	for seq := 1; len(got) < 1+2*1536; seq++ {
		code, b = do(fmt.Sprintf("/idle/%s/%d", id, seq), []byte{0})
		if code != 200 {
			t.Fatalf("idle: %d", code)
		}
		got = append(got, b[1:]...)
		if seq > 500 {
			t.Fatalf("no S0S1S2 after 500 polls: %d bytes", len(got))
		}
	}
	if got[0] != 3 || !bytes.Equal(got[1+1536:], c0c1[1:]) {
		t.Errorf("S0 %d, S2 does not echo C1", got[0])
	}
	if code, b = do("/send/"+id+"/0", []byte{1}); code != 409 {
		t.Errorf("repeated send: %d %q, want 409", code, b)
	}
	if code, _ = do("/close/"+id+"/999", []byte{0}); code != 200 {
		t.Errorf("close: %d", code)
	}
	testutil.WaitFor(t, 5*time.Second, "the connection to end after /close", func() bool { return srv.Stats().Active.Load() == 0 })
}
