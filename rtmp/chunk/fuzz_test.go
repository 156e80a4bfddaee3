package chunk

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
)

var updateCorpus = flag.Bool("update", false, "rewrite the seed corpus files under testdata/fuzz")

// fuzzLimits are small so that a fuzz input cannot make the Reader allocate
// much.
var fuzzLimits = Limits{
	MaxChunkSize:    1 << 16,
	MaxMessageSize:  1 << 16,
	MaxChunkStreams: 8,
	MaxPendingBytes: 1 << 17,
}

var sentinels = []error{io.EOF, io.ErrUnexpectedEOF, ErrChunkSize, ErrMessageTooLarge,
	ErrTooManyChunkStreams, ErrPendingTooLarge, ErrNoPreviousHeader, ErrHeaderChanged}

func FuzzReader(f *testing.F) {
	for _, tc := range readerCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, peek := range []bool{true, false} {
			var src io.Reader = bufio.NewReaderSize(bytes.NewReader(data), 16)
			if !peek {
				src = plainReader{bytes.NewReader(data)}
			}
			r := NewReader(src, fuzzLimits)
			var got []Message
			var err error
			for {
				var m Message
				m, err = r.ReadMessage()
				if err != nil {
					break
				}
				if len(m.Payload) > int(fuzzLimits.MaxMessageSize) || m.Payload == nil {
					t.Fatalf("payload of %d bytes (nil %v)", len(m.Payload), m.Payload == nil)
				}
				if m.ChunkStreamID < MinChunkStreamID || m.ChunkStreamID > MaxChunkStreamID {
					t.Fatalf("chunk stream id %d", m.ChunkStreamID)
				}
				if m.TypeID == TypeSetChunkSize || m.TypeID == TypeAbort {
					t.Fatalf("control message type %d returned", m.TypeID)
				}
				got = append(got, m)
			}
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("unexpected error %v", err)
			}
			if r.BytesRead() > uint64(len(data)) || (err == io.EOF && r.BytesRead() != uint64(len(data))) {
				t.Fatalf("BytesRead %d of %d, err %v", r.BytesRead(), len(data), err)
			}
			if r.pending < 0 || r.pending > fuzzLimits.MaxPendingBytes || r.nstreams > fuzzLimits.MaxChunkStreams {
				t.Fatalf("pending %d, streams %d", r.pending, r.nstreams)
			}
			if cs := r.ChunkSize(); cs < MinChunkSize || cs > fuzzLimits.MaxChunkSize {
				t.Fatalf("chunk size %d", cs)
			}
			// A reusing Reader reads the same messages and error.
			src = bufio.NewReaderSize(bytes.NewReader(data), 16)
			if !peek {
				src = plainReader{bytes.NewReader(data)}
			}
			rr := NewReader(src, fuzzLimits)
			rr.SetReusePayloads(true)
			again, rerr := readAll(rr)
			if !reflect.DeepEqual(again, got) || !sameError(rerr, err) || rr.retained > fuzzLimits.MaxPendingBytes {
				t.Fatalf("with reuse: %d messages, %v (retained %d); without: %d, %v", len(again), rerr, rr.retained, len(got), err)
			}
			// What was read re-encodes and reads back the same.
			if len(got) > 0 {
				var enc []byte
				for i := range got {
					enc = AppendMessage(enc, DefaultChunkSize, &got[i])
				}
				again, err := readAll(NewReader(bytes.NewReader(enc), Limits{}))
				if err != io.EOF || !reflect.DeepEqual(again, got) {
					t.Fatalf("re-encoded messages differ (%v)", err)
				}
			}
		}
	})
}

// sameError reports whether a and b are the same sentinel error.
func sameError(a, b error) bool {
	for _, s := range sentinels {
		if errors.Is(a, s) != errors.Is(b, s) {
			return false
		}
	}
	return true
}

// roundTripSeed is one FuzzRoundTrip input.
type roundTripSeed struct {
	csid, ts  uint32
	typ       byte
	sid       uint32
	chunkSize uint32
	payload   []byte
}

// roundTripSeeds derives the FuzzRoundTrip seeds from roundTripMessages,
// cycling through the chunk sizes of TestRoundTrip and capping payloads at
// 4 KiB + 1 to keep the corpus files small.
func roundTripSeeds() []roundTripSeed {
	sizes := []uint32{1, 128, 4096, 65536}
	var seeds []roundTripSeed
	for i, m := range roundTripMessages {
		p := m.Payload
		if len(p) > 4097 {
			p = p[:4097]
		}
		seeds = append(seeds, roundTripSeed{m.ChunkStreamID, m.Timestamp, m.TypeID, m.StreamID, sizes[i%len(sizes)], p})
	}
	return seeds
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range roundTripSeeds() {
		f.Add(s.csid, s.ts, s.typ, s.sid, s.chunkSize, s.payload)
	}
	f.Fuzz(func(t *testing.T, csid, ts uint32, typ byte, sid, chunkSize uint32, payload []byte) {
		csid = MinChunkStreamID + csid%(MaxChunkStreamID-MinChunkStreamID+1)
		chunkSize = 1 + chunkSize%(1<<17)
		if typ == TypeSetChunkSize || typ == TypeAbort {
			typ += 100
		}
		if payload == nil {
			payload = []byte{}
		}
		msgs := []Message{
			{ChunkStreamID: csid, Timestamp: ts, TypeID: typ, StreamID: sid, Payload: payload},
			{ChunkStreamID: csid, Timestamp: ts + 1, TypeID: typ, StreamID: sid, Payload: payload[:len(payload)/2]},
			{ChunkStreamID: 3, Timestamp: ^ts, TypeID: TypeCommandAMF0, StreamID: 0, Payload: []byte{}},
		}
		stream := encodeStream(chunkSize, msgs)
		n := 0
		if chunkSize != DefaultChunkSize {
			n = 16
		}
		for i := range msgs {
			n += EncodedLen(chunkSize, &msgs[i])
		}
		if n != len(stream) {
			t.Fatalf("EncodedLen sum %d, encoded %d", n, len(stream))
		}
		r := NewReader(bufio.NewReader(bytes.NewReader(stream)), Limits{MaxChunkSize: 1 << 17})
		got, err := readAll(r)
		if err != io.EOF {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, msgs) {
			t.Fatalf("got %+v\nwant %+v", got, msgs)
		}
	})
}

// TestFuzzCorpus keeps testdata/fuzz in step with the seed tables. Run
// `go test -run TestFuzzCorpus -update` after changing a table.
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for _, tc := range readerCases {
		c.Add("FuzzReader", tc.name, tc.in)
	}
	for i, s := range roundTripSeeds() {
		c.Add("FuzzRoundTrip", fmt.Sprintf("seed%02d", i), s.csid, s.ts, s.typ, s.sid, s.chunkSize, s.payload)
	}
	c.Check(t, *updateCorpus, "-update")
}
