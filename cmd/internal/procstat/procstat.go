// Package procstat reads what the load tools report about a process and the
// machine from Linux's /proc: CPU seconds, resident memory, load average and
// the CPU time every process used.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is USER_HZ, the unit of /proc times (100 on Linux).
const ClockTicks = 100

// Sample is a reading of /proc/PID.
type Sample struct {
	CPU   float64 // utime + stime, seconds
	RSSKB uint64  // VmRSS
	At    time.Time
}

// Read samples process pid (0: this process).
func Read(pid int) (Sample, error) {
	s := Sample{At: time.Now()}
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	if s.CPU, err = ParseStat(stat); err != nil {
		return s, fmt.Errorf("%s/stat: %w", dir, err)
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, err
	}
	if s.RSSKB, err = ParseRSS(status); err != nil {
		return s, fmt.Errorf("%s/status: %w", dir, err)
	}
	return s, nil
}

// ParseStat returns utime+stime in seconds from a /proc/PID/stat line. The
// command name in parentheses may hold spaces, so fields count from the last ')'.
func ParseStat(b []byte) (float64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no ')' in stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // f[0] is field 3 (state); utime is field 14, stime 15
		return 0, errors.New("short stat line")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad utime/stime %q %q", f[11], f[12])
	}
	return float64(u+st) / ClockTicks, nil
}

// ParseRSS returns VmRSS in kB from /proc/PID/status.
func ParseRSS(b []byte) (uint64, error) {
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseUint(v, 10, 64)
		}
	}
	return 0, errors.New("no VmRSS line")
}

// LoadAvg returns the first three fields of /proc/loadavg ("" if unreadable).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// CPUBusy returns the CPU time all processes used so far (user, nice,
// system, irq, softirq, steal of every core), in seconds, from /proc/stat.
func CPUBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		v, _ := strconv.ParseUint(f[i], 10, 64)
		ticks += v
	}
	return float64(ticks) / ClockTicks
}
