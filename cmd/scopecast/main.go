// Command scopecast runs the scopecast media server: RTMP on :1935, the public
// HTTP listener on :5080 and the admin listener (Prometheus metrics, JSON API,
// pprof) on 127.0.0.1:5081. It needs no configuration file: the built-in
// defaults are internal/config/defaults.yaml, and a -config file, SCOPECAST_*
// environment variables and flags override them in that order. SIGHUP
// reloads the authentication rules, hooks and log level.
//
//	go run ./cmd/scopecast
//	go run ./cmd/scopecast -rtmp :1936 -http :8080 -admin 127.0.0.1:9090 -log-format json
//	go run ./cmd/scopecast -config scopecast.yaml -print-config
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/scopecast/scopecast/apps/chat"
	"github.com/scopecast/scopecast/apps/live"
	"github.com/scopecast/scopecast/internal/auth"
	"github.com/scopecast/scopecast/internal/config"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
	"github.com/scopecast/scopecast/stream/flv"
	"github.com/scopecast/scopecast/stream/httpflv"
	"github.com/scopecast/scopecast/wsbridge"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		if isHelp(err) {
			return
		}
		fmt.Fprintln(os.Stderr, "scopecast:", err)
		os.Exit(1)
	}
}

// listeners are the bound addresses, reported to ready (tests use port 0).
type listeners struct {
	RTMP, RTMPS, HTTP, Admin net.Addr
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

// printOut receives -print-config's output.
var printOut io.Writer = os.Stdout

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, logw io.Writer, ready func(listeners)) error {
	opts, err := parseArgs(args, logw, os.Environ())
	if err != nil {
		return err
	}
	cfg, err := opts.load()
	if err != nil {
		return err
	}
	if opts.print {
		out, err := cfg.YAML()
		if err != nil {
			return err
		}
		_, err = printOut.Write(out)
		return err
	}
	var cert atomic.Pointer[tls.Certificate]
	if cfg.RTMPS.Listen != "" {
		c, err := loadCert(cfg)
		if err != nil {
			return err
		}
		cert.Store(c)
	}
	log, level := newLogger(cfg, logw)
	if u := config.UnknownEnv(opts.env); len(u) > 0 {
		log.Debug("environment variables that set no configuration key", "names", u)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := sharedobject.OpenBolt(filepath.Join(cfg.DataDir, "sharedobjects.db"))
	if err != nil {
		return err // names the file; a damaged store stops the start, it is never silently replaced
	}
	defer store.Close()
	scopes := scope.New(scope.Options{KeepDelay: cfg.KeepDelay, Logger: log, SharedObjects: store,
		SharedObjectMergeWindow: cfg.SharedObjects.MergeWindow})
	// Every application meets the auth rules, whatever the transport.
	authz := auth.New(authPolicy(cfg.Auth), auth.Options{Logger: log, Queue: cfg.Auth.Hooks.Queue})
	defer func() {
		actx, cancel := context.WithTimeout(context.Background(), cfg.Auth.Hooks.Timeout)
		defer cancel()
		if err := authz.Close(actx); err != nil {
			log.Warn("hook notifications left unsent at exit", "err", err)
		}
	}()
	chatApp := chat.New()
	chatApp.Presence = true // the page shows who is in the room
	apps := map[string]scope.Handler{live.Name: live.New(), chat.Name: chatApp}
	for name, app := range apps {
		if err := scopes.Register(name, authz.Wrap(name, app)); err != nil {
			return err
		}
	}
	appNames := slices.Sorted(maps.Keys(apps))
	for _, app := range unknownApps(cfg.Auth, appNames) {
		log.Warn("auth rules for an application that does not exist", "app", app)
	}
	// Recordings live under <data>/streams; files a crash left unfinished are
	// repaired before anything records or plays.
	streamsDir := filepath.Join(cfg.DataDir, "streams")
	if err := os.MkdirAll(streamsDir, 0o755); err != nil {
		return fmt.Errorf("streams directory: %w", err)
	}
	repairRecordings(log, streamsDir)
	srv := &rtmp.Server{Scopes: scopes, Logger: log, MergeWindow: cfg.RTMP.MergeWindow, StreamsDir: streamsDir, RecordName: cfg.RecordName,
		OnRecordDone: func(info rtmp.RecordingInfo, err error) {
			authz.RecordDone(auth.Recording{Scope: info.Scope, Name: info.Name, File: info.Path,
				Bytes: info.Stats.Bytes, Duration: info.Stats.Duration, Err: err})
		}}
	rtmpt := &rtmp.RTMPTHandler{Server: srv}
	ws := &wsbridge.Handler{Scopes: scopes, Page: chat.Page(), Logger: log, MergeWindow: cfg.SharedObjects.MergeWindow,
		AllowedOrigins: allowedOrigins(cfg.HTTP.WSAllowedOrigins)}
	flvh := &httpflv.Handler{Scopes: scopes, Logger: log, MergeWindow: cfg.RTMP.MergeWindow,
		AllowedOrigins: allowedOrigins(cfg.HTTP.FLVAllowedOrigins)}

	// Every listener opens before any serves: when one cannot (its address
	// taken), those already open close and run returns with nothing left
	// running.
	var opened []net.Listener
	var listenErr error // the first failure: later listens are skipped
	listen := func(name, addr string) net.Listener {
		if addr == "" || listenErr != nil {
			return nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			listenErr = fmt.Errorf("%s listener: %w", name, err) // net's error names the address
			return nil
		}
		opened = append(opened, l)
		return l
	}
	rl, tl := listen("rtmp", cfg.RTMP.Listen), listen("rtmps", cfg.RTMPS.Listen)
	hl, al := listen("http", cfg.HTTP.Listen), listen("admin", cfg.Admin.Listen)
	if listenErr != nil {
		for _, l := range opened {
			l.Close()
		}
		return listenErr
	}

	var ls listeners
	ls.RTMP = rl.Addr()
	errc := make(chan error, 4)
	go func() { errc <- srv.Serve(rl) }()
	if tl != nil {
		ls.RTMPS = tl.Addr()
		tcfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.Load(), nil }}
		go func() { errc <- srv.ServeTLS(tl, tcfg) }()
	}
	var servers []*http.Server
	if hl != nil {
		ls.HTTP = hl.Addr()
		hs := &http.Server{Handler: publicHandler(rtmpt, ws, flvh), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		servers = append(servers, hs)
		go func() { errc <- hs.Serve(hl) }()
	}
	if al != nil {
		ls.Admin = al.Addr()
		ah := adminHandler(srv, rtmpt, scopes, authz, ws, flvh)
		defer ah.Close() // stops its sampler
		as := &http.Server{Handler: ah, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, as)
		go func() { errc <- as.Serve(al) }()
	}
	log.Info("scopecast listening", "rtmp", addrString(ls.RTMP), "rtmps", addrString(ls.RTMPS), "http", addrString(ls.HTTP),
		"admin", addrString(ls.Admin), "data", cfg.DataDir, "config", opts.file)

	// SIGHUP reloads the auth rules, hooks, log level and certificate.
	rel := &reloader{opts: opts, log: log, level: level, authz: authz, apps: appNames, cur: cfg}
	if cfg.RTMPS.Listen != "" {
		rel.cert = &cert
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloadDone := make(chan struct{})
	stopReload := make(chan struct{})
	go func() {
		defer close(reloadDone)
		for {
			select {
			case <-hup:
				rel.reload()
			case <-stopReload:
				return
			}
		}
	}()
	defer func() {
		close(stopReload)
		<-reloadDone
	}()
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
	wg.Add(3)
	go func() {
		defer wg.Done()
		rtmpt.Shutdown(sctx) // ends RTMPT sessions' blocked writes at once
	}()
	go func() {
		defer wg.Done()
		flvh.Shutdown(sctx) // HTTP-FLV responses are hijacked, WebSocket-FLV upgraded
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
