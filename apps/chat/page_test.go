package chat_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scopecast/scopecast/apps/chat"
)

// inlineScript returns the page's inline script and whether the CSP allows
// it by hash.
func inlineScript(t *testing.T, body, csp string) (string, bool) {
	t.Helper()
	_, rest, ok := strings.Cut(body, "<script>")
	js, _, ok2 := strings.Cut(rest, "</script>")
	if !ok || !ok2 {
		t.Fatalf("no inline script in %.200q", body)
	}
	sum := sha256.Sum256([]byte(js))
	return js, strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
}

func TestPage(t *testing.T) {
	h := chat.Page()
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/chat/lobby", 200},
		{"GET", "/chat", 200},
		{"HEAD", "/chat/a/b", 200},
		{"GET", "/chatx", 404},
		{"GET", "/live/cam1", 404},
		{"POST", "/chat/lobby", 405},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/chat/lobby", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	js, allowed := inlineScript(t, rec.Body.String(), csp)
	if !allowed {
		t.Errorf("the CSP %q does not allow the inline script", csp)
	}
	// The shared client, then the page's call of it.
	if !strings.HasPrefix(js, chat.ClientScript()) || !strings.Contains(js, "scopecastChat({") {
		t.Errorf("the inline script is not the client and the page's call: %.300q", js)
	}
	if strings.Contains(rec.Body.String(), "innerHTML") {
		t.Error("the page uses innerHTML")
	}
}
