package wsbridge

import "errors"

// Errors of this package, wrapped with detail. Each maps to a close code (see
// CloseCode) or, for ErrBadRequest, to an error frame.
var (
	// ErrInvalidJSON: a frame that starts with '{' is not JSON (close 1007).
	ErrInvalidJSON = errors.New("wsbridge: invalid JSON")
	// ErrBadRequest: well-formed JSON that is not a request we understand
	// (an error frame with code "bad_request"; the connection goes on).
	ErrBadRequest = errors.New("wsbridge: bad request")
	// ErrBinary: binary frames are not part of the protocol (close 1003).
	ErrBinary = errors.New("wsbridge: binary frames not supported")
	// ErrTooBig: a frame over Handler.MaxMessageSize (close 1009).
	ErrTooBig = errors.New("wsbridge: frame too big")
	// ErrRateLimit: the client sent frames faster than its token bucket allows (close 4429).
	ErrRateLimit = errors.New("wsbridge: message rate limit exceeded")
	// ErrQueueFull: the client does not read fast enough; its output queue is full (close 4408).
	ErrQueueFull = errors.New("wsbridge: output queue full (client not reading)")
	// ErrTimeout: no frame nor pong from the client within Handler.ReadTimeout (close 4408).
	ErrTimeout = errors.New("wsbridge: client timed out")
	// ErrBadSOName: the so query parameter is not a usable shared-object name (close 4400).
	ErrBadSOName = errors.New("wsbridge: bad shared object name")
	// ErrBadOrigin: the Origin header is not allowed (HTTP 403 before the upgrade).
	ErrBadOrigin = errors.New("wsbridge: origin not allowed")
	// ErrShuttingDown: the handler is shutting down (HTTP 503, or close 1001).
	ErrShuttingDown = errors.New("wsbridge: shutting down")
)
