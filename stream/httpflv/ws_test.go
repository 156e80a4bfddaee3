package httpflv_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
	"github.com/scopecast/scopecast/stream/httpflv"
)

func wsURL(e *env, path string) string { return "ws" + strings.TrimPrefix(e.HTTP, "http") + path }

// wsReader turns a WebSocket-FLV connection into the byte stream it
// carries (the concatenated binary messages); it ends with the close.
type wsReader struct {
	ws  *websocket.Conn
	cur io.Reader
	err error
}

func (r *wsReader) Read(b []byte) (int, error) {
	for {
		if r.err != nil {
			return 0, r.err
		}
		if r.cur != nil {
			n, err := r.cur.Read(b)
			if err == io.EOF {
				r.cur = nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		typ, rd, err := r.ws.NextReader()
		if err != nil {
			r.err = err
			return 0, err
		}
		if typ != websocket.BinaryMessage {
			r.err = errors.New("a non-binary message")
			return 0, r.err
		}
		r.cur = rd
	}
}

func dialWS(t testing.TB, e *env, path string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(wsURL(e, path), hdr)
	if err == nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

// A gorilla client reads WebSocket-FLV of an ffmpeg stream: the bytes parse
// as FLV, the first video frame after the headers is a keyframe, and ffprobe
// decodes what was received.
func TestWSFLVFFmpeg(t *testing.T) {
	e := startEnv(t)
	needTool(t, "ffprobe")
	ffmpegPublish(t, e.rtmpURL("live/cam1"), 20, 25)
	e.waitPublishing(t, "live", "cam1")
	ws, _, err := dialWS(t, e, "/live/cam1.flv", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	fr, err := flv.NewReader(io.TeeReader(&wsReader{ws: ws}, &got))
	if err != nil {
		t.Fatal(err)
	}
	if h := fr.Header(); !h.HasAudio || !h.HasVideo {
		t.Errorf("flags %+v", h)
	}
	var firstVideo []byte
	var videoFrames int
	for deadline := time.Now().Add(20 * time.Second); videoFrames < 60; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d video frames", videoFrames)
		}
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		tag, err := fr.ReadTag()
		if err != nil {
			t.Fatal(err)
		}
		if tag.Type == flv.TagVideo && len(tag.Data) > 1 && tag.Data[1] == 1 { // AVC NALUs, not the header
			if firstVideo == nil {
				firstVideo = tag.Data
			}
			videoFrames++
		}
	}
	if firstVideo[0] != 0x17 {
		t.Errorf("first video frame starts % x, want a keyframe (0x17)", firstVideo[:2])
	}
	file := filepath.Join(t.TempDir(), "ws.flv")
	if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if p := testutil.FFprobe(t, file); p.VideoCodec != "h264" || p.Width != 320 || p.Height != 240 || p.VideoFrames == 0 {
		t.Errorf("ffprobe: %+v", p)
	}
}

// The WebSocket connection is an "ws-flv" scope connection; it ends with a
// close 1000 when the publisher stops; other origins are refused when a list
// is configured; pings from the client are answered.
func TestWSFLVEndAndOrigin(t *testing.T) {
	e := startEnv(t, func(h *httpflv.Handler, _ *scope.Options) { h.AllowedOrigins = []string{"https://ok.example"} })
	pub := e.publish(t, "guarded", "cam1")
	pub.startMedia(0)
	if _, resp, err := dialWS(t, e, "/guarded/cam1.flv", http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("other origin: %v %v", err, resp)
	}
	ws, _, err := dialWS(t, e, "/guarded/cam1.flv?token=1", http.Header{"Origin": {"https://ok.example"}})
	if err != nil {
		t.Fatal(err)
	}
	pong := make(chan struct{}, 1)
	ws.SetPongHandler(func(string) error { pong <- struct{}{}; return nil })
	if err := ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	r := &wsReader{ws: ws}
	_, tags, err := readFLV(t, r, 4)
	if err != nil {
		t.Fatal(err)
	}
	if tags[3].Type != flv.TagVideo || tags[3].Data[0] != 0x17 {
		t.Errorf("fourth tag %d % x", tags[3].Type, tags[3].Data[:2])
	}
	pub.write(stream.KindVideo, 40, inter(10))
	pub.stop()
	_, err = io.Copy(io.Discard, r)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("end: %v, want close 1000", err)
	}
	select {
	case <-pong:
	default:
		t.Error("the ping was not answered")
	}
	e.Guard.mu.Lock()
	defer e.Guard.mu.Unlock()
	if !slices.Equal(e.Guard.protos, []string{"test", httpflv.ProtocolWS}) || !slices.Equal(e.Guard.names, []string{"cam1?token=1"}) {
		t.Errorf("hooks saw %v %v", e.Guard.protos, e.Guard.names)
	}
}

// A refused play is an HTTP status before the upgrade.
func TestWSFLVRefused(t *testing.T) {
	e := startEnv(t)
	e.Guard.play = func(scope.Conn, string) error { return scope.Reject("no") }
	_, resp, err := dialWS(t, e, "/guarded/cam1.flv", nil)
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("refused play: %v %v", err, resp)
	}
	if _, resp, _ = dialWS(t, e, "/nope/cam1.flv", nil); resp == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown app: %v", resp)
	}
}
