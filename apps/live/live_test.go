package live_test

import (
	"context"
	"slices"
	"testing"

	"github.com/scopecast/scopecast/apps/live"
	"github.com/scopecast/scopecast/scope"
)

type testConn struct{ id string }

func (c testConn) ID() string         { return c.id }
func (c testConn) Protocol() string   { return "rtmp" }
func (c testConn) RemoteAddr() string { return "127.0.0.1:1" }
func (c testConn) Close(error)        {}

// getLiveStreams lists the published streams of the caller's scope by name,
// not those only waited for.
func TestGetLiveStreams(t *testing.T) {
	g := scope.New(scope.Options{Logger: testLogger()})
	defer g.Shutdown(context.Background())
	if err := g.Register(live.Name, live.New()); err != nil {
		t.Fatal(err)
	}
	c := testConn{"c1"}
	s, err := g.Connect(c, "/live/room", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Disconnect(c, s)
	for i, name := range []string{"cam2", "cam10", "cam1"} {
		pub := testConn{"p" + name}
		st, err := s.Publish(pub, name, "live")
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		defer s.Unpublish(pub, st)
	}
	st, sub, err := s.Subscribe(c, "waiting", make(chan struct{}, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unsubscribe(c, st, sub)
	v, err := s.Call(context.Background(), c, "getLiveStreams", nil)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := v.([]any); !ok || !slices.Equal(l, []any{"cam1", "cam10", "cam2"}) {
		t.Fatalf("getLiveStreams = %#v, want [cam1 cam10 cam2]", v)
	}
}
