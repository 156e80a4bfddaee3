package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/scopecast/scopecast/internal/config"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "scopecast.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// defaults < file < environment < flags, the file named by -config or by
// SCOPECAST_CONFIG; -set reaches any key; the old flags keep working.
func TestConfigPrecedence(t *testing.T) {
	file := writeConfig(t, `
rtmp: {listen: "127.0.0.1:2001"}
http: {listen: "127.0.0.1:3001"}
admin: {listen: "127.0.0.1:4001"}
data_dir: /from/file
keep_delay: 1s
`)
	env := []string{"SCOPECAST_HTTP_LISTEN=127.0.0.1:3002", "SCOPECAST_ADMIN_LISTEN=127.0.0.1:4002",
		"SCOPECAST_DATA_DIR=/from/env", "SCOPECAST_CONFIG=" + file}
	for _, tc := range []struct {
		args []string
		env  []string
		want map[string]any
	}{
		{nil, nil, map[string]any{"rtmp": ":1935", "http": ":5080", "admin": "127.0.0.1:5081", "data": "./data", "keep": 5 * time.Second}},
		{[]string{"-config", file}, nil, map[string]any{"rtmp": "127.0.0.1:2001", "http": "127.0.0.1:3001", "admin": "127.0.0.1:4001", "data": "/from/file", "keep": time.Second}},
		{nil, env, map[string]any{"rtmp": "127.0.0.1:2001", "http": "127.0.0.1:3002", "admin": "127.0.0.1:4002", "data": "/from/env", "keep": time.Second}},
		{[]string{"-admin", "127.0.0.1:4003", "-data", "/from/flag", "-set", "keep_delay=2s", "-set", "data_dir=/from/set"}, env,
			map[string]any{"rtmp": "127.0.0.1:2001", "http": "127.0.0.1:3002", "admin": "127.0.0.1:4003", "data": "/from/flag", "keep": 2 * time.Second}},
	} {
		o, err := parseArgs(tc.args, io.Discard, tc.env)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := o.load()
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		got := map[string]any{"rtmp": cfg.RTMP.Listen, "http": cfg.HTTP.Listen, "admin": cfg.Admin.Listen, "data": cfg.DataDir, "keep": cfg.KeepDelay}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("args %v env %v:\n got %v\nwant %v", tc.args, tc.env, got, tc.want)
		}
	}
}

// Bad values stop the start with a message naming the key, the value and
// where it came from.
func TestConfigErrorsNameKeyAndValue(t *testing.T) {
	bad := writeConfig(t, "auth:\n  apps:\n    live:\n      publish:\n        allow: [10.0.0.0/8, 10.0.0/8]\n")
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"-log-format", "xml"}, "", `config: log.format: "xml" is not text or json (flag -log-format)`},
		{[]string{"-log-level", "loud"}, "", `config: log.level: "loud" is not debug, info, warn or error`},
		{[]string{"-rtmp", "256.0.0.1:1"}, "", `config: rtmp.listen: "256.0.0.1:1" has a host that is not an IP address`},
		{[]string{"-keep-delay", "soon"}, "", `config: keep_delay: "soon" is not a duration (e.g. 5s, 250ms, 1m30s) (flag -keep-delay)`},
		{nil, "SCOPECAST_AUTH_HOOKS_TIMEOUT=3", `config: auth.hooks.timeout: "3" is not a duration (e.g. 5s, 250ms, 1m30s) (SCOPECAST_AUTH_HOOKS_TIMEOUT)`},
		{nil, "SCOPECAST_AUTH_HOOKS_ON_PLAY=localhost:80/x", `config: auth.hooks.on_play: "localhost:80/x" is not an http:// or https:// URL`},
		{[]string{"-config", bad}, "", `config: auth.apps.live.publish.allow[1]: "10.0.0/8" is not a CIDR`},
		{[]string{"-rtmps", "127.0.0.1:0"}, "", `config: rtmps.cert: is empty but rtmps.listen is set`},
		{[]string{"-set", "rtmp.lisen=:1"}, "", `config: rtmp.lisen: unknown key (-set rtmp.lisen)`},
		{[]string{"extra"}, "", `unexpected argument "extra"`},
	} {
		if tc.env != "" {
			name, value, _ := strings.Cut(tc.env, "=")
			t.Setenv(name, value)
		}
		err := run(context.Background(), append(tc.args, "-http", "", "-admin", "", "-data", t.TempDir()), io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %s: got %v, want %q", tc.args, tc.env, err, tc.want)
		}
		if tc.env != "" {
			name, _, _ := strings.Cut(tc.env, "=")
			os.Unsetenv(name)
		}
	}
}

// -print-config on the real binary prints the effective configuration as
// YAML that parses, loads back to the same configuration, and exits 0.
func TestPrintConfigBinary(t *testing.T) {
	bin := buildBinary(t)
	file := writeConfig(t, `
log: {format: json}
auth:
  hooks: {on_publish: "http://127.0.0.1:9/on_publish"}
  apps:
    live:
      publish: {keys: [secret], allow: [10.0.0.0/8]}
`)
	cmd := exec.Command(bin, "-config", file, "-rtmp", "127.0.0.1:1936", "-print-config")
	cmd.Env = append(os.Environ(), "SCOPECAST_AUTH_APPS_LIVE_PLAY_DENY=192.0.2.0/24,198.51.100.1", "SCOPECAST_KEEP_DELAY=7s")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("-print-config: %v\n%s", err, stderr.String())
	}
	var generic map[string]any
	if err := yaml.Unmarshal(stdout.Bytes(), &generic); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, stdout.String())
	}
	back, err := config.Load(config.Sources{File: writeConfig(t, stdout.String())})
	if err != nil {
		t.Fatalf("output does not load: %v\n%s", err, stdout.String())
	}
	want := config.Default()
	want.RTMP.Listen = "127.0.0.1:1936"
	want.KeepDelay = 7 * time.Second
	want.Log.Format = "json"
	want.Auth.Hooks.OnPublish = "http://127.0.0.1:9/on_publish"
	want.Auth.Apps = map[string]config.AppAuth{"live": {
		Publish: config.Rule{Keys: []string{"secret"}, Allow: []string{"10.0.0.0/8"}},
		Play:    config.Rule{Deny: []string{"192.0.2.0/24", "198.51.100.1"}},
	}}
	if d := config.Diff(want, back); len(d) > 0 {
		t.Errorf("printed config differs in %v:\n%s", d, stdout.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
	// A bad value: exit 1 and the message.
	cmd = exec.Command(bin, "-log-format", "xml", "-print-config")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `scopecast: config: log.format: "xml" is not text or json (flag -log-format)`) {
		t.Errorf("bad value: %v: %s", err, out)
	}
}

// -print-config in process, with the defaults only, is the embedded
// defaults file's values.
func TestPrintConfigDefaults(t *testing.T) {
	var b bytes.Buffer
	old := printOut
	printOut = &b
	defer func() { printOut = old }()
	if err := run(context.Background(), []string{"-print-config"}, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	back, err := config.Load(config.Sources{File: writeConfig(t, b.String())})
	if err != nil {
		t.Fatal(err)
	}
	if d := config.Diff(config.Default(), back); len(d) > 0 {
		t.Errorf("differs in %v:\n%s", d, b.String())
	}
}
