package admin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scopecast/scopecast/internal/testutil"
)

// The status page in headless Chromium, with one live stream (ffmpeg) and one
// player: the scope tree shows the room, the stream row shows its codecs, a
// bitrate, one player and a drawn sparkline, the counts show the RTMP clients;
// it keeps updating. The screenshot is kept as a test artefact
// ($SCOPECAST_ARTIFACTS/status-page.png).
func TestStatusPageInChromium(t *testing.T) {
	e := startEnv(t, false)
	ffmpegPublish(t, e.url("live/room1/cam1"))
	e.waitPublishing(t, "/live/room1", "cam1")
	play(t, e.url("live/room1"), "cam1")
	e.wsJoin(t, "/chat/room?so=chat")

	tab := testutil.Chromium(t, 90*time.Second, chromedp.WindowSize(1200, 700))
	row := `document.querySelector('#streams tr[data-stream="/live/room1/cam1"]')`
	// A sparkline of at least 5 points, not all at the bottom.
	err := chromedp.Do(tab,
		chromedp.Navigate(e.Admin.URL+"/"),
		chromedp.Poll[chromedp.Void](row+` && (() => {
			const pl = `+row+`.querySelector('svg.spark polyline');
			if (!pl) return false;
			const pts = pl.getAttribute('points').trim().split(' ');
			return pts.length >= 5 && pts.some(p => parseFloat(p.split(',')[1]) < 20);
		})()`, chromedp.WithPollingTimeout(30*time.Second)),
	)
	if err != nil {
		body, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText + ' | ' + (`+row+` ? `+row+`.innerHTML : 'no row')`))
		if png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)); err == nil {
			testutil.SaveArtifact(t, "status-page-failed.png", png)
		}
		t.Fatalf("the stream row with a sparkline: %v\npage: %s", err, body)
	}
	cells, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`Array.from(`+row+`.cells).map(c => c.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stream row: %q", cells)
	if len(cells) != 7 || cells[0] != "/live/room1/cam1" || cells[1] != "h264 320×240 + aac" || !strings.Contains(cells[2], "bit/s") ||
		strings.HasPrefix(cells[2], "0 ") || cells[4] != "1" || !strings.HasPrefix(cells[5], "rtmp 127.0.0.1:") {
		t.Errorf("stream row cells: %q", cells)
	}
	tree, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("tree")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"live", "room1", "2 clients", "● cam1", "chat", "room", "1 SO"} {
		if !strings.Contains(tree, want) {
			t.Errorf("scope tree lacks %q: %q", want, tree)
		}
	}
	counts, err := chromedp.Run(tab, chromedp.Evaluate[map[string]string](
		`Object.fromEntries(Array.from(document.querySelectorAll('#counts .count')).map(c => [c.dataset.label, c.querySelector('b').textContent]))`))
	if err != nil {
		t.Fatal(err)
	}
	if counts["clients"] != "3" || counts["rtmp"] != "2" || counts["ws"] != "1" || counts["streams"] != "1" || counts["players"] != "1" {
		t.Errorf("counts: %v", counts)
	}
	// It updates live: the state line's time changes.
	first, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("state")))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(tab, chromedp.Poll[chromedp.Void](`document.getElementById('state').textContent !== `+jsString(first),
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Errorf("the page did not update after %q: %v", first, err)
	}
	testutil.Screenshot(t, tab, "status-page.png")
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}
