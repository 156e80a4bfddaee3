package live_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/apps/live"
	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/httpflv"
	"github.com/scopecast/scopecast/wsbridge"
)

var testLogger = testutil.Logger

// probedApp is the live application with a Play hook that notes when each
// play starts.
type probedApp struct {
	*live.App
	mu    sync.Mutex
	plays []time.Time
}

func (a *probedApp) Play(c scope.Conn, s *scope.Scope, name string) error {
	if c.Protocol() == httpflv.ProtocolHTTP || c.Protocol() == httpflv.ProtocolWS {
		a.mu.Lock()
		a.plays = append(a.plays, time.Now())
		a.mu.Unlock()
	}
	return a.App.Play(c, s, name)
}

// server is the public side of scopecast as cmd/scopecast wires it: RTMP,
// and on HTTP the FLV handler, the live page and the WebSocket bridge.
type server struct {
	Scopes *scope.Global
	RTMP   string
	HTTP   string
	App    *probedApp
}

func startServer(t *testing.T) *server {
	t.Helper()
	scopes := scope.New(scope.Options{KeepDelay: 100 * time.Millisecond, SharedObjectLinger: 50 * time.Millisecond, Logger: testLogger()})
	app := &probedApp{App: live.New()}
	if err := scopes.Register(live.Name, app); err != nil {
		t.Fatal(err)
	}
	srv := &rtmp.Server{Scopes: scopes, Logger: testLogger()}
	flvh := &httpflv.Handler{Scopes: scopes, Logger: testLogger()}
	ws := &wsbridge.Handler{Scopes: scopes, Logger: testLogger()}
	page := live.Page()
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, httpflv.Ext):
			flvh.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, live.AssetPrefix),
			strings.HasPrefix(r.URL.Path, "/live/") && !websocket.IsWebSocketUpgrade(r):
			page.ServeHTTP(w, r)
		default:
			ws.ServeHTTP(w, r)
		}
	})
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); srv.Serve(rl) }()
	go func() { defer wg.Done(); hs.Serve(hl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		flvh.Shutdown(ctx)
		ws.Shutdown(ctx)
		srv.Shutdown(ctx)
		scopes.Shutdown(ctx)
		wg.Wait()
	})
	return &server{Scopes: scopes, RTMP: rl.Addr().String(), HTTP: "http://" + hl.Addr().String(), App: app}
}

// publish runs ffmpeg publishing the test pattern (320x240 H.264 + AAC) at
// real time; kill stops it.
func publish(t *testing.T, url string) (kill func()) {
	t.Helper()
	cmd := testutil.FFmpegPublish(t, url, 120, 25)
	var once sync.Once
	return func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
}

// arrivals records when each video packet of a stream reached the server.
type arrivals struct {
	mu   sync.Mutex
	ts   []uint32
	wall []time.Time
	key  []bool
}

func (a *arrivals) watch(t *testing.T, st *stream.Stream) {
	notify := make(chan struct{}, 1)
	sub := st.Subscribe(notify)
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]*stream.Packet, 0, 256)
		for {
			select {
			case <-notify:
			case <-stop:
				return
			}
			now := time.Now()
			batch := sub.Pop(buf[:0])
			a.mu.Lock()
			for _, p := range batch {
				if p.Kind == stream.KindVideo && !p.Header {
					a.ts = append(a.ts, p.Timestamp)
					a.wall = append(a.wall, now)
					a.key = append(a.key, p.Keyframe)
				}
			}
			a.mu.Unlock()
			clear(batch)
			if sub.Err() != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		st.Unsubscribe(sub)
	})
}

// keyBefore returns the timestamp of the last keyframe that arrived before t.
func (a *arrivals) keyBefore(t time.Time) (uint32, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.ts) - 1; i >= 0; i-- {
		if a.key[i] && !a.wall[i].After(t) {
			return a.ts[i], true
		}
	}
	return 0, false
}

// arrival returns when the first video packet with a timestamp >= ts arrived.
func (a *arrivals) arrival(ts uint32) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, x := range a.ts {
		if x >= ts {
			return a.wall[i], true
		}
	}
	return time.Time{}, false
}

type videoState struct {
	State       string  `json:"state"`
	Time        float64 `json:"time"`
	BufferedEnd float64 `json:"bufferedEnd"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	Starts      int     `json:"starts"`
	Status      string  `json:"status"`
}

const videoJS = `(() => { const v = document.getElementById('video'); const b = v.buffered;
  return JSON.stringify({state: window.scopecastLive.state, time: v.currentTime, bufferedEnd: b.length ? b.end(b.length - 1) : 0,
    width: v.videoWidth, height: v.videoHeight, starts: window.scopecastLive.starts, status: document.getElementById('status').textContent}); })()`

// The live page in headless Chromium plays the stream that ffmpeg publishes
// over RTMP: the video's currentTime advances and its size is the stream's;
// the page shows "offline" when the publisher stops and plays again by
// itself when it is back; the chat beside it works both ways with a
// WebSocket chat client of the same room. Publisher-to-browser latency is
// measured and logged; a screenshot is kept.
func TestLivePageInChromium(t *testing.T) {
	for _, c := range []struct{ name, query string }{{"http-flv", ""}, {"ws-flv", "&transport=ws"}} {
		t.Run(c.name, func(t *testing.T) { testLivePage(t, c.name, c.query) })
	}
}

func testLivePage(t *testing.T, transport, query string) {
	e := startServer(t)
	kill := publish(t, "rtmp://"+e.RTMP+"/live/room1/cam1")
	var st *stream.Stream
	testutil.WaitFor(t, 20*time.Second, "the publisher", func() bool {
		if s := e.Scopes.Lookup("live/room1"); s != nil {
			st = s.Stream("cam1")
		}
		return st != nil && st.Publisher() != nil
	})
	var arr arrivals
	arr.watch(t, st)

	tab := testutil.Chromium(t, 120*time.Second,
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1100, 600),
	)
	var console []string
	var cmu sync.Mutex
	chromedp.Listen(tab, func(ev any) {
		if s := fmt.Sprint(ev); strings.Contains(s, "console") || strings.Contains(s, "exception") {
			cmu.Lock()
			if len(console) < 50 {
				console = append(console, s)
			}
			cmu.Unlock()
		}
	})
	defer func() {
		if t.Failed() {
			cmu.Lock()
			t.Logf("browser events: %v", console)
			cmu.Unlock()
		}
	}()
	if err := chromedp.Do(tab, chromedp.Navigate(e.HTTP+"/live/room1/cam1?name=alice"+query)); err != nil {
		t.Fatalf("opening the page: %v", err)
	}
	var v videoState
	testutil.WaitFor(t, 30*time.Second, "the video to play", func() bool {
		v = readState(t, tab)
		return v.State == "live" && v.Time > 0.5
	})
	t0 := v.Time
	testutil.WaitFor(t, 10*time.Second, "currentTime to advance", func() bool {
		v = readState(t, tab)
		return v.Time > t0+1
	})
	if v.Width != 320 || v.Height != 240 {
		t.Errorf("video size %dx%d, want 320x240", v.Width, v.Height)
	}

	// Latency: the frame the browser shows (and the newest it holds) against
	// when that frame reached the server. mpegts.js counts currentTime from
	// the first frame it got: the keyframe the server's GOP cache started
	// with, the last keyframe before the page's play began.
	e.App.mu.Lock()
	playAt := e.App.plays[0]
	e.App.mu.Unlock()
	base, ok := arr.keyBefore(playAt)
	if !ok {
		t.Fatal("no keyframe before the play")
	}
	t2 := v.Time // let the player settle at its latency, then sample for 3 s
	testutil.WaitFor(t, 10*time.Second, "two more seconds of play", func() bool { return readState(t, tab).Time > t2+2 })
	var shown, held []float64
	for i := 0; i < 20; i++ {
		before := time.Now()
		v = readState(t, tab)
		now := before.Add(time.Since(before) / 2)
		if w, ok := arr.arrival(base + uint32(v.Time*1000)); ok {
			shown = append(shown, now.Sub(w).Seconds()*1000)
		}
		if w, ok := arr.arrival(base + uint32(v.BufferedEnd*1000)); ok {
			held = append(held, now.Sub(w).Seconds()*1000)
		}
		time.Sleep(150 * time.Millisecond)
	}
	med := func(x []float64) float64 {
		if len(x) == 0 {
			return -1
		}
		sort.Float64s(x)
		return x[len(x)/2]
	}
	t.Logf("%s latency, server arrival → browser: shown frame median %.0f ms (min %.0f, max %.0f), newest frame held median %.0f ms (%d samples)",
		transport, med(shown), slices.Min(shown), slices.Max(shown), med(held), len(shown))
	if m := med(shown); m > 1500 {
		t.Errorf("median latency %.0f ms: not sub-second", m)
	}

	// The chat beside it: the page's message reaches a WebSocket chat client
	// of the room, and the client's reaches the page, as text.
	chatURL := "ws" + strings.TrimPrefix(e.HTTP, "http") + "/live/room1?so=chat&name=bob"
	bob, _, err := websocket.DefaultDialer.Dial(chatURL, http.Header{"Sec-WebSocket-Protocol": {"chat"}})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	texts := make(chan string, 16)
	go func() {
		for {
			_, b, err := bob.ReadMessage()
			if err != nil {
				close(texts)
				return
			}
			var f struct {
				Type, Key string
				Value     struct{ From, Text string }
			}
			if json.Unmarshal(b, &f) == nil && f.Type == "change" && f.Key == "message" {
				texts <- f.Value.From + ": " + f.Value.Text
			}
		}
	}()
	testutil.WaitFor(t, 10*time.Second, "the page's chat to connect", func() bool {
		s, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("chatstatus")))
		return strings.HasPrefix(s, "connected as")
	})
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.ID("msg"), "hello from the page"), chromedp.Click(chromedp.ID("send"))); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-texts:
		if got != "alice: hello from the page" {
			t.Errorf("bob got %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob got nothing")
	}
	if err := bob.WriteJSON(map[string]string{"type": "chat", "text": "<b>hi</b> alice"}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "bob's line in the page", func() bool {
		lines, _ := chromedp.Run(tab, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#log li')).map(li => li.textContent)`))
		return slices.Contains(lines, "bob<b>hi</b> alice")
	})
	if injected, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#log b').length`)); err != nil || injected != 0 {
		t.Errorf("the page made %d elements from a message (%v)", injected, err)
	}

	testutil.Screenshot(t, tab, "live-page-"+transport+".png")

	// The publisher stops: "offline"; it comes back: the page plays again.
	starts := v.Starts
	kill()
	testutil.WaitFor(t, 15*time.Second, "the page to show offline", func() bool {
		v = readState(t, tab)
		return v.State == "offline"
	})
	if !strings.Contains(v.Status, "offline") && !strings.Contains(v.Status, "waiting") {
		t.Errorf("status %q", v.Status)
	}
	publish(t, "rtmp://"+e.RTMP+"/live/room1/cam1")
	testutil.WaitFor(t, 30*time.Second, "the page to play again", func() bool {
		v = readState(t, tab)
		return v.State == "live" && v.Starts > starts && v.Time > 0.5
	})
	t1 := v.Time
	testutil.WaitFor(t, 10*time.Second, "currentTime to advance again", func() bool {
		v = readState(t, tab)
		return v.Time > t1+0.5
	})
}

func readState(t *testing.T, tab context.Context) videoState {
	t.Helper()
	out, err := chromedp.Run(tab, chromedp.Evaluate[string](videoJS))
	if err != nil {
		t.Fatal(err)
	}
	var v videoState
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
