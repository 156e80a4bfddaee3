package main

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/scopecast/scopecast/internal/testutil"
)

// rxConn reads what was written, stamps each read with the time the bytes
// reached the socket (after the write began, before the read returned, and
// not at the read: the test reads 20 ms late), reports EOF and honours
// read deadlines.
func TestRXConn(t *testing.T) {
	nc, peer := testutil.TCPPair(t)
	c, ok := wrapRX(nc).(*rxConn)
	if !ok {
		t.Fatalf("wrapRX(%T) did not wrap", nc)
	}
	defer c.Close()
	if c.lastRX() != 0 || (*rxConn)(nil).lastRX() != 0 {
		t.Fatal("a stamp before any read")
	}
	buf := make([]byte, 64)
	// The kernel may turn stamping on a little after the first socket asked.
	for i := 0; c.lastRX() == 0; i++ {
		if i == 50 {
			t.Fatal("no receive stamp after 50 reads")
		}
		time.Sleep(2 * time.Millisecond)
		if _, err := peer.Write([]byte("warm-up")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	for i, msg := range []string{"first", "second"} {
		before := time.Now().UnixNano()
		if _, err := peer.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		written := time.Now().UnixNano()
		time.Sleep(20 * time.Millisecond)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("read %d: %q, %v; want %q", i, buf[:n], err, msg)
		}
		if ts := c.lastRX(); ts < before || ts > written {
			t.Errorf("read %d: stamp %d, want within the write [%d, %d]", i, ts, before, written)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v, want a deadline error", err)
	}
	c.SetReadDeadline(time.Time{})
	peer.Close()
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("read after the peer closed: %d, %v; want EOF", n, err)
	}
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Errorf("empty read: %d, %v", n, err)
	}
}

// A connection that is not TCP is not wrapped.
func TestWrapRXNotTCP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := wrapRX(a); got != a {
		t.Errorf("wrapRX(pipe) = %T, want the pipe itself", got)
	}
}

// stampNS finds the stamp after other control messages and rejects broken
// lengths.
func TestStampNS(t *testing.T) {
	if stampNS(nil) != 0 || stampNS(make([]byte, 15)) != 0 {
		t.Error("stamp from too little")
	}
	bad := make([]byte, 32)
	bad[0] = 200 // Len beyond the buffer
	if stampNS(bad) != 0 {
		t.Error("stamp from a control message longer than its buffer")
	}
	// A stamp of 1 s 2 ns, after another control message (SCM_RIGHTS).
	stamp := make([]byte, syscall.CmsgSpace(16))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&stamp[0]))
	h.Level, h.Type = syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS
	h.SetLen(syscall.CmsgLen(16))
	*(*syscall.Timespec)(unsafe.Pointer(&stamp[syscall.CmsgLen(0)])) = syscall.Timespec{Sec: 1, Nsec: 2}
	if got := stampNS(append(syscall.UnixRights(3), stamp...)); got != 1_000_000_002 {
		t.Errorf("stamp after SCM_RIGHTS: %d, want 1000000002", got)
	}
	h.SetLen(syscall.CmsgLen(8)) // too short for a timespec
	if got := stampNS(stamp); got != 0 {
		t.Errorf("stamp from a short SCM_TIMESTAMPNS: %d", got)
	}
}
