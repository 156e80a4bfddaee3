package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium starts a headless Chromium for the test (Debian's chromium, found
// as NeedTool finds a tool; chromium-browser or google-chrome also do) and
// returns the context of its first tab, the browser already running. The
// context ends after timeout or with the test; the browser is stopped then.
// opts come after the common flags (no sandbox, no GPU, no QUIC, no
// background networking, a fresh profile): a window size, autoplay…
func Chromium(t testing.TB, timeout time.Duration, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		bin = NeedTool(t, "chromium") // fails in CI, skips elsewhere
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	all := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}, opts...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, all...)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancel()
	})
	if err := chromedp.Do(tab); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return tab
}

// ArtifactDir is where a test keeps what a person may want to look at
// afterwards (screenshots): $SCOPECAST_ARTIFACTS when set (CI uploads it),
// else a temporary directory of the test.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SCOPECAST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err == nil {
			return d
		}
	}
	return t.TempDir()
}

// SaveArtifact writes data as name in ArtifactDir, logs where and returns
// the path.
func SaveArtifact(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(ArtifactDir(t), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", name, p)
	return p
}

// Screenshot saves a full-page PNG of tab as name in ArtifactDir and returns
// its path.
func Screenshot(t testing.TB, tab context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	return SaveArtifact(t, name, png)
}
