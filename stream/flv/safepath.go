package flv

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadName reports a stream name or scope path that cannot name a file
// under the streams directory.
var ErrBadName = errors.New("flv: bad stream name")

// Name limits.
const (
	maxNameLen     = 200 // bytes of one name or scope segment
	maxScopeDepth  = 32
	recordingExt   = ".flv"
	maxSegmentsLen = 4096
)

// SafePath returns the file of stream name in the scope scopePath under
// root, the streams directory (e.g. data/streams): root/<scope
// segments>/<name>.flv. A trailing ".flv" on name is not doubled.
//
// Every scope segment and the name must be a plain file name: not empty,
// not "." or "..", not starting with a dot, at most 200 bytes of valid
// UTF-8 without separators ('/' and '\\'), NUL or other control
// characters, ':' or '?'. Empty scope segments (leading, trailing or
// doubled slashes) are ignored. Anything else is refused with ErrBadName, and
// the result is checked to lie inside root. Symbolic links inside root are
// not examined.
func SafePath(root, scopePath, name string) (string, error) {
	if root == "" {
		return "", fmt.Errorf("%w: empty root", ErrBadName)
	}
	if len(scopePath) > maxSegmentsLen {
		return "", fmt.Errorf("%w: scope path of %d bytes", ErrBadName, len(scopePath))
	}
	parts := []string{filepath.Clean(root)}
	depth := 0
	for _, seg := range strings.Split(scopePath, "/") {
		if seg == "" {
			continue
		}
		if err := checkSegment(seg); err != nil {
			return "", fmt.Errorf("%w: scope path %q: %w", ErrBadName, scopePath, err)
		}
		if depth++; depth > maxScopeDepth {
			return "", fmt.Errorf("%w: scope path %q deeper than %d", ErrBadName, scopePath, maxScopeDepth)
		}
		parts = append(parts, seg)
	}
	base := strings.TrimSuffix(name, recordingExt)
	if err := checkSegment(base); err != nil {
		return "", fmt.Errorf("%w: name %q: %w", ErrBadName, name, err)
	}
	parts = append(parts, base+recordingExt)
	p := filepath.Join(parts...)
	rel, err := filepath.Rel(parts[0], p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: %q escapes the root", ErrBadName, name)
	}
	return p, nil
}

var errSegment = errors.New("not a plain file name")

func checkSegment(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", errSegment)
	case len(s) > maxNameLen:
		return fmt.Errorf("%w: %d bytes", errSegment, len(s))
	case s[0] == '.':
		return fmt.Errorf("%w: starts with a dot", errSegment)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: invalid UTF-8", errSegment)
	}
	for _, c := range s {
		if c == '/' || c == '\\' || c == ':' || c == '?' || c == 0 || unicode.IsControl(c) || c == utf8.RuneError {
			return fmt.Errorf("%w: character %q", errSegment, c)
		}
	}
	return nil
}
