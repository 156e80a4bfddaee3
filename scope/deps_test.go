package scope

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports enforces DESIGN.md's arrows for this package: std, stream, sharedobject.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/scopecast/scopecast/"
	allowed := map[string]bool{mod + "stream": true, mod + "sharedobject": true}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if !strings.Contains(first, ".") { // standard library
			continue
		}
		if !allowed[imp] {
			t.Errorf("scope imports %s", imp)
		}
	}
}
