package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"

	"github.com/scopecast/scopecast/rtmp/amf"
)

// The tables below drive the unit tests and seed the fuzz targets (f.Add and
// testdata/fuzz/FuzzX, kept in step by TestFuzzCorpus).

// AMF0 encodings written by hand from the AMF0 specification, so that the
// decoder is not only checked against this repository's encoder.

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func a0num(f float64) []byte { return binary.BigEndian.AppendUint64([]byte{0x00}, math.Float64bits(f)) }

func a0bool(b bool) []byte {
	if b {
		return []byte{0x01, 1}
	}
	return []byte{0x01, 0}
}

func a0str(s string) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{0x02}, uint16(len(s))), s...)
}

var a0null = []byte{0x05}

// a0key is a property name: u16 length and UTF-8 bytes, no marker.
func a0key(k string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(k))), k...) }

// a0obj is an anonymous object; kv alternates key strings and encoded values.
func a0obj(kv ...any) []byte {
	b := []byte{0x03}
	for i := 0; i < len(kv); i += 2 {
		b = append(b, a0key(kv[i].(string))...)
		b = append(b, kv[i+1].([]byte)...)
	}
	return append(b, 0x00, 0x00, 0x09)
}

// a0ecma is an ECMA array with its count; kv as for a0obj.
func a0ecma(kv ...any) []byte {
	b := binary.BigEndian.AppendUint32([]byte{0x08}, uint32(len(kv)/2))
	b = append(b, a0obj(kv...)[1:]...)
	return b
}

// ffmpegConnect is the connect command of `ffmpeg -f flv rtmp://localhost/live/key`
// (libavformat rtmpproto.c gen_connect for an output: app, type, flashVer, tcUrl).
var ffmpegConnect = cat(
	a0str("connect"), a0num(1),
	a0obj("app", a0str("live"),
		"type", a0str("nonprivate"),
		"flashVer", a0str("FMLE/3.0 (compatible; Lavf61.7.100)"),
		"tcUrl", a0str("rtmp://localhost:1935/live")),
)

var ffmpegConnectObj = amf.Obj("app", "live", "type", "nonprivate",
	"flashVer", "FMLE/3.0 (compatible; Lavf61.7.100)", "tcUrl", "rtmp://localhost:1935/live")

// ffplayConnect is the connect of an input (ffplay rtmp://…): no type, and the
// player capabilities.
var ffplayConnect = cat(
	a0str("connect"), a0num(1),
	a0obj("app", a0str("live"),
		"flashVer", a0str("LNX 9,0,124,2"),
		"tcUrl", a0str("rtmp://localhost:1935/live"),
		"fpad", a0bool(false),
		"capabilities", a0num(15),
		"audioCodecs", a0num(4071),
		"videoCodecs", a0num(252),
		"videoFunction", a0num(1)),
)

var ffplayConnectObj = amf.Obj("app", "live", "flashVer", "LNX 9,0,124,2", "tcUrl", "rtmp://localhost:1935/live",
	"fpad", false, "capabilities", 15.0, "audioCodecs", 4071.0, "videoCodecs", 252.0, "videoFunction", 1.0)

// userControlCase is one ParseUserControl input.
type userControlCase struct {
	name       string
	in         []byte
	event      uint16
	arg1, arg2 uint32
	err        error
	comment    string
}

func uc(event uint16, rest ...byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, event), rest...)
}

var userControlCases = []userControlCase{
	{name: "stream-begin", in: uc(EventStreamBegin, 0, 0, 0, 1), event: EventStreamBegin, arg1: 1},
	{name: "stream-begin-no-arg", in: uc(EventStreamBegin), event: EventStreamBegin},
	{name: "stream-eof", in: uc(EventStreamEOF, 0, 0, 0, 1), event: EventStreamEOF, arg1: 1},
	{name: "stream-dry", in: uc(EventStreamDry, 0, 0, 0, 2), event: EventStreamDry, arg1: 2},
	{name: "set-buffer-length", in: uc(EventSetBufferLength, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8), event: EventSetBufferLength, arg1: 1, arg2: 3000},
	{name: "stream-is-recorded", in: uc(EventStreamIsRecorded, 0, 0, 0, 1), event: EventStreamIsRecorded, arg1: 1},
	{name: "ping-request", in: uc(EventPingRequest, 0x12, 0x34, 0x56, 0x78), event: EventPingRequest, arg1: 0x12345678},
	{name: "ping-response", in: uc(EventPingResponse, 0xff, 0xff, 0xff, 0xff), event: EventPingResponse, arg1: 0xffffffff},
	{name: "unknown-event-buffer-empty", in: uc(31, 0, 0, 0, 1), event: 31, arg1: 1},
	{name: "second-arg-where-one-expected", in: uc(EventPingRequest, 0, 0, 0, 5, 0, 0, 0, 6), event: EventPingRequest, arg1: 5, arg2: 6},
	{name: "trailing-bytes-ignored", in: uc(EventStreamEOF, 0, 0, 0, 1, 9, 9), event: EventStreamEOF, arg1: 1},
	{name: "set-buffer-length-trailing-bytes", in: uc(EventSetBufferLength, 0, 0, 0, 1, 0, 0, 0, 100, 7), event: EventSetBufferLength, arg1: 1, arg2: 100},

	{name: "err-empty", in: []byte{}, err: ErrShort},
	{name: "err-one-byte", in: []byte{0}, err: ErrShort},
	{name: "err-stream-begin-partial-arg", in: uc(EventStreamBegin, 0, 0), err: ErrShort},
	{name: "err-stream-eof-no-arg", in: uc(EventStreamEOF), err: ErrShort},
	{name: "err-stream-dry-no-arg", in: uc(EventStreamDry), err: ErrShort},
	{name: "err-stream-is-recorded-no-arg", in: uc(EventStreamIsRecorded), err: ErrShort},
	{name: "err-ping-request-short", in: uc(EventPingRequest, 1, 2, 3), err: ErrShort},
	{name: "err-ping-response-no-arg", in: uc(EventPingResponse), err: ErrShort},
	{name: "err-set-buffer-length-no-args", in: uc(EventSetBufferLength), err: ErrShort},
	{name: "err-set-buffer-length-one-arg", in: uc(EventSetBufferLength, 0, 0, 0, 1), err: ErrShort,
		comment: "was accepted with a zero length before ParseUserControl was fixed"},
	{name: "err-set-buffer-length-partial-second", in: uc(EventSetBufferLength, 0, 0, 0, 1, 0, 0, 1), err: ErrShort},
}

// commandCase is one DecodeCommand input.
type commandCase struct {
	name    string
	in      []byte
	amf3    bool       // message type 17
	lim     amf.Limits // zero: defaults
	want    Command
	errs    []error // every one must match (errors.Is); nil: success
	comment string
}

// amf3Int is an AMF3 integer behind the AMF0 switch marker (v < 2^14).
func amf3Int(v int) []byte {
	if v < 0x80 {
		return []byte{0x11, 0x04, byte(v)}
	}
	return []byte{0x11, 0x04, 0x80 | byte(v>>7), byte(v & 0x7f)}
}

var commandCases = []commandCase{
	{name: "connect-ffmpeg-publish", in: ffmpegConnect,
		want: Command{Name: "connect", TxID: 1, Object: ffmpegConnectObj}},
	{name: "connect-ffplay", in: ffplayConnect,
		want: Command{Name: "connect", TxID: 1, Object: ffplayConnectObj}},
	{name: "connect-with-args", in: cat(ffmpegConnect, a0str("user"), a0str("secret")),
		want: Command{Name: "connect", TxID: 1, Object: ffmpegConnectObj, Args: []any{"user", "secret"}}},
	{name: "release-stream", in: cat(a0str("releaseStream"), a0num(2), a0null, a0str("key")),
		want: Command{Name: "releaseStream", TxID: 2, Args: []any{"key"}}},
	{name: "create-stream", in: cat(a0str("createStream"), a0num(4), a0null),
		want: Command{Name: "createStream", TxID: 4}},
	{name: "publish", in: cat(a0str("publish"), a0num(5), a0null, a0str("key"), a0str("live")),
		want: Command{Name: "publish", TxID: 5, Args: []any{"key", "live"}}},
	{name: "play-with-args", in: cat(a0str("play"), a0num(4), a0null, a0str("livestream"), a0num(-2000), a0num(-1), a0bool(true)),
		want: Command{Name: "play", TxID: 4, Args: []any{"livestream", -2000.0, -1.0, true}}},
	{name: "result-two-objects", in: cat(a0str("_result"), a0num(1),
		a0obj("fmsVer", a0str("FMS/3,0,1,123"), "capabilities", a0num(31)),
		a0obj("level", a0str("status"), "code", a0str("NetConnection.Connect.Success"), "objectEncoding", a0num(0))),
		want: Command{Name: "_result", TxID: 1, Object: amf.Obj("fmsVer", "FMS/3,0,1,123", "capabilities", 31.0),
			Args: []any{amf.Obj("level", "status", "code", "NetConnection.Connect.Success", "objectEncoding", 0.0)}}},
	{name: "on-status-ecma-arg", in: cat(a0str("onStatus"), a0num(0), a0null, a0ecma("code", a0str("NetStream.Play.Start"))),
		want: Command{Name: "onStatus", Args: []any{&amf.ECMAArray{Props: []amf.Property{{Key: "code", Value: "NetStream.Play.Start"}}}}}},
	{name: "name-only", in: a0str("onBWDone"), want: Command{Name: "onBWDone"}},
	{name: "name-and-tx", in: cat(a0str("closeStream"), a0num(0)), want: Command{Name: "closeStream"}},
	{name: "tx-fraction-kept", in: cat(a0str("x"), a0num(2.5), a0null), want: Command{Name: "x", TxID: 2.5}},
	{name: "long-string-name", in: cat([]byte{0x0c, 0, 0, 0, 4}, []byte("call"), a0num(3)), want: Command{Name: "call", TxID: 3}},
	{name: "amf3-connect", in: cat([]byte{0x00}, ffmpegConnect), amf3: true,
		want: Command{Name: "connect", TxID: 1, Object: ffmpegConnectObj}},
	{name: "amf3-tx-switch-integer", in: cat([]byte{0x00}, a0str("createStream"), amf3Int(7), a0null), amf3: true,
		want: Command{Name: "createStream", TxID: 7}},
	{name: "amf3-tx-switch-integer-2-bytes", in: cat([]byte{0x00}, a0str("play"), amf3Int(300), a0null, a0str("s")), amf3: true,
		want: Command{Name: "play", TxID: 300, Args: []any{"s"}}},
	{name: "amf3-name-switch-string", in: cat([]byte{0x00, 0x11, 0x06, 0x09}, []byte("call"), a0num(1)), amf3: true,
		want: Command{Name: "call", TxID: 1}},
	{name: "amf3-switch-arg-integer", in: cat([]byte{0x00}, a0str("seek"), a0num(0), a0null, amf3Int(5)), amf3: true,
		want: Command{Name: "seek", Args: []any{int32(5)}}},
	{name: "amf3-connect-amf3-object", in: cat([]byte{0x00}, a0str("connect"), a0num(1),
		[]byte{0x11, 0x0a, 0x0b, 0x01, 0x07}, []byte("app"), []byte{0x06, 0x09}, []byte("live"),
		[]byte{0x1d}, []byte("objectEncoding"), []byte{0x04, 0x03, 0x01}), amf3: true,
		want:    Command{Name: "connect", TxID: 1, Object: amf.Obj("app", "live", "objectEncoding", int32(3))},
		comment: "Flex: the command object is an anonymous dynamic AMF3 object"},
	{name: "amf3-string-reference", in: cat([]byte{0x00}, a0str("call"), a0num(2), a0null,
		[]byte{0x11, 0x0a, 0x0b, 0x01, 0x03, 'a', 0x06, 0x03, 'x', 0x03, 'b', 0x06, 0x02, 0x01}), amf3: true,
		want:    Command{Name: "call", TxID: 2, Args: []any{amf.Obj("a", "x", "b", "x")}},
		comment: "the second \"x\" is a reference to string 1 (\"a\" is 0)"},
	{name: "amf0-object-reference", in: cat(a0str("call"), a0num(3), a0obj("k", a0num(1)), []byte{0x07, 0x00, 0x00}),
		want:    Command{Name: "call", TxID: 3, Object: amf.Obj("k", 1.0), Args: []any{amf.Obj("k", 1.0)}},
		comment: "AMF0 reference 0 is the command object"},
	{name: "amf3-without-prefix-byte", in: cat(a0str("createStream"), a0num(4), a0null), amf3: true,
		want: Command{Name: "createStream", TxID: 4}},
	{name: "tx-switch-integer-in-amf0", in: cat(a0str("createStream"), amf3Int(2), a0null),
		want: Command{Name: "createStream", TxID: 2}},

	{name: "err-empty", in: []byte{}, errs: []error{ErrCommand}},
	{name: "err-amf3-prefix-only", in: []byte{0x00}, amf3: true, errs: []error{ErrCommand}},
	{name: "err-amf0-with-amf3-prefix", in: cat([]byte{0x00}, ffmpegConnect), errs: []error{ErrCommand},
		comment: "0x00 starts an AMF0 number: the name is not a string"},
	{name: "err-name-number", in: cat(a0num(1), a0num(1)), errs: []error{ErrCommand}},
	{name: "err-name-null", in: cat(a0null, a0num(1)), errs: []error{ErrCommand}},
	{name: "err-name-object", in: a0obj("a", a0num(1)), errs: []error{ErrCommand}},
	{name: "err-truncated-name", in: a0str("connect")[:5], errs: []error{ErrCommand, amf.ErrTruncated}},
	{name: "err-truncated-number", in: cat(a0str("connect"), a0num(1)[:5]), errs: []error{ErrCommand, amf.ErrTruncated}},
	{name: "err-truncated-object", in: ffmpegConnect[:len(ffmpegConnect)-3], errs: []error{ErrCommand, amf.ErrTruncated}},
	{name: "err-truncated-after-prefix", in: cat([]byte{0x00}, a0str("connect")[:4]), amf3: true, errs: []error{ErrCommand, amf.ErrTruncated}},
	{name: "err-unknown-marker", in: cat(a0str("connect"), []byte{0xff}), errs: []error{ErrCommand, amf.ErrMarker}},
	{name: "err-tx-string", in: cat(a0str("connect"), a0str("1"), a0null), errs: []error{ErrCommand}},
	{name: "err-tx-null", in: cat(a0str("connect"), a0null, a0null), errs: []error{ErrCommand}},
	{name: "err-tx-bool", in: cat(a0str("connect"), a0bool(true)), errs: []error{ErrCommand}},
	{name: "err-depth-limit", in: cat(a0str("x"), a0num(1), a0obj("a", a0obj("b", a0obj("c", a0null)))),
		lim: amf.Limits{MaxDepth: 2}, errs: []error{ErrCommand, amf.ErrDepth}},
	{name: "err-string-limit", in: cat(a0str("connect"), a0num(1), a0null, a0str("0123456789")),
		lim: amf.Limits{MaxStringLen: 8}, errs: []error{ErrCommand, amf.ErrTooLong}},
}

// setDataFrameCase is one UnwrapSetDataFrame input.
type setDataFrameCase struct {
	name string
	in   []byte
	amf3 bool
	rest []byte // the expected suffix when ok
	ok   bool
}

var onMetaData = cat(a0str("onMetaData"), a0ecma("width", a0num(1280), "height", a0num(720), "encoder", a0str("Lavf61.7.100")))

var setDataFrameCases = []setDataFrameCase{
	{name: "obs-metadata", in: cat(a0str("@setDataFrame"), onMetaData), rest: onMetaData, ok: true},
	{name: "amf3-prefix", in: cat([]byte{0x00}, a0str("@setDataFrame"), onMetaData), amf3: true, rest: onMetaData, ok: true},
	{name: "amf3-flag-without-prefix", in: cat(a0str("@setDataFrame"), onMetaData), amf3: true, rest: onMetaData, ok: true},
	{name: "nothing-after", in: a0str("@setDataFrame"), rest: []byte{}, ok: true},
	{name: "not-set-data-frame", in: onMetaData},
	{name: "amf3-prefix-without-flag", in: cat([]byte{0x00}, a0str("@setDataFrame"), onMetaData)},
	{name: "other-case", in: cat(a0str("@SetDataFrame"), onMetaData)},
	{name: "clear-data-frame", in: a0str("@clearDataFrame")},
	{name: "long-string-marker", in: cat([]byte{0x0c, 0, 0, 0, 13}, []byte("@setDataFrame"), onMetaData)},
	{name: "wrong-length", in: cat([]byte{0x02, 0, 12}, []byte("@setDataFrame"), onMetaData)},
	{name: "short", in: a0str("@setDataFrame")[:10]},
	{name: "empty", in: []byte{}},
	{name: "amf3-prefix-only", in: []byte{0x00}, amf3: true},
}

// sub is one sub-message delivered by SplitAggregate.
type sub struct {
	typ  uint8
	ts   uint32
	body []byte
}

// aggTag is an FLV tag of an aggregate message with an explicit size field and
// back pointer (nil: none).
func aggTag(typ byte, ts uint32, streamID uint32, size int, body []byte, back []byte) []byte {
	b := []byte{typ, byte(size >> 16), byte(size >> 8), byte(size), byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ts >> 24),
		byte(streamID >> 16), byte(streamID >> 8), byte(streamID)}
	b = append(b, body...)
	return append(b, back...)
}

// goodTag is an aggregate sub-message with a correct back pointer.
func goodTag(typ byte, ts uint32, body []byte) []byte {
	return aggTag(typ, ts, 0, len(body), body, binary.BigEndian.AppendUint32(nil, uint32(11+len(body))))
}

// aggregateCase is one SplitAggregate input.
type aggregateCase struct {
	name string
	in   []byte
	ts   uint32 // the aggregate message's timestamp
	want []sub  // delivered before the end or the error
	err  error
}

var (
	vKey   = []byte{0x17, 1, 0, 0, 0, 0x65, 0x88, 0x84}
	vInter = []byte{0x27, 1, 0, 0, 0x28, 0x41, 0x9a}
	aFrame = []byte{0xaf, 1, 0x21, 0x10, 0x05}
)

var aggregateCases = []aggregateCase{
	{name: "two", in: cat(goodTag(9, 1000, vKey), goodTag(8, 1023, aFrame)), ts: 5000,
		want: []sub{{9, 5000, vKey}, {8, 5023, aFrame}}},
	{name: "three-with-data", in: cat(goodTag(18, 0, onMetaData), goodTag(9, 0, vKey), goodTag(9, 40, vInter)), ts: 70,
		want: []sub{{18, 70, onMetaData}, {9, 70, vKey}, {9, 110, vInter}}},
	{name: "first-takes-aggregate-ts", in: cat(goodTag(8, 123456, aFrame), goodTag(8, 123479, aFrame), goodTag(8, 123502, aFrame)), ts: 0,
		want: []sub{{8, 0, aFrame}, {8, 23, aFrame}, {8, 46, aFrame}}},
	{name: "timestamp-extension-byte", in: cat(goodTag(9, 0x01000010, vKey), goodTag(9, 0x01000038, vInter)), ts: 100,
		want: []sub{{9, 100, vKey}, {9, 140, vInter}}},
	{name: "timestamp-crosses-24-bits", in: cat(goodTag(9, 0x00fffff0, vKey), goodTag(9, 0x01000005, vInter)), ts: 0x00fffff0,
		want: []sub{{9, 0x00fffff0, vKey}, {9, 0x01000005, vInter}}},
	{name: "later-sub-message-earlier", in: cat(goodTag(9, 1000, vKey), goodTag(8, 995, aFrame)), ts: 2000,
		want: []sub{{9, 2000, vKey}, {8, 1995, aFrame}}},
	{name: "aggregate-ts-wraps", in: cat(goodTag(9, 0, vKey), goodTag(9, 0x20, vInter)), ts: 0xfffffff0,
		want: []sub{{9, 0xfffffff0, vKey}, {9, 0x10, vInter}}},
	{name: "single", in: goodTag(9, 7, vKey), ts: 7, want: []sub{{9, 7, vKey}}},
	{name: "missing-final-back-pointer", in: cat(goodTag(9, 0, vKey), aggTag(9, 40, 0, len(vInter), vInter, nil)), ts: 10,
		want: []sub{{9, 10, vKey}, {9, 50, vInter}}},
	{name: "back-pointer-value-not-checked", in: cat(aggTag(9, 0, 0, len(vKey), vKey, []byte{0xde, 0xad, 0xbe, 0xef}), goodTag(8, 5, aFrame)),
		want: []sub{{9, 0, vKey}, {8, 5, aFrame}}},
	{name: "sub-stream-id-ignored", in: aggTag(8, 0, 0xabcdef, len(aFrame), aFrame, []byte{0, 0, 0, 16}), ts: 3,
		want: []sub{{8, 3, aFrame}}},
	{name: "empty-body", in: cat(goodTag(8, 0, nil), goodTag(8, 1, aFrame)), ts: 1,
		want: []sub{{8, 1, []byte{}}, {8, 2, aFrame}}},
	{name: "unknown-type-delivered", in: goodTag(0x42, 0, []byte{1}), want: []sub{{0x42, 0, []byte{1}}}},
	{name: "empty", in: []byte{}},

	{name: "err-size-past-end", in: aggTag(9, 0, 0, len(vKey)+1, vKey, nil), err: ErrAggregate},
	{name: "err-size-past-end-after-one", in: cat(goodTag(8, 0, aFrame), aggTag(9, 10, 0, 1000, vKey, []byte{0, 0, 0, 0})), ts: 4,
		want: []sub{{8, 4, aFrame}}, err: ErrAggregate},
	{name: "err-size-huge", in: aggTag(9, 0, 0, 0xffffff, vKey, nil), err: ErrAggregate},
	{name: "err-trailing-garbage", in: cat(goodTag(8, 0, aFrame), []byte{1, 2, 3, 4, 5}), want: []sub{{8, 0, aFrame}}, err: ErrAggregate},
	{name: "err-trailing-10-bytes", in: cat(goodTag(8, 0, aFrame), goodTag(8, 0, aFrame)[:10]), want: []sub{{8, 0, aFrame}}, err: ErrAggregate},
	{name: "err-partial-back-pointer", in: cat(goodTag(8, 0, aFrame)[:11+len(aFrame)+2]), want: []sub{{8, 0, aFrame}}, err: ErrAggregate},
	{name: "err-header-only-10-bytes", in: goodTag(9, 0, vKey)[:10], err: ErrAggregate},
	{name: "err-one-byte", in: []byte{9}, err: ErrAggregate},
}

// isAll reports whether err matches every target.
func isAll(err error, targets []error) bool {
	for _, t := range targets {
		if !errors.Is(err, t) {
			return false
		}
	}
	return true
}
