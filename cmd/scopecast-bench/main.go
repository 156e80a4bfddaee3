// Command scopecast-bench is scopecast's load tool: it publishes an FLV file
// to an RTMP server at real-time pace and opens many players of that stream,
// then reports delivery, start-up latency, frame gaps and, given the server's
// pid, the server's CPU and memory cost.
//
//	scopecast-bench -url rtmp://127.0.0.1:1935/live/bench -flv input.flv -players 1000 -duration 60s [-ramp 200/s] [-pid SERVERPID] [-no-publish] [-json]
//
// Without -flv it generates a test file with ffmpeg (-gen-bitrate, -gen-size,
// -gen-length) and prints the command it ran. See docs/bench-tool.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/scopecast/scopecast/rtmp/client"
)

func main() {
	// The tool allocates one payload per received message and keeps little
	// live: collect less often, so the server gets the CPU.
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "scopecast-bench:", err)
		}
		os.Exit(2)
	}
}

// run parses args, runs the benchmark and writes the report to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scopecast-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	var ramp, genBitrate, genSize string
	var genLength time.Duration
	var asJSON bool
	fs.StringVar(&cfg.URL, "url", "rtmp://127.0.0.1:1935/live/bench", "stream URL: rtmp://host[:port]/app[/room…]/stream")
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
	if cfg.Ramp, err = parseRamp(ramp); err != nil {
		return err
	}
	if cfg.Players < 0 {
		return fmt.Errorf("-players %d: want 0 or more", cfg.Players)
	}
	if _, name := client.SplitStreamURL(cfg.URL); name == "" {
		return fmt.Errorf("-url %q: want rtmp://host[:port]/app[/room…]/stream", cfg.URL)
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
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.WriteText(stdout)
	return nil
}

// parseRamp reads "200/s", "200" or "0".
func parseRamp(s string) (float64, error) {
	v := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f != f {
		return 0, fmt.Errorf("-ramp %q: want players per second, e.g. 200/s", s)
	}
	return f, nil
}
