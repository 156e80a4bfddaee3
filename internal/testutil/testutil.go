// Package testutil holds the helpers the integration tests of several packages
// share: polling with a deadline (tests never sleep for a fixed time), finding
// the real third-party clients they drive, the ffmpeg test pattern they
// publish and the ffprobe checks of what comes out, headless Chromium and
// the screenshots kept as artefacts, the scopecast binary in a child process,
// and small fixtures (a logger, a discarding socket, a self-signed
// certificate). It imports no package of the module, so that any package's
// tests may use it.
package testutil

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// WaitFor polls cond every 5 ms until it holds; after d the test fails, naming
// what it waited for.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// NeedTool returns the path of a real client (ffmpeg, rtmpdump, node,
// chromium…). Without it the test fails when CI is set — scripts/test.sh
// installs every tool the tests need — and is skipped otherwise.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; scripts/test.sh must install it", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}
