package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/scopecast/scopecast/internal/auth"
	"github.com/scopecast/scopecast/internal/config"
)

// flagKeys are the command-line flags that set a configuration key.
var flagKeys = []struct{ flag, key, usage string }{
	{"rtmp", "rtmp.listen", "RTMP listen address"},
	{"rtmps", "rtmps.listen", "RTMPS (RTMP over TLS) listen address (empty: off; needs -rtmps-cert and -rtmps-key)"},
	{"rtmps-cert", "rtmps.cert", "RTMPS certificate chain, PEM file"},
	{"rtmps-key", "rtmps.key", "RTMPS private key, PEM file"},
	{"http", "http.listen", "public HTTP listen address: RTMPT, WebSocket, pages (empty: off)"},
	{"admin", "admin.listen", "admin HTTP listen address: /metrics, /api, /debug/pprof (empty: off)"},
	{"data", "data_dir", "data directory"},
	{"log-level", "log.level", "log level: debug, info, warn, error"},
	{"log-format", "log.format", "log format: text or json"},
	{"keep-delay", "keep_delay", "how long an empty room lingers before it is removed"},
	{"shutdown-grace", "shutdown_grace", "how long shutdown waits for connections to close"},
	{"merge-window", "rtmp.merge_window", "how long a player's media may wait so that one write carries several frames (negative: write at once)"},
	{"record-name", "record_name", "recording file name template: {name}, {date}, {time}, {unix} (\".flv\" added)"},
}

// options are the command line: where the configuration comes from.
type options struct {
	file     string // -config, or $SCOPECAST_CONFIG
	print    bool   // -print-config
	env      []string
	settings []config.Setting
}

// setFlag collects repeated -set key=value flags.
type setFlag struct{ settings *[]config.Setting }

func (s setFlag) String() string { return "" }

func (s setFlag) Set(v string) error {
	key, value, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return fmt.Errorf("%q is not key=value", v)
	}
	*s.settings = append(*s.settings, config.Setting{Key: key, Value: value, Source: "-set " + key})
	return nil
}

// parseArgs reads the command line; env is the process environment.
func parseArgs(args []string, stderr io.Writer, env []string) (options, error) {
	o := options{env: env}
	def := defaultStrings()
	fs := flag.NewFlagSet("scopecast", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: scopecast [flags]\n\n"+
			"Configuration: built-in defaults < -config file < SCOPECAST_* environment < flags.\n"+
			"scopecast -print-config prints the effective configuration (a YAML file).\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.file, "config", "", "YAML configuration file (default $"+config.EnvFile+"; none: built-in defaults)")
	fs.BoolVar(&o.print, "print-config", false, "print the effective configuration as YAML and exit")
	fs.Var(setFlag{&o.settings}, "set", "set any configuration key, key=value (repeatable; lists comma-separated), e.g. -set auth.apps.live.publish.keys=secret")
	vals := make(map[string]*string, len(flagKeys))
	for _, f := range flagKeys {
		vals[f.flag] = fs.String(f.flag, def[f.key], f.usage+" ("+f.key+")")
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.file == "" {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, config.EnvFile+"="); ok {
				o.file = v
			}
		}
	}
	// Flags override -set, which comes first; both apply over file and env.
	var flagSettings []config.Setting
	fs.Visit(func(f *flag.Flag) {
		for _, fk := range flagKeys {
			if fk.flag == f.Name {
				flagSettings = append(flagSettings, config.Setting{Key: fk.key, Value: *vals[f.Name], Source: "flag -" + f.Name})
			}
		}
	})
	o.settings = append(o.settings, flagSettings...)
	return o, nil
}

// defaultStrings are the defaults of the flags' keys as text.
func defaultStrings() map[string]string {
	c := config.Default()
	return map[string]string{
		"rtmp.listen": c.RTMP.Listen, "rtmps.listen": c.RTMPS.Listen, "rtmps.cert": c.RTMPS.Cert, "rtmps.key": c.RTMPS.Key,
		"http.listen": c.HTTP.Listen, "admin.listen": c.Admin.Listen, "data_dir": c.DataDir,
		"log.level": c.Log.Level, "log.format": c.Log.Format, "keep_delay": c.KeepDelay.String(),
		"shutdown_grace": c.ShutdownGrace.String(), "rtmp.merge_window": c.RTMP.MergeWindow.String(), "record_name": c.RecordName,
	}
}

func (o options) load() (*config.Config, error) {
	return config.Load(config.Sources{File: o.file, Env: o.env, Settings: o.settings})
}

// newLogger makes the process logger; level can be changed later (SIGHUP).
func newLogger(cfg *config.Config, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	setLevel(level, cfg.Log.Level)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}

func setLevel(v *slog.LevelVar, s string) {
	var l slog.Level
	if l.UnmarshalText([]byte(s)) == nil { // validated
		v.Set(l)
	}
}

// authPolicy turns the validated auth section into the authorizer's rules.
func authPolicy(a config.Auth) auth.Policy {
	hooks := func(h config.AppHooks) auth.Hooks {
		return auth.Hooks{OnConnect: h.OnConnect, OnPublish: h.OnPublish, OnPlay: h.OnPlay,
			OnUnpublish: h.OnUnpublish, OnRecordDone: h.OnRecordDone, Timeout: h.Timeout}
	}
	g := a.Hooks
	p := auth.Policy{Hooks: hooks(config.AppHooks{OnConnect: g.OnConnect, OnPublish: g.OnPublish, OnPlay: g.OnPlay,
		OnUnpublish: g.OnUnpublish, OnRecordDone: g.OnRecordDone, Timeout: g.Timeout})}
	prefixes := func(l []string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range l {
			if p, err := config.ParsePrefix(s); err == nil { // validated
				out = append(out, p)
			}
		}
		return out
	}
	rule := func(r config.Rule) auth.Rule {
		return auth.Rule{Keys: slices.Clone(r.Keys), Allow: prefixes(r.Allow), Deny: prefixes(r.Deny)}
	}
	if len(a.Apps) > 0 {
		p.Apps = make(map[string]auth.App, len(a.Apps))
		for name, app := range a.Apps {
			p.Apps[name] = auth.App{Connect: rule(app.Connect), Publish: rule(app.Publish), Play: rule(app.Play), Hooks: hooks(app.Hooks)}
		}
	}
	return p
}

// unknownApps names the applications the auth rules mention that are not
// registered (a typo would otherwise leave an application open).
func unknownApps(a config.Auth, known []string) []string {
	var out []string
	for name := range a.Apps {
		if !slices.Contains(known, name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// loadCert loads the RTMPS key pair named by the configuration.
func loadCert(cfg *config.Config) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(cfg.RTMPS.Cert, cfg.RTMPS.Key)
	if err != nil {
		return nil, &config.Error{Key: "rtmps.cert", Msg: fmt.Sprintf("%q with rtmps.key %q: %v", cfg.RTMPS.Cert, cfg.RTMPS.Key, err)}
	}
	return &cert, nil
}

// allowedOrigins turns a validated origin list (http.flv_allowed_origins,
// http.ws_allowed_origins) into a handler's AllowedOrigins: an empty list is
// nil, the handler's default.
func allowedOrigins(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return append([]string(nil), l...)
}

// isHelp reports whether err is the -h/-help request.
func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
