package main

import (
	"crypto/tls"
	"log/slog"
	"os"
	"strings"
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
	cur *config.Config
}

// reload re-reads the file and the environment (the flags still apply over
// them) and applies what can change while running.
func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.opts
	o.env = os.Environ()
	cfg, err := o.load()
	if err == nil && r.cert != nil && cfg.RTMPS.Listen == r.cur.RTMPS.Listen {
		var cert *tls.Certificate
		if cert, err = loadCert(cfg); err == nil {
			r.cert.Store(cert) // renewed certificates apply to the next handshakes
		}
	}
	if err != nil {
		r.log.Error("reload failed: the configuration in force is kept", "file", o.file, "err", err)
		return err
	}
	var applied, restart []string
	for _, k := range config.Diff(r.cur, cfg) {
		switch {
		case k == "auth.hooks.queue":
			restart = append(restart, k)
		case strings.HasPrefix(k, "auth.") || k == "log.level":
			applied = append(applied, k)
		case k == "rtmps.cert" || k == "rtmps.key":
			if r.cert != nil {
				applied = append(applied, k)
			} else {
				restart = append(restart, k)
			}
		default:
			restart = append(restart, k)
		}
	}
	r.authz.SetPolicy(authPolicy(cfg.Auth))
	setLevel(r.level, cfg.Log.Level)
	for _, app := range unknownApps(cfg.Auth, r.apps) {
		r.log.Warn("auth rules for an application that does not exist", "app", app)
	}
	r.log.Info("configuration reloaded", "file", o.file, "changed", applied, "needs_restart", restart)
	r.cur = cfg
	return nil
}
