package httpflv

import (
	"errors"
	"fmt"
	"strings"

	"github.com/scopecast/scopecast/scope"
)

// Errors of this package; functions return them wrapped with detail.
var (
	// ErrBadPath: the request path is not /<app>[/<room>…]/<stream>.flv with
	// a valid scope path and stream name (HTTP 400).
	ErrBadPath = errors.New("httpflv: bad path")
	// ErrOrigin: the request's Origin is not allowed (HTTP 403).
	ErrOrigin = errors.New("httpflv: origin not allowed")
	// ErrShuttingDown: the handler is shutting down (HTTP 503).
	ErrShuttingDown = errors.New("httpflv: shutting down")
	// ErrClientGone: the client closed its connection.
	ErrClientGone = errors.New("httpflv: client went away")
)

// Ext is the extension that names an FLV stream in a request path.
const Ext = ".flv"

// ParsePath splits a request path such as "/live/room1/cam1.flv" into the
// scope path ("live/room1") and the stream name ("cam1"). The path must end
// in ".flv", name at least an application and a stream, and pass
// scope.SplitPath and scope.CheckName; errors wrap ErrBadPath (and the scope
// package's ErrBadPath or ErrBadName). The query string is not part of path.
func ParsePath(path string) (scopePath, name string, err error) {
	p, ok := strings.CutSuffix(path, Ext)
	if !ok {
		return "", "", fmt.Errorf("%w: %q does not end in %s", ErrBadPath, truncate(path), Ext)
	}
	if strings.HasSuffix(p, "/") {
		return "", "", fmt.Errorf("%w: %q has no stream name before %s", ErrBadPath, truncate(path), Ext)
	}
	segs, err := scope.SplitPath(p)
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrBadPath, err)
	}
	if len(segs) < 2 {
		return "", "", fmt.Errorf("%w: %q: want /<app>[/<room>…]/<stream>%s", ErrBadPath, truncate(path), Ext)
	}
	name = segs[len(segs)-1]
	if _, err := scope.CheckName(name); err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrBadPath, err)
	}
	return strings.Join(segs[:len(segs)-1], "/"), name, nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
