// Command loopback-floor measures what the kernel charges for sending bytes
// over loopback TCP, with no media server at all: N connections, each written
// SIZE bytes every PERIOD, read by a second process (itself, re-executed).
// It prints the writer's CPU seconds per GB: the floor under the server's
// figure in docs/benchmarks.md on the same machine.
//
//	go run ./cmd/loopback-floor -n 1000 -size 14000 -period 50ms -d 15s
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

func cpuTicks() float64 {
	b, _ := os.ReadFile("/proc/self/stat")
	f := strings.Fields(string(b)[strings.LastIndex(string(b), ")")+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}

func main() {
	n := flag.Int("n", 200, "connections")
	size := flag.Int("size", 14000, "bytes per write")
	period := flag.Duration("period", 50*time.Millisecond, "write period")
	dur := flag.Duration("d", 10*time.Second, "duration")
	read := flag.String("read", "", "reader mode: address")
	flag.Parse()
	if *read != "" {
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
	cmd := exec.Command(os.Args[0], "-read", l.Addr().String(), "-n", strconv.Itoa(*n))
	cmd.Start()
	conns := make([]net.Conn, *n)
	for i := range conns {
		conns[i], _ = l.Accept()
	}
	buf := make([]byte, *size)
	t0, c0 := time.Now(), cpuTicks()
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
	cpu := cpuTicks() - c0
	fmt.Printf("n=%d size=%d period=%v: %.1f MB/s, writer %.2f CPU s = %.2f CPU s per GB\n", *n, *size, *period,
		float64(total)/1e6/time.Since(t0).Seconds(), cpu, cpu/(float64(total)/1e9))
	cmd.Wait()
}
