package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/auth"
	"github.com/scopecast/scopecast/internal/testutil"
)

// A key that needs a restart (rtmps.listen) stays pending on every later
// reload until the restart: the configuration the reloader holds as current
// keeps the running value of such a key and takes the new value of the keys
// it applied (log.level, the certificate).
func TestReloadKeepsPendingRestartKeys(t *testing.T) {
	cert, key := testutil.SelfSignedCert(t)
	text := func(listen, level string) string {
		return fmt.Sprintf("rtmps:\n  listen: %s\n  cert: %s\n  key: %s\nlog:\n  level: %s\n", listen, cert, key, level)
	}
	file := writeConfig(t, text("127.0.0.1:19350", "info"))
	opts, err := parseArgs([]string{"-config", file}, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := opts.load()
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logBuf, nil))
	authz := auth.New(authPolicy(cfg.Auth), auth.Options{Logger: log})
	defer authz.Close(context.Background())
	c, err := loadCert(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var running atomic.Pointer[tls.Certificate]
	running.Store(c)
	r := &reloader{opts: opts, log: log, level: new(slog.LevelVar), authz: authz, cert: &running, cur: cfg}

	// step writes the file, reloads and checks what the reload logged and
	// what the reloader now holds as current.
	step := func(what, fileText string, changed, restart []string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(fileText), 0o600); err != nil {
			t.Fatal(err)
		}
		logBuf.Reset()
		before := running.Load()
		if err := r.reload(); err != nil {
			t.Fatalf("%s: reload: %v", what, err)
		}
		var rec struct {
			Msg          string
			Changed      []string `json:"changed"`
			NeedsRestart []string `json:"needs_restart"`
		}
		found := false
		for sc := bufio.NewScanner(&logBuf); sc.Scan(); {
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "configuration reloaded" {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("%s: no \"configuration reloaded\" line in %q", what, logBuf.String())
		}
		if !slices.Equal(rec.Changed, changed) || !slices.Equal(rec.NeedsRestart, restart) {
			t.Errorf("%s: changed %q, needs_restart %q; want %q, %q", what, rec.Changed, rec.NeedsRestart, changed, restart)
		}
		if running.Load() == before {
			t.Errorf("%s: the certificate of the running RTMPS listener was not reloaded", what)
		}
	}
	step("first reload", text("127.0.0.1:19351", "debug"), []string{"log.level"}, []string{"rtmps.listen"})
	step("second reload, same file", text("127.0.0.1:19351", "debug"), nil, []string{"rtmps.listen"})
	if got := r.cur.RTMPS.Listen; got != "127.0.0.1:19350" {
		t.Errorf("current rtmps.listen %q, want the running 127.0.0.1:19350", got)
	}
	if got := r.cur.Log.Level; got != "debug" {
		t.Errorf("current log.level %q, want the applied debug", got)
	}
	step("file back to the running address", text("127.0.0.1:19350", "debug"), nil, nil)
}

// SIGHUP to the real binary while ffmpeg publishes: the stream is not
// dropped (a player still gets it, the publisher keeps going), the new rules
// apply to new clients, and a file that does not load changes nothing.
func TestReloadBySIGHUP(t *testing.T) {
	testutil.NeedTool(t, "ffmpeg")
	bin := buildBinary(t)
	file := writeConfig(t, "auth:\n  apps:\n    live:\n      publish:\n        keys: [old]\n")
	p := startBinary(t, bin, t.TempDir(), "-config", file)
	base := "rtmp://" + p.Addr + "/live/"

	pub := testutil.FFmpegPublish(t, base+"cam1?key=old", 120, 25)
	pubDone := make(chan struct{})
	go func() { pub.Wait(); close(pubDone) }()
	defer func() {
		pub.Process.Kill()
		<-pubDone
	}()
	testutil.WaitFor(t, 20*time.Second, "the publisher", func() bool { return p.Logged("publishing") })

	// reload writes text to the file and sends SIGHUP; once want is logged,
	// new publishers need the key "new": "old" is refused.
	reload := func(text, want, when, oldCam, newCam string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 10*time.Second, want, func() bool { return p.Logged(want) })
		if out, ok := ffmpegPublish(t, base+oldCam+"?key=old", 0.5); ok || !strings.Contains(out, "Publish rejected: wrong key") {
			t.Errorf("old key %s: ok=%v:\n%s", when, ok, out)
		}
		if out, ok := ffmpegPublish(t, base+newCam+"?key=new", 0.5); !ok {
			t.Errorf("new key %s: %s", when, out)
		}
	}
	reload("auth:\n  apps:\n    live:\n      publish:\n        keys: [new]\n", "configuration reloaded", "after reload", "cam2", "cam3")
	if out, ok := ffmpegPlay(t, base+"cam1"); !ok {
		t.Errorf("the stream published before the reload does not play: %s", out)
	}
	// A broken file: logged, the rules in force stay.
	reload("auth:\n  apps:\n    live:\n      publish:\n        allow: [10.0.0/8]\n", "reload failed: the configuration in force is kept",
		"after a failed reload", "cam4", "cam5")

	select {
	case <-pubDone:
		t.Fatal("the publisher ended during the reloads (its stderr is logged)")
	default:
	}
	unpublishes := func() int { return p.Count("unpublished") }
	testutil.WaitFor(t, 10*time.Second, "the short publishers' unpublishes", func() bool { return unpublishes() >= 2 })
	if unpublished := unpublishes(); unpublished != 2 { // cam3 and cam5; cam1 goes on
		t.Errorf("%d unpublishes, want 2", unpublished)
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop")
	}
}
