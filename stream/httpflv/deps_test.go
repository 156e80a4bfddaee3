package httpflv

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports enforces DESIGN.md's arrows for this package: std, scope,
// stream, stream/flv, internal/conntrack, internal/origin and gorilla/websocket.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/scopecast/scopecast/"
	allowed := map[string]bool{
		mod + "scope":                  true,
		mod + "stream":                 true,
		mod + "stream/flv":             true,
		mod + "internal/conntrack":     true,
		mod + "internal/origin":        true,
		"github.com/gorilla/websocket": true,
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if !strings.Contains(first, ".") { // standard library
			continue
		}
		if !allowed[imp] {
			t.Errorf("stream/httpflv imports %s", imp)
		}
	}
}
