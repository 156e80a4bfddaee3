package chunk

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

var benchSizes = []int{4 << 10, 64 << 10}

func BenchmarkAppendMessage(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			m := msg(6, 123456, TypeVideo, 1, pay(n, 1))
			dst := make([]byte, 0, EncodedLen(4096, &m))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendMessage(dst[:0], 4096, &m)
			}
		})
	}
}

func BenchmarkReadMessage(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			msgs := []Message{msg(6, 123456, TypeVideo, 1, pay(n, 1))}
			stream := encodeStream(4096, msgs)
			// Skip the Set Chunk Size prefix on every iteration after
			// applying it once.
			br := bytes.NewReader(stream)
			r := NewReader(br, Limits{})
			if _, err := r.ReadMessage(); err != nil {
				b.Fatal(err)
			}
			body := stream[16:]
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				br.Reset(body)
				if _, err := r.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriterWriteMessage(b *testing.B) {
	for _, n := range []int{200, 4 << 10} {
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			w := NewWriter(io.Discard, 4096)
			m := msg(3, 0, TypeCommandAMF0, 0, pay(n, 1))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.WriteMessage(&m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
