package scope

import (
	"context"
	"strconv"
	"testing"
)

func BenchmarkConnectDisconnect(b *testing.B) {
	g := newTestGlobal(b, BaseHandler{})
	hold := newConn()
	if _, err := g.Connect(hold, "chat/room1/room2", nil); err != nil { // keeps the rooms
		b.Fatal(err)
	}
	c := newConn()
	b.ReportAllocs()
	for b.Loop() {
		s, err := g.Connect(c, "chat/room1/room2", nil)
		if err != nil {
			b.Fatal(err)
		}
		g.Disconnect(c, s)
	}
}

func BenchmarkConnectNewRoom(b *testing.B) {
	g := New(Options{KeepDelay: -1, Logger: quietLogger()})
	if err := g.Register("chat", BaseHandler{}); err != nil {
		b.Fatal(err)
	}
	c := newConn()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		s, err := g.Connect(c, "chat/r"+strconv.Itoa(i), nil) // a new room each time
		if err != nil {
			b.Fatal(err)
		}
		g.Disconnect(c, s) // removed at once, asynchronously
	}
}

func BenchmarkCall(b *testing.B) {
	h := BaseHandler{Methods: map[string]Method{
		"ping": func(ctx context.Context, c Conn, s *Scope, args []any) (any, error) { return nil, nil },
	}}
	g := newTestGlobal(b, h)
	c := newConn()
	s, err := g.Connect(c, "chat", nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Call(ctx, c, "ping", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPublishUnpublish(b *testing.B) {
	g := newTestGlobal(b, BaseHandler{})
	c := newConn()
	s, err := g.Connect(c, "chat/room", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := s.Publish(c, "cam", "live")
		if err != nil {
			b.Fatal(err)
		}
		s.Unpublish(c, st)
	}
}
