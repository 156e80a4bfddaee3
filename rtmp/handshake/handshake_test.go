package handshake

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
)

// Independent reference computations with crypto/hmac, written from the
// description of the handshake rather than from the package internals.

var (
	refTail = []byte{
		0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
		0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
	}
	refFP  = append([]byte("Genuine Adobe Flash Player 001"), refTail...)
	refFMS = append([]byte("Genuine Adobe Flash Media Server 001"), refTail...)
)

func refHMAC(key []byte, msgs ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range msgs {
		m.Write(p)
	}
	return m.Sum(nil)
}

// refOffset: base 8 for scheme 1, 772 for scheme 0.
func refOffset(p []byte, base int) int {
	return (int(p[base])+int(p[base+1])+int(p[base+2])+int(p[base+3]))%728 + base + 4
}

func refPacketDigest(p []byte, pos int, key []byte) []byte {
	return refHMAC(key, p[:pos], p[pos+32:])
}

// refVerifyPacket reports whether p carries a valid digest at the scheme's
// offset with key, and the offset.
func refVerifyPacket(p []byte, base int, key []byte) (bool, int) {
	pos := refOffset(p, base)
	return bytes.Equal(refPacketDigest(p, pos, key), p[pos:pos+32]), pos
}

func refSignature(p []byte, longKey, peerDigest []byte) []byte {
	return refHMAC(refHMAC(longKey, peerDigest), p[:1504])
}

// makeC1 builds a deterministic C1. base is 0 for no digest, else 8 or 772;
// key is the key used for the digest; version goes into bytes 4..7; offBytes,
// if non-nil, overrides the four offset bytes at base.
func makeC1(seed uint64, version [4]byte, base int, key []byte, offBytes []byte) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c1 := make([]byte, Size)
	for i := 8; i < Size; i++ {
		c1[i] = byte(rng.Uint32())
	}
	c1[0], c1[1], c1[2], c1[3] = 0, 0, 0x12, 0x34
	copy(c1[4:8], version[:])
	if base != 0 {
		if offBytes != nil {
			copy(c1[base:base+4], offBytes)
		}
		pos := refOffset(c1, base)
		copy(c1[pos:], refPacketDigest(c1, pos, key))
	}
	return c1
}

func randBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var fp9 = [4]byte{9, 0, 124, 2}

type serverCase struct {
	name   string
	in     []byte // C0 + C1 + C2
	scheme Scheme
	err    error // matched with errors.Is; nil for success
}

// serverCases is the table shared by the unit tests and FuzzServer's seeds.
func serverCases() []serverCase {
	c2 := randBytes(99, Size)
	ok := func(c1 []byte) []byte { return cat([]byte{3}, c1, c2) }
	return []serverCase{
		{"simple", ok(makeC1(1, [4]byte{}, 0, nil, nil)), None, nil},
		{"digest1", ok(makeC1(2, fp9, 8, refFP[:30], nil)), Digest1, nil},
		{"digest0", ok(makeC1(3, fp9, 772, refFP[:30], nil)), Digest0, nil},
		{"digest1_max_offset", ok(makeC1(4, fp9, 8, refFP[:30], []byte{0xff, 0xff, 0xff, 0xff})), Digest1, nil},
		{"digest0_offset_727", ok(makeC1(5, fp9, 772, refFP[:30], []byte{0xff, 0xff, 0xd9, 0x00})), Digest0, nil},
		{"digest0_offset_0", ok(makeC1(6, fp9, 772, refFP[:30], []byte{0, 0, 0, 0})), Digest0, nil},
		{"version_no_digest", ok(makeC1(7, fp9, 0, nil, nil)), None, nil},
		{"digest_zero_version", ok(makeC1(8, [4]byte{}, 8, refFP[:30], nil)), None, nil},
		{"digest_wrong_key", ok(makeC1(9, fp9, 8, refFMS[:36], nil)), None, nil},
		{"digest_full_key", ok(makeC1(10, fp9, 8, refFP, nil)), None, nil},
		{"version_4", cat([]byte{4}, makeC1(1, [4]byte{}, 0, nil, nil), c2), None, ErrVersion},
		{"version_6_rtmpe", cat([]byte{6}, makeC1(2, fp9, 8, refFP[:30], nil), c2), None, ErrVersion},
		{"version_0", []byte{0}, None, ErrVersion},
		{"http", []byte("GET / HTTP/1.1\r\n\r\n"), None, ErrVersion},
		{"empty", nil, None, io.EOF},
		{"c0_only", []byte{3}, None, io.EOF},
		{"truncated_c1", cat([]byte{3}, makeC1(1, [4]byte{}, 0, nil, nil)[:1000]), None, io.ErrUnexpectedEOF},
		{"no_c2", cat([]byte{3}, makeC1(1, [4]byte{}, 0, nil, nil)), None, io.EOF},
		{"truncated_c2", cat([]byte{3}, makeC1(2, fp9, 8, refFP[:30], nil), c2[:1535]), None, io.ErrUnexpectedEOF},
	}
}

func TestKnownOffsets(t *testing.T) {
	// The offset bytes in the table cases give the documented extremes.
	p := make([]byte, Size)
	copy(p[8:], []byte{0xff, 0xff, 0xff, 0xff})
	if got, want := digestOffset(p, Digest1), 1020%728+12; got != want {
		t.Errorf("Digest1 offset = %d, want %d", got, want)
	}
	copy(p[772:], []byte{0xff, 0xff, 0xd9, 0x00})
	if got, want := digestOffset(p, Digest0), 727+776; got != want {
		t.Errorf("Digest0 offset = %d, want %d", got, want)
	}
	if got := digestOffset(p, Digest0) + 32; got != Size-1 {
		t.Errorf("Digest0 max digest end = %d, want %d", got, Size-1)
	}
	if len(fpKey) != 62 || len(fmsKey) != 68 {
		t.Fatalf("key lengths %d, %d", len(fpKey), len(fmsKey))
	}
	if !bytes.Equal(fpKey, refFP) || !bytes.Equal(fmsKey, refFMS) {
		t.Fatal("keys differ from reference")
	}
}

func TestHMACMatchesStdlib(t *testing.T) {
	var st state
	for _, key := range [][]byte{nil, refFP[:30], refFP, refHMAC(refFMS, []byte("x"))} {
		for _, n := range []int{0, 1, 55, 64, 1504, Size} {
			m := randBytes(uint64(n), n)
			hmacSHA256(&st.dig, st.scratch[:], key, m[:n/3], m[n/3:])
			if want := refHMAC(key, m); !bytes.Equal(st.dig[:], want) {
				t.Errorf("key %d bytes, msg %d bytes: mismatch", len(key), n)
			}
		}
	}
	// The long FMS key is used pre-hashed.
	hmacSHA256(&st.dig, st.scratch[:], fmsKeyHashed[:], []byte("abc"), nil)
	if want := refHMAC(refFMS, []byte("abc")); !bytes.Equal(st.dig[:], want) {
		t.Error("pre-hashed FMS key mismatch")
	}
}

func TestServerTable(t *testing.T) {
	extra := []byte("\x03\x00\x00\x00\x00\x00\x9f\x14\x00\x00\x00\x00first chunk")
	for _, tc := range serverCases() {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if tc.err == nil {
				in = cat(in, extra) // the client's first chunk behind C2
			}
			br := bufio.NewReader(bytes.NewReader(in)) // buffers past C2
			var out bytes.Buffer
			scheme, err := Server(br, &out)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if tc.err == ErrVersion && out.Len() != 0 {
					t.Errorf("wrote %d bytes after a version error", out.Len())
				}
				return
			}
			if err != nil {
				t.Fatalf("Server: %v", err)
			}
			if scheme != tc.scheme {
				t.Fatalf("scheme = %v, want %v", scheme, tc.scheme)
			}
			rest, _ := io.ReadAll(br)
			if !bytes.Equal(rest, extra) {
				t.Errorf("bytes after C2 = %q, want %q", rest, extra)
			}
			checkServerReply(t, out.Bytes(), tc.in[1:1+Size], scheme)
		})
	}
}

// checkServerReply verifies S0+S1+S2 for C1 with independent computations.
func checkServerReply(t *testing.T, out, c1 []byte, scheme Scheme) {
	t.Helper()
	if len(out) != 1+2*Size {
		t.Fatalf("reply is %d bytes, want %d", len(out), 1+2*Size)
	}
	if out[0] != 3 {
		t.Errorf("S0 = %d", out[0])
	}
	s1, s2 := out[1:1+Size], out[1+Size:]
	switch scheme {
	case None:
		if !bytes.Equal(s1[4:8], []byte{0, 0, 0, 0}) {
			t.Errorf("simple S1 zero field = %x", s1[4:8])
		}
		if !bytes.Equal(s2, c1) {
			t.Error("simple S2 is not an echo of C1")
		}
	case Digest0, Digest1:
		base := 8
		if scheme == Digest0 {
			base = 772
		}
		if s1[4] < 3 {
			t.Errorf("S1 version %v: ffmpeg needs byte 4 >= 3", s1[4:8])
		}
		ok, _ := refVerifyPacket(s1, base, refFMS[:36])
		if !ok {
			t.Fatal("S1 digest does not verify in the client's scheme")
		}
		_, cpos := refVerifyPacket(c1, base, refFP[:30])
		if want := refSignature(s2, refFMS, c1[cpos:cpos+32]); !bytes.Equal(s2[1504:], want) {
			t.Fatal("S2 signature mismatch")
		}
	}
}

func TestServerSingleWrite(t *testing.T) {
	for _, tc := range serverCases()[:2] {
		w := &countWriter{}
		if _, err := Server(bytes.NewReader(tc.in), w); err != nil {
			t.Fatal(err)
		}
		if w.calls != 1 || w.n != 1+2*Size {
			t.Errorf("%s: %d writes, %d bytes; want 1 write of %d", tc.name, w.calls, w.n, 1+2*Size)
		}
	}
}

type countWriter struct{ calls, n int }

func (w *countWriter) Write(p []byte) (int, error) { w.calls++; w.n += len(p); return len(p), nil }

type failWriter struct{}

var errBroken = errors.New("broken pipe")

func (failWriter) Write([]byte) (int, error) { return 0, errBroken }

func TestWriteErrorsWrapped(t *testing.T) {
	tc := serverCases()[0]
	if _, err := Server(bytes.NewReader(tc.in), failWriter{}); !errors.Is(err, errBroken) {
		t.Errorf("Server write error = %v", err)
	}
	if err := Client(bytes.NewReader(nil), failWriter{}, true); !errors.Is(err, errBroken) {
		t.Errorf("Client write error = %v", err)
	}
}

// pipePair returns two connected ends; tcp selects a loopback TCP pair.
func pipePair(t *testing.T, tcp bool) (net.Conn, net.Conn) {
	t.Helper()
	if !tcp {
		a, b := net.Pipe()
		return a, b
	}
	a, b := testutil.TCPPair(t)
	return a, b
}

func TestClientServer(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		for _, digest := range []bool{false, true} {
			t.Run(fmt.Sprintf("tcp=%v/digest=%v", tcp, digest), func(t *testing.T) {
				cc, sc := pipePair(t, tcp)
				defer cc.Close()
				defer sc.Close()
				var (
					wg     sync.WaitGroup
					scheme Scheme
					serr   error
					first  []byte
				)
				wg.Go(func() {
					br := bufio.NewReader(sc)
					scheme, serr = Server(br, sc)
					if serr == nil {
						first = make([]byte, 5)
						_, serr = io.ReadFull(br, first)
					}
				})
				if err := Client(cc, cc, digest); err != nil {
					t.Fatalf("Client: %v", err)
				}
				if _, err := cc.Write([]byte("hello")); err != nil {
					t.Fatal(err)
				}
				wg.Wait()
				if serr != nil {
					t.Fatalf("Server: %v", serr)
				}
				want := None
				if digest {
					want = Digest1
				}
				if scheme != want {
					t.Errorf("scheme = %v, want %v", scheme, want)
				}
				if string(first) != "hello" {
					t.Errorf("first bytes after handshake = %q", first)
				}
			})
		}
	}
}

// TestClientC2 checks what the client sends as C2 against a scripted server.
func TestClientC2(t *testing.T) {
	for _, digest := range []bool{false, true} {
		t.Run(fmt.Sprintf("digest=%v", digest), func(t *testing.T) {
			cc, sc := net.Pipe()
			defer cc.Close()
			defer sc.Close()
			errc := make(chan error, 1)
			go func() { errc <- Client(cc, cc, digest) }()

			c0c1 := make([]byte, 1+Size)
			if _, err := io.ReadFull(sc, c0c1); err != nil {
				t.Fatal(err)
			}
			c1 := c0c1[1:]
			var reply bytes.Buffer
			if _, err := Server(bytes.NewReader(cat(c0c1, make([]byte, Size))), &reply); err != nil {
				t.Fatal(err)
			}
			if _, err := sc.Write(reply.Bytes()); err != nil {
				t.Fatal(err)
			}
			c2 := make([]byte, Size)
			if _, err := io.ReadFull(sc, c2); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			s1 := reply.Bytes()[1 : 1+Size]
			if !digest {
				if !bytes.Equal(c2, s1) {
					t.Error("simple C2 is not an echo of S1")
				}
				if !bytes.Equal(c1[4:8], []byte{0, 0, 0, 0}) {
					t.Error("simple C1 has a version")
				}
				return
			}
			ok, _ := refVerifyPacket(c1, 8, refFP[:30])
			if !ok {
				t.Fatal("C1 digest (scheme 1, base 8) does not verify")
			}
			_, spos := refVerifyPacket(s1, 8, refFMS[:36])
			if want := refSignature(c2, refFP, s1[spos:spos+32]); !bytes.Equal(c2[1504:], want) {
				t.Error("C2 signature mismatch")
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	// A simple server's reply fails a digest client.
	simple := func(c0c1 []byte) []byte {
		s1 := randBytes(5, Size)
		return cat([]byte{3}, s1, c0c1[1:])
	}
	// A server with a valid S1 digest but a bad S2 signature.
	badS2 := func(c0c1 []byte) []byte {
		var out bytes.Buffer
		Server(bytes.NewReader(cat(c0c1, make([]byte, Size))), &out)
		b := out.Bytes()
		b[len(b)-1] ^= 1
		return b
	}
	cases := []struct {
		name   string
		digest bool
		reply  func(c0c1 []byte) []byte
		err    error
	}{
		{"simple_server_digest_client", true, simple, ErrDigest},
		{"bad_s2_signature", true, badS2, ErrDigest},
		{"s0_version_6", false, func([]byte) []byte { return []byte{6} }, ErrVersion},
		{"s0_version_9", false, func([]byte) []byte { return []byte{9} }, ErrVersion},
		{"no_reply", false, func([]byte) []byte { return nil }, io.EOF},
		{"truncated_s1", false, func(c []byte) []byte { return simple(c)[:100] }, io.ErrUnexpectedEOF},
		{"truncated_s2", true, func(c []byte) []byte { return badS2(c)[:2*Size] }, io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &scriptConn{reply: tc.reply}
			err := Client(w, w, tc.digest)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

// scriptConn answers the first write (C0+C1) with reply(C0+C1).
type scriptConn struct {
	reply func([]byte) []byte
	r     *bytes.Reader
}

func (c *scriptConn) Write(p []byte) (int, error) {
	if c.r == nil {
		c.r = bytes.NewReader(c.reply(bytes.Clone(p)))
	}
	return len(p), nil
}

func (c *scriptConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestSchemeString(t *testing.T) {
	for s, want := range map[Scheme]string{None: "simple", Digest0: "digest0", Digest1: "digest1", 7: "Scheme(7)"} {
		if s.String() != want {
			t.Errorf("%d: %q", int(s), s.String())
		}
	}
}

// TestFuzzCorpus keeps testdata/fuzz/FuzzServer in step with serverCases.
// Regenerate with SCOPECAST_UPDATE_CORPUS=1.
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for _, tc := range serverCases() {
		c.Add("FuzzServer", "seed_"+tc.name, tc.in)
	}
	c.Check(t, os.Getenv("SCOPECAST_UPDATE_CORPUS") != "", "with SCOPECAST_UPDATE_CORPUS=1")
}

func FuzzServer(f *testing.F) {
	for _, tc := range serverCases() {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		scheme, err := Server(r, io.Discard)
		if err != nil {
			if scheme != None {
				t.Fatalf("error %v with scheme %v", err, scheme)
			}
			return
		}
		if consumed := len(in) - r.Len(); consumed != 1+2*Size {
			t.Fatalf("consumed %d bytes", consumed)
		}
		if scheme != None {
			// The reported scheme's digest must really verify.
			base := 8
			if scheme == Digest0 {
				base = 772
			}
			if ok, _ := refVerifyPacket(in[1:1+Size], base, refFP[:30]); !ok {
				t.Fatalf("scheme %v reported without a valid digest", scheme)
			}
		}
	})
}

func BenchmarkServerDigest(b *testing.B) {
	in := serverCases()[1].in
	r := bytes.NewReader(in)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r.Reset(in)
		if s, err := Server(r, io.Discard); err != nil || s != Digest1 {
			b.Fatal(s, err)
		}
	}
}

func BenchmarkServerSimple(b *testing.B) {
	in := serverCases()[0].in
	r := bytes.NewReader(in)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r.Reset(in)
		if _, err := Server(r, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClientDigest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		w := &scriptConn{reply: func(c0c1 []byte) []byte {
			var out bytes.Buffer
			Server(bytes.NewReader(cat(c0c1, make([]byte, Size))), &out)
			return out.Bytes()
		}}
		if err := Client(w, w, true); err != nil {
			b.Fatal(err)
		}
	}
}
