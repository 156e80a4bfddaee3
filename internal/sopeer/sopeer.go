// Package sopeer is a remote shared-object client for tests, on scopecast's
// own RTMP client (rtmp/client): AMF0 or AMF3 (type 19 or 16) messages and
// send, which the npm rtmp-client the integration tests also drive does not
// implement. It checks what the server sends on the way.
package sopeer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/sharedobject"
)

// Peer is one connection that speaks shared objects. It closes with the test.
type Peer struct {
	Conn *client.Conn
	amf3 bool

	mu   sync.Mutex
	msgs []sharedobject.Message
}

// Dial connects to url with opts (ObjectEncoding 3 makes an AMF3 peer) and
// keeps every shared-object message the server sends. A message of the other
// encoding's type, off chunk stream 3 or message stream 0, or that does not
// decode fails t.
func Dial(t testing.TB, url string, opts client.Options) *Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	p := &Peer{Conn: c, amf3: opts.ObjectEncoding == 3}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := c.ReadMessage()
			if err != nil {
				return
			}
			if m.TypeID != chunk.TypeSharedObjectAMF0 && m.TypeID != chunk.TypeSharedObjectAMF3 {
				continue
			}
			if p.amf3 != (m.TypeID == chunk.TypeSharedObjectAMF3) {
				t.Errorf("AMF3=%v client got shared-object message type %d", p.amf3, m.TypeID)
			}
			if m.ChunkStreamID != 3 || m.StreamID != 0 {
				t.Errorf("shared-object message on chunk stream %d, message stream %d; want 3, 0", m.ChunkStreamID, m.StreamID)
			}
			so, err := sharedobject.Decode(m.Payload, m.TypeID == chunk.TypeSharedObjectAMF3, amf.Limits{})
			if err != nil {
				t.Errorf("server sent an undecodable shared-object message: %v", err)
				continue
			}
			p.mu.Lock()
			p.msgs = append(p.msgs, so)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return p
}

// Write sends m in the peer's encoding.
func (p *Peer) Write(t testing.TB, m *sharedobject.Message) {
	t.Helper()
	typ := chunk.TypeSharedObjectAMF0
	if p.amf3 {
		typ = chunk.TypeSharedObjectAMF3
	}
	payload, err := sharedobject.Append(nil, m, p.amf3)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Conn.WriteMessage(&chunk.Message{ChunkStreamID: 3, TypeID: typ, Payload: payload}); err != nil {
		t.Fatal(err)
	}
}

// Events returns every event of the messages received so far, in order.
func (p *Peer) Events() []sharedobject.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var evs []sharedobject.Event
	for _, m := range p.msgs {
		evs = append(evs, m.Events...)
	}
	return evs
}

// Find returns the events received so far for which pred holds.
func (p *Peer) Find(pred func(sharedobject.Event) bool) []sharedobject.Event {
	var out []sharedobject.Event
	for _, e := range p.Events() {
		if pred(e) {
			out = append(out, e)
		}
	}
	return out
}

// Has reports whether an event of type typ came for key: its attribute, or
// for a send its handler name; an empty key matches any.
func (p *Peer) Has(typ sharedobject.EventType, key string) bool {
	return len(p.Find(func(e sharedobject.Event) bool {
		return e.Type == typ && (key == "" || e.Key == key || len(e.Args) > 0 && e.Args[0] == key)
	})) > 0
}
