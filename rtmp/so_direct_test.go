package rtmp_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
)

// One connection plays a live stream from ffmpeg and subscribes to a shared
// object that two goroutines change thousands of times meanwhile: the
// object's rounds are written straight to the socket by the fan-out, media and
// control by the connection's writer. The client's chunk stream must stay
// whole (its reader fails on any interleaving), media must flow, and every
// change must arrive once and in order. The client pauses now and then, so
// that its socket fills and rounds also go through the writer (what a
// partial write left first), between media writes.
func TestSharedObjectDirectWritesBesideMedia(t *testing.T) {
	t.Parallel()
	ts := startChatServer(t, func(_ *rtmp.Server, o *scope.Options) { o.SharedObjectMergeWindow = 2 * time.Millisecond })
	pub := testutil.FFmpegPublish(t, url(ts, "live/mix"), 6, 25)
	defer pub.Process.Kill()

	c := dial(t, ts, "live")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ts.waitPublishing(t, "/live", "mix")
	msid, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Play(ctx, msid, "mix", -1); err != nil {
		t.Fatal(err)
	}
	use, _ := sharedobject.Append(nil, &sharedobject.Message{Name: "board", Flags: 16, Events: []sharedobject.Event{{Type: sharedobject.EventUse}}}, false)
	if err := c.WriteMessage(&chunk.Message{ChunkStreamID: 3, TypeID: chunk.TypeSharedObjectAMF0, Payload: use}); err != nil {
		t.Fatal(err)
	}

	const perKey = 1500
	keys := []string{"a", "b"}
	var mu sync.Mutex
	next := map[string]int{} // per key: the next value expected
	media, joined := 0, make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		for {
			m, err := c.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			switch m.TypeID {
			case chunk.TypeAudio, chunk.TypeVideo:
				mu.Lock()
				media++
				mu.Unlock()
			case chunk.TypeSharedObjectAMF0:
				msg, err := sharedobject.Decode(m.Payload, false, amf.Limits{})
				if err != nil {
					readErr <- fmt.Errorf("undecodable shared-object message: %w", err)
					return
				}
				mu.Lock()
				for _, e := range msg.Events {
					switch e.Type {
					case sharedobject.EventUseSuccess:
						close(joined)
					case sharedobject.EventChange:
						if want := value(next[e.Key]); e.Value != want {
							mu.Unlock()
							readErr <- fmt.Errorf("key %s: got %v, want %s (lost, repeated or out of order)", e.Key, e.Value, want)
							return
						}
						next[e.Key]++
						if total := next["a"] + next["b"]; total%300 == 0 {
							mu.Unlock()
							time.Sleep(200 * time.Millisecond) // the socket fills meanwhile
							mu.Lock()
						}
					}
				}
				mu.Unlock()
			}
		}
	}()
	select {
	case <-joined:
	case err := <-readErr:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("no use success")
	}
	so := ts.Scopes.Lookup("/live").SharedObjects().Lookup("board")
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perKey {
				so.SetAttribute("", k, value(i))
				if i%3 == 0 {
					time.Sleep(time.Millisecond) // spread over a second or two of media
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.After(15 * time.Second)
	for {
		mu.Lock()
		a, b, n := next["a"], next["b"], media
		mu.Unlock()
		if a == perKey && b == perKey {
			if n == 0 {
				t.Fatal("no media arrived beside the changes")
			}
			t.Logf("%d changes and %d media messages on one connection", a+b, n)
			return
		}
		select {
		case err := <-readErr:
			t.Fatal(err)
		case <-deadline:
			t.Fatalf("got %d and %d of %d changes", a, b, perKey)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// value is change i's value: its number and 16 KiB of padding.
func value(i int) string { return fmt.Sprint(i, strings.Repeat(".", 16<<10)) }
