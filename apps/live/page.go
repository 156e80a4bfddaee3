package live

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/scopecast/scopecast/apps/chat"
	"github.com/scopecast/scopecast/scope"
)

// PlayerVersion is the version of the vendored mpegts.js (web/vendor/README.md).
const PlayerVersion = "1.8.2"

// AssetPrefix is where the page's static files are served: the player
// library (AssetPrefix+"mpegts.js") and its licence
// (AssetPrefix+"LICENSE-mpegts.txt"). It is outside /live/, where every path
// names a stream.
const AssetPrefix = "/_live/"

//go:embed web/index.html web/live.js web/live.css web/vendor/mpegts.js web/vendor/LICENSE web/vendor/mpegts.js.LICENSE.txt
var webFS embed.FS

func mustRead(name string) string {
	b, err := webFS.ReadFile(name)
	if err != nil {
		panic("live: embedded file missing: " + name)
	}
	return string(b)
}

var (
	pageHTML, pageCSP = buildPage()
	playerJS          = []byte(mustRead("web/vendor/mpegts.js"))
	playerLicense     = []byte(mustRead("web/vendor/LICENSE") + "\n\n---- bundled notices (mpegts.js.LICENSE.txt) ----\n\n" + mustRead("web/vendor/mpegts.js.LICENSE.txt"))
)

// buildPage inlines the page's script (apps/chat's client, then the page's
// own) and style and returns the page with the Content Security Policy that
// allows exactly those, the player library from this server, media from
// blob: URLs (Media Source Extensions) and connections to this server
// (HTTP-FLV, WebSocket-FLV, the chat).
func buildPage() ([]byte, string) {
	js, css := chat.ClientScript()+"\n"+mustRead("web/live.js"), mustRead("web/live.css")
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	html := mustRead("web/index.html")
	html = strings.Replace(html, "{{STYLE}}", css, 1)
	html = strings.Replace(html, "{{PLAYER}}", AssetPrefix+"mpegts.js?v="+PlayerVersion, 1)
	html = strings.Replace(html, "{{SCRIPT}}", js, 1)
	csp := "default-src 'none'; script-src 'self' " + hash(js) + "; style-src " + hash(css) +
		"; connect-src 'self' ws: wss:; media-src 'self' blob:; worker-src blob:; img-src 'self' data:" +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return []byte(html), csp
}

// Page returns the handler of the live page and its files:
//
//   - GET /live/<room…>/<stream> (no ".flv"): the page that plays
//     /live/<room…>/<stream>.flv with the embedded mpegts.js (HTTP-FLV, or
//     WebSocket-FLV with ?transport=ws) beside the chat of the room
//     /live/<room…> (the WebSocket bridge, shared object "chat");
//   - GET AssetPrefix+"mpegts.js" and AssetPrefix+"LICENSE-mpegts.txt".
//
// Paths that cannot name a stream get 404 (400 for a malformed one), other
// methods 405. Mount it for /live/ and AssetPrefix (plain GETs only: a
// WebSocket upgrade of /live/<room…> is the chat's, and <stream>.flv is the
// stream's).
func Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		var body []byte
		switch p := r.URL.Path; {
		case p == AssetPrefix+"mpegts.js":
			h.Set("Content-Type", "text/javascript; charset=utf-8")
			h.Set("Cache-Control", "public, max-age=86400")
			body = playerJS
		case p == AssetPrefix+"LICENSE-mpegts.txt":
			h.Set("Content-Type", "text/plain; charset=utf-8")
			body = playerLicense
		case strings.HasPrefix(p, "/"+Name+"/"):
			if code, text := checkPagePath(p); code != http.StatusOK {
				http.Error(w, text, code)
				return
			}
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Security-Policy", pageCSP)
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cache-Control", "no-cache")
			body = pageHTML
		default:
			http.NotFound(w, r)
			return
		}
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body)
	})
}

// checkPagePath checks that p is /live/[<room>/…]<stream>: a valid scope
// path of at least two segments whose last is a valid stream name.
func checkPagePath(p string) (int, string) {
	segs, err := scope.SplitPath(p)
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if len(segs) < 2 || segs[0] != Name {
		return http.StatusNotFound, "not found: open /" + Name + "/<stream> or /" + Name + "/<room>/<stream>"
	}
	if _, err := scope.CheckName(segs[len(segs)-1]); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	return http.StatusOK, ""
}
