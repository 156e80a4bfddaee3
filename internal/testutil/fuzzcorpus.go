package testutil

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Corpus is the seed corpus a package's case tables imply: one file per
// table entry under testdata/fuzz/FuzzTarget/, in the Go fuzz corpus file
// format. A TestFuzzCorpus test fills it from the same tables the fuzz
// targets' f.Add calls read, then calls Check.
type Corpus struct {
	files map[string]string // "FuzzTarget/name" -> content
	dups  []string
}

// Add records the seed file testdata/fuzz/target/name holding vals, the
// arguments of the fuzz function in order. A []byte is written []byte("…"),
// a string string("…"), a byte byte(n), anything else T(v) (bool, int,
// uint32…).
func (c *Corpus) Add(target, name string, vals ...any) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%d)\n", v)
		default:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		}
	}
	key := target + "/" + name
	if c.files == nil {
		c.files = map[string]string{}
	}
	if _, ok := c.files[key]; ok {
		c.dups = append(c.dups, key)
	}
	c.files[key] = b.String()
}

// Check keeps testdata/fuzz in step with the seeds added: a seed file
// missing or stale, or a file in a target's directory that is no seed
// (crashers belong in the tables), fails t. With update it rewrites the
// files and removes the strays instead; how names what sets update (for
// example "-update"), for the failure message.
func (c *Corpus) Check(t testing.TB, update bool, how string) {
	t.Helper()
	if len(c.files) == 0 {
		t.Fatal("no fuzz seeds")
	}
	for _, k := range c.dups {
		t.Errorf("seed %s added twice: case names must be unique", k)
	}
	rerun := fmt.Sprintf("rerun go test -run '^%s$' %s", t.Name(), how)
	targets := map[string]bool{}
	for key := range c.files {
		target, _, _ := strings.Cut(key, "/")
		targets[target] = true
	}
	for target := range targets {
		dir := filepath.Join("testdata", "fuzz", target)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if _, ok := c.files[target+"/"+e.Name()]; ok {
				continue
			}
			path := filepath.Join(dir, e.Name())
			if !update {
				t.Errorf("%s is no seed of the case tables: add it to a table and %s", path, rerun)
				continue
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(c.files)) {
		path := filepath.Join("testdata", "fuzz", filepath.FromSlash(key))
		content := c.files[key]
		if update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != content {
			t.Errorf("%s is missing or stale; %s", path, rerun)
		}
	}
}
