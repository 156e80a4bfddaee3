package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
)

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
