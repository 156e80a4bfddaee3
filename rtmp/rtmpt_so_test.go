package rtmp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/sopeer"
	"github.com/scopecast/scopecast/sharedobject"
)

// A shared object used over RTMPT (a raw client tunnelled through HTTP polls)
// syncs with the same object used over plain RTMP, both ways.
func TestRTMPTSharedObjectSyncsWithRTMP(t *testing.T) {
	t.Parallel()
	ts := startChatServer(t)
	rs := startRTMPT(t, ts)
	proxy := startProxy(t, rs, &http.Client{})
	overHTTP := dialSOPeer(t, url(proxy.server(ts), "chat/tunnel"), false)
	overTCP := dialSOPeer(t, url(ts, "chat/tunnel"), true)

	for _, p := range []*sopeer.Peer{overHTTP, overTCP} {
		p.Write(t, &sharedobject.Message{Name: "chat", Flags: 16, Events: []sharedobject.Event{{Type: sharedobject.EventUse}}})
		waitFor(t, 10*time.Second, "use success", func() bool { return p.Has(sharedobject.EventUseSuccess, "") })
	}
	overHTTP.Write(t, &sharedobject.Message{Name: "chat", Events: []sharedobject.Event{
		{Type: sharedobject.EventRequestChange, Key: "from", Value: "rtmpt"},
	}})
	waitFor(t, 10*time.Second, "RTMPT writer's success", func() bool { return overHTTP.Has(sharedobject.EventSuccess, "from") })
	waitFor(t, 10*time.Second, "RTMP peer sees the RTMPT change", func() bool { return overTCP.Has(sharedobject.EventChange, "from") })

	overTCP.Write(t, &sharedobject.Message{Name: "chat", Events: []sharedobject.Event{
		{Type: sharedobject.EventSend, Args: []any{"onMessage", "hello through the tunnel"}},
	}})
	waitFor(t, 10*time.Second, "RTMPT peer receives the RTMP send", func() bool { return overHTTP.Has(sharedobject.EventSend, "onMessage") })
	if s := rs.H.Stats(); s.Sessions.Load() == 0 {
		t.Errorf("no RTMPT session was open: %s", statsLine(rs.H))
	}
}
