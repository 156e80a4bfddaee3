package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The public listener routes HTTP-FLV and WebSocket-FLV, the live page and
// its files, the chat upgrade of a live room and the index page: ffmpeg
// publishes over RTMP and plays the same stream back over HTTP-FLV.
func TestPublicRoutesFLVAndLivePage(t *testing.T) {
	ls := startRun(t, "")
	base := "http://" + ls.HTTP.String()
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	for _, c := range []struct{ path, ctype, body string }{
		{"/", "text/html", "Watch in the browser"},
		{"/live/room1/cam1", "text/html", "<video"},
		{"/_live/mpegts.js", "text/javascript", "mpegts"},
		{"/_live/LICENSE-mpegts.txt", "text/plain", "Apache License"},
		{"/chat/lobby", "text/html", "chat"},
	} {
		code, ctype, body := get(c.path)
		if code != 200 || !strings.HasPrefix(ctype, c.ctype) || !strings.Contains(body, c.body) {
			t.Errorf("GET %s: %d %s %.60q", c.path, code, ctype, body)
		}
	}
	if code, _, body := get("/nosuchapp/cam1.flv"); code != 404 || !strings.Contains(body, "unknown application") {
		t.Errorf("unknown app: %d %q", code, body)
	}

	// The chat of a live room is the WebSocket bridge's, not the page's.
	chat, _, err := websocket.DefaultDialer.Dial("ws://"+ls.HTTP.String()+"/live/room1?so=chat", http.Header{"Sec-WebSocket-Protocol": {"chat"}})
	if err != nil {
		t.Fatal(err)
	}
	chat.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, b, err := chat.ReadMessage(); err != nil || !strings.Contains(string(b), `"type":"welcome"`) {
		t.Errorf("chat of /live/room1: %v %s", err, b)
	}
	chat.Close()

	pubDone := make(chan bool, 1)
	go func() {
		_, ok := ffmpegPublish(t, "rtmp://"+ls.RTMP.String()+"/live/room1/cam1", 8)
		pubDone <- ok
	}()
	// WebSocket-FLV: the stream's first bytes are an FLV header.
	flv, _, err := websocket.DefaultDialer.Dial("ws://"+ls.HTTP.String()+"/live/room1/cam1.flv", nil)
	if err != nil {
		t.Fatal(err)
	}
	flv.SetReadDeadline(time.Now().Add(20 * time.Second))
	if typ, b, err := flv.ReadMessage(); err != nil || typ != websocket.BinaryMessage || !strings.HasPrefix(string(b), "FLV\x01") {
		t.Errorf("WebSocket-FLV: %v %d %.8q", err, typ, b)
	}
	flv.Close()
	// HTTP-FLV: ffmpeg plays a second of it.
	if out, ok := ffmpegPlay(t, base+"/live/room1/cam1.flv"); !ok {
		t.Errorf("ffmpeg playing HTTP-FLV: %s", out)
	}
	if !<-pubDone {
		t.Error("the publisher failed")
	}
}

// The auth rules apply to HTTP-FLV and WebSocket-FLV readers as to RTMP
// players: a missing or wrong play key is a 403 with the reason, the key in
// the query admits.
func TestPublicFLVAuthRules(t *testing.T) {
	ls := startRun(t, `
auth:
  apps:
    live:
      play:
        keys: [viewer]
`)
	base := "http://" + ls.HTTP.String()
	for _, c := range []struct {
		path string
		code int
		text string
	}{
		{"/live/cam1.flv", 403, "rejected: missing key"},
		{"/live/cam1.flv?key=wrong", 403, "rejected: wrong key"},
	} {
		resp, err := http.Get(base + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.text) {
			t.Errorf("GET %s: %d %q; want %d %q", c.path, resp.StatusCode, b, c.code, c.text)
		}
	}
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+ls.HTTP.String()+"/live/cam1.flv", nil); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("WebSocket-FLV without a key: %v %v", err, resp)
	}
	// With the key the reader is admitted and waits for the publisher.
	resp, err := http.Get(base + "/live/cam1.flv?key=viewer")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/x-flv" {
		t.Errorf("with the key: %d %v", resp.StatusCode, resp.Header)
	}
}
