package httpflv_test

import (
	"context"
	"net"
	"testing"

	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
)

// startRTMP serves RTMP into scopes on a loopback port (for ffmpeg).
func startRTMP(t testing.TB, scopes *scope.Global) (string, func(context.Context)) {
	t.Helper()
	srv := &rtmp.Server{Scopes: scopes, Logger: testLogger()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	return l.Addr().String(), func(ctx context.Context) {
		srv.Shutdown(ctx)
		<-done
	}
}
