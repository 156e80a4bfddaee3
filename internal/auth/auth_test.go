package auth

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/scope"
)

// fakeConn is a scope.Conn with a connect query.
type fakeConn struct {
	id, remote, proto string
	q                 url.Values
}

func (c *fakeConn) ID() string               { return c.id }
func (c *fakeConn) Protocol() string         { return c.proto }
func (c *fakeConn) RemoteAddr() string       { return c.remote }
func (c *fakeConn) Close(error)              {}
func (c *fakeConn) ConnectQuery() url.Values { return c.q }

// app records what reached the wrapped application.
type app struct {
	scope.BaseHandler
	mu     sync.Mutex
	calls  []string
	refuse string // Publish refuses with this when set
}

func (a *app) record(s string) {
	a.mu.Lock()
	a.calls = append(a.calls, s)
	a.mu.Unlock()
}

func (a *app) Connect(c scope.Conn, s *scope.Scope, _ []any) error {
	a.record("connect " + c.ID())
	return nil
}

func (a *app) Publish(c scope.Conn, s *scope.Scope, name, mode string) error {
	a.record("publish " + name)
	if a.refuse != "" {
		return scope.Reject(a.refuse)
	}
	return nil
}

func (a *app) Unpublish(c scope.Conn, s *scope.Scope, name string) { a.record("unpublish " + name) }

func (a *app) Play(c scope.Conn, s *scope.Scope, name string) error {
	a.record("play " + name)
	return nil
}

func (a *app) Method(name string) scope.Method {
	if name == "hello" {
		return func(context.Context, scope.Conn, *scope.Scope, []any) (any, error) { return "hi", nil }
	}
	return nil
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// shutdown stops g without waiting for the fake connections, which never
// disconnect by themselves.
func shutdown(g *scope.Global) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	g.Shutdown(ctx)
}

// setup returns a tree with application "live" wrapped by a.
func setup(t *testing.T, a *Authorizer) (*scope.Global, *app) {
	t.Helper()
	inner := &app{}
	g := scope.New(scope.Options{KeepDelay: -1})
	if err := g.Register("live", a.Wrap("live", inner)); err != nil {
		t.Fatal(err)
	}
	if err := g.Register("open", a.Wrap("open", &app{})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(g) })
	return g, inner
}

func reasonOf(err error) string {
	var rej *scope.RejectError
	if errors.As(err, &rej) {
		return rej.Reason
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}

var rulesPolicy = Policy{Apps: map[string]App{
	"live": {
		Connect: Rule{Deny: prefixes("192.0.2.0/24")},
		Publish: Rule{Keys: []string{"secret", "other"}, Allow: prefixes("127.0.0.0/8", "::1/128")},
		Play:    Rule{Deny: prefixes("198.51.100.7/32"), Keys: []string{"viewer"}},
	},
}}

// One table of rules: action, client, name, and the reason expected ("" allows).
func TestRules(t *testing.T) {
	a := New(rulesPolicy, Options{})
	defer a.Close(context.Background())
	g, _ := setup(t, a)
	for i, tc := range []struct {
		app, action, remote, query, name, want string
	}{
		{"live", "connect", "127.0.0.1:5000", "", "", ""},
		{"live", "connect", "192.0.2.9:5000", "", "", ReasonAddress},
		{"live", "connect", "[::ffff:192.0.2.9]:5000", "", "", ReasonAddress}, // IPv4-mapped
		{"live", "connect", "not an address", "", "", ReasonAddress},          // address rules fail closed
		{"open", "connect", "192.0.2.9:5000", "", "", ""},                     // an app without rules
		{"live", "publish", "127.0.0.1:5000", "", "cam1?key=secret", ""},
		{"live", "publish", "127.0.0.1:5000", "", "cam1?token=other", ""},
		{"live", "publish", "[::1]:5000", "", "cam1?key=other&mode=record", ""},
		{"live", "publish", "127.0.0.1:5000", "key=secret", "cam1", ""}, // key from the connect URL
		{"live", "publish", "127.0.0.1:5000", "key=bad", "cam1?key=secret", ""},
		{"live", "publish", "127.0.0.1:5000", "", "cam1", ReasonMissingKey},
		{"live", "publish", "127.0.0.1:5000", "", "cam1?key=secre", ReasonWrongKey},
		{"live", "publish", "127.0.0.1:5000", "", "cam1?key=", ReasonWrongKey},
		{"live", "publish", "10.0.0.1:5000", "", "cam1?key=secret", ReasonAddress},
		{"live", "play", "10.0.0.1:5000", "", "cam1?key=viewer", ""},
		{"live", "play", "10.0.0.1:5000", "", "cam1?key=secret", ReasonWrongKey},
		{"live", "play", "198.51.100.7:1", "", "cam1?key=viewer", ReasonAddress},
		{"open", "play", "198.51.100.7:1", "", "cam1", ""},
	} {
		q, _ := url.ParseQuery(tc.query)
		c := &fakeConn{id: "c" + string(rune('a'+i)), remote: tc.remote, proto: "rtmp", q: q}
		var err error
		if tc.action == "connect" {
			var s *scope.Scope
			s, err = g.Connect(c, tc.app, nil)
			if err == nil {
				g.Disconnect(c, s)
			}
		} else {
			// Connect from an allowed address first, then act.
			c2 := &fakeConn{id: c.id, remote: "127.0.0.1:1", proto: "rtmp", q: q}
			s, cerr := g.Connect(c2, tc.app+"/room", nil)
			if cerr != nil {
				t.Fatalf("%d: connect: %v", i, cerr)
			}
			if tc.action == "publish" {
				var st interface{ Name() string }
				st, err = s.Publish(c, tc.name, "live")
				if err == nil && st != nil {
					s.Unpublish(c, s.Stream(st.Name()))
				}
			} else {
				err = s.AuthorizePlay(c, tc.name)
			}
			g.Disconnect(c2, s)
		}
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%d: %s %s from %s name %q query %q: got %q, want %q", i, tc.action, tc.app, tc.remote, tc.name, tc.query, got, tc.want)
		}
	}
	if st := a.Stats(); st.Refused != 9 {
		t.Errorf("refused = %d, want 9", st.Refused)
	}
}

// Everything but Connect, Publish and Play goes straight to the application.
func TestWrapForwards(t *testing.T) {
	a := New(Policy{}, Options{})
	defer a.Close(context.Background())
	inner := &app{}
	h := a.Wrap("live", inner)
	if m := h.Method("hello"); m == nil {
		t.Fatal("method not forwarded")
	}
	if m := h.Method("nope"); m != nil {
		t.Fatal("unknown method found")
	}
	g := scope.New(scope.Options{KeepDelay: -1})
	defer shutdown(g)
	g.Register("live", h)
	c := &fakeConn{id: "c1", remote: "127.0.0.1:1"}
	s, err := g.Connect(c, "live", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(c, "cam1?x=1", "live"); err != nil {
		t.Fatal(err)
	}
	s.Unpublish(c, s.Stream("cam1"))
	if err := s.AuthorizePlay(c, "cam1"); err != nil {
		t.Fatal(err)
	}
	want := []string{"connect c1", "publish cam1?x=1", "unpublish cam1", "play cam1"}
	if !reflect.DeepEqual(inner.calls, want) {
		t.Errorf("calls %v, want %v", inner.calls, want)
	}
}

// SetPolicy changes the decisions for the next action only.
func TestSetPolicy(t *testing.T) {
	a := New(Policy{}, Options{})
	defer a.Close(context.Background())
	g, _ := setup(t, a)
	c := &fakeConn{id: "c1", remote: "127.0.0.1:1"}
	s, err := g.Connect(c, "live", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(c, "cam1", "live"); err != nil {
		t.Fatal(err)
	}
	a.SetPolicy(rulesPolicy)
	if s.Stream("cam1").Publisher() == nil {
		t.Fatal("the running publish was dropped")
	}
	c2 := &fakeConn{id: "c2", remote: "127.0.0.1:2"}
	if _, err := s.Publish(c2, "cam2", "live"); reasonOf(err) != ReasonMissingKey {
		t.Errorf("after reload: %v", err)
	}
	if p := a.Policy(); len(p.Apps["live"].Publish.Keys) != 2 {
		t.Errorf("Policy() = %+v", p)
	}
}

// hookServer answers by path and records the events it got.
type hookServer struct {
	*httptest.Server
	mu      sync.Mutex
	events  []Event
	release chan struct{}
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev Event
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &ev); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", 400)
			return
		}
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.mu.Unlock()
		switch r.URL.Path {
		case "/allow":
			w.WriteHeader(204)
		case "/deny-json":
			w.WriteHeader(403)
			w.Write([]byte(`{"reason":"banned: too many streams"}`))
		case "/deny-text":
			w.WriteHeader(401)
			w.Write([]byte("\n  no such user \r\nsecond line"))
		case "/deny-empty":
			w.WriteHeader(500)
		case "/redirect":
			http.Redirect(w, r, "/allow", http.StatusFound)
		case "/slow":
			select {
			case <-h.release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(func() {
		close(h.release)
		h.Close()
	})
	return h
}

func (h *hookServer) got() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Event(nil), h.events...)
}

func TestHooksDecide(t *testing.T) {
	hs := newHookServer(t)
	for _, tc := range []struct {
		path, want string
	}{
		{"/allow", ""},
		{"/deny-json", "banned: too many streams"},
		{"/deny-text", "no such user"},
		{"/deny-empty", "refused by hook (HTTP 500)"},
		{"/redirect", "refused by hook (HTTP 302)"},
		{"/slow", ReasonTimeout},
	} {
		a := New(Policy{Hooks: Hooks{OnPublish: hs.URL + tc.path, Timeout: 200 * time.Millisecond}}, Options{})
		g, inner := setup(t, a)
		c := &fakeConn{id: "c7", remote: "127.0.0.1:4444", proto: "rtmps", q: url.Values{"key": {"k1"}}}
		s, err := g.Connect(c, "live/room1", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Publish(c, "cam1?key=abc&x=y", "record")
		if got := reasonOf(err); got != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.path, got, tc.want)
		}
		if called := len(inner.calls) == 2; called != (tc.want == "") {
			t.Errorf("%s: application reached: %v", tc.path, inner.calls)
		}
		a.Close(context.Background())
	}
	evs := hs.got()
	if len(evs) < 1 {
		t.Fatal("no events")
	}
	ev := evs[0]
	ev.Time = ""
	want := Event{Action: "publish", App: "live", Scope: "/live/room1", Stream: "cam1", Mode: "record",
		Query: map[string]string{"key": "abc", "x": "y"}, ConnectQuery: map[string]string{"key": "k1"},
		ClientID: "c7", Protocol: "rtmps", RemoteAddr: "127.0.0.1:4444"}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("event\n got %+v\nwant %+v", ev, want)
	}
	if _, err := time.Parse(time.RFC3339Nano, evs[0].Time); err != nil {
		t.Errorf("time %q: %v", evs[0].Time, err)
	}
}

// A hook nobody answers refuses ("hook unavailable"); per-app hooks replace
// the global ones; on_connect and on_play are called.
func TestHooksConnectPlayAndOverride(t *testing.T) {
	hs := newHookServer(t)
	a := New(Policy{
		Hooks: Hooks{OnConnect: "http://127.0.0.1:1/down", OnPlay: hs.URL + "/deny-json"},
		Apps:  map[string]App{"live": {Hooks: Hooks{OnConnect: hs.URL + "/allow", Timeout: time.Second}}},
	}, Options{})
	defer a.Close(context.Background())
	g, _ := setup(t, a)
	c := &fakeConn{id: "c1", remote: "127.0.0.1:1", proto: "ws"}
	if _, err := g.Connect(c, "open", nil); reasonOf(err) != ReasonHookDown {
		t.Errorf("open: %v", err)
	}
	s, err := g.Connect(c, "live", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AuthorizePlay(c, "cam1"); reasonOf(err) != "banned: too many streams" {
		t.Errorf("play: %v", err)
	}
	var actions []string
	for _, ev := range hs.got() {
		actions = append(actions, ev.Action+" "+ev.App)
	}
	if want := []string{"connect live", "play live"}; !reflect.DeepEqual(actions, want) {
		t.Errorf("hooks called: %v, want %v", actions, want)
	}
	if st := a.Stats(); st.HookErrors != 1 || st.HookCalls != 3 {
		t.Errorf("stats %+v", st)
	}
}

// on_unpublish and on_record_done are posted in the background: a hook that
// hangs holds up nothing, a full queue drops and counts, Close ends what is
// in flight when its context ends.
func TestDoneHooksNeverBlock(t *testing.T) {
	hs := newHookServer(t)
	a := New(Policy{Hooks: Hooks{OnUnpublish: hs.URL + "/slow", Timeout: time.Minute}}, Options{Queue: 1})
	g, inner := setup(t, a)
	c := &fakeConn{id: "c1", remote: "127.0.0.1:1"}
	s, err := g.Connect(c, "live", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 4 {
		name := "cam" + string(rune('0'+i))
		if _, err := s.Publish(c, name, "live"); err != nil {
			t.Fatal(err)
		}
		s.Unpublish(c, s.Stream(name))
		if i == 0 { // the first is in flight (hanging), the next waits, the others are dropped
			testutil.WaitFor(t, 5*time.Second, "the first on_unpublish", func() bool { return len(hs.got()) == 1 })
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("unpublishing took %v", d)
	}
	if d := a.Stats().DoneDropped; d != 2 {
		t.Errorf("dropped %d, want 2", d)
	}
	if len(inner.calls) != 9 {
		t.Errorf("application calls %v", inner.calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := a.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want the deadline", err)
	}
	if d := a.Stats().DoneDropped; d != 3 || len(hs.got()) != 1 {
		t.Errorf("after Close: dropped %d (want 3), %d posted (want 1)", d, len(hs.got()))
	}
	a.RecordDone(Recording{Scope: "/live", Name: "x"}) // after Close: no hook, no panic

	// on_record_done, with the recording's facts.
	b := New(Policy{Hooks: Hooks{OnRecordDone: hs.URL + "/allow"}}, Options{})
	b.RecordDone(Recording{Scope: "/live/room", Name: "cam1", File: "/data/streams/live/room/cam1.flv", Bytes: 1234,
		Duration: 2500 * time.Millisecond, Err: errors.New("disk full")})
	if err := b.Close(context.Background()); err != nil { // Close sends what is queued
		t.Fatal(err)
	}
	evs := hs.got()
	if len(evs) != 2 {
		t.Fatalf("events %+v", evs)
	}
	ev := evs[1]
	ev.Time = ""
	want := Event{Action: "record_done", App: "live", Scope: "/live/room", Stream: "cam1",
		File: "/data/streams/live/room/cam1.flv", Bytes: 1234, DurationMS: 2500, Error: "disk full"}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("record_done\n got %+v\nwant %+v", ev, want)
	}
}

// When the application refuses after on_publish allowed, on_unpublish follows.
func TestUnpublishAfterAppRefusal(t *testing.T) {
	hs := newHookServer(t)
	a := New(Policy{Hooks: Hooks{OnPublish: hs.URL + "/allow", OnUnpublish: hs.URL + "/allow"}}, Options{})
	defer a.Close(context.Background())
	g, inner := setup(t, a)
	inner.refuse = "app says no"
	c := &fakeConn{id: "c1", remote: "127.0.0.1:1"}
	s, _ := g.Connect(c, "live", nil)
	if _, err := s.Publish(c, "cam1", "live"); reasonOf(err) != "app says no" {
		t.Fatalf("publish: %v", err)
	}
	testutil.WaitFor(t, 5*time.Second, "on_unpublish", func() bool { return len(hs.got()) == 2 })
	if ev := hs.got()[1]; ev.Action != "unpublish" || ev.Stream != "cam1" {
		t.Errorf("event %+v", ev)
	}
}

// hookReasonCases seed TestHookReason and FuzzHookReason.
var hookReasonCases = []struct {
	name string
	code int
	body string
	want string
}{
	{"json", 403, `{"reason":"nope"}`, "nope"},
	{"json_empty_reason", 403, `{"reason":""}`, "refused by hook (HTTP 403)"},
	{"json_other", 403, `{"other":1}`, "refused by hook (HTTP 403)"},
	{"empty", 403, "", "refused by hook (HTTP 403)"},
	{"lines", 403, "\n\n  line two\x01\x7f  \nthree", "line two"},
	{"long_utf8", 403, strings.Repeat("é", 150), strings.Repeat("é", 100)},
	{"json_newline", 403, `{"reason":"a\nb"}`, "a"},
	{"json_control_only", 500, `{"reason":"\u0001"}`, "refused by hook (HTTP 500)"},
	{"invalid_utf8", 401, "bad \xff\xfe bytes", "bad \ufffd\ufffd bytes"},
	{"crlf", 401, "no\r\nmore", "no"},
}

func TestHookReason(t *testing.T) {
	for _, tc := range hookReasonCases {
		if got := hookReason(tc.code, []byte(tc.body)); got != tc.want {
			t.Errorf("%s: hookReason(%d, %q) = %q, want %q", tc.name, tc.code, tc.body, got, tc.want)
		}
	}
}

// FuzzHookReason: whatever a hook answers, the reason shown to a client is
// one line of at most 200 bytes without control characters.
func FuzzHookReason(f *testing.F) {
	for _, tc := range hookReasonCases {
		f.Add(tc.code, []byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		r := hookReason(code, body)
		if r == "" || !utf8.ValidString(r) || len(r) > 200 && !strings.HasPrefix(r, "refused by hook") {
			t.Fatalf("reason %q", r)
		}
		for _, c := range []byte(r) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("control character in %q", r)
			}
		}
	})
}

var updateCorpus = flag.Bool("update", false, "rewrite the seed corpus files under testdata/fuzz")

// TestFuzzCorpus keeps testdata/fuzz in step with the seed table. Run
// `go test -run TestFuzzCorpus -update` after changing it.
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for _, tc := range hookReasonCases {
		c.Add("FuzzHookReason", tc.name, tc.code, []byte(tc.body))
	}
	c.Check(t, *updateCorpus, "-update")
}
