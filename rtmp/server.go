// Package rtmp is scopecast's RTMP server: it accepts connections, runs the
// handshake, reads chunked messages in one goroutine per connection and writes
// in another (which shares the socket only with the direct writes of
// shared-object batches, soqueue.go), maps connect to the scope tree, and
// serves commands, remote calls and live streams.
//
// The server speaks RTMP through scopecast's own wire packages (rtmp/chunk,
// rtmp/amf, rtmp/handshake, rtmp/message); see DESIGN.md for why. RTMPT and
// other transports reuse the same connection code through ServeConn.
package rtmp

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopecast/scopecast/internal/conntrack"
	"github.com/scopecast/scopecast/scope"
)

// Defaults for zero fields of a Server.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
	DefaultWriteTimeout     = 15 * time.Second
	DefaultPingInterval     = 20 * time.Second
	DefaultMergeWindow      = 50 * time.Millisecond
	DefaultChunkSize        = 4096
	DefaultWindowAckSize    = 2_500_000
	DefaultMaxMessageSize   = 16 << 20
	// PreConnectMaxMessageSize bounds messages before a successful connect.
	PreConnectMaxMessageSize = 64 << 10
	// DefaultMaxStreams bounds the message streams one connection may create.
	DefaultMaxStreams = 64
	// DefaultOutQueue bounds the instructions (commands, statuses, shared-object
	// batches) waiting for a connection's writer; a client that lets more pile up
	// is not reading and is closed.
	DefaultOutQueue = 512
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("rtmp: server closed")

// Server is an RTMP server. The zero value is usable once Scopes is set.
type Server struct {
	Scopes *scope.Global // the scope tree connections connect into (required)
	Logger *slog.Logger  // nil: slog.Default()

	HandshakeTimeout time.Duration // whole handshake (default 10s)
	IdleTimeout      time.Duration // no message from the client for this long closes it (default 60s)
	WriteTimeout     time.Duration // one write to the client (default 15s)
	PingInterval     time.Duration // server ping requests keep quiet clients alive (default 20s)
	// MergeWindow is how long media for a player may wait after a write so that
	// the next write carries several frames (default 50 ms; negative: write at
	// once). Fewer, larger writes cost the server far less CPU per gigabyte;
	// commands and a player's first frames are never held back.
	MergeWindow    time.Duration
	ChunkSize      uint32 // outgoing chunk size (default 4096)
	WindowAckSize  uint32 // acknowledgement window announced to clients (default 2.5 MB)
	MaxMessageSize uint32 // largest message accepted after connect (default 16 MiB)
	MaxStreams     int    // message streams per connection (default 64)
	FMSVersion     string // fmsVer in the connect reply (default "FMS/3,5,7,7009")

	// StreamsDir is the root of recordings: stream name in scope /a/b is
	// recorded to and played back from StreamsDir/a/b/name.flv. Empty:
	// recording and playback of recordings are off (publish in record or
	// append mode gets NetStream.Record.NoAccess and goes on live; play with
	// a start >= 0 finds no recording).
	StreamsDir string
	// RecordName names recording files: "{name}" (the default: the stream
	// name, so that play(name) plays the recording back), or a template of
	// {name}, {date} (20060102), {time} (150405) and {unix} (seconds), e.g.
	// "{name}-{date}-{time}". The result is a file name in the scope's
	// directory ("flv" added), checked like any name (flv.SafePath).
	RecordName string
	// RecordFlushInterval is how often a recording's buffered tags reach the
	// file (default flv.DefaultFlushInterval, 500 ms): a kill -9 loses at
	// most about this much.
	RecordFlushInterval time.Duration
	// RecordQueueLen is the packets buffered between a stream and its
	// recorder's writer (default flv.DefaultRecordQueue).
	RecordQueueLen int
	// VODReadAhead is how far ahead of real time playback of a recording
	// sends media (default flv.DefaultReadAhead, 1 s).
	VODReadAhead time.Duration
	// OnRecordDone, if set, is called once for every recording that ended
	// (stopped, its publisher left, the server shut down, or the recorder
	// failed: Err says which), after the file was finalized. It runs on its
	// own goroutine: it may block (an HTTP hook) without holding up media.
	OnRecordDone func(RecordingInfo, error)

	// DrainTimeout is how long Shutdown lets clients that connected with
	// Enhanced RTMP (fourCcList or capsEx in connect) leave by themselves
	// after it sent them NetConnection.Connect.ReconnectRequest; the others
	// are closed at once, and so are these when it runs out (default
	// DefaultDrainTimeout, 5 s; never more than half of the time Shutdown's
	// context has left; negative: no request, everyone is closed at once).
	DrainTimeout time.Duration
	// ReconnectURL, if set, gives the tcUrl sent to c in its
	// ReconnectRequest: the server it should reconnect to (absolute, or
	// relative to the tcUrl it connected with). Empty, or nil: the client
	// reconnects to the URL it used.
	ReconnectURL func(c *Conn) string

	stats Stats
	ext   extStats // per transport and per reject reason (stats.go)

	recMu     sync.Mutex
	recs      map[string]*recording // by recKey(scope path, name)
	recClosed bool
	recWG     sync.WaitGroup

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	closed    bool

	// The open connections and their serving goroutines. Under its lock
	// (Remove's ended function, View), also the drain's bookkeeping:
	conns     conntrack.Set[*Conn]
	drainLeft map[*Conn]struct{} // asked to reconnect and still open (drain.go)
	drained   chan struct{}      // closed when drainLeft empties

	nextID atomic.Uint64
}

// Stats are the server's counters, read with atomic loads.
type Stats struct {
	Accepted     atomic.Uint64 // connections accepted
	Active       atomic.Int64  // connections open now
	Rejected     atomic.Uint64 // connects refused
	Protocol     atomic.Uint64 // connections closed for bad input
	SlowClosed   atomic.Uint64 // players disconnected for falling behind
	Panics       atomic.Uint64 // recovered panics (each closed one connection)
	MediaDropped atomic.Uint64 // media messages received on a stream that is not publishing
	// ReconnectRequests counts NetConnection.Connect.ReconnectRequest sent
	// to clients by Shutdown.
	ReconnectRequests atomic.Uint64
}

// Stats returns the server's live counters.
func (s *Server) Stats() *Stats { return &s.stats }

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// orDefault is v if it is set (positive), else the default d.
func orDefault[T int | int64 | uint32 | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// ListenAndServe listens on addr (":1935" when empty) and serves.
func (s *Server) ListenAndServe(addr string) error {
	if addr == "" {
		addr = ":1935"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts connections on l until Shutdown or a permanent accept error.
// Temporary accept errors back off from 5 ms up to 1 s.
func (s *Server) Serve(l net.Listener) error {
	return s.serve(l, "rtmp", nil)
}

// serve runs the accept loop of Serve and ServeTLS: each accepted connection
// is wrapped by wrap (if set) and served as protocol.
func (s *Server) serve(l net.Listener, protocol string, wrap func(net.Conn) net.Conn) error {
	if s.Scopes == nil {
		panic("rtmp: Server.Scopes is nil")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if isTimeout(err) || isTemporary(err) {
				backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
				s.logger().Warn("rtmp accept error, backing off", "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.stats.Accepted.Add(1)
		if wrap != nil {
			nc = wrap(nc)
		}
		go s.ServeConn(nc, protocol)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ServeConn serves one already accepted connection and returns when it ends.
// protocol names the transport for applications and metrics ("rtmp", "rtmpt",
// "rtmps"). RTMPT adapts each HTTP session to a net.Conn and calls this.
func (s *Server) ServeConn(nc net.Conn, protocol string) {
	c := newConn(s, nc, protocol)
	if !s.conns.Enter() {
		nc.Close()
		return
	}
	defer s.conns.Leave()
	if !s.conns.Add(c) {
		nc.Close()
		return
	}
	s.stats.Active.Add(1)
	defer func() {
		s.stats.Active.Add(-1)
		s.conns.Remove(c, func() {
			c.retireStatsLocked()
			s.drainDone(c)
		})
	}()
	c.serve()
}

// Conns returns the open connections.
func (s *Server) Conns() (out []*Conn) {
	s.conns.View(func(live iter.Seq[*Conn]) { out = slices.Collect(live) })
	return out
}

// Shutdown stops the server gracefully. It closes the listeners (nothing new
// is accepted), sends NetConnection.Connect.ReconnectRequest to the
// connections that announced Enhanced RTMP and gives them DrainTimeout to
// leave, closes every other connection at once (their streams stop: a
// publisher's recording is finalized after its last frame), closes the ones
// that did not leave, and waits for all to end until ctx is done. Then it
// stops the recordings still running (each file is finalized) and waits for
// them, however long ctx had. It returns ctx's error if connections were
// still open when ctx ended. A second call closes what is left at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	s.closeForShutdown(ctx, s.conns.Close(), first && s.DrainTimeout >= 0)
	err := s.conns.Wait(ctx)
	s.stopRecordings()
	return err
}
