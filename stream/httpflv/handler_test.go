package httpflv_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
	"github.com/scopecast/scopecast/stream/httpflv"
)

// A reader that joins a live stream gets the FLV header (audio and video),
// the metadata, both sequence headers and the GOP from its keyframe, then the
// live packets, each tag body byte for byte the publisher's payload with its
// timestamp; when the publisher stops the chunked response ends cleanly.
func TestHTTPFLVLateJoinerAndEnd(t *testing.T) {
	e := startEnv(t)
	pub := e.publish(t, "live/room1", "cam1")
	pub.startMedia(1000)
	pub.write(stream.KindAudio, 1010, audio(20))
	pub.write(stream.KindVideo, 1040, inter(50))

	resp := rawGet(t, e, "/live/room1/cam1.flv")
	if resp.Status != 200 || resp.Header.Get("Content-Type") != "video/x-flv" || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
		t.Fatalf("status %d, transfer encoding %v, headers %v", resp.Status, resp.TransferEncoding, resp.Header)
	}
	fr, err := flv.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if h := fr.Header(); !h.HasAudio || !h.HasVideo {
		t.Errorf("header flags %+v, want audio and video", h)
	}
	want := []flv.Tag{
		{Type: flv.TagScript, Timestamp: 0, Data: metaPayload},
		{Type: flv.TagVideo, Timestamp: 0, Data: avcHeader},
		{Type: flv.TagAudio, Timestamp: 0, Data: aacHeader},
		{Type: flv.TagVideo, Timestamp: 1000, Data: keyframe(100)},
		{Type: flv.TagAudio, Timestamp: 1010, Data: audio(20)},
		{Type: flv.TagVideo, Timestamp: 1040, Data: inter(50)},
		{Type: flv.TagVideo, Timestamp: 1080, Data: inter(60)},
		{Type: flv.TagVideo, Timestamp: 0x01020304, Data: inter(70)}, // extended timestamp byte
	}
	for i, w := range want {
		if i == 6 {
			pub.write(stream.KindVideo, 1080, inter(60))
		}
		if i == 7 {
			pub.write(stream.KindVideo, 0x01020304, inter(70))
		}
		got, err := fr.ReadTag()
		if err != nil {
			t.Fatalf("tag %d: %v", i, err)
		}
		if got.Type != w.Type || got.Timestamp != w.Timestamp || !bytes.Equal(got.Data, w.Data) {
			t.Fatalf("tag %d = type %d ts %d %d bytes; want type %d ts %d %d bytes", i, got.Type, got.Timestamp, len(got.Data), w.Type, w.Timestamp, len(w.Data))
		}
	}
	pub.stop()
	if _, err := fr.ReadTag(); err != io.EOF {
		t.Fatalf("after the publisher stopped: %v, want io.EOF (the last chunk)", err)
	}
	waitFor(t, 5*time.Second, "the reader to be gone", func() bool { return e.Handler.Conns() == 0 })
}

// A reader that comes first waits; the stream starts with the keyframe.
func TestHTTPFLVWaitsForPublisher(t *testing.T) {
	e := startEnv(t)
	resp := rawGet(t, e, "/live/cam1.flv?token=abc")
	if resp.Status != 200 {
		t.Fatalf("status %d", resp.Status)
	}
	waitFor(t, 5*time.Second, "the reader to subscribe", func() bool {
		s := e.Scopes.Lookup("live")
		return s != nil && s.Stream("cam1") != nil && s.Stream("cam1").NumSubscribers() == 1
	})
	pub := e.publish(t, "live", "cam1")
	pub.write(stream.KindVideo, 0, inter(10)) // before any keyframe: skipped
	pub.startMedia(40)
	h, tags, err := readFLV(t, resp.Body, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !h.HasVideo || !h.HasAudio {
		t.Errorf("flags %+v", h)
	}
	var kinds []uint8
	for _, tg := range tags {
		kinds = append(kinds, tg.Type)
	}
	if !slices.Equal(kinds, []uint8{18, 9, 8, 9}) || !bytes.Equal(tags[3].Data, keyframe(100)) {
		t.Fatalf("tags %v; want metadata, headers, keyframe", kinds)
	}
}

// An audio-only stream has only the audio flag.
func TestHTTPFLVAudioOnlyFlags(t *testing.T) {
	e := startEnv(t)
	pub := e.publish(t, "live", "radio")
	pub.write(stream.KindAudio, 0, aacHeader)
	pub.write(stream.KindAudio, 20, audio(10))
	resp := rawGet(t, e, "/live/radio.flv")
	pub.write(stream.KindAudio, 40, audio(10))
	h, tags, err := readFLV(t, resp.Body, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !h.HasAudio || h.HasVideo {
		t.Errorf("flags %+v, want audio only", h)
	}
	if tags[0].Type != 8 || !bytes.Equal(tags[0].Data, aacHeader) {
		t.Errorf("first tag %d % x", tags[0].Type, tags[0].Data)
	}
}

// Enhanced RTMP packets (HEVC, AV1, Opus in ExHeader audio) pass through
// unchanged.
func TestHTTPFLVEnhancedPassThrough(t *testing.T) {
	e := startEnv(t)
	pub := e.publish(t, "live", "hevc")
	hvcHeader := append([]byte{0x90, 'h', 'v', 'c', '1'}, bytes.Repeat([]byte{1}, 30)...)        // SequenceStart
	hvcKey := append([]byte{0x91, 'h', 'v', 'c', '1', 0, 0, 0}, bytes.Repeat([]byte{2}, 300)...) // CodedFrames, key
	hvcInter := append([]byte{0xA3, 'h', 'v', 'c', '1'}, bytes.Repeat([]byte{3}, 100)...)        // CodedFramesX, inter
	av1Key := append([]byte{0x91, 'a', 'v', '0', '1'}, bytes.Repeat([]byte{4}, 50)...)           // AV1 key
	opusHeader := append([]byte{0x90, 'O', 'p', 'u', 's'}, bytes.Repeat([]byte{5}, 19)...)       // ExHeader SequenceStart
	opusFrame := append([]byte{0x91, 'O', 'p', 'u', 's'}, bytes.Repeat([]byte{6}, 60)...)        // CodedFrames
	pub.write(stream.KindVideo, 0, hvcHeader)
	pub.write(stream.KindAudio, 0, opusHeader)
	pub.write(stream.KindVideo, 0, hvcKey)
	resp := rawGet(t, e, "/live/hevc.flv")
	pub.write(stream.KindAudio, 10, opusFrame)
	pub.write(stream.KindVideo, 40, hvcInter)
	pub.write(stream.KindVideo, 80, av1Key)
	h, tags, err := readFLV(t, resp.Body, 6)
	if err != nil {
		t.Fatal(err)
	}
	if !h.HasVideo || !h.HasAudio {
		t.Errorf("flags %+v", h)
	}
	want := [][]byte{hvcHeader, opusHeader, hvcKey, opusFrame, hvcInter, av1Key}
	for i, w := range want {
		if !bytes.Equal(tags[i].Data, w) {
			t.Errorf("tag %d: % x, want % x", i, tags[i].Data[:8], w[:8])
		}
	}
}

// Application hooks see an "http-flv" connection and the name with its
// query; a refusal, an unknown application and bad paths are HTTP errors
// with a reason; the StopPlay hook runs when the reader leaves.
func TestHTTPFLVHooksAndErrors(t *testing.T) {
	e := startEnv(t)
	e.Guard.play = func(c scope.Conn, name string) error {
		if !strings.Contains(name, "token=good") {
			return scope.Reject("bad token")
		}
		return nil
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(e.HTTP + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		path string
		code int
		text string
	}{
		{"/guarded/room/cam1.flv?token=bad", 403, "rejected: bad token"},
		{"/nosuchapp/cam1.flv", 404, "unknown application"},
		{"/live/../cam1.flv", 400, "bad path"},
		{"/live/a..b.flv", 400, "bad stream name"},
		{"/live/cam1.mp4", 404, "does not end in .flv"},
		{"/cam1.flv", 400, "want /<app>"},
	} {
		code, text := get(c.path)
		if code != c.code || !strings.Contains(text, c.text) {
			t.Errorf("GET %s: %d %q; want %d %q", c.path, code, text, c.code, c.text)
		}
	}
	e.Guard.mu.Lock()
	if !slices.Contains(e.Guard.protos, httpflv.ProtocolHTTP) || !slices.Contains(e.Guard.names, "cam1?token=bad") ||
		!slices.Contains(e.Guard.queries, "token=bad") {
		t.Errorf("hooks saw protocols %v, names %v, connect queries %v", e.Guard.protos, e.Guard.names, e.Guard.queries)
	}
	e.Guard.mu.Unlock()

	pub := e.publish(t, "guarded/room", "cam1")
	pub.startMedia(0)
	resp := rawGet(t, e, "/guarded/room/cam1.flv?token=good")
	if _, _, err := readFLV(t, resp.Body, 4); err != nil {
		t.Fatal(err)
	}
	resp.nc.Close()
	waitFor(t, 5*time.Second, "the StopPlay hook", func() bool {
		e.Guard.mu.Lock()
		defer e.Guard.mu.Unlock()
		return slices.Contains(e.Guard.stopped, "cam1")
	})
	waitFor(t, 5*time.Second, "the reader to be gone", func() bool { return e.Handler.Conns() == 0 })
}

// CORS: by default any origin gets its Access-Control-Allow-Origin; with a
// list, other origins are refused (GET, WebSocket) and preflights answered
// for the allowed ones only.
func TestHTTPFLVCORS(t *testing.T) {
	e := startEnv(t)
	do := func(method, path, origin string, hdr ...string) *http.Response {
		req, _ := http.NewRequest(method, e.HTTP+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	r := do("HEAD", "/live/x.flv", "https://elsewhere.example")
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://elsewhere.example" || r.Header.Get("Content-Type") != "video/x-flv" {
		t.Errorf("HEAD: %d %v", r.StatusCode, r.Header)
	}
	r = do("OPTIONS", "/live/x.flv", "https://elsewhere.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "range")
	if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://elsewhere.example" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "GET") || r.Header.Get("Access-Control-Allow-Headers") != "range" {
		t.Errorf("OPTIONS: %d %v", r.StatusCode, r.Header)
	}
	r = do("POST", "/live/x.flv", "")
	if r.StatusCode != 405 {
		t.Errorf("POST: %d", r.StatusCode)
	}

	e2 := startEnv(t, func(h *httpflv.Handler, _ *scope.Options) { h.AllowedOrigins = []string{"https://ok.example"} })
	e = e2
	if r = do("GET", "/live/x.flv", "https://evil.example"); r.StatusCode != 403 {
		t.Errorf("GET from another origin: %d", r.StatusCode)
	}
	if r = do("OPTIONS", "/live/x.flv", "https://evil.example"); r.StatusCode != 403 {
		t.Errorf("OPTIONS from another origin: %d", r.StatusCode)
	}
	if r = do("OPTIONS", "/live/x.flv", "https://ok.example"); r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://ok.example" {
		t.Errorf("OPTIONS from the allowed origin: %d %v", r.StatusCode, r.Header)
	}
	if r = do("HEAD", "/live/x.flv", "http://"+strings.TrimPrefix(e.HTTP, "http://")); r.StatusCode != 200 {
		t.Errorf("HEAD from the server's own origin: %d", r.StatusCode)
	}
}

// A reader that stops reading is dropped; the others go on receiving every
// frame, and the publisher never waits.
func TestHTTPFLVStalledReaderDropped(t *testing.T) {
	for _, stalledWS := range []bool{false, true} {
		name := "http"
		if stalledWS {
			name = "ws"
		}
		t.Run("stalled="+name, func(t *testing.T) { testStalledReader(t, stalledWS) })
	}
}

func testStalledReader(t *testing.T, stalledWS bool) {
	e := startEnv(t, func(h *httpflv.Handler, so *scope.Options) {
		h.WriteTimeout = 300 * time.Millisecond
		so.StreamConfig.QueueLen = 64
		so.StreamConfig.MaxLag = 200 * time.Millisecond
	})
	pub := e.publish(t, "live", "cam1")
	pub.startMedia(0)
	if stalledWS { // connected, never read again
		if _, _, err := dialWS(t, e, "/live/cam1.flv", nil); err != nil {
			t.Fatal(err)
		}
	} else {
		rawGet(t, e, "/live/cam1.flv")
	}
	good := rawGet(t, e, "/live/cam1.flv")
	fr, err := flv.NewReader(good.Body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ { // metadata, headers, keyframe
		if _, err := fr.ReadTag(); err != nil {
			t.Fatal(err)
		}
	}
	// The publisher runs at the pace of the reading reader (at most 8 frames
	// ahead of it), never of the stalled one.
	const frames = 400
	got := make(chan error, frames)
	go func() {
		for i := 1; i <= frames; i++ {
			tag, err := fr.ReadTag()
			if err == nil && (len(tag.Data) != 5+64<<10 || tag.Timestamp != uint32(i*10)) {
				err = fmt.Errorf("frame %d: ts %d, %d bytes", i, tag.Timestamp, len(tag.Data))
			}
			got <- err
			if err != nil {
				return
			}
		}
	}()
	for i := 1; i <= frames; i++ {
		if i > 8 {
			select {
			case err := <-got:
				if err != nil {
					t.Fatalf("the reading reader: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("the reading reader got no frame %d", i-8)
			}
		}
		pub.write(stream.KindVideo, uint32(i*10), inter(64<<10)) // 26 MB in all: more than the socket buffers
	}
	for i := frames - 7; i <= frames; i++ {
		if err := <-got; err != nil {
			t.Fatalf("the reading reader: %v", err)
		}
	}
	waitFor(t, 10*time.Second, "the stalled reader to be dropped", func() bool { return e.Handler.Conns() == 1 })
	if st := pub.st.Stats(); st.Subscribers != 1 {
		t.Errorf("%d subscribers left", st.Subscribers)
	}
}

// Shutdown closes readers, waiting or streaming.
func TestHTTPFLVShutdown(t *testing.T) {
	e := startEnv(t)
	waiting := rawGet(t, e, "/live/none.flv")
	pub := e.publish(t, "live", "cam1")
	pub.startMedia(0)
	streaming := rawGet(t, e, "/live/cam1.flv")
	if _, _, err := readFLV(t, streaming.Body, 4); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "two readers", func() bool { return e.Handler.Conns() == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Handler.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*rawResp{waiting, streaming} {
		r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, r.Body); err != nil && !isClosed(err) {
			t.Errorf("reading after shutdown: %v", err)
		}
	}
	resp, err := http.Get(e.HTTP + "/live/cam1.flv")
	if err != nil {
		t.Fatalf("after shutdown: %v, want a 503", err)
	}
	if resp.StatusCode != 503 {
		t.Errorf("after shutdown: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func isClosed(err error) bool {
	return err == io.ErrUnexpectedEOF || strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "EOF")
}
