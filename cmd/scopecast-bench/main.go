// Command scopecast-bench is scopecast's load tool: it publishes an FLV file
// to an RTMP server at real-time pace and opens many players of that stream,
// then reports delivery, start-up latency, frame gaps and, given the server's
// pid, the server's CPU and memory cost.
//
//	scopecast-bench -url rtmp://127.0.0.1:1935/live/bench -flv input.flv -players 1000 -duration 60s [-ramp 200/s] [-pid SERVERPID] [-no-publish] [-json]
//	scopecast-bench -url rtmp://127.0.0.1:1935/live/bench -player-url rtmpt://127.0.0.1:5080/live/bench -source-ips 127.0.0.2-127.0.0.20 …
//	scopecast-bench -url rtmp://127.0.0.1:1935/live/bench -player-url http://127.0.0.1:5080/live/bench.flv -players 500 …
//
// Publisher and players may use RTMP (rtmp://) or RTMP over HTTP (rtmpt://);
// players may also read HTTP-FLV (http://…/stream.flv) or WebSocket-FLV
// (ws://…/stream.flv).
//
// Without -flv it generates a test file with ffmpeg (-gen-bitrate, -gen-size,
// -gen-length) and prints the command it ran. See docs/bench-tool.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/scopecast/scopecast/cmd/internal/benchutil"
	"github.com/scopecast/scopecast/rtmp/client"
)

func main() { benchutil.Main("scopecast-bench", run) }

// run parses args, runs the benchmark and writes the report to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scopecast-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	var ramp, genBitrate, genSize string
	var genLength time.Duration
	var asJSON bool
	var sourceIPs string
	fs.StringVar(&cfg.URL, "url", "rtmp://127.0.0.1:1935/live/bench", "stream URL: rtmp[t]://host[:port]/app[/room…]/stream (rtmpt: RTMP over HTTP; give the port, e.g. 5080)")
	fs.StringVar(&cfg.PlayerURL, "player-url", "", "the players' URL of the same stream: rtmpt://… while the publisher uses rtmp://, or http://host:5080/app/stream.flv (HTTP-FLV), ws://host:5080/app/stream.flv (WebSocket-FLV) (default: -url)")
	fs.StringVar(&sourceIPs, "source-ips", "", "local IPs the players dial from, in turn: a list (127.0.0.2,127.0.0.3) or a range (127.0.0.2-127.0.0.20); servers limit RTMPT sessions per client IP")
	fs.StringVar(&cfg.FLV, "flv", "", "FLV file to publish (empty: generate one with ffmpeg)")
	fs.IntVar(&cfg.Players, "players", 100, "number of players")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "length of the run, ramp included")
	fs.StringVar(&ramp, "ramp", "0", "players started per second, e.g. 200/s (0: all at once)")
	fs.IntVar(&cfg.PID, "pid", 0, "server process id: report its CPU and RSS from /proc")
	fs.BoolVar(&cfg.NoPublish, "no-publish", false, "do not publish; play a stream published by someone else")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.DurationVar(&cfg.PlayTO, "timeout", defaultPlayTO, "per-player connect and play timeout")
	fs.StringVar(&genBitrate, "gen-bitrate", "2M", "video bitrate of the generated file (libx264 ultrafast, 1 s keyframe interval, AAC audio)")
	fs.StringVar(&genSize, "gen-size", "1280x720", "frame size of the generated file")
	fs.DurationVar(&genLength, "gen-length", 10*time.Second, "length of the generated file (it loops)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.Ramp, err = benchutil.ParsePerSecond("-ramp", ramp); err != nil {
		return err
	}
	if cfg.Players < 0 {
		return fmt.Errorf("-players %d: want 0 or more", cfg.Players)
	}
	if _, name := client.SplitStreamURL(cfg.URL); name == "" {
		return fmt.Errorf("-url %q: want rtmp[t]://host[:port]/app[/room…]/stream", cfg.URL)
	}
	if _, isFLV, err := parseFLVURL(cfg.PlayerURL); err != nil {
		return err
	} else if _, name := client.SplitStreamURL(cfg.PlayerURL); !isFLV && cfg.PlayerURL != "" && name == "" {
		return fmt.Errorf("-player-url %q: want rtmp[t]://host[:port]/app[/room…]/stream, http://host:port/app[/room…]/stream.flv or ws://…", cfg.PlayerURL)
	}
	if cfg.SourceIPs, err = parseSourceIPs(sourceIPs); err != nil {
		return err
	}
	if cfg.FLV == "" && !cfg.NoPublish {
		path, line, cleanup, err := generate(genBitrate, genSize, genLength)
		if line != "" {
			fmt.Fprintln(stderr, "scopecast-bench: generating the source:", line)
		}
		if err != nil {
			return err
		}
		defer cleanup()
		cfg.FLV, cfg.FFmpegLine = path, line
	}
	rep, err := Run(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	return benchutil.Output(stdout, asJSON, rep)
}

// maxSourceIPs bounds a -source-ips range.
const maxSourceIPs = 4096

// parseSourceIPs reads "" (none), "a,b,c" or "first-last" (IPv4, last
// octets counting up; at most maxSourceIPs addresses).
func parseSourceIPs(s string) ([]net.IP, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("-source-ips %q: %s; want a list (127.0.0.2,127.0.0.3) or a range (127.0.0.2-127.0.0.20)", s, why)
	}
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(first))
		b, err2 := netip.ParseAddr(strings.TrimSpace(last))
		if err1 != nil || err2 != nil || !a.Is4() || !b.Is4() || b.Less(a) {
			return nil, bad("not an IPv4 range")
		}
		var ips []net.IP
		for ip := a; ; ip = ip.Next() {
			if len(ips) == maxSourceIPs {
				return nil, bad(fmt.Sprintf("more than %d addresses", maxSourceIPs))
			}
			ips = append(ips, net.IP(ip.AsSlice()))
			if ip == b {
				return ips, nil
			}
		}
	}
	var ips []net.IP
	for _, f := range strings.Split(s, ",") {
		ip := net.ParseIP(strings.TrimSpace(f))
		if ip == nil {
			return nil, bad(fmt.Sprintf("%q is not an IP address", f))
		}
		if len(ips) == maxSourceIPs {
			return nil, bad(fmt.Sprintf("more than %d addresses", maxSourceIPs))
		}
		ips = append(ips, ip)
	}
	return ips, nil
}
