package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Validate checks every value: listen addresses, durations, log level and
// format, the recording name template, application names, keys, CIDRs and
// hook URLs, and that the RTMPS certificate and key files exist. All
// problems are reported (errors.Join of *Error values).
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	addr := func(key, v string, optional bool) {
		if v == "" {
			if !optional {
				bad(key, "is empty (give host:port, e.g. \":1935\")")
			}
			return
		}
		if msg := checkAddr(v); msg != "" {
			bad(key, "%q %s", v, msg)
		}
	}
	addr("rtmp.listen", c.RTMP.Listen, false)
	addr("rtmps.listen", c.RTMPS.Listen, true)
	addr("http.listen", c.HTTP.Listen, true)
	addr("admin.listen", c.Admin.Listen, true)
	for _, l := range []struct {
		key  string
		list []string
	}{{"http.flv_allowed_origins", c.HTTP.FLVAllowedOrigins}, {"http.ws_allowed_origins", c.HTTP.WSAllowedOrigins}} {
		for i, o := range l.list {
			if msg := checkOrigin(o); msg != "" {
				bad(fmt.Sprintf("%s[%d]", l.key, i), "%q %s", o, msg)
			}
		}
	}
	if c.RTMPS.Listen != "" {
		for _, f := range []struct{ key, v string }{{"rtmps.cert", c.RTMPS.Cert}, {"rtmps.key", c.RTMPS.Key}} {
			if f.v == "" {
				bad(f.key, "is empty but rtmps.listen is set")
			} else if st, err := os.Stat(f.v); err != nil {
				bad(f.key, "%q cannot be read: %v", f.v, errors.Unwrap(err))
			} else if st.IsDir() {
				bad(f.key, "%q is a directory", f.v)
			}
		}
	}
	if c.DataDir == "" {
		bad("data_dir", "is empty")
	}
	if c.RecordName == "" {
		bad("record_name", "is empty")
	} else if strings.ContainsAny(c.RecordName, "/\\") || strings.Contains(c.RecordName, "..") || hasControl(c.RecordName) {
		bad("record_name", "%q must be a file name (no \"/\", \"\\\", \"..\" or control characters)", c.RecordName)
	}
	if c.SharedObjects.MergeWindow > time.Second {
		bad("shared_objects.merge_window", "%q is more than 1s: chat messages would wait that long", c.SharedObjects.MergeWindow.String())
	}
	if c.ShutdownGrace <= 0 {
		bad("shutdown_grace", "%q must be more than 0", c.ShutdownGrace.String())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Log.Level)); err != nil {
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	h := c.Auth.Hooks
	hookURLs("auth.hooks", [5]string{h.OnConnect, h.OnPublish, h.OnPlay, h.OnUnpublish, h.OnRecordDone}, bad)
	if h.Timeout <= 0 {
		bad("auth.hooks.timeout", "%q must be more than 0", h.Timeout.String())
	}
	if h.Queue <= 0 {
		bad("auth.hooks.queue", "%d must be more than 0", h.Queue)
	}
	for _, app := range slices.Sorted(maps.Keys(c.Auth.Apps)) {
		a := c.Auth.Apps[app]
		p := "auth.apps." + app
		if !validAppName(app) {
			bad(p, "%q is not an application name (letters, digits, \"_\" and \"-\")", app)
		}
		for _, r := range []struct {
			name string
			rule Rule
		}{{"connect", a.Connect}, {"publish", a.Publish}, {"play", a.Play}} {
			rp := p + "." + r.name
			for i, k := range r.rule.Keys {
				if k == "" || strings.TrimSpace(k) != k || hasControl(k) {
					bad(fmt.Sprintf("%s.keys[%d]", rp, i), "%q is empty or has spaces or control characters", k)
				}
			}
			for _, l := range []struct {
				name string
				list []string
			}{{"allow", r.rule.Allow}, {"deny", r.rule.Deny}} {
				for i, s := range l.list {
					if _, err := ParsePrefix(s); err != nil {
						bad(fmt.Sprintf("%s.%s[%d]", rp, l.name, i), "%q is not a CIDR (e.g. 10.0.0.0/8) or an IP address", s)
					}
				}
			}
		}
		ah := a.Hooks
		hookURLs(p+".hooks", [5]string{ah.OnConnect, ah.OnPublish, ah.OnPlay, ah.OnUnpublish, ah.OnRecordDone}, bad)
		if ah.Timeout < 0 {
			bad(p+".hooks.timeout", "%q must not be negative (0: the global timeout)", ah.Timeout.String())
		}
	}
	return errors.Join(errs...)
}

var hookNames = [5]string{"on_connect", "on_publish", "on_play", "on_unpublish", "on_record_done"}

func hookURLs(prefix string, urls [5]string, bad func(key, format string, args ...any)) {
	for i, u := range urls {
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad(prefix+"."+hookNames[i], "%q is not an http:// or https:// URL", u)
		}
	}
}

// ParsePrefix parses a CIDR ("10.0.0.0/8") or a single address ("10.1.2.3",
// "::1") as a prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w: %q is not a CIDR", ErrInvalid, s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %q is not an IP address", ErrInvalid, s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkAddr checks a host:port listen address; it returns the problem or "".
func checkAddr(v string) string {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "is not host:port (e.g. \":1935\", \"127.0.0.1:1935\")"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "has no valid port (0 to 65535)"
	}
	if host == "" {
		return ""
	}
	if strings.Trim(host, "0123456789.") == "" || strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return "has a host that is not an IP address"
		}
		return ""
	}
	return checkHostName(host)
}

// checkOrigin checks an allowed-origin entry: "*", an origin
// ("https://example.com", "http://example.com:8080") or a host with an
// optional port ("example.com", "example.com:8443", "[::1]:8080"). It
// returns the problem or "".
func checkOrigin(s string) string {
	if s == "*" {
		return ""
	}
	if s == "" || len(s) > 255 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r >= unicode.MaxASCII }) {
		return "is empty, too long, or has spaces or non-ASCII characters"
	}
	if strings.Contains(s, "*") {
		return "has a wildcard: only \"*\" alone (any origin) is understood"
	}
	host := s
	scheme, rest, full := strings.Cut(s, "://")
	if full {
		if scheme != "http" && scheme != "https" {
			return "is not an http:// or https:// origin"
		}
		host = strings.TrimSuffix(rest, "/")
	}
	if strings.ContainsAny(host, "/?#@\\") {
		return "is not an origin (scheme://host[:port]) nor a host[:port]: no path, query or user"
	}
	name, port := host, ""
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		name = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		var err error
		if name, port, err = net.SplitHostPort(host); err != nil {
			return "is not host[:port] (IPv6 addresses in brackets: [::1]:8080)"
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "has no valid port (1 to 65535)"
		}
	}
	if full && (scheme == "http" && port == "80" || scheme == "https" && port == "443") {
		return "names the default port, which browsers leave out of the Origin: it would never match"
	}
	if name == "" {
		return "has no host"
	}
	if a, err := netip.ParseAddr(name); err == nil {
		if a.Zone() != "" || a.Is6() != strings.HasPrefix(host, "[") {
			return "has an IP address that is not written as browsers do (IPv6 in brackets, no zone)"
		}
		return ""
	}
	if strings.Trim(name, "0123456789.") == "" || strings.Contains(name, ":") {
		return "has a host that is not an IP address"
	}
	return checkHostName(name)
}

// checkHostName checks that a host that is not an IP address is made of
// ASCII letters, digits, "-" and "."; it returns the problem or "".
func checkHostName(name string) string {
	for _, r := range name {
		if !(r == '-' || r == '.' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return "has a host that is neither an IP address nor a host name"
		}
	}
	return ""
}

func validAppName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
