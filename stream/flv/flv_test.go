package flv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
)

// readAll reads the header and every tag of in; it returns the tags read and
// the error that ended reading (nil at a clean end).
func readAll(in []byte, maxTag int) (Header, []Tag, error, error) {
	r, err := NewReader(bytes.NewReader(in))
	if err != nil {
		return Header{}, nil, err, nil
	}
	if maxTag > 0 {
		r.SetMaxTagSize(maxTag)
	}
	var tags []Tag
	for {
		t, err := r.ReadTag()
		if err == io.EOF {
			return r.Header(), tags, nil, nil
		}
		if err != nil {
			return r.Header(), tags, nil, err
		}
		tags = append(tags, t)
	}
}

func tagsEqual(a, b []Tag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Timestamp != b[i].Timestamp || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestReader(t *testing.T) {
	for _, tc := range readCases {
		t.Run(tc.name, func(t *testing.T) {
			h, tags, herr, terr := readAll(tc.in, tc.maxTag)
			if !errors.Is(herr, tc.hdrErr) || (herr != nil) != (tc.hdrErr != nil) {
				t.Fatalf("NewReader error = %v, want %v", herr, tc.hdrErr)
			}
			if herr != nil {
				return
			}
			if h != tc.header {
				t.Errorf("Header = %+v, want %+v", h, tc.header)
			}
			if !tagsEqual(tags, tc.tags) {
				t.Errorf("tags = %+v, want %+v", tags, tc.tags)
			}
			if !errors.Is(terr, tc.tagErr) || (terr != nil) != (tc.tagErr != nil) {
				t.Errorf("ReadTag error = %v, want %v", terr, tc.tagErr)
			}
		})
	}
}

func TestReaderStickyError(t *testing.T) {
	r, err := NewReader(bytes.NewReader(cat(stdHdr, goodTag(key)[:20])))
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := r.ReadTag()
	_, err2 := r.ReadTag()
	if !errors.Is(err1, ErrTruncated) || err2 != err1 {
		t.Errorf("errors %v then %v, want the same ErrTruncated twice", err1, err2)
	}
}

// oneByteReader returns one byte per Read, to exercise partial reads.
type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func TestReaderLargeTagPartialReads(t *testing.T) {
	big := Tag{Type: TagVideo, Timestamp: 1, Data: bytes.Repeat([]byte{1, 2, 3, 4, 5}, 50_000)} // over one read step
	in := cat(stdHdr, goodTag(big), goodTag(aacFrame))
	r, err := NewReader(&oneByteReader{in})
	if err != nil {
		t.Fatal(err)
	}
	var tags []Tag
	for {
		tg, err := r.ReadTag()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tg)
	}
	if !tagsEqual(tags, []Tag{big, aacFrame}) {
		t.Error("large tag did not round-trip through one-byte reads")
	}
	// Truncated inside the large tag.
	_, _, _, terr := readAll(cat(stdHdr, goodTag(big)[:200_000]), 0)
	if !errors.Is(terr, ErrTruncated) {
		t.Errorf("truncated large tag: %v, want ErrTruncated", terr)
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{HasAudio: true, HasVideo: true})
	if err != nil {
		t.Fatal(err)
	}
	in := []Tag{meta, avcSeq, aacSeq, key, aacFrame, extTS, empty}
	for _, tg := range in {
		if err := w.WriteTag(tg); err != nil {
			t.Fatal(err)
		}
	}
	want := stdHdr
	for _, tg := range in {
		want = append(want, goodTag(tg)...)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("written bytes differ:\n got % x\nwant % x", buf.Bytes(), want)
	}
	for _, h := range []Header{{}, {HasAudio: true}, {HasVideo: true}} {
		buf.Reset()
		if _, err := NewWriter(&buf, h); err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(&buf)
		if err != nil || r.Header() != h {
			t.Errorf("header %+v read back as %+v, %v", h, r.Header(), err)
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{})
	n := buf.Len()
	if err := w.WriteTag(Tag{Type: 7}); !errors.Is(err, ErrTagType) {
		t.Errorf("type 7: %v, want ErrTagType", err)
	}
	if err := w.WriteTag(Tag{Type: TagVideo, Data: make([]byte, 0x1000000)}); !errors.Is(err, ErrTagTooLarge) {
		t.Errorf("16 MiB tag: %v, want ErrTagTooLarge", err)
	}
	if buf.Len() != n {
		t.Error("a refused tag wrote bytes")
	}
	big, _ := NewWriter(io.Discard, Header{})
	if err := big.WriteTag(Tag{Type: TagVideo, Data: make([]byte, 0xFFFFFF)}); err != nil {
		t.Errorf("largest tag: %v", err)
	}
	if _, err := NewWriter(&failWriter{}, Header{}); err == nil {
		t.Error("NewWriter on a failing writer succeeded")
	}
	fw, err := NewWriter(&failWriter{n: 1}, Header{})
	if err != nil {
		t.Fatal(err)
	}
	err1 := fw.WriteTag(key)
	err2 := fw.WriteTag(aacFrame)
	if err1 == nil || err2 != err1 {
		t.Errorf("write errors %v then %v, want the same error twice", err1, err2)
	}
}

// TestFFmpegFile reads back an FLV made by ffmpeg and writes it again
// byte-identically.
func TestFFmpegFile(t *testing.T) {
	ffmpeg := needTool(t, "ffmpeg")
	dir := t.TempDir()
	name := filepath.Join(dir, "x.flv")
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-f", "flv", name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	h, tags, herr, terr := readAll(raw, 0)
	if herr != nil || terr != nil {
		t.Fatalf("reading ffmpeg's file: %v %v", herr, terr)
	}
	if !h.HasAudio || !h.HasVideo {
		t.Errorf("header %+v, want audio and video", h)
	}
	if tags[0].Type != TagScript || !bytes.Contains(tags[0].Data[:16], []byte("onMetaData")) {
		t.Errorf("first tag is not onMetaData: type %d", tags[0].Type)
	}
	var video, audio, keys int
	firstVideo := true
	var lastV, lastA uint32
	for _, tg := range tags[1:] {
		switch tg.Type {
		case TagVideo:
			if firstVideo {
				if tg.Data[0] != 0x17 || tg.Data[1] != 0 {
					t.Errorf("first video tag is not an AVC sequence header: % x", tg.Data[:2])
				}
				firstVideo = false
				continue
			}
			video++
			if tg.Data[0]>>4 == 1 {
				keys++
			}
			if tg.Timestamp < lastV {
				t.Errorf("video timestamp went back: %d after %d", tg.Timestamp, lastV)
			}
			lastV = tg.Timestamp
		case TagAudio:
			audio++
			if tg.Timestamp < lastA {
				t.Errorf("audio timestamp went back: %d after %d", tg.Timestamp, lastA)
			}
			lastA = tg.Timestamp
		}
	}
	if video < 48 || video > 52 || keys < 1 || audio < 80 || lastV < 1900 {
		t.Errorf("%d video frames (%d keyframes), %d audio frames, last video ts %d; want about 50 frames over 2 s with audio", video, keys, audio, lastV)
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tags {
		if err := w.WriteTag(tg); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Errorf("rewriting ffmpeg's %d-byte file gave %d different bytes", len(raw), buf.Len())
	}
}

// TestFuzzCorpus keeps testdata/fuzz in step with the case tables of
// FuzzReader, FuzzRepair, FuzzOpenFile and FuzzSafePath: every case has a
// corpus file. FLV_UPDATE_CORPUS=1 writes them.
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for _, tc := range readCases {
		c.Add("FuzzReader", "seed-"+tc.name, tc.in)
	}
	for _, tc := range repairCases {
		c.Add("FuzzRepair", "seed-"+tc.name, tc.in)
		c.Add("FuzzOpenFile", "seed-"+tc.name, tc.in)
	}
	for _, tc := range safePathCases {
		c.Add("FuzzSafePath", "seed-"+tc.name, tc.scope, tc.stream)
	}
	c.Check(t, os.Getenv("FLV_UPDATE_CORPUS") == "1", "with FLV_UPDATE_CORPUS=1")
}

// FuzzReader reads arbitrary input: it must never panic, must stop, and every
// tag it returns must write and read back unchanged.
func FuzzReader(f *testing.F) {
	for _, tc := range readCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h, tags, herr, terr := readAll(in, 0)
		if herr != nil {
			if !errors.Is(herr, ErrHeader) && !errors.Is(herr, ErrTruncated) {
				t.Fatalf("NewReader error without a sentinel: %v", herr)
			}
			return
		}
		if terr != nil && !errors.Is(terr, ErrTruncated) && !errors.Is(terr, ErrTagType) &&
			!errors.Is(terr, ErrTagTooLarge) && !errors.Is(terr, ErrPrevSize) {
			t.Fatalf("ReadTag error without a sentinel: %v", terr)
		}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range tags {
			if err := w.WriteTag(tg); err != nil {
				t.Fatalf("writing a tag that was read: %v", err)
			}
		}
		h2, tags2, herr2, terr2 := readAll(buf.Bytes(), 0)
		if herr2 != nil || terr2 != nil || h2 != h || !tagsEqual(tags, tags2) {
			t.Fatalf("round trip changed the file: %v %v", herr2, terr2)
		}
		// A canonical input (offset 9, no reserved flag bits, zero stream
		// ids, read to a clean end) is rewritten byte for byte.
		if terr == nil && len(in) >= 9 && in[8] == 9 && in[4]&^0x05 == 0 && zeroStreamIDs(in) {
			if !bytes.Equal(buf.Bytes(), in) {
				t.Fatalf("canonical input not rewritten identically")
			}
		}
	})
}

func zeroStreamIDs(in []byte) bool {
	for p := 13; p+TagHeaderSize <= len(in); {
		if in[p+8] != 0 || in[p+9] != 0 || in[p+10] != 0 {
			return false
		}
		p += TagHeaderSize + (int(in[p+1])<<16 | int(in[p+2])<<8 | int(in[p+3])) + 4
	}
	return true
}

func BenchmarkReadTag(b *testing.B) {
	frame := Tag{Type: TagVideo, Timestamp: 40, Data: bytes.Repeat([]byte{0x27, 1}, 5000)}
	one := goodTag(frame)
	in := cat(stdHdr, bytes.Repeat(one, 1000))
	br := bytes.NewReader(in)
	r, _ := NewReader(br)
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadTag(); err != nil {
			br.Reset(in)
			r, _ = NewReader(br)
		}
	}
}

func BenchmarkWriteTag(b *testing.B) {
	frame := Tag{Type: TagVideo, Timestamp: 40, Data: bytes.Repeat([]byte{0x27, 1}, 5000)}
	w, _ := NewWriter(io.Discard, Header{HasVideo: true})
	b.SetBytes(int64(len(frame.Data) + 15))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteTag(frame); err != nil {
			b.Fatal(err)
		}
	}
}
