package rtmp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// ErrTLSConfig is returned by ServeTLS and ListenAndServeTLS for a TLS
// configuration that cannot serve: nil, or without a certificate.
var ErrTLSConfig = errors.New("rtmp: unusable TLS configuration")

// DefaultRTMPSAddr is where ListenAndServeTLS listens when addr is empty:
// RTMPS clients (OBS, ffmpeg, the big platforms' ingest URLs) use port 443
// unless a URL names another.
const DefaultRTMPSAddr = ":443"

// ServeTLS is Serve for RTMPS: every connection accepted on l speaks TLS
// first, then RTMP inside it, and is served with protocol "rtmps"
// (scope.Conn.Protocol, logs, metrics). cfg must hold a certificate
// (Certificates, GetCertificate or GetConfigForClient); it is cloned, so later
// changes to it have no effect. The TLS handshake counts as part of the RTMP
// handshake: HandshakeTimeout bounds both together, so a client that opens
// TCP and never speaks TLS is closed when it runs out.
//
// Serve and ServeTLS may run at once on different listeners of one Server;
// Shutdown closes them all.
func (s *Server) ServeTLS(l net.Listener, cfg *tls.Config) error {
	if cfg == nil {
		return fmt.Errorf("%w: nil config", ErrTLSConfig)
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return fmt.Errorf("%w: no certificate", ErrTLSConfig)
	}
	cfg = cfg.Clone()
	return s.serve(l, "rtmps", func(nc net.Conn) net.Conn { return tls.Server(nc, cfg) })
}

// ListenAndServeTLS listens on addr (DefaultRTMPSAddr, ":443", when empty)
// and serves RTMPS with the certificate chain and private key of the PEM
// files certFile and keyFile (see ServeTLS).
func (s *Server) ListenAndServeTLS(addr, certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTLSConfig, err)
	}
	if addr == "" {
		addr = DefaultRTMPSAddr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.ServeTLS(l, &tls.Config{Certificates: []tls.Certificate{cert}})
}
