package admin

import (
	"maps"
	"sync"
	"time"

	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
	"github.com/scopecast/scopecast/stream"
)

// sampler reads the counters of short-lived objects (streams, shared-object
// containers, recordings). Each sample adds a bitrate point to every stream's
// history; each fold (a sample, or a scrape) adds what every object counted
// since the last fold to process-wide totals. An object that goes away between
// two folds loses at most one interval of counts; the totals never go down.
type sampler struct {
	scopes     *scope.Global
	recordings func() []recStat
	history    int
	window     int

	foldMu sync.Mutex // one fold at a time: each reads the counters, then applies them

	mu      sync.Mutex // guards the fields below
	gen     uint64
	streams map[*stream.Stream]*streamTrack
	conts   map[*sharedobject.Container]*contTrack
	recs    map[string]*recTrack
	totals  totals
}

// totals are the folded process-wide counters.
type totals struct {
	dropped   uint64 // media packets skipped for slow subscribers
	slow      uint64 // subscribers closed for falling behind
	soDropped uint64 // shared-object subscribers dropped (delivery failed)
	recBytes  uint64 // bytes written to recordings
}

type streamTrack struct {
	gen       uint64
	lastBytes uint64 // BytesIn at the last sample
	lastAt    time.Time
	sampled   bool
	hist      []float64 // bits per second, oldest first, at most history
	dropped   uint64    // Dropped at the last fold
	slow      uint64    // SlowDisconnects at the last fold
}

type contTrack struct {
	gen     uint64
	dropped uint64
}

type recTrack struct {
	gen   uint64
	bytes uint64
}

// recStat is what the sampler needs of a running recording.
type recStat struct {
	key   string // scope, name and file: a new recording of the stream is a new key or starts lower
	bytes uint64
}

func newSampler(opts Options) *sampler {
	return &sampler{
		scopes: opts.Scopes,
		recordings: func() []recStat {
			var out []recStat
			for _, r := range opts.Server.Recordings() {
				out = append(out, recStat{key: r.Scope + "\x00" + r.Name + "\x00" + r.Path, bytes: uint64(max(r.Stats.Bytes, 0))})
			}
			return out
		},
		history: opts.History,
		window:  opts.RateWindow,
		streams: make(map[*stream.Stream]*streamTrack),
		conts:   make(map[*sharedobject.Container]*contTrack),
		recs:    make(map[string]*recTrack),
	}
}

// delta is what a counter added since last; a counter found lower than last
// was replaced (a new object under the same key) and counts from zero.
func delta(cur, last uint64) uint64 {
	if cur >= last {
		return cur - last
	}
	return cur
}

// sample folds the counters and adds a bitrate point to every stream.
func (s *sampler) sample(now time.Time) { s.fold(now, true) }

// current folds the counters and returns the totals.
func (s *sampler) current() totals {
	s.fold(time.Now(), false)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totals
}

func (s *sampler) fold(now time.Time, rates bool) {
	s.foldMu.Lock()
	defer s.foldMu.Unlock()
	type streamStat struct {
		st *stream.Stream
		ss stream.Stats
	}
	var sts []streamStat
	var conts []*sharedobject.Container
	var dropped []uint64
	s.scopes.Walk(func(sc *scope.Scope) bool {
		for _, st := range sc.Streams() {
			sts = append(sts, streamStat{st, st.Stats()})
		}
		c := sc.SharedObjects()
		conts = append(conts, c)
		dropped = append(dropped, c.Dropped())
		return true
	})
	recs := s.recordings()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	for _, x := range sts {
		t := s.streams[x.st]
		if t == nil {
			t = &streamTrack{}
			s.streams[x.st] = t
		}
		t.gen = s.gen
		s.totals.dropped += delta(x.ss.Dropped, t.dropped)
		s.totals.slow += delta(x.ss.SlowDisconnects, t.slow)
		t.dropped, t.slow = x.ss.Dropped, x.ss.SlowDisconnects
		if !rates {
			continue
		}
		if t.sampled {
			if el := now.Sub(t.lastAt).Seconds(); el > 0 {
				t.hist = append(t.hist, float64(delta(x.ss.BytesIn, t.lastBytes))*8/el)
				if n := len(t.hist); n > s.history {
					t.hist = append(t.hist[:0], t.hist[n-s.history:]...)
				}
			}
		}
		t.sampled, t.lastBytes, t.lastAt = true, x.ss.BytesIn, now
	}
	for i, c := range conts {
		t := s.conts[c]
		if t == nil {
			t = &contTrack{}
			s.conts[c] = t
		}
		t.gen = s.gen
		s.totals.soDropped += delta(dropped[i], t.dropped)
		t.dropped = dropped[i]
	}
	for _, r := range recs {
		t := s.recs[r.key]
		if t == nil {
			t = &recTrack{}
			s.recs[r.key] = t
		}
		t.gen = s.gen
		s.totals.recBytes += delta(r.bytes, t.bytes)
		t.bytes = r.bytes
	}
	// Forget what this fold did not see: it is gone.
	maps.DeleteFunc(s.streams, func(_ *stream.Stream, t *streamTrack) bool { return t.gen != s.gen })
	maps.DeleteFunc(s.conts, func(_ *sharedobject.Container, t *contTrack) bool { return t.gen != s.gen })
	maps.DeleteFunc(s.recs, func(_ string, t *recTrack) bool { return t.gen != s.gen })
}

// rate returns st's bitrate (bits per second, averaged over the last window
// samples) and a copy of its history.
func (s *sampler) rate(st *stream.Stream) (bps float64, hist []float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.streams[st]
	if t == nil || len(t.hist) == 0 {
		return 0, []float64{}
	}
	w := t.hist[max(0, len(t.hist)-s.window):]
	var sum float64
	for _, v := range w {
		sum += v
	}
	return sum / float64(len(w)), append([]float64(nil), t.hist...)
}
