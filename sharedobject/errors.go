package sharedobject

import "errors"

// Errors of this package, wrapped with detail. Decoding errors wrap ErrMalformed and,
// where one applies, a more precise sentinel (ErrNameTooLong, ErrUnknownEvent,
// ErrEventLength, ErrTooManyEvents) or an error of package amf.
var (
	ErrMalformed      = errors.New("sharedobject: malformed message")
	ErrNameTooLong    = errors.New("sharedobject: name too long")
	ErrUnknownEvent   = errors.New("sharedobject: unknown event type")
	ErrEventLength    = errors.New("sharedobject: wrong event length")
	ErrTooManyEvents  = errors.New("sharedobject: too many events")
	ErrBadName        = errors.New("sharedobject: bad name")
	ErrBadKey         = errors.New("sharedobject: bad attribute key")
	ErrBadValue       = errors.New("sharedobject: value cannot be encoded")
	ErrNoReadAccess   = errors.New("sharedobject: no read access")
	ErrNoWriteAccess  = errors.New("sharedobject: no write access")
	ErrNotFound       = errors.New("sharedobject: no such shared object")
	ErrBadPersistence = errors.New("sharedobject: persistence mismatch")
	ErrNotSubscribed  = errors.New("sharedobject: not subscribed")
	ErrClosed         = errors.New("sharedobject: closed")
	ErrStore          = errors.New("sharedobject: store")
	ErrDamaged        = errors.New("sharedobject: damaged store")
	ErrHandler        = errors.New("sharedobject: send handler failed")
)

// Status codes sent to clients in status events (level "error").
const (
	StatusNoReadAccess         = "SharedObject.NoReadAccess"
	StatusNoWriteAccess        = "SharedObject.NoWriteAccess"
	StatusObjectCreationFailed = "SharedObject.ObjectCreationFailed"
	StatusBadPersistence       = "SharedObject.BadPersistence"
	statusLevelError           = "error"
)
