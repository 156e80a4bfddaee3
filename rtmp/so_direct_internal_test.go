package rtmp

import (
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/sharedobject"
)

// A batch for a connection whose writer is idle goes to the socket from the
// fan-out's own goroutine (writeSODirect): here no writer goroutine runs at
// all, so the batch reaches the client only if the direct write happened, and
// nothing is left queued for a writer.
func TestSODirectWriteWithoutWriter(t *testing.T) {
	cc, sc := testutil.TCPPair(t)
	c := newConn(&Server{}, sc, "rtmp")
	defer c.Close(nil)
	c.w.init(c)
	if c.raw == nil {
		t.Fatal("no raw socket for a TCP connection")
	}
	ct := sharedobject.NewContainer("/room", nil, sharedobject.Options{})
	defer ct.Close()
	so, err := ct.Get("chat", false, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := so.Subscribe(c); err != nil {
		t.Fatal(err)
	}
	if err := so.SetAttribute("", "k", 1.0); err != nil {
		t.Fatal(err)
	}
	c.so.mu.Lock()
	queued := len(c.so.items)
	c.so.mu.Unlock()
	if queued != 0 {
		t.Fatalf("%d items queued for a writer that does not run", queued)
	}
	cc.SetReadDeadline(time.Now().Add(5 * time.Second))
	rd := chunk.NewReader(cc, chunk.Limits{})
	for {
		m, err := rd.ReadMessage()
		if err != nil {
			t.Fatalf("reading the batch: %v", err)
		}
		if m.TypeID != chunk.TypeSharedObjectAMF0 {
			continue // the join's messages come first
		}
		msg, err := sharedobject.Decode(m.Payload, false, amf.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range msg.Events {
			if e.Type == sharedobject.EventChange && e.Key == "k" && e.Value == 1.0 {
				return
			}
		}
	}
}
