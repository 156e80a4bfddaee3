// Package message gives RTMP message payloads their types: protocol control and
// user control messages, commands (AMF0 type 20 and AMF3 type 17), data
// messages (18 and 15, including @setDataFrame) and aggregate messages (22).
//
// The package works on payload bytes only; chunking is rtmp/chunk's job and the
// message type ids live there. Decoders are bounded by amf.Limits and never
// panic on hostile input.
package message

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/scopecast/scopecast/rtmp/amf"
)

// Errors returned by the decoders, wrapped with detail.
var (
	ErrShort     = errors.New("message: payload too short")
	ErrCommand   = errors.New("message: malformed command")
	ErrAggregate = errors.New("message: malformed aggregate message")
)

// User control event types.
const (
	EventStreamBegin      uint16 = 0
	EventStreamEOF        uint16 = 1
	EventStreamDry        uint16 = 2
	EventSetBufferLength  uint16 = 3
	EventStreamIsRecorded uint16 = 4
	EventPingRequest      uint16 = 6
	EventPingResponse     uint16 = 7
)

// Peer bandwidth limit types for Set Peer Bandwidth.
const (
	LimitHard    byte = 0
	LimitSoft    byte = 1
	LimitDynamic byte = 2
)

// U32 is the payload of Set Chunk Size, Abort, Acknowledgement and Window
// Acknowledgement Size: one big-endian 32-bit value.
func U32(v uint32) []byte { return binary.BigEndian.AppendUint32(make([]byte, 0, 4), v) }

// ParseU32 reads the payload of a one-value control message.
func ParseU32(p []byte) (uint32, error) {
	if len(p) < 4 {
		return 0, fmt.Errorf("%w: control message of %d bytes", ErrShort, len(p))
	}
	return binary.BigEndian.Uint32(p), nil
}

// PeerBandwidth is the payload of Set Peer Bandwidth.
func PeerBandwidth(window uint32, limit byte) []byte {
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, 5), window), limit)
}

// UserControl is the payload of a user control message: the event type and
// its 32-bit arguments (one for most events, two for Set Buffer Length).
func UserControl(event uint16, args ...uint32) []byte {
	b := binary.BigEndian.AppendUint16(make([]byte, 0, 2+4*len(args)), event)
	for _, a := range args {
		b = binary.BigEndian.AppendUint32(b, a)
	}
	return b
}

// ParseUserControl reads a user control payload: the event type, its first
// argument and, when present, a second one. A payload too short for the
// event's arguments is an error (ErrShort), with one lenient exception:
// Stream Begin without its stream id is accepted and reads as stream 0. Set
// Buffer Length needs both arguments; bytes beyond the arguments are ignored.
func ParseUserControl(p []byte) (event uint16, arg1, arg2 uint32, err error) {
	if len(p) < 2 {
		return 0, 0, 0, fmt.Errorf("%w: user control of %d bytes", ErrShort, len(p))
	}
	event = binary.BigEndian.Uint16(p)
	p = p[2:]
	if len(p) >= 4 {
		arg1 = binary.BigEndian.Uint32(p)
		p = p[4:]
	} else if event != EventStreamBegin || len(p) != 0 {
		return event, 0, 0, fmt.Errorf("%w: user control event %d without argument", ErrShort, event)
	}
	if len(p) >= 4 {
		arg2 = binary.BigEndian.Uint32(p)
	} else if event == EventSetBufferLength {
		return event, 0, 0, fmt.Errorf("%w: set buffer length without a length", ErrShort)
	}
	return event, arg1, arg2, nil
}

// Command is a decoded command message: name, transaction id, command object
// (often nil) and the remaining arguments.
type Command struct {
	Name   string
	TxID   float64
	Object any
	Args   []any
}

// Arg returns argument i or nil.
func (c *Command) Arg(i int) any {
	if i < 0 || i >= len(c.Args) {
		return nil
	}
	return c.Args[i]
}

// StringArg returns argument i if it is a string.
func (c *Command) StringArg(i int) (string, bool) {
	s, ok := c.Arg(i).(string)
	return s, ok
}

// NumberArg returns argument i if it is a number (AMF0 number or AMF3 integer).
func (c *Command) NumberArg(i int) (float64, bool) {
	switch v := c.Arg(i).(type) {
	case float64:
		return v, true
	case int32:
		return float64(v), true
	}
	return 0, false
}

// BoolArg returns argument i if it is a boolean.
func (c *Command) BoolArg(i int) (bool, bool) {
	b, ok := c.Arg(i).(bool)
	return b, ok
}

// stripAMF3Prefix drops the leading 0x00 format byte of type 17 and 15
// messages (the values that follow are AMF0, switching to AMF3 per value).
func stripAMF3Prefix(p []byte) []byte {
	if len(p) > 0 && p[0] == 0x00 {
		return p[1:]
	}
	return p
}

// DecodeCommand decodes a command payload. amf3 is true for message type 17.
func DecodeCommand(p []byte, amf3 bool, lim amf.Limits) (Command, error) {
	if amf3 {
		p = stripAMF3Prefix(p)
	}
	vals, err := amf.DecodeAMF0All(p, lim)
	if err != nil {
		return Command{}, fmt.Errorf("%w: %w", ErrCommand, err)
	}
	if len(vals) == 0 {
		return Command{}, fmt.Errorf("%w: empty", ErrCommand)
	}
	name, ok := vals[0].(string)
	if !ok {
		return Command{}, fmt.Errorf("%w: name is %T, not a string", ErrCommand, vals[0])
	}
	c := Command{Name: name}
	if len(vals) > 1 {
		switch tx := vals[1].(type) {
		case float64:
			c.TxID = tx
		case int32:
			c.TxID = float64(tx)
		default:
			return Command{}, fmt.Errorf("%w: transaction id of %q is %T", ErrCommand, name, vals[1])
		}
	}
	if len(vals) > 2 {
		c.Object = vals[2]
	}
	if len(vals) > 3 {
		c.Args = vals[3:]
	}
	return c, nil
}

// AppendCommand appends an AMF0 command payload.
func AppendCommand(dst []byte, name string, tx float64, obj any, args ...any) ([]byte, error) {
	var err error
	if dst, err = amf.AppendAMF0(dst, name); err != nil {
		return dst, err
	}
	if dst, err = amf.AppendAMF0(dst, tx); err != nil {
		return dst, err
	}
	if dst, err = amf.AppendAMF0(dst, obj); err != nil {
		return dst, err
	}
	for _, a := range args {
		if dst, err = amf.AppendAMF0(dst, a); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// AppendData appends an AMF0 data payload (type 18): the values in order.
func AppendData(dst []byte, vals ...any) ([]byte, error) {
	var err error
	for _, v := range vals {
		if dst, err = amf.AppendAMF0(dst, v); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// DecodeData decodes a data payload. amf3 is true for message type 15.
func DecodeData(p []byte, amf3 bool, lim amf.Limits) ([]any, error) {
	if amf3 {
		p = stripAMF3Prefix(p)
	}
	return amf.DecodeAMF0All(p, lim)
}

// setDataFrame is "@setDataFrame" as an AMF0 string.
var setDataFrame = []byte("\x02\x00\x0d@setDataFrame")

// UnwrapSetDataFrame returns the payload after a leading "@setDataFrame"
// string (a slice of p, not a copy), so that "@setDataFrame", "onMetaData", {…}
// becomes "onMetaData", {…} as players expect it. ok is false when p does not
// start with "@setDataFrame". amf3 strips the type-15 format byte first.
func UnwrapSetDataFrame(p []byte, amf3 bool) (rest []byte, ok bool) {
	if amf3 {
		p = stripAMF3Prefix(p)
	}
	if len(p) < len(setDataFrame) || string(p[:len(setDataFrame)]) != string(setDataFrame) {
		return nil, false
	}
	return p[len(setDataFrame):], true
}

// SplitAggregate walks the sub-messages of an aggregate message (type 22): FLV
// tags (type, u24 size, u24 timestamp + u8 extension, u24 stream id, body,
// u32 back pointer). Sub-message timestamps are rebased so that the first one
// carries ts, the aggregate message's own timestamp. Bodies are slices of p.
func SplitAggregate(p []byte, ts uint32, fn func(typeID uint8, ts uint32, body []byte) error) error {
	first := true
	var base uint32
	for len(p) > 0 {
		if len(p) < 11 {
			return fmt.Errorf("%w: %d trailing bytes", ErrAggregate, len(p))
		}
		typ := p[0]
		size := int(p[1])<<16 | int(p[2])<<8 | int(p[3])
		t := uint32(p[4])<<16 | uint32(p[5])<<8 | uint32(p[6]) | uint32(p[7])<<24
		if size > len(p)-11 {
			return fmt.Errorf("%w: sub-message of %d bytes in %d", ErrAggregate, size, len(p)-11)
		}
		body := p[11 : 11+size]
		p = p[11+size:]
		if len(p) >= 4 { // back pointer; tolerate its absence after the last tag
			p = p[4:]
		}
		if first {
			base, first = t, false
		}
		if err := fn(typ, ts+(t-base), body); err != nil {
			return err
		}
	}
	return nil
}
