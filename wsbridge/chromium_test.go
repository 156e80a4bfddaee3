package wsbridge_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/sharedobject"
)

// Two browser users on the chat page chat with each other, with a Flash-era
// RTMP client (npm rtmp-client, property "message") and with scopecast's RTMP
// client (send onChatMessage); each message shows once in each page, as text;
// the users list shows everyone; a page whose connection is closed reconnects.
func TestChatPageInChromium(t *testing.T) {
	e := startEnv(t)
	alice := testutil.Chromium(t, 90*time.Second, chromedp.WindowSize(1000, 700))
	bob, cancelBob := chromedp.NewContext(alice) // a second tab
	defer cancelBob()

	const room = "/chat/lobby"
	open := func(tab context.Context, name string) {
		t.Helper()
		err := chromedp.Do(tab,
			chromedp.Navigate(e.HTTP.URL+room+"?name="+name),
			chromedp.Poll[chromedp.Void](`document.getElementById('status').textContent.startsWith('connected as')`, chromedp.WithPollingTimeout(20*time.Second)),
		)
		if err != nil {
			t.Fatalf("%s's page: %v", name, err)
		}
	}
	open(alice, "alice")
	open(bob, "bob")
	flash := startNode(t, e.rtmpURL("chat/lobby"), "chat", "flash")
	peer := dialPeer(t, e.rtmpURL("chat/lobby"), "chat")

	say := func(tab context.Context, text string) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.ID("msg"), text), chromedp.Click(chromedp.ID("send"))); err != nil {
			t.Fatal(err)
		}
	}
	// lines returns the log's lines as text.
	lines := func(tab context.Context) []string {
		t.Helper()
		out, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#log li')).map(li => li.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	waitLine := func(tab context.Context, who, line string) {
		t.Helper()
		waitFor(t, 20*time.Second, who+" to show "+line, func() bool { return slices.Contains(lines(tab), line) })
	}

	say(alice, "hi bob <b>bold</b> <img src=x onerror=alert(1)>")
	waitLine(bob, "bob", "alicehi bob <b>bold</b> <img src=x onerror=alert(1)>")
	waitLine(alice, "alice", "alicehi bob <b>bold</b> <img src=x onerror=alert(1)>")
	say(bob, "hi alice")
	waitLine(alice, "alice", "bobhi alice")
	flash.Set("message", map[string]any{"from": "flash", "text": "hello from flash"})
	peer.write(t, sharedobject.Event{Type: sharedobject.EventSend, Args: []any{"onChatMessage", "hello from rtmp"}})
	for _, tab := range []context.Context{alice, bob} {
		waitLine(tab, "page", "flashhello from flash")
		waitLine(tab, "page", "peerhello from rtmp")
	}
	waitFor(t, 10*time.Second, "the RTMP clients to get the browsers' messages", func() bool {
		return slices.Contains(flash.chatTexts(), "hi alice") && slices.Contains(peer.chatTexts(), "hi bob <b>bold</b> <img src=x onerror=alert(1)>")
	})

	// Each message once per page, as text (no element made of user data).
	for name, tab := range map[string]context.Context{"alice": alice, "bob": bob} {
		c := counts(lines(tab))
		for _, l := range []string{"alicehi bob <b>bold</b> <img src=x onerror=alert(1)>", "bobhi alice", "flashhello from flash", "peerhello from rtmp"} {
			if c[l] != 1 {
				t.Errorf("%s's page shows %q %d times", name, l, c[l])
			}
		}
		injected, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#log b, #log img').length`))
		if err != nil {
			t.Fatal(err)
		}
		if injected != 0 {
			t.Errorf("%s's page made %d elements from a message", name, injected)
		}
	}
	var users string
	waitFor(t, 10*time.Second, "everyone in the users list", func() bool {
		users, _ = chromedp.Run(alice, chromedp.Text(chromedp.ID("users")))
		return strings.Contains(users, "alice (you)") && strings.Contains(users, "bob") && strings.Contains(users, "flash") && strings.Contains(users, "peer")
	})

	testutil.Screenshot(t, alice, "chat-page.png")

	// The server closes alice's connection: her page reconnects by itself.
	s := e.Scopes.Lookup(room)
	var kicked bool
	for _, c := range s.Conns() {
		if e.Chat.Users(s)[c.ID()] == "alice" {
			c.Close(errors.New("kicked for the test"))
			kicked = true
		}
	}
	if !kicked {
		t.Fatal("alice's connection not found")
	}
	err := chromedp.Do(alice, chromedp.Poll[chromedp.Void](`document.getElementById('status').textContent.startsWith('disconnected')`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("alice's page did not notice: %v", err)
	}
	err = chromedp.Do(alice, chromedp.Poll[chromedp.Void](`document.getElementById('status').textContent.startsWith('connected as')`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("alice's page did not reconnect: %v", err)
	}
	say(alice, "back again")
	waitLine(bob, "bob", "aliceback again")
}
