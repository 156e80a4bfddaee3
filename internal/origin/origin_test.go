package origin

import "testing"

func TestAllowed(t *testing.T) {
	list := []string{"https://good.example/", "also.example:8443"}
	for _, c := range []struct {
		origin, host string
		allowed      []string
		def          Default
		want         bool
	}{
		// Not from a browser.
		{"", "srv:5080", nil, LocalOnly, true},
		{"", "srv:5080", []string{}, AnyOrigin, true},
		// Malformed: refused whatever the list says.
		{"null", "srv:5080", nil, AnyOrigin, false},
		{"ftp://good.example", "srv:5080", []string{"*"}, AnyOrigin, false},
		{"https://", "srv:5080", []string{"*"}, AnyOrigin, false},
		{"http://bad host", "srv:5080", []string{"*"}, AnyOrigin, false},
		{"http://a\x7f", "srv:5080", []string{"*"}, AnyOrigin, false},
		{"good.example", "srv:5080", []string{"*"}, AnyOrigin, false},
		// The request's own host, port included, case ignored.
		{"http://SRV:5080", "srv:5080", []string{}, LocalOnly, true},
		{"http://srv:5081", "srv:5080", []string{}, LocalOnly, false},
		// A nil list: the default decides.
		{"https://evil.example", "srv:5080", nil, AnyOrigin, true},
		{"https://evil.example", "srv:5080", nil, LocalOnly, false},
		{"http://localhost:3000", "srv:5080", nil, LocalOnly, true},
		{"http://127.0.0.1", "srv:5080", nil, LocalOnly, true},
		{"http://[::1]:8080", "srv:5080", nil, LocalOnly, true},
		{"http://localhost.evil.example", "srv:5080", nil, LocalOnly, false},
		// A non-nil list replaces the default, localhost included.
		{"http://localhost:3000", "srv:5080", list, LocalOnly, false},
		{"https://evil.example", "srv:5080", []string{}, AnyOrigin, false},
		{"https://evil.example", "srv:5080", []string{"*"}, LocalOnly, true},
		{"https://good.example", "srv:5080", list, AnyOrigin, true},
		{"HTTPS://GOOD.example", "srv:5080", list, AnyOrigin, true},
		{"http://good.example", "srv:5080", list, AnyOrigin, false},      // a full origin includes the scheme
		{"https://good.example:444", "srv:5080", list, AnyOrigin, false}, // and the port
		{"http://also.example:8443", "srv:5080", list, AnyOrigin, true},
		{"https://also.example:8443", "srv:5080", list, AnyOrigin, true}, // a host entry: any scheme
		{"https://also.example", "srv:5080", list, AnyOrigin, false},
	} {
		if got := Allowed(c.origin, c.host, c.allowed, c.def); got != c.want {
			t.Errorf("Allowed(%q, %q, %q, %d) = %v, want %v", c.origin, c.host, c.allowed, c.def, got, c.want)
		}
	}
}
