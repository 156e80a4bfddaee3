package client

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DefaultPort is the RTMP port used when an rtmp:// URL names none.
const DefaultPort = "1935"

// DefaultRTMPTPort is the port used when an rtmpt:// URL names none: 80, as
// for HTTP. scopecast serves RTMPT on its public HTTP port, :5080 by
// default, so give the port: rtmpt://host:5080/app/room.
const DefaultRTMPTPort = "80"

// target is a parsed connection URL.
type target struct {
	rtmpt bool   // rtmpt:// (RTMP over HTTP) rather than rtmp://
	addr  string // host:port to dial
	host  string // the HTTP Host header (host[:port] as the URL gives it)
	app   string // the connect "app": the whole path, with the query if any
}

// parseURL splits rtmp[t]://host[:port]/app[/room…][?query] into the
// address to dial and the connect "app" (the whole path, with the query if
// any).
func parseURL(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("%w: %v", ErrURL, err)
	}
	var t target
	port := DefaultPort
	switch u.Scheme {
	case "rtmp":
	case "rtmpt":
		t.rtmpt, port = true, DefaultRTMPTPort
	default:
		return target{}, fmt.Errorf("%w: scheme %q is not rtmp or rtmpt", ErrURL, u.Scheme)
	}
	if u.Hostname() == "" {
		return target{}, fmt.Errorf("%w: no host in %q", ErrURL, raw)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	t.app = strings.Trim(u.Path, "/")
	if t.app == "" {
		return target{}, fmt.Errorf("%w: no application in %q", ErrURL, raw)
	}
	if u.RawQuery != "" {
		t.app += "?" + u.RawQuery
	}
	t.addr = net.JoinHostPort(u.Hostname(), port)
	t.host = u.Host
	return t, nil
}

// SplitStreamURL splits a stream URL into the connection URL (for Dial) and
// the stream name (for Publish or Play): the stream is the last path segment.
//
//	"rtmp://h/live/room/cam1"       → "rtmp://h/live/room", "cam1"
//	"rtmp://h/live/cam1?token=abc"  → "rtmp://h/live", "cam1?token=abc"
//	"rtmpt://h:5080/live/cam1"      → "rtmpt://h:5080/live", "cam1"
//
// A query string travels with the stream name, where servers look for
// publish and play tokens. A URL with fewer than two path segments, or of
// another scheme than rtmp or rtmpt, has no stream: stream is "" and connURL
// is url unchanged.
func SplitStreamURL(url string) (connURL, stream string) {
	base, query, hasQuery := strings.Cut(url, "?")
	scheme := "rtmp://"
	rest, ok := strings.CutPrefix(base, scheme)
	if !ok {
		scheme = "rtmpt://"
		if rest, ok = strings.CutPrefix(base, scheme); !ok {
			return url, ""
		}
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
	return scheme + rest[:slash+1] + path[:i], stream
}
