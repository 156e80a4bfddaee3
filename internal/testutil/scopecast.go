package testutil

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// BuildScopecast builds the scopecast command into the test's temporary
// directory and returns the binary's path, for tests that signal or kill the
// real process.
func BuildScopecast(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "scopecast")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/scopecast/scopecast/cmd/scopecast").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// Scopecast is the scopecast binary running in a child process, logging
// JSON on its stderr.
type Scopecast struct {
	Cmd  *exec.Cmd
	Addr string        // the RTMP listener, host:port
	Done chan struct{} // closed when the log ended (the process exited)

	mu   sync.Mutex
	msgs []string // the messages logged, in order
}

// StartScopecast runs bin with RTMP on a loopback port, no HTTP or admin
// listener, data as its data directory, JSON logs and the extra flags, and
// waits for it to listen. shell, if not empty, is a shell prefix for the exec
// ("ulimit -f 200;"). The process is killed when the test ends if it still
// runs.
func StartScopecast(t testing.TB, bin, data, shell string, extra ...string) *Scopecast {
	t.Helper()
	args := append([]string{"-rtmp", "127.0.0.1:0", "-http", "", "-admin", "", "-data", data, "-log-format", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	if shell != "" {
		cmd = exec.Command("sh", append([]string{"-c", shell + ` exec "$0" "$@"`, bin}, args...)...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Scopecast{Cmd: cmd, Done: make(chan struct{})}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	addrc := make(chan string, 1)
	go func() {
		defer close(s.Done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, RTMP string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, line.Msg)
			s.mu.Unlock()
			if line.Msg == "scopecast listening" {
				addrc <- line.RTMP
			}
		}
	}()
	select {
	case s.Addr = <-addrc:
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	return s
}

// Count returns how many times msg was logged so far.
func (s *Scopecast) Count(msg string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// Logged reports whether msg was logged so far.
func (s *Scopecast) Logged(msg string) bool { return s.Count(msg) > 0 }
