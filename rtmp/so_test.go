package rtmp_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/apps/chat"
	"github.com/scopecast/scopecast/internal/sopeer"
	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
)

func startChatServer(t *testing.T, opts ...serverOpt) *testServer {
	t.Helper()
	ts := startServer(t, opts...)
	if err := ts.Scopes.Register(chat.Name, chat.New()); err != nil {
		t.Fatal(err)
	}
	return ts
}

// Two npm rtmp-client processes in one room see each other's changes, a late
// joiner gets the state, remove and clear propagate, and a client in another
// room sees none of it.
func TestSharedObjectsWithRTMPClient(t *testing.T) {
	t.Parallel()
	ts := startChatServer(t)
	a := testutil.StartSOClient(t, url(ts, "chat/room1"), "chat", "")
	b := testutil.StartSOClient(t, url(ts, "chat/room1"), "chat", "")
	other := testutil.StartSOClient(t, url(ts, "chat/room2"), "chat", "")

	// rtmp-client ignores success events (type 5), so a writer never sees its
	// own change in its local copy: each client is checked for what others did.
	a.Set("topic", "hello")
	b.WaitProps("B sees A's change", map[string]any{"topic": "hello"})
	b.Set("count", 3.0)
	nested := map[string]any{"x": 1.0, "list": []any{"a", "b"}}
	a.Set("nested", nested)
	b.WaitProps("B sees A's nested object", map[string]any{"topic": "hello", "nested": nested})
	a.WaitProps("A sees B's change", map[string]any{"count": 3.0})

	late := testutil.StartSOClient(t, url(ts, "chat/room1"), "chat", "")
	late.WaitProps("late joiner gets the state", map[string]any{"topic": "hello", "count": 3.0, "nested": nested})

	a.Set("count", nil) // null removes
	late.WaitProps("remove propagates", map[string]any{"topic": "hello", "nested": nested})
	a.WaitProps("remove reaches the writer too", map[string]any{})
	b.Clear()
	late.WaitProps("clear propagates", map[string]any{})
	b.WaitProps("clear reaches its sender", map[string]any{})

	if p := other.Props(); len(p) != 0 {
		t.Errorf("a client in /chat/room2 saw room1's state: %v", p)
	}
	if so := ts.Scopes.Lookup("/chat/room2").SharedObjects().Lookup("chat"); so == nil || len(so.Attributes()) != 0 {
		t.Errorf("room2's object is not separate")
	}
}

// dialSOPeer connects a shared-object client on scopecast's own RTMP client
// (AMF3 and send, which rtmp-client does not implement).
func dialSOPeer(t *testing.T, url string, amf3 bool) *sopeer.Peer {
	t.Helper()
	enc := 0.0
	if amf3 {
		enc = 3
	}
	return sopeer.Dial(t, url, client.Options{ObjectEncoding: enc})
}

// AMF3 (type 16) clients and AMF0 (type 19) clients share one object: each
// gets its own encoding, the writer gets success, the others change, and send
// reaches everyone including the sender.
func TestSharedObjectsAMF3AndSend(t *testing.T) {
	t.Parallel()
	ts := startChatServer(t)
	p3 := dialSOPeer(t, url(ts, "chat/mixed"), true)
	p0 := dialSOPeer(t, url(ts, "chat/mixed"), false)
	use := func(p *sopeer.Peer, flags uint32) {
		p.Write(t, &sharedobject.Message{Name: "board", Flags: flags, Events: []sharedobject.Event{{Type: sharedobject.EventUse}}})
	}
	use(p3, 0)
	use(p0, 16) // what real clients send for a transient object
	for _, p := range []*sopeer.Peer{p3, p0} {
		waitFor(t, 5*time.Second, "use success", func() bool { return p.Has(sharedobject.EventUseSuccess, "") })
	}
	p3.Write(t, &sharedobject.Message{Name: "board", Events: []sharedobject.Event{
		{Type: sharedobject.EventRequestChange, Key: "shape", Value: amf.Obj("kind", "circle", "r", int32(5), "bytes", []byte{1, 2, 3})},
	}})
	waitFor(t, 5*time.Second, "AMF3 writer's success", func() bool { return p3.Has(sharedobject.EventSuccess, "shape") })
	waitFor(t, 5*time.Second, "AMF0 peer's change", func() bool { return p0.Has(sharedobject.EventChange, "shape") })
	for _, e := range p0.Events() {
		if e.Type == sharedobject.EventChange && e.Key == "shape" {
			o, _ := e.Value.(*amf.Object)
			if o == nil || o.GetString("kind") != "circle" {
				t.Errorf("AMF0 peer got %#v", e.Value)
			}
		}
	}
	p0.Write(t, &sharedobject.Message{Name: "board", Flags: 16, Events: []sharedobject.Event{
		{Type: sharedobject.EventSend, Args: []any{"onMessage", "hi from AMF0", 42.0}},
	}})
	for _, p := range []*sopeer.Peer{p3, p0} {
		waitFor(t, 5*time.Second, "send reaches everyone, the sender too", func() bool { return p.Has(sharedobject.EventSend, "onMessage") })
	}
}

// Persistent objects survive a kill -9 of the server process and a restart:
// every acknowledged change is there.
func TestPersistentSharedObjectSurvivesKill(t *testing.T) {
	t.Parallel()
	bin := buildServer(t)
	data := t.TempDir()
	start := func() (*exec.Cmd, string) {
		t.Helper()
		p := startProc(t, bin, data, "")
		return p.Cmd, p.Addr
	}
	cmd, addr := start()
	p := dialSOPeer(t, "rtmp://"+addr+"/chat/vault", false)
	p.Write(t, &sharedobject.Message{Name: "ledger", Persistent: true, Flags: 2, Events: []sharedobject.Event{{Type: sharedobject.EventUse}}})
	const n = 50
	for i := range n {
		p.Write(t, &sharedobject.Message{Name: "ledger", Persistent: true, Flags: 2, Events: []sharedobject.Event{
			{Type: sharedobject.EventRequestChange, Key: fmt.Sprintf("k%02d", i), Value: float64(i)},
		}})
	}
	// Every change acknowledged (success) before the kill must survive it.
	waitFor(t, 10*time.Second, "all successes", func() bool {
		k := 0
		for _, e := range p.Events() {
			if e.Type == sharedobject.EventSuccess {
				k++
			}
		}
		return k == n
	})
	cmd.Process.Kill() // SIGKILL: no shutdown, no flush
	cmd.Wait()

	cmd2, addr2 := start()
	defer func() { cmd2.Process.Kill(); cmd2.Wait() }()
	q := dialSOPeer(t, "rtmp://"+addr2+"/chat/vault", false)
	q.Write(t, &sharedobject.Message{Name: "ledger", Persistent: true, Flags: 2, Events: []sharedobject.Event{{Type: sharedobject.EventUse}}})
	waitFor(t, 10*time.Second, "state after restart", func() bool {
		k := 0
		for _, e := range q.Events() {
			if e.Type == sharedobject.EventChange {
				k++
			}
		}
		return k == n
	})
}

// Hostile shared-object frames close that connection only; the object, its
// other subscribers and its state are unharmed.
func TestHostileSharedObjectFrames(t *testing.T) {
	t.Parallel()
	ts := startChatServer(t)
	good := testutil.StartSOClient(t, url(ts, "chat/safe"), "chat", "")
	watcher := testutil.StartSOClient(t, url(ts, "chat/safe"), "chat", "")
	good.Set("keep", "me")
	watcher.WaitProps("state", map[string]any{"keep": "me"})

	frames := map[string][]byte{
		"event length past the end": {0, 4, 'c', 'h', 'a', 't', 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 3, 0, 0, 1, 0},
		"unknown event type":        {0, 4, 'c', 'h', 'a', 't', 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 99, 0, 0, 0, 0},
		"huge name":                 append([]byte{0xff, 0xff}, make([]byte, 100)...),
		"deep value": func() []byte {
			body := []byte{0, 1, 'k'}
			for range 200 {
				body = append(body, 0x0a, 0, 0, 0, 1) // strict arrays, 200 deep
			}
			body = append(body, 0x05)
			m := []byte{0, 4, 'c', 'h', 'a', 't', 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 3}
			m = append(m, byte(len(body)>>24), byte(len(body)>>16), byte(len(body)>>8), byte(len(body)))
			return append(m, body...)
		}(),
	}
	before := ts.Srv.Stats().Protocol.Load()
	for name, frame := range frames {
		c := dial(t, ts, "chat/safe")
		c.WriteMessage(&chunk.Message{ChunkStreamID: 3, TypeID: chunk.TypeSharedObjectAMF0, Payload: frame})
		c.SetDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, err := c.ReadMessage(); err != nil {
				var ne interface{ Timeout() bool }
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("%s: the connection was not closed", name)
				}
				break
			}
		}
		c.Close()
	}
	if got := ts.Srv.Stats().Protocol.Load() - before; got != uint64(len(frames)) {
		t.Errorf("%d protocol errors counted for %d hostile frames", got, len(frames))
	}
	good.Set("after", true)
	watcher.WaitProps("the object still works", map[string]any{"keep": "me", "after": true})
}

// A subscriber that stops reading is closed once MaxSOQueue batches wait for
// it; the object, its state and the subscriber that reads are unharmed.
//
// With a merge window the changes go out in runs, written directly by the
// fan-out while a socket takes them and by the connection's writer once it
// does not: the reader still gets every change once and in order.
func TestSharedObjectSubscriberNotReading(t *testing.T) {
	t.Parallel()
	for _, window := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run(fmt.Sprint("merge window ", window), func(t *testing.T) {
			t.Parallel()
			subscriberNotReading(t, window)
		})
	}
}

func subscriberNotReading(t *testing.T, window time.Duration) {
	ts := startChatServer(t, func(_ *rtmp.Server, o *scope.Options) { o.SharedObjectMergeWindow = window })
	healthy := dialSOPeer(t, url(ts, "chat/stall"), false)
	use := &sharedobject.Message{Name: "board", Flags: 16, Events: []sharedobject.Event{{Type: sharedobject.EventUse}}}
	healthy.Write(t, use)
	waitFor(t, 5*time.Second, "use success", func() bool { return healthy.Has(sharedobject.EventUseSuccess, "") })

	stalled := dial(t, ts, "chat/stall")
	payload, _ := sharedobject.Append(nil, use, false)
	if err := stalled.WriteMessage(&chunk.Message{ChunkStreamID: 3, TypeID: chunk.TypeSharedObjectAMF0, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	so := ts.Scopes.Lookup("/chat/stall").SharedObjects().Lookup("board")
	waitFor(t, 5*time.Second, "two subscribers", func() bool { return so.Subscribers() == 2 })

	// 16 KiB values: the sockets' buffers fill after a few hundred changes,
	// then the stalled client's queue. The changes go in steps that the
	// reading subscriber keeps up with (a fan-out never waits for anyone).
	big := strings.Repeat("x", 16<<10)
	received := func() int {
		n := 0
		for _, e := range healthy.Events() {
			if e.Type == sharedobject.EventChange && e.Key == "k" {
				if v, _ := e.Value.(string); !strings.HasPrefix(v, fmt.Sprint(n, "x")) {
					t.Fatalf("change %d: got %.20q…", n, v)
				}
				n++
			}
		}
		return n
	}
	const step = 128
	changes := 0
	for so.Subscribers() == 2 {
		if changes > 64*rtmp.MaxSOQueue {
			t.Fatalf("the stalled subscriber is still there after %d changes", changes)
		}
		for range step {
			if err := so.SetAttribute("", "k", fmt.Sprint(changes, big)); err != nil {
				t.Fatal(err)
			}
			changes++
		}
		waitFor(t, 20*time.Second, "the reading subscriber to keep up", func() bool { return received() == changes })
	}
	if so.Subscribers() != 1 || received() != changes {
		t.Fatalf("%d subscribers left; the reader got %d of %d changes", so.Subscribers(), received(), changes)
	}
	t.Logf("the stalled subscriber was dropped after %d changes (%d MB)", changes, changes*len(big)>>20)
	if v, _ := so.Get("k"); v != fmt.Sprint(changes-1, big) {
		t.Error("the object's state is not the last change")
	}
}
