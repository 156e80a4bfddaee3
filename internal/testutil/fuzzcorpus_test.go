package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Check reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "TestFuzzCorpus" }
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCorpusCheck(t *testing.T) {
	t.Chdir(t.TempDir())
	seeds := func() *Corpus {
		var c Corpus
		c.Add("FuzzA", "one", []byte("a\x00"), "s", true, uint32(7), byte(3), -2)
		c.Add("FuzzB", "two", []byte{})
		return &c
	}
	const one = "go test fuzz v1\n[]byte(\"a\\x00\")\nstring(\"s\")\nbool(true)\nuint32(7)\nbyte(3)\nint(-2)\n"
	check := func(c *Corpus, update bool) []string {
		r := &recorder{TB: t}
		c.Check(r, update, "-update")
		return r.errs
	}
	if errs := check(seeds(), false); len(errs) != 2 || !strings.Contains(errs[0], "missing or stale") {
		t.Fatalf("no files: %q", errs)
	}
	if errs := check(seeds(), true); len(errs) != 0 {
		t.Fatalf("update: %q", errs)
	}
	if b, _ := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzA", "one")); string(b) != one {
		t.Fatalf("FuzzA/one holds %q, want %q", b, one)
	}
	if errs := check(seeds(), false); len(errs) != 0 {
		t.Fatalf("after update: %q", errs)
	}
	stale := seeds()
	stale.Add("FuzzB", "two", []byte("changed"))
	if errs := check(stale, false); len(errs) != 2 || !strings.Contains(errs[0], "added twice") || !strings.Contains(errs[1], "FuzzB/two is missing or stale") {
		t.Fatalf("stale and duplicate: %q", errs)
	}
	stray := filepath.Join("testdata", "fuzz", "FuzzB", "crasher")
	if err := os.WriteFile(stray, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if errs := check(seeds(), false); len(errs) != 1 || !strings.Contains(errs[0], "crasher is no seed") {
		t.Fatalf("stray file: %q", errs)
	}
	check(seeds(), true)
	entries, _ := os.ReadDir(filepath.Dir(stray))
	if len(entries) != 1 || entries[0].Name() != "two" {
		t.Fatalf("after update FuzzB holds %v", entries)
	}
}
