package scope

import (
	"errors"
	"testing"

	"github.com/scopecast/scopecast/stream"
)

// PublishPrepared calls prepare after the Publish hook and before stream.Publish, with
// the stream in the scope, so that a subscriber made there sees the publisher's start.
func TestPublishPrepared(t *testing.T) {
	var r recorder
	g := newTestGlobal(t, recordingHandler(&r))
	pub := newConn()
	s, err := g.Connect(pub, "chat/room", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.take()

	notify := make(chan struct{}, 1)
	var early *stream.Subscriber
	var seen *stream.Stream
	st, err := s.PublishPrepared(pub, "cam?k=1", "record", func(st *stream.Stream) error {
		if st.Publisher() != nil || s.Stream("cam") != st {
			t.Errorf("prepare: publisher %v, stream in scope %v", st.Publisher(), s.Stream("cam"))
		}
		if ev := r.take(); len(ev) != 1 || ev[0] != "Publish /chat/room cam?k=1 record" {
			t.Errorf("prepare before the hook: %v", ev)
		}
		seen = st
		early = st.Subscribe(notify)
		return nil
	})
	if err != nil || st != seen || st.Publisher() != Conn(pub) {
		t.Fatalf("PublishPrepared = %v, %v", st, err)
	}
	got := early.Pop(make([]*stream.Packet, 0, 8))
	if len(got) != 1 || got[0].Kind != stream.KindPublishStart {
		t.Fatalf("early subscriber got %d items", len(got))
	}
	st.Unsubscribe(early)
	s.Unpublish(pub, st)
	if s.Stream("cam") != nil {
		t.Fatal("stream kept after unpublish")
	}

	// An error from prepare abandons the publish: the hook is undone, the stream dropped.
	r.take()
	boom := errors.New("boom")
	if _, err := s.PublishPrepared(pub, "cam", "live", func(*stream.Stream) error { return boom }); err != boom {
		t.Fatalf("prepare error: %v", err)
	}
	if s.Stream("cam") != nil {
		t.Fatal("stream kept after a failed prepare")
	}
	equalEvents(t, r.take(), []string{"Publish /chat/room cam live", "Unpublish /chat/room cam"})

	// A rejected publish never reaches prepare.
	h := &funcHandler{PublishFunc: func(Conn, *Scope, string, string) error { return Reject("no") }}
	g2 := newTestGlobal(t, h)
	c2 := newConn()
	s2, err := g2.Connect(c2, "chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	called := false
	if _, err := s2.PublishPrepared(c2, "cam", "record", func(*stream.Stream) error { called = true; return nil }); err == nil || called {
		t.Fatalf("rejected publish: err %v, prepare called %v", err, called)
	}

	// Another connection publishing meanwhile makes the publish fail with ErrBadName.
	other := newConn()
	if _, err := g.Connect(other, "chat/room", nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.PublishPrepared(pub, "cam", "record", func(st *stream.Stream) error {
		if _, err := s.Publish(other, "cam", "live"); err != nil {
			t.Errorf("other publisher: %v", err)
		}
		return nil
	})
	if !errors.Is(err, ErrBadName) {
		t.Fatalf("lost race: %v", err)
	}
	if st := s.Stream("cam"); st == nil || st.Publisher() != Conn(other) {
		t.Fatal("winner's stream gone")
	}
}

func TestAuthorizePlay(t *testing.T) {
	var r recorder
	h := recordingHandler(&r)
	h.PlayFunc = func(c Conn, s *Scope, name string) error {
		r.add("Play %s %s", s.Path(), name)
		if name == "secret" {
			return Reject("members only")
		}
		return nil
	}
	g := newTestGlobal(t, h)
	c := newConn()
	s, err := g.Connect(c, "chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.take()
	if err := s.AuthorizePlay(c, "vod?t=1"); err != nil {
		t.Fatal(err)
	}
	s.PlayStopped(c, "vod")
	var rej *RejectError
	if err := s.AuthorizePlay(c, "secret"); !errors.As(err, &rej) {
		t.Fatalf("rejected: %v", err)
	}
	if err := s.AuthorizePlay(c, ""); !errors.Is(err, ErrBadName) {
		t.Fatalf("empty name: %v", err)
	}
	if len(s.Streams()) != 0 {
		t.Fatal("AuthorizePlay made a stream")
	}
	equalEvents(t, r.take(), []string{"Play /chat vod?t=1", "StopPlay /chat vod", "Play /chat secret"})
}
