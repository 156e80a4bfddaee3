package rtmp

import (
	"testing"
	"time"

	"github.com/scopecast/scopecast/stream/flv"
)

func TestRecordFileName(t *testing.T) {
	at := time.Date(2026, 11, 21, 17, 4, 5, 0, time.UTC)
	for _, c := range []struct{ template, name, want string }{
		{"", "cam1", "cam1"},
		{"{name}", "cam1", "cam1"},
		{"{name}-{date}-{time}", "cam1", "cam1-20261121-170405"},
		{"{unix}_{name}", "cam1", "1795280645_cam1"},
		{"rec-{name}", "a b", "rec-a b"},
	} {
		if got := recordFileName(c.template, c.name, at); got != c.want {
			t.Errorf("recordFileName(%q, %q) = %q, want %q", c.template, c.name, got, c.want)
		}
	}
	// A template cannot lead out of the streams directory: the result is a
	// name SafePath checks like any other.
	for _, template := range []string{"../{name}", "{name}/../../x", ".{name}"} {
		if _, err := flv.SafePath(t.TempDir(), "/live", recordFileName(template, "cam1", at)); err == nil {
			t.Errorf("template %q escaped SafePath", template)
		}
	}
}
