package rtmp_test

import (
	"context"
	"testing"
	"time"

	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/scope"
)

// With a write timeout under a second, a write that comes longer than the
// timeout after the last one still gets a deadline ahead of it (the writer
// keeps an older deadline only while it leaves 7/8 of the timeout; a kept
// deadline used to be up to a second old, already past here).
func TestShortWriteTimeoutAfterAPause(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *rtmp.Server, _ *scope.Options) { s.WriteTimeout = 200 * time.Millisecond })
	createStreamsEvery(t, ts, 500*time.Millisecond, 3) // pauses longer than the timeout, under a second
}

// With an idle timeout under a second, a client that sends something every
// 100 ms is not idle: each message moves the read deadline (it used to be
// moved at most once a second, so the connection closed 300 ms after connect).
func TestShortIdleTimeoutWhileActive(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *rtmp.Server, _ *scope.Options) { s.IdleTimeout = 300 * time.Millisecond })
	createStreamsEvery(t, ts, 100*time.Millisecond, 15) // a third of the idle timeout
}

// createStreamsEvery connects to ts and calls createStream n times, pause
// apart: each call must succeed.
func createStreamsEvery(t *testing.T, ts *testServer, pause time.Duration, n int) {
	t.Helper()
	c := dial(t, ts, "live")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range n {
		time.Sleep(pause)
		if _, err := c.CreateStream(ctx); err != nil {
			t.Fatalf("createStream %d, %v after connect: %v", i, time.Duration(i+1)*pause, err)
		}
	}
}

// kickInConnect is an application whose connect hook sees its connection
// closed (an operator's kick, a shutdown) and then runs on for longer than
// the read loop waits between moves of its idle deadline.
type kickInConnect struct {
	scope.BaseHandler
	kicked chan struct{}
}

func (a kickInConnect) Connect(c scope.Conn, _ *scope.Scope, _ []any) error {
	c.(*rtmp.Conn).Close(rtmp.ErrKicked)
	close(a.kicked)
	time.Sleep(1200 * time.Millisecond) // a slow hook
	return nil
}

// A connection closed while its read goroutine is busy ends when the
// goroutine is free again: the read loop's next move of its idle deadline
// does not undo the past deadline Close set (it used to: the connection then
// stayed open until the silent client's idle timeout, a minute).
func TestCloseDuringSlowHookEnds(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	app := kickInConnect{kicked: make(chan struct{})}
	if err := ts.Scopes.Register("kick", app); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		if c, err := client.Dial(ctx, url(ts, "kick"), client.Options{}); err == nil {
			c.Close()
		}
	}()
	select {
	case <-app.kicked:
	case <-ctx.Done():
		t.Fatal("the connect hook did not run")
	}
	waitFor(t, 5*time.Second, "the closed connection to end", func() bool { return ts.Srv.Stats().Active.Load() == 0 })
}
