package benchutil

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParsePerSecond(t *testing.T) {
	for in, want := range map[string]float64{"100/s": 100, "200/s": 200, "2.5": 2.5, "12.5": 12.5, "0": 0, " 7/s ": 7} {
		if got, err := ParsePerSecond("-rate", in); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "x/s", "-1", "-1/s", "NaN", "Inf", "+Inf/s"} {
		if _, err := ParsePerSecond("-ramp", in); err == nil || !strings.HasPrefix(err.Error(), "-ramp ") {
			t.Errorf("%q: error %v; want one naming -ramp", in, err)
		}
	}
}

func TestRank(t *testing.T) {
	v := make([]int64, 100) // 1..100
	for i := range v {
		v[i] = int64(i + 1)
	}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.5, 50}, {0.9, 90}, {0.99, 99}, {0.999, 100}, {1, 100}, {0.001, 1}} {
		if got := Rank(v, c.q); got != c.want {
			t.Errorf("Rank(1..100, %v) = %d, want %d", c.q, got, c.want)
		}
	}
	if got := Rank([]float64{7}, 0.99); got != 7 {
		t.Errorf("Rank([7], 0.99) = %v", got)
	}
	if got := Rank([]float64{1, 2, 3}, 0.5); got != 2 {
		t.Errorf("Rank([1 2 3], 0.5) = %v", got)
	}
}

func TestRoundAndMS(t *testing.T) {
	if got := Round(1.23456, 2); got != 1.23 {
		t.Errorf("Round(1.23456, 2) = %v", got)
	}
	if got := Round(2.5, 0); got != 3 {
		t.Errorf("Round(2.5, 0) = %v", got)
	}
	if got := MS(1500 * time.Microsecond); got != 1.5 {
		t.Errorf("MS(1.5ms) = %v", got)
	}
}

func TestErrors(t *testing.T) {
	if got := CountErrors(nil); got == nil || len(got) != 0 {
		t.Errorf("CountErrors(nil) = %#v; want empty, not nil", got)
	}
	errs := map[string]int{"b": 2, "a": 2, "c": 5}
	for i := range 10 {
		errs[strings.Repeat("z", i+1)] = 1
	}
	got := CountErrors(errs)
	if len(got) != 13 || got[0] != (ErrorCount{"c", 5}) || got[1] != (ErrorCount{"a", 2}) || got[2] != (ErrorCount{"b", 2}) {
		t.Fatalf("CountErrors = %v", got)
	}
	var b bytes.Buffer
	WriteErrors(&b, "errors:   ", got)
	want := "errors:\n      5 × c\n      2 × a\n      2 × b\n"
	if s := b.String(); !strings.HasPrefix(s, want) || !strings.HasSuffix(s, "  … 3 more kinds\n") || strings.Count(s, "\n") != 12 {
		t.Errorf("WriteErrors:\n%s", s)
	}
	b.Reset()
	WriteErrors(&b, "errors:   ", nil)
	if b.String() != "errors:   none\n" {
		t.Errorf("WriteErrors(none) = %q", b.String())
	}
}

type textReport struct{ N int }

func (r textReport) WriteText(w io.Writer) { fmt.Fprintf(w, "n=%d\n", r.N) }

func TestOutput(t *testing.T) {
	var b bytes.Buffer
	if err := Output(&b, false, textReport{3}); err != nil || b.String() != "n=3\n" {
		t.Errorf("text: %q, %v", b.String(), err)
	}
	b.Reset()
	if err := Output(&b, true, textReport{3}); err != nil || b.String() != "{\n  \"N\": 3\n}\n" {
		t.Errorf("JSON: %q, %v", b.String(), err)
	}
}
