package flv

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/stream"
)

// sampleRecording is a small recording as the recorder writes it: header,
// reserved onMetaData (duration 0), headers, 1 s of media.
func sampleRecording() []byte {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{HasAudio: true, HasVideo: true})
	m, _ := encodeMetaSized(&amfObj{ECMA: true, Props: []amfProp{{"duration", 0.0}, {"filesize", 0.0}, {"width", 64.0}}}, 120)
	w.WriteTag(Tag{Type: TagScript, Data: m})
	w.WriteTag(Tag{Type: TagVideo, Data: synAVCHeader})
	w.WriteTag(Tag{Type: TagAudio, Data: synAACHeader})
	for i := range 25 {
		d := synInter(10)
		if i%10 == 0 {
			d = synKey(20)
		}
		w.WriteTag(Tag{Type: TagVideo, Timestamp: uint32(40 * i), Data: d})
		w.WriteTag(Tag{Type: TagAudio, Timestamp: uint32(40*i + 5), Data: synAudio(4)})
	}
	return buf.Bytes()
}

var sample = sampleRecording()

// repairCases seed the tests of Repair and the FuzzRepair and FuzzOpenFile
// corpora.
var repairCases = []struct {
	name      string
	in        []byte
	err       error // Repair's error; the file is then unchanged
	truncated int64
	duration  time.Duration
	patched   bool
}{
	{name: "whole", in: sample, duration: 1005 * time.Millisecond, patched: true},
	{name: "cut-in-tag-data", in: sample[:len(sample)-10], truncated: 11, duration: 1000 * time.Millisecond, patched: true},
	{name: "cut-in-prev-size", in: sample[:len(sample)-2], truncated: 19, duration: 1000 * time.Millisecond, patched: true},
	{name: "cut-in-tag-header", in: append(bytes.Clone(sample), 9, 0, 0), truncated: 3, duration: 1005 * time.Millisecond, patched: true},
	{name: "zeros-tail", in: append(bytes.Clone(sample), make([]byte, 4096)...), truncated: 4096, duration: 1005 * time.Millisecond, patched: true},
	{name: "header-only", in: sample[:13], duration: 0},
	{name: "cut-header", in: sample[:6], duration: 0},
	{name: "empty", in: []byte{}, duration: 0},
	{name: "no-metadata", in: cat(stdHdr, goodTag(key), goodTag(aacFrame)), duration: 46 * time.Millisecond},
	{name: "err-not-flv", in: []byte("hello, world"), err: ErrHeader},
	{name: "err-short-not-flv", in: []byte("FLX"), err: ErrHeader},
	{name: "err-damage-before-good-tags", in: cat(sample[:200], []byte{0xEE, 0xEE}, sample[200:]), err: ErrCorrupt},
	{name: "err-bad-offset", in: fileHeader(0x05, 3, nil, 0), err: ErrHeader},
}

func repairOnce(t testing.TB, dir string, in []byte) (RepairReport, error, []byte) {
	path := filepath.Join(dir, "x.flv")
	if err := os.WriteFile(path, in, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+MarkerSuffix, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Repair(path)
	out, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return rep, err, out
}

func TestRepair(t *testing.T) {
	for _, tc := range repairCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rep, err, out := repairOnce(t, dir, tc.in)
			path := filepath.Join(dir, "x.flv")
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Repair: %v, want %v", err, tc.err)
				}
				if !bytes.Equal(out, tc.in) || !fileExists(path+MarkerSuffix) {
					t.Fatal("a failed repair changed the file or removed the marker")
				}
				return
			}
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if rep.Truncated != tc.truncated || rep.Duration != tc.duration || rep.MetadataPatched != tc.patched || !rep.MarkerRemoved {
				t.Errorf("report %+v, want truncated %d duration %v patched %v", rep, tc.truncated, tc.duration, tc.patched)
			}
			if fileExists(path + MarkerSuffix) {
				t.Error("marker left")
			}
			checkRepaired(t, tc.in, out)
			if tc.patched {
				_, tags := readTags(t, path)
				m := metaOf(t, tags)
				d, _ := m.num("duration")
				fs, _ := m.num("filesize")
				if math.Abs(d-tc.duration.Seconds()) > 1e-9 || int(fs) != len(out) {
					t.Errorf("metadata duration %v filesize %v (file %d)", d, fs, len(out))
				}
			}
			rep2, err, out2 := repairOnce(t, dir, out)
			if err != nil || !bytes.Equal(out, out2) || rep2.Truncated != 0 {
				t.Errorf("second repair: %v, changed %v", err, !bytes.Equal(out, out2))
			}
		})
	}
	// Only the marker: the crash came before the file existed.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "y.flv"+MarkerSuffix), nil, 0o644)
	if rep, err := Repair(filepath.Join(dir, "y.flv"+MarkerSuffix)); err != nil || !rep.MarkerRemoved {
		t.Errorf("marker only: %v %+v", err, rep)
	}
}

// checkRepaired checks that out keeps every good tag of in, in order, with
// only the leading onMetaData's numbers changed, and reads to a clean end.
func checkRepaired(t testing.TB, in, out []byte) {
	t.Helper()
	res, err := scanFile(bytes.NewReader(out), int64(len(out)), nil)
	if err != nil || res.err != nil {
		t.Fatalf("repaired file does not scan: %v %v", err, res.err)
	}
	if len(in) < 13 {
		if len(out) != 13 {
			t.Fatalf("short file repaired to %d bytes", len(out))
		}
		return
	}
	_, want, _, _ := readAll(in, 0)
	_, got, _, terr := readAll(out, 0)
	if terr != nil {
		t.Fatalf("repaired file: %v", terr)
	}
	if len(got) != len(want) {
		t.Fatalf("%d tags after repair, %d good tags before", len(got), len(want))
	}
	for i := range got {
		if i == 0 && got[i].Type == TagScript && len(got[i].Data) == len(want[i].Data) {
			continue // onMetaData, patched in place
		}
		if got[i].Type != want[i].Type || got[i].Timestamp != want[i].Timestamp || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("tag %d changed", i)
		}
	}
}

func TestRepairDir(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range repairCases[:3] {
		sub := filepath.Join(dir, fmt.Sprint("app", i), "room")
		os.MkdirAll(sub, 0o755)
		os.WriteFile(filepath.Join(sub, tc.name+".flv"), tc.in, 0o644)
		os.WriteFile(filepath.Join(sub, tc.name+".flv"+MarkerSuffix), nil, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "clean.flv"), sample[:len(sample)-5], 0o644) // no marker: left alone
	os.WriteFile(filepath.Join(dir, "bad.flv"), []byte("garbage"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.flv"+MarkerSuffix), nil, 0o644)
	reps, err := RepairDir(dir)
	if len(reps) != 4 || !errors.Is(err, ErrHeader) {
		t.Fatalf("%d reports, %v", len(reps), err)
	}
	failed := 0
	for _, r := range reps {
		if r.Err != nil {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d failures", failed)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "clean.flv")); len(b) != len(sample)-5 {
		t.Error("a file without a marker was touched")
	}
	if _, err := RepairDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing directory: no error")
	}
}

// FuzzRepair repairs arbitrary files: no panic; a failed repair changes
// nothing; a repair keeps every good tag, gives a file that reads to a clean
// end, and is idempotent.
func FuzzRepair(f *testing.F) {
	for _, tc := range repairCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		dir := t.TempDir()
		_, err, out := repairOnce(t, dir, in)
		if err != nil {
			if !bytes.Equal(out, in) {
				t.Fatalf("failed repair (%v) changed the file", err)
			}
			if !errors.Is(err, ErrHeader) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		checkRepaired(t, in, out)
		_, err, out2 := repairOnce(t, dir, out)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("second repair: %v, changed %v", err, !bytes.Equal(out, out2))
		}
	})
}

// instantClock runs a Source as fast as it can: Sleep advances the time.
type instantClock struct{ now time.Time }

func (c *instantClock) Now() time.Time { return c.now }
func (c *instantClock) Sleep(d time.Duration, wake, stop <-chan struct{}) bool {
	if d > 0 {
		c.now = c.now.Add(d) // only the Source's goroutine calls Sleep and Now
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	select {
	case <-stop:
		return false
	case <-wake:
		return true
	}
}

// FuzzOpenFile opens arbitrary files and plays them through a Source with an
// instant clock: no panic, bounded, and packets in the file's order.
func FuzzOpenFile(f *testing.F) {
	for _, tc := range repairCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		path := filepath.Join(t.TempDir(), "x.flv")
		os.WriteFile(path, in, 0o644)
		file, err := OpenFile(path)
		if err != nil {
			if !errors.Is(err, ErrHeader) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		defer file.Close()
		if file.Duration() < 0 || file.Tags() > len(in)/15 {
			t.Fatalf("duration %v, %d tags in %d bytes", file.Duration(), file.Tags(), len(in))
		}
		st := stream.New("fuzz", stream.Config{QueueLen: 1 << 16})
		notify := make(chan struct{}, 1)
		sub := st.Subscribe(notify)
		src := NewSource(file, st, SourceOptions{clock: &instantClock{now: time.Unix(0, 0)}, Start: 500 * time.Millisecond})
		src.Start()
		deadline := time.After(10 * time.Second)
		var got []*stream.Packet
		buf := make([]*stream.Packet, 0, 256)
		for done := false; !done; {
			select {
			case <-notify:
			case <-deadline:
				t.Fatal("playback did not end")
			}
			buf = sub.Pop(buf[:0])
			for _, p := range buf {
				if p.Kind == stream.KindPublishStop {
					done = true
				}
			}
			got = append(got, buf...)
			if len(got) > file.Tags()+10 {
				t.Fatalf("%d packets from %d tags", len(got), file.Tags())
			}
		}
		src.Stop()
	})
}

func TestOpenFileGarbage(t *testing.T) {
	dir := t.TempDir()
	for _, in := range [][]byte{[]byte("garbage garbage garbage"), {}, []byte("FLV")} {
		p := filepath.Join(dir, "g.flv")
		os.WriteFile(p, in, 0o644)
		if f, err := OpenFile(p); err == nil {
			f.Close()
			t.Errorf("OpenFile(%q) succeeded", in)
		}
	}
	if _, err := OpenFile(dir); err == nil {
		t.Error("OpenFile on a directory succeeded")
	}
	if _, err := OpenFile(filepath.Join(dir, "missing.flv")); err == nil || !strings.Contains(err.Error(), "no such") {
		t.Errorf("missing file: %v", err)
	}
}
