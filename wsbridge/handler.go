package wsbridge

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/internal/conntrack"
	"github.com/scopecast/scopecast/internal/origin"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
)

// Defaults of the Handler's options.
const (
	DefaultSO             = "chat"
	DefaultMaxMessageSize = 16 << 10
	DefaultRate           = 20 // frames per second
	DefaultBurst          = 40
	DefaultQueueSize      = 256
	DefaultPingInterval   = 20 * time.Second
	DefaultReadTimeout    = 45 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultCloseTimeout   = time.Second
	DefaultMergeWindow    = 5 * time.Millisecond
	// Subprotocol is the WebSocket subprotocol the handler accepts (Red5's chat demo).
	Subprotocol = "chat"
	// ChatKey is the property chat messages are written to (as Red5 does).
	ChatKey = "message"
	// MaxNameLen bounds the user name taken from the name query parameter (runes).
	MaxNameLen = 64
)

// Handler is the WebSocket bridge: an http.Handler that upgrades
// ws://host/<app>/<room…>?so=<name> to a connection into that scope (see the
// package documentation), and hands plain GET requests to Page.
//
// Scopes is required; the other fields are optional. Set the fields before the
// first request and do not change them afterwards.
type Handler struct {
	// Scopes is the scope tree the connections join (required).
	Scopes *scope.Global
	// Page serves requests that are not WebSocket upgrades (e.g. the chat page);
	// nil answers them 426 Upgrade Required.
	Page http.Handler
	// AllowedOrigins lists the browser origins allowed besides the request's own
	// host: full origins ("https://example.com") or hosts ("example.com",
	// "example.com:8443"); "*" allows every origin. nil allows localhost,
	// 127.0.0.1 and [::1] on any port. Requests without an Origin header (not
	// from a browser) are allowed.
	AllowedOrigins []string
	// MaxMessageSize bounds a client frame in bytes (default 16 KiB); a larger
	// frame closes the connection with 1009.
	MaxMessageSize int64
	// Rate and Burst configure each client's token bucket: Rate frames per
	// second on average, Burst at once (defaults 20 and 40). A client that
	// exceeds it is closed with 4429.
	Rate  float64
	Burst int
	// QueueSize bounds each client's output queue in deliveries (default 256);
	// a client whose queue is full is disconnected (4408), never waited for.
	QueueSize int
	// PingInterval is how often the server pings (default 20 s); ReadTimeout
	// closes a client that sent no frame nor pong for that long (default 45 s);
	// WriteTimeout bounds one write (default 10 s); CloseTimeout is how long
	// the server waits for the client's close frame after its own (default 1 s).
	PingInterval time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	CloseTimeout time.Duration
	// MergeWindow is how long deliveries may wait after a write so that the
	// next write carries several (default 5 ms; negative: write at once). A
	// client receiving less often than that is never held back.
	MergeWindow time.Duration
	// Logger receives connection events with "conn", "scope" and "remote"
	// attributes; nil means slog.Default().
	Logger *slog.Logger

	initOnce sync.Once
	upgrader websocket.Upgrader

	conns conntrack.Set[*conn]
	// The byte counts of the connections that have ended (under conns'
	// lock: Remove, View), and the connections accepted.
	closedIn, closedOut uint64
	opened              atomic.Uint64
}

var nextID atomic.Uint64

var writePool sync.Pool

func (h *Handler) init() {
	h.initOnce.Do(func() {
		h.upgrader = websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   4096,
			WriteBufferSize:  4096,
			WriteBufferPool:  &writePool,
			Subprotocols:     []string{Subprotocol},
			CheckOrigin:      func(*http.Request) bool { return true }, // checked before Upgrade
		}
	})
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func orDefault[T int | int64 | float64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	if !websocket.IsWebSocketUpgrade(r) {
		if h.Page != nil {
			h.Page.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "this is a WebSocket endpoint", http.StatusUpgradeRequired)
		return
	}
	if !h.OriginAllowed(r) {
		h.logger().Info("websocket origin refused", "origin", r.Header.Get("Origin"), "host", r.Host, "remote", r.RemoteAddr)
		http.Error(w, ErrBadOrigin.Error(), http.StatusForbidden)
		return
	}
	if h.Scopes == nil {
		panic("wsbridge: Handler.Scopes is nil")
	}
	if !h.conns.Enter() {
		http.Error(w, ErrShuttingDown.Error(), http.StatusServiceUnavailable)
		return
	}
	defer h.conns.Leave()

	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client
	}
	c := newConn(h, ws, r)
	h.opened.Add(1)
	if !h.conns.Add(c) {
		c.Close(scope.ErrShutdown)
	}
	c.serve(r.URL)
	h.conns.Remove(c, func() {
		h.closedIn += c.bytesIn.Load() // serve has returned: the counts are final
		h.closedOut += c.bytesOut.Load()
	})
}

// OriginAllowed reports whether r's Origin header is allowed (see AllowedOrigins).
func (h *Handler) OriginAllowed(r *http.Request) bool {
	return origin.Allowed(r.Header.Get("Origin"), r.Host, h.AllowedOrigins, origin.LocalOnly)
}

// Conns returns the number of open WebSocket connections.
func (h *Handler) Conns() int { return h.conns.Len() }

// Opened returns the number of WebSocket connections accepted (upgraded)
// since the start.
func (h *Handler) Opened() uint64 { return h.opened.Load() }

// BytesIn returns the bytes of data frames received from every connection,
// open or ended, counted as each connection's BytesIn.
func (h *Handler) BytesIn() uint64 {
	var n uint64
	h.conns.View(func(live iter.Seq[*conn]) {
		n = h.closedIn
		for c := range live {
			n += c.bytesIn.Load()
		}
	})
	return n
}

// BytesOut returns the bytes of data frames written to every connection,
// open or ended, counted as each connection's BytesOut.
func (h *Handler) BytesOut() uint64 {
	var n uint64
	h.conns.View(func(live iter.Seq[*conn]) {
		n = h.closedOut
		for c := range live {
			n += c.bytesOut.Load()
		}
	})
	return n
}

// Shutdown refuses new connections, closes the open ones (1001) and waits
// until their goroutines have finished or ctx is done. scope.Global.Shutdown
// also closes them (they are scope connections); call Shutdown to wait for
// their goroutines.
func (h *Handler) Shutdown(ctx context.Context) error {
	for _, c := range h.conns.Close() {
		c.Close(scope.ErrShutdown)
	}
	return h.conns.Wait(ctx)
}

// connectParams turns the query parameters (but so) into the connect
// parameters the application's Connect hook sees: one *amf.Object with the
// first value of each parameter, keys sorted; nil without parameters.
func connectParams(q url.Values) []any {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range q {
			if k != "so" && !yield(k) {
				return
			}
		}
	})
	if len(keys) == 0 {
		return nil
	}
	o := &amf.Object{}
	for _, k := range keys {
		o.Set(k, q.Get(k))
	}
	return []any{o}
}

// cleanName makes a display name from the name query parameter: control
// characters dropped, at most MaxNameLen runes.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n > MaxNameLen {
		s = string([]rune(s)[:MaxNameLen])
	}
	return s
}

// checkSOName validates a shared-object name from the so parameter.
func checkSOName(name string) error {
	if name == "" || len(name) > sharedobject.MaxNameLen || !utf8.ValidString(name) {
		return ErrBadSOName
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return ErrBadSOName
		}
	}
	return nil
}

// CloseCode returns the WebSocket close code and reason text for the error a
// connection is closed with (nil: a normal close).
func CloseCode(err error) (int, string) {
	var rej *scope.RejectError
	switch {
	case err == nil:
		return websocket.CloseNormalClosure, ""
	case errors.As(err, &rej):
		return 4403, "rejected: " + rej.Reason
	case errors.Is(err, scope.ErrInvalidApp):
		return 4404, "unknown application"
	case errors.Is(err, scope.ErrBadPath):
		return 4400, "bad scope path"
	case errors.Is(err, ErrBadSOName):
		return 4400, "bad shared object name"
	case errors.Is(err, sharedobject.ErrNoReadAccess):
		return 4403, "no read access to the shared object"
	case errors.Is(err, sharedobject.ErrBadPersistence):
		return 4409, "shared object is persistent"
	case errors.Is(err, scope.ErrShutdown), errors.Is(err, ErrShuttingDown):
		return websocket.CloseGoingAway, "server shutting down"
	case errors.Is(err, ErrInvalidJSON):
		return websocket.CloseInvalidFramePayloadData, "invalid JSON"
	case errors.Is(err, ErrBinary):
		return websocket.CloseUnsupportedData, "binary frames not supported"
	case errors.Is(err, ErrTooBig):
		return websocket.CloseMessageTooBig, "frame too big"
	case errors.Is(err, ErrRateLimit):
		return 4429, "rate limit exceeded"
	case errors.Is(err, ErrQueueFull):
		return 4408, "too slow: output queue full"
	case errors.Is(err, ErrTimeout):
		return 4408, "timed out"
	case errors.Is(err, scope.ErrPanic):
		return websocket.CloseInternalServerErr, "internal error"
	}
	return 4000, err.Error()
}
