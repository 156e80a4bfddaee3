// Command scopecast-chatbench is the chat load benchmark of scopecast's
// WebSocket bridge: it opens many WebSocket clients and a few RTMP
// shared-object clients in one chat room, sends chat messages at a fixed rate
// from random clients of both kinds, and measures at every client the
// delivery of every message (exactly once: losses and duplicates counted
// apart) and its latency, plus, given the server's pid, the server's CPU and
// memory.
//
//	scopecast-chatbench -ws ws://127.0.0.1:5080/chat/bench -rtmp rtmp://127.0.0.1:1935/chat/bench \
//	    -ws-clients 1000 -rtmp-clients 10 -rate 100/s -duration 30s [-pid PID] [-json]
//
// Every message carries its id and its send time (monotonic nanoseconds since
// the tool started) in its text; senders and receivers are in this process,
// so latency is arrival − send on one clock. See docs/chat-bench.md.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/scopecast/scopecast/cmd/internal/benchutil"
)

func main() { benchutil.Main("scopecast-chatbench", run) }

// run parses args, runs the benchmark and writes the report to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scopecast-chatbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	var rate, ramp string
	var asJSON bool
	var cpuProfile string
	fs.StringVar(&cfg.WSURL, "ws", "ws://127.0.0.1:5080/chat/bench", "WebSocket URL of the room: ws://host:port/app/room…")
	fs.StringVar(&cfg.RTMPURL, "rtmp", "rtmp://127.0.0.1:1935/chat/bench", "RTMP URL of the same room: rtmp://host:port/app/room…")
	fs.StringVar(&cfg.SO, "so", "chat", "shared object the clients join (the bridge's default is chat)")
	fs.StringVar(&cfg.Origin, "origin", "", "Origin header of the WebSocket clients (default http://<host:port of -ws>)")
	fs.IntVar(&cfg.WSClients, "ws-clients", 1000, "WebSocket clients")
	fs.IntVar(&cfg.RTMPClients, "rtmp-clients", 10, "RTMP clients")
	fs.StringVar(&rate, "rate", "100/s", "messages per second, all senders together")
	fs.Float64Var(&cfg.RTMPShare, "rtmp-share", 0.1, "share of the messages sent by RTMP clients (the rest by WebSocket clients)")
	fs.IntVar(&cfg.Writers, "writers", 0, "clients that send, chosen at random at the start (0: any client may send each message)")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "length of the sending phase (joins not included)")
	fs.StringVar(&ramp, "ramp", "200/s", "clients opened per second (0: as fast as they join, 64 at a time)")
	fs.DurationVar(&cfg.Settle, "settle", 500*time.Millisecond, "after the joins, start sending once no client received anything for this long")
	fs.DurationVar(&cfg.SettleMax, "settle-max", 60*time.Second, "… or after this long at most")
	fs.DurationVar(&cfg.Drain, "drain", 5*time.Second, "after the last send, wait at most this long for missing deliveries")
	fs.DurationVar(&cfg.Timeout, "timeout", 20*time.Second, "per-client dial and join timeout")
	fs.StringVar(&cfg.Mode, "mode", ModeChat, "message path: chat (the chat attribute \"message\", as the page does) or send (SharedObject send)")
	fs.IntVar(&cfg.PID, "pid", 0, "server process id: report its CPU and RSS from /proc")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed for the choice of senders (0: from the clock)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write the tool's own CPU profile (whole run) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.Rate, err = benchutil.ParsePerSecond("-rate", rate); err != nil {
		return err
	}
	if cfg.Rate == 0 {
		return errors.New("-rate: want more than 0 messages per second")
	}
	if cfg.Ramp, err = benchutil.ParsePerSecond("-ramp", ramp); err != nil {
		return err
	}
	if cfg.WSClients < 0 || cfg.RTMPClients < 0 {
		return errors.New("-ws-clients and -rtmp-clients: want 0 or more")
	}
	if cfg.Writers < 0 {
		return errors.New("-writers: want 0 or more")
	}
	if cfg.RTMPShare < 0 || cfg.RTMPShare > 1 {
		return fmt.Errorf("-rtmp-share %g: want 0..1", cfg.RTMPShare)
	}
	if cfg.Duration <= 0 {
		return errors.New("-duration: want more than 0")
	}
	if n := cfg.Rate * cfg.Duration.Seconds(); n > 10_000_000 {
		return fmt.Errorf("-rate × -duration = %g messages: at most 10 million", n)
	}
	if cfg.WSClients > 0 && !strings.HasPrefix(cfg.WSURL, "ws://") && !strings.HasPrefix(cfg.WSURL, "wss://") {
		return fmt.Errorf("-ws %q: want ws://host:port/app/room…", cfg.WSURL)
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := Run(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	return benchutil.Output(stdout, asJSON, rep)
}

// Report is the result of a run. Latencies are in milliseconds.
type Report struct {
	Config     Config   `json:"config"`
	LoadBefore string   `json:"loadavg_before"`
	LoadAfter  string   `json:"loadavg_after"`
	Join       JoinInfo `json:"join"`
	Run        RunInfo  `json:"run"`

	Deliveries Deliveries    `json:"deliveries"`
	Latency    LatencyReport `json:"latency"`
	// LastReceiver is, per message that every receiver got, the time from
	// its send to its delivery at the last receiver (the slowest of all):
	// the shared-object target's measure.
	LastReceiver LatencyReport `json:"latency_to_last_receiver"`
	// FirstReceiver is the same to the first receiver: what the server's
	// own queueing adds before anyone gets the message (LastReceiver −
	// FirstReceiver is the fan-out's spread plus the clients' reading).
	FirstReceiver LatencyReport `json:"latency_to_first_receiver"`
	// SocketLastReceiver and SocketFirstReceiver are LastReceiver and
	// FirstReceiver measured to the receiver's socket instead of to the
	// tool's read: the kernel's receive timestamp (SO_TIMESTAMPNS) of the
	// read that completed the message, against the wall clock at its send.
	// They leave out the time this tool, beside the server on the same
	// CPUs, takes to get round to reading its sockets; a client on a
	// machine of its own reads at once. Messages for which some receiver's
	// read had no timestamp are left out (all of them off Linux).
	SocketLastReceiver  LatencyReport `json:"socket_latency_to_last_receiver"`
	SocketFirstReceiver LatencyReport `json:"socket_latency_to_first_receiver"`
	// ByPath splits the latencies by sender → receiver kind: ws→ws, ws→rtmp,
	// rtmp→ws, rtmp→rtmp.
	ByPath map[string]LatencyReport `json:"latency_by_path"`

	Server *ServerReport `json:"server,omitempty"`
	Tool   ToolReport    `json:"tool"`
	// OthersCores is the CPU the rest of the machine (neither the server nor
	// the tool) used while sending and draining, in cores: other load that
	// competed for the same CPUs. Without -pid it includes the server.
	OthersCores float64                `json:"others_cores"`
	Errors      []benchutil.ErrorCount `json:"errors"`
}

// JoinInfo is the join phase: every client connects and joins the object;
// the chat app's presence rewrites "users" for everyone at each join.
type JoinInfo struct {
	ConnectS   float64 `json:"connect_s"`     // until every client joined
	SettleS    float64 `json:"settle_s"`      // then until the traffic stopped
	Bytes      int64   `json:"bytes"`         // received by all clients (mostly presence)
	ServerCPUS float64 `json:"server_cpu_s"`  // server CPU over connect + settle
	ToolCPUS   float64 `json:"tool_cpu_s"`    // the tool's CPU over connect + settle
	Dropped    int     `json:"dropped_peers"` // clients the server closed before sending began
}

// RunInfo is the sending phase.
type RunInfo struct {
	Sent        int     `json:"sent"`
	SentWS      int     `json:"sent_ws"`
	SentRTMP    int     `json:"sent_rtmp"`
	Writers     int     `json:"writers"`          // distinct clients that sent
	SendS       float64 `json:"send_s"`           // first to last send
	RateAchived float64 `json:"rate_per_s"`       // sent / send_s
	MaxLateMS   float64 `json:"max_send_late_ms"` // worst lateness of a send against its schedule
	DrainS      float64 `json:"drain_s"`          // last send → every delivery in (or the drain limit)
	Complete    bool    `json:"complete"`         // every expected delivery arrived before the drain limit
	BytesIn     int64   `json:"bytes_in"`         // bytes received by all clients while sending and draining
}

// Deliveries counts deliveries: every message is expected once at every
// client other than its sender that was connected when sending began.
type Deliveries struct {
	Expected   int64 `json:"expected"`
	Received   int64 `json:"received"`   // distinct (message, receiver) pairs
	Lost       int64 `json:"lost"`       // expected − received
	Duplicates int64 `json:"duplicates"` // extra copies of a message at one receiver
	Echoes     int64 `json:"echoes"`     // senders that received their own message
	Stray      int64 `json:"stray"`      // unparsable markers or shared-object messages
	Acks       int64 `json:"acks"`       // acknowledgements senders got (ack frame / success event)
	AcksWanted int64 `json:"acks_expected"`
	ErrFrames  int64 `json:"error_frames"` // error frames / status events
	// ReceiversShort is the number of receivers that missed at least one message.
	ReceiversShort int `json:"receivers_short"`
	// Disconnected: clients whose connection ended during the run.
	Disconnected int `json:"disconnected"`
}

// LatencyReport is the distribution of arrival − send over all deliveries.
type LatencyReport struct {
	N     int     `json:"n"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
	Worst float64 `json:"worst_second_p99_ms"` // p99 of the worst second of sending (whole report only)
}

// ServerReport is the server's cost over the sending phase (send + drain), from /proc.
type ServerReport struct {
	PID            int     `json:"pid"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	CPUCores       float64 `json:"cpu_cores"`
	RSSStartKB     uint64  `json:"rss_start_kb"`
	RSSJoinedKB    uint64  `json:"rss_joined_kb"`
	RSSEndKB       uint64  `json:"rss_end_kb"`
	RSSPerClientKB float64 `json:"rss_per_client_kb"` // (joined − start) / clients
}

// ToolReport is this process's cost over the sending phase.
type ToolReport struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUCores   float64 `json:"cpu_cores"`
	RSSKB      uint64  `json:"rss_kb"`
}

func (b *bench) report(rep *Report, sendStart, sendEnd, runEnd time.Time, complete bool, late time.Duration) {
	sent := int(b.nSent.Load())
	var msgs []int
	writers := map[int32]bool{}
	for id := range sent {
		if b.sendNs[id] >= 0 {
			msgs = append(msgs, id)
			writers[b.senders[id]] = true
			if b.peers[b.senders[id]].kind == kindWS {
				rep.Run.SentWS++
			} else {
				rep.Run.SentRTMP++
			}
		}
	}
	rep.Run.Sent = len(msgs)
	rep.Run.Writers = len(writers)
	if len(msgs) > 1 {
		span := float64(b.sendNs[msgs[len(msgs)-1]]-b.sendNs[msgs[0]]) / 1e9
		rep.Run.SendS = benchutil.Round(span, 3)
		if span > 0 {
			rep.Run.RateAchived = benchutil.Round(float64(len(msgs)-1)/span, 2)
		}
	}
	rep.Run.MaxLateMS = benchutil.Round(benchutil.MS(late), 2)
	rep.Run.DrainS = benchutil.Round(runEnd.Sub(sendEnd).Seconds(), 3)
	rep.Run.Complete = complete

	d := &rep.Deliveries
	errs := map[string]int{}
	byPath := map[string][]int64{}
	var all []int64
	var secs [][]int64 // latencies by second of sending
	// Per message, its first and last arrival: at the tool's read, and to
	// the socket (kernel receive timestamps).
	read, sock := newSpread(sent), newSpread(sent)
	firstNs := int64(0)
	if len(msgs) > 0 {
		firstNs = b.sendNs[msgs[0]]
	}
	kind := [2]string{"ws", "rtmp"}
	for _, p := range b.peers {
		if p.err != nil {
			d.Disconnected++
			errs[p.err.Error()]++
		}
		d.Duplicates += int64(p.dups)
		d.Echoes += int64(p.echoes)
		d.Stray += int64(p.stray)
		d.Acks += int64(p.acks)
		d.ErrFrames += int64(p.errFrames)
		if b.cfg.Mode == ModeChat || p.kind == kindWS {
			d.AcksWanted += int64(p.sent)
		}
		short := false
		for _, id := range msgs {
			from := b.peers[b.senders[id]]
			if from == p {
				continue
			}
			d.Expected++
			sl := b.slot(id, p)
			lat := sl.lat
			read.add(id, lat)
			if lat == 0 {
				short = true
				continue
			}
			sock.add(id, sl.klat)
			d.Received++
			all = append(all, lat)
			path := kind[from.kind] + "→" + kind[p.kind]
			byPath[path] = append(byPath[path], lat)
			s := int((b.sendNs[id] - firstNs) / int64(time.Second))
			for len(secs) <= s {
				secs = append(secs, nil)
			}
			secs[s] = append(secs[s], lat)
		}
		if short {
			d.ReceiversShort++
		}
	}
	d.Lost = d.Expected - d.Received
	rep.Latency = latencies(all)
	var lasts, firsts, klasts, kfirsts []int64
	for _, id := range msgs {
		if first, last, ok := read.get(id); ok {
			lasts, firsts = append(lasts, last), append(firsts, first)
			if first, last, ok := sock.get(id); ok {
				klasts, kfirsts = append(klasts, last), append(kfirsts, first)
			}
		}
	}
	rep.LastReceiver = latencies(lasts)
	rep.FirstReceiver = latencies(firsts)
	rep.SocketLastReceiver = latencies(klasts)
	rep.SocketFirstReceiver = latencies(kfirsts)
	for _, s := range secs {
		if len(s) > 0 {
			rep.Latency.Worst = max(rep.Latency.Worst, latencies(s).P99)
		}
	}
	rep.ByPath = map[string]LatencyReport{}
	for k, v := range byPath {
		rep.ByPath[k] = latencies(v)
	}
	rep.Errors = benchutil.CountErrors(errs)
}

// spread is, per message, the earliest and latest of its arrivals at the
// receivers, and whether some receiver had none.
type spread struct {
	first, last []int64
	missed      []bool
}

func newSpread(n int) *spread {
	return &spread{first: make([]int64, n), last: make([]int64, n), missed: make([]bool, n)}
}

// add takes message id's latency v at one receiver (0: none).
func (s *spread) add(id int, v int64) {
	if v == 0 {
		s.missed[id] = true
		return
	}
	s.last[id] = max(s.last[id], v)
	if s.first[id] == 0 || v < s.first[id] {
		s.first[id] = v
	}
}

// get returns message id's first and last arrival; ok is false when a
// receiver had none, or no receiver had it.
func (s *spread) get(id int) (first, last int64, ok bool) {
	return s.first[id], s.last[id], !s.missed[id] && s.last[id] > 0
}

// latencies sorts v (nanoseconds) and returns its distribution.
func latencies(v []int64) LatencyReport {
	if len(v) == 0 {
		return LatencyReport{}
	}
	slices.Sort(v)
	rank := func(q float64) float64 { return benchutil.Round(float64(benchutil.Rank(v, q))/1e6, 3) }
	var sum float64
	for _, x := range v {
		sum += float64(x)
	}
	return LatencyReport{
		N: len(v), P50: rank(0.5), P90: rank(0.9), P99: rank(0.99), P999: rank(0.999),
		Max: benchutil.Round(float64(v[len(v)-1])/1e6, 3), Mean: benchutil.Round(sum/float64(len(v))/1e6, 3),
	}
}

// WriteText prints the report for people.
func (rep *Report) WriteText(w io.Writer) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	p := func(format string, args ...any) { fmt.Fprintf(bw, format+"\n", args...) }
	c := rep.Config
	p("scopecast-chatbench: %d WebSocket + %d RTMP clients, %g msg/s for %v, mode %s (RTMP share %g)",
		c.WSClients, c.RTMPClients, c.Rate, c.Duration, c.Mode, c.RTMPShare)
	p("  ws   %s", c.WSURL)
	p("  rtmp %s (so %q)", c.RTMPURL, c.SO)
	p("load average before: %s; after: %s", rep.LoadBefore, rep.LoadAfter)
	j := rep.Join
	p("join:        all joined in %.2f s, traffic quiet %.2f s later; %.1f MB received (presence), server %.2f CPU s, tool %.2f CPU s, %d dropped",
		j.ConnectS, j.SettleS, float64(j.Bytes)/1e6, j.ServerCPUS, j.ToolCPUS, j.Dropped)
	r := rep.Run
	p("sent:        %d messages (%d WebSocket, %d RTMP) from %d clients over %.2f s = %.2f msg/s; worst send lateness %.2f ms",
		r.Sent, r.SentWS, r.SentRTMP, r.Writers, r.SendS, r.RateAchived, r.MaxLateMS)
	complete := "all in"
	if !r.Complete {
		complete = "INCOMPLETE at the drain limit"
	}
	p("drain:       %.3f s after the last send (%s); %.1f MB received while sending", r.DrainS, complete, float64(r.BytesIn)/1e6)
	d := rep.Deliveries
	p("deliveries:  %d expected, %d received, %d lost, %d duplicates, %d echoes, %d stray; %d receivers short, %d disconnected",
		d.Expected, d.Received, d.Lost, d.Duplicates, d.Echoes, d.Stray, d.ReceiversShort, d.Disconnected)
	p("acks:        %d of %d expected; %d error frames", d.Acks, d.AcksWanted, d.ErrFrames)
	l := rep.Latency
	p("latency:     p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms, mean %.2f ms (worst second's p99 %.2f ms)",
		l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean, l.Worst)
	if l := rep.LastReceiver; l.N > 0 {
		p("last receiver: %d messages: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (send → delivery at the slowest receiver)",
			l.N, l.P50, l.P90, l.P99, l.Max)
		f := rep.FirstReceiver
		p("first receiver: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (send → delivery at the quickest receiver)",
			f.P50, f.P90, f.P99, f.Max)
	}
	if l := rep.SocketLastReceiver; l.N > 0 {
		f := rep.SocketFirstReceiver
		p("to the socket (kernel receive timestamps, %d messages): last receiver p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; first receiver p50 %.2f ms, p99 %.2f ms",
			l.N, l.P50, l.P90, l.P99, l.Max, f.P50, f.P99)
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range rep.ByPath {
			if !yield(k) {
				return
			}
		}
	}) {
		l := rep.ByPath[k]
		p("  %-10s %8d deliveries: p50 %.2f ms, p99 %.2f ms, max %.2f ms", k, l.N, l.P50, l.P99, l.Max)
	}
	if s := rep.Server; s != nil {
		p("server pid %d: %.2f CPU s while sending and draining (%.3f cores); RSS %.1f MB at start, %.1f MB joined (%.1f KB per client), %.1f MB at the end",
			s.PID, s.CPUSeconds, s.CPUCores, float64(s.RSSStartKB)/1024, float64(s.RSSJoinedKB)/1024, s.RSSPerClientKB, float64(s.RSSEndKB)/1024)
	}
	p("tool:        %.2f CPU s while sending and draining (%.3f cores), RSS %.1f MB", rep.Tool.CPUSeconds, rep.Tool.CPUCores, float64(rep.Tool.RSSKB)/1024)
	p("others:      %.3f cores used by other processes meanwhile (%d CPUs)", rep.OthersCores, runtime.NumCPU())
	benchutil.WriteErrors(bw, "errors:      ", rep.Errors)
}
