//go:build !linux

package main

import "net"

// rxConn is Linux only: elsewhere no connection is wrapped and the report's
// socket latencies stay empty.
type rxConn struct{ net.Conn }

func wrapRX(nc net.Conn) net.Conn { return nc }

func (c *rxConn) lastRX() int64 { return 0 }
