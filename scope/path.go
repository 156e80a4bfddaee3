package scope

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on paths and names.
const (
	MaxPathLen    = 1024 // bytes of a scope path after trimming slashes
	MaxDepth      = 32   // segments of a scope path (the app counts as one)
	MaxSegmentLen = 256  // bytes of one path segment
	MaxNameLen    = 256  // bytes of a stream name, query excluded
	MaxQueryLen   = 2048 // bytes of a stream name's query string
)

// SplitPath splits a scope path such as "/chat/room1/room2/" into its segments after
// trimming leading and trailing slashes. It returns an error wrapping [ErrBadPath] for an
// empty path, an empty segment ("a//b"), a "." or ".." segment, invalid UTF-8, control
// characters, a backslash, "?" or "#" (callers strip query strings from connect paths),
// or a path over the limits.
func SplitPath(path string) ([]string, error) {
	p := strings.Trim(path, "/")
	if p == "" {
		return nil, fmt.Errorf("%w: empty path %q", ErrBadPath, path)
	}
	if len(p) > MaxPathLen {
		return nil, fmt.Errorf("%w: path longer than %d bytes", ErrBadPath, MaxPathLen)
	}
	if n := strings.Count(p, "/") + 1; n > MaxDepth {
		return nil, fmt.Errorf("%w: %d segments, at most %d", ErrBadPath, n, MaxDepth)
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if err := checkSegment(s); err != nil {
			return nil, fmt.Errorf("%w: %q: %s", ErrBadPath, path, err)
		}
	}
	return segs, nil
}

type badText string

func (b badText) Error() string { return string(b) }

func checkSegment(s string) error {
	switch {
	case s == "":
		return badText("empty segment")
	case s == "." || s == "..":
		return badText("dot segment")
	case len(s) > MaxSegmentLen:
		return badText("segment too long")
	}
	return checkChars(s, "\\?#")
}

// checkChars refuses invalid UTF-8, control characters and the bytes in extra.
func checkChars(s, extra string) error {
	if !utf8.ValidString(s) {
		return badText("invalid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return badText("control character")
		}
		if strings.ContainsRune(extra, r) {
			return badText(fmt.Sprintf("character %q not allowed", r))
		}
	}
	return nil
}

// SplitName splits a stream name as a client sends it ("cam1?token=abc") into the stream
// name and the query string without its "?". It does not validate them.
func SplitName(name string) (base, query string) {
	base, query, _ = strings.Cut(name, "?")
	return base, query
}

// CheckName validates a stream name and returns its base (the part before any "?query").
// The base must be non-empty, at most [MaxNameLen] bytes, valid UTF-8 without control
// characters, and contain neither "/", "\" nor "..". Errors wrap [ErrBadName].
func CheckName(name string) (base string, err error) {
	base, query := SplitName(name)
	switch {
	case base == "":
		return "", fmt.Errorf("%w: empty name", ErrBadName)
	case len(base) > MaxNameLen:
		return "", fmt.Errorf("%w: name longer than %d bytes", ErrBadName, MaxNameLen)
	case len(query) > MaxQueryLen:
		return "", fmt.Errorf("%w: query longer than %d bytes", ErrBadName, MaxQueryLen)
	case strings.Contains(base, ".."):
		return "", fmt.Errorf("%w: %q contains \"..\"", ErrBadName, base)
	}
	if err := checkChars(base, "/\\"); err != nil {
		return "", fmt.Errorf("%w: %q: %s", ErrBadName, base, err)
	}
	if err := checkChars(query, ""); err != nil {
		return "", fmt.Errorf("%w: query of %q: %s", ErrBadName, base, err)
	}
	return base, nil
}
