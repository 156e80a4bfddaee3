package scope

import (
	"context"
	"errors"
)

// Conn is any client connection: RTMP, RTMPT, RTMPS, WebSocket, HTTP-FLV or
// WebSocket-FLV. Applications never know which.
type Conn interface {
	ID() string         // unique in the process
	Protocol() string   // "rtmp", "rtmpt", "rtmps", "ws", "http-flv", "ws-flv"
	RemoteAddr() string // the client's address
	Close(reason error) // asks the connection to close; returns at once
}

// Caller is implemented by connections that can call methods on the client (RTMP, RTMPT).
type Caller interface {
	Call(ctx context.Context, method string, args ...any) (any, error)
}

// Handler is what an application implements; embed [BaseHandler] for defaults. Every hook
// gets the scope it concerns (the app scope or a room below it); hooks returning an error
// reject the action. Hooks are called without any lock of this package held.
type Handler interface {
	// Start is called when a scope (the app scope or a room) of this application starts.
	// An error refuses the scope: it is not created and the connect that needed it fails.
	Start(s *Scope) error
	// Stop is called when a scope stops: after its last holder left and the keep delay
	// passed, or at Shutdown.
	Stop(s *Scope)
	// Connect is called when c connects to s, the leaf scope of its URL; params are the
	// connect command's extra arguments.
	Connect(c Conn, s *Scope, params []any) error
	// Disconnect is called when c leaves s (after Leave), or to undo a successful Connect
	// when a later Join fails.
	Disconnect(c Conn, s *Scope)
	// Join is called for each scope from the app down to the leaf, after Connect.
	Join(c Conn, s *Scope) error
	// Leave is called for each joined scope from the leaf up to the app.
	Leave(c Conn, s *Scope)
	// Publish is called before c publishes name in s; mode is "live", "record" or "append".
	// name is the name as the client sent it, query string ("?k=v") included if the caller
	// kept it, so that applications can check tokens.
	Publish(c Conn, s *Scope, name, mode string) error
	// Unpublish is called after c stopped publishing the stream name (without query).
	Unpublish(c Conn, s *Scope, name string)
	// Play is called before c subscribes to name (as sent, query included if kept).
	Play(c Conn, s *Scope, name string) error
	// StopPlay is called after c unsubscribed from the stream name (without query).
	StopPlay(c Conn, s *Scope, name string)
	// Method returns the callable method (nc.call) of that name, or nil.
	Method(name string) Method
}

// Method is an application method a client can call (nc.call). A panic in it is recovered
// and returned as an error wrapping [ErrPanic].
type Method func(ctx context.Context, c Conn, s *Scope, args []any) (any, error)

// BaseHandler allows everything and serves Methods by name. Its zero value is usable, and
// it is meant to be embedded in application handlers.
type BaseHandler struct {
	Methods map[string]Method
}

var _ Handler = BaseHandler{}

// Start allows the scope to start.
func (BaseHandler) Start(*Scope) error { return nil }

// Stop does nothing.
func (BaseHandler) Stop(*Scope) {}

// Connect allows the connection.
func (BaseHandler) Connect(Conn, *Scope, []any) error { return nil }

// Disconnect does nothing.
func (BaseHandler) Disconnect(Conn, *Scope) {}

// Join allows the join.
func (BaseHandler) Join(Conn, *Scope) error { return nil }

// Leave does nothing.
func (BaseHandler) Leave(Conn, *Scope) {}

// Publish allows publishing.
func (BaseHandler) Publish(Conn, *Scope, string, string) error { return nil }

// Unpublish does nothing.
func (BaseHandler) Unpublish(Conn, *Scope, string) {}

// Play allows playing.
func (BaseHandler) Play(Conn, *Scope, string) error { return nil }

// StopPlay does nothing.
func (BaseHandler) StopPlay(Conn, *Scope, string) {}

// Method returns b.Methods[name] (nil when absent or when Methods is nil).
func (b BaseHandler) Method(name string) Method { return b.Methods[name] }

// Sentinel errors. Errors returned by this package wrap one of them with detail; errors
// returned by hooks are passed through as they are.
var (
	// ErrInvalidApp: the first path segment names no registered application.
	ErrInvalidApp = errors.New("scope: invalid application")
	// ErrNoMethod: the application has no method of that name.
	ErrNoMethod = errors.New("scope: no such method")
	// ErrBadName: a stream name is invalid or already in use (NetStream.Publish.BadName).
	ErrBadName = errors.New("scope: bad stream name")
	// ErrShutdown: the Global is shutting down or shut down.
	ErrShutdown = errors.New("scope: shut down")
	// ErrBadPath: a scope path is malformed (empty segment, ".", "..", control
	// characters, too long or too deep).
	ErrBadPath = errors.New("scope: bad path")
	// ErrAppExists: Register was called twice with the same application name.
	ErrAppExists = errors.New("scope: application already registered")
	// ErrRemoved: the scope has been removed from the tree; it cannot be held again.
	ErrRemoved = errors.New("scope: scope removed")
	// ErrPanic: a hook or an application method panicked; the panic was recovered.
	ErrPanic = errors.New("scope: application panic")
)

// RejectError carries a reason for the client, e.g. the description of
// NetConnection.Connect.Rejected. Hooks return it through [Reject].
type RejectError struct{ Reason string }

// Error implements error.
func (e *RejectError) Error() string { return "scope: rejected: " + e.Reason }

// Reject returns a *RejectError with the given reason.
func Reject(reason string) error { return &RejectError{Reason: reason} }
