package flv

import (
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/scopecast/scopecast/stream"
)

// syncPoint is a place playback can start: a video keyframe (or, in a file
// without video, an audio frame) with its timestamp and tag offset.
type syncPoint struct {
	ts  uint32
	off int64
}

// hdrLoc is a sequence header tag in the file.
type hdrLoc struct {
	off  int64
	size int
	typ  uint8
}

// audioSyncGap spaces the sync points of audio-only files.
const audioSyncGap = 200

// File is an FLV file opened for playback: its header, leading onMetaData,
// duration and an index of the places playback can start (keyframes). A File
// may be shared by several Sources; each reads with its own offsets. Close it
// after they have stopped.
type File struct {
	f        *os.File
	path     string
	hdr      Header
	first    int64 // offset of the first tag
	end      int64 // end of the last whole tag
	meta     []byte
	duration time.Duration
	sync     []syncPoint
	hdrs     []hdrLoc
	tags     int
	damaged  error
}

// OpenFile opens an FLV file and scans it once, reading only tag headers
// and a few bytes of each tag, to find the onMetaData, the sequence headers
// and the keyframes (time → offset); the index holds at most one entry per
// tag, so it is bounded by the file's size. A file that is not FLV is an
// error wrapping ErrHeader (or ErrTruncated). Damage after the header ends
// the playable part at the last whole tag, as for a recording in progress or
// cut by a crash; Damaged reports it.
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrHeader, path)
	}
	file := &File{f: f, path: path}
	var videoSeen bool
	var audio []syncPoint
	lastAudio := int64(-audioSyncGap)
	res, err := scanFile(f, fi.Size(), func(t *tagInfo) {
		if t.pkt == nil {
			return
		}
		switch {
		case t.pkt.Header:
			file.hdrs = append(file.hdrs, hdrLoc{off: t.off, size: t.size, typ: t.typ})
		case t.typ == TagVideo:
			videoSeen = true
			if t.pkt.Keyframe {
				file.sync = append(file.sync, syncPoint{t.ts, t.off})
			}
		case t.typ == TagAudio && !videoSeen:
			if int64(t.ts)-lastAudio >= audioSyncGap || int64(t.ts) < lastAudio {
				audio = append(audio, syncPoint{t.ts, t.off})
				lastAudio = int64(t.ts)
			}
		}
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	if !videoSeen {
		file.sync = audio
	}
	// Timestamps normally rise; keep the index sorted for the search anyway.
	sort.SliceStable(file.sync, func(i, j int) bool { return file.sync[i].ts < file.sync[j].ts })
	file.hdr, file.first, file.end, file.tags, file.damaged = res.hdr, res.first, res.end, res.tags, res.err
	file.duration = time.Duration(res.tl.end) * time.Millisecond
	if res.metaOff >= 0 {
		file.meta = make([]byte, res.metaSize)
		if _, err := f.ReadAt(file.meta, res.metaOff); err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: onMetaData: %w", ErrTruncated, err)
		}
	}
	return file, nil
}

// Duration returns the end of the file's media timeline: the last timestamp
// plus one frame, measured from timestamp 0 (recordings start there).
func (f *File) Duration() time.Duration { return f.duration }

// Header returns the file header's flags.
func (f *File) Header() Header { return f.hdr }

// Metadata returns the data of the file's leading onMetaData tag (the AMF0
// name and value), or nil. The slice is shared; do not modify it.
func (f *File) Metadata() []byte { return f.meta }

// Tags returns the number of whole tags in the file.
func (f *File) Tags() int { return f.tags }

// Damaged returns why the scan stopped before the end of the file (a
// partial last tag, damage), or nil if the file ends cleanly.
func (f *File) Damaged() error { return f.damaged }

// Keyframes returns the timestamps of the places playback can start, in order.
func (f *File) Keyframes() []time.Duration {
	out := make([]time.Duration, len(f.sync))
	for i, s := range f.sync {
		out[i] = time.Duration(s.ts) * time.Millisecond
	}
	return out
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// seekPoint returns the sync point at or before ts (the first one if ts is
// before it), or the first tag if the file has none.
func (f *File) seekPoint(ts uint32) syncPoint {
	if len(f.sync) == 0 {
		return syncPoint{0, f.first}
	}
	i := sort.Search(len(f.sync), func(i int) bool { return f.sync[i].ts > ts })
	if i == 0 {
		return f.sync[0]
	}
	return f.sync[i-1]
}

// headersBefore returns the latest sequence header of each type before off,
// as packets with timestamp ts, video first.
func (f *File) headersBefore(off int64, ts uint32) ([]*stream.Packet, error) {
	var v, a *hdrLoc
	for i := range f.hdrs {
		h := &f.hdrs[i]
		if h.off >= off {
			break
		}
		if h.typ == TagVideo {
			v = h
		} else {
			a = h
		}
	}
	var out []*stream.Packet
	for _, h := range []*hdrLoc{v, a} {
		if h == nil {
			continue
		}
		b := make([]byte, h.size)
		if _, err := f.f.ReadAt(b, h.off+TagHeaderSize); err != nil {
			return nil, fmt.Errorf("%w: sequence header: %w", ErrTruncated, err)
		}
		out = append(out, stream.NewPacket(stream.Kind(h.typ), ts, b))
	}
	return out, nil
}
