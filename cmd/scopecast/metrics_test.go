package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/scopecast/scopecast/internal/auth"
	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
)

// internal/auth does not import rtmp: its reasons must be rtmp's labels.
func TestRejectReasonsMatchRTMP(t *testing.T) {
	if auth.RejectAuth != rtmp.RejectAuth || auth.RejectHook != rtmp.RejectHook {
		t.Errorf("auth reasons %q, %q; rtmp's %q, %q", auth.RejectAuth, auth.RejectHook, rtmp.RejectAuth, rtmp.RejectHook)
	}
}

// scrapeMetrics fetches the admin listener's /metrics.
func scrapeMetrics(t *testing.T, ls listeners) map[string]*dto.MetricFamily {
	return testutil.ScrapeMetrics(t, "http://"+ls.Admin.String()+"/metrics")
}

var metricValue = testutil.MetricValue

// Refusals reach /metrics under who refused: ffmpeg refused at connect by a
// wrong key counts as reason="auth", refused by on_connect as reason="hook";
// a refused publish is no refused connect but counts in
// scopecast_auth_refused_total; hook requests are counted by hook.
func TestRefusalMetricsWithFFmpeg(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"reason": "not on the list"}`)
	}))
	defer hook.Close()
	ls := startRun(t, `
auth:
  apps:
    live:
      publish:
        keys: [secret]
    chat:
      connect:
        keys: [k1]
      hooks:
        on_connect: `+hook.URL+`
`, "-admin", "127.0.0.1:0")
	base := "rtmp://" + ls.RTMP.String()
	for _, tc := range []struct{ url, want string }{
		{base + "/chat?key=wrong/cam1", "Connection rejected: wrong key"},
		{base + "/chat?key=k1/cam1", "Connection rejected: not on the list"},
		{base + "/live/cam1?key=wrong", "Publish rejected: wrong key"},
	} {
		if out, ok := ffmpegPublish(t, tc.url, 0.5); ok || !strings.Contains(out, tc.want) {
			t.Errorf("publish %s: ok=%v, want %q in:\n%s", tc.url, ok, tc.want, out)
		}
	}
	fams := scrapeMetrics(t, ls)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"scopecast_connects_rejected_total", []string{"reason", "auth"}, 1},
		{"scopecast_connects_rejected_total", []string{"reason", "hook"}, 1},
		{"scopecast_connects_rejected_total", []string{"reason", "rejected"}, 0},
		{"scopecast_rtmp_connects_rejected_total", nil, 2},
		{"scopecast_auth_refused_total", []string{"action", "connect", "by", "rule"}, 1},
		{"scopecast_auth_refused_total", []string{"action", "connect", "by", "hook"}, 1},
		{"scopecast_auth_refused_total", []string{"action", "publish", "by", "rule"}, 1},
		{"scopecast_auth_refused_total", []string{"action", "publish", "by", "hook"}, 0},
		{"scopecast_auth_refused_total", []string{"action", "play", "by", "rule"}, 0},
		{"scopecast_auth_hook_requests_total", []string{"hook", "on_connect"}, 1},
		{"scopecast_auth_hook_requests_total", []string{"hook", "on_publish"}, 0},
		{"scopecast_auth_hook_errors_total", []string{"hook", "on_connect"}, 0},
		{"scopecast_auth_hook_notifications_dropped_total", nil, 0},
		{"scopecast_rtmp_reconnect_requests_total", nil, 0},
	} {
		v, ok := metricValue(fams, c.name, c.labels...)
		if !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if n := len(fams["scopecast_auth_hook_requests_total"].GetMetric()); n != len(auth.HookNames) {
		t.Errorf("%d hook series, want %d", n, len(auth.HookNames))
	}
}

// A WebSocket client's bytes reach /api/clients (no longer null) and
// /metrics under protocol="ws".
func TestWebSocketBytesInAdmin(t *testing.T) {
	ls := startRun(t, "", "-admin", "127.0.0.1:0")
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ls.HTTP.String()+"/chat/lobby?name=ann", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err != nil { // the welcome
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "ws bytes in /metrics", func() bool {
		fams := scrapeMetrics(t, ls)
		in, _ := metricValue(fams, "scopecast_received_bytes_total", "protocol", "ws")
		out, _ := metricValue(fams, "scopecast_sent_bytes_total", "protocol", "ws")
		opened, _ := metricValue(fams, "scopecast_connections_opened_total", "protocol", "ws")
		return in > 30 && out > 0 && opened == 1
	})
	clients := apiClients(t, ls)
	if len(clients) != 1 || clients[0].Protocol != "ws" || clients[0].BytesIn == nil || *clients[0].BytesIn == 0 ||
		clients[0].BytesOut == nil || *clients[0].BytesOut == 0 || clients[0].ConnectedAt == nil {
		t.Errorf("clients %+v", clients)
	}
}

// apiClient is what the tests read of an /api/clients entry.
type apiClient struct {
	ID          string
	Protocol    string
	BytesIn     *uint64    `json:"bytes_in"`
	BytesOut    *uint64    `json:"bytes_out"`
	ConnectedAt *time.Time `json:"connected_at"`
}

// apiClients fetches the admin listener's /api/clients.
func apiClients(t *testing.T, ls listeners) []apiClient {
	t.Helper()
	resp, err := http.Get("http://" + ls.Admin.String() + "/api/clients")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var clients []apiClient
	if err := json.NewDecoder(resp.Body).Decode(&clients); err != nil {
		t.Fatal(err)
	}
	return clients
}
