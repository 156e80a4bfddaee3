package wsbridge_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/scope"
)

// countingConn counts the bytes a client writes to the socket.
type countingConn struct {
	net.Conn
	written *atomic.Uint64
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(uint64(n))
	return n, err
}

// serverFrameLen is the size of an unmasked server frame of n payload bytes.
func serverFrameLen(n int) uint64 {
	switch {
	case n >= 1<<16:
		return uint64(10 + n)
	case n >= 126:
		return uint64(4 + n)
	}
	return uint64(2 + n)
}

// The connection counts the data frames it reads (as the client wrote them:
// header, mask key, payload; the client's pongs and close frame are not
// counted) and writes (as the client receives them), shows
// them as BytesIn, BytesOut and ConnectedAt like an rtmp.Conn, and the
// handler keeps the totals once it has ended.
func TestByteCounts(t *testing.T) {
	e := startEnv(t)
	var written atomic.Uint64
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{"chat"},
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, &written}, nil
		}}
	before := time.Now()
	ws, _, err := d.Dial(e.wsURL("/chat/bytes"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	handshake := written.Load() // the upgrade request, written before Dial returned

	// Frames with a short and a 16-bit length, each in one frame (within
	// the client's write buffer: a message it fragments counts one header).
	values := []string{"x", strings.Repeat("y", 300), strings.Repeat("z", 3000)}
	for i, v := range values {
		b, _ := json.Marshal(map[string]any{"type": "set", "key": "k" + string(rune('0'+i)), "value": v})
		if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
			t.Fatal(err)
		}
	}
	// Read until the three acks, adding up the frames received.
	var received uint64
	var id string
	acks := 0
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for acks < len(values) {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		received += serverFrameLen(len(msg))
		var f struct{ Type, ID string }
		json.Unmarshal(msg, &f)
		switch f.Type {
		case "welcome":
			id = f.ID
		case "ack":
			acks++
		}
	}
	sent := written.Load() - handshake

	var c interface {
		scope.Conn
		BytesIn() uint64
		BytesOut() uint64
		ConnectedAt() time.Time
	}
	e.Scopes.Walk(func(s *scope.Scope) bool {
		for _, sc := range s.Conns() {
			if sc.ID() == id {
				c, _ = sc.(interface {
					scope.Conn
					BytesIn() uint64
					BytesOut() uint64
					ConnectedAt() time.Time
				})
			}
		}
		return true
	})
	if c == nil {
		t.Fatalf("connection %q not found, or without byte counters", id)
	}
	// The client may read a write before the writer has counted it.
	waitFor(t, 10*time.Second, "the counts of what the client wrote and received", func() bool {
		return c.BytesIn() == sent && c.BytesOut() == received
	})
	if at := c.ConnectedAt(); at.Before(before) || at.After(time.Now()) {
		t.Errorf("connected at %v, dialled at %v", at, before)
	}
	if in, out, n := e.Handler.BytesIn(), e.Handler.BytesOut(), e.Handler.Opened(); in != sent || out != received || n != 1 {
		t.Errorf("handler while open: in %d, out %d, opened %d", in, out, n)
	}

	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	waitFor(t, 10*time.Second, "the connection to end", func() bool { return e.Handler.Conns() == 0 })
	if in, out := e.Handler.BytesIn(), e.Handler.BytesOut(); in != sent || out != received {
		t.Errorf("handler after the end: in %d, out %d; want %d, %d", in, out, sent, received)
	}
}
