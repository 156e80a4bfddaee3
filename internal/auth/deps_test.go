package auth

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports enforces DESIGN.md's arrows for this package: std and scope.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if !strings.Contains(first, ".") || imp == "github.com/scopecast/scopecast/scope" {
			continue
		}
		t.Errorf("internal/auth imports %s", imp)
	}
}
