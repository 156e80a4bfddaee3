package admin

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports enforces DESIGN.md's arrows for this package: the server
// packages it reads and the Prometheus client, no other transport than rtmp
// (HTTP-FLV and others come in through Options.Transports).
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/scopecast/scopecast/"
	allowed := map[string]bool{mod + "rtmp": true, mod + "rtmp/amf": true, mod + "scope": true, mod + "stream": true, mod + "stream/flv": true,
		mod + "sharedobject": true, mod + "wsbridge": true}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if !strings.Contains(first, ".") || strings.HasPrefix(imp, "github.com/prometheus/client_golang/") {
			continue
		}
		if !allowed[imp] {
			t.Errorf("admin imports %s", imp)
		}
	}
}
