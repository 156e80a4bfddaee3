package main

import (
	"net/http"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/apps/live"
	"github.com/scopecast/scopecast/stream/httpflv"
)

const indexPage = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>scopecast</title>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto">
<h1>scopecast</h1>
<p>An RTMP media server. Publish with <code>ffmpeg -re -i in.mp4 -c copy -f flv rtmp://HOST/live/cam1</code>
and play with <code>ffplay rtmp://HOST/live/cam1</code> (or <code>rtmpt://HOST:5080/live/cam1</code> over HTTP).</p>
<p>Watch in the browser: <a href="/live/cam1">/live/cam1</a> plays <code>rtmp://HOST/live/cam1</code>
with the room's chat beside it (<code>/live/&lt;room…&gt;/&lt;stream&gt;</code> for any stream);
players take <code>http://HOST:5080/live/cam1.flv</code> (HTTP-FLV) or <code>ws://HOST:5080/live/cam1.flv</code> (WebSocket-FLV).</p>
<p>Chat rooms: <a href="/chat/lobby">/chat/lobby</a> — any path below <code>/chat/</code> is a room,
shared with RTMP clients of <code>rtmp://HOST/chat/lobby</code>.</p>
</body></html>
`

// publicHandler serves the public HTTP listener (:5080): RTMPT
// (rtmpt://host:5080/app), the index page, HTTP-FLV and WebSocket-FLV
// (/<app>/<room…>/<stream>.flv, GET or upgrade, to flv), the live page and
// its files (a plain GET of /live/<room…>/<stream>, and /_live/), and
// everything else to the WebSocket bridge (ws://host:5080/<app>/<room…>, and
// the chat page on a plain GET of /chat/<room…>).
func publicHandler(rtmpt, ws, flv http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/open/", "/send/", "/idle/", "/close/", "/fcs/ident2"} {
		mux.Handle(p, rtmpt)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(indexPage))
	})
	page := live.Page()
	mux.Handle(live.AssetPrefix, page)
	mux.Handle("/", ws)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasSuffix(p, httpflv.Ext):
			flv.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/"+live.Name+"/") && !websocket.IsWebSocketUpgrade(r):
			page.ServeHTTP(w, r) // an upgrade of /live/<room…> is the room's chat
		default:
			mux.ServeHTTP(w, r)
		}
	})
}
