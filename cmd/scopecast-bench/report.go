package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/scopecast/scopecast/cmd/internal/benchutil"
	"github.com/scopecast/scopecast/cmd/internal/procstat"
)

// Report is the result of a run. Durations are in milliseconds, rates in
// Mbit/s (10^6 bits), sizes in bytes unless the name says otherwise.
type Report struct {
	URL         string  `json:"url"`
	PlayerURL   string  `json:"player_url,omitempty"`
	SourceIPs   int     `json:"source_ips,omitempty"`
	Players     int     `json:"players"`
	DurationS   float64 `json:"duration_s"`
	Ramp        float64 `json:"ramp_per_s"`
	Interrupted bool    `json:"interrupted,omitempty"`
	FFmpeg      string  `json:"ffmpeg_command,omitempty"`

	Publisher *PublisherReport `json:"publisher,omitempty"`
	Reference *PublisherReport `json:"reference_player,omitempty"`

	Started      int `json:"started"`
	Connected    int `json:"connected"`
	Failed       int `json:"failed"`
	Disconnected int `json:"disconnected"`

	MediaBytes    uint64  `json:"media_bytes"`
	DeliveredMbps float64 `json:"delivered_mbps"`
	PerPlayerMbps float64 `json:"per_player_mbps"`

	Behind           int    `json:"behind"`
	Judged           int    `json:"judged"`
	BehindDefinition string `json:"behind_definition"`

	FirstFrame FirstFrameReport `json:"first_frame"`
	Gap        GapReport        `json:"frame_gap"`
	Latency    *LatencyReport   `json:"latency,omitempty"`

	Server *ServerReport          `json:"server,omitempty"`
	Errors []benchutil.ErrorCount `json:"errors"`
}

// PublisherReport describes the reference timeline: what the publisher sent.
type PublisherReport struct {
	Messages int     `json:"media_messages"`
	Bytes    uint64  `json:"media_bytes"`
	Mbps     float64 `json:"mbps"`
	Loops    int     `json:"loops,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// FirstFrameReport is the time from sending play to the first video frame.
type FirstFrameReport struct {
	Players   int     `json:"players"`
	Keyframes int     `json:"keyframes"`
	MedianMS  float64 `json:"median_ms"`
	P99MS     float64 `json:"p99_ms"`
	MaxMS     float64 `json:"max_ms"`
}

// GapReport is the arrival gap between consecutive video frames.
type GapReport struct {
	MedianOfMediansMS float64 `json:"median_of_player_medians_ms"`
	P99OfMaxMS        float64 `json:"p99_of_player_max_ms"`
	MaxMS             float64 `json:"max_ms"`
}

// LatencyReport is the delivery latency of live video frames: from the
// publisher's write of a frame to a player's receipt of it, over every
// frame published after the player's play, all players together (1 ms
// steps; frames of 4095 ms or more count as 4095).
type LatencyReport struct {
	Frames   uint64  `json:"frames"`
	MedianMS float64 `json:"median_ms"`
	P99MS    float64 `json:"p99_ms"`
	MaxMS    float64 `json:"max_ms"`
}

// latencyReport merges the players' histograms.
func latencyReport(ps []player) *LatencyReport {
	var h [latencyBuckets]uint64
	var n uint64
	for i := range ps {
		if ps[i].latency == nil || !ps[i].connected {
			continue
		}
		for ms, c := range ps[i].latency {
			h[ms] += uint64(c)
			n += uint64(c)
		}
	}
	if n == 0 {
		return nil
	}
	rank := func(q float64) float64 {
		want := uint64(math.Ceil(q * float64(n)))
		var acc uint64
		for ms, c := range h {
			acc += c
			if acc >= max(want, 1) {
				return float64(ms)
			}
		}
		return latencyBuckets - 1
	}
	return &LatencyReport{Frames: n, MedianMS: rank(0.5), P99MS: rank(0.99), MaxMS: rank(1)}
}

// ServerReport is the server process's cost, from /proc.
type ServerReport struct {
	PID            int     `json:"pid"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	CPUCores       float64 `json:"cpu_cores"`
	CPUSecondsPerG float64 `json:"cpu_seconds_per_gb"`
	RSSBeforeKB    uint64  `json:"rss_before_kb"`
	RSSAfterKB     uint64  `json:"rss_after_kb"`
	RSSPerPlayerKB float64 `json:"rss_per_player_kb"`
}

func (r *bench) report(start, end time.Time) *Report {
	secs := end.Sub(start).Seconds()
	rep := &Report{
		URL: r.cfg.URL, PlayerURL: r.cfg.PlayerURL, SourceIPs: len(r.cfg.SourceIPs),
		Players: r.cfg.Players, DurationS: benchutil.Round(secs, 3), Ramp: r.cfg.Ramp,
		FFmpeg: r.cfg.FFmpegLine, BehindDefinition: behindDefinition,
	}
	tl := &PublisherReport{Messages: r.refMsgs, Bytes: r.refBytes, Mbps: benchutil.Round(mbps(r.refBytes, secs), 3)}
	if r.cfg.NoPublish {
		rep.Reference = tl
		rep.BehindDefinition = behindDefinitionRef
		if r.refPlayer.err != nil {
			tl.Error = r.refPlayer.err.Error()
		}
	} else {
		tl.Loops = r.refLoops + 1
		if r.pubErr != nil {
			tl.Error = r.pubErr.Error()
		}
		rep.Publisher = tl
	}

	// The judged timestamp range ends 1 s before the last reference timestamp.
	var lastTS uint32
	for _, e := range r.ref {
		lastTS = max(lastTS, e.ts)
	}
	cut := int64(lastTS) - tailSlackMS

	errs := map[string]int{}
	var ttff, medians, maxGaps []float64
	var perPlayer float64
	for i := range r.players {
		p := &r.players[i]
		if !p.started {
			continue
		}
		rep.Started++
		if p.err != nil {
			errs[p.err.Error()]++
		}
		if !p.connected {
			rep.Failed++
			continue
		}
		rep.Connected++
		if p.dropped {
			rep.Disconnected++
		}
		rep.MediaBytes += p.bytes
		if d := end.Sub(p.joinedAt).Seconds(); d > 0 {
			perPlayer += mbps(p.bytes, d)
		}
		if !p.haveFirst {
			continue
		}
		rep.FirstFrame.Players++
		if p.firstKey {
			rep.FirstFrame.Keyframes++
		}
		ttff = append(ttff, benchutil.MS(p.firstAt.Sub(p.playSent)))
		if len(p.gaps) > 0 {
			slices.Sort(p.gaps)
			medians = append(medians, float64(p.gaps[len(p.gaps)/2])/1000)
			maxGaps = append(maxGaps, benchutil.MS(p.maxGap))
		}
		// Behind: bytes received vs bytes of the reference in the same range.
		span := cut - int64(p.firstTS)
		if span < minJudgedMS {
			continue
		}
		k := min(int(span/bucketMS), len(p.buckets))
		var got uint64
		for _, b := range p.buckets[:k] {
			got += uint64(b)
		}
		lo, hi := p.firstTS, p.firstTS+uint32(k*bucketMS)
		var want uint64
		for _, e := range r.ref {
			if e.ts >= lo && e.ts < hi {
				want += uint64(e.size)
			}
		}
		rep.Judged++
		if float64(got) < behindRatio*float64(want) {
			rep.Behind++
		}
	}
	rep.DeliveredMbps = benchutil.Round(mbps(rep.MediaBytes, secs), 3)
	if rep.Connected > 0 {
		rep.PerPlayerMbps = benchutil.Round(perPlayer/float64(rep.Connected), 3)
	}
	rep.FirstFrame.MedianMS, rep.FirstFrame.P99MS, rep.FirstFrame.MaxMS = quantiles(ttff)
	rep.Latency = latencyReport(r.players)
	rep.Gap.MedianOfMediansMS, _, _ = quantiles(medians)
	_, rep.Gap.P99OfMaxMS, rep.Gap.MaxMS = quantiles(maxGaps)
	rep.Errors = benchutil.CountErrors(errs)
	return rep
}

// quantiles returns the median, 99th percentile (nearest rank) and maximum.
func quantiles(v []float64) (med, p99, mx float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	slices.Sort(v)
	return benchutil.Round(benchutil.Rank(v, 0.5), 2), benchutil.Round(benchutil.Rank(v, 0.99), 2), benchutil.Round(v[len(v)-1], 2)
}

func mbps(bytes uint64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(bytes) * 8 / secs / 1e6
}

func (rep *Report) addServer(pid int, before, after procstat.Sample) {
	s := &ServerReport{PID: pid, RSSBeforeKB: before.RSSKB, RSSAfterKB: after.RSSKB}
	cpu := after.CPU - before.CPU
	s.CPUSeconds = benchutil.Round(cpu, 2)
	if d := after.At.Sub(before.At).Seconds(); d > 0 {
		s.CPUCores = benchutil.Round(cpu/d, 3)
	}
	if rep.MediaBytes > 0 {
		s.CPUSecondsPerG = benchutil.Round(cpu/(float64(rep.MediaBytes)/1e9), 2)
	}
	if rep.Connected > 0 {
		s.RSSPerPlayerKB = benchutil.Round((float64(after.RSSKB)-float64(before.RSSKB))/float64(rep.Connected), 1)
	}
	rep.Server = s
}

// WriteText prints the report for people.
func (rep *Report) WriteText(w io.Writer) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }
	ramp := "all at once"
	if rep.Ramp > 0 {
		ramp = fmt.Sprintf("ramp %g/s", rep.Ramp)
	}
	p("scopecast-bench %s: %d players, %.1f s, %s", rep.URL, rep.Players, rep.DurationS, ramp)
	if rep.PlayerURL != "" {
		p("players play   %s", rep.PlayerURL)
	}
	if rep.SourceIPs > 0 {
		p("players dial from %d local addresses in turn", rep.SourceIPs)
	}
	if rep.Interrupted {
		p("INTERRUPTED before the end of the run")
	}
	if rep.FFmpeg != "" {
		p("source generated with: %s", rep.FFmpeg)
	}
	if t := rep.Publisher; t != nil {
		p("publisher:     %d media messages, %.2f MB, %.3f Mbit/s, %d loop(s) of the file", t.Messages, float64(t.Bytes)/1e6, t.Mbps, t.Loops)
		if t.Error != "" {
			p("publisher error: %s", t.Error)
		}
	}
	if t := rep.Reference; t != nil {
		p("reference:     %d media messages, %.2f MB, %.3f Mbit/s (extra player; -no-publish)", t.Messages, float64(t.Bytes)/1e6, t.Mbps)
	}
	p("players:       %d started, %d connected, %d failed, %d disconnected early", rep.Started, rep.Connected, rep.Failed, rep.Disconnected)
	p("delivered:     %.3f Mbit/s total, %.3f Mbit/s per player (audio+video payload)", rep.DeliveredMbps, rep.PerPlayerMbps)
	p("behind:        %d of %d judged players", rep.Behind, rep.Judged)
	p("               (%s)", rep.BehindDefinition)
	ff := rep.FirstFrame
	p("first frame:   %d of %d players got video, %d of them a keyframe first", ff.Players, rep.Connected, ff.Keyframes)
	p("               play → first video frame: median %.1f ms, p99 %.1f ms, max %.1f ms", ff.MedianMS, ff.P99MS, ff.MaxMS)
	p("frame gaps:    median of per-player medians %.1f ms; per-player max: p99 %.1f ms, max %.1f ms",
		rep.Gap.MedianOfMediansMS, rep.Gap.P99OfMaxMS, rep.Gap.MaxMS)
	if l := rep.Latency; l != nil {
		p("latency:       publisher write → player receipt of live video frames: median %.0f ms, p99 %.0f ms, max %.0f ms (%d frames)",
			l.MedianMS, l.P99MS, l.MaxMS, l.Frames)
	}
	if s := rep.Server; s != nil {
		p("server pid %d: %.2f CPU s (%.2f cores), %.2f CPU s per GB delivered", s.PID, s.CPUSeconds, s.CPUCores, s.CPUSecondsPerG)
		p("               RSS %.1f MB before, %.1f MB after, %.1f KB per connected player",
			float64(s.RSSBeforeKB)/1024, float64(s.RSSAfterKB)/1024, s.RSSPerPlayerKB)
	}
	benchutil.WriteErrors(bw, "errors:        ", rep.Errors)
}
