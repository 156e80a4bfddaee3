package wsbridge_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/apps/chat"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
	"github.com/scopecast/scopecast/wsbridge"
)

// Three WebSocket clients (JSON chat, Red5's demo form, plain text), three npm
// rtmp-client processes (property "message") and one scopecast RTMP client
// (send onChatMessage) chat in /chat/a: every receiver gets every message of
// the others exactly once, WebSocket senders get acknowledgements instead of
// their own messages, and /chat/a/b sees none of it.
func TestExactlyOnceWebSocketAndRTMP(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	const K = 5
	var ws []*wsClient
	for i := range 3 {
		ws = append(ws, joinWS(t, e, fmt.Sprintf("/chat/a?name=w%d", i)))
	}
	var rt []nodeClient
	for i := range 3 {
		rt = append(rt, startNode(t, e.rtmpURL("chat/a"), "chat", fmt.Sprintf("r%d", i)))
	}
	peer := dialPeer(t, e.rtmpURL("chat/a"), "chat")
	wsB := joinWS(t, e, "/chat/a/b?name=other")
	rtB := dialPeer(t, e.rtmpURL("chat/a/b"), "chat") // rtmp-client connects to two segments at most

	wsTexts := make([][]string, len(ws))
	rtTexts := make([][]string, len(rt))
	var peerTexts []string
	for k := range K {
		for i, w := range ws {
			text := fmt.Sprintf("ws%d-%d", i, k)
			wsTexts[i] = append(wsTexts[i], text)
			switch i {
			case 0:
				w.writeJSON(map[string]any{"type": "chat", "text": text})
			case 1:
				w.writeJSON(map[string]any{"name": "chat", "method": "messageTransmit", "message": map[string]any{"data": text}})
			case 2:
				if err := w.writeText(text); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, r := range rt {
			text := fmt.Sprintf("rtmp%d-%d", i, k)
			rtTexts[i] = append(rtTexts[i], text)
			r.Set("message", map[string]any{"id": text, "from": fmt.Sprintf("r%d", i), "text": text})
		}
		text := fmt.Sprintf("peer-%d", k)
		peerTexts = append(peerTexts, text)
		peer.write(t, sharedobject.Event{Type: sharedobject.EventSend, Args: []any{"onChatMessage", text}})
	}
	all := func(groups [][]string, except int) []string {
		var out []string
		for i, g := range groups {
			if i != except {
				out = append(out, g...)
			}
		}
		return out
	}
	wantWS := func(i int) []string {
		return slices.Concat(all(wsTexts, i), all(rtTexts, -1), peerTexts)
	}
	wantRT := func(i int) []string { return slices.Concat(all(wsTexts, -1), all(rtTexts, i)) } // rtmp-client ignores sends
	wantPeer := slices.Concat(all(wsTexts, -1), all(rtTexts, -1), peerTexts)                   // RTMP send reaches its sender

	for i, w := range ws {
		waitFor(t, 15*time.Second, fmt.Sprintf("ws%d's messages", i), func() bool {
			return len(w.chatTexts()) >= len(wantWS(i)) && w.acks("set", "message") >= K
		})
	}
	for i, r := range rt {
		waitFor(t, 15*time.Second, fmt.Sprintf("rtmp%d's messages", i), func() bool { return len(r.chatTexts()) >= len(wantRT(i)) })
	}
	waitFor(t, 15*time.Second, "the RTMP peer's messages", func() bool { return len(peer.chatTexts()) >= len(wantPeer) })

	// A fence: deliveries are ordered per subscriber, so once everyone has it,
	// any duplicate of an earlier message would have arrived.
	ws[0].writeJSON(map[string]any{"type": "chat", "text": "fence"})
	has := func(texts []string) bool { return slices.Contains(texts, "fence") }
	for i, w := range ws[1:] {
		waitFor(t, 10*time.Second, fmt.Sprintf("fence at ws%d", i+1), func() bool { return has(w.chatTexts()) })
	}
	for _, r := range rt {
		waitFor(t, 10*time.Second, "fence at rtmp-client", func() bool { return has(r.chatTexts()) })
	}
	waitFor(t, 10*time.Second, "fence at the peer", func() bool { return has(peer.chatTexts()) })
	waitFor(t, 10*time.Second, "fence ack", func() bool { return ws[0].acks("set", "message") == K+1 })

	for i, w := range ws {
		exactlyOnce(t, fmt.Sprintf("ws%d", i), w.chatTexts(), wantWS(i))
		if n := w.acks("set", "message"); n != K+(map[bool]int{true: 1}[i == 0]) {
			t.Errorf("ws%d got %d acks", i, n)
		}
		for _, own := range wsTexts[i] {
			if slices.Contains(w.chatTexts(), own) {
				t.Errorf("ws%d got its own message %q back", i, own)
			}
		}
	}
	for i, r := range rt {
		exactlyOnce(t, fmt.Sprintf("rtmp-client %d", i), r.chatTexts(), wantRT(i))
	}
	exactlyOnce(t, "RTMP peer", peer.chatTexts(), wantPeer)
	if got := wsB.chatTexts(); len(got) != 0 {
		t.Errorf("a WebSocket client in /chat/a/b got /chat/a's messages: %v", got)
	}
	if got := rtB.chatTexts(); len(got) != 0 {
		t.Errorf("an RTMP client in /chat/a/b got /chat/a's messages: %v", got)
	}
	// The message the WebSocket client sent is an object with its sender's name.
	f := ws[1].find(func(f frame) bool {
		m, _ := f["value"].(map[string]any)
		return f.str("type") == "change" && f.str("key") == "message" && m["text"] == "ws0-0"
	})[0]
	if m := f["value"].(map[string]any); m["from"] != "w0" || f.str("origin") != ws[0].id || m["id"] != ws[0].id+"-1" {
		t.Errorf("first message seen by ws1: %v", f)
	}
}

// Generic operations: set, remove, clear and send between WebSocket and RTMP
// clients, with acknowledgements for the origin only.
func TestOperations(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	a := joinWS(t, e, "/chat/ops?so=board")
	b := joinWS(t, e, "/chat/ops?so=board")
	peer := dialPeer(t, e.rtmpURL("chat/ops"), "board")

	a.writeJSON(map[string]any{"type": "set", "key": "shape", "value": map[string]any{"kind": "circle", "r": 5, "tags": []any{"x", true, nil}}})
	a.waitFrame("set ack", func(f frame) bool { return f.str("type") == "ack" && f.str("op") == "set" && f.str("key") == "shape" })
	b.waitFrame("change at b", func(f frame) bool { return f.str("type") == "change" && f.str("key") == "shape" })
	waitFor(t, 5*time.Second, "change at the peer", func() bool {
		return len(peer.Find(func(e sharedobject.Event) bool { return e.Type == sharedobject.EventChange && e.Key == "shape" })) == 1
	})
	o := peer.Find(func(e sharedobject.Event) bool { return e.Type == sharedobject.EventChange && e.Key == "shape" })[0].Value.(*amf.Object)
	if r, _ := o.GetNumber("r"); o.GetString("kind") != "circle" || r != 5 {
		t.Errorf("peer got %#v", o)
	}
	if n := len(a.find(func(f frame) bool { return f.str("type") == "change" })); n != 0 {
		t.Errorf("the writer got %d change frames for its own write", n)
	}

	// RTMP → WebSocket: change, send, remove.
	peer.write(t, sharedobject.Event{Type: sharedobject.EventRequestChange, Key: "topic", Value: "from rtmp"})
	peer.write(t, sharedobject.Event{Type: sharedobject.EventSend, Args: []any{"onPing", 1.0, "two"}})
	for _, w := range []*wsClient{a, b} {
		f := w.waitFrame("topic", func(f frame) bool { return f.str("type") == "change" && f.str("key") == "topic" })
		if f["value"] != "from rtmp" {
			t.Errorf("topic %v", f["value"])
		}
		m := w.waitFrame("send", func(f frame) bool { return f.str("type") == "message" && f.str("handler") == "onPing" })
		if fmt.Sprint(m["args"]) != "[1 two]" {
			t.Errorf("args %v", m["args"])
		}
	}

	// WebSocket send: others get it, the sender an ack; the peer gets it too.
	b.writeJSON(map[string]any{"type": "send", "handler": "onPing", "args": []any{"from ws"}})
	b.waitFrame("send ack", func(f frame) bool {
		return f.str("type") == "ack" && f.str("op") == "send" && f.str("handler") == "onPing"
	})
	a.waitFrame("ws send", func(f frame) bool { return f.str("type") == "message" && fmt.Sprint(f["args"]) == "[from ws]" })
	waitFor(t, 5*time.Second, "send at the peer", func() bool {
		return len(peer.Find(func(e sharedobject.Event) bool {
			return e.Type == sharedobject.EventSend && len(e.Args) == 2 && e.Args[1] == "from ws"
		})) == 1
	})
	if n := len(b.find(func(f frame) bool { return f.str("type") == "message" && fmt.Sprint(f["args"]) == "[from ws]" })); n != 0 {
		t.Errorf("the sender got its own send back %d times", n)
	}

	// remove and clear
	a.writeJSON(map[string]any{"type": "remove", "key": "topic"})
	a.waitFrame("remove ack", func(f frame) bool { return f.str("type") == "ack" && f.str("op") == "remove" })
	b.waitFrame("remove", func(f frame) bool { return f.str("type") == "remove" && f.str("key") == "topic" })
	a.writeJSON(map[string]any{"type": "set", "key": "gone", "value": nil}) // null removes: nothing to remove
	b.writeJSON(map[string]any{"type": "clear"})
	b.waitFrame("clear ack", func(f frame) bool { return f.str("type") == "ack" && f.str("op") == "clear" })
	a.waitFrame("clear", func(f frame) bool { return f.str("type") == "clear" && f.str("origin") == b.id })
	waitFor(t, 5*time.Second, "clear at the peer", func() bool {
		return len(peer.Find(func(e sharedobject.Event) bool { return e.Type == sharedobject.EventClear })) == 2 // join + clear
	})

	// A late joiner gets the state as one snapshot.
	a.writeJSON(map[string]any{"type": "set", "key": "n", "value": 1.5})
	a.waitFrame("ack n", func(f frame) bool { return f.str("type") == "ack" && f.str("key") == "n" })
	c := joinWS(t, e, "/chat/ops?so=board")
	snap := c.find(func(f frame) bool { return f.str("type") == "snapshot" })[0]
	if fmt.Sprint(snap["data"]) != "map[n:1.5]" || snap.str("so") != "board" {
		t.Errorf("snapshot %v", snap)
	}
}

// A room created from a WebSocket path is the scope an RTMP client joins; the
// presence lists both, and the room goes when both have left.
func TestRoomsAreScopes(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	w := joinWS(t, e, "/chat/x/y/z?name=webby")
	s := e.Scopes.Lookup("/chat/x/y/z")
	if s == nil {
		t.Fatal("no scope /chat/x/y/z after the WebSocket connect")
	}
	peer := dialPeer(t, e.rtmpURL("chat/x/y/z"), "chat")
	if s2 := e.Scopes.Lookup("/chat/x/y/z"); s2 != s {
		t.Fatal("the RTMP client landed in another scope object")
	}
	var protos []string
	for _, c := range s.Conns() {
		protos = append(protos, c.Protocol())
	}
	slices.Sort(protos)
	if fmt.Sprint(protos) != "[rtmp ws]" {
		t.Errorf("connections of the room: %v", protos)
	}
	// Presence: one attribute per connection, each a small change of its own.
	// The app writes a connection's presence while it connects, so its own
	// arrives in its join snapshot; the RTMP peer's arrives as a change.
	key := chat.UserPrefix + w.id
	snap := w.waitFrame("snapshot", func(f frame) bool { return f.str("type") == "snapshot" })
	me, _ := snap["data"].(map[string]any)[key].(map[string]any)
	w.waitFrame("the peer's presence", func(f frame) bool {
		return f.str("type") == "change" && strings.HasPrefix(f.str("key"), chat.UserPrefix) && f.str("key") != key
	})
	if me["name"] != "webby" || me["protocol"] != "ws" {
		t.Errorf("presence %v", me)
	}
	if u := e.Chat.Users(s); len(u) != 2 || u[w.id] != "webby" {
		t.Errorf("presence of both: %v", u)
	}
	// Clients cannot forge the presence.
	w.writeJSON(map[string]any{"type": "set", "key": chat.UserPrefix + "someone", "value": "forged"})
	f := w.waitFrame("refusal", func(f frame) bool { return f.str("type") == "error" })
	if f.str("code") != "no_write_access" || f.str("status") != sharedobject.StatusNoWriteAccess {
		t.Errorf("refusal %v", f)
	}

	w.Close()
	waitFor(t, 5*time.Second, "presence without the WebSocket client", func() bool { return len(e.Chat.Users(s)) == 1 })
	if e.Scopes.Lookup("/chat/x/y/z") != s {
		t.Fatal("the room went while the RTMP client is in it")
	}
	peer.Conn.Close()
	waitFor(t, 10*time.Second, "the rooms to be removed", func() bool {
		return e.Scopes.Lookup("/chat/x/y/z") == nil && e.Scopes.Lookup("/chat/x") == nil
	})
	if !s.Removed() {
		t.Error("scope not marked removed")
	}

	// The other way round: RTMP creates, WebSocket joins the same scope.
	peer2 := dialPeer(t, e.rtmpURL("chat/r2"), "chat")
	s = e.Scopes.Lookup("/chat/r2")
	w2 := joinWS(t, e, "/chat/r2")
	if e.Scopes.Lookup("/chat/r2") != s || len(s.Conns()) != 2 {
		t.Fatal("WebSocket client not in the RTMP client's room")
	}
	peer2.Conn.Close()
	w2.Close()
	waitFor(t, 10*time.Second, "/chat/r2 removed", func() bool { return e.Scopes.Lookup("/chat/r2") == nil })
}

type refusing struct {
	scope.BaseHandler
	deny sharedobject.Access
}

func (refusing) Connect(scope.Conn, *scope.Scope, []any) error { return scope.Reject("members only") }

type soGate struct{ scope.BaseHandler }

func (soGate) Start(s *scope.Scope) error {
	s.SharedObjects().SetAccess(denyRead{})
	return nil
}

type denyRead struct{}

func (denyRead) CanConnect(sharedobject.Origin, *sharedobject.SharedObject) error {
	return fmt.Errorf("private")
}
func (denyRead) CanWrite(sharedobject.Origin, *sharedobject.SharedObject, string, any) error {
	return nil
}
func (denyRead) CanDelete(sharedobject.Origin, *sharedobject.SharedObject, string) error { return nil }
func (denyRead) CanSend(sharedobject.Origin, *sharedobject.SharedObject, string, []any) error {
	return nil
}

// Connections that cannot join get a close code and reason.
func TestRefusals(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	if err := e.Scopes.Register("locked", refusing{}); err != nil {
		t.Fatal(err)
	}
	if err := e.Scopes.Register("gated", soGate{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		code int
		text string
	}{
		{"/nope/room", 4404, "unknown application"},
		{"/locked/room", 4403, "rejected: members only"},
		{"/gated/room", 4403, "no read access to the shared object"},
		{"/chat/a/%2e%2e", 4400, "bad scope path"},
		{"/chat/a%01b", 4400, "bad scope path"},
		{"/chat/a?so=" + strings.Repeat("x", 2000), 4400, "bad shared object name"},
	} {
		w, _, err := dialWS(t, e.wsURL(tc.path), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		ce := w.waitClosed()
		if ce.Code != tc.code || ce.Text != tc.text {
			t.Errorf("%s: close %d %q, want %d %q", truncate(tc.path), ce.Code, ce.Text, tc.code, tc.text)
		}
	}
	if e.Scopes.Lookup("/locked/room") != nil && len(e.Scopes.Lookup("/locked/room").Conns()) != 0 {
		t.Error("a refused connection is still in its room")
	}
	waitFor(t, 5*time.Second, "refused connections to end", func() bool { return e.Handler.Conns() == 0 })
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Origins: same host and localhost by default; a configured list replaces
// localhost; requests without Origin (not browsers) pass.
func TestOrigins(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	try := func(e *env, origin string) int {
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		w, resp, err := dialWS(t, e.wsURL("/chat/o"), hdr)
		if err != nil {
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			return resp.StatusCode
		}
		w.Close()
		return http.StatusSwitchingProtocols
	}
	self := e.HTTP.URL // http://127.0.0.1:port
	for origin, want := range map[string]int{
		"":                       101,
		self:                     101,
		"http://localhost:3000":  101,
		"http://127.0.0.1:9":     101,
		"http://evil.example":    403,
		"null":                   403,
		"file://":                403,
		"http://localhost.evil":  403,
		"https://127.0.0.1.nip":  403,
		"http://example.com:443": 403,
	} {
		if got := try(e, origin); got != want {
			t.Errorf("origin %q: %d, want %d", origin, got, want)
		}
	}
	e2 := startEnv(t, func(h *wsbridge.Handler) { h.AllowedOrigins = []string{"https://good.example", "also.example:8443"} })
	for origin, want := range map[string]int{
		"https://good.example":      101,
		"https://also.example:8443": 101,
		"https://good.example:444":  403,
		"http://localhost:3000":     403,
		e2.HTTP.URL:                 101,
	} {
		if got := try(e2, origin); got != want {
			t.Errorf("allowed list, origin %q: %d, want %d", origin, got, want)
		}
	}
}

// Bad input closes the offender with a clear code and leaves the room as it
// was: the state stays, the other clients keep chatting.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := startEnv(t, func(h *wsbridge.Handler) {
		h.MaxMessageSize = 1024
		h.Rate, h.Burst = 5, 10
	})
	obs := joinWS(t, e, "/chat/bad?name=observer")
	peer := dialPeer(t, e.rtmpURL("chat/bad"), "chat")
	peer.write(t, sharedobject.Event{Type: sharedobject.EventRequestChange, Key: "topic", Value: "kept"})
	obs.waitFrame("topic", func(f frame) bool { return f.str("key") == "topic" })

	for _, tc := range []struct {
		name string
		do   func(w *wsClient) error
		code int
	}{
		{"invalid JSON", func(w *wsClient) error { return w.writeText(`{"type":"chat","text":`) }, 1007},
		{"not UTF-8", func(w *wsClient) error { return w.c.WriteMessage(websocket.TextMessage, []byte("{\xff}")) }, 1007},
		{"binary", func(w *wsClient) error { return w.c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}) }, 1003},
		{"oversized", func(w *wsClient) error { return w.writeText(strings.Repeat("x", 2000)) }, 1009},
		{"flood", func(w *wsClient) error {
			for range 50 {
				if err := w.writeText(`{"type":"send","handler":"flood","args":[]}`); err != nil {
					return nil // the server may close while we write
				}
			}
			return nil
		}, 4429},
	} {
		w := joinWS(t, e, "/chat/bad?name=bad")
		if err := tc.do(w); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ce := w.waitClosed(); ce.Code != tc.code {
			t.Errorf("%s: close %d %q, want %d", tc.name, ce.Code, ce.Text, tc.code)
		}
	}

	// Unknown requests get an error frame; the connection goes on.
	w := joinWS(t, e, "/chat/bad?name=confused")
	for _, bad := range []string{`{"type":"dance"}`, `{"type":"set"}`, `{"type":"send","handler":""}`, `{"type":"set","key":1,"value":2}`, `{}`, `   `} {
		if err := w.writeText(bad); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "error frames", func() bool {
		return len(w.find(func(f frame) bool { return f.str("type") == "error" && f.str("code") == "bad_request" })) == 6
	})
	w.writeJSON(map[string]any{"type": "chat", "text": "still here"})
	w.waitFrame("ack", func(f frame) bool { return f.str("type") == "ack" })

	// The room: state intact, others unaffected, offenders gone from presence.
	peer.write(t, sharedobject.Event{Type: sharedobject.EventSend, Args: []any{"onChatMessage", "after"}})
	obs.waitFrame("peer's message", func(f frame) bool { return f.str("type") == "message" && fmt.Sprint(f["args"]) == "[after]" })
	obs.writeJSON(map[string]any{"type": "chat", "text": "obs after"})
	waitFor(t, 5*time.Second, "observer's message at the peer", func() bool { return slices.Contains(peer.chatTexts(), "obs after") })
	if got := obs.chatTexts(); !slices.Equal(got, []string{"still here", "after"}) {
		t.Errorf("observer saw %q", got)
	}
	if n := len(obs.find(func(f frame) bool {
		return f.str("type") == "clear" || f.str("type") == "remove" && !strings.HasPrefix(f.str("key"), chat.UserPrefix)
	})); n != 0 { // offenders leaving remove their own presence attributes, nothing else
		t.Errorf("the room's state was touched: %d clear/remove frames", n)
	}
	if v, _ := e.Scopes.Lookup("/chat/bad").SharedObjects().Lookup("chat").Get("topic"); v != "kept" {
		t.Errorf("topic = %v", v)
	}
	waitFor(t, 5*time.Second, "offenders gone from presence", func() bool {
		return len(e.Chat.Users(e.Scopes.Lookup("/chat/bad"))) == 3 // observer, peer, confused
	})
}

// A client that does not read is disconnected when its queue fills; the room
// and the other clients go on.
func TestSlowClientDisconnected(t *testing.T) {
	t.Parallel()
	e := startEnv(t, func(h *wsbridge.Handler) {
		h.QueueSize = 32
		h.MaxMessageSize = 128 << 10
		h.Rate, h.Burst = 1e6, 1e6
		h.WriteTimeout = 2 * time.Second
	})
	fast := joinWS(t, e, "/chat/slow?name=fast")
	sender := joinWS(t, e, "/chat/slow?name=sender")
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	slow, _, err := d.Dial(e.wsURL("/chat/slow?name=slow"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	s := e.Scopes.Lookup("/chat/slow")
	waitFor(t, 5*time.Second, "three users", func() bool { return len(e.Chat.Users(s)) == 3 })

	big := strings.Repeat("y", 64000)
	sent := 0
	for len(e.Chat.Users(s)) == 3 {
		if sent == 5000 {
			t.Fatal("the slow client was never disconnected")
		}
		if err := sender.c.WriteJSON(map[string]any{"type": "chat", "text": fmt.Sprintf("%d %s", sent, big)}); err != nil {
			t.Fatalf("sender: %v (closed: %v)", err, sender.waitClosed())
		}
		sent++
		if sent%10 == 0 { // a burst no larger than the queue, as a paced sender would
			waitFor(t, 10*time.Second, "fast reader", func() bool { return len(fast.chatTexts()) == sent })
		}
	}
	sender.writeJSON(map[string]any{"type": "chat", "text": "fence"})
	sent++
	waitFor(t, 20*time.Second, "every message at the fast reader", func() bool { return len(fast.chatTexts()) == sent })
	for i, txt := range fast.chatTexts()[:sent-1] {
		if !strings.HasPrefix(txt, fmt.Sprintf("%d ", i)) {
			t.Fatalf("message %d out of order or missing", i)
		}
	}
	// The slow client's connection was reset: it reads what it had, then an error.
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := slow.NextReader(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the slow client's connection is still open: %v", err)
			}
			break
		}
	}
	t.Logf("slow client dropped after %d messages of 64 KB", sent)
}

// Pings keep a reading client alive; one that stops answering is closed.
func TestKeepalive(t *testing.T) {
	t.Parallel()
	e := startEnv(t, func(h *wsbridge.Handler) {
		h.PingInterval = 20 * time.Millisecond
		h.ReadTimeout = 200 * time.Millisecond
	})
	alive := joinWS(t, e, "/chat/ka?name=alive")
	// A client that never reads never answers pings.
	mute, _, err := websocket.DefaultDialer.Dial(e.wsURL("/chat/ka?name=mute"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	s := e.Scopes.Lookup("/chat/ka")
	waitFor(t, 5*time.Second, "mute client dropped", func() bool {
		u := e.Chat.Users(s)
		return len(u) == 1 && slices.Contains(mapValues(u), "alive")
	})
	waitFor(t, 10*time.Second, "pings well past the read timeout", func() bool { return alive.pings.Load() >= 15 })
	if u := e.Chat.Users(s); len(u) != 1 {
		t.Fatalf("users %v", u)
	}
	alive.writeJSON(map[string]any{"type": "chat", "text": "still alive"})
	alive.waitFrame("ack", func(f frame) bool { return f.str("type") == "ack" })
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// The page is served for /chat/<room…> without an upgrade; elsewhere 404, and
// a handler without a page answers 426.
func TestPage(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	get := func(url string) (*http.Response, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get(e.HTTP.URL + "/chat/lobby/table7")
	if resp.StatusCode != 200 || !strings.Contains(body, "<script>") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'sha256-") {
		t.Fatalf("page: %d %q", resp.StatusCode, resp.Header)
	}
	if strings.Contains(body, "innerHTML") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("the page uses innerHTML or an external resource")
	}
	if resp, _ := get(e.HTTP.URL + "/live/x"); resp.StatusCode != 404 {
		t.Errorf("/live/x: %d", resp.StatusCode)
	}
	e2 := startEnv(t, func(h *wsbridge.Handler) { h.Page = nil })
	if resp, _ := get(e2.HTTP.URL + "/chat/x"); resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("no page: %d", resp.StatusCode)
	}
}

// Shutting the tree down closes WebSocket clients with 1001.
func TestShutdownCloses(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	w := joinWS(t, e, "/chat/bye")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Scopes.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if ce := w.waitClosed(); ce.Code != websocket.CloseGoingAway {
		t.Errorf("close %d %q", ce.Code, ce.Text)
	}
}
