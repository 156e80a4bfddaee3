package admin

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
)

// Defaults for zero Options fields.
const (
	DefaultSampleInterval = time.Second
	DefaultHistory        = 60 // samples kept per stream for sparklines
	DefaultRateWindow     = 5  // samples averaged into a stream's bitrate
)

// Transport describes the counters of a transport whose connections are
// scope connections the rtmp server does not own (HTTP-FLV, …). Its
// connections are counted by walking the scope tree; these functions add what
// the tree cannot tell. Nil functions count nothing.
type Transport struct {
	Protocol string        // the label value, e.g. "http-flv"
	Opened   func() uint64 // connections served since the start
	BytesIn  func() uint64 // bytes received from clients
	BytesOut func() uint64 // bytes sent to clients
}

// AuthSource is an authorizer whose counters /metrics exports
// (cmd/scopecast adapts internal/auth's Authorizer to it).
type AuthSource interface {
	AuthStats() AuthStats
}

// AuthStats are an authorizer's counters. The label values must come from
// small fixed sets: actions "connect", "publish", "play"; By "rule" or
// "hook"; the five hook names.
type AuthStats struct {
	Refusals    []AuthRefusals // refusals by action and by who refused
	Hooks       []HookStats    // requests by hook
	DoneDropped uint64         // done notifications dropped (queue full)
}

// AuthRefusals counts the refusals of one action by the rules or by a hook.
type AuthRefusals struct {
	Action string // "connect", "publish", "play"
	By     string // "rule" or "hook"
	N      uint64
}

// HookStats counts the requests of one hook.
type HookStats struct {
	Hook          string // "on_connect", "on_publish", "on_play", "on_unpublish", "on_record_done"
	Calls, Errors uint64
}

// Options configure a Handler.
type Options struct {
	Server     *rtmp.Server       // required
	RTMPT      *rtmp.RTMPTHandler // optional
	Scopes     *scope.Global      // required
	Transports []Transport        // optional: other transports' counters
	Auth       AuthSource         // optional: the authorizer's counters
	// PerStreamLabels adds per-stream series (labels scope and stream) to
	// /metrics: players, received bytes and bitrate. Off by default: one
	// series per stream name is unbounded cardinality.
	PerStreamLabels bool
	SampleInterval  time.Duration // how often streams are sampled (default 1 s)
	History         int           // samples kept per stream (default 60)
	RateWindow      int           // samples averaged into a bitrate (default 5)
	Logger          *slog.Logger  // nil: slog.Default()
}

// Handler serves the admin listener. Make one with New; Close stops its
// sampler.
type Handler struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	sampler *sampler

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

//go:embed web
var webFS embed.FS

// New returns a handler for opts and starts its sampler. It panics if
// opts.Server or opts.Scopes is nil (a programmer error).
func New(opts Options) *Handler {
	if opts.Server == nil || opts.Scopes == nil {
		panic("admin: Options.Server and Options.Scopes are required")
	}
	if opts.SampleInterval <= 0 {
		opts.SampleInterval = DefaultSampleInterval
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = DefaultRateWindow
	}
	h := &Handler{opts: opts, log: opts.Logger, stop: make(chan struct{})}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.sampler = newSampler(opts)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(newCollector(h))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	h.routes(mux)
	web, _ := fs.Sub(webFS, "web")
	mux.Handle("/", noCache(http.FileServerFS(web))) // any method: "/api/" must not conflict
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	h.mux = mux

	h.sampler.sample(time.Now())
	h.wg.Add(1)
	go h.run()
	return h
}

// run samples the streams until Close.
func (h *Handler) run() {
	defer h.wg.Done()
	t := time.NewTicker(h.opts.SampleInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-t.C:
			h.sampler.sample(now)
		}
	}
}

// Close stops the sampler and waits for it. The handler still serves
// afterwards, with bitrates no longer updated. Close is idempotent.
func (h *Handler) Close() error {
	h.closeOnce.Do(func() { close(h.stop) })
	h.wg.Wait()
	return nil
}

// ServeHTTP serves the admin endpoints. Requests that change something are
// refused (403) when a browser sends them from another origin.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

// sameOrigin reports whether r carries no Origin (a non-browser client) or one
// whose host is the request's host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin" || r.Header.Get("Sec-Fetch-Site") == "none"
	}
	for _, scheme := range []string{"http://", "https://"} {
		if o == scheme+r.Host {
			return true
		}
	}
	return false
}

func noCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
		next.ServeHTTP(w, r)
	})
}
