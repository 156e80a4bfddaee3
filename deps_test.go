package scopecast

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/scopecast/scopecast/"

// allowed is DESIGN.md's import table: for each package (directory), the
// module packages and third-party modules its non-test files may import. A
// trailing "/..." allows a whole subtree. Standard library imports are always
// allowed. A package missing from the table fails the test: add it here and to
// DESIGN.md together.
var allowed = map[string][]string{
	"":                       {},
	"rtmp/amf":               {},
	"rtmp/chunk":             {},
	"rtmp/handshake":         {},
	"rtmp/message":           {"rtmp/amf"},
	"rtmp/internal/connwait": {},
	"rtmp/client":            {"rtmp/amf", "rtmp/chunk", "rtmp/handshake", "rtmp/message", "rtmp/internal/connwait"},
	"stream":                 {},
	"stream/flv":             {"stream"},
	"stream/httpflv":         {"internal/wdeadline", "scope", "stream", "stream/flv", "internal/conntrack", "internal/origin", "github.com/gorilla/websocket"},
	"sharedobject":           {"rtmp/amf", "go.etcd.io/bbolt"},
	"scope":                  {"stream", "sharedobject"},
	"rtmp":                   {"internal/wdeadline", "rtmp/amf", "rtmp/chunk", "rtmp/handshake", "rtmp/message", "rtmp/internal/connwait", "internal/conntrack", "scope", "stream", "stream/flv", "sharedobject"},
	"wsbridge":               {"internal/wdeadline", "scope", "sharedobject", "rtmp/amf", "internal/conntrack", "internal/origin", "github.com/gorilla/websocket"},
	"apps/...":               {"scope", "stream", "stream/flv", "sharedobject", "rtmp/amf"},
	"apps/live":              {"scope", "stream", "stream/flv", "sharedobject", "rtmp/amf", "apps/chat"}, // the chat client beside the player
	"cmd/...":                {"*"},
	"cmd/internal/benchutil": {}, // the load tools' shared main and report helpers: std only
	"internal/testutil":      {"github.com/chromedp/chromedp", "github.com/prometheus/common", "github.com/prometheus/client_model"},
	"internal/admin":         {"rtmp", "rtmp/amf", "scope", "stream", "stream/flv", "sharedobject", "wsbridge", "github.com/prometheus/client_golang"},
	"internal/config":        {"go.yaml.in/yaml/v3"},
	"internal/auth":          {"scope"},
	"internal/conntrack":     {},                                                        // live connections for a graceful shutdown: std only
	"internal/origin":        {},                                                        // the Origin rule of httpflv and wsbridge: std only
	"internal/wdeadline":     {},                                                        // the writers' lazy write deadline: std only
	"internal/sopeer":        {"rtmp/amf", "rtmp/chunk", "rtmp/client", "sharedobject"}, // a shared-object client for tests
}

func rulesFor(dir string) ([]string, bool) {
	if r, ok := allowed[dir]; ok {
		return r, true
	}
	for k, r := range allowed {
		if p, ok := strings.CutSuffix(k, "/..."); ok && (dir == p || strings.HasPrefix(dir, p+"/")) {
			return r, true
		}
	}
	return nil, false
}

func permitted(rules []string, imp string) bool {
	for _, r := range rules {
		if r == "*" {
			return true
		}
		if strings.HasPrefix(imp, module) && strings.TrimPrefix(imp, module) == r {
			return true
		}
		if !strings.HasPrefix(imp, module) && (imp == r || strings.HasPrefix(imp, r+"/")) {
			return true
		}
	}
	return false
}

func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

func TestImportTable(t *testing.T) {
	seen := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "data" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if dir == "." {
			dir = ""
		}
		rules, ok := rulesFor(dir)
		if !ok {
			t.Errorf("package %q is not in the import table (deps_test.go and DESIGN.md)", dir)
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ImportsOnly)
		if err != nil {
			return err
		}
		seen++
		for _, is := range f.Imports {
			imp, _ := strconv.Unquote(is.Path.Value)
			if isStd(imp) || permitted(rules, imp) {
				continue
			}
			t.Errorf("%s imports %s, which the import table does not allow for %q", path, imp, dir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 10 {
		t.Fatalf("only %d Go files checked: is the walk broken?", seen)
	}
}

// The matcher itself: the table test above must be able to fail.
func TestImportRules(t *testing.T) {
	for _, c := range []struct {
		dir, imp string
		ok       bool
	}{
		{"rtmp/amf", "fmt", true},
		{"rtmp/amf", module + "stream", false},
		{"rtmp/message", module + "rtmp/amf", true},
		{"rtmp/message", module + "rtmp/chunk", false},
		{"stream", "github.com/gorilla/websocket", false},
		{"wsbridge", "github.com/gorilla/websocket", true},
		{"sharedobject", "go.etcd.io/bbolt", true},
		{"scope", "go.etcd.io/bbolt", false},
		{"apps/chat", module + "rtmp", false},
		{"cmd/scopecast", module + "rtmp", true},
	} {
		rules, known := rulesFor(c.dir)
		if !known {
			t.Errorf("%s is not in the table", c.dir)
			continue
		}
		if got := isStd(c.imp) || permitted(rules, c.imp); got != c.ok {
			t.Errorf("%s importing %s: allowed=%v, want %v", c.dir, c.imp, got, c.ok)
		}
	}
	if _, known := rulesFor("newpkg"); known {
		t.Error("an unknown package matched a rule")
	}
}
