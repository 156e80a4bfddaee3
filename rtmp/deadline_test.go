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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url(ts, "live"), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		time.Sleep(500 * time.Millisecond) // longer than the timeout, under a second
		if _, err := c.CreateStream(ctx); err != nil {
			t.Fatalf("createStream %d after a pause: %v", i, err)
		}
	}
}

// With an idle timeout under a second, a client that sends something every
// 100 ms is not idle: each message moves the read deadline (it used to be
// moved at most once a second, so the connection closed 300 ms after connect).
func TestShortIdleTimeoutWhileActive(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *rtmp.Server, _ *scope.Options) { s.IdleTimeout = 300 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url(ts, "live"), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 15 {
		time.Sleep(100 * time.Millisecond) // a third of the idle timeout
		if _, err := c.CreateStream(ctx); err != nil {
			t.Fatalf("createStream %d, %v after connect: %v", i, time.Duration(i+1)*100*time.Millisecond, err)
		}
	}
}
