package main

import (
	"crypto/tls"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/scopecast/scopecast/internal/auth"
	"github.com/scopecast/scopecast/internal/config"
)

// reloader applies a new configuration on SIGHUP: the auth section (rules
// and hooks), the log level and the RTMPS certificate change at once, without
// touching connections or streams; other changes are logged as needing a
// restart. A configuration that does not load or validate changes nothing.
type reloader struct {
	opts  options
	log   *slog.Logger
	level *slog.LevelVar
	authz *auth.Authorizer
	cert  *atomic.Pointer[tls.Certificate] // nil without RTMPS
	apps  []string                         // registered applications

	mu  sync.Mutex
	cur *config.Config // what runs: the start-up values with the reloaded keys applied
}

// reload re-reads the file and the environment (the flags still apply over
// them) and applies what can change while running.
func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.opts
	o.env = os.Environ()
	cfg, err := o.load()
	// The running RTMPS listener takes the certificate the file names, even
	// while a change of rtmps.listen waits for a restart.
	certLoaded := false
	if err == nil && r.cert != nil && cfg.RTMPS.Listen != "" {
		var cert *tls.Certificate
		if cert, err = loadCert(cfg); err == nil {
			r.cert.Store(cert) // renewed certificates apply to the next handshakes
			certLoaded = true
		}
	}
	if err != nil {
		r.log.Error("reload failed: the configuration in force is kept", "file", o.file, "err", err)
		return err
	}
	// What runs from now on: the keys applied here take the new values, all
	// others keep the running ones, so that a key needing a restart is
	// reported again by every reload until the restart.
	next := r.cur.Clone()
	next.Auth = cfg.Auth.Clone()
	next.Auth.Hooks.Queue = r.cur.Auth.Hooks.Queue // the queue is sized at start
	next.Log.Level = cfg.Log.Level
	if certLoaded {
		next.RTMPS.Cert, next.RTMPS.Key = cfg.RTMPS.Cert, cfg.RTMPS.Key
	}
	applied := config.Diff(r.cur, next)
	restart := config.Diff(next, cfg)
	r.authz.SetPolicy(authPolicy(cfg.Auth))
	setLevel(r.level, cfg.Log.Level)
	for _, app := range unknownApps(cfg.Auth, r.apps) {
		r.log.Warn("auth rules for an application that does not exist", "app", app)
	}
	r.log.Info("configuration reloaded", "file", o.file, "changed", applied, "needs_restart", restart)
	r.cur = next
	return nil
}
