package flv

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/scopecast/scopecast/stream"
)

// scanHead is how many bytes of each tag's data a scan looks at: enough to
// classify video and audio (Enhanced RTMP headers included) and to recognise
// onMetaData.
const scanHead = 32

// maxDelta bounds the frame duration guessed from the gap between two frames
// of one type; a longer gap is a pause in the media, not a frame length.
const maxDelta = 1000

// tagInfo is one tag seen by a scan. head aliases the scanner's buffer and is
// valid only during the visit.
type tagInfo struct {
	off  int64 // offset of the tag header
	typ  uint8
	ts   uint32
	size int
	head []byte
	pkt  *stream.Packet // media tags: classified from head (payload = head)
}

// scanResult is what a scan learned about a file.
type scanResult struct {
	hdr      Header
	first    int64 // offset of the first tag
	end      int64 // end of the last complete tag (previous-tag-size included)
	tags     int
	metaOff  int64 // offset of the data of a leading onMetaData tag, or -1
	metaSize int
	tl       timeline
	err      error // why the scan stopped before the end of the file (nil: clean end)
}

// timeline follows the timestamps of audio and video frames to compute where
// the media ends: the last timestamp of each type plus that type's last frame
// duration (the gap to the previous frame, at most maxDelta).
type timeline struct {
	last, delta [2]int64
	seen        [2]bool
	end         int64 // ms
}

func (t *timeline) add(video bool, ts int64) {
	i := 0
	if video {
		i = 1
	}
	if t.seen[i] {
		if d := ts - t.last[i]; d > 0 && d <= maxDelta {
			t.delta[i] = d
		}
	}
	t.seen[i] = true
	t.last[i] = ts
	t.end = max(t.end, ts+t.delta[i])
}

// readHeader checks the file header at the start of r and returns it with the
// offset of the first tag.
func readHeader(r io.ReaderAt, size int64) (Header, int64, error) {
	var b [HeaderSize]byte
	if size < HeaderSize {
		return Header{}, 0, fmt.Errorf("%w: %d-byte file", ErrTruncated, size)
	}
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return Header{}, 0, fmt.Errorf("%w: reading header: %w", ErrTruncated, err)
	}
	h, off, err := parseHeader(&b)
	if err != nil {
		return Header{}, 0, err
	}
	if off+4 > size {
		return Header{}, 0, fmt.Errorf("%w: file ends in the header (%d bytes)", ErrTruncated, size)
	}
	var p [4]byte
	if _, err := r.ReadAt(p[:], off); err != nil {
		return Header{}, 0, fmt.Errorf("%w: reading PreviousTagSize0: %w", ErrTruncated, err)
	}
	if v := binary.BigEndian.Uint32(p[:]); v != 0 {
		return Header{}, 0, fmt.Errorf("%w: PreviousTagSize0 is %d", ErrHeader, v)
	}
	return h, off + 4, nil
}

// scanFile walks the tags of the first size bytes of r, calling visit (if not
// nil) for each complete, well-formed tag. It reads only tag headers and the
// first scanHead bytes of each tag's data, through one buffer, so it costs
// time linear in the file and constant memory. A header error is returned;
// damage after the header stops the walk and is reported in the result's err
// with end at the last good tag.
func scanFile(r io.ReaderAt, size int64, visit func(t *tagInfo)) (scanResult, error) {
	h, first, err := readHeader(r, size)
	if err != nil {
		return scanResult{}, err
	}
	res := scanResult{hdr: h, first: first, end: first, metaOff: -1}
	br := bufio.NewReaderSize(io.NewSectionReader(r, first, size-first), 64<<10)
	var hdr [TagHeaderSize]byte
	var head [scanHead]byte
	var prev [4]byte
	off := first
	for off < size {
		if size-off < TagHeaderSize+4 {
			res.err = fmt.Errorf("%w: %d bytes after the last tag", ErrTruncated, size-off)
			break
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			res.err = fmt.Errorf("%w: tag header: %w", ErrTruncated, err)
			break
		}
		th, ok := parseTagHeader(hdr[:])
		if !ok {
			res.err = fmt.Errorf("%w: type byte %#02x at %d", ErrTagType, th.typ, off)
			break
		}
		typ, n, ts := th.typ, th.size, th.ts
		if off+TagHeaderSize+int64(n)+4 > size {
			res.err = fmt.Errorf("%w: tag of %d bytes at %d", ErrTruncated, n, off)
			break
		}
		k := min(n, scanHead)
		if _, err := io.ReadFull(br, head[:k]); err != nil {
			res.err = fmt.Errorf("%w: tag data: %w", ErrTruncated, err)
			break
		}
		if _, err := br.Discard(n - k); err != nil {
			res.err = fmt.Errorf("%w: tag data: %w", ErrTruncated, err)
			break
		}
		if _, err := io.ReadFull(br, prev[:]); err != nil {
			res.err = fmt.Errorf("%w: previous tag size: %w", ErrTruncated, err)
			break
		}
		if v := binary.BigEndian.Uint32(prev[:]); v != uint32(TagHeaderSize+n) {
			res.err = fmt.Errorf("%w: %d after a tag of %d bytes at %d", ErrPrevSize, v, TagHeaderSize+n, off)
			break
		}
		t := tagInfo{off: off, typ: typ, ts: ts, size: n, head: head[:k]}
		if typ == TagScript && res.tags == 0 && isMetaPayload(t.head) {
			res.metaOff, res.metaSize = off+TagHeaderSize, n
		}
		if typ != TagScript {
			t.pkt = stream.NewPacket(stream.Kind(typ), ts, t.head)
			if !t.pkt.Header && n > 0 {
				res.tl.add(typ == TagVideo, int64(ts))
			}
		}
		if visit != nil {
			visit(&t)
		}
		res.tags++
		off += TagHeaderSize + int64(n) + 4
		res.end = off
	}
	return res, nil
}

// validTagAt reports whether b[p:] starts with a well-formed tag that is
// followed by another well-formed tag or ends exactly at the end of b: a sign
// that b holds good tags at p, not the debris of a cut write.
func validTagAt(b []byte, p int) bool {
	for i := 0; i < 2; i++ {
		if len(b)-p < TagHeaderSize+4 {
			return false
		}
		th, ok := parseTagHeader(b[p:])
		if !ok {
			return false
		}
		e := p + TagHeaderSize + th.size + 4
		if e > len(b) || binary.BigEndian.Uint32(b[e-4:]) != uint32(TagHeaderSize+th.size) {
			return false
		}
		if e == len(b) {
			return true
		}
		p = e
	}
	return true
}
