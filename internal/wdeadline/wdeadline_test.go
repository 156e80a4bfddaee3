package wdeadline

import (
	"testing"
	"time"
)

func TestMove(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		steps   []time.Duration // write times after t0
		want    []bool
	}{
		{"15 s: moved about once a second", 15 * time.Second,
			[]time.Duration{0, 500 * time.Millisecond, time.Second, 1001 * time.Millisecond, 1900 * time.Millisecond, 2002 * time.Millisecond},
			[]bool{true, false, false, true, false, true}},
		{"400 ms: moved after 50 ms (timeout/8), never kept in the past", 400 * time.Millisecond,
			[]time.Duration{0, 40 * time.Millisecond, 51 * time.Millisecond, 900 * time.Millisecond},
			[]bool{true, false, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l Lazy
			for i, at := range tc.steps {
				now := t0.Add(at)
				dl := now.Add(tc.timeout)
				if got := l.Move(dl, tc.timeout); got != tc.want[i] {
					t.Fatalf("write %d at +%v: Move %v, want %v", i, at, got, tc.want[i])
				}
				if left := l.set.Sub(now); left < tc.timeout*7/8 {
					t.Fatalf("write %d at +%v: the deadline kept leaves %v of %v", i, at, left, tc.timeout)
				}
			}
		})
	}
	var l Lazy
	l.Move(t0.Add(time.Minute), time.Minute)
	if !l.Move(t0.Add(time.Second), time.Minute) {
		t.Error("an earlier deadline was not set")
	}
}
