// Package config is scopecast's configuration: the Config struct, its
// embedded defaults (defaults.yaml, the documented sample file), loading in
// layers (defaults, then an optional YAML file, then SCOPECAST_* environment
// variables, then command-line settings), validation with errors that name
// the key and the bad value, and printing the effective configuration as YAML.
//
// Keys are paths of YAML keys joined by dots: "rtmp.listen",
// "auth.hooks.on_publish", "auth.apps.live.publish.keys". The environment
// variable of a key is SCOPECAST_ and the path in capitals with "_" for both
// "." and "_" (SCOPECAST_RTMP_LISTEN, SCOPECAST_AUTH_APPS_LIVE_PUBLISH_KEYS);
// application names are matched in lower case. List values given as one
// string (environment, flags) are comma-separated.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// EnvPrefix starts the name of every environment variable that sets a key.
const EnvPrefix = "SCOPECAST_"

// EnvFile is the environment variable that names a configuration file when
// no file is given on the command line.
const EnvFile = "SCOPECAST_CONFIG"

// ErrInvalid is wrapped by every error about a configuration value or key.
var ErrInvalid = errors.New("config: invalid")

// Error is one bad key or value. Its text is "config: <key>: <problem>",
// followed by where the value came from when that is a file line or an
// environment variable.
type Error struct {
	Key    string // the key path, e.g. "auth.apps.live.publish.allow[1]"
	Msg    string // the problem, quoting the bad value
	Source string // "file.yaml line 12", "SCOPECAST_RTMP_LISTEN", "flag -rtmp", or ""
}

func (e *Error) Error() string {
	s := "config: " + e.Key + ": " + e.Msg
	if e.Source != "" {
		s += " (" + e.Source + ")"
	}
	return s
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// Config is the whole configuration. Its zero value is not valid: start
// from Default.
type Config struct {
	RTMP          RTMP          `yaml:"rtmp"`
	RTMPS         RTMPS         `yaml:"rtmps"`
	HTTP          HTTP          `yaml:"http"`
	Admin         Listener      `yaml:"admin"`
	DataDir       string        `yaml:"data_dir"`
	RecordName    string        `yaml:"record_name"`
	KeepDelay     time.Duration `yaml:"keep_delay"`
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	SharedObjects SharedObjects `yaml:"shared_objects"`
	Log           Log           `yaml:"log"`
	Auth          Auth          `yaml:"auth"`
}

// SharedObjects configures shared-object delivery (RTMP and WebSocket).
type SharedObjects struct {
	// MergeWindow: a busy shared object's batches that come within this
	// long after its last fan-out wait for the window's end and go out
	// together (sharedobject.Options.MergeWindow), and a WebSocket client's
	// writes are merged the same way; negative: at once.
	MergeWindow time.Duration `yaml:"merge_window"`
}

// RTMP is the plain RTMP listener.
type RTMP struct {
	Listen      string        `yaml:"listen"`
	MergeWindow time.Duration `yaml:"merge_window"`
}

// RTMPS is the RTMP-over-TLS listener: off while Listen is empty.
type RTMPS struct {
	Listen string `yaml:"listen"`
	Cert   string `yaml:"cert"`
	Key    string `yaml:"key"`
}

// Listener is an HTTP listener: off while Listen is empty.
type Listener struct {
	Listen string `yaml:"listen"`
}

// HTTP is the public HTTP listener (off while Listen is empty) and the
// browser origins its WebSocket and FLV endpoints admit. An origin entry is
// "*" (any), a full origin ("https://example.com", "http://host:8080") or a
// host with its port if not the default ("example.com", "example.com:8443",
// either scheme). Pages of the server itself, and clients that send no
// Origin header (not browsers), are always allowed.
type HTTP struct {
	Listen string `yaml:"listen"`
	// FLVAllowedOrigins: the origins that may play HTTP-FLV and
	// WebSocket-FLV; empty: any origin.
	FLVAllowedOrigins []string `yaml:"flv_allowed_origins"`
	// WSAllowedOrigins: the origins that may open the WebSocket bridge
	// (chat); empty: localhost, 127.0.0.1 and [::1] on any port.
	WSAllowedOrigins []string `yaml:"ws_allowed_origins"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error (slog.Level text)
	Format string `yaml:"format"` // text or json
}

// Auth holds the authentication rules and hooks; SIGHUP reloads it.
type Auth struct {
	Hooks Hooks              `yaml:"hooks"`
	Apps  map[string]AppAuth `yaml:"apps"`
}

// Hooks are the global HTTP hooks: URLs (empty: none), the timeout of one
// call and the length of the queue of "done" notifications.
type Hooks struct {
	OnConnect    string        `yaml:"on_connect"`
	OnPublish    string        `yaml:"on_publish"`
	OnPlay       string        `yaml:"on_play"`
	OnUnpublish  string        `yaml:"on_unpublish"`
	OnRecordDone string        `yaml:"on_record_done"`
	Timeout      time.Duration `yaml:"timeout"`
	Queue        int           `yaml:"queue"`
}

// AppHooks are an application's own hooks: each URL set, and the timeout if
// not zero, replaces the global one for that application.
type AppHooks struct {
	OnConnect    string        `yaml:"on_connect,omitempty"`
	OnPublish    string        `yaml:"on_publish,omitempty"`
	OnPlay       string        `yaml:"on_play,omitempty"`
	OnUnpublish  string        `yaml:"on_unpublish,omitempty"`
	OnRecordDone string        `yaml:"on_record_done,omitempty"`
	Timeout      time.Duration `yaml:"timeout,omitempty"`
}

// AppAuth are the rules of one application.
type AppAuth struct {
	Connect Rule     `yaml:"connect,omitempty"`
	Publish Rule     `yaml:"publish,omitempty"`
	Play    Rule     `yaml:"play,omitempty"`
	Hooks   AppHooks `yaml:"hooks,omitempty"`
}

// Rule is one access rule: the keys a client must give one of (none: no key
// needed), and client address prefixes allowed (none: any) and denied.
type Rule struct {
	Keys  []string `yaml:"keys,omitempty"`
	Allow []string `yaml:"allow,omitempty"`
	Deny  []string `yaml:"deny,omitempty"`
}

// DefaultsYAML returns the embedded defaults file: the documented sample
// configuration.
func DefaultsYAML() []byte { return append([]byte(nil), defaultsYAML...) }

// Default returns the built-in configuration (defaults.yaml).
func Default() *Config {
	c := &Config{}
	if err := c.decode(defaultsYAML, "defaults.yaml"); err != nil {
		panic("config: embedded defaults: " + err.Error())
	}
	return c
}

// Setting is one key set from outside a file: a flag or an explicit setting.
type Setting struct {
	Key    string // key path, e.g. "rtmp.listen"
	Value  string // lists comma-separated
	Source string // for messages, e.g. "flag -rtmp"
}

// Sources are the layers over the defaults, applied in this order.
type Sources struct {
	File     string   // YAML file; "" for none
	Env      []string // "NAME=value" entries as os.Environ returns them; SCOPECAST_* ones apply
	Settings []Setting
}

// Load builds the effective configuration: defaults, then the file, then the
// environment, then the settings, and validates it. Every problem found is
// reported (errors.Join of *Error values, each wrapping ErrInvalid); an
// unreadable file is reported as it is.
func Load(src Sources) (*Config, error) {
	c := Default()
	origin := map[string]string{} // key → where its value came from, for messages
	if src.File != "" {
		data, err := os.ReadFile(src.File)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if len(data) > MaxFileSize {
			return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrInvalid, src.File, MaxFileSize)
		}
		if err := c.decodeFrom(data, src.File, origin); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, kv := range src.Env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || name == EnvFile {
			continue
		}
		key, ok := EnvKey(name)
		if !ok {
			continue // not a key: SCOPECAST_TEST_LOG and the like belong to others
		}
		if err := c.set(key, value, name); err != nil {
			errs = append(errs, err)
		}
		origin[key] = name
	}
	for _, s := range src.Settings {
		if err := c.set(s.Key, s.Value, s.Source); err != nil {
			errs = append(errs, err)
		}
		origin[s.Key] = s.Source
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := c.Validate(); err != nil {
		// Name where each bad value came from (a list element: its list).
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				var ce *Error
				if errors.As(e, &ce) && ce.Source == "" {
					k := ce.Key
					if src, ok := origin[k]; ok {
						ce.Source = src
					} else if i := strings.LastIndexByte(k, '['); i > 0 {
						ce.Source = origin[k[:i]]
					}
				}
			}
		}
		return nil, err
	}
	return c, nil
}

// UnknownEnv returns the SCOPECAST_* variables of env that set no key (a
// typo, or a variable meant for something else), sorted.
func UnknownEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || name == EnvFile {
			continue
		}
		if _, ok := EnvKey(name); !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Set sets one key from its text form (durations as "5s", lists
// comma-separated), without validating the result.
func (c *Config) Set(key, value string) error { return c.set(key, value, "") }

// YAML returns the configuration as YAML that Load reads back to the same
// configuration.
func (c *Config) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return b.Bytes(), nil
}

// Clone returns a deep copy.
func (c *Config) Clone() *Config {
	n := *c
	n.HTTP.FLVAllowedOrigins = slices.Clone(c.HTTP.FLVAllowedOrigins)
	n.HTTP.WSAllowedOrigins = slices.Clone(c.HTTP.WSAllowedOrigins)
	n.Auth = c.Auth.Clone()
	return &n
}

// Clone returns a deep copy.
func (a Auth) Clone() Auth {
	n := a
	if a.Apps != nil {
		n.Apps = make(map[string]AppAuth, len(a.Apps))
		for k, v := range a.Apps {
			v.Connect = v.Connect.clone()
			v.Publish = v.Publish.clone()
			v.Play = v.Play.clone()
			n.Apps[k] = v
		}
	}
	return n
}

func (r Rule) clone() Rule {
	return Rule{Keys: slices.Clone(r.Keys), Allow: slices.Clone(r.Allow), Deny: slices.Clone(r.Deny)}
}

// Diff lists the keys whose values differ between a and b, sorted (list
// and map values are compared whole: "auth.apps.live.publish.keys").
func Diff(a, b *Config) []string {
	var out []string
	diffValue(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), "", &out)
	sort.Strings(out)
	return out
}

func diffValue(a, b reflect.Value, path string, out *[]string) {
	switch a.Kind() {
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			diffValue(a.Field(i), b.Field(i), join(path, tagName(a.Type().Field(i))), out)
		}
	case reflect.Map:
		keys := map[string]bool{}
		for _, k := range a.MapKeys() {
			keys[k.String()] = true
		}
		for _, k := range b.MapKeys() {
			keys[k.String()] = true
		}
		for k := range keys {
			av, bv := a.MapIndex(reflect.ValueOf(k)), b.MapIndex(reflect.ValueOf(k))
			switch {
			case !av.IsValid() || !bv.IsValid():
				*out = append(*out, join(path, k))
			default:
				diffValue(av, bv, join(path, k), out)
			}
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			// nil and empty lists are the same setting
			if a.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
				return
			}
			*out = append(*out, path)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// decode applies a YAML document over c. Unknown keys and values of the
// wrong kind are errors naming the key, the value and the line.
func (c *Config) decode(data []byte, file string) error {
	return c.decodeFrom(data, file, nil)
}

// decodeFrom is decode that records in origin ("file line N") the keys of
// the values it set (when origin is not nil).
func (c *Config) decodeFrom(data []byte, file string, origin map[string]string) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, file, err)
	}
	if doc.Kind == 0 { // empty file
		return nil
	}
	var errs []error
	aliases := 0
	d := decoder{file: file, errs: &errs, origin: origin, aliases: &aliases}
	d.node(&doc, reflect.ValueOf(c).Elem(), "")
	return errors.Join(errs...)
}

type decoder struct {
	file    string
	errs    *[]error
	origin  map[string]string
	aliases *int // alias dereferences so far, bounded by maxAliases
}

// maxAliases bounds the alias dereferences of one document, so that nested
// aliases cannot make decoding explode.
const maxAliases = 100

// maxErrors bounds the problems reported for one document.
const maxErrors = 50

// MaxFileSize bounds a configuration file.
const MaxFileSize = 1 << 20

func (d decoder) set(n *yaml.Node, key string) {
	if d.origin != nil {
		d.origin[key] = fmt.Sprintf("%s line %d", d.file, n.Line)
	}
}

func (d decoder) fail(n *yaml.Node, key, msg string) {
	switch {
	case len(*d.errs) < maxErrors:
		*d.errs = append(*d.errs, &Error{Key: key, Msg: msg, Source: fmt.Sprintf("%s line %d", d.file, n.Line)})
	case len(*d.errs) == maxErrors:
		*d.errs = append(*d.errs, fmt.Errorf("%w: %s: more problems not shown", ErrInvalid, d.file))
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (d decoder) node(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		if n.Kind == yaml.DocumentNode {
			if len(n.Content) == 0 {
				return
			}
			n = n.Content[0]
		} else {
			if *d.aliases++; *d.aliases > maxAliases {
				if *d.aliases == maxAliases+1 {
					d.fail(n, path, fmt.Sprintf("more than %d aliases", maxAliases))
				}
				return
			}
			n = n.Alias
		}
	}
	key := path
	if key == "" {
		key = "(top level)"
	}
	switch {
	case v.Kind() == reflect.Struct:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, key, "must be a mapping of keys")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(v, k.Value)
			if !ok {
				d.fail(k, join(path, k.Value), "unknown key"+suggest(v.Type()))
				continue
			}
			d.node(val, f, join(path, k.Value))
		}
	case v.Kind() == reflect.Map:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, key, "must be a mapping of names")
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			elem := reflect.New(v.Type().Elem()).Elem()
			if old := v.MapIndex(reflect.ValueOf(k.Value)); old.IsValid() {
				elem.Set(old)
			}
			d.node(val, elem, join(path, k.Value))
			v.SetMapIndex(reflect.ValueOf(k.Value), elem)
		}
	case v.Kind() == reflect.Slice:
		d.set(n, key)
		switch {
		case isNull(n):
			v.SetZero()
		case n.Kind == yaml.ScalarNode: // a single value
			v.Set(reflect.ValueOf([]string{n.Value}))
		case n.Kind == yaml.SequenceNode:
			l := make([]string, 0, len(n.Content))
			for i, e := range n.Content {
				if e.Kind != yaml.ScalarNode || isNull(e) {
					d.fail(e, fmt.Sprintf("%s[%d]", key, i), "must be a string")
					continue
				}
				d.set(e, fmt.Sprintf("%s[%d]", key, i))
				l = append(l, e.Value)
			}
			v.Set(reflect.ValueOf(l))
		default:
			d.fail(n, key, "must be a list")
		}
	default:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, key, "must be a single value, not a list or mapping")
			return
		}
		d.set(n, key)
		s := n.Value
		if isNull(n) {
			s = ""
			if v.Kind() != reflect.String {
				v.SetZero()
				return
			}
		}
		if msg := setScalar(v, s); msg != "" {
			d.fail(n, key, msg)
		}
	}
}

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if tagName(t.Field(i)) == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// suggest names the known keys of a struct type, for "unknown key" errors.
func suggest(t reflect.Type) string {
	names := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		names = append(names, tagName(t.Field(i)))
	}
	return " (known: " + strings.Join(names, ", ") + ")"
}

// setScalar sets a leaf from text; it returns the problem, or "".
func setScalar(v reflect.Value, s string) string {
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Sprintf("%q is not a duration (e.g. 5s, 250ms, 1m30s)", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Sprintf("%q is not a whole number", s)
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Sprintf("%q is not true or false", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Slice:
		var l []string
		for _, e := range strings.Split(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				l = append(l, e)
			}
		}
		v.Set(reflect.ValueOf(l))
	default:
		panic("config: unsupported field type " + v.Type().String())
	}
	return ""
}

// set sets the key path to value. Map keys are created as needed.
func (c *Config) set(key, value, source string) error {
	parts := strings.Split(key, ".")
	if msg := setPath(reflect.ValueOf(c).Elem(), parts, value); msg != "" {
		return &Error{Key: key, Msg: msg, Source: source}
	}
	return nil
}

func setPath(v reflect.Value, parts []string, value string) string {
	if len(parts) == 0 {
		if isBranch(v.Type()) {
			return "is a section, not a value"
		}
		return setScalar(v, value)
	}
	switch {
	case v.Kind() == reflect.Struct:
		f, ok := fieldByTag(v, parts[0])
		if !ok {
			return "unknown key"
		}
		return setPath(f, parts[1:], value)
	case v.Kind() == reflect.Map:
		if parts[0] == "" {
			return "empty name"
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		if old := v.MapIndex(reflect.ValueOf(parts[0])); old.IsValid() {
			elem.Set(old)
		}
		if msg := setPath(elem, parts[1:], value); msg != "" {
			return msg
		}
		v.SetMapIndex(reflect.ValueOf(parts[0]), elem)
		return ""
	default:
		return "unknown key"
	}
}

func isBranch(t reflect.Type) bool {
	return t.Kind() == reflect.Map || t.Kind() == reflect.Struct
}

// EnvKey returns the key an environment variable sets
// (SCOPECAST_AUTH_HOOKS_ON_PUBLISH → auth.hooks.on_publish), or false if it
// names no key.
func EnvKey(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, EnvPrefix)
	if !ok || rest == "" {
		return "", false
	}
	path, ok := matchEnv(strings.Split(rest, "_"), reflect.TypeFor[Config]())
	if !ok {
		return "", false
	}
	return strings.Join(path, "."), true
}

func matchEnv(toks []string, t reflect.Type) ([]string, bool) {
	if len(toks) == 0 {
		return nil, !isBranch(t)
	}
	switch {
	case t.Kind() == reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			name := tagName(t.Field(i))
			ft := strings.Split(strings.ToUpper(name), "_")
			if len(ft) > len(toks) || !slices.Equal(ft, toks[:len(ft)]) {
				continue
			}
			if rest, ok := matchEnv(toks[len(ft):], t.Field(i).Type); ok {
				return append([]string{name}, rest...), true
			}
		}
	case t.Kind() == reflect.Map:
		for n := 1; n < len(toks); n++ {
			if rest, ok := matchEnv(toks[n:], t.Elem()); ok {
				return append([]string{strings.ToLower(strings.Join(toks[:n], "_"))}, rest...), true
			}
		}
	}
	return nil, false
}
