// Package origin decides whether a browser's Origin header may use a
// handler: the one rule that HTTP-FLV (stream/httpflv) and the WebSocket
// bridge (wsbridge) share. Each handler keeps its own default for an unset
// list (Default).
package origin

import (
	"net/url"
	"strings"
)

// Default is what a nil list allows, besides the request's own host.
type Default int

// Defaults for a nil list.
const (
	// AnyOrigin: a nil list allows every well-formed origin.
	AnyOrigin Default = iota
	// LocalOnly: a nil list allows localhost, 127.0.0.1 and ::1 at any port.
	LocalOnly
)

// Allowed reports whether the Origin header value o may be served to a
// request for host (its Host header). An empty o (a request not from a
// browser) is allowed. Otherwise o must parse as an http or https URL with a
// host; it is allowed if that host (with its port) is host, if allowed is
// nil and def allows it, or if an entry of allowed matches: "*" (any
// origin), a full origin ("https://example.com", a trailing slash ignored)
// equal to o, or a host ("example.com:8443") equal to o's. Comparisons
// ignore case. A non-nil empty list allows only host.
func Allowed(o, host string, allowed []string, def Default) bool {
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	if allowed == nil {
		if def == AnyOrigin {
			return true
		}
		switch u.Hostname() {
		case "localhost", "127.0.0.1", "::1":
			return true
		}
		return false
	}
	for _, a := range allowed {
		switch {
		case a == "*":
			return true
		case strings.Contains(a, "://"):
			if strings.EqualFold(strings.TrimSuffix(a, "/"), o) {
				return true
			}
		case strings.EqualFold(a, u.Host):
			return true
		}
	}
	return false
}
