package rtmp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/scope"
)

// jsonLog collects JSON log lines.
type jsonLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *jsonLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// find returns the first line with message msg, or nil.
func (l *jsonLog) find(msg string) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(l.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	return nil
}

// The log lines about a connection carry its id and the scope it asked for:
// a refused connect names the scope path, an expired RTMPT session the
// connection it carried.
func TestConnectRejectedAndRTMPTExpiredLogAttrs(t *testing.T) {
	var logs jsonLog
	ts := startServer(t, func(srv *rtmp.Server, so *scope.Options) {
		srv.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := client.Dial(ctx, "rtmp://"+ts.Addr+"/nosuch/room", client.Options{}); err == nil {
		c.Close()
		t.Fatal("connect to an unknown application succeeded")
	}
	var line map[string]any
	waitFor(t, 10*time.Second, "the connect rejected line", func() bool { line = logs.find("connect rejected"); return line != nil })
	if conn, _ := line["conn"].(string); line["scope"] != "/nosuch/room" || !strings.HasPrefix(conn, "c") {
		t.Errorf("connect rejected: %v", line)
	}

	rs := startRTMPT(t, ts, func(h *rtmp.RTMPTHandler) { h.SessionIdle = 100 * time.Millisecond })
	resp, err := http.Post("http://"+rs.Addr+"/open/1", "application/x-fcs", strings.NewReader("\x00"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("open: %s", resp.Status)
	}
	waitFor(t, 10*time.Second, "the session expired line", func() bool { line = logs.find("rtmpt session expired"); return line != nil })
	if conn, _ := line["conn"].(string); !strings.HasPrefix(conn, "c") || line["remote"] == nil {
		t.Errorf("rtmpt session expired: %v", line)
	}
}
