// Package benchutil holds what the load tools (scopecast-bench,
// scopecast-chatbench and loopback-floor) share: the command's main, the rate
// flags, rounding, percentiles, the error tally and the report's output as
// text or JSON.
package benchutil

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Main runs a load tool's run with the command line, stdout and stderr,
// canceled by SIGINT or SIGTERM, and exits with status 2 if it fails (after
// printing the error, unless it is flag.ErrHelp). The tools keep little
// live memory: the collector runs less often, so that the server gets the CPU.
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, name+":", err)
		}
		os.Exit(2)
	}
}

// ParsePerSecond reads the value of a rate flag: "100/s", "100" or "0"; a
// negative, NaN or infinite rate is an error naming the flag.
func ParsePerSecond(flag, s string) (float64, error) {
	v := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s %q: want a number per second, e.g. 100/s", flag, s)
	}
	return f, nil
}

// Round rounds v to digits decimal places.
func Round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// Rank returns the q-th quantile (0 < q ≤ 1) of sorted by the nearest-rank
// method: the smallest value with at least q of the values at or below it.
// sorted must be sorted ascending and not empty.
func Rank[T int64 | float64](sorted []T, q float64) T {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// MS is d in milliseconds.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ErrorCount is one kind of connection error and how many clients had it.
type ErrorCount struct {
	Error string `json:"error"`
	Count int    `json:"count"`
}

// CountErrors lists the tally errs (error text → clients), the most
// frequent first, then by text. It is never nil (a JSON report shows []).
func CountErrors(errs map[string]int) []ErrorCount {
	out := make([]ErrorCount, 0, len(errs))
	for e, n := range errs {
		out = append(out, ErrorCount{e, n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Count > b.Count || a.Count == b.Count && a.Error < b.Error
	})
	return out
}

// WriteErrors prints errs for people after label ("errors:" and the
// report's padding): "none", or the ten most frequent kinds, one a line.
func WriteErrors(w io.Writer, label string, errs []ErrorCount) {
	if len(errs) == 0 {
		fmt.Fprintln(w, label+"none")
		return
	}
	fmt.Fprintln(w, strings.TrimSpace(label))
	for i, e := range errs {
		if i == 10 {
			fmt.Fprintf(w, "  … %d more kinds\n", len(errs)-10)
			break
		}
		fmt.Fprintf(w, "  %5d × %s\n", e.Count, e.Error)
	}
}

// Output writes rep to w as indented JSON, or as its WriteText prints it.
func Output(w io.Writer, asJSON bool, rep interface{ WriteText(io.Writer) }) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.WriteText(w)
	return nil
}
