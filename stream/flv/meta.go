package flv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// onMetaData handling. A recording starts with one onMetaData script tag of a
// fixed size, reserved when the file is created: an ECMA array whose first
// properties are the numbers duration and filesize, then the publisher's
// fields, then a string property "_padding" that fills the tag to its size.
// While recording, each flush patches the two numbers in place (8 bytes each,
// same offsets); Stop re-encodes the whole array into the same size with the
// final fields; Repair patches the numbers. So the file always begins with
// metadata that carries a duration no older than the last flush, and the
// final file has the true one, without ever moving the media tags.

const (
	padKey = "_padding"
	// metaMinReserve and metaMaxReserve bound the reserved onMetaData tag.
	metaMinReserve = 1024
	metaMaxReserve = 64 << 10
)

// metaPrefix is how an onMetaData script payload starts (AMF0 string).
var metaPrefix = []byte("\x02\x00\x0aonMetaData")

func isMetaPayload(b []byte) bool { return bytes.HasPrefix(b, metaPrefix) }

// parseMeta decodes an onMetaData payload into its properties (object or
// ECMA array); the result is a fresh ECMA array.
func parseMeta(b []byte) (*amfObj, error) {
	if !isMetaPayload(b) {
		return nil, fmt.Errorf("%w: not onMetaData", ErrAMF)
	}
	v, _, err := amfDecode(b[len(metaPrefix):])
	if err != nil {
		return nil, err
	}
	o, ok := v.(*amfObj)
	if !ok {
		return nil, fmt.Errorf("%w: onMetaData value is %T, not an object", ErrAMF, v)
	}
	return &amfObj{ECMA: true, Props: o.Props}, nil
}

// essentialMeta are the fields kept when a metadata array must shrink to fit
// its reserved size.
var essentialMeta = map[string]bool{
	"duration": true, "filesize": true, "width": true, "height": true, "framerate": true,
	"videocodecid": true, "audiocodecid": true, "audiosamplerate": true, "audiosamplesize": true,
	"stereo": true, "videodatarate": true, "audiodatarate": true, "lasttimestamp": true,
}

// encodeMetaSized encodes "onMetaData" and o into exactly size bytes, filling
// the rest with the "_padding" property. If o is too large, properties that
// are not essential are dropped from the end first. It reports false if even
// the essential fields do not fit.
func encodeMetaSized(o *amfObj, size int) ([]byte, bool) {
	w := &amfObj{ECMA: true, Props: make([]amfProp, 0, len(o.Props))}
	for _, p := range o.Props {
		if p.Key != padKey {
			w.Props = append(w.Props, p)
		}
	}
	for {
		b := append([]byte(nil), metaPrefix...)
		b = amfAppend(b, w)
		b = b[:len(b)-3] // reopen the array for the padding
		// padding: key, marker, length, bytes; then the end marker.
		rest := size - len(b) - 3
		switch l := rest - (2 + len(padKey) + 3); {
		case l >= 0 && l <= math.MaxUint16:
			b = amfAppendKey(b, padKey)
			b = binary.BigEndian.AppendUint16(append(b, amfString), uint16(l))
			b = append(b, bytes.Repeat([]byte{' '}, l)...)
			b = append(b, 0, 0, amfObjectEnd)
			fixCount(b, len(w.Props)+1)
			return b, true
		case l > math.MaxUint16:
			l = rest - (2 + len(padKey) + 5)
			b = amfAppendKey(b, padKey)
			b = binary.BigEndian.AppendUint32(append(b, amfLongString), uint32(l))
			b = append(b, bytes.Repeat([]byte{' '}, l)...)
			b = append(b, 0, 0, amfObjectEnd)
			fixCount(b, len(w.Props)+1)
			return b, true
		case rest == 0:
			b = append(b, 0, 0, amfObjectEnd)
			return b, true
		}
		// Too large: drop the last non-essential property.
		i := len(w.Props) - 1
		for i >= 0 && essentialMeta[w.Props[i].Key] {
			i--
		}
		if i < 0 {
			return nil, false
		}
		w.Props = append(w.Props[:i], w.Props[i+1:]...)
	}
}

// fixCount sets the ECMA array count that follows the onMetaData name.
func fixCount(b []byte, n int) {
	binary.BigEndian.PutUint32(b[len(metaPrefix)+1:], uint32(n))
}

// patchNumber overwrites, in place, the number value of the first property
// named key in an AMF0 payload. It reports whether it found one.
func patchNumber(b []byte, key string, v float64) bool {
	pat := make([]byte, 0, 3+len(key))
	pat = amfAppendKey(pat, key)
	pat = append(pat, amfNumber)
	i := bytes.Index(b, pat)
	if i < 0 || i+len(pat)+8 > len(b) {
		return false
	}
	binary.BigEndian.PutUint64(b[i+len(pat):], math.Float64bits(v))
	return true
}

// updateMeta rewrites the metadata payload b (a tag's data, size fixed) with
// duration and filesize: a full re-encode of final when it is given and fits,
// else the two numbers patched in place. It reports whether anything was
// updated.
func updateMeta(b []byte, final *amfObj, d time.Duration, filesize int64) bool {
	if final != nil {
		final.set("duration", d.Seconds())
		final.set("filesize", float64(filesize))
		if enc, ok := encodeMetaSized(final, len(b)); ok {
			copy(b, enc)
			return true
		}
	}
	ok1 := patchNumber(b, "duration", d.Seconds())
	ok2 := patchNumber(b, "filesize", float64(filesize))
	return ok1 || ok2
}

// reserveSize is the size of the onMetaData tag reserved for metadata whose
// initial encoding takes n bytes: room for later fields and a larger
// publisher's metadata.
func reserveSize(n int) int {
	s := (n + 512 + 255) &^ 255
	return min(max(s, metaMinReserve), metaMaxReserve)
}

// mediaInfo is what the recorder learns from the packets themselves.
type mediaInfo struct {
	videoCodec, audioCodec   float64 // 0: none seen
	sampleRate, sampleSize   float64
	stereo, hasAudio, hasVid bool
	videoFrames              int64
	videoBytes, audioBytes   int64
}

// observe updates the info from a media payload.
func (mi *mediaInfo) observe(video bool, header bool, b []byte) {
	if len(b) == 0 {
		return
	}
	if video {
		mi.hasVid = true
		if !header {
			mi.videoFrames++
			mi.videoBytes += int64(len(b))
		}
		if mi.videoCodec == 0 {
			if b[0]&0x80 != 0 {
				if len(b) >= 5 && b[0]&0x0F != 6 && b[0]&0x0F != 7 {
					mi.videoCodec = float64(binary.BigEndian.Uint32(b[1:5]))
				}
			} else {
				mi.videoCodec = float64(b[0] & 0x0F)
			}
		}
		return
	}
	mi.hasAudio = true
	if !header {
		mi.audioBytes += int64(len(b))
	}
	format := b[0] >> 4
	if format == 9 { // ExHeader: FourCC after the first byte
		if mi.audioCodec == 0 && len(b) >= 5 && b[0]&0x0F != 5 && b[0]&0x0F != 7 {
			mi.audioCodec = float64(binary.BigEndian.Uint32(b[1:5]))
		}
		return
	}
	if mi.audioCodec == 0 {
		mi.audioCodec = float64(format)
		rates := [4]float64{5512, 11025, 22050, 44100}
		mi.sampleRate = rates[(b[0]>>2)&3]
		mi.sampleSize = 8
		if b[0]&2 != 0 {
			mi.sampleSize = 16
		}
		mi.stereo = b[0]&1 != 0
	}
	if format == 10 && header && len(b) >= 4 { // AAC AudioSpecificConfig
		aacRates := [...]float64{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
		if idx := (b[2]&0x07)<<1 | b[3]>>7; int(idx) < len(aacRates) {
			mi.sampleRate = aacRates[idx]
		}
		mi.stereo = (b[3]>>3)&0x0F >= 2
	}
}

// buildMeta composes the final metadata: the base fields (an appended file's
// existing metadata), then the publisher's, then what the packets showed
// where neither said it.
func buildMeta(base, pub *amfObj, mi *mediaInfo, d time.Duration, filesize int64) *amfObj {
	o := &amfObj{ECMA: true}
	o.set("duration", d.Seconds())
	o.set("filesize", float64(filesize))
	for _, src := range []*amfObj{base, pub} {
		if src == nil {
			continue
		}
		for _, p := range src.Props {
			switch p.Key {
			case "duration", "filesize", padKey:
				continue
			}
			o.set(p.Key, p.Value)
		}
	}
	if mi == nil {
		return o
	}
	secs := d.Seconds()
	setIf := func(k string, v any) {
		if _, ok := o.get(k); !ok {
			o.set(k, v)
		}
	}
	if mi.hasVid && mi.videoCodec != 0 {
		setIf("videocodecid", mi.videoCodec)
	}
	if mi.hasAudio && mi.audioCodec != 0 {
		setIf("audiocodecid", mi.audioCodec)
		if mi.sampleRate != 0 {
			setIf("audiosamplerate", mi.sampleRate)
			setIf("audiosamplesize", mi.sampleSize)
			setIf("stereo", mi.stereo)
		}
	}
	if secs > 0 {
		if mi.videoFrames > 1 {
			setIf("framerate", math.Round(float64(mi.videoFrames)/secs*100)/100)
		}
		if mi.videoBytes > 0 {
			setIf("videodatarate", math.Round(float64(mi.videoBytes)*8/1000/secs))
		}
		if mi.audioBytes > 0 {
			setIf("audiodatarate", math.Round(float64(mi.audioBytes)*8/1000/secs))
		}
	}
	setIf("metadatacreator", "scopecast")
	return o
}
