// Package handshake implements the RTMP handshake, both the simple handshake of
// the published RTMP specification and the Flash Player 9 "digest" handshake
// (HMAC-SHA256 digests keyed with the well-known Genuine Adobe keys) that Flash
// Player requires before it plays H.264/AAC, for the server and the client side.
//
// Wire layout: C0/S0 is one version byte (3 = plain RTMP). C1/S1/C2/S2 are
// [Size] bytes each: 4 bytes time, 4 bytes zero (simple) or version (digest),
// then random data. In the digest handshake a 32-byte HMAC-SHA256 digest is
// embedded in C1/S1 at an offset derived from four bytes of the packet
// (see [Scheme]) and S2/C2 end with a 32-byte signature that proves knowledge
// of the peer's digest.
//
// The functions here are pure protocol code: they read exactly the handshake
// bytes (never more, so a buffered reader keeps whatever the peer sent next)
// and do no timing; callers bound the time with connection deadlines.
package handshake

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"
)

// Size is the length of C1, S1, C2 and S2.
const Size = 1536

const (
	// versionPlain is the C0/S0 byte of unencrypted RTMP.
	versionPlain = 3
	// versionRTMPE is the C0 byte of RTMPE (encrypted RTMP, Diffie-Hellman +
	// RC4), which this package does not implement.
	versionRTMPE = 6

	digestLen = sha256.Size // 32
	// offsetMod bounds the digest offset: 4+728+32 bytes fit in each half.
	offsetMod = 728
	// sigStart is where the S2/C2 signature starts (the last 32 bytes).
	sigStart = Size - digestLen // 1504

	fpKeyTextLen  = 30 // len("Genuine Adobe Flash Player 001")
	fmsKeyTextLen = 36 // len("Genuine Adobe Flash Media Server 001")
)

// Sentinel errors. Transport errors (io.EOF, io.ErrUnexpectedEOF, net errors)
// are returned wrapped with the step that failed.
var (
	// ErrVersion reports an unsupported C0/S0 version byte. Version 6
	// (RTMPE, encrypted RTMP) is rejected with this error too.
	ErrVersion = errors.New("handshake: unsupported version")
	// ErrDigest reports a missing or invalid digest or signature in the
	// digest handshake (client side only: the server falls back to the
	// simple handshake when C1 carries no valid digest).
	ErrDigest = errors.New("handshake: digest verification failed")
)

// Scheme names where the digest of a digest handshake sits in C1/S1.
type Scheme int

const (
	// None is the simple handshake: no digest.
	None Scheme = iota
	// Digest0 places the digest at (sum of bytes 772..775) % 728 + 776.
	Digest0
	// Digest1 places the digest at (sum of bytes 8..11) % 728 + 12. This is
	// what ffmpeg and librtmp use for plain RTMP.
	Digest1
)

// String returns a short name of the scheme.
func (s Scheme) String() string {
	switch s {
	case None:
		return "simple"
	case Digest0:
		return "digest0"
	case Digest1:
		return "digest1"
	}
	return fmt.Sprintf("Scheme(%d)", int(s))
}

// base returns the position of the four offset bytes of the scheme.
func (s Scheme) base() int {
	if s == Digest0 {
		return 772
	}
	return 8
}

// keyTail is shared by both well-known keys.
var keyTail = [32]byte{
	0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8,
	0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
	0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB,
	0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
}

var (
	// fpKey is the 62-byte Flash Player key; its first 30 bytes key C1's digest.
	fpKey = append([]byte("Genuine Adobe Flash Player 001"), keyTail[:]...)
	// fmsKey is the 68-byte Flash Media Server key; its first 36 bytes key
	// S1's digest.
	fmsKey = append([]byte("Genuine Adobe Flash Media Server 001"), keyTail[:]...)
	// fmsKeyHashed is fmsKey reduced to 32 bytes as HMAC does for keys
	// longer than the SHA-256 block.
	fmsKeyHashed = sha256.Sum256(fmsKey)
)

// serverVersion goes into S1 bytes 4..7 of a digest handshake. ffmpeg only
// validates the server digest when byte 4 is >= 3.
var serverVersion = [4]byte{4, 5, 0, 1}

// clientVersion goes into C1 bytes 4..7 of a digest handshake (a Flash Player
// version at least 9.0.115.0; nonzero marks a digest-capable client).
var clientVersion = [4]byte{10, 0, 45, 2}

// epoch is the zero of the handshake time field.
var epoch = time.Now()

// state holds all per-handshake buffers so that a handshake allocates nothing
// once the pool is warm.
type state struct {
	in      [1 + 2*Size]byte // C0+C1 (server) or S0+S1+S2 (client)
	out     [1 + 2*Size]byte // S0+S1+S2 (server) or C0+C1 (client)
	other   [Size]byte       // C2
	scratch [sha256.BlockSize + Size]byte
	key     [digestLen]byte
	dig     [digestLen]byte
}

var statePool = sync.Pool{New: func() any { return new(state) }}

// digestOffset returns the digest position in p for the scheme.
func digestOffset(p []byte, s Scheme) int {
	b := s.base()
	sum := int(p[b]) + int(p[b+1]) + int(p[b+2]) + int(p[b+3])
	return sum%offsetMod + b + 4
}

// hmacSHA256 writes HMAC-SHA256(key, m1||m2) to dst using scratch (at least
// BlockSize+len(m1)+len(m2) bytes). Keys longer than a block must be hashed
// by the caller (only fmsKey is, via fmsKeyHashed).
func hmacSHA256(dst *[digestLen]byte, scratch []byte, key, m1, m2 []byte) {
	if len(key) > sha256.BlockSize {
		panic("handshake: hmac key longer than a block")
	}
	var pad [sha256.BlockSize]byte
	copy(pad[:], key)
	for i := range pad {
		scratch[i] = pad[i] ^ 0x36
	}
	n := sha256.BlockSize
	n += copy(scratch[n:], m1)
	n += copy(scratch[n:], m2)
	inner := sha256.Sum256(scratch[:n])
	for i := range pad {
		scratch[i] = pad[i] ^ 0x5c
	}
	copy(scratch[sha256.BlockSize:], inner[:])
	*dst = sha256.Sum256(scratch[:sha256.BlockSize+digestLen])
}

// packetDigest computes the digest of a C1/S1 packet p whose digest sits at
// pos: HMAC over p without the 32 digest bytes.
func (st *state) packetDigest(p, key []byte, pos int) {
	hmacSHA256(&st.dig, st.scratch[:], key, p[:pos], p[pos+digestLen:])
}

// findDigest reports which scheme's digest in p verifies with key, trying
// Digest1 first (ffmpeg, librtmp, OBS), and its position.
func (st *state) findDigest(p, key []byte) (Scheme, int) {
	for _, s := range [...]Scheme{Digest1, Digest0} {
		pos := digestOffset(p, s)
		st.packetDigest(p, key, pos)
		if subtle.ConstantTimeCompare(st.dig[:], p[pos:pos+digestLen]) == 1 {
			return s, pos
		}
	}
	return None, 0
}

// signature computes into st.dig the signature of an S2/C2 packet p:
// HMAC-SHA256 over its first 1504 bytes, keyed by HMAC-SHA256(longKey,
// peerDigest). longKey is given already reduced to at most one block.
func (st *state) signature(p, longKey, peerDigest []byte) {
	hmacSHA256(&st.key, st.scratch[:], longKey, peerDigest, nil)
	hmacSHA256(&st.dig, st.scratch[:], st.key[:], p[:sigStart], nil)
}

// sign fills the last 32 bytes of p with its signature.
func (st *state) sign(p, longKey, peerDigest []byte) {
	st.signature(p, longKey, peerDigest)
	copy(p[sigStart:], st.dig[:])
}

// fillRandom fills p with non-cryptographic random bytes; handshake data is
// not a secret.
func fillRandom(p []byte) {
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, rand.Uint64())
		p = p[8:]
	}
	if len(p) > 0 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], rand.Uint64())
		copy(p, b[:])
	}
}

func now() uint32 { return uint32(time.Since(epoch).Milliseconds()) }

// checkVersion validates a C0/S0 byte.
func checkVersion(v byte, what string) error {
	switch v {
	case versionPlain:
		return nil
	case versionRTMPE:
		return fmt.Errorf("%w: %s is 6 (RTMPE, encrypted RTMP, not supported)", ErrVersion, what)
	}
	return fmt.Errorf("%w: %s is %d", ErrVersion, what, v)
}

// Server performs the server side of the handshake. It reads C0 and C1
// (exactly 1+[Size] bytes, C0 first so that a wrong version is rejected
// without waiting for C1), writes S0+S1+S2 with one Write call, then reads C2
// ([Size] bytes). It never reads past C2, so r may be the connection's
// buffered reader with the client's first chunks already behind C2.
//
// If C1 carries a nonzero version (bytes 4..7) and a valid Flash Player digest
// in either scheme, the server answers with the digest handshake in the same
// scheme and returns that scheme; otherwise it answers with the simple
// handshake (S2 echoes C1) and returns [None].
//
// C2 is read but not validated: real clients differ (ffmpeg echoes S1 when
// publishing, Flash Player and librtmp sign it, others send garbage), and no
// known server rejects a bad C2.
//
// C0 must be 3; anything else, including 6 (RTMPE), fails with [ErrVersion]
// before C1 is read. Server does no timing itself; set deadlines on the
// connection.
func Server(r io.Reader, w io.Writer) (Scheme, error) {
	st := statePool.Get().(*state)
	defer statePool.Put(st)

	c0 := st.in[:1]
	if _, err := io.ReadFull(r, c0); err != nil {
		return None, fmt.Errorf("handshake: read C0: %w", err)
	}
	if err := checkVersion(c0[0], "C0"); err != nil {
		return None, err
	}
	c1 := st.in[1 : 1+Size]
	if _, err := io.ReadFull(r, c1); err != nil {
		return None, fmt.Errorf("handshake: read C1: %w", err)
	}

	scheme, cpos := None, 0
	if binary.BigEndian.Uint32(c1[4:8]) != 0 {
		scheme, cpos = st.findDigest(c1, fpKey[:fpKeyTextLen])
	}

	out := st.out[:]
	out[0] = versionPlain
	s1 := out[1 : 1+Size]
	s2 := out[1+Size:]
	binary.BigEndian.PutUint32(s1[0:4], now())
	fillRandom(s1[8:])
	if scheme == None {
		clear(s1[4:8])
		copy(s2, c1)
	} else {
		copy(s1[4:8], serverVersion[:])
		spos := digestOffset(s1, scheme)
		st.packetDigest(s1, fmsKey[:fmsKeyTextLen], spos)
		copy(s1[spos:], st.dig[:])

		fillRandom(s2)
		st.sign(s2, fmsKeyHashed[:], c1[cpos:cpos+digestLen])
	}
	if _, err := w.Write(out); err != nil {
		return None, fmt.Errorf("handshake: write S0+S1+S2: %w", err)
	}

	if _, err := io.ReadFull(r, st.other[:]); err != nil {
		return None, fmt.Errorf("handshake: read C2: %w", err)
	}
	return scheme, nil
}

// Client performs the client side of the handshake: it writes C0+C1 with one
// Write call, reads S0+S1+S2 (exactly 1+2*[Size] bytes) and writes C2.
//
// With digest true, C1 carries a Flash Player version and a Flash Player
// digest in scheme [Digest1]; the server's S1 digest must verify (either
// scheme) and S2's signature must match C1's digest, else [ErrDigest]. C2 is
// then signed with a key derived from S1's digest, as Flash Player does.
//
// With digest false, the simple handshake is performed: C2 echoes S1. S2 is
// not compared with C1, as servers differ in what they put there.
func Client(r io.Reader, w io.Writer, digest bool) error {
	st := statePool.Get().(*state)
	defer statePool.Put(st)

	out := st.out[:1+Size]
	out[0] = versionPlain
	c1 := out[1:]
	binary.BigEndian.PutUint32(c1[0:4], now())
	fillRandom(c1[8:])
	cpos := 0
	if digest {
		copy(c1[4:8], clientVersion[:])
		cpos = digestOffset(c1, Digest1)
		st.packetDigest(c1, fpKey[:fpKeyTextLen], cpos)
		copy(c1[cpos:], st.dig[:])
	} else {
		clear(c1[4:8])
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("handshake: write C0+C1: %w", err)
	}

	in := st.in[:]
	if _, err := io.ReadFull(r, in[:1]); err != nil {
		return fmt.Errorf("handshake: read S0: %w", err)
	}
	if err := checkVersion(in[0], "S0"); err != nil {
		return err
	}
	if _, err := io.ReadFull(r, in[1:]); err != nil {
		return fmt.Errorf("handshake: read S1+S2: %w", err)
	}
	s1 := in[1 : 1+Size]
	s2 := in[1+Size:]

	c2 := st.other[:]
	if digest {
		scheme, spos := st.findDigest(s1, fmsKey[:fmsKeyTextLen])
		if scheme == None {
			return fmt.Errorf("%w: S1 carries no valid server digest", ErrDigest)
		}
		st.signature(s2, fmsKeyHashed[:], c1[cpos:cpos+digestLen])
		if subtle.ConstantTimeCompare(st.dig[:], s2[sigStart:]) != 1 {
			return fmt.Errorf("%w: S2 signature does not match C1 digest", ErrDigest)
		}
		fillRandom(c2)
		st.sign(c2, fpKey, s1[spos:spos+digestLen])
	} else {
		copy(c2, s1)
	}
	if _, err := w.Write(c2); err != nil {
		return fmt.Errorf("handshake: write C2: %w", err)
	}
	return nil
}
