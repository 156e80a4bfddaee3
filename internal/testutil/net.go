package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TCPPair returns the two ends of a new loopback TCP connection, the dialled
// one and the accepted one, both closed when the test ends.
func TCPPair(t testing.TB) (dialed, accepted *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return d.(*net.TCPConn), a.(*net.TCPConn)
}

// DiscardConn is a socket that takes every write at once and reads nothing:
// a benchmark with it measures the server's own work per delivered frame,
// not the kernel's.
type DiscardConn struct{}

func (DiscardConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (DiscardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (DiscardConn) Close() error                     { return nil }
func (DiscardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (DiscardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (DiscardConn) SetDeadline(time.Time) error      { return nil }
func (DiscardConn) SetReadDeadline(time.Time) error  { return nil }
func (DiscardConn) SetWriteDeadline(time.Time) error { return nil }

// WriteBuffers takes a whole vectored write at once, as a socket's writev
// does.
func (DiscardConn) WriteBuffers(v [][]byte) (int64, error) {
	var n int64
	for _, b := range v {
		n += int64(len(b))
	}
	return n, nil
}

// SelfSignedCert writes a fresh self-signed ECDSA certificate for 127.0.0.1
// and localhost, valid from an hour ago for a day, and its key, as PEM files
// in the test's temporary directory.
func SelfSignedCert(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "scopecast test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
