package origin

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports enforces the import table for this package: std only.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
			t.Errorf("internal/origin imports %s", imp)
		}
	}
}
