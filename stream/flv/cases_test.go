package flv

import (
	"bytes"
	"encoding/binary"
)

// readCase is one input of the reader table; the same table seeds FuzzReader
// (f.Add and testdata/fuzz/FuzzReader).
type readCase struct {
	name    string
	in      []byte
	maxTag  int    // SetMaxTagSize before reading (0: default)
	header  Header // when the header is valid
	tags    []Tag  // tags read before the end or the error
	hdrErr  error  // NewReader's error
	tagErr  error  // the error after tags (nil: io.EOF)
	comment string
}

func fileHeader(flags byte, offset uint32, ext []byte, pts0 uint32) []byte {
	b := []byte{'F', 'L', 'V', 1, flags}
	b = binary.BigEndian.AppendUint32(b, offset)
	b = append(b, ext...)
	return binary.BigEndian.AppendUint32(b, pts0)
}

// rawTag builds a tag with explicit fields: size is the header's data size,
// prev the trailing previous tag size.
func rawTag(typ byte, ts uint32, streamID uint32, size int, data []byte, prev uint32) []byte {
	b := []byte{typ, byte(size >> 16), byte(size >> 8), byte(size), byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ts >> 24),
		byte(streamID >> 16), byte(streamID >> 8), byte(streamID)}
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, prev)
}

func goodTag(t Tag) []byte {
	return rawTag(t.Type, t.Timestamp, 0, len(t.Data), t.Data, uint32(TagHeaderSize+len(t.Data)))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var (
	meta     = Tag{Type: TagScript, Timestamp: 0, Data: []byte("\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00\x00\x00\x09")}
	avcSeq   = Tag{Type: TagVideo, Timestamp: 0, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1}}
	aacSeq   = Tag{Type: TagAudio, Timestamp: 0, Data: []byte{0xAF, 0, 0x12, 0x10}}
	key      = Tag{Type: TagVideo, Timestamp: 40, Data: append([]byte{0x17, 1, 0, 0, 0}, bytes.Repeat([]byte{0x65}, 300)...)}
	aacFrame = Tag{Type: TagAudio, Timestamp: 46, Data: []byte{0xAF, 1, 0x21, 0x10, 0x05}}
	extTS    = Tag{Type: TagVideo, Timestamp: 0x01020304, Data: []byte{0x27, 1, 0, 0, 0, 0x41}}
	empty    = Tag{Type: TagAudio, Timestamp: 7, Data: []byte{}}
	stdHdr   = fileHeader(0x05, 9, nil, 0)
)

var readCases = []readCase{
	{name: "header-only", in: stdHdr, header: Header{HasAudio: true, HasVideo: true}},
	{name: "no-flags", in: fileHeader(0, 9, nil, 0), header: Header{}},
	{name: "audio-only-flag", in: fileHeader(0x04, 9, nil, 0), header: Header{HasAudio: true}},
	{name: "video-only-reserved-bits", in: fileHeader(0xF9, 9, nil, 0), header: Header{HasVideo: true}},
	{name: "stream", in: cat(stdHdr, goodTag(meta), goodTag(avcSeq), goodTag(aacSeq), goodTag(key), goodTag(aacFrame)),
		header: Header{HasAudio: true, HasVideo: true}, tags: []Tag{meta, avcSeq, aacSeq, key, aacFrame}},
	{name: "extended-timestamp", in: cat(stdHdr, goodTag(extTS)), header: Header{HasAudio: true, HasVideo: true}, tags: []Tag{extTS}},
	{name: "empty-tag", in: cat(stdHdr, goodTag(empty)), header: Header{HasAudio: true, HasVideo: true}, tags: []Tag{empty}},
	{name: "data-offset-13", in: cat(fileHeader(0x01, 13, []byte{1, 2, 3, 4}, 0), goodTag(key)), header: Header{HasVideo: true}, tags: []Tag{key},
		comment: "the bytes between the header and the data offset are skipped"},
	{name: "stream-id-ignored", in: cat(stdHdr, rawTag(TagAudio, 46, 0x123456, len(aacFrame.Data), aacFrame.Data, 16)),
		header: Header{HasAudio: true, HasVideo: true}, tags: []Tag{aacFrame}},
	{name: "max-tag-size-exact", in: cat(stdHdr, goodTag(key)), maxTag: len(key.Data), header: Header{HasAudio: true, HasVideo: true}, tags: []Tag{key}},

	{name: "err-empty", in: []byte{}, hdrErr: ErrTruncated},
	{name: "err-short-header", in: []byte("FLV\x01\x05"), hdrErr: ErrTruncated},
	{name: "err-bad-signature", in: append([]byte("FLX"), stdHdr[3:]...), hdrErr: ErrHeader},
	{name: "err-version-2", in: append([]byte("FLV\x02"), stdHdr[4:]...), hdrErr: ErrHeader},
	{name: "err-offset-8", in: fileHeader(0x05, 8, nil, 0), hdrErr: ErrHeader},
	{name: "err-offset-huge", in: fileHeader(0x05, 0xFFFFFFFF, nil, 0), hdrErr: ErrHeader},
	{name: "err-offset-past-end", in: fileHeader(0x05, 1000, nil, 0), hdrErr: ErrTruncated},
	{name: "err-pts0-nonzero", in: fileHeader(0x05, 9, nil, 11), hdrErr: ErrHeader},
	{name: "err-pts0-missing", in: stdHdr[:11], hdrErr: ErrTruncated},
	{name: "err-tag-type-7", in: cat(stdHdr, rawTag(7, 0, 0, 1, []byte{0}, 12)), header: Header{HasAudio: true, HasVideo: true}, tagErr: ErrTagType},
	{name: "err-tag-filter-bit", in: cat(stdHdr, rawTag(0x20|TagVideo, 0, 0, 1, []byte{0}, 12)), header: Header{HasAudio: true, HasVideo: true}, tagErr: ErrTagType},
	{name: "err-truncated-tag-header", in: cat(stdHdr, goodTag(aacSeq), goodTag(key)[:5]), header: Header{HasAudio: true, HasVideo: true},
		tags: []Tag{aacSeq}, tagErr: ErrTruncated},
	{name: "err-truncated-data", in: cat(stdHdr, goodTag(key)[:100]), header: Header{HasAudio: true, HasVideo: true}, tagErr: ErrTruncated},
	{name: "err-missing-prev-size", in: cat(stdHdr, goodTag(aacSeq)[:TagHeaderSize+len(aacSeq.Data)+2]), header: Header{HasAudio: true, HasVideo: true}, tagErr: ErrTruncated},
	{name: "err-wrong-prev-size", in: cat(stdHdr, rawTag(TagAudio, 0, 0, len(aacSeq.Data), aacSeq.Data, uint32(len(aacSeq.Data)))),
		header: Header{HasAudio: true, HasVideo: true}, tagErr: ErrPrevSize, comment: "some old writers left out the header; we do not guess"},
	{name: "err-huge-size-claim", in: cat(stdHdr, rawTag(TagVideo, 0, 0, 0xFFFFFF, []byte{0x17, 1}, 0)), header: Header{HasAudio: true, HasVideo: true},
		tagErr: ErrTruncated, comment: "a 16 MiB claim over a few bytes allocates one read step, not 16 MiB"},
	{name: "err-tag-too-large", in: cat(stdHdr, goodTag(key)), maxTag: len(key.Data) - 1, header: Header{HasAudio: true, HasVideo: true}, tagErr: ErrTagTooLarge},
}
