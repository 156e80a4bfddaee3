package rtmp

import (
	"errors"
	"iter"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopecast/scopecast/scope"
)

// ErrKicked is the reason to give Conn.Close when an operator disconnects a
// client (the admin API): the connection is logged as kicked, not counted as a
// protocol error.
var ErrKicked = errors.New("rtmp: disconnected by an operator")

// Reasons a connect is refused, the label values of Server.RejectedByReason.
// The set is bounded: an error that names another reason counts as
// RejectRejected.
const (
	RejectInvalidApp = "invalid_app" // no application of that name
	RejectRejected   = "rejected"    // the application refused (scope.RejectError) or failed
	RejectAuth       = "auth"        // authentication failed
	RejectHook       = "hook"        // an HTTP hook refused
	RejectLimit      = "limit"       // a connection limit was reached
	RejectShutdown   = "shutdown"    // the server is shutting down
)

var rejectReasons = [...]string{RejectInvalidApp, RejectRejected, RejectAuth, RejectHook, RejectLimit, RejectShutdown}

// RejectReasoner is implemented by connect errors that name why a connect was
// refused (one of the Reject* constants), e.g. an authentication or hook
// error; the server finds it with errors.As and counts the connect under that
// reason.
type RejectReasoner interface {
	RejectReason() string
}

// RejectReason returns the reason label for a refused connect's error.
func RejectReason(err error) string {
	var rr RejectReasoner
	if errors.As(err, &rr) {
		r := rr.RejectReason()
		for _, known := range rejectReasons {
			if r == known {
				return r
			}
		}
		return RejectRejected
	}
	switch {
	case errors.Is(err, scope.ErrInvalidApp), errors.Is(err, scope.ErrBadPath):
		return RejectInvalidApp
	case errors.Is(err, scope.ErrShutdown):
		return RejectShutdown
	}
	return RejectRejected
}

// ProtocolStats are the counters of one transport ("rtmp", "rtmps",
// "rtmpt"), as returned by Server.ProtocolStats.
type ProtocolStats struct {
	Protocol string
	Active   int    // connections open now
	Opened   uint64 // connections served (handshake not necessarily done)
	BytesIn  uint64
	BytesOut uint64
}

// protoCounters are one transport's live counters.
type protoCounters struct {
	opened atomic.Uint64
	// The bytes of the transport's connections that ended (under the
	// connection set's lock): a transport's totals are these plus its open
	// connections' own counters, so a write adds to its connection's
	// counter only.
	endedIn, endedOut uint64
}

// extStats are the server's counters beyond Stats: per transport and per
// reject reason. The zero value is usable.
type extStats struct {
	mu       sync.Mutex
	protos   map[string]*protoCounters
	rejected [len(rejectReasons)]atomic.Uint64
}

func (e *extStats) proto(name string) *protoCounters {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.protos[name]
	if p == nil {
		if e.protos == nil {
			e.protos = make(map[string]*protoCounters)
		}
		p = new(protoCounters)
		e.protos[name] = p
	}
	return p
}

// connStats are one connection's byte counters, readable from any goroutine.
type connStats struct {
	in, out atomic.Uint64
	proto   *protoCounters
}

// initStats attaches the connection to its transport's counters; newConn
// calls it.
func (c *Conn) initStats() {
	c.cs.proto = c.srv.ext.proto(c.protocol)
	c.cs.proto.opened.Add(1)
}

// countIn and countOut add to the connection's own counters: one atomic add
// on a cache line no other connection writes.
func (c *Conn) countIn(n uint64) { c.cs.in.Add(n) }

func (c *Conn) countOut(n uint64) { c.cs.out.Add(n) }

// retireStatsLocked moves an ended connection's bytes into its transport's
// totals. Under the connection set's lock, in the same step that forgets
// the connection, so that ProtocolStats never counts it twice nor loses it.
func (c *Conn) retireStatsLocked() {
	c.cs.proto.endedIn += c.cs.in.Load()
	c.cs.proto.endedOut += c.cs.out.Load()
}

// countRejected counts a refused connect under its reason.
func (s *Server) countRejected(err error) {
	r := RejectReason(err)
	for i, known := range rejectReasons {
		if r == known {
			s.ext.rejected[i].Add(1)
			return
		}
	}
}

// BytesIn is how many bytes the connection has received.
func (c *Conn) BytesIn() uint64 { return c.cs.in.Load() }

// BytesOut is how many bytes the connection has sent.
func (c *Conn) BytesOut() uint64 { return c.cs.out.Load() }

// ConnectedAt is when the connection was accepted.
func (c *Conn) ConnectedAt() time.Time { return c.started }

// ProtocolStats returns the counters of every transport that has served a
// connection, sorted by protocol name.
func (s *Server) ProtocolStats() []ProtocolStats {
	type sums struct {
		active  int
		in, out uint64
	}
	by := make(map[*protoCounters]*sums)
	var out []ProtocolStats
	s.conns.View(func(live iter.Seq[*Conn]) {
		s.ext.mu.Lock()
		defer s.ext.mu.Unlock()
		for _, p := range s.ext.protos {
			by[p] = &sums{in: p.endedIn, out: p.endedOut}
		}
		for c := range live {
			if t := by[c.cs.proto]; t != nil {
				t.active++
				t.in += c.cs.in.Load()
				t.out += c.cs.out.Load()
			}
		}
		out = make([]ProtocolStats, 0, len(s.ext.protos))
		for name, p := range s.ext.protos {
			t := by[p]
			out = append(out, ProtocolStats{Protocol: name, Active: t.active, Opened: p.opened.Load(), BytesIn: t.in, BytesOut: t.out})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Protocol < out[j].Protocol })
	return out
}

// Bytes returns the bytes received from and sent to every client, over
// every transport, since the start.
func (s *Server) Bytes() (in, out uint64) {
	for _, p := range s.ProtocolStats() {
		in += p.BytesIn
		out += p.BytesOut
	}
	return in, out
}

// RejectedByReason returns the refused connects counted under each reason
// (every Reject* constant is present, zero or not).
func (s *Server) RejectedByReason() map[string]uint64 {
	out := make(map[string]uint64, len(rejectReasons))
	for i, r := range rejectReasons {
		out[r] = s.ext.rejected[i].Load()
	}
	return out
}
