package flv

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// safePathCases seed TestSafePath and FuzzSafePath. want "" means ErrBadName.
var safePathCases = []struct {
	name, scope, stream, want string
}{
	{name: "simple", scope: "/live", stream: "cam", want: "live/cam.flv"},
	{name: "rooms", scope: "/live/room1/sub", stream: "cam", want: "live/room1/sub/cam.flv"},
	{name: "no-leading-slash", scope: "live", stream: "cam", want: "live/cam.flv"},
	{name: "doubled-slashes", scope: "//live///room//", stream: "cam", want: "live/room/cam.flv"},
	{name: "root-scope", scope: "", stream: "cam", want: "cam.flv"},
	{name: "flv-suffix", scope: "/live", stream: "cam.flv", want: "live/cam.flv"},
	{name: "dots-inside", scope: "/live", stream: "a..b", want: "live/a..b.flv"},
	{name: "unicode", scope: "/live", stream: "caméra-1_x", want: "live/caméra-1_x.flv"},
	{name: "spaces", scope: "/live", stream: "my stream", want: "live/my stream.flv"},

	{name: "dotdot", scope: "/live", stream: ".."},
	{name: "dotdot-slash", scope: "/live", stream: "../x"},
	{name: "dotdot-deep", scope: "/live", stream: "../../../etc/passwd"},
	{name: "absolute", scope: "/live", stream: "/etc/passwd"},
	{name: "slash-inside", scope: "/live", stream: "a/b"},
	{name: "backslash", scope: "/live", stream: `..\x`},
	{name: "nul", scope: "/live", stream: "a\x00b"},
	{name: "newline", scope: "/live", stream: "a\nb"},
	{name: "empty", scope: "/live", stream: ""},
	{name: "only-suffix", scope: "/live", stream: ".flv"},
	{name: "dot", scope: "/live", stream: "."},
	{name: "hidden", scope: "/live", stream: ".x"},
	{name: "query", scope: "/live", stream: "cam?token=1"},
	{name: "colon", scope: "/live", stream: "c:x"},
	{name: "bad-utf8", scope: "/live", stream: "a\xffb"},
	{name: "too-long", scope: "/live", stream: strings.Repeat("a", 201)},
	{name: "scope-dotdot", scope: "/live/../..", stream: "cam"},
	{name: "scope-dot", scope: "/live/./x", stream: "cam"},
	{name: "scope-backslash", scope: `/live\..`, stream: "cam"},
	{name: "scope-nul", scope: "/li\x00ve", stream: "cam"},
	{name: "scope-too-deep", scope: strings.Repeat("/a", 33), stream: "cam"},
}

func TestSafePath(t *testing.T) {
	root := filepath.Join("data", "streams")
	for _, tc := range safePathCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SafePath(root, tc.scope, tc.stream)
			if tc.want == "" {
				if !errors.Is(err, ErrBadName) {
					t.Fatalf("SafePath(%q, %q) = %q, %v; want ErrBadName", tc.scope, tc.stream, got, err)
				}
				return
			}
			if err != nil || got != filepath.Join(root, filepath.FromSlash(tc.want)) {
				t.Fatalf("SafePath(%q, %q) = %q, %v; want %q", tc.scope, tc.stream, got, err, tc.want)
			}
		})
	}
	if _, err := SafePath("", "/live", "x"); !errors.Is(err, ErrBadName) {
		t.Errorf("empty root: %v", err)
	}
}

// FuzzSafePath: whatever the names, a result lies inside the root, ends in
// .flv and has as many segments as the plain names given.
func FuzzSafePath(f *testing.F) {
	for _, tc := range safePathCases {
		f.Add(tc.scope, tc.stream)
	}
	const root = "data/streams"
	f.Fuzz(func(t *testing.T, scope, name string) {
		p, err := SafePath(root, scope, name)
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("error without ErrBadName: %v", err)
			}
			return
		}
		rel, err := filepath.Rel(filepath.Clean(root), p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) || rel == "." {
			t.Fatalf("SafePath(%q, %q, %q) = %q escapes the root", root, scope, name, p)
		}
		if !strings.HasSuffix(p, ".flv") {
			t.Fatalf("SafePath(%q, %q) = %q", scope, name, p)
		}
		for _, seg := range strings.Split(rel, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") || strings.ContainsAny(seg, "\\\x00") {
				t.Fatalf("SafePath(%q, %q) = %q has segment %q", scope, name, p, seg)
			}
		}
	})
}
