package rtmp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The pure part of RTMPT: request paths, sequence numbers and the polling
// delay byte. No I/O here; FuzzRTMPT exercises it with the handler.

// RTMPT request errors.
var (
	// ErrRTMPTPath: the path is not an RTMPT command (answered 404).
	ErrRTMPTPath = errors.New("rtmpt: not an RTMPT path")
	// ErrRTMPTBadRequest: an RTMPT command with a malformed id or sequence
	// number (answered 400).
	ErrRTMPTBadRequest = errors.New("rtmpt: malformed request")
)

type rtmptCmd uint8

const (
	cmdIdent rtmptCmd = iota + 1 // /fcs/ident2
	cmdOpen                      // /open/<n>
	cmdSend                      // /send/<id>/<seq>
	cmdIdle                      // /idle/<id>/<seq>
	cmdClose                     // /close/<id>/<seq>
)

func (c rtmptCmd) String() string {
	switch c {
	case cmdIdent:
		return "ident2"
	case cmdOpen:
		return "open"
	case cmdSend:
		return "send"
	case cmdIdle:
		return "idle"
	case cmdClose:
		return "close"
	}
	return "?"
}

// Bounds of the request grammar. Session ids we issue are 19 digits; ffmpeg
// keeps at most 63 characters of one.
const (
	maxRTMPTIDLen  = 32
	maxRTMPTSeqLen = 19 // fits in 63 bits
)

// rtmptRequest is a parsed request path.
type rtmptRequest struct {
	cmd rtmptCmd
	id  string // session id (send, idle, close)
	seq uint64 // sequence number (open: the number after /open/)
}

// parseRTMPTPath parses an RTMPT request path:
//
//	/fcs/ident2
//	/open/<digits>
//	/send/<id>/<seq>   /idle/<id>/<seq>   /close/<id>/<seq>
//
// where id is 1–32 decimal digits and seq 1–19 decimal digits. Anything
// else that does not start with one of the command names is ErrRTMPTPath;
// a command with a malformed tail is ErrRTMPTBadRequest.
func parseRTMPTPath(p string) (rtmptRequest, error) {
	if p == "/fcs/ident2" {
		return rtmptRequest{cmd: cmdIdent}, nil
	}
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return rtmptRequest{}, fmt.Errorf("%w: %.64q", ErrRTMPTPath, p)
	}
	name, rest, _ := strings.Cut(rest, "/")
	var req rtmptRequest
	switch name {
	case "open":
		req.cmd = cmdOpen
		n, err := parseDigits(rest, maxRTMPTSeqLen)
		if err != nil {
			return rtmptRequest{}, fmt.Errorf("%w: open number: %v", ErrRTMPTBadRequest, err)
		}
		req.seq = n
		return req, nil
	case "send":
		req.cmd = cmdSend
	case "idle":
		req.cmd = cmdIdle
	case "close":
		req.cmd = cmdClose
	default:
		return rtmptRequest{}, fmt.Errorf("%w: %.64q", ErrRTMPTPath, p)
	}
	id, seq, ok := strings.Cut(rest, "/")
	if !ok {
		return rtmptRequest{}, fmt.Errorf("%w: %s without a sequence number", ErrRTMPTBadRequest, req.cmd)
	}
	if _, err := parseDigits(id, maxRTMPTIDLen); err != nil {
		return rtmptRequest{}, fmt.Errorf("%w: session id: %v", ErrRTMPTBadRequest, err)
	}
	n, err := parseDigits(seq, maxRTMPTSeqLen)
	if err != nil {
		return rtmptRequest{}, fmt.Errorf("%w: sequence number: %v", ErrRTMPTBadRequest, err)
	}
	req.id, req.seq = id, n
	return req, nil
}

var (
	errEmptyNumber = errors.New("empty")
	errNotDigits   = errors.New("not decimal digits")
	errTooLong     = errors.New("too long")
)

// parseDigits parses 1..maxLen ASCII decimal digits. The value is only
// meaningful for maxLen <= 19.
func parseDigits(s string, maxLen int) (uint64, error) {
	if s == "" {
		return 0, errEmptyNumber
	}
	if len(s) > maxLen {
		return 0, errTooLong
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errNotDigits
		}
	}
	if len(s) > 19 {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errTooLong
	}
	return n, nil
}

// seqVerdict is what a session does with a request's sequence number.
type seqVerdict uint8

const (
	seqOK        seqVerdict = iota // new: serve it
	seqDuplicate                   // already seen (or too old to tell): a /send's input is refused
	seqReorder                     // unseen but older than input already taken: its input cannot be placed
)

func (v seqVerdict) String() string {
	switch v {
	case seqOK:
		return "ok"
	case seqDuplicate:
		return "duplicate"
	case seqReorder:
		return "reordered"
	}
	return "?"
}

// seqWindowLen is how many sequence numbers below the highest one a session
// remembers.
const seqWindowLen = 64

// seqWindow tracks the sequence numbers a session has served.
//
// ffmpeg and librtmp number every request after /open from 0, one by one
// (send, idle and close share the counter), on one keep-alive connection.
// The policy: a number never seen is served, gaps included (a client may
// skip numbers; Red5 ignores them altogether); a number seen before is a
// duplicate — a client's retry — and its input is not taken twice; a number
// never seen but older than a /send whose input was already taken is a
// reorder — taking its input would corrupt the stream. Numbers more than
// seqWindowLen below the highest count as seen.
type seqWindow struct {
	started  bool
	max      uint64 // highest number seen
	seen     uint64 // bit i: max-i was seen
	inputSeq uint64 // highest number of a request whose input was taken
	hasInput bool
}

// check reports what to do with seq for a request that carries input or
// not. It does not record anything: see mark.
func (w *seqWindow) check(seq uint64, input bool) seqVerdict {
	if !w.started || seq > w.max {
		return seqOK
	}
	d := w.max - seq
	if d >= seqWindowLen || w.seen&(1<<d) != 0 {
		return seqDuplicate
	}
	if input && w.hasInput && seq < w.inputSeq {
		return seqReorder
	}
	return seqOK
}

// mark records seq as served (check returned seqOK).
func (w *seqWindow) mark(seq uint64, input bool) {
	switch {
	case !w.started:
		w.started, w.max, w.seen = true, seq, 1
	case seq > w.max:
		shift := seq - w.max
		if shift >= seqWindowLen {
			w.seen = 0
		} else {
			w.seen <<= shift
		}
		w.seen |= 1
		w.max = seq
	default:
		w.seen |= 1 << (w.max - seq)
	}
	if input && (!w.hasInput || seq > w.inputSeq) {
		w.hasInput, w.inputSeq = true, seq
	}
}

// pollDelays is the polling delay byte after more than quietPolls empty
// polls in a row (Red5's progression), capped at the last value.
var pollDelays = [...]byte{1, 3, 5, 9, 17, 33}

const quietPolls = 10

// pollDelay is the delay byte of a response after empty polls in a row.
func pollDelay(empty int) byte {
	if empty <= quietPolls {
		return 1
	}
	return pollDelays[min(empty-quietPolls, len(pollDelays)-1)]
}
