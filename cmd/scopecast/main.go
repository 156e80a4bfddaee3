// Command scopecast runs the scopecast media server: RTMP on :1935, the public
// HTTP listener on :5080 and the admin listener (Prometheus metrics, JSON API,
// pprof) on 127.0.0.1:5081. It needs no configuration file.
//
//	go run ./cmd/scopecast
//	go run ./cmd/scopecast -rtmp :1936 -http :8080 -admin 127.0.0.1:9090 -log-format json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/scopecast/scopecast/apps/chat"
	"github.com/scopecast/scopecast/apps/live"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
	"github.com/scopecast/scopecast/stream/flv"
	"github.com/scopecast/scopecast/wsbridge"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "scopecast:", err)
		os.Exit(1)
	}
}

// config is the effective configuration.
type config struct {
	RTMPAddr      string
	HTTPAddr      string
	AdminAddr     string
	DataDir       string
	LogLevel      string
	LogFormat     string
	KeepDelay     time.Duration
	ShutdownGrace time.Duration
	MergeWindow   time.Duration
	RecordName    string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("scopecast", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.RTMPAddr, "rtmp", ":1935", "RTMP listen address")
	fs.StringVar(&cfg.HTTPAddr, "http", ":5080", "public HTTP listen address (empty: off)")
	fs.StringVar(&cfg.AdminAddr, "admin", "127.0.0.1:5081", "admin HTTP listen address: /metrics, /api, /debug/pprof (empty: off)")
	fs.StringVar(&cfg.DataDir, "data", "./data", "data directory")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "log format: text or json")
	fs.DurationVar(&cfg.KeepDelay, "keep-delay", 5*time.Second, "how long an empty room lingers before it is removed")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 10*time.Second, "how long shutdown waits for connections to close")
	fs.StringVar(&cfg.RecordName, "record-name", "{name}", "recording file name template: {name}, {date}, {time}, {unix} (\".flv\" added)")
	fs.DurationVar(&cfg.MergeWindow, "merge-window", rtmp.DefaultMergeWindow, "how long a player's media may wait so that one write carries several frames (negative: write at once)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		return cfg, fmt.Errorf("-log-format: %q is not text or json", cfg.LogFormat)
	}
	return cfg, nil
}

func newLogger(cfg config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// listeners are the bound addresses, reported to ready (tests use port 0).
type listeners struct {
	RTMP, HTTP, Admin net.Addr
}

func addrString(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return a.String()
}

// repairRecordings runs flv.RepairDir on the streams directory and logs what
// it did to each file; a file it cannot repair is logged and left alone.
func repairRecordings(log *slog.Logger, dir string) {
	reports, _ := flv.RepairDir(dir)
	for _, r := range reports {
		if r.Err != nil {
			log.Error("recording left unrepaired", "file", r.Path, "err", r.Err)
			continue
		}
		log.Warn("recording repaired after a crash", "file", r.Path, "size", r.Size, "truncated", r.Truncated,
			"tags", r.Tags, "duration", r.Duration, "header_rewritten", r.HeaderRewritten, "metadata_patched", r.MetadataPatched)
	}
}

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, logw io.Writer, ready func(listeners)) error {
	cfg, err := parseFlags(args, logw)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, logw)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := sharedobject.OpenBolt(filepath.Join(cfg.DataDir, "sharedobjects.db"))
	if err != nil {
		return err // names the file; a damaged store stops the start, it is never silently replaced
	}
	defer store.Close()
	scopes := scope.New(scope.Options{KeepDelay: cfg.KeepDelay, Logger: log, SharedObjects: store})
	chatApp := chat.New()
	chatApp.Presence = true // the page shows who is in the room
	for name, app := range map[string]scope.Handler{live.Name: live.New(), chat.Name: chatApp} {
		if err := scopes.Register(name, app); err != nil {
			return err
		}
	}
	// Recordings live under <data>/streams; files a crash left unfinished are
	// repaired before anything records or plays.
	streamsDir := filepath.Join(cfg.DataDir, "streams")
	if err := os.MkdirAll(streamsDir, 0o755); err != nil {
		return fmt.Errorf("streams directory: %w", err)
	}
	repairRecordings(log, streamsDir)
	srv := &rtmp.Server{Scopes: scopes, Logger: log, MergeWindow: cfg.MergeWindow, StreamsDir: streamsDir, RecordName: cfg.RecordName}
	rtmpt := &rtmp.RTMPTHandler{Server: srv}
	ws := &wsbridge.Handler{Scopes: scopes, Page: chat.Page(), Logger: log}

	var ls listeners
	rl, err := net.Listen("tcp", cfg.RTMPAddr)
	if err != nil {
		return fmt.Errorf("rtmp listener: %w", err)
	}
	ls.RTMP = rl.Addr()
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(rl) }()
	var servers []*http.Server
	if cfg.HTTPAddr != "" {
		hl, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			rl.Close()
			return fmt.Errorf("http listener: %w", err)
		}
		ls.HTTP = hl.Addr()
		hs := &http.Server{Handler: publicHandler(rtmpt, ws), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		servers = append(servers, hs)
		go func() { errc <- hs.Serve(hl) }()
	}
	if cfg.AdminAddr != "" {
		al, err := net.Listen("tcp", cfg.AdminAddr)
		if err != nil {
			rl.Close()
			return fmt.Errorf("admin listener: %w", err)
		}
		ls.Admin = al.Addr()
		ah := adminHandler(srv, rtmpt, scopes)
		defer ah.Close() // stops its sampler
		as := &http.Server{Handler: ah, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, as)
		go func() { errc <- as.Serve(al) }()
	}
	log.Info("scopecast listening", "rtmp", addrString(ls.RTMP), "http", addrString(ls.HTTP), "admin", addrString(ls.Admin), "data", cfg.DataDir)
	if ready != nil {
		ready(ls)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	for _, hs := range servers {
		hs.Shutdown(sctx)
	}
	var wg sync.WaitGroup // the transports close alongside one another
	wg.Add(2)
	go func() {
		defer wg.Done()
		rtmpt.Shutdown(sctx) // ends RTMPT sessions' blocked writes at once
	}()
	go func() {
		defer wg.Done()
		ws.Shutdown(sctx) // WebSocket connections are hijacked: http.Server.Shutdown leaves them
	}()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("rtmp shutdown", "err", err)
	}
	wg.Wait()
	if err := scopes.Shutdown(sctx); err != nil {
		log.Warn("scope shutdown", "err", err)
	}
	if serveErr != nil && !errors.Is(serveErr, rtmp.ErrServerClosed) && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}
