package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SOClientScript returns the path of the npm rtmp-client driver
// (rtmp/testdata/node/soclient.js) after checking that node and the npm
// packages are there: missing, the test fails under CI (scripts/test.sh runs
// npm ci) and is skipped elsewhere.
func SOClientScript(t testing.TB) string {
	t.Helper()
	NeedTool(t, "node")
	_, here, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(here), "..", "..", "rtmp", "testdata", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "rtmp-client")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("npm packages missing: scripts/test.sh runs npm ci --prefix rtmp/testdata/node")
		}
		t.Skip("npm packages not installed (npm ci --prefix rtmp/testdata/node)")
	}
	return filepath.Join(dir, "soclient.js")
}
