package chat

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strings"
)

var (
	//go:embed web/index.html
	pageHTML string
	//go:embed web/client.js
	clientJS string
	//go:embed web/chat.js
	chatJS string
	//go:embed web/chat.css
	pageCSS string
)

// page is the chat page with its script (the client, then the page's own)
// and style inlined, and the Content Security Policy that allows exactly
// those.
var page, pageCSP = buildPage()

// ClientScript returns the chat client, web/client.js: a classic script that
// defines scopecastChat(opts), which runs the room's chat in the page's
// elements #log, #users, #form, #msg, #nameform and #name. The chat page
// inlines it before its own script; so does the live page (apps/live), for
// the chat beside its player.
func ClientScript() string { return clientJS }

func buildPage() ([]byte, string) {
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	html := strings.Replace(pageHTML, "{{STYLE}}", pageCSS, 1)
	pageJS := clientJS + "\n" + chatJS
	html = strings.Replace(html, "{{SCRIPT}}", pageJS, 1)
	csp := "default-src 'none'; script-src " + hash(pageJS) + "; style-src " + hash(pageCSS) +
		"; connect-src 'self' ws: wss:; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return []byte(html), csp
}

// Page returns the handler of the chat page, GET /chat/<room…>: one embedded
// HTML document (script and style inline, no external resources) that joins
// the room of its own path over WebSocket. Other paths and methods get 404 and
// 405. Mount it as the WebSocket bridge's Page.
func Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+Name && !strings.HasPrefix(r.URL.Path, "/"+Name+"/") {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.Method == http.MethodHead {
			return
		}
		w.Write(page)
	})
}
