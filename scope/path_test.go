package scope

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
)

// pathTable seeds TestConnectPath and FuzzConnectPath (and its corpus in testdata).
// want is the leaf scope's path, or "" with err the expected sentinel.
var pathTable = []struct {
	path string
	want string
	err  error
}{
	{"chat", "/chat", nil},
	{"/chat", "/chat", nil},
	{"chat/", "/chat", nil},
	{"//chat//", "/chat", nil},
	{"chat/room1", "/chat/room1", nil},
	{"chat/room1/room2", "/chat/room1/room2", nil},
	{"/chat/room1/room2/", "/chat/room1/room2", nil},
	{"chat/ü-room", "/chat/ü-room", nil},
	{"chat/a b", "/chat/a b", nil},
	{"chat/...", "/chat/...", nil},
	{"", "", ErrBadPath},
	{"/", "", ErrBadPath},
	{"///", "", ErrBadPath},
	{"chat//room", "", ErrBadPath},
	{"chat/./room", "", ErrBadPath},
	{"chat/..", "", ErrBadPath},
	{"chat/../live", "", ErrBadPath},
	{"..", "", ErrBadPath},
	{".", "", ErrBadPath},
	{"chat/a\x00b", "", ErrBadPath},
	{"chat/a\rb", "", ErrBadPath},
	{"chat/a\x7f", "", ErrBadPath},
	{"chat/\xc2\x85", "", ErrBadPath},
	{"chat/\xff", "", ErrBadPath},
	{"chat/a\\b", "", ErrBadPath},
	{"chat?token=1", "", ErrBadPath},
	{"chat/room#x", "", ErrBadPath},
	{"chat/" + strings.Repeat("x", MaxSegmentLen), "/chat/" + strings.Repeat("x", MaxSegmentLen), nil},
	{"chat/" + strings.Repeat("x", MaxSegmentLen+1), "", ErrBadPath},
	{"chat" + strings.Repeat("/r", MaxDepth-1), "/chat" + strings.Repeat("/r", MaxDepth-1), nil},
	{"chat" + strings.Repeat("/r", MaxDepth), "", ErrBadPath},
	{"chat/" + strings.Repeat("abcdefg/", MaxPathLen/8), "", ErrBadPath},
	{"live", "", ErrInvalidApp},
	{"CHAT", "", ErrInvalidApp},
	{"live/room", "", ErrInvalidApp},
}

func TestConnectPath(t *testing.T) {
	g := newTestGlobal(t, BaseHandler{})
	for _, tc := range pathTable {
		c := newConn()
		s, err := g.Connect(c, tc.path, nil)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || s != nil {
				t.Errorf("Connect(%q) = %v, %v; want %v", tc.path, s, err, tc.err)
			}
			continue
		}
		if err != nil || s.Path() != tc.want {
			t.Errorf("Connect(%q) = %v, %v; want %s", tc.path, s, err, tc.want)
			continue
		}
		if g.Lookup(tc.path) != s {
			t.Errorf("Lookup(%q) != Connect's scope", tc.path)
		}
		g.Disconnect(c, s)
	}
}

// FuzzConnectPath: Connect never panics, fails only with ErrBadPath or ErrInvalidApp,
// and a connected scope's path is the cleaned input; no room is left behind.
func FuzzConnectPath(f *testing.F) {
	for _, tc := range pathTable {
		f.Add(tc.path)
	}
	g := New(Options{KeepDelay: -1, Logger: quietLogger()})
	if err := g.Register("chat", BaseHandler{}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string) {
		c := newConn()
		s, err := g.Connect(c, path, nil)
		if err != nil {
			if s != nil || !(errors.Is(err, ErrBadPath) || errors.Is(err, ErrInvalidApp)) {
				t.Fatalf("Connect(%q) = %v, %v", path, s, err)
			}
			return
		}
		segs, serr := SplitPath(path)
		if serr != nil || s.Path() != "/"+strings.Join(segs, "/") || s.Depth() != len(segs) {
			t.Fatalf("Connect(%q) = %s (depth %d); SplitPath = %q, %v", path, s.Path(), s.Depth(), segs, serr)
		}
		if slices.ContainsFunc(segs, func(x string) bool { return x == "" || x == "." || x == ".." }) {
			t.Fatalf("Connect(%q) accepted segments %q", path, segs)
		}
		if len(s.Path()) > MaxPathLen+1 {
			t.Fatalf("path too long: %d", len(s.Path()))
		}
		if got := g.Lookup(s.Path()); got != s {
			t.Fatalf("Lookup(%q) = %v", s.Path(), got)
		}
		g.Disconnect(c, s)
	})
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz seed files from the tables")

// TestFuzzCorpus checks that testdata/fuzz/FuzzConnectPath holds the pathTable seeds
// (go test ./scope/ -run TestFuzzCorpus -args -update-corpus rewrites them).
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for i, tc := range pathTable {
		c.Add("FuzzConnectPath", fmt.Sprintf("seed-%02d", i), tc.path)
	}
	c.Check(t, *updateCorpus, "-args -update-corpus")
}
