package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/scopecast/scopecast/internal/admin"
	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp/client"
)

// scrape fetches /metrics.
func (e *env) scrape(t *testing.T) map[string]*dto.MetricFamily {
	return testutil.ScrapeMetrics(t, e.Admin.URL+"/metrics")
}

var metric = testutil.MetricValue

// One ffmpeg publisher, a scopecast player, a WebSocket client with a shared
// object property, two refused connects: the metrics count each of them with
// low-cardinality labels, and the parser accepts the page.
func TestMetrics(t *testing.T) {
	e := startEnv(t, false)
	ffmpegPublish(t, e.url("live/room1/cam1"))
	e.waitPublishing(t, "/live/room1", "cam1")
	p := play(t, e.url("live/room1"), "cam1")
	e.wsJoin(t, "/chat/room?so=chat")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, app := range []string{"nosuchapp", "locked"} {
		if c, err := client.Dial(ctx, e.url(app), client.Options{}); err == nil {
			c.Close()
			t.Fatalf("connect to %s succeeded", app)
		}
	}
	waitFor(t, 10*time.Second, "media at the player", func() bool { return p.media.Load() > 10000 })

	var fams map[string]*dto.MetricFamily
	waitFor(t, 10*time.Second, "the shared object update and the rejects in /metrics", func() bool {
		fams = e.scrape(t)
		u, _ := metric(fams, "scopecast_sharedobject_updates_total")
		a, _ := metric(fams, "scopecast_connects_rejected_total", "reason", "auth")
		return u >= 1 && a == 1
	})
	checks := []struct {
		name   string
		labels []string
		ok     func(float64) bool
		want   string
	}{
		{"scopecast_connections", []string{"protocol", "rtmp"}, func(v float64) bool { return v >= 2 }, ">= 2 (publisher and player)"},
		{"scopecast_connections", []string{"protocol", "ws"}, func(v float64) bool { return v == 1 }, "1"},
		{"scopecast_websocket_clients", nil, func(v float64) bool { return v == 1 }, "1"},
		{"scopecast_rtmp_connections", nil, func(v float64) bool { return v >= 2 }, ">= 2"},
		{"scopecast_players", nil, func(v float64) bool { return v == 1 }, "1"},
		{"scopecast_streams", nil, func(v float64) bool { return v == 1 }, "1"},
		{"scopecast_received_bytes_total", []string{"protocol", "rtmp"}, func(v float64) bool { return v > 10000 }, "> 10000"},
		{"scopecast_sent_bytes_total", []string{"protocol", "rtmp"}, func(v float64) bool { return v > 10000 }, "> 10000"},
		{"scopecast_connections_opened_total", []string{"protocol", "rtmp"}, func(v float64) bool { return v >= 4 }, ">= 4"},
		{"scopecast_connects_rejected_total", []string{"reason", "invalid_app"}, func(v float64) bool { return v == 1 }, "1"},
		{"scopecast_connects_rejected_total", []string{"reason", "auth"}, func(v float64) bool { return v == 1 }, "1"},
		{"scopecast_connects_rejected_total", []string{"reason", "hook"}, func(v float64) bool { return v == 0 }, "0"},
		{"scopecast_rtmp_connects_rejected_total", nil, func(v float64) bool { return v == 2 }, "2"},
		{"scopecast_sharedobjects", nil, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"scopecast_sharedobject_subscribers", nil, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"scopecast_sharedobject_updates_total", nil, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"scopecast_scopes", nil, func(v float64) bool { return v == 5 }, "5 (/chat, /chat/room, /live, /live/room1, /locked)"},
		{"scopecast_stream_dropped_packets_total", nil, func(v float64) bool { return v >= 0 }, "present"},
		{"scopecast_slow_consumers_closed_total", nil, func(v float64) bool { return v == 0 }, "0"},
		{"scopecast_recordings", nil, func(v float64) bool { return v == 0 }, "0"},
		{"scopecast_recorded_bytes_total", nil, func(v float64) bool { return v == 0 }, "0"},
		{"scopecast_rtmpt_sessions", nil, func(v float64) bool { return v == 0 }, "0"},
	}
	for _, c := range checks {
		v, ok := metric(fams, c.name, c.labels...)
		if !ok {
			t.Errorf("%s%v missing", c.name, c.labels)
			continue
		}
		if !c.ok(v) {
			t.Errorf("%s%v = %v, want %s", c.name, c.labels, v, c.want)
		}
	}
	// No per-stream series unless asked for.
	for name, f := range fams {
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				if lp.GetName() == "stream" || lp.GetName() == "scope" {
					t.Errorf("%s has label %s without PerStreamLabels", name, lp.GetName())
				}
			}
		}
	}
	// The counters of things that come and go never go down: the player
	// leaves, the totals stay.
	before, _ := metric(fams, "scopecast_sent_bytes_total", "protocol", "rtmp")
	p.c.Close()
	<-p.done
	waitFor(t, 10*time.Second, "the player gone from /metrics", func() bool {
		fams = e.scrape(t)
		v, _ := metric(fams, "scopecast_players")
		return v == 0
	})
	if after, _ := metric(fams, "scopecast_sent_bytes_total", "protocol", "rtmp"); after < before {
		t.Errorf("sent bytes went down: %v → %v", before, after)
	}
}

// With PerStreamLabels, each stream has its own players, bytes and bitrate.
func TestMetricsPerStream(t *testing.T) {
	e := startEnv(t, true)
	ffmpegPublish(t, e.url("live/cam2"))
	e.waitPublishing(t, "/live", "cam2")
	play(t, e.url("live"), "cam2")
	waitFor(t, 15*time.Second, "a per-stream bitrate", func() bool {
		fams := e.scrape(t)
		players, _ := metric(fams, "scopecast_stream_players", "scope", "/live", "stream", "cam2")
		bytes, _ := metric(fams, "scopecast_stream_received_bytes_total", "scope", "/live", "stream", "cam2")
		bps, _ := metric(fams, "scopecast_stream_bitrate_bits_per_second", "scope", "/live", "stream", "cam2")
		return players == 1 && bytes > 0 && bps > 0
	})
}

// The API: the nested scope tree, streams with codecs, bitrate, players and
// publisher, clients with bytes, shared objects with attributes, and a kick
// that really disconnects the player; no GET has a side effect, and a
// cross-origin browser request cannot change anything.
func TestAPI(t *testing.T) {
	e := startEnv(t, false)
	ffmpegPublish(t, e.url("live/room1/cam1"))
	e.waitPublishing(t, "/live/room1", "cam1")
	p := play(t, e.url("live/room1"), "cam1")
	e.wsJoin(t, "/chat/room?so=chat")

	// Scopes: nested.
	var tree []admin.ScopeJSON
	if st := e.do(t, "GET", "/api/scopes", nil, &tree); st != 200 {
		t.Fatalf("GET /api/scopes: %d", st)
	}
	var liveScope *admin.ScopeJSON
	for i := range tree {
		if tree[i].Path == "/live" {
			liveScope = &tree[i]
		}
	}
	if liveScope == nil || len(liveScope.Children) != 1 || liveScope.Children[0].Path != "/live/room1" ||
		liveScope.Children[0].Connections != 2 || len(liveScope.Children[0].Streams) != 1 || !liveScope.Children[0].Streams[0].Publishing {
		b, _ := json.Marshal(tree)
		t.Fatalf("scope tree: %s", b)
	}

	// Streams: codecs, a bitrate near ffmpeg's, one player, the publisher.
	var streams []admin.StreamJSON
	waitFor(t, 15*time.Second, "a bitrate", func() bool {
		e.do(t, "GET", "/api/streams", nil, &streams)
		return len(streams) == 1 && streams[0].BitrateBPS > 0 && len(streams[0].HistoryBPS) >= 3
	})
	s := streams[0]
	if s.Scope != "/live/room1" || s.Name != "cam1" || !s.Publishing || s.VideoCodec != "h264" || s.AudioCodec != "aac" ||
		s.Players != 1 || s.Publisher == nil || s.Publisher.Protocol != "rtmp" || s.BytesIn == 0 || s.Recording != nil {
		t.Errorf("stream: %+v", s)
	}
	var meta struct{ Width, Height float64 }
	if err := json.Unmarshal(s.Metadata, &meta); err != nil || meta.Width != 320 || meta.Height != 240 {
		t.Errorf("metadata %s: %+v %v", s.Metadata, meta, err)
	}
	if s.BitrateBPS < 10_000 || s.BitrateBPS > 20_000_000 {
		t.Errorf("bitrate %v bit/s for a 320x240 test source", s.BitrateBPS)
	}

	// Clients: the publisher, the player, the WebSocket client.
	var clients []admin.ClientJSON
	e.do(t, "GET", "/api/clients", nil, &clients)
	var playerID string
	protos := map[string]int{}
	for _, c := range clients {
		protos[c.Protocol]++
		if c.Protocol == "rtmp" && len(c.Publishing) == 0 {
			playerID = c.ID
			if c.BytesOut == nil || *c.BytesOut == 0 || c.ConnectedAt == nil || c.Scope != "/live/room1" || c.Address == "" {
				t.Errorf("player: %+v", c)
			}
		}
		if c.Protocol == "rtmp" && len(c.Publishing) == 1 && c.Publishing[0] != "/live/room1/cam1" {
			t.Errorf("publisher: %+v", c)
		}
	}
	if protos["rtmp"] != 2 || protos["ws"] != 1 || playerID == "" {
		t.Fatalf("clients: %+v", clients)
	}
	var one admin.ClientJSON
	if st := e.do(t, "GET", "/api/clients/"+playerID, nil, &one); st != 200 || one.ID != playerID {
		t.Errorf("GET /api/clients/%s: %d %+v", playerID, st, one)
	}
	if p.closed() {
		t.Fatal("a GET closed the player")
	}

	// Shared objects: attributes as JSON, text as sent.
	var sos []admin.SharedObjectJSON
	waitFor(t, 5*time.Second, "the topic attribute", func() bool {
		e.do(t, "GET", "/api/sharedobjects?scope=/chat/room", nil, &sos)
		return len(sos) == 1 && sos[0].Attributes["topic"] != nil
	})
	if sos[0].Name != "chat" || sos[0].Version == 0 || sos[0].Subscribers != 1 {
		t.Errorf("shared object: %+v", sos[0])
	}
	var topic struct {
		Title string
		N     float64
	}
	if err := json.Unmarshal(sos[0].Attributes["topic"], &topic); err != nil || topic.Title != "<b>news</b>" || topic.N != 3 {
		t.Errorf("topic %s: %+v %v", sos[0].Attributes["topic"], topic, err)
	}
	var apiErr struct{ Error string }
	if st := e.do(t, "GET", "/api/sharedobjects?scope=/chat/nowhere", nil, &apiErr); st != 404 || apiErr.Error == "" {
		t.Errorf("unknown scope: %d %+v", st, apiErr)
	}

	// A browser page of another origin cannot kick.
	if st := e.do(t, "DELETE", "/api/clients/"+playerID, nil, &apiErr, "Origin", "http://evil.example"); st != 403 {
		t.Errorf("cross-origin DELETE: %d", st)
	}
	if p.closed() {
		t.Fatal("a cross-origin request closed the player")
	}

	// Kick: the player's connection really ends, and it is gone from the list.
	var kicked map[string]any
	if st := e.do(t, "DELETE", "/api/clients/"+playerID, nil, &kicked); st != 200 || kicked["kicked"] != true {
		t.Fatalf("kick: %d %v", st, kicked)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the kicked player is still connected")
	}
	waitFor(t, 10*time.Second, "the player gone from /api/clients", func() bool {
		return e.do(t, "GET", "/api/clients/"+playerID, nil, &apiErr) == 404
	})
	if st := e.do(t, "DELETE", "/api/clients/"+playerID, nil, &apiErr); st != 404 || !strings.Contains(apiErr.Error, playerID) {
		t.Errorf("second kick: %d %+v", st, apiErr)
	}
	if st := e.do(t, "GET", "/api/nothing", nil, &apiErr); st != 404 || apiErr.Error == "" {
		t.Errorf("unknown endpoint: %d %+v", st, apiErr)
	}
}

// Recordings start and stop through the API (409 when already recording, 404
// without a stream or recording), the file plays in ffprobe; stopping the
// stream ends the publisher's connection and its players hear
// NetStream.Play.UnpublishNotify.
func TestRecordingsAndStop(t *testing.T) {
	e := startEnv(t, false)
	pub := ffmpegPublish(t, e.url("live/room1/cam1"))
	e.waitPublishing(t, "/live/room1", "cam1")
	p := play(t, e.url("live/room1"), "cam1")

	var apiErr struct{ Error string }
	req := map[string]any{"scope": "/live/room1", "name": "cam1"}
	var rec admin.RecordingJSON
	if st := e.do(t, "POST", "/api/recordings", req, &rec); st != 201 || rec.File == "" || rec.Name != "cam1" {
		t.Fatalf("start recording: %d %+v", st, rec)
	}
	if st := e.do(t, "POST", "/api/recordings", req, &apiErr); st != 409 {
		t.Errorf("second start: %d %+v", st, apiErr)
	}
	if st := e.do(t, "POST", "/api/recordings", map[string]any{"scope": "/live/room1", "name": "nope"}, &apiErr); st != 404 {
		t.Errorf("start without a stream: %d %+v", st, apiErr)
	}
	if st := e.do(t, "POST", "/api/recordings", map[string]any{"name": "cam1"}, &apiErr); st != 400 {
		t.Errorf("start without a scope: %d %+v", st, apiErr)
	}
	var streams []admin.StreamJSON
	waitFor(t, 15*time.Second, "3 s recorded", func() bool {
		e.do(t, "GET", "/api/streams", nil, &streams)
		return len(streams) == 1 && streams[0].Recording != nil && streams[0].Recording.DurationS >= 3
	})
	var stopped map[string]any
	if st := e.do(t, "DELETE", "/api/recordings?scope=/live/room1&name=cam1", nil, &stopped); st != 200 || stopped["file"] != rec.File {
		t.Fatalf("stop recording: %d %v", st, stopped)
	}
	if st := e.do(t, "DELETE", "/api/recordings?scope=/live/room1&name=cam1", nil, &apiErr); st != 404 {
		t.Errorf("second stop: %d %+v", st, apiErr)
	}
	fams := e.scrape(t)
	if v, _ := metric(fams, "scopecast_recorded_bytes_total"); v < 10000 {
		t.Errorf("scopecast_recorded_bytes_total = %v after a 3 s recording", v)
	}
	probe := testutil.FFprobe(t, rec.File)
	if probe.VideoCodec != "h264" {
		t.Fatalf("ffprobe %s: %+v", rec.File, probe)
	}
	t.Logf("recording: %d h264 frames", probe.VideoFrames)
	if fi, err := os.Stat(rec.File); err != nil || fi.Size() < 10000 {
		t.Errorf("recording file: %v %v", fi, err)
	}

	// Stop the stream: ffmpeg's connection ends, the player is told.
	if st := e.do(t, "POST", "/api/streams/live/room1/cam1/stop", nil, &stopped); st != 200 || stopped["stopped"] != true {
		t.Fatalf("stop stream: %d %v", st, stopped)
	}
	exited := make(chan error, 1)
	go func() { exited <- pub.Wait() }()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatal("ffmpeg still publishing after the stream was stopped")
	}
	waitFor(t, 10*time.Second, "UnpublishNotify at the player", p.unpublish.Load)
	if st := e.do(t, "DELETE", "/api/streams/live/room1/cam1", nil, &apiErr); st != 404 {
		t.Errorf("stop a stopped stream: %d %+v", st, apiErr)
	}
	if st := e.do(t, "DELETE", "/api/streams/cam1", nil, &apiErr); st != 400 {
		t.Errorf("stop without a scope: %d %+v", st, apiErr)
	}
}

// The handler's sampler stops with Close, and Close may be called twice.
func TestCloseTwice(t *testing.T) {
	e := startEnv(t, false)
	if err := e.Handler.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Handler.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(e.Admin.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "scopecast status") {
		t.Errorf("GET /: %d %.100s", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("the status page has no Content-Security-Policy")
	}
	req, _ := http.NewRequest("POST", e.Admin.URL+"/", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST /: %d", resp.StatusCode)
	}
}
