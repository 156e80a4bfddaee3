package connwait

import (
	"testing"
	"time"
)

func TestWakeReleasesEveryWaiter(t *testing.T) {
	var w Wakeup
	a, b := w.Wait(), w.Wait()
	if a != b {
		t.Fatal("waiters before one Wake must share a channel")
	}
	w.Wake()
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			t.Fatal("a waiter was not released")
		}
	}
	if w.Wait() == a {
		t.Fatal("after Wake, waiters need a fresh channel")
	}
	w.Wake()
	w.Wake() // waking with nobody waiting is harmless
}

func TestAwaitDeadline(t *testing.T) {
	var w Wakeup
	start := time.Now()
	Await(w.Wait(), start.Add(20*time.Millisecond))
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("Await returned after %v, before its deadline", d)
	}
	Await(w.Wait(), start.Add(-time.Second)) // a past deadline returns at once
}

func TestSettersWake(t *testing.T) {
	var d Deadlines
	r, w := d.Readable.Wait(), d.Writable.Wait()
	at := time.Unix(42, 0)
	d.SetRead(at)
	select {
	case <-r:
	default:
		t.Fatal("SetRead did not wake readers")
	}
	select {
	case <-w:
		t.Fatal("SetRead woke writers")
	default:
	}
	d.SetWrite(at)
	select {
	case <-w:
	default:
		t.Fatal("SetWrite did not wake writers")
	}
	r, w = d.Readable.Wait(), d.Writable.Wait()
	d.Set(time.Time{})
	for _, ch := range []<-chan struct{}{r, w} {
		select {
		case <-ch:
		default:
			t.Fatal("Set did not wake both")
		}
	}
	if !d.Read.IsZero() || !d.Write.IsZero() {
		t.Fatal("Set did not clear both deadlines")
	}
}
