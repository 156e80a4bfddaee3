package main

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rxConn reads a TCP connection with recvmsg and keeps the kernel's receive
// timestamp (SO_TIMESTAMPNS) of its last read: the wall-clock time at which
// the newest of the bytes that read returned reached the socket. Over
// loopback the kernel stamps a segment as the sender's write hands it to the
// receiving side, so for a message the stamp of the read that completed it
// is its delivery to this client, before this process got round to reading
// it (or later, if the same read also took newer bytes).
//
// The kernel turns stamping on for the whole system when the first socket
// asks for it, a little later: the first segments after that may come
// without a stamp, and a read of them reports none.
//
// Only the goroutine that reads may call Read and look at last.
type rxConn struct {
	net.Conn // the *net.TCPConn: writes, deadlines, Close
	raw      syscall.RawConn
	recvFn   func(fd uintptr) bool // c.recv, bound once: Read does not allocate

	p    []byte    // Read's buffer, while in Read
	n    int       // recv's result
	err  error     // recv's error
	oob  [8]uint64 // control messages (8-byte aligned)
	last int64     // Unix ns of the last read's stamp; 0: it had none
}

// wrapRX wraps nc as an rxConn. A connection that is not TCP, or whose
// socket refuses timestamps, is returned as it is.
func wrapRX(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nc
	}
	c := &rxConn{Conn: nc, raw: raw}
	c.recvFn = c.recv
	return c
}

// lastRX returns the stamp of the last read (Unix ns), 0 if c is nil or
// the read had none.
func (c *rxConn) lastRX() int64 {
	if c == nil {
		return 0
	}
	return c.last
}

func (c *rxConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.p, c.n, c.err = p, 0, nil
	err := c.raw.Read(c.recvFn)
	c.p = nil
	if err == nil {
		err = c.err
	}
	if err != nil {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	if c.n == 0 {
		return 0, io.EOF
	}
	return c.n, nil
}

// recv is one recvmsg; false asks the poller to wait for the socket.
func (c *rxConn) recv(fd uintptr) bool {
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&c.oob[0])), len(c.oob)*8)
	for {
		n, oobn, _, _, err := syscall.Recvmsg(int(fd), c.p, oob, 0)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case nil:
			c.n = n
			c.last = stampNS(oob[:oobn])
		default:
			c.err = err
		}
		return true
	}
}

// stampNS finds the SCM_TIMESTAMPNS control message in oob and returns its
// time in Unix ns (0: none).
func stampNS(oob []byte) int64 {
	const hdr = syscall.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && l >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[syscall.CmsgLen(0)]))
			return ts.Nano()
		}
		oob = oob[min(syscall.CmsgSpace(l-syscall.CmsgLen(0)), len(oob)):]
	}
	return 0
}
