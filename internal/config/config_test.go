package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "scopecast.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Config{
		RTMP:          RTMP{Listen: ":1935", MergeWindow: 50 * time.Millisecond},
		SharedObjects: SharedObjects{MergeWindow: 5 * time.Millisecond},
		HTTP:          HTTP{Listen: ":5080", FLVAllowedOrigins: []string{}, WSAllowedOrigins: []string{}},
		Admin:         Listener{Listen: "127.0.0.1:5081"},
		DataDir:       "./data",
		RecordName:    "{name}",
		KeepDelay:     5 * time.Second,
		ShutdownGrace: 10 * time.Second,
		Log:           Log{Level: "info", Format: "text"},
		Auth:          Auth{Hooks: Hooks{Timeout: 3 * time.Second, Queue: 256}, Apps: map[string]AppAuth{}},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", *c, want)
	}
}

// Each layer overrides the one below: defaults < file < environment < settings (flags).
func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
rtmp:
  listen: "127.0.0.1:2001"
http:
  listen: "127.0.0.1:3001"
  flv_allowed_origins: [https://file.example]
  ws_allowed_origins: [file.example]
admin:
  listen: "127.0.0.1:4001"
log:
  format: json
auth:
  apps:
    live:
      publish:
        keys: [fromfile]
        allow: [10.0.0.0/8]
`)
	env := []string{
		"SCOPECAST_HTTP_LISTEN=127.0.0.1:3002",
		"SCOPECAST_ADMIN_LISTEN=127.0.0.1:4002",
		"SCOPECAST_AUTH_APPS_LIVE_PUBLISH_KEYS=env1, env2",
		"SCOPECAST_AUTH_HOOKS_ON_PUBLISH=http://127.0.0.1:9/pub",
		"SCOPECAST_HTTP_FLV_ALLOWED_ORIGINS=https://env.example",
		"SCOPECAST_HTTP_WS_ALLOWED_ORIGINS=env.example:8443, localhost:3000",
		"SCOPECAST_TEST_LOG=1", // not a key: ignored
		"HOME=/root",
	}
	c, err := Load(Sources{File: file, Env: env, Settings: []Setting{
		{Key: "admin.listen", Value: "127.0.0.1:4003", Source: "flag -admin"},
		{Key: "http.flv_allowed_origins", Value: "https://flag.example,*", Source: "-set http.flv_allowed_origins"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct{ got, want any }{
		{c.RTMP.Listen, "127.0.0.1:2001"},  // file over default
		{c.HTTP.Listen, "127.0.0.1:3002"},  // env over file
		{c.Admin.Listen, "127.0.0.1:4003"}, // flag over env
		{c.Log.Format, "json"},             // file
		{c.Log.Level, "info"},              // default
		{c.Auth.Apps["live"].Publish.Keys, []string{"env1", "env2"}},
		{c.Auth.Apps["live"].Publish.Allow, []string{"10.0.0.0/8"}}, // env changed only keys
		{c.Auth.Hooks.OnPublish, "http://127.0.0.1:9/pub"},
		{c.Auth.Hooks.Timeout, 3 * time.Second},
		{c.HTTP.FLVAllowedOrigins, []string{"https://flag.example", "*"}},         // setting over env
		{c.HTTP.WSAllowedOrigins, []string{"env.example:8443", "localhost:3000"}}, // env over file
	} {
		if !reflect.DeepEqual(g.got, g.want) {
			t.Errorf("got %v, want %v", g.got, g.want)
		}
	}
	if u := UnknownEnv(env); !reflect.DeepEqual(u, []string{"SCOPECAST_TEST_LOG"}) {
		t.Errorf("UnknownEnv = %v", u)
	}
}

func TestEnvKey(t *testing.T) {
	for name, want := range map[string]string{
		"SCOPECAST_RTMP_LISTEN":                     "rtmp.listen",
		"SCOPECAST_RTMPS_CERT":                      "rtmps.cert",
		"SCOPECAST_RTMP_MERGE_WINDOW":               "rtmp.merge_window",
		"SCOPECAST_DATA_DIR":                        "data_dir",
		"SCOPECAST_LOG_LEVEL":                       "log.level",
		"SCOPECAST_AUTH_HOOKS_ON_RECORD_DONE":       "auth.hooks.on_record_done",
		"SCOPECAST_AUTH_HOOKS_TIMEOUT":              "auth.hooks.timeout",
		"SCOPECAST_AUTH_APPS_LIVE_PUBLISH_KEYS":     "auth.apps.live.publish.keys",
		"SCOPECAST_AUTH_APPS_MY_APP_PLAY_DENY":      "auth.apps.my_app.play.deny",
		"SCOPECAST_AUTH_APPS_CHAT_HOOKS_ON_CONNECT": "auth.apps.chat.hooks.on_connect",
		"SCOPECAST_HTTP_FLV_ALLOWED_ORIGINS":        "http.flv_allowed_origins",
		"SCOPECAST_HTTP_WS_ALLOWED_ORIGINS":         "http.ws_allowed_origins",
		"SCOPECAST_RTMP":                            "",
		"SCOPECAST_AUTH_APPS_LIVE":                  "",
		"SCOPECAST_NOPE":                            "",
		"SCOPECAST_":                                "",
		"RTMP_LISTEN":                               "",
	} {
		got, ok := EnvKey(name)
		if got != want || ok != (want != "") {
			t.Errorf("EnvKey(%s) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

// Every problem is reported, naming the key and quoting the bad value.
func TestValidationMessages(t *testing.T) {
	file := writeFile(t, `
rtmp:
  listen: "1935"
rtmps:
  listen: ":1936"
  cert: /nonexistent/cert.pem
http:
  listen: "256.0.0.1:80"
log:
  level: loud
  format: xml
shutdown_grace: 0s
record_name: "../x"
auth:
  hooks:
    on_publish: "ftp://example.com/x"
    timeout: 0s
  apps:
    live:
      publish:
        allow: [10.0.0.0/8, "10.0.0/8"]
        keys: [""]
      hooks:
        on_play: "not a url"
    "bad/app": {}
`)
	_, err := Load(Sources{File: file})
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not wrap ErrInvalid: %v", err)
	}
	for _, want := range []string{
		`config: rtmp.listen: "1935" is not host:port`,
		`config: rtmps.key: is empty but rtmps.listen is set`,
		`config: rtmps.cert: "/nonexistent/cert.pem" cannot be read: no such file or directory`,
		`config: http.listen: "256.0.0.1:80" has a host that is not an IP address`,
		`config: log.level: "loud" is not debug, info, warn or error`,
		`config: log.format: "xml" is not text or json`,
		`config: shutdown_grace: "0s" must be more than 0`,
		`config: record_name: "../x" must be a file name`,
		`config: auth.hooks.on_publish: "ftp://example.com/x" is not an http:// or https:// URL`,
		`config: auth.hooks.timeout: "0s" must be more than 0`,
		`config: auth.apps.live.publish.allow[1]: "10.0.0/8" is not a CIDR (e.g. 10.0.0.0/8) or an IP address (` + file + ` line 21)`,
		`config: auth.apps.live.publish.keys[0]: "" is empty`,
		`config: auth.apps.live.hooks.on_play: "not a url" is not an http:// or https:// URL`,
		`config: auth.apps.bad/app: "bad/app" is not an application name`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "allow[0]") {
		t.Errorf("a good CIDR reported: %v", err)
	}
}

// Problems found while reading a layer name the key, the value and where it came from.
func TestLayerErrors(t *testing.T) {
	file := writeFile(t, "rtmp:\n  lisen: \":1\"\nkeep_delay: 5x\nauth:\n  apps:\n    live:\n      publish:\n        keys: {a: b}\n")
	_, err := Load(Sources{File: file})
	for _, want := range []string{
		`config: rtmp.lisen: unknown key (known: listen, merge_window) (` + file + ` line 2)`,
		`config: keep_delay: "5x" is not a duration (e.g. 5s, 250ms, 1m30s) (` + file + ` line 3)`,
		`config: auth.apps.live.publish.keys: must be a list (` + file + ` line 8)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	_, err = Load(Sources{
		Env:      []string{"SCOPECAST_KEEP_DELAY=soon"},
		Settings: []Setting{{Key: "auth.hooks.queue", Value: "many", Source: "flag -x"}, {Key: "rtmp", Value: "x"}, {Key: "nope", Value: "x"}},
	})
	for _, want := range []string{
		`config: keep_delay: "soon" is not a duration (e.g. 5s, 250ms, 1m30s) (SCOPECAST_KEEP_DELAY)`,
		`config: auth.hooks.queue: "many" is not a whole number (flag -x)`,
		`config: rtmp: is a section, not a value`,
		`config: nope: unknown key`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if _, err := Load(Sources{File: filepath.Join(t.TempDir(), "missing.yaml")}); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Load(Sources{File: writeFile(t, "rtmp: [\n")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("broken YAML: %v", err)
	}
}

// The printed configuration parses back to the same configuration, and the
// embedded defaults file is itself a valid configuration file.
func TestYAMLRoundTrip(t *testing.T) {
	c, err := Load(Sources{Env: []string{
		"SCOPECAST_AUTH_APPS_LIVE_PUBLISH_KEYS=a,b",
		"SCOPECAST_AUTH_APPS_LIVE_PLAY_DENY=192.0.2.0/24",
		"SCOPECAST_AUTH_APPS_CHAT_CONNECT_ALLOW=127.0.0.1",
		"SCOPECAST_AUTH_APPS_CHAT_HOOKS_TIMEOUT=1s",
		"SCOPECAST_RECORD_NAME={name}-{date}",
		"SCOPECAST_RTMP_MERGE_WINDOW=-1ms",
	}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(Sources{File: writeFile(t, string(out))})
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, out)
	}
	if d := Diff(c, back); len(d) > 0 || !reflect.DeepEqual(c, back) {
		t.Errorf("round trip differs in %v:\n%s", d, out)
	}
	if _, err := Load(Sources{File: writeFile(t, string(DefaultsYAML()))}); err != nil {
		t.Errorf("defaults.yaml as a file: %v", err)
	}
	if _, err := Load(Sources{File: writeFile(t, "")}); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

func TestDiffAndClone(t *testing.T) {
	a := Default()
	a.Set("auth.apps.live.publish.keys", "k1")
	b := a.Clone()
	if d := Diff(a, b); len(d) != 0 {
		t.Fatalf("clone differs: %v", d)
	}
	b.Set("auth.apps.live.publish.keys", "k2")
	b.Set("auth.apps.chat.connect.allow", "127.0.0.1")
	b.Set("log.level", "debug")
	if a.Auth.Apps["live"].Publish.Keys[0] != "k1" {
		t.Fatal("clone shares lists")
	}
	want := []string{"auth.apps.chat", "auth.apps.live.publish.keys", "log.level"}
	if d := Diff(a, b); !reflect.DeepEqual(d, want) {
		t.Errorf("Diff = %v, want %v", d, want)
	}
}

func TestParsePrefix(t *testing.T) {
	for s, want := range map[string]string{
		"10.0.0.0/8": "10.0.0.0/8", "10.1.2.3/8": "10.0.0.0/8", "127.0.0.1": "127.0.0.1/32",
		"::1": "::1/128", "::ffff:1.2.3.4": "1.2.3.4/32", "10.0.0/8": "", "x": "", "": "",
	} {
		p, err := ParsePrefix(s)
		if (err != nil) != (want == "") || err == nil && p.String() != want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %q", s, p, err, want)
		}
	}
}
