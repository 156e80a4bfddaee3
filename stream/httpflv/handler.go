package httpflv

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/internal/conntrack"
	"github.com/scopecast/scopecast/internal/origin"
	"github.com/scopecast/scopecast/scope"
)

// Defaults for zero fields of a Handler.
const (
	// DefaultWriteTimeout bounds one write to a reader, as for RTMP players:
	// a reader that cannot take a write in that time is disconnected.
	DefaultWriteTimeout = 15 * time.Second
	// DefaultMergeWindow is how long media may wait after a write so that the
	// next write carries several frames (the RTMP server's default).
	DefaultMergeWindow = 50 * time.Millisecond
	// DefaultPingInterval is how often a WebSocket reader is pinged.
	DefaultPingInterval = 20 * time.Second
	// DefaultReadTimeout closes a WebSocket reader that sent nothing (not even
	// a pong) for that long.
	DefaultReadTimeout = 45 * time.Second
	// MaxClientFrame bounds a WebSocket frame from the client (they are
	// discarded; larger ones close the connection).
	MaxClientFrame = 4 << 10
)

// Protocols of the scope connections, as Conn.Protocol reports them.
const (
	ProtocolHTTP = "http-flv"
	ProtocolWS   = "ws-flv"
)

// Handler serves HTTP-FLV and WebSocket-FLV: GET (and HEAD, and CORS
// preflight OPTIONS) of /<app>[/<room>…]/<stream>.flv, and WebSocket upgrades
// of the same path. Scopes is required; the zero value of every other field
// is usable. Set the fields before the first request and do not change them
// afterwards.
type Handler struct {
	// Scopes is the scope tree readers connect into (required).
	Scopes *scope.Global
	// Logger receives one line per reader (start, end) with "conn", "scope",
	// "stream" and "remote" attributes; nil means slog.Default().
	Logger *slog.Logger
	// AllowedOrigins lists the browser origins that may play: full origins
	// ("https://example.com") or hosts ("example.com:8443"); "*" allows any.
	// nil allows any origin (the default: a stream is as public as its
	// rtmp:// URL); an empty non-nil slice allows only the server's own host.
	// Requests without an Origin header (not from a browser) are allowed.
	// It decides both the CORS headers of GET/HEAD/OPTIONS and whether a
	// WebSocket upgrade is accepted (403 otherwise).
	AllowedOrigins []string
	// WriteTimeout bounds one write to a reader (default 15 s). The deadline
	// is moved at most once per min(1 s, WriteTimeout/8), so a write may be
	// cut that much sooner.
	WriteTimeout time.Duration
	// MergeWindow is how long media may wait after a write so that one write
	// carries several frames (default 50 ms; negative: write at once).
	MergeWindow time.Duration
	// PingInterval and ReadTimeout keep WebSocket readers alive and find
	// dead ones (defaults 20 s and 45 s).
	PingInterval time.Duration
	ReadTimeout  time.Duration

	players conntrack.Set[*player]
	// By protocol (protoIndex), under players' lock (Remove, View): the
	// readers that ended and their bytes (a live reader's are its own
	// atomic counter).
	ended     [2]uint64
	doneBytes [2]uint64
}

// protoIndex is the index of a protocol in the handler's counters.
func protoIndex(proto string) int {
	if proto == ProtocolWS {
		return 1
	}
	return 0
}

var nextID atomic.Uint64

// upgrader upgrades WebSocket-FLV requests; it holds no state of its own.
var upgrader = websocket.Upgrader{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   1024,
	WriteBufferSize:  256,                                      // only control frames go through gorilla's writer
	CheckOrigin:      func(*http.Request) bool { return true }, // checked before Upgrade
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scopePath, name, err := ParsePath(r.URL.Path)
	if err != nil {
		code := http.StatusBadRequest
		if !strings.HasSuffix(r.URL.Path, Ext) {
			code = http.StatusNotFound
		}
		http.Error(w, err.Error(), code)
		return
	}
	origin := r.Header.Get("Origin")
	if origin != "" && !h.OriginAllowed(r) {
		h.logger().Info("flv origin refused", "origin", truncate(origin), "host", r.Host, "remote", r.RemoteAddr)
		http.Error(w, ErrOrigin.Error(), http.StatusForbidden)
		return
	}
	isWS := websocket.IsWebSocketUpgrade(r)
	switch {
	case r.Method == http.MethodOptions:
		h.preflight(w, r)
		return
	case r.Method == http.MethodHead && !isWS:
		setCORS(w.Header(), origin)
		setMediaHeaders(w.Header())
		w.WriteHeader(http.StatusOK)
		return
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.Scopes == nil {
		panic("httpflv: Handler.Scopes is nil")
	}
	if !h.players.Enter() {
		http.Error(w, ErrShuttingDown.Error(), http.StatusServiceUnavailable)
		return
	}
	defer h.players.Leave()

	proto := ProtocolHTTP
	if isWS {
		proto = ProtocolWS
	}
	p := newPlayer(h, proto, r)
	s, err := h.Scopes.Connect(p, scopePath, nil)
	if err != nil {
		p.refuse(w, "connect", err)
		return
	}
	defer h.Scopes.Disconnect(p, s)
	raw := name
	if r.URL.RawQuery != "" {
		raw += "?" + r.URL.RawQuery // the Play hook sees tokens
	}
	st, sub, err := s.Subscribe(p, raw, p.notify)
	if err != nil {
		p.refuse(w, "play", err)
		return
	}
	defer s.Unsubscribe(p, st, sub)
	p.log = p.log.With("scope", s.Path(), "stream", name)

	if !h.players.Add(p) {
		http.Error(w, ErrShuttingDown.Error(), http.StatusServiceUnavailable)
		return
	}
	defer h.players.Remove(p, func() {
		i := protoIndex(proto)
		h.ended[i]++
		h.doneBytes[i] += p.bytesOut.Load() // in the same step: the total never goes back
	})
	p.serve(w, r, st, sub, origin)
}

// refuse answers a request whose connect or play failed.
func (p *player) refuse(w http.ResponseWriter, what string, err error) {
	code, text := Status(err)
	p.log.Info("flv "+what+" refused", "err", err)
	http.Error(w, text, code)
}

// Status maps an error of Connect, Subscribe or ParsePath to the HTTP status
// and text a refused request gets: a hook's refusal 403, an unknown
// application 404, a bad path or name 400, shutdown 503, an application
// panic 500.
func Status(err error) (int, string) {
	var rej *scope.RejectError
	switch {
	case errors.As(err, &rej):
		return http.StatusForbidden, "rejected: " + rej.Reason
	case errors.Is(err, scope.ErrInvalidApp):
		return http.StatusNotFound, "unknown application"
	case errors.Is(err, ErrBadPath), errors.Is(err, scope.ErrBadPath), errors.Is(err, scope.ErrBadName):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, scope.ErrShutdown), errors.Is(err, ErrShuttingDown), errors.Is(err, scope.ErrRemoved):
		return http.StatusServiceUnavailable, "server shutting down"
	case errors.Is(err, scope.ErrPanic):
		return http.StatusInternalServerError, "internal error"
	}
	return http.StatusForbidden, "rejected: " + err.Error()
}

// preflight answers a CORS preflight (the origin was checked).
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	origin := r.Header.Get("Origin")
	if origin == "" {
		hd.Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	setCORS(hd, origin)
	hd.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" && validToken(req) {
		hd.Set("Access-Control-Allow-Headers", req)
	}
	hd.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// setCORS sets the CORS response headers for an allowed origin ("" for none).
func setCORS(hd http.Header, origin string) {
	if origin == "" {
		return
	}
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Add("Vary", "Origin")
}

func setMediaHeaders(hd http.Header) {
	hd.Set("Content-Type", "video/x-flv")
	hd.Set("Cache-Control", "no-cache, no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
}

// validToken reports whether s is a comma-separated list of header names.
func validToken(s string) bool {
	if len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == ',' || c == ' ' || c == '-' || c == '_' || c == '.' ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// OriginAllowed reports whether r's Origin header is allowed to play (see
// AllowedOrigins). A request without Origin is allowed.
func (h *Handler) OriginAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o != "" && !validOrigin(o) { // it is echoed in a header
		return false
	}
	return origin.Allowed(o, r.Host, h.AllowedOrigins, origin.AnyOrigin)
}

// validOrigin reports whether o may be echoed in a header: printable ASCII
// without spaces, bounded.
func validOrigin(o string) bool {
	if len(o) > 256 {
		return false
	}
	for i := 0; i < len(o); i++ {
		if o[i] <= ' ' || o[i] >= 0x7f {
			return false
		}
	}
	return true
}

// Conns returns the number of readers being served.
func (h *Handler) Conns() int { return h.players.Len() }

// ProtocolStats are the counters of one protocol's readers.
type ProtocolStats struct {
	Conns    int    // readers being served
	Served   uint64 // readers accepted (connected and subscribed) since the start
	BytesOut uint64 // bytes written to readers: the FLV stream and its framing
}

// Stats are the handler's counters by protocol.
type Stats struct {
	HTTP ProtocolStats // HTTP-FLV readers (ProtocolHTTP)
	WS   ProtocolStats // WebSocket-FLV readers (ProtocolWS)
}

// Total adds the protocols' counters.
func (s Stats) Total() ProtocolStats {
	return ProtocolStats{Conns: s.HTTP.Conns + s.WS.Conns, Served: s.HTTP.Served + s.WS.Served, BytesOut: s.HTTP.BytesOut + s.WS.BytesOut}
}

// Stats returns the handler's counters. The byte counts are those of the
// readers that ended plus the live readers' own counters (BytesOut), so
// they never go back; a write is counted once it returns.
func (h *Handler) Stats() Stats {
	var ps [2]ProtocolStats
	h.players.View(func(live iter.Seq[*player]) {
		for i := range ps {
			ps[i].Served, ps[i].BytesOut = h.ended[i], h.doneBytes[i]
		}
		for p := range live {
			i := protoIndex(p.proto)
			ps[i].Conns++
			ps[i].Served++
			ps[i].BytesOut += p.bytesOut.Load()
		}
	})
	return Stats{HTTP: ps[0], WS: ps[1]}
}

// Shutdown refuses new readers, closes the current ones and waits until
// their goroutines have finished or ctx is done. Readers are hijacked or
// upgraded connections, which http.Server.Shutdown does not close; the scope
// tree's Shutdown closes them too (they are scope connections).
func (h *Handler) Shutdown(ctx context.Context) error {
	for _, p := range h.players.Close() {
		p.Close(scope.ErrShutdown)
	}
	return h.players.Wait(ctx)
}
