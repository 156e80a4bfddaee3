package config

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports enforces DESIGN.md's arrows for this package: std and the YAML
// library only.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if !strings.Contains(first, ".") || imp == "go.yaml.in/yaml/v3" {
			continue
		}
		t.Errorf("internal/config imports %s", imp)
	}
}
