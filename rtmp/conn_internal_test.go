package rtmp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// A client that goes away ends its connection quietly, whichever side sees
// it first: the reader (EOF, reset) or the writer (reset, broken pipe, as
// the net package returns them); anything else is a protocol error.
func TestIsEOF(t *testing.T) {
	sockErr := func(op string, errno syscall.Errno) error {
		return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, errno)}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{fmt.Errorf("chunk: reading header: %w", io.ErrUnexpectedEOF), true},
		{net.ErrClosed, true},
		{sockErr("read", syscall.ECONNRESET), true},
		{sockErr("write", syscall.ECONNRESET), true},
		{sockErr("write", syscall.EPIPE), true},
		{sockErr("write", syscall.ETIMEDOUT), false},
		{ErrQueueFull, false},
		{errors.New("chunk: message too large"), false},
	} {
		if got := isEOF(tc.err); got != tc.want {
			t.Errorf("isEOF(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
