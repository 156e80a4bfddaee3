package scope

import (
	"errors"
	"strings"
	"testing"

	"github.com/scopecast/scopecast/stream"
)

func TestStreamLifecycle(t *testing.T) {
	var r recorder
	g := newTestGlobal(t, recordingHandler(&r))
	pub, player, other := newConn(), newConn(), newConn()
	s, err := g.Connect(pub, "chat/room", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testConn{player, other} {
		if _, err := g.Connect(c, "chat/room", nil); err != nil {
			t.Fatal(err)
		}
	}
	r.take()

	// A player first: the stream is created, waiting.
	notify := make(chan struct{}, 1)
	st, sub, err := s.Subscribe(player, "cam?token=abc", notify)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name() != "cam" || s.Stream("cam") != st || st.Publisher() != nil {
		t.Fatalf("stream %q, publisher %v", st.Name(), st.Publisher())
	}
	// The publisher.
	st2, err := s.Publish(pub, "cam?key=1", "")
	if err != nil || st2 != st || st.Publisher() != Conn(pub) {
		t.Fatalf("Publish = %v, %v", st2, err)
	}
	// A second publisher: ErrBadName, no hook.
	if _, err := s.Publish(other, "cam", "live"); !errors.Is(err, ErrBadName) {
		t.Fatalf("second publisher: %v", err)
	}
	equalEvents(t, r.take(), []string{"Play /chat/room cam?token=abc", "Publish /chat/room cam?key=1 live"})

	s.Unpublish(other, st) // not the publisher: no-op
	s.Unpublish(pub, st)
	s.Unpublish(pub, st) // idempotent
	if s.Stream("cam") != st {
		t.Fatal("stream removed while it has a subscriber")
	}
	// Another publisher may take over.
	if _, err := s.Publish(other, "cam", "record"); err != nil {
		t.Fatal(err)
	}
	s.Unpublish(other, st)
	s.Unsubscribe(player, st, sub)
	s.Unsubscribe(player, st, sub) // idempotent
	if s.Stream("cam") != nil || len(s.Streams()) != 0 {
		t.Fatal("stream not removed")
	}
	if err := st.Publish(pub); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("removed stream not closed: %v", err)
	}
	equalEvents(t, r.take(), []string{
		"Unpublish /chat/room cam", "Publish /chat/room cam record", "Unpublish /chat/room cam",
		"StopPlay /chat/room cam",
	})
}

func TestStreamHoldsScope(t *testing.T) {
	var r recorder
	g := newTestGlobal(t, recordingHandler(&r))
	c := newConn()
	s, err := g.Connect(c, "chat/a/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Publish(c, "cam", "live")
	if err != nil {
		t.Fatal(err)
	}
	g.Disconnect(c, s)
	// Held by its stream only: still there (the timer is not armed).
	g.mu.Lock()
	armed, holds := s.timer != nil, s.holds
	g.mu.Unlock()
	if armed || holds != 1 || s.Removed() {
		t.Fatalf("armed %v holds %d", armed, holds)
	}
	s.Unpublish(c, st)
	waitFor(t, "room removed after its stream", func() bool { return g.Lookup("chat/a") == nil })
	if _, err := s.Publish(c, "cam", "live"); err == nil {
		t.Fatal("Publish on a removed scope succeeded")
	}
	if _, _, err := s.Subscribe(c, "cam", make(chan struct{}, 1)); err == nil {
		t.Fatal("Subscribe on a removed scope succeeded")
	}
}

func TestStreamHookReject(t *testing.T) {
	h := &funcHandler{
		PublishFunc: func(c Conn, s *Scope, name, mode string) error {
			if !strings.Contains(name, "?key=ok") {
				return Reject("bad key")
			}
			return nil
		},
		PlayFunc: func(c Conn, s *Scope, name string) error { return Reject("members only") },
	}
	g := newTestGlobal(t, h)
	c := newConn()
	s, err := g.Connect(c, "chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rej *RejectError
	if _, err := s.Publish(c, "cam?key=bad", "live"); !errors.As(err, &rej) || rej.Reason != "bad key" {
		t.Fatalf("Publish: %v", err)
	}
	if _, _, err := s.Subscribe(c, "cam", make(chan struct{}, 1)); !errors.As(err, &rej) {
		t.Fatalf("Subscribe: %v", err)
	}
	if len(s.Streams()) != 0 {
		t.Fatal("rejected actions left a stream")
	}
	if _, err := s.Publish(c, "cam?key=ok", "live"); err != nil {
		t.Fatal(err)
	}
}

func TestPublishRaceUndo(t *testing.T) {
	// Two publishers pass the quick check; the loser's Publish hook is undone.
	var r recorder
	h := recordingHandler(&r)
	g := newTestGlobal(t, h)
	a, b := newConn(), newConn()
	s, err := g.Connect(a, "chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.take()
	h.PublishFunc = func(c Conn, s *Scope, name, mode string) error {
		r.add("Publish %s", c.ID())
		if c == Conn(a) {
			if _, err := s.Publish(b, name, mode); err != nil { // b wins meanwhile
				t.Error(err)
			}
		}
		return nil
	}
	if _, err := s.Publish(a, "cam", "live"); !errors.Is(err, ErrBadName) {
		t.Fatalf("loser: %v", err)
	}
	equalEvents(t, r.take(), []string{"Publish " + a.id, "Publish " + b.id, "Unpublish /chat cam"})
	if st := s.Stream("cam"); st == nil || st.Publisher() != Conn(b) {
		t.Fatal("winner lost the stream")
	}
}

var nameTable = []struct {
	name, base string // base "" means invalid
}{
	{"cam", "cam"},
	{"cam?token=abc", "cam"},
	{"mp4:video.mp4", "mp4:video.mp4"},
	{"live stream ü", "live stream ü"},
	{"", ""},
	{"?x=1", ""},
	{"a/b", ""},
	{"..", ""},
	{"a..b", ""},
	{"a\\b", ""},
	{"a\x00b", ""},
	{"a\nb", ""},
	{"\xff", ""},
	{"cam?x=\x01", ""},
	{strings.Repeat("a", MaxNameLen), strings.Repeat("a", MaxNameLen)},
	{strings.Repeat("a", MaxNameLen+1), ""},
}

func TestCheckName(t *testing.T) {
	for _, tc := range nameTable {
		base, err := CheckName(tc.name)
		if tc.base == "" {
			if !errors.Is(err, ErrBadName) {
				t.Errorf("CheckName(%q) = %q, %v; want ErrBadName", tc.name, base, err)
			}
			continue
		}
		if err != nil || base != tc.base {
			t.Errorf("CheckName(%q) = %q, %v; want %q", tc.name, base, err, tc.base)
		}
	}
	g := newTestGlobal(t, BaseHandler{})
	c := newConn()
	s, _ := g.Connect(c, "chat", nil)
	if _, err := s.Publish(c, "cam", "bogus"); !errors.Is(err, ErrBadName) {
		t.Fatalf("bad mode: %v", err)
	}
	if _, err := s.Publish(c, "a/b", "live"); !errors.Is(err, ErrBadName) {
		t.Fatalf("bad name: %v", err)
	}
}
