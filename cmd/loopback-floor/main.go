// Command loopback-floor measures what the kernel charges for sending bytes
// over loopback TCP, with no media server at all: N connections, each written
// SIZE bytes every PERIOD, read by a second process (itself, re-executed).
// It prints the writer's CPU seconds per GB: the floor under the server's
// figure in docs/benchmarks.md on the same machine.
//
//	go run ./cmd/loopback-floor -n 1000 -size 14000 -period 50ms -d 15s
//
// With -rounds it is the floor under the shared-object fan-out instead: every
// PERIOD the same SIZE bytes go to all N connections from -workers goroutines
// (a round), and the reader reports, per round, the time from the round's
// start to its delivery at the last connection, and both processes' CPU.
//
//	go run ./cmd/loopback-floor -rounds -n 1000 -size 350 -period 5ms -d 10s
//
// With -epoll as well, the reader takes its sockets off Go's poller and reads
// them from two epoll loops, one read per readiness (a goroutine per
// connection reads until EAGAIN: two reads per delivery): what a load tool
// would save with a hand-made event loop (Linux only).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/scopecast/scopecast/cmd/internal/benchutil"
	"github.com/scopecast/scopecast/cmd/internal/procstat"
)

// cpuSeconds is this process's CPU time so far (user + system).
func cpuSeconds() float64 {
	s, err := procstat.Read(0)
	if err != nil {
		panic(err)
	}
	return s.CPU
}

func main() {
	n := flag.Int("n", 200, "connections")
	size := flag.Int("size", 14000, "bytes per write")
	period := flag.Duration("period", 50*time.Millisecond, "write period")
	dur := flag.Duration("d", 10*time.Second, "duration")
	rounds := flag.Bool("rounds", false, "fan-out rounds: the same bytes to every connection each period, latency to the last")
	workers := flag.Int("workers", 2, "writer goroutines of a round (-rounds)")
	read := flag.String("read", "", "reader mode: address")
	useEpoll := flag.Bool("epoll", false, "reader (-rounds): two epoll loops, one read per readiness, instead of a goroutine per connection")
	flag.Parse()
	if *read != "" {
		if *rounds {
			readRounds(*read, *n, *useEpoll)
			return
		}
		var wg sync.WaitGroup
		for i := 0; i < *n; i++ {
			c, err := net.Dial("tcp", *read)
			if err != nil {
				panic(err)
			}
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(io.Discard, c) }()
		}
		wg.Wait()
		return
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	cmd := exec.Command(os.Args[0], "-read", l.Addr().String(), "-n", strconv.Itoa(*n), "-rounds="+strconv.FormatBool(*rounds), "-epoll="+strconv.FormatBool(*useEpoll))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Start()
	conns := make([]net.Conn, *n)
	for i := range conns {
		conns[i], _ = l.Accept()
	}
	if *rounds {
		writeRounds(conns, *size, *period, *dur, *workers)
		cmd.Wait()
		return
	}
	buf := make([]byte, *size)
	t0, c0 := time.Now(), cpuSeconds()
	var total int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk := time.NewTicker(*period)
			for time.Since(t0) < *dur {
				<-tk.C
				k, _ := c.Write(buf)
				mu.Lock()
				total += int64(k)
				mu.Unlock()
			}
			c.Close()
		}()
	}
	wg.Wait()
	cpu := cpuSeconds() - c0
	fmt.Printf("n=%d size=%d period=%v: %.1f MB/s, writer %.2f CPU s = %.2f CPU s per GB\n", *n, *size, *period,
		float64(total)/1e6/time.Since(t0).Seconds(), cpu, cpu/(float64(total)/1e9))
	cmd.Wait()
}

// writeRounds writes one round every period: a 12-byte header (the round's
// start, Unix ns, and the length) and padding, the same bytes to every conn.
func writeRounds(conns []net.Conn, size int, period, dur time.Duration, workers int) {
	time.Sleep(500 * time.Millisecond) // the reader's goroutines settle
	buf := make([]byte, max(size, 12))
	t0, c0 := time.Now(), cpuSeconds()
	tk := time.NewTicker(period)
	writes := 0
	for time.Since(t0) < dur {
		<-tk.C
		binary.BigEndian.PutUint64(buf, uint64(time.Now().UnixNano()))
		binary.BigEndian.PutUint32(buf[8:], uint32(len(buf)))
		var wg sync.WaitGroup
		for k := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := k; i < len(conns); i += workers {
					conns[i].Write(buf)
				}
			}()
		}
		wg.Wait()
		writes += len(conns)
	}
	el := time.Since(t0).Seconds()
	fmt.Printf("writer: %d conns, a round of %d bytes every %v from %d goroutines: %.0f writes/s, %.2f cores\n",
		len(conns), len(buf), period, workers, float64(writes)/el, (cpuSeconds()-c0)/el)
	for _, c := range conns {
		c.Close()
	}
}

// readRounds reads every conn and reports, per round, the latest arrival.
func readRounds(addr string, n int, useEpoll bool) {
	var mu sync.Mutex
	last := map[int64]int64{} // round start → latest arrival − start
	type rconn struct {
		buf  []byte
		have int
	}
	// consume takes k new bytes of rc and records the rounds they complete.
	consume := func(rc *rconn, k int) {
		now := time.Now().UnixNano()
		rc.have += k
		for rc.have >= 12 {
			start, ln := int64(binary.BigEndian.Uint64(rc.buf)), int(binary.BigEndian.Uint32(rc.buf[8:]))
			if rc.have < ln {
				break
			}
			mu.Lock()
			last[start] = max(last[start], now-start)
			mu.Unlock()
			rc.have = copy(rc.buf, rc.buf[ln:rc.have])
		}
	}
	var wg sync.WaitGroup
	t0, c0 := time.Now(), cpuSeconds()
	var eps [2]int
	if useEpoll {
		for i := range eps {
			var err error
			if eps[i], err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
				panic(err)
			}
		}
	}
	rcs := map[int]*rconn{}
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			panic(err)
		}
		rc := &rconn{buf: make([]byte, 1<<16)}
		if useEpoll {
			f, err := c.(*net.TCPConn).File()
			if err != nil {
				panic(err)
			}
			c.Close()
			fd := int(f.Fd())
			syscall.SetNonblock(fd, true)
			rcs[fd] = rc
			ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
			if err := syscall.EpollCtl(eps[i%2], syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
				panic(err)
			}
			defer f.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, err := c.Read(rc.buf[rc.have:])
				if err != nil {
					return
				}
				consume(rc, k)
			}
		}()
	}
	if useEpoll {
		var open atomic.Int64
		open.Store(int64(n))
		for _, ep := range eps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				evs := make([]syscall.EpollEvent, 128)
				for open.Load() > 0 {
					m, err := syscall.EpollWait(ep, evs, 100)
					if err != nil && err != syscall.EINTR {
						panic(err)
					}
					for _, ev := range evs[:max(m, 0)] {
						fd := int(ev.Fd)
						rc := rcs[fd]
						k, err := syscall.Read(fd, rc.buf[rc.have:])
						if err == syscall.EAGAIN {
							continue
						}
						if k <= 0 {
							syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, fd, nil)
							open.Add(-1)
							continue
						}
						consume(rc, k)
					}
				}
			}()
		}
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	var v []int64
	for _, l := range last {
		v = append(v, l)
	}
	if len(v) == 0 {
		return
	}
	slices.Sort(v)
	q := func(f float64) float64 { return float64(benchutil.Rank(v, f)) / 1e6 }
	fmt.Printf("reader: %.2f cores; %d rounds; round start → last connection's delivery: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		(cpuSeconds()-c0)/el, len(v), q(.5), q(.99), q(1))
}
