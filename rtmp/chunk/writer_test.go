package chunk

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestAppendMessageVectors(t *testing.T) {
	tests := []struct {
		name      string
		chunkSize uint32
		m         Message
		want      []byte
	}{
		{"csid3_single_chunk", 128, msg(3, 0x010203, 20, 1, p3),
			[]byte{0x03, 0x01, 0x02, 0x03, 0, 0, 3, 20, 1, 0, 0, 0, 0xAA, 0xBB, 0xCC}},
		{"zero_length", 128, msg(2, 0, 4, 0, nil),
			[]byte{0x02, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0}},
		{"csid64_continuation", 2, msg(64, 1, 9, 0x01020304, p3),
			[]byte{0x00, 0x00, 0, 0, 1, 0, 0, 3, 9, 4, 3, 2, 1, 0xAA, 0xBB, 0xC0, 0x00, 0xCC}},
		{"csid320_continuation", 2, msg(320, 1, 9, 1, p3),
			[]byte{0x01, 0x00, 0x01, 0, 0, 1, 0, 0, 3, 9, 1, 0, 0, 0, 0xAA, 0xBB, 0xC1, 0x00, 0x01, 0xCC}},
		{"ext_continuation", 2, msg(4, 0x01000000, 9, 1, p3),
			[]byte{0x04, 0xFF, 0xFF, 0xFF, 0, 0, 3, 9, 1, 0, 0, 0, 0x01, 0, 0, 0, 0xAA, 0xBB,
				0xC4, 0x01, 0, 0, 0, 0xCC}},
		{"ext_exactly_ffffff", 128, msg(4, 0xFFFFFF, 9, 1, p3),
			[]byte{0x04, 0xFF, 0xFF, 0xFF, 0, 0, 3, 9, 1, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xAA, 0xBB, 0xCC}},
		{"just_below_ext", 128, msg(4, 0xFFFFFE, 9, 1, p3),
			[]byte{0x04, 0xFF, 0xFF, 0xFE, 0, 0, 3, 9, 1, 0, 0, 0, 0xAA, 0xBB, 0xCC}},
		{"exact_multiple_of_chunk_size", 3, msg(4, 0, 9, 1, p3),
			[]byte{0x04, 0, 0, 0, 0, 0, 3, 9, 1, 0, 0, 0, 0xAA, 0xBB, 0xCC}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("xy")
			got := AppendMessage(prefix, tc.chunkSize, &tc.m)
			if !bytes.Equal(got[:2], prefix) || !bytes.Equal(got[2:], tc.want) {
				t.Fatalf("got  % x\nwant % x", got[2:], tc.want)
			}
			if n := EncodedLen(tc.chunkSize, &tc.m); n != len(tc.want) {
				t.Fatalf("EncodedLen = %d, want %d", n, len(tc.want))
			}
		})
	}
}

// roundTripMessages covers chunk stream id forms, empty and multi-chunk
// payloads and extended timestamps.
var roundTripMessages = []Message{
	msg(2, 0, TypeUserControl, 0, []byte{0, 0, 0, 0, 0, 1}),
	msg(3, 0, TypeCommandAMF0, 0, pay(300, 1)),
	msg(3, 0, TypeCommandAMF0, 0, []byte{}),
	msg(4, 1000, TypeAudio, 1, pay(1, 2)),
	msg(6, 1001, TypeVideo, 1, pay(5000, 3)),
	msg(6, 0xFFFFFE, TypeVideo, 1, pay(4096, 4)),
	msg(6, 0xFFFFFF, TypeVideo, 1, pay(4097, 5)),
	msg(6, 0xFFFFFFFF, TypeVideo, 1, pay(70000, 6)),
	msg(63, 5, TypeDataAMF0, 7, pay(128, 7)),
	msg(64, 6, TypeDataAMF0, 8, pay(129, 8)),
	msg(319, 7, TypeAggregate, 9, pay(256, 9)),
	msg(320, 0x12345678, TypeSharedObjectAMF0, 10, pay(257, 10)),
	msg(65599, 9, TypeVideo, 0xFFFFFFFF, pay(65537, 11)),
}

// encodeStream encodes msgs at chunkSize, prefixed with a Set Chunk Size
// message when chunkSize is not the default.
func encodeStream(chunkSize uint32, msgs []Message) []byte {
	var b []byte
	if chunkSize != DefaultChunkSize {
		b = AppendMessage(b, DefaultChunkSize, &Message{ChunkStreamID: 2, TypeID: TypeSetChunkSize, Payload: be32(chunkSize)})
	}
	for i := range msgs {
		b = AppendMessage(b, chunkSize, &msgs[i])
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, cs := range []uint32{1, 128, 4096, 65536} {
		stream := encodeStream(cs, roundTripMessages)
		want := 0
		if cs != DefaultChunkSize {
			want = 16
		}
		for i := range roundTripMessages {
			want += EncodedLen(cs, &roundTripMessages[i])
		}
		if len(stream) != want {
			t.Fatalf("chunk size %d: stream is %d bytes, EncodedLen sum %d", cs, len(stream), want)
		}
		r := NewReader(bufio.NewReader(bytes.NewReader(stream)), Limits{})
		got, err := readAll(r)
		if err != io.EOF {
			t.Fatalf("chunk size %d: %v", cs, err)
		}
		if !reflect.DeepEqual(got, roundTripMessages) {
			t.Fatalf("chunk size %d: messages differ", cs)
		}
		if r.BytesRead() != uint64(len(stream)) || r.ChunkSize() != cs {
			t.Fatalf("chunk size %d: BytesRead %d of %d, ChunkSize %d", cs, r.BytesRead(), len(stream), r.ChunkSize())
		}
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 0)
	if w.ChunkSize() != DefaultChunkSize {
		t.Fatalf("ChunkSize = %d", w.ChunkSize())
	}
	var want []byte
	for i := range roundTripMessages {
		if err := w.WriteMessage(&roundTripMessages[i]); err != nil {
			t.Fatal(err)
		}
		want = AppendMessage(want, DefaultChunkSize, &roundTripMessages[i])
	}
	w.SetChunkSize(0) // ignored
	w.SetChunkSize(4096)
	if w.ChunkSize() != 4096 {
		t.Fatalf("ChunkSize = %d", w.ChunkSize())
	}
	if err := w.WriteMessage(&roundTripMessages[4]); err != nil {
		t.Fatal(err)
	}
	want = AppendMessage(want, 4096, &roundTripMessages[4])
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatal("Writer output differs from AppendMessage")
	}

	for _, tc := range []struct {
		m   Message
		err error
	}{
		{msg(1, 0, 9, 0, nil), ErrBadChunkStreamID},
		{msg(65600, 0, 9, 0, nil), ErrBadChunkStreamID},
		{msg(3, 0, 9, 0, make([]byte, MaxMessageLength+1)), ErrMessageTooLarge},
	} {
		if err := w.WriteMessage(&tc.m); !errors.Is(err, tc.err) {
			t.Errorf("WriteMessage(csid %d, %d bytes) = %v, want %v", tc.m.ChunkStreamID, len(tc.m.Payload), err, tc.err)
		}
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriterError(t *testing.T) {
	w := NewWriter(errWriter{}, 128)
	if err := w.WriteMessage(&roundTripMessages[0]); err != io.ErrClosedPipe {
		t.Fatalf("error = %v", err)
	}
}

func TestAppendMessagePanics(t *testing.T) {
	for _, tc := range []struct {
		cs uint32
		m  Message
	}{
		{0, msg(3, 0, 9, 0, nil)},
		{128, msg(0, 0, 9, 0, nil)},
		{128, msg(3, 0, 9, 0, make([]byte, MaxMessageLength+1))},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AppendMessage(%d, csid %d) did not panic", tc.cs, tc.m.ChunkStreamID)
				}
			}()
			AppendMessage(nil, tc.cs, &tc.m)
		}()
	}
}

func TestZeroAllocs(t *testing.T) {
	m := msg(6, 0x01000000, TypeVideo, 1, pay(64<<10, 1))
	dst := make([]byte, 0, EncodedLen(4096, &m))
	if n := testing.AllocsPerRun(100, func() { dst = AppendMessage(dst[:0], 4096, &m) }); n != 0 {
		t.Errorf("AppendMessage: %v allocs", n)
	}
	w := NewWriter(io.Discard, 4096)
	small := msg(3, 0, TypeCommandAMF0, 0, pay(200, 1))
	_ = w.WriteMessage(&small)
	if n := testing.AllocsPerRun(100, func() { _ = w.WriteMessage(&small) }); n != 0 {
		t.Errorf("Writer.WriteMessage: %v allocs", n)
	}
}
