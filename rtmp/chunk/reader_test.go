package chunk

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"
	"unsafe"
)

// Hand-built chunk headers, independent of AppendMessage.

func bh(f byte, csid uint32) []byte {
	switch {
	case csid < 64:
		return []byte{f<<6 | byte(csid)}
	case csid < 320:
		return []byte{f << 6, byte(csid - 64)}
	default:
		return []byte{f<<6 | 1, byte(csid - 64), byte((csid - 64) >> 8)}
	}
}

func be24(v uint32) []byte { return []byte{byte(v >> 16), byte(v >> 8), byte(v)} }

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// h0 is a format-0 chunk header; field is the raw 24-bit timestamp field.
func h0(csid, field, length uint32, typ byte, sid uint32) []byte {
	b := append(bh(0, csid), be24(field)...)
	b = append(b, be24(length)...)
	b = append(b, typ)
	return binary.LittleEndian.AppendUint32(b, sid)
}

func h1(csid, field, length uint32, typ byte) []byte {
	b := append(bh(1, csid), be24(field)...)
	b = append(b, be24(length)...)
	return append(b, typ)
}

func h2(csid, field uint32) []byte { return append(bh(2, csid), be24(field)...) }

func h3(csid uint32) []byte { return bh(3, csid) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

// pay returns n deterministic payload bytes.
func pay(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// scs is a Set Chunk Size message on chunk stream 2.
func scs(n uint32) []byte { return cat(h0(2, 0, 4, TypeSetChunkSize, 0), be32(n)) }

// abortMsg is an Abort message on chunk stream 2 for csid.
func abortMsg(csid uint32) []byte { return cat(h0(2, 0, 4, TypeAbort, 0), be32(csid)) }

func msg(csid, ts uint32, typ byte, sid uint32, p []byte) Message {
	return Message{ChunkStreamID: csid, Timestamp: ts, TypeID: typ, StreamID: sid, Payload: p}
}

type readerCase struct {
	name      string
	in        []byte
	lim       Limits
	want      []Message
	err       error  // expected final error; nil means a clean io.EOF
	chunkSize uint32 // expected final incoming chunk size, 0 = don't check
	peekOnly  bool   // only meaningful when the reader can peek
}

var (
	p3   = []byte{0xAA, 0xBB, 0xCC}
	p200 = pay(200, 1)
	p150 = pay(150, 50)
	p5k  = pay(5000, 9)
)

var readerCases = []readerCase{
	// Basic headers, literal bytes.
	{name: "csid2_1byte",
		in:   []byte{0x02, 0, 0, 0x64, 0, 0, 3, 20, 0, 0, 0, 0, 0xAA, 0xBB, 0xCC},
		want: []Message{msg(2, 100, 20, 0, p3)}},
	{name: "csid63_1byte",
		in:   []byte{0x3F, 0, 0, 1, 0, 0, 3, 9, 1, 0, 0, 0, 0xAA, 0xBB, 0xCC},
		want: []Message{msg(63, 1, 9, 1, p3)}},
	{name: "csid64_2byte",
		in:   []byte{0x00, 0x00, 0, 0, 1, 0, 0, 3, 9, 1, 0, 0, 0, 0xAA, 0xBB, 0xCC},
		want: []Message{msg(64, 1, 9, 1, p3)}},
	{name: "csid319_2byte",
		in:   []byte{0x00, 0xFF, 0, 0, 1, 0, 0, 3, 9, 0x04, 0x03, 0x02, 0x01, 0xAA, 0xBB, 0xCC},
		want: []Message{msg(319, 1, 9, 0x01020304, p3)}},
	{name: "csid320_3byte",
		in:   []byte{0x01, 0x00, 0x01, 0, 0, 1, 0, 0, 3, 9, 1, 0, 0, 0, 0xAA, 0xBB, 0xCC},
		want: []Message{msg(320, 1, 9, 1, p3)}},
	{name: "csid65599_3byte",
		in:   []byte{0x01, 0xFF, 0xFF, 0, 0, 1, 0, 0, 3, 9, 1, 0, 0, 0, 0xAA, 0xBB, 0xCC},
		want: []Message{msg(65599, 1, 9, 1, p3)}},
	{name: "csid65599_continuation",
		in:   cat(h0(65599, 5, 200, 9, 1), p200[:128], h3(65599), p200[128:]),
		want: []Message{msg(65599, 5, 9, 1, p200)}},
	{name: "csid319_continuation",
		in:   cat(h0(319, 5, 200, 9, 1), p200[:128], h3(319), p200[128:]),
		want: []Message{msg(319, 5, 9, 1, p200)}},

	// Header formats.
	{name: "fmt1_fmt2_fmt3",
		in: cat(
			h0(4, 1000, 3, 9, 1), p3,
			h1(4, 40, 5, 8), pay(5, 2), // ts 1040, stream id kept
			h2(4, 20), pay(5, 3), // ts 1060, length and type kept
			h3(4), pay(5, 4), // new message, delta 20 again: ts 1080
		),
		want: []Message{
			msg(4, 1000, 9, 1, p3),
			msg(4, 1040, 8, 1, pay(5, 2)),
			msg(4, 1060, 8, 1, pay(5, 3)),
			msg(4, 1080, 8, 1, pay(5, 4)),
		}},
	{name: "fmt3_new_message_after_fmt0",
		// The format-0 timestamp is re-applied as the delta (spec, ffmpeg).
		in:   cat(h0(4, 23, 3, 8, 1), p3, h3(4), p3, h3(4), p3),
		want: []Message{msg(4, 23, 8, 1, p3), msg(4, 46, 8, 1, p3), msg(4, 69, 8, 1, p3)}},
	{name: "fmt3_new_message_after_fmt0_zero",
		in:   cat(h0(3, 0, 3, 20, 0), p3, h3(3), p3),
		want: []Message{msg(3, 0, 20, 0, p3), msg(3, 0, 20, 0, p3)}},
	{name: "fmt2_after_continued_message",
		in:   cat(h0(4, 10, 200, 9, 1), p200[:128], h3(4), p200[128:], h2(4, 33), p200[:128], h3(4), p200[128:]),
		want: []Message{msg(4, 10, 9, 1, p200), msg(4, 43, 9, 1, p200)}},

	// Extended timestamps.
	{name: "ext_fmt0",
		in:   cat(h0(4, 0xFFFFFF, 3, 9, 1), be32(0x01000000), p3),
		want: []Message{msg(4, 0x01000000, 9, 1, p3)}},
	{name: "ext_fmt0_exactly_ffffff",
		in:   cat(h0(4, 0xFFFFFF, 3, 9, 1), be32(0xFFFFFF), p3),
		want: []Message{msg(4, 0xFFFFFF, 9, 1, p3)}},
	{name: "ext_fmt0_continuations",
		in: cat(h0(4, 0xFFFFFF, 300, 9, 1), be32(0x12345678), pay(300, 5)[:128],
			h3(4), be32(0x12345678), pay(300, 5)[128:256],
			h3(4), be32(0x12345678), pay(300, 5)[256:]),
		want: []Message{msg(4, 0x12345678, 9, 1, pay(300, 5))}},
	{name: "ext_continuation_absent_peek",
		peekOnly: true,
		in: cat(h0(4, 0xFFFFFF, 200, 9, 1), be32(0x12345678), p200[:128],
			h3(4), p200[128:]),
		want: []Message{msg(4, 0x12345678, 9, 1, p200)}},
	{name: "ext_fmt1_delta_continuation",
		in: cat(h0(4, 100, 3, 9, 1), p3,
			h1(4, 0xFFFFFF, 200, 9), be32(0x01000000), p200[:128], h3(4), be32(0x01000000), p200[128:]),
		want: []Message{msg(4, 100, 9, 1, p3), msg(4, 0x01000064, 9, 1, p200)}},
	{name: "ext_fmt3_new_message_reads_delta",
		in: cat(h0(4, 0xFFFFFF, 3, 9, 1), be32(0x01000000), p3,
			h3(4), be32(40), p3),
		want: []Message{msg(4, 0x01000000, 9, 1, p3), msg(4, 0x01000028, 9, 1, p3)}},
	{name: "delta_wraparound",
		in: cat(h0(4, 0xFFFFFF, 3, 9, 1), be32(0xFFFFFFF0), p3,
			h2(4, 0x20), p3),
		want: []Message{msg(4, 0xFFFFFFF0, 9, 1, p3), msg(4, 0x10, 9, 1, p3)}},

	// Chunk size, abort, interleaving, zero length.
	{name: "chunk_size_4096",
		in:        cat(scs(4096), h0(6, 1, 5000, 9, 1), p5k[:4096], h3(6), p5k[4096:]),
		want:      []Message{msg(6, 1, 9, 1, p5k)},
		chunkSize: 4096},
	{name: "chunk_size_mid_stream",
		in: cat(h0(6, 1, 200, 9, 1), p200[:128], h3(6), p200[128:],
			scs(1), h0(6, 2, 3, 9, 1), p3[:1], h3(6), p3[1:2], h3(6), p3[2:],
			// at chunk size 1 the Set Chunk Size message itself takes 4 chunks
			h0(2, 0, 4, TypeSetChunkSize, 0), []byte{0}, h3(2), []byte{0}, h3(2), []byte{0}, h3(2), []byte{100},
			h0(6, 3, 150, 9, 1), p150[:100], h3(6), p150[100:]),
		want:      []Message{msg(6, 1, 9, 1, p200), msg(6, 2, 9, 1, p3), msg(6, 3, 9, 1, p150)},
		chunkSize: 100},
	{name: "chunk_size_between_chunks_of_a_message",
		in:        cat(h0(6, 1, 200, 9, 1), p200[:128], scs(50), h3(6), p200[128:178], h3(6), p200[178:]),
		want:      []Message{msg(6, 1, 9, 1, p200)},
		chunkSize: 50},
	{name: "abort",
		in: cat(h0(4, 7, 200, 9, 1), p200[:128], abortMsg(4),
			h0(4, 8, 3, 9, 1), p3),
		want: []Message{msg(4, 8, 9, 1, p3)}},
	{name: "abort_idle_and_unknown_and_short",
		in: cat(h0(4, 7, 3, 9, 1), p3, abortMsg(4), abortMsg(1000),
			h0(2, 0, 2, TypeAbort, 0), []byte{0, 4}, h3(4), p3),
		want: []Message{msg(4, 7, 9, 1, p3), msg(4, 14, 9, 1, p3)}},
	{name: "interleaved",
		in: cat(h0(4, 10, 200, 9, 1), p200[:128], h0(6, 20, 150, 8, 1), p150[:128],
			h3(4), p200[128:], h3(6), p150[128:]),
		want: []Message{msg(4, 10, 9, 1, p200), msg(6, 20, 8, 1, p150)}},
	{name: "zero_length",
		in:   cat(h0(3, 5, 0, 20, 0), h3(3), h0(3, 9, 3, 20, 0), p3),
		want: []Message{msg(3, 5, 20, 0, []byte{}), msg(3, 10, 20, 0, []byte{}), msg(3, 9, 20, 0, p3)}},
	{name: "mid_message_fmt2_tolerated",
		in:   cat(h0(4, 10, 200, 9, 1), p200[:128], h2(4, 99), p200[128:]),
		want: []Message{msg(4, 10, 9, 1, p200)}},
	{name: "mid_message_fmt0_ext_tolerated",
		in:   cat(h0(4, 10, 200, 9, 1), p200[:128], h0(4, 0xFFFFFF, 200, 9, 1), be32(0x01000000), p200[128:]),
		want: []Message{msg(4, 10, 9, 1, p200)}},

	// Errors.
	{name: "err_length_changed",
		in:  cat(h0(4, 10, 200, 9, 1), p200[:128], h1(4, 0, 300, 9), p200[128:]),
		err: ErrHeaderChanged},
	{name: "err_chunk_size_zero", in: scs(0), err: ErrChunkSize},
	{name: "err_chunk_size_top_bit", in: scs(0x80000001), err: ErrChunkSize},
	{name: "err_chunk_size_over_limit", in: scs(4097), lim: Limits{MaxChunkSize: 4096}, err: ErrChunkSize},
	{name: "err_chunk_size_short", in: cat(h0(2, 0, 3, TypeSetChunkSize, 0), p3), err: ErrChunkSize},
	{name: "err_fmt1_no_previous", in: cat(h1(4, 0, 3, 9), p3), err: ErrNoPreviousHeader},
	{name: "err_fmt2_no_previous", in: cat(h2(4, 0), p3), err: ErrNoPreviousHeader},
	{name: "err_fmt3_no_previous", in: cat(h3(70), p3), err: ErrNoPreviousHeader},
	{name: "err_message_too_large",
		in:  cat(h0(4, 0, 0xFFFFFF, 9, 1)),
		lim: Limits{MaxMessageSize: 1 << 10}, err: ErrMessageTooLarge},
	{name: "err_message_too_large_fmt1",
		in:   cat(h0(4, 0, 100, 9, 1), pay(100, 0), h1(4, 0, 101, 9), pay(101, 0)),
		lim:  Limits{MaxMessageSize: 100},
		want: []Message{msg(4, 0, 9, 1, pay(100, 0))},
		err:  ErrMessageTooLarge},
	{name: "err_too_many_chunk_streams",
		in: cat(h0(3, 0, 1, 9, 1), []byte{1}, h0(4, 0, 1, 9, 1), []byte{1},
			h0(3, 0, 1, 9, 1), []byte{1}, h0(400, 0, 1, 9, 1), []byte{1}),
		lim:  Limits{MaxChunkStreams: 2},
		want: []Message{msg(3, 0, 9, 1, []byte{1}), msg(4, 0, 9, 1, []byte{1}), msg(3, 0, 9, 1, []byte{1})},
		err:  ErrTooManyChunkStreams},
	{name: "err_pending",
		in: cat(h0(4, 0, 200, 9, 1), p200[:128], h0(5, 0, 200, 9, 1), p200[:128],
			h0(6, 0, 200, 9, 1), p200[:128]),
		lim: Limits{MaxMessageSize: 200, MaxPendingBytes: 450},
		err: ErrPendingTooLarge},
	{name: "err_pending_auto",
		in: cat(h0(4, 0, 200, 9, 1), p200[:128], h0(5, 0, 200, 9, 1), p200[:128],
			h0(6, 0, 200, 9, 1), p200[:128]),
		lim: Limits{MaxMessageSize: 200},
		err: ErrPendingTooLarge},
	{name: "eof_in_basic_header", in: []byte{0x00}, err: io.ErrUnexpectedEOF},
	{name: "eof_in_message_header", in: h0(4, 0, 3, 9, 1)[:5], err: io.ErrUnexpectedEOF},
	{name: "eof_in_ext", in: cat(h0(4, 0xFFFFFF, 3, 9, 1), []byte{1, 2}), err: io.ErrUnexpectedEOF},
	{name: "eof_in_payload", in: cat(h0(4, 0, 3, 9, 1), []byte{1}), err: io.ErrUnexpectedEOF},
	{name: "eof_between_chunks", in: cat(h0(4, 0, 200, 9, 1), p200[:128]), err: io.ErrUnexpectedEOF},
	{name: "empty", in: []byte{}},
}

// plainReader hides the Peek method of a bufio.Reader.
type plainReader struct{ io.Reader }

// readAll reads every message. From a reusing Reader it copies each payload
// at once, as a caller of one must.
func readAll(r *Reader) ([]Message, error) {
	var got []Message
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return got, err
		}
		if r.reuse {
			m.Payload = bytes.Clone(m.Payload)
		}
		got = append(got, m)
	}
}

func TestReader(t *testing.T) {
	for _, tc := range readerCases {
		for _, peek := range []bool{true, false} {
			if tc.peekOnly && !peek {
				continue
			}
			name := tc.name
			if !peek {
				name += "/nopeek"
			}
			for _, reuse := range []bool{false, true} {
				if reuse {
					name += "/reuse"
				}
				t.Run(name, func(t *testing.T) {
					var src io.Reader = bufio.NewReader(bytes.NewReader(tc.in))
					if !peek {
						src = plainReader{bytes.NewReader(tc.in)}
					}
					r := NewReader(src, tc.lim)
					if reuse { // the same messages (copied before the next read) and the same end
						r.SetReusePayloads(true)
					}
					got, err := readAll(r)
					wantErr := tc.err
					if wantErr == nil {
						wantErr = io.EOF
					}
					if !errors.Is(err, wantErr) {
						t.Fatalf("error = %v, want %v", err, wantErr)
					}
					if tc.err == nil && err != io.EOF {
						t.Fatalf("clean end returned %#v, want io.EOF itself", err)
					}
					if !reflect.DeepEqual(got, tc.want) {
						t.Fatalf("messages:\n got %+v\nwant %+v", got, tc.want)
					}
					if tc.err == nil && r.BytesRead() != uint64(len(tc.in)) {
						t.Fatalf("BytesRead = %d, want %d", r.BytesRead(), len(tc.in))
					}
					if tc.chunkSize != 0 && r.ChunkSize() != tc.chunkSize {
						t.Fatalf("ChunkSize = %d, want %d", r.ChunkSize(), tc.chunkSize)
					}
				})
			}
		}
	}
}

func TestReaderDefaultChunkStreamLimit(t *testing.T) {
	var in []byte
	for i := range uint32(DefaultLimits.MaxChunkStreams + 1) {
		in = append(in, h0(3+i*100, 0, 1, 9, 1)...)
		in = append(in, 1)
	}
	r := NewReader(bytes.NewReader(in), Limits{})
	got, err := readAll(r)
	if !errors.Is(err, ErrTooManyChunkStreams) {
		t.Fatalf("error = %v, want ErrTooManyChunkStreams", err)
	}
	if len(got) != DefaultLimits.MaxChunkStreams {
		t.Fatalf("read %d messages before the error, want %d", len(got), DefaultLimits.MaxChunkStreams)
	}
}

func TestReaderSetMaxMessageSize(t *testing.T) {
	in := cat(h0(3, 0, 200, 20, 0), p200[:128], h3(3), p200[128:], h0(3, 0, 200, 20, 0), p200[:128], h3(3), p200[128:])
	r := NewReader(bytes.NewReader(in), Limits{MaxMessageSize: 200})
	if _, err := r.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	r.SetMaxMessageSize(100)
	if _, err := r.ReadMessage(); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("error = %v, want ErrMessageTooLarge", err)
	}
	// Raising the limit raises the automatic pending limit with it.
	r = NewReader(bytes.NewReader(in), Limits{MaxMessageSize: 10})
	r.SetMaxMessageSize(1000)
	if got, err := readAll(r); err != io.EOF || len(got) != 2 {
		t.Fatalf("got %d messages, %v", len(got), err)
	}
}

// TestReaderHostileLength checks that a header claiming the largest message
// fails before the payload is allocated.
func TestReaderHostileLength(t *testing.T) {
	in := h0(4, 0, 0xFFFFFF, 9, 1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		r := NewReader(bytes.NewReader(in), Limits{MaxMessageSize: 64 << 10})
		if _, err := r.ReadMessage(); !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("error = %v, want ErrMessageTooLarge", err)
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("allocated %d bytes for 10 rejected headers", d)
	}
}

func TestReaderPayloadNotReused(t *testing.T) {
	in := cat(h0(4, 0, 3, 9, 1), p3, h3(4), []byte{1, 2, 3}, h3(4), []byte{4, 5, 6})
	r := NewReader(bufio.NewReader(bytes.NewReader(in)), Limits{})
	got, err := readAll(r)
	if err != io.EOF || len(got) != 3 {
		t.Fatal(len(got), err)
	}
	if !bytes.Equal(got[0].Payload, p3) || !bytes.Equal(got[1].Payload, []byte{1, 2, 3}) || cap(got[0].Payload) != 3 {
		t.Fatalf("payloads changed or over-allocated: %v", got)
	}
}

// reuseStream interleaves two chunk streams whose messages span several
// chunks (chunk size 64), with a smaller and an equal-sized message after
// the first on each, and a Set Chunk Size in between.
func reuseStream() ([]byte, []Message) {
	a1, a2, a3 := pay(150, 1), pay(100, 2), pay(150, 3)
	b1, b2 := pay(130, 4), pay(130, 5)
	in := cat(scs(64),
		h0(4, 1, 150, 9, 1), a1[:64], h0(6, 2, 130, 8, 1), b1[:64], h3(4), a1[64:128], h3(6), b1[64:128], h3(4), a1[128:], h3(6), b1[128:],
		h1(4, 1, 100, 9), a2[:64], h1(6, 1, 130, 8), b2[:64], h3(6), b2[64:128], h3(4), a2[64:], h3(6), b2[128:],
		scs(128),
		h1(4, 1, 150, 9), a3[:128], h3(4), a3[128:])
	want := []Message{
		msg(4, 1, 9, 1, a1), msg(6, 2, 8, 1, b1),
		msg(4, 2, 9, 1, a2), msg(6, 3, 8, 1, b2),
		msg(4, 3, 9, 1, a3),
	}
	return in, want
}

func TestReaderReusePayloads(t *testing.T) {
	in, want := reuseStream()
	r := NewReader(bufio.NewReader(bytes.NewReader(in)), Limits{})
	r.SetReusePayloads(true)
	var first = map[uint32]*byte{} // chunk stream → backing array of its first payload
	for i, w := range want {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !reflect.DeepEqual(m, w) {
			t.Fatalf("message %d:\n got %+v\nwant %+v", i, m, w)
		}
		p := unsafe.SliceData(m.Payload)
		if f, ok := first[m.ChunkStreamID]; !ok {
			first[m.ChunkStreamID] = p
		} else if p != f {
			t.Errorf("message %d on chunk stream %d: new buffer, want the previous one reused", i, m.ChunkStreamID)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if first[4] == first[6] {
		t.Error("two chunk streams share a buffer")
	}

	// Off by default and after SetReusePayloads(false): fresh buffers.
	for _, set := range []bool{false, true} {
		r := NewReader(bufio.NewReader(bytes.NewReader(in)), Limits{})
		if set {
			r.SetReusePayloads(true)
			r.SetReusePayloads(false)
		}
		got, err := readAll(r)
		if err != io.EOF || !reflect.DeepEqual(got, want) {
			t.Fatalf("set %v: %v, %+v", set, err, got)
		}
		if unsafe.SliceData(got[0].Payload) == unsafe.SliceData(got[2].Payload) {
			t.Errorf("set %v: payload reused without reuse", set)
		}
	}
}

// A reusing Reader allocates nothing per message once its buffers exist,
// and keeps at most MaxPendingBytes in them.
func TestReaderReuseAllocsAndBound(t *testing.T) {
	in, _ := reuseStream()
	body := in[len(scs(64)):]
	br := bytes.NewReader(in)
	r := NewReader(br, Limits{})
	r.SetReusePayloads(true)
	if _, err := readAll(r); err != io.EOF {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		br.Reset(body)
		r.chunkSize = 64
		for range 5 {
			if _, err := r.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per 5 messages, want 0", allocs)
	}

	// MaxPendingBytes 250: of five 100-byte messages on five chunk
	// streams, the buffers of the first two are kept, no more.
	var seq []byte
	for cs := range uint32(5) {
		seq = append(seq, h0(4+cs, 0, 100, 9, 1)...)
		seq = append(seq, pay(100, byte(cs))...)
	}
	r = NewReader(bytes.NewReader(seq), Limits{MaxPendingBytes: 250})
	r.SetReusePayloads(true)
	got, err := readAll(r)
	if err != io.EOF || len(got) != 5 {
		t.Fatalf("%d messages, %v", len(got), err)
	}
	if r.retained != 200 || r.low[5].spare == nil || r.low[6].spare != nil {
		t.Errorf("retained %d bytes, want the buffers of chunk streams 4 and 5 (200 bytes)", r.retained)
	}
}
