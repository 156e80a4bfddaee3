package client

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DefaultPort is the RTMP port used when a URL names none.
const DefaultPort = "1935"

// parseURL splits rtmp://host[:port]/app[/room…][?query] into the address to
// dial and the connect "app" (the whole path, with the query if any).
func parseURL(raw string) (addr, app string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrURL, err)
	}
	if u.Scheme != "rtmp" {
		return "", "", fmt.Errorf("%w: scheme %q is not rtmp", ErrURL, u.Scheme)
	}
	if u.Hostname() == "" {
		return "", "", fmt.Errorf("%w: no host in %q", ErrURL, raw)
	}
	port := u.Port()
	if port == "" {
		port = DefaultPort
	}
	app = strings.Trim(u.Path, "/")
	if app == "" {
		return "", "", fmt.Errorf("%w: no application in %q", ErrURL, raw)
	}
	if u.RawQuery != "" {
		app += "?" + u.RawQuery
	}
	return net.JoinHostPort(u.Hostname(), port), app, nil
}

// SplitStreamURL splits a stream URL into the connection URL (for Dial) and
// the stream name (for Publish or Play): the stream is the last path segment.
//
//	"rtmp://h/live/room/cam1"       → "rtmp://h/live/room", "cam1"
//	"rtmp://h/live/cam1?token=abc"  → "rtmp://h/live", "cam1?token=abc"
//
// A query string travels with the stream name, where servers look for
// publish and play tokens. A URL with fewer than two path segments has no
// stream: stream is "" and connURL is url unchanged.
func SplitStreamURL(url string) (connURL, stream string) {
	base, query, hasQuery := strings.Cut(url, "?")
	rest, ok := strings.CutPrefix(base, "rtmp://")
	if !ok {
		return url, ""
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return url, ""
	}
	path := strings.TrimRight(rest[slash+1:], "/")
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return url, ""
	}
	stream = path[i+1:]
	if hasQuery {
		stream += "?" + query
	}
	return "rtmp://" + rest[:slash+1] + path[:i], stream
}
