package client

import (
	"errors"
	"fmt"

	"github.com/scopecast/scopecast/rtmp/amf"
)

// Errors of this package, wrapped with detail; test with errors.Is.
var (
	// ErrURL reports a URL that is not rtmp[t]://host[:port]/app[/room…].
	ErrURL = errors.New("client: bad RTMP URL")
	// ErrProtocol reports a reply the client cannot make sense of (for
	// example a createStream result that is not a number).
	ErrProtocol = errors.New("client: unexpected reply")
	// ErrQueueFull reports that too many messages arrived while a call was
	// waiting for its reply (they are queued for ReadMessage, up to a bound).
	ErrQueueFull = errors.New("client: too many messages queued while waiting")
)

// ConnectError is the server's _error answer to connect.
type ConnectError struct {
	Code        string      // e.g. NetConnection.Connect.Rejected or .InvalidApp
	Description string      // the info object's description
	Application string      // the info object's application field (the rejection reason), if any
	Info        *amf.Object // the whole information object (nil if the server sent none)
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("client: connect failed: %s: %s", e.Code, e.Description)
}

// StatusError is an onStatus that ended a Publish or Play unsuccessfully.
type StatusError struct {
	Level       string // usually "error"
	Code        string // e.g. NetStream.Publish.BadName, NetStream.Play.StreamNotFound
	Description string
	Info        *amf.Object
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("client: %s: %s", e.Code, e.Description)
}

// CallError is an _error reply to a call (Call, CreateStream) or, returned by
// a HandleCall handler, the information sent back to the server in _error.
type CallError struct {
	Code        string // the info object's code, e.g. NetConnection.Call.Failed
	Description string
	Info        any // the reply's information value, usually an *amf.Object
}

func (e *CallError) Error() string {
	if e.Code == "" && e.Description == "" {
		return fmt.Sprintf("client: call failed: %v", e.Info)
	}
	return fmt.Sprintf("client: call failed: %s: %s", e.Code, e.Description)
}

func newCallError(info any) *CallError {
	e := &CallError{Info: info}
	if o, ok := info.(*amf.Object); ok {
		e.Code, e.Description = o.GetString("code"), o.GetString("description")
	}
	return e
}
