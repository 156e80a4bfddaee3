package rtmp

import (
	"context"
	"iter"
	"time"

	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/scope"
)

// DefaultDrainTimeout is how long Shutdown waits, by default, for clients it
// asked to reconnect to leave by themselves.
const DefaultDrainTimeout = 5 * time.Second

// capsExReconnect is the Enhanced RTMP v2 capsEx bit (CapsExMask.Reconnect)
// with which a client announces in connect that it handles
// NetConnection.Connect.ReconnectRequest, and the server that it may send it.
const capsExReconnect = 0x01

// announcesReconnect reports whether a connect command object announces
// Enhanced RTMP v2 reconnect support (capsEx with the Reconnect bit).
func announcesReconnect(obj *amf.Object) bool {
	v, ok := obj.GetNumber("capsEx")
	return ok && v >= 0 && v < 1<<32 && uint32(v)&capsExReconnect != 0
}

// requestReconnect sends NetConnection.Connect.ReconnectRequest (onStatus on
// message stream 0, level "status", tcUrl from Server.ReconnectURL if it
// names one) if the client connected with Enhanced RTMP, and reports whether
// it did. Any goroutine may call it.
func (c *Conn) requestReconnect() bool {
	if !c.enhanced.Load() {
		return false
	}
	info := statusObject("status", codeReconnectRequest, "The server is shutting down; reconnect to continue.")
	if f := c.srv.ReconnectURL; f != nil {
		if u := f(c); u != "" {
			info.Set("tcUrl", u)
		}
	}
	c.sendStatus(0, info)
	c.srv.stats.ReconnectRequests.Add(1)
	return true
}

// closeForShutdown ends every connection in conns. With drain, the ones
// that connected with Enhanced RTMP are first asked to reconnect and given
// until drainDeadline (or ctx) to leave; the rest are closed at once.
func (s *Server) closeForShutdown(ctx context.Context, conns []*Conn, drain bool) {
	var asked []*Conn
	for _, c := range conns {
		if drain && c.requestReconnect() {
			asked = append(asked, c)
			continue
		}
		c.Close(scope.ErrShutdown)
	}
	if len(asked) == 0 {
		return
	}
	drained := make(chan struct{})
	s.conns.View(func(live iter.Seq[*Conn]) {
		open := make(map[*Conn]struct{})
		for c := range live {
			open[c] = struct{}{}
		}
		left := make(map[*Conn]struct{}, len(asked))
		for _, c := range asked {
			if _, ok := open[c]; ok {
				left[c] = struct{}{}
			}
		}
		s.drainLeft, s.drained = left, drained
		if len(left) == 0 {
			close(drained)
		}
	})

	d := s.drainTimeout(ctx)
	s.logger().Info("draining: asked clients to reconnect", "clients", len(asked), "timeout", d)
	t := time.NewTimer(d)
	defer t.Stop()
	start := time.Now()
	select {
	case <-drained:
	case <-t.C:
	case <-ctx.Done():
	}
	var n int
	s.conns.View(func(iter.Seq[*Conn]) { n, s.drainLeft = len(s.drainLeft), nil })
	s.logger().Info("drain ended", "left_by_themselves", len(asked)-n, "closed", n, "took", time.Since(start).Round(time.Millisecond))
	for _, c := range asked {
		c.Close(scope.ErrShutdown) // a connection that ended already ignores it
	}
}

// drainTimeout is DrainTimeout (default DefaultDrainTimeout), but never more
// than half the time left before ctx's deadline, so that closing the rest
// and finalizing recordings have the other half.
func (s *Server) drainTimeout(ctx context.Context) time.Duration {
	d := orDefault(s.DrainTimeout, DefaultDrainTimeout)
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)/2)
	}
	return max(d, 0)
}

// drainDone tells a draining Shutdown that c has ended (called under the
// connection set's lock, as c leaves it).
func (s *Server) drainDone(c *Conn) {
	if s.drainLeft == nil {
		return
	}
	if _, ok := s.drainLeft[c]; !ok {
		return
	}
	delete(s.drainLeft, c)
	if len(s.drainLeft) == 0 {
		close(s.drained)
	}
}
