package scope

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// A recovered panic is logged with the connection's id when the hook
// concerns a connection, and without one for the scope's own Start.
func TestPanicLogNamesTheConn(t *testing.T) {
	var buf lockedBuffer
	h := &funcHandler{
		StartFunc: func(s *Scope) error {
			if s.Name() == "boom" {
				panic("start boom")
			}
			return nil
		},
		PublishFunc: func(Conn, *Scope, string, string) error { panic("publish boom") },
	}
	g := New(Options{KeepDelay: time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err := g.Register("chat", h); err != nil {
		t.Fatal(err)
	}
	c := newConn()
	if _, err := g.Connect(c, "chat/boom", nil); !errors.Is(err, ErrPanic) {
		t.Fatalf("connect: %v", err)
	}
	s, err := g.Connect(c, "chat/room", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(c, "cam1", "live"); !errors.Is(err, ErrPanic) {
		t.Fatalf("publish: %v", err)
	}
	got := map[string]any{} // hook name → its line's conn attribute (nil: none)
	for _, l := range buf.lines() {
		if l["msg"] == "scope: application panic" {
			name, _ := l["hook"].(string)
			got[name] = l["conn"]
		}
	}
	if conn, ok := got["Start"]; !ok || conn != nil {
		t.Errorf("Start panic: logged %v, conn %v (want none)", ok, conn)
	}
	if conn, ok := got["Publish"]; !ok || conn != c.ID() {
		t.Errorf("Publish panic: logged %v, conn %v (want %s)", ok, conn, c.ID())
	}
}
