package conntrack

import (
	"context"
	"errors"
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAddAfterCloseRefused(t *testing.T) {
	var s Set[int]
	if !s.Enter() || !s.Add(1) || !s.Enter() || !s.Add(2) {
		t.Fatal("an open set refused")
	}
	if n := s.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	live := s.Close()
	slices.Sort(live)
	if !slices.Equal(live, []int{1, 2}) {
		t.Fatalf("Close returned %v, want [1 2]", live)
	}
	if s.Enter() {
		t.Fatal("Enter after Close was accepted")
	}
	if s.Add(3) {
		t.Fatal("Add after Close was accepted")
	}
	if n := s.Len(); n != 2 {
		t.Fatalf("Len after Close = %d, want 2 (members stay until removed)", n)
	}
	if live := s.Close(); len(live) != 2 {
		t.Fatalf("a second Close returned %v", live)
	}
}

func TestGroupCloseRefuses(t *testing.T) {
	var g Group
	if !g.Enter() {
		t.Fatal("an open group refused")
	}
	g.Close()
	if g.Enter() {
		t.Fatal("Enter after Close was accepted")
	}
	g.Leave()
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWaitReturnsWhenAllRemoved(t *testing.T) {
	var s Set[int]
	const n = 8
	release := make(chan struct{})
	for i := range n {
		if !s.Enter() || !s.Add(i) {
			t.Fatal("refused")
		}
		go func() {
			<-release
			s.Remove(i, nil)
			s.Leave()
		}()
	}
	live := s.Close()
	if len(live) != n {
		t.Fatalf("Close returned %d, want %d", len(live), n)
	}
	waited := make(chan error, 1)
	go func() { waited <- s.Wait(context.Background()) }()
	select {
	case err := <-waited:
		t.Fatalf("Wait returned %v with %d goroutines in", err, n)
	default:
	}
	close(release)
	if err := <-waited; err != nil {
		t.Fatalf("Wait = %v", err)
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d after every Remove", s.Len())
	}
	// Waiting again, or with a context already done, returns nil at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatalf("Wait on an empty group = %v", err)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	var g Group
	g.Enter()
	g.Close()
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { waited <- g.Wait(ctx) }()
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := g.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want context.DeadlineExceeded", err)
	}
	// A later Wait still sees the group empty.
	g.Leave()
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestLeaveWithoutEnterPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Leave without Enter did not panic")
		}
	}()
	var g Group
	g.Leave()
}

// conn is a connection with a byte counter of its own, as the handlers have.
type conn struct{ bytes atomic.Uint64 }

// TestConcurrent runs connections that count bytes, end, and fold their
// counts into a total with Remove's hook while a reader sums the total and
// the live counters with View and a shutdown closes the set: the sum never
// goes back, ends at what was written, and Wait sees every goroutine out.
// Run with -race.
func TestConcurrent(t *testing.T) {
	var (
		s     Set[*conn]
		done  uint64 // under s's lock
		wrote atomic.Uint64
		wg    sync.WaitGroup
	)
	sum := func() uint64 {
		var n uint64
		s.View(func(live iter.Seq[*conn]) {
			n = done
			for c := range live {
				n += c.bytes.Load()
			}
		})
		return n
	}
	stop := make(chan struct{})
	var readerErr atomic.Value
	wg.Go(func() {
		var last uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := sum()
			if n < last {
				readerErr.Store(n)
				return
			}
			last = n
		}
	})
	var refused atomic.Int64
	hold := make(chan struct{}) // closing the live connections
	serve := func(id int) {
		if !s.Enter() {
			refused.Add(1)
			return
		}
		defer s.Leave()
		c := new(conn)
		if !s.Add(c) {
			refused.Add(1)
			return
		}
		defer s.Remove(c, func() { done += c.bytes.Load() })
		for i := range 10 + id%7 {
			if i == 5 && id%2 == 0 {
				<-hold
			}
			c.bytes.Add(3)
			wrote.Add(3)
		}
	}
	var servers sync.WaitGroup
	for i := range 200 {
		servers.Go(func() { serve(i) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Len() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("connections did not come in")
		}
		runtime.Gosched()
	}
	live := s.Close()
	if len(live) < 20 {
		t.Fatalf("Close returned %d connections, want at least 20", len(live))
	}
	close(hold)
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	servers.Wait()
	close(stop)
	wg.Wait()
	if v := readerErr.Load(); v != nil {
		t.Fatalf("the total went back to %v", v)
	}
	if got, want := sum(), wrote.Load(); got != want {
		t.Fatalf("total %d, want %d", got, want)
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d after all ended", s.Len())
	}
	t.Logf("%d live at Close, %d of 200 refused after it", len(live), refused.Load())
}
