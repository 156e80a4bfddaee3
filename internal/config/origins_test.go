package config

import (
	"strings"
	"testing"
)

func TestCheckOrigin(t *testing.T) {
	for s, ok := range map[string]bool{
		"*": true, "https://example.com": true, "http://example.com:8080": true, "https://example.com/": true,
		"example.com": true, "Example.COM:8443": true, "localhost:3000": true, "127.0.0.1": true,
		"[::1]": true, "[::1]:8080": true, "http://[::1]:8080": true, "http://127.0.0.1:5080": true,
		"": false, " example.com": false, "example.com/": false, "https://example.com/path": false,
		"https://example.com?x": false, "https://user@example.com": false, "ftp://example.com": false,
		"ws://example.com": false, "*.example.com": false, "https://*": false, "https://example.com:443": false,
		"http://example.com:80": false, "example.com:0": false, "example.com:65536": false,
		"example.com:08": false, "example.com:": false, "::1": false, "[127.0.0.1]": false,
		"256.1.1.1": false, "exa_mple.com": false, "https://": false, "[fe80::1%eth0]": false,
		"exämple.com": false, "https://example.com:x": false,
	} {
		if msg := checkOrigin(s); (msg == "") != ok {
			t.Errorf("checkOrigin(%q) = %q, want ok=%v", s, msg, ok)
		}
	}
}

// A bad entry is named by its key and index, with where it came from.
func TestOriginErrors(t *testing.T) {
	file := writeFile(t, "http:\n  flv_allowed_origins:\n    - https://ok.example\n    - https://ok.example/live\n")
	_, err := Load(Sources{File: file, Env: []string{"SCOPECAST_HTTP_WS_ALLOWED_ORIGINS=localhost:3000,*.example.com"}})
	for _, want := range []string{
		`config: http.flv_allowed_origins[1]: "https://ok.example/live" is not an origin (scheme://host[:port]) nor a host[:port]: no path, query or user (` + file + ` line 4)`,
		`config: http.ws_allowed_origins[1]: "*.example.com" has a wildcard: only "*" alone (any origin) is understood (SCOPECAST_HTTP_WS_ALLOWED_ORIGINS)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if err != nil && strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("good entries reported:\n%v", err)
	}
}

func TestCloneOrigins(t *testing.T) {
	a := Default()
	a.Set("http.flv_allowed_origins", "a.example,b.example")
	b := a.Clone()
	b.HTTP.FLVAllowedOrigins[0] = "c.example"
	if a.HTTP.FLVAllowedOrigins[0] != "a.example" {
		t.Fatal("clone shares the origin list")
	}
	if d := Diff(a, b); len(d) != 1 || d[0] != "http.flv_allowed_origins" {
		t.Errorf("Diff = %v", d)
	}
}
