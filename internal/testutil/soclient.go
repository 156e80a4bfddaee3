package testutil

import (
	"bufio"
	"encoding/json"
	"io"
	"maps"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

// SOClient is one npm rtmp-client process (SOClientScript), a third-party
// AMF0 shared-object client, joined to one shared object. It stops with the
// test.
type SOClient struct {
	t     testing.TB
	stdin io.WriteCloser

	mu        sync.Mutex
	props     map[string]any // the client's local copy after the last sync
	changes   []SOChange     // every change in every sync, in order
	connected bool
	synced    bool
	err       string
}

// SOChange is one change event a client's sync reported.
type SOChange struct {
	Key   string
	Value any
}

// StartSOClient connects a client to url (rtmp://host:port/app/room…) and
// joins the shared object soName; name, when not empty, is connect's first
// parameter (the chat app's user name). It returns once the client is
// connected; WaitSynced waits for the object's first sync.
func StartSOClient(t testing.TB, url, soName, name string) *SOClient {
	t.Helper()
	args := []string{SOClientScript(t), url, soName}
	if name != "" {
		args = append(args, name)
	}
	cmd := exec.Command("node", args...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &SOClient{t: t, stdin: stdin, props: map[string]any{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev struct {
				Ev, Msg, Key string
				Value        any
				Props        map[string]any
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			c.mu.Lock()
			switch ev.Ev {
			case "connected":
				c.connected = true
			case "synced":
				c.synced = true
			case "change":
				c.changes = append(c.changes, SOChange{ev.Key, ev.Value})
			case "sync":
				c.props = ev.Props
			case "error":
				c.err = ev.Msg
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		<-done
	})
	c.wait(15*time.Second, "rtmp-client to connect to "+url, func() bool { return c.connected })
	return c
}

// wait polls cond under the client's lock; an error the client reported
// fails the test.
func (c *SOClient) wait(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	WaitFor(c.t, d, what, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err != "" {
			c.t.Fatalf("rtmp-client: %s", c.err)
		}
		return cond()
	})
}

// WaitSynced waits for the object's first sync (the join).
func (c *SOClient) WaitSynced() {
	c.t.Helper()
	c.wait(15*time.Second, "rtmp-client to join", func() bool { return c.synced })
}

// WaitProps waits until the client's copy of the object equals want.
func (c *SOClient) WaitProps(what string, want map[string]any) {
	c.t.Helper()
	c.wait(10*time.Second, what, func() bool { return reflect.DeepEqual(c.props, want) })
}

func (c *SOClient) send(cmd map[string]any) {
	b, _ := json.Marshal(cmd)
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		c.t.Fatal(err)
	}
}

// Set sets an attribute (nil removes it).
func (c *SOClient) Set(key string, v any) {
	c.send(map[string]any{"op": "set", "key": key, "value": v})
}

// Clear clears the object.
func (c *SOClient) Clear() { c.send(map[string]any{"op": "clear"}) }

// Props returns a copy of the client's copy of the object.
func (c *SOClient) Props() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.props)
}

// Changes returns the change events of every sync so far, in order.
func (c *SOClient) Changes() []SOChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.changes)
}
