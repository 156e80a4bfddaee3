package httpflv_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream/httpflv"
)

// pathCases seed both TestParsePath and FuzzParsePath.
var pathCases = []struct {
	in          string
	scope, name string // "" scope: an error
}{
	{"/live/cam1.flv", "live", "cam1"},
	{"/live/room1/cam1.flv", "live/room1", "cam1"},
	{"/live/a/b/c/d/cam1.flv", "live/a/b/c/d", "cam1"},
	{"/live/cam 1.flv", "live", "cam 1"},
	{"/live/cam1.flv.flv", "live", "cam1.flv"},
	{"/live/é.flv", "live", "é"},
	{"live/cam1.flv", "live", "cam1"},
	{"/live/cam1", "", ""},
	{"/live/cam1.FLV", "", ""},
	{"/cam1.flv", "", ""},
	{"/.flv", "", ""},
	{"/live/.flv", "", ""},
	{"/live/cam1/.flv", "", ""},
	{"/live//cam1.flv", "", ""},
	{"/live/../cam1.flv", "", ""},
	{"/live/./cam1.flv", "", ""},
	{"/live/..flv", "", ""},
	{"/live/a..b.flv", "", ""},
	{"/live/cam\x00.flv", "", ""},
	{"/live/cam\\1.flv", "", ""},
	{"/live/cam?1.flv", "", ""},
	{"/live/cam#1.flv", "", ""},
	{"/live/\xff.flv", "", ""},
	{"", "", ""},
	{"/", "", ""},
	{".flv", "", ""},
	{"/" + strings.Repeat("a/", 40) + "x.flv", "", ""},
	{"/live/" + strings.Repeat("x", 300) + ".flv", "", ""},
}

func TestParsePath(t *testing.T) {
	for _, c := range pathCases {
		sp, name, err := httpflv.ParsePath(c.in)
		if c.scope == "" {
			if err == nil || !errors.Is(err, httpflv.ErrBadPath) {
				t.Errorf("ParsePath(%q) = %q, %q, %v; want an ErrBadPath", c.in, sp, name, err)
			}
			continue
		}
		if err != nil || sp != c.scope || name != c.name {
			t.Errorf("ParsePath(%q) = %q, %q, %v; want %q, %q", c.in, sp, name, err, c.scope, c.name)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, c := range pathCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sp, name, err := httpflv.ParsePath(in)
		if err != nil {
			if !errors.Is(err, httpflv.ErrBadPath) {
				t.Fatalf("error %v does not wrap ErrBadPath", err)
			}
			return
		}
		if !strings.HasSuffix(in, ".flv") {
			t.Fatalf("%q accepted without .flv", in)
		}
		if _, err := scope.SplitPath(sp); err != nil {
			t.Fatalf("scope path %q of %q: %v", sp, in, err)
		}
		if base, err := scope.CheckName(name); err != nil || base != name {
			t.Fatalf("name %q of %q: %v", name, in, err)
		}
		if got := sp + "/" + name + ".flv"; got != strings.Trim(in, "/") && "/"+got != in && got != strings.TrimLeft(in, "/") {
			t.Fatalf("%q parsed as %q + %q", in, sp, name)
		}
	})
}

// TestFuzzCorpus keeps testdata/fuzz/FuzzParsePath in step with pathCases
// (HTTPFLV_UPDATE_CORPUS=1 rewrites it).
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for i, tc := range pathCases {
		c.Add("FuzzParsePath", fmt.Sprintf("seed-%02d", i), tc.in)
	}
	c.Check(t, os.Getenv("HTTPFLV_UPDATE_CORPUS") == "1", "with HTTPFLV_UPDATE_CORPUS=1")
}
