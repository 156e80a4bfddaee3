package procstat

import (
	"os"
	"testing"
)

func TestParse(t *testing.T) {
	stat := []byte("4242 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 300 25 0 0 20 0 1 0")
	if cpu, err := ParseStat(stat); err != nil || cpu != 3.25 {
		t.Errorf("ParseStat = %v, %v; want 3.25", cpu, err)
	}
	for _, bad := range []string{"no paren", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x y"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q): no error", bad)
		}
	}
	if rss, err := ParseRSS([]byte("Name:\tx\nVmPeak:\t  9 kB\nVmRSS:\t   51234 kB\n")); err != nil || rss != 51234 {
		t.Errorf("ParseRSS = %v, %v", rss, err)
	}
	if _, err := ParseRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("ParseRSS without VmRSS: no error")
	}
}

func TestReadSelf(t *testing.T) {
	for _, pid := range []int{0, os.Getpid()} {
		s, err := Read(pid)
		if err != nil || s.RSSKB == 0 {
			t.Errorf("Read(%d) = %+v, %v", pid, s, err)
		}
	}
	if LoadAvg() == "" || CPUBusy() <= 0 {
		t.Error("machine readings empty")
	}
}
