package httpflv_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/httpflv"
)

// countingReader counts what is read through it.
type countingReader struct {
	r io.Reader
	n uint64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += uint64(n)
	return n, err
}

// Stats counts HTTP-FLV and WebSocket-FLV readers apart; each reader shows
// its own bytes and start time (as the admin listing reads them), and the
// bytes of readers that ended stay in the totals.
func TestStatsByProtocol(t *testing.T) {
	e := startEnv(t)
	pub := e.publish(t, "live/room1", "cam1")
	pub.startMedia(0)

	before := time.Now()
	resp := rawGet(t, e, "/live/room1/cam1.flv")
	if resp.Status != 200 {
		t.Fatalf("status %d", resp.Status)
	}
	httpBody := &countingReader{r: resp.Body}
	if _, _, err := readFLV(t, httpBody, 4); err != nil {
		t.Fatal(err)
	}
	ws, _, err := dialWS(t, e, "/live/room1/cam1.flv", nil)
	if err != nil {
		t.Fatal(err)
	}
	wsBody := &countingReader{r: &wsReader{ws: ws}}
	if _, _, err := readFLV(t, wsBody, 4); err != nil {
		t.Fatal(err)
	}

	type counted interface {
		BytesOut() uint64
		ConnectedAt() time.Time
	}
	var conns []counted
	for _, c := range e.Scopes.Lookup("/live/room1").Conns() {
		cc, ok := c.(counted)
		if c.Protocol() != "test" && !ok {
			t.Fatalf("%s (%s) has no BytesOut/ConnectedAt", c.ID(), c.Protocol())
		}
		if ok {
			if at := cc.ConnectedAt(); at.Before(before) || at.After(time.Now()) {
				t.Errorf("%s connected at %v, the test began at %v", c.ID(), at, before)
			}
			conns = append(conns, cc)
		}
	}
	if len(conns) != 2 {
		t.Fatalf("%d readers in the scope", len(conns))
	}

	// A write is counted once it returns, which can be after the client
	// read its bytes: wait for the counters to reach what was read.
	var st httpflv.Stats
	testutil.WaitFor(t, 5*time.Second, "the byte counters to reach what the readers read", func() bool {
		st = e.Handler.Stats()
		return st.HTTP.BytesOut >= httpBody.n && st.WS.BytesOut >= wsBody.n
	})
	if st.HTTP.Conns != 1 || st.WS.Conns != 1 || st.HTTP.Served != 1 || st.WS.Served != 1 {
		t.Errorf("stats %+v, want one live reader of each", st)
	}
	// The server counts the framing too: chunk lines, WebSocket headers.
	if st.HTTP.BytesOut < httpBody.n || st.WS.BytesOut < wsBody.n || st.HTTP.BytesOut == st.WS.BytesOut {
		t.Errorf("bytes out %d (http), %d (ws); the readers read %d and %d", st.HTTP.BytesOut, st.WS.BytesOut, httpBody.n, wsBody.n)
	}
	if tot := st.Total(); tot.Conns != 2 || tot.Served != 2 || tot.BytesOut != st.HTTP.BytesOut+st.WS.BytesOut {
		t.Errorf("total %+v of %+v", tot, st)
	}

	// More media, then the end: the readers' last bytes are in the totals,
	// which never go back.
	pub.write(stream.KindVideo, 40, inter(1000))
	pub.stop()
	if _, err := io.Copy(io.Discard, httpBody); err != nil {
		t.Fatalf("http body: %v", err)
	}
	var ce *websocket.CloseError
	if _, err := io.Copy(io.Discard, wsBody); !errors.As(err, &ce) {
		t.Fatalf("ws end: %v", err)
	}
	waitFor(t, 5*time.Second, "the readers to end", func() bool { return e.Handler.Stats().Total().Conns == 0 })
	end := e.Handler.Stats()
	var sum uint64
	for _, c := range conns {
		sum += c.BytesOut()
	}
	if end.HTTP.BytesOut < httpBody.n || end.WS.BytesOut < wsBody.n || end.HTTP.BytesOut <= st.HTTP.BytesOut ||
		end.WS.BytesOut <= st.WS.BytesOut || end.Total().BytesOut != sum || end.HTTP.Served != 1 || end.WS.Served != 1 {
		t.Errorf("after the end %+v (readers' own counts %d; they read %d and %d)", end, sum, httpBody.n, wsBody.n)
	}
}
