package sharedobject

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/scopecast/scopecast/rtmp/amf"
)

func openTestBolt(t testing.TB, path string) *BoltStore {
	t.Helper()
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// values that must survive a save and a reload.
var storedValues = map[string]any{
	"num":    float64(1.5),
	"str":    "héllo",
	"long":   strings.Repeat("x", 70000),
	"bool":   true,
	"obj":    amf.Obj("a", float64(1), "b", []any{"c", nil}),
	"ecma":   &amf.ECMAArray{Props: []amf.Property{{Key: "k", Value: "v"}}},
	"bytes":  []byte{1, 2, 3},
	"date":   time.UnixMilli(1700000000123).UTC(),
	"int":    int32(7),
	"vector": &amf.VectorInt{Items: []int32{1, 2}},
	"":       "empty key",
	"undef":  amf.Undefined{},
}

func TestRecordRoundTrip(t *testing.T) {
	b, err := encodeRecord(nil, storedValues, 42)
	if err != nil {
		t.Fatal(err)
	}
	attrs, v, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if v != 42 || !amf.Equal(attrs, storedValues) {
		t.Fatalf("got %d %v", v, attrs)
	}
	for _, bad := range [][]byte{nil, {recordMagic}, {1, 0, 0, 0, 0, 5}, append(b[:len(b):len(b)], 0), {recordMagic, 0, 0, 0, 0, 5}, {recordMagic, 0, 0, 0, 0, 0x0a, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, _, err := decodeRecord(bad); err == nil {
			t.Errorf("record %x decoded", bad)
		}
	}
}

func TestBoltDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "so.db")
	s := openTestBolt(t, path)
	if err := s.Save("/chat/room1", "p", storedValues, 9); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("/chat/room2", "p", map[string]any{"x": 1.0}, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("/chat/room1", "gone", map[string]any{"x": 1.0}, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("/chat/room1", "gone"); err != nil {
		t.Fatal(err)
	}
	// Older versions never replace newer ones.
	if err := s.Save("/chat/room1", "p", map[string]any{"old": true}, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("/x", "y", nil, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close: %v", err)
	}
	s = openTestBolt(t, path)
	defer s.Close()
	attrs, v, ok, err := s.Load("/chat/room1", "p")
	if err != nil || !ok || v != 9 || !amf.Equal(attrs, storedValues) {
		t.Fatalf("reloaded %v %d %v %v", ok, v, err, attrs)
	}
	attrs, _, ok, _ = s.Load("/chat/room2", "p")
	if !ok || attrs["x"] != 1.0 {
		t.Fatalf("room2: %v", attrs)
	}
	if _, _, ok, _ := s.Load("/chat/room1", "gone"); ok {
		t.Fatal("deleted object still there")
	}
	if _, _, ok, err := s.Load("/chat/room1", "never"); ok || err != nil {
		t.Fatalf("missing object: %v %v", ok, err)
	}
}

// TestBoltGroupCommit: concurrent saves share transactions.
func TestBoltGroupCommit(t *testing.T) {
	s := openTestBolt(t, filepath.Join(t.TempDir(), "so.db"))
	defer s.Close()
	const n = 500
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := s.Save("/app", fmt.Sprint("o", i%50), map[string]any{"i": float64(i)}, uint32(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	commits, saves := s.Commits(), s.Saves()
	t.Logf("%d saves in %d transactions", saves, commits)
	if saves != n {
		t.Fatalf("%d saves committed, want %d", saves, n)
	}
	if commits > n/5 {
		t.Fatalf("%d transactions for %d concurrent saves: not grouped", commits, n)
	}
}

func TestBoltDamaged(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("not a bolt file ", 1000)), 0o600)
	// A real store with a record we corrupt, and one with its pages trashed.
	badRecord := filepath.Join(dir, "record.db")
	s := openTestBolt(t, badRecord)
	s.Save("/a", "b", map[string]any{"k": "v"}, 1)
	s.Close()
	trashed := filepath.Join(dir, "trashed.db")
	s = openTestBolt(t, trashed)
	for i := range 200 {
		s.Save("/a", fmt.Sprint("o", i), map[string]any{"k": strings.Repeat("v", 100)}, 1)
	}
	s.Close()
	raw, _ := os.ReadFile(trashed)
	for i := 2 * 4096; i < len(raw); i += 4096 {
		for j := i + 16; j < i+64 && j < len(raw); j++ {
			raw[j] ^= 0x5a
		}
	}
	os.WriteFile(trashed, raw, 0o600)
	{
		db, err := openBolt(badRecord)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(boltBucket).Put(boltKey("/a", "b"), []byte{recordMagic, 0, 0, 0, 1, 0x0a, 0xff})
		}); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	for _, p := range []string{garbage, badRecord, trashed} {
		s, err := OpenBolt(p)
		if err == nil {
			s.Close()
			t.Errorf("%s opened", p)
			continue
		}
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not wrap ErrDamaged or name the file", err)
		}
		t.Logf("%v", err)
	}
}

// TestBoltKill runs a child process that saves and reports each acknowledged save, kills
// it with SIGKILL mid-stream, and checks every acknowledged save is in the file.
func TestBoltKill(t *testing.T) {
	if path := os.Getenv("SO_KILL_CHILD"); path != "" {
		killChild(path)
		return
	}
	if testing.Short() {
		t.Skip("child process")
	}
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestBoltKill$")
	cmd.Env = append(os.Environ(), "SO_KILL_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]uint32{}
	sc := bufio.NewScanner(out)
	n := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ok" {
			continue
		}
		v, _ := strconv.Atoi(f[2])
		acked[f[1]] = max(acked[f[1]], uint32(v))
		n++
		if n == 300 {
			cmd.Process.Kill() // SIGKILL
		}
	}
	cmd.Wait()
	if n < 300 {
		t.Fatalf("child acknowledged only %d saves", n)
	}
	s := openTestBolt(t, path)
	defer s.Close()
	for name, v := range acked {
		attrs, got, ok, err := s.Load("/kill", name)
		if err != nil || !ok || got < v || attrs["v"] != float64(got) {
			t.Fatalf("%s: acknowledged version %d, stored %d (found %v, %v)", name, v, got, ok, err)
		}
	}
	t.Logf("%d acknowledged saves of %d objects survived SIGKILL", n, len(acked))
}

func killChild(path string) {
	s, err := OpenBolt(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	for w := range 8 {
		go func() {
			name := fmt.Sprint("o", w)
			for v := uint32(1); ; v++ {
				if err := s.Save("/kill", name, map[string]any{"v": float64(v), "pad": strings.Repeat("p", 200)}, v); err != nil {
					fmt.Println("save:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Printf("ok %s %d\n", name, v)
				mu.Unlock()
			}
		}()
	}
	select {} // until killed
}

func TestMemoryStore(t *testing.T) {
	s := NewMemoryStore()
	attrs := map[string]any{"a": 1.0}
	s.Save("/p", "n", attrs, 2)
	attrs["a"] = 2.0 // the store kept a copy
	s.Save("/p", "n", map[string]any{"old": true}, 1)
	got, v, ok, _ := s.Load("/p", "n")
	if !ok || v != 2 || got["a"] != 1.0 {
		t.Fatalf("%v %d %v", ok, v, got)
	}
	s.Delete("/p", "n")
	if _, _, ok, _ := s.Load("/p", "n"); ok {
		t.Fatal("not deleted")
	}
	s.Close()
	if err := s.Save("/p", "n", nil, 3); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}

// TestPersistentAcrossReopen: a container on a BoltStore, closed and reopened.
func TestPersistentAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "so.db")
	s := openTestBolt(t, path)
	c := NewContainer("/chat/room1", s, Options{Logger: quiet})
	sub := newSub(t, "A")
	if err := c.Apply(sub, use("scores", true)); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(sub, msg("scores", Event{Type: EventRequestChange, Key: "alice", Value: 10.0})); err != nil {
		t.Fatal(err)
	}
	// The success came after the save: the file has it now.
	attrs, v, ok, _ := s.Load("/chat/room1", "scores")
	if !ok || v != 1 || attrs["alice"] != 10.0 {
		t.Fatalf("not durable at success: %v %d %v", ok, v, attrs)
	}
	c.Close()
	s.Close()
	s = openTestBolt(t, path)
	defer s.Close()
	c = NewContainer("/chat/room1", s, Options{Logger: quiet})
	defer c.Close()
	b := newSub(t, "B")
	c.Apply(b, use("scores", true))
	got := b.events()
	if len(got) != 2 || got[1].Type != EventChange || got[1].Key != "alice" || got[1].Value != 10.0 {
		t.Fatalf("late joiner after restart got %+v", got)
	}
}
