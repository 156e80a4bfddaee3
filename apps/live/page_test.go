package live_test

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scopecast/scopecast/apps/chat"
	"github.com/scopecast/scopecast/apps/live"
)

func TestPageRoutes(t *testing.T) {
	h := live.Page()
	for _, c := range []struct {
		method, path string
		code         int
		ctype, body  string
	}{
		{"GET", "/live/cam1", 200, "text/html", "mpegts.js?v=" + live.PlayerVersion},
		{"GET", "/live/room1/sub/cam1", 200, "text/html", "<video"},
		{"HEAD", "/live/cam1", 200, "text/html", ""},
		{"GET", "/live/", 404, "text/plain", "open /live/<stream>"},
		{"GET", "/live/a/../b", 400, "text/plain", "bad path"},
		{"GET", "/live/a..b", 400, "text/plain", "bad stream name"},
		{"GET", "/chat/cam1", 404, "text/plain", ""},
		{"POST", "/live/cam1", 405, "text/plain", ""},
		{"GET", live.AssetPrefix + "mpegts.js", 200, "text/javascript", "mpegts"},
		{"GET", live.AssetPrefix + "LICENSE-mpegts.txt", 200, "text/plain", "Apache License"},
		{"GET", live.AssetPrefix + "other.js", 404, "text/plain", ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != c.code || !strings.HasPrefix(rec.Header().Get("Content-Type"), c.ctype) || !strings.Contains(string(body), c.body) {
			t.Errorf("%s %s: %d %q %.80q", c.method, c.path, rec.Code, rec.Header().Get("Content-Type"), body)
		}
	}
}

// The page loads nothing from elsewhere: its CSP allows this server only,
// and its script renders user data as text.
func TestPageSelfContained(t *testing.T) {
	rec := httptest.NewRecorder()
	live.Page().ServeHTTP(rec, httptest.NewRequest("GET", "/live/cam1", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self' 'sha256-", "media-src 'self' blob:", "connect-src 'self' ws: wss:"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	body := rec.Body.String()
	// One inline script, allowed by its hash: apps/chat's client, then the
	// player's script, which calls it.
	_, rest, _ := strings.Cut(body, "<script>")
	js, _, _ := strings.Cut(rest, "</script>")
	sum := sha256.Sum256([]byte(js))
	if !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Errorf("the CSP %q does not allow the inline script", csp)
	}
	if !strings.HasPrefix(js, chat.ClientScript()) || !strings.Contains(js, "scopecastChat({") {
		t.Errorf("the inline script is not the chat client and the page's call: %.300q", js)
	}
	for _, bad := range []string{"http://", "https://", "innerHTML", "//cdn"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Code != http.StatusOK {
		t.Errorf("headers %v", rec.Header())
	}
}
