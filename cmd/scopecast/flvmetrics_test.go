package main

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/internal/testutil"
)

// An HTTP-FLV and a WebSocket-FLV reader of an ffmpeg stream: /metrics
// (parsed with the Prometheus text parser) counts their connections, opens
// and bytes under protocol="http-flv" and protocol="ws-flv", and
// /api/clients shows each reader's bytes out and start time.
func TestFLVReadersInAdmin(t *testing.T) {
	ls := startRun(t, "", "-admin", "127.0.0.1:0")
	base := "http://" + ls.HTTP.String()

	// The readers come first and wait for the publisher.
	resp, err := http.Get(base + "/live/cam1.flv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP-FLV: %d", resp.StatusCode)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ls.HTTP.String()+"/live/cam1.flv", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	pubDone := make(chan string, 1)
	go func() {
		out, ok := ffmpegPublish(t, "rtmp://"+ls.RTMP.String()+"/live/cam1", 4)
		if ok {
			out = ""
		}
		pubDone <- out
	}()
	const enough = 20_000 // the header, the codec headers and some frames
	httpRead, err := io.CopyN(io.Discard, resp.Body, enough)
	if err != nil {
		t.Fatalf("HTTP-FLV body: %v", err)
	}
	var wsRead int
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for wsRead < enough {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("WebSocket-FLV: %v", err)
		}
		wsRead += len(b)
	}

	testutil.WaitFor(t, 10*time.Second, "FLV readers in /metrics", func() bool {
		fams := scrapeMetrics(t, ls)
		for _, c := range []struct {
			proto string
			read  int64
		}{{"http-flv", httpRead}, {"ws-flv", int64(wsRead)}} {
			conns, _ := metricValue(fams, "scopecast_connections", "protocol", c.proto)
			opened, _ := metricValue(fams, "scopecast_connections_opened_total", "protocol", c.proto)
			out, _ := metricValue(fams, "scopecast_sent_bytes_total", "protocol", c.proto)
			if conns != 1 || opened != 1 || out < float64(c.read) {
				return false
			}
		}
		return true
	})

	clients := apiClients(t, ls)
	seen := map[string]bool{}
	for _, c := range clients {
		var read int64
		switch c.Protocol {
		case "http-flv":
			read = httpRead
		case "ws-flv":
			read = int64(wsRead)
		default:
			continue
		}
		seen[c.Protocol] = true
		if c.BytesOut == nil || int64(*c.BytesOut) < read || c.ConnectedAt == nil || time.Since(*c.ConnectedAt) > time.Minute || c.BytesIn != nil {
			t.Errorf("%s (%s): bytes out %v (read %d), connected at %v, bytes in %v", c.ID, c.Protocol, c.BytesOut, read, c.ConnectedAt, c.BytesIn)
		}
	}
	if !seen["http-flv"] || !seen["ws-flv"] {
		t.Errorf("clients %+v", clients)
	}
	resp.Body.Close()
	ws.Close()
	if out := <-pubDone; out != "" {
		t.Errorf("the publisher failed: %s", out)
	}
}
