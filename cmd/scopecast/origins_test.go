package main

import (
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
)

// http.flv_allowed_origins and http.ws_allowed_origins reach the FLV handler
// and the WebSocket bridge: a browser request's Origin is admitted or
// refused (403) as configured, and by default any origin may play FLV while
// only localhost (and the server's own pages) may open the chat.
func TestAllowedOriginsFromConfig(t *testing.T) {
	type check struct {
		name, origin string
		flv, ws      int // the status of a GET of the FLV path, of a chat upgrade
	}
	run := func(t *testing.T, configText string, checks []check) {
		ls := startRun(t, configText)
		self := "http://" + ls.HTTP.String()
		for _, c := range checks {
			origin := c.origin
			if origin == "self" {
				origin = self
			}
			req, err := http.NewRequest("GET", self+"/live/cam1.flv", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", origin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close() // the reader was waiting for a publisher
			if resp.StatusCode != c.flv {
				t.Errorf("%s: HTTP-FLV from %s: %d, want %d", c.name, origin, resp.StatusCode, c.flv)
			}
			if acao := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode == 200 && acao != origin {
				t.Errorf("%s: HTTP-FLV from %s: Access-Control-Allow-Origin %q", c.name, origin, acao)
			}
			// WebSocket-FLV is judged alike.
			if wsf, resp, err := websocket.DefaultDialer.Dial("ws://"+ls.HTTP.String()+"/live/cam1.flv", http.Header{"Origin": {origin}}); err == nil {
				wsf.Close()
				if c.flv != 200 {
					t.Errorf("%s: WebSocket-FLV from %s admitted", c.name, origin)
				}
			} else if resp == nil || resp.StatusCode != c.flv {
				t.Errorf("%s: WebSocket-FLV from %s: %v %v, want %d", c.name, origin, err, resp, c.flv)
			}
			chat, resp, err := websocket.DefaultDialer.Dial("ws://"+ls.HTTP.String()+"/chat/lobby", http.Header{"Origin": {origin}})
			code := 0
			if resp != nil {
				code = resp.StatusCode
			}
			if err == nil {
				chat.Close()
			}
			if code != c.ws {
				t.Errorf("%s: chat from %s: %d (%v), want %d", c.name, origin, code, err, c.ws)
			}
		}
	}
	t.Run("defaults", func(t *testing.T) {
		run(t, "", []check{
			{"any origin plays", "https://evil.example", 200, 403},
			{"localhost chats", "http://localhost:3000", 200, 101},
			{"own pages", "self", 200, 101},
		})
	})
	t.Run("configured", func(t *testing.T) {
		run(t, `
http:
  flv_allowed_origins: [https://player.example]
  ws_allowed_origins: ["chat.example:8443"]
`, []check{
			{"listed", "https://player.example", 200, 403},
			{"listed host", "https://chat.example:8443", 403, 101},
			{"not listed", "https://evil.example", 403, 403},
			{"localhost no longer", "http://localhost:3000", 403, 403},
			{"own pages", "self", 200, 101},
		})
	})
}
