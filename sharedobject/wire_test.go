package sharedobject

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp/amf"
)

// hx decodes hex with spaces.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// hdr is a message header: name "so", version, flags.
func hdr(version, flags uint32) string {
	return fmt.Sprintf("0002 736f %08x %08x 00000000", version, flags)
}

type wireCase struct {
	name string
	amf3 bool
	wire []byte
	msg  *Message // nil: an error is expected
	err  error    // the sentinel the error wraps (besides ErrMalformed)
	enc  bool     // Append(msg) gives wire exactly
}

func so(version, flags uint32, evs ...Event) *Message {
	return &Message{Name: "so", Version: version, Flags: flags, Persistent: flags&2 != 0, Events: evs}
}

const noWriteHex = "001a 5368617265644f626a6563742e4e6f5772697465416363657373 0005 6572726f72" // SharedObject.NoWriteAccess, error

var wireCases = []wireCase{
	// Type 19 (AMF0).
	{name: "use", wire: hx(hdr(0, 16) + "01 00000000"), msg: so(0, 16, Event{Type: EventUse}), enc: true},
	{name: "use persistent", wire: hx(hdr(0, 2) + "01 00000000"), msg: so(0, 2, Event{Type: EventUse}), enc: true},
	{name: "use flags 18 persistent", wire: hx(hdr(0, 18) + "01 00000000"), msg: so(0, 18, Event{Type: EventUse}), enc: true},
	{name: "release", wire: hx(hdr(3, 16) + "02 00000000"), msg: so(3, 16, Event{Type: EventRelease}), enc: true},
	{name: "request change string", wire: hx(hdr(1, 16) + "03 0000000b 0003 666f6f 02 0003 626172"),
		msg: so(1, 16, Event{Type: EventRequestChange, Key: "foo", Value: "bar"}), enc: true},
	{name: "request change null", wire: hx(hdr(1, 16) + "03 00000006 0003 666f6f 05"),
		msg: so(1, 16, Event{Type: EventRequestChange, Key: "foo"}), enc: true},
	{name: "request change without value", wire: hx(hdr(1, 16) + "03 00000005 0003 666f6f"),
		msg: so(1, 16, Event{Type: EventRequestChange, Key: "foo"})},
	{name: "change number", wire: hx(hdr(7, 0) + "04 0000000c 0001 6e 00 3ff0000000000000"),
		msg: so(7, 0, Event{Type: EventChange, Key: "n", Value: float64(1)}), enc: true},
	{name: "change object", wire: hx(hdr(7, 0) + "04 0000000c 0001 6f 03 0001 61 01 01 000009"),
		msg: so(7, 0, Event{Type: EventChange, Key: "o", Value: amf.Obj("a", true)}), enc: true},
	{name: "change AMF3 value behind switch", wire: hx(hdr(7, 0) + "04 00000007 0001 62 11 0c 03 ff"),
		msg: so(7, 0, Event{Type: EventChange, Key: "b", Value: []byte{0xff}}), enc: true},
	{name: "success", wire: hx(hdr(8, 0) + "05 00000005 0003 666f6f"),
		msg: so(8, 0, Event{Type: EventSuccess, Key: "foo"}), enc: true},
	{name: "send", wire: hx(hdr(0, 0) + "06 00000014 02 0003 6d7367 02 0002 6869 00 3ff0000000000000"),
		msg: so(0, 0, Event{Type: EventSend, Args: []any{"msg", "hi", float64(1)}}), enc: true},
	{name: "send without args", wire: hx(hdr(0, 0) + "06 00000006 02 0003 6d7367"),
		msg: so(0, 0, Event{Type: EventSend, Args: []any{"msg"}}), enc: true},
	{name: "status", wire: hx(hdr(0, 0) + "07 00000023 " + noWriteHex),
		msg: so(0, 0, Event{Type: EventStatus, Code: StatusNoWriteAccess, Level: "error"}), enc: true},
	{name: "clear", wire: hx(hdr(2, 0) + "08 00000000"), msg: so(2, 0, Event{Type: EventClear}), enc: true},
	{name: "remove", wire: hx(hdr(2, 0) + "09 00000003 0001 6b"), msg: so(2, 0, Event{Type: EventRemove, Key: "k"}), enc: true},
	{name: "request remove", wire: hx(hdr(2, 16) + "0a 00000003 0001 6b"),
		msg: so(2, 16, Event{Type: EventRequestRemove, Key: "k"}), enc: true},
	{name: "use success", wire: hx(hdr(0, 0) + "0b 00000000"), msg: so(0, 0, Event{Type: EventUseSuccess}), enc: true},
	{name: "request clear", wire: hx(hdr(4, 16) + "0e 00000000"), msg: so(4, 16, Event{Type: EventRequestClear}), enc: true},
	{name: "no events", wire: hx(hdr(0, 0)), msg: so(0, 0), enc: true},
	{name: "join sync", wire: hx(hdr(5, 0) + "0b 00000000 08 00000000 04 00000005 0001 61 01 01 04 00000004 0001 62 05"),
		msg: so(5, 0, Event{Type: EventUseSuccess}, Event{Type: EventClear},
			Event{Type: EventChange, Key: "a", Value: true}, Event{Type: EventChange, Key: "b"}), enc: true},
	{name: "utf8 name", wire: hx("0004 c3a9c3a9 00000000 00000000 00000000"), msg: &Message{Name: "éé"}, enc: true},

	// Type 16: leading 0x00, values AMF3 behind 0x11.
	{name: "amf3 use", amf3: true, wire: hx("00" + hdr(0, 16) + "01 00000000"), msg: so(0, 16, Event{Type: EventUse}), enc: true},
	{name: "amf3 change int", amf3: true, wire: hx("00" + hdr(1, 0) + "04 00000006 0001 78 11 04 05"),
		msg: so(1, 0, Event{Type: EventChange, Key: "x", Value: int32(5)}), enc: true},
	{name: "amf3 change string", amf3: true, wire: hx("00" + hdr(1, 0) + "04 00000008 0001 78 11 06 05 6869"),
		msg: so(1, 0, Event{Type: EventChange, Key: "x", Value: "hi"}), enc: true},
	{name: "amf3 request change null", amf3: true, wire: hx("00" + hdr(1, 16) + "03 00000005 0001 78 11 01"),
		msg: so(1, 16, Event{Type: EventRequestChange, Key: "x"}), enc: true},
	{name: "amf3 send", amf3: true, wire: hx("00" + hdr(0, 0) + "06 00000007 02 0001 68 11 04 07"),
		msg: so(0, 0, Event{Type: EventSend, Args: []any{"h", int32(7)}}), enc: true},
	{name: "amf3 status", amf3: true, wire: hx("00" + hdr(0, 0) + "07 00000023 " + noWriteHex),
		msg: so(0, 0, Event{Type: EventStatus, Code: StatusNoWriteAccess, Level: "error"}), enc: true},
	{name: "amf3 remove", amf3: true, wire: hx("00" + hdr(2, 0) + "09 00000003 0001 6b"),
		msg: so(2, 0, Event{Type: EventRemove, Key: "k"}), enc: true},
	{name: "amf3 encoding byte 3", amf3: true, wire: hx("03" + hdr(1, 0) + "04 00000006 0001 78 11 04 05"),
		msg: so(1, 0, Event{Type: EventChange, Key: "x", Value: int32(5)})},
	{name: "amf3 plain AMF0 value", amf3: true, wire: hx("00" + hdr(1, 0) + "04 00000008 0001 78 02 0002 6869"),
		msg: so(1, 0, Event{Type: EventChange, Key: "x", Value: "hi"})},

	// Hostile and broken frames.
	{name: "empty", wire: nil, err: ErrMalformed},
	{name: "amf3 empty", amf3: true, wire: nil, err: ErrMalformed},
	{name: "amf3 bad encoding byte", amf3: true, wire: hx("01" + hdr(0, 0)), err: ErrMalformed},
	{name: "truncated header", wire: hx("0002 736f 0000"), err: ErrMalformed},
	{name: "truncated name", wire: hx("0010 736f"), err: ErrMalformed},
	{name: "name too long", wire: append(hx("0401"), make([]byte, 1025+12)...), err: ErrNameTooLong},
	{name: "name 64k", wire: hx("ffff 41"), err: ErrNameTooLong},
	{name: "event length past end", wire: hx(hdr(0, 0) + "04 00000010 0001 6e"), err: ErrEventLength},
	{name: "event length huge", wire: hx(hdr(0, 0) + "04 ffffffff 0001 6e"), err: ErrEventLength},
	{name: "truncated event header", wire: hx(hdr(0, 0) + "04 0000"), err: ErrEventLength},
	{name: "use with body", wire: hx(hdr(0, 0) + "01 00000001 00"), err: ErrEventLength},
	{name: "left-over bytes", wire: hx(hdr(0, 0) + "05 00000006 0003 666f6f 00"), err: ErrEventLength},
	{name: "key longer than body", wire: hx(hdr(0, 0) + "05 00000003 0003 66"), err: amf.ErrTruncated},
	{name: "unknown event 0", wire: hx(hdr(0, 0) + "00 00000000"), err: ErrUnknownEvent},
	{name: "unknown event 12", wire: hx(hdr(0, 0) + "0c 00000000"), err: ErrUnknownEvent},
	{name: "unknown event 13", wire: hx(hdr(0, 0) + "0d 00000000"), err: ErrUnknownEvent},
	{name: "unknown event 255", wire: hx(hdr(0, 0) + "ff 00000002 0000"), err: ErrUnknownEvent},
	{name: "truncated value", wire: hx(hdr(0, 0) + "04 00000005 0001 6e 00 3f"), err: amf.ErrTruncated},
	{name: "bad marker", wire: hx(hdr(0, 0) + "04 00000004 0001 6e 20"), err: amf.ErrMarker},
	{name: "send handler not a string", wire: hx(hdr(0, 0) + "06 00000009 00 3ff0000000000000"), err: ErrMalformed},
	{name: "send empty", wire: hx(hdr(0, 0) + "06 00000000"), err: amf.ErrTruncated},
	{name: "status truncated", wire: hx(hdr(0, 0) + "07 00000004 0001 41 00"), err: amf.ErrTruncated},
	{name: "huge array count", wire: hx(hdr(0, 0) + "04 00000008 0001 6e 0a ffffffff"), err: ErrMalformed},
	{name: "deep value", wire: deepValue(200), err: amf.ErrDepth},
	{name: "too many events", wire: manyEvents(MaxEvents + 1), err: ErrTooManyEvents},
	{name: "max events", wire: manyEvents(MaxEvents), msg: manyEventsMsg(MaxEvents), enc: true},
}

// deepValue is a change whose value nests n strict arrays.
func deepValue(n int) []byte {
	var v []byte
	for range n {
		v = append(v, 0x0a, 0, 0, 0, 1)
	}
	v = append(v, 0x05)
	b := hx(hdr(0, 0))
	b = append(b, 4, 0, 0, 0, 0)
	body := append(hx("0001 6e"), v...)
	b[len(b)-1] = byte(len(body))
	b[len(b)-2] = byte(len(body) >> 8)
	return append(b, body...)
}

func manyEvents(n int) []byte {
	b := hx(hdr(0, 16))
	for range n {
		b = append(b, 2, 0, 0, 0, 0)
	}
	return b
}

func manyEventsMsg(n int) *Message {
	m := so(0, 16)
	for range n {
		m.Events = append(m.Events, Event{Type: EventRelease})
	}
	return m
}

// sameMessage compares messages, values by amf.Equal.
func sameMessage(a, b *Message) error {
	if a.Name != b.Name || a.Version != b.Version || a.Flags != b.Flags || a.Persistent != b.Persistent {
		return fmt.Errorf("header %q/%d/%d/%v != %q/%d/%d/%v", a.Name, a.Version, a.Flags, a.Persistent, b.Name, b.Version, b.Flags, b.Persistent)
	}
	if len(a.Events) != len(b.Events) {
		return fmt.Errorf("%d events != %d", len(a.Events), len(b.Events))
	}
	for i := range a.Events {
		x, y := a.Events[i], b.Events[i]
		if x.Type != y.Type || x.Key != y.Key || x.Code != y.Code || x.Level != y.Level ||
			!amf.Equal(x.Value, y.Value) || len(x.Args) != len(y.Args) || !amf.Equal(x.Args, y.Args) {
			return fmt.Errorf("event %d: %+v != %+v", i, x, y)
		}
	}
	return nil
}

func TestDecodeTable(t *testing.T) {
	for _, tc := range wireCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.wire, tc.amf3, amf.Limits{})
			if tc.msg == nil {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", m)
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
				if tc.err != nil && !errors.Is(err, tc.err) {
					t.Errorf("error %v does not wrap %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := sameMessage(&m, tc.msg); err != nil {
				t.Fatal(err)
			}
			if tc.enc {
				b, err := Append(nil, tc.msg, tc.amf3)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, tc.wire) {
					t.Fatalf("Append:\n got %x\nwant %x", b, tc.wire)
				}
			}
		})
	}
}

// TestRoundTrip: every decodable table message re-encodes in both layouts and decodes back.
func TestRoundTrip(t *testing.T) {
	for _, tc := range wireCases {
		if tc.msg == nil {
			continue
		}
		for _, amf3 := range []bool{false, true} {
			b, err := Append([]byte{0xAA}, tc.msg, amf3)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if b[0] != 0xAA {
				t.Fatalf("%s: Append clobbered dst", tc.name)
			}
			m, err := Decode(b[1:], amf3, amf.Limits{})
			if err != nil {
				t.Fatalf("%s amf3=%v: %v", tc.name, amf3, err)
			}
			want := *tc.msg
			if err := sameMessage(&m, &want); err != nil {
				t.Fatalf("%s amf3=%v: %v", tc.name, amf3, err)
			}
		}
	}
}

func TestAppendErrors(t *testing.T) {
	long := strings.Repeat("x", MaxNameLen+1)
	cases := []struct {
		m   Message
		err error
	}{
		{Message{Name: long}, ErrNameTooLong},
		{Message{Name: "a", Events: []Event{{Type: 12}}}, ErrUnknownEvent},
		{Message{Name: "a", Events: []Event{{Type: EventSend}}}, ErrBadValue},
		{Message{Name: "a", Events: []Event{{Type: EventSend, Args: []any{1}}}}, ErrBadValue},
		{Message{Name: "a", Events: []Event{{Type: EventChange, Key: "k", Value: make(chan int)}}}, ErrBadValue},
		{Message{Name: "a", Events: []Event{{Type: EventRemove, Key: strings.Repeat("k", 70000)}}}, ErrBadKey},
		{Message{Name: "a", Events: make([]Event, MaxEvents+1)}, ErrTooManyEvents},
	}
	for i, c := range cases {
		dst := []byte{1, 2}
		out, err := Append(dst, &c.m, i%2 == 1)
		if !errors.Is(err, c.err) {
			t.Errorf("case %d: error %v, want %v", i, err, c.err)
		}
		if len(out) != 2 {
			t.Errorf("case %d: dst changed on error", i)
		}
	}
}

// TestPersistentFlag: Append writes the raw flags with bit 2 from Persistent.
func TestPersistentFlag(t *testing.T) {
	for _, c := range []struct {
		flags uint32
		pers  bool
		want  uint32
	}{{0, false, 0}, {0, true, 2}, {16, false, 16}, {16, true, 18}, {2, false, 0}, {48, true, 50}} {
		b, err := Append(nil, &Message{Name: "a", Flags: c.flags, Persistent: c.pers}, false)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(b, false, amf.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Flags != c.want || m.Persistent != c.pers {
			t.Errorf("flags %d persistent %v: wrote %d, read persistent %v", c.flags, c.pers, m.Flags, m.Persistent)
		}
	}
}

// TestDecodeBudgets: the expansion budget is shared by the events of a message.
func TestDecodeBudgets(t *testing.T) {
	// Ten changes, each an AMF0 strict array of 50 strings: 500 values in all.
	b := hx(hdr(0, 0))
	var body []byte
	body = append(body, hx("0001 6e 0a 00000032")...)
	for range 50 {
		body = append(body, hx("02 0001 41")...)
	}
	for range 10 {
		b = append(b, 4, 0, 0, byte(len(body)>>8), byte(len(body)))
		b = append(b, body...)
	}
	if _, err := Decode(b, false, amf.Limits{MaxTotal: 600}); err != nil {
		t.Fatalf("within the total budget: %v", err)
	}
	if _, err := Decode(b, false, amf.Limits{MaxTotal: 400}); !errors.Is(err, amf.ErrTooMany) {
		t.Fatalf("over the total budget: %v, want ErrTooMany", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range wireCases {
		f.Add(tc.wire, tc.amf3)
	}
	f.Fuzz(func(t *testing.T, data []byte, amf3 bool) {
		m, err := Decode(data, amf3, amf.Limits{})
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for _, out3 := range []bool{false, true} {
			enc, err := Append(nil, &m, out3)
			if err != nil {
				t.Fatalf("Append of a decoded message: %v", err)
			}
			m2, err := Decode(enc, out3, storeLimits)
			if err != nil {
				t.Fatalf("Decode(Append(m)): %v\n%x", err, enc)
			}
			if err := sameMessage(&m, &m2); err != nil {
				t.Fatalf("round trip: %v", err)
			}
			enc2, err := Append(nil, &m2, out3)
			if err != nil || !bytes.Equal(enc, enc2) {
				t.Fatalf("re-encoding differs (%v):\n%x\n%x", err, enc, enc2)
			}
		}
	})
}

// TestFuzzCorpus keeps testdata/fuzz/FuzzDecode in step with the table
// (SO_UPDATE_CORPUS=1 rewrites it).
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for _, tc := range wireCases {
		c.Add("FuzzDecode", "table-"+strings.NewReplacer(" ", "-", "/", "-").Replace(tc.name), tc.wire, tc.amf3)
	}
	c.Check(t, os.Getenv("SO_UPDATE_CORPUS") == "1", "with SO_UPDATE_CORPUS=1")
}

// Payloads are encoded in a pooled scratch buffer and copied out: each is a
// buffer of its own, of its exact size, that later encodings (of any size,
// beyond the pool's limit too) do not touch, and equal to what Append makes.
func TestPayloadExact(t *testing.T) {
	sub := &nopSub{id: "reader"}
	mk := func(v string) (*Delivery, []byte) {
		d := newDelivery("chat", 3, false, []OriginEvent{{Origin: "writer", Event: Event{Type: EventChange, Key: "k", Value: v}}})
		want, err := Append(nil, &Message{Name: "chat", Version: 3, Events: []Event{{Type: EventChange, Key: "k", Value: v}}}, false)
		if err != nil {
			t.Fatal(err)
		}
		return d, want
	}
	var kept [][]byte
	var wants [][]byte
	for _, v := range []string{"a", strings.Repeat("b", 2000), strings.Repeat("c", scratchMax+10), "d"} {
		d, want := mk(v)
		p, err := d.Payload(sub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, want) || cap(p) != len(p) {
			t.Fatalf("payload of a %d-byte value: len %d cap %d, equal to Append: %v", len(v), len(p), cap(p), bytes.Equal(p, want))
		}
		kept, wants = append(kept, p), append(wants, want)
	}
	for i := range kept {
		if !bytes.Equal(kept[i], wants[i]) {
			t.Errorf("payload %d changed by the encodings after it", i)
		}
	}
}
