package config

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/scopecast/scopecast/internal/testutil"
)

var updateCorpus = flag.Bool("update", false, "rewrite the seed corpus files under testdata/fuzz")

// yamlCases seed both TestYAMLCases and FuzzDecode: a document and whether it
// loads (decodes and validates).
var yamlCases = []struct {
	name string
	doc  string
	ok   bool
}{
	{"empty", "", true},
	{"defaults", string(defaultsYAML), true},
	{"null_sections", "rtmp:\nrtmps: ~\nauth:\n  apps:\n", true},
	{"flow", `{rtmp: {listen: "127.0.0.1:1"}, log: {format: json}}`, true},
	{"apps", "auth:\n  apps:\n    live:\n      publish: {keys: [a, b], allow: [10.0.0.0/8, '::1']}\n      play: {deny: 192.0.2.1}\n      hooks: {on_play: 'http://h/p', timeout: 1s}\n    chat: {}\n", true},
	{"anchors", "auth:\n  apps:\n    live: &r {publish: {keys: [k]}}\n    chat: *r\n", true},
	{"unknown_key", "rtmp:\n  lisen: x\n", false},
	{"bad_duration", "keep_delay: 5x\n", false},
	{"list_for_scalar", "data_dir: [a]\n", false},
	{"map_for_list", "auth: {apps: {live: {publish: {keys: {a: b}}}}}\n", false},
	{"bad_cidr", "auth: {apps: {live: {publish: {allow: [10.0.0/8]}}}}\n", false},
	{"bad_app", "auth: {apps: {'a/b': {}}}\n", false},
	{"top_list", "- a\n- b\n", false},
	{"top_scalar", "hello\n", false},
	{"nested_list", "auth: {apps: {live: {publish: {keys: [[a]]}}}}\n", false},
	{"null_key", "auth: {apps: {live: {publish: {keys: [~]}}}}\n", false},
	{"broken", "rtmp: [\n", false},
	{"big_int", "auth: {hooks: {queue: 99999999999999999999}}\n", false},
	{"alias_fanout", "a: &a {listen: ':1'}\nrtmp: *a\nhttp: *a\nadmin: *a\n", false}, // "a" is not a key
	{"tags", "data_dir: !!binary aGVsbG8=\nrecord_name: !!str x\n", true},
	{"negative", "rtmp: {merge_window: -1ms}\nkeep_delay: -1s\n", true},
	{"origins", "http:\n  flv_allowed_origins: ['*', 'https://a.example', 'b.example:8443', '[::1]:8080']\n  ws_allowed_origins: localhost:3000\n", true},
	{"origins_empty", "http: {flv_allowed_origins: [], ws_allowed_origins: ~}\n", true},
	{"bad_origin", "http: {flv_allowed_origins: ['https://a.example/path', '*.example.com']}\n", false},
	{"origin_default_port", "http: {ws_allowed_origins: ['https://a.example:443']}\n", false},
}

func TestYAMLCases(t *testing.T) {
	for _, tc := range yamlCases {
		c := Default()
		err := c.decode([]byte(tc.doc), "case.yaml")
		if err == nil {
			err = c.Validate()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", tc.name, err)
		}
	}
}

// A document with many nested aliases is refused, not expanded; a document
// with many problems lists a bounded number of them.
func TestDecodeBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString("l: &L [" + strings.Repeat("k, ", 100) + "k]\n")
	b.WriteString("r: &R {keys: *L, allow: *L, deny: *L}\n")
	b.WriteString("a: &A {connect: *R, publish: *R, play: *R}\nauth:\n  apps:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "    a%d: *A\n", i)
	}
	c := Default()
	err := c.decode([]byte(b.String()), "bomb.yaml")
	if err == nil || !strings.Contains(err.Error(), "more than 100 aliases") {
		t.Errorf("alias bomb: %v", err)
	}
	if n := strings.Count(err.Error(), "\n"); n > maxErrors+1 {
		t.Errorf("%d lines of errors", n)
	}
}

// FuzzDecode: any document either fails with ErrInvalid or loads, and what
// loads prints as YAML that loads back to the same configuration.
func FuzzDecode(f *testing.F) {
	for _, tc := range yamlCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c := Default()
		err := c.decode(doc, "fuzz.yaml")
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		out, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		back := Default()
		if err := back.decode(out, "printed.yaml"); err != nil {
			t.Fatalf("printed config does not decode: %v\n%s", err, out)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("printed config does not validate: %v\n%s", err, out)
		}
		if d := Diff(c, back); len(d) > 0 {
			t.Fatalf("round trip differs in %v\n%s", d, out)
		}
	})
}

// TestFuzzCorpus keeps testdata/fuzz in step with the seed table. Run
// `go test -run TestFuzzCorpus -update` after changing it.
func TestFuzzCorpus(t *testing.T) {
	var c testutil.Corpus
	for _, tc := range yamlCases {
		c.Add("FuzzDecode", tc.name, []byte(tc.doc))
	}
	c.Check(t, *updateCorpus, "-update")
}
