// Package connwait is what an in-memory net.Conn needs to block its Reads and
// Writes and wake them: a broadcast wakeup, a wait bounded by a deadline, and
// the read and write deadlines that wake blocked calls when they change. The
// RTMPT session (server side, package rtmp) and the RTMPT client transport
// (package rtmp/client) are both such conns.
//
// Nothing here locks: every value is guarded by its owner's mutex.
package connwait

import "time"

// Wakeup is a broadcast: waiters take the channel, Wake closes it.
type Wakeup struct{ ch chan struct{} }

// Wait returns the channel the next Wake closes.
func (w *Wakeup) Wait() <-chan struct{} {
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

// Wake releases every waiter.
func (w *Wakeup) Wake() {
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// Await blocks until ch is closed or the deadline dl (zero: none) passes.
// Call it without the owner's mutex held, then re-check the state.
func Await(ch <-chan struct{}, dl time.Time) {
	if dl.IsZero() {
		<-ch
		return
	}
	t := time.NewTimer(time.Until(dl))
	select {
	case <-ch:
	case <-t.C:
	}
	t.Stop()
}

// Deadlines are a conn's read and write deadlines and the wakeups of the
// Reads and Writes blocked on them.
type Deadlines struct {
	Read, Write        time.Time
	Readable, Writable Wakeup
}

// Set sets both deadlines; blocked calls re-check at once.
func (d *Deadlines) Set(t time.Time) {
	d.Read, d.Write = t, t
	d.Readable.Wake()
	d.Writable.Wake()
}

// SetRead sets the read deadline; a blocked Read re-checks at once.
func (d *Deadlines) SetRead(t time.Time) {
	d.Read = t
	d.Readable.Wake()
}

// SetWrite sets the write deadline; a blocked Write re-checks at once.
func (d *Deadlines) SetWrite(t time.Time) {
	d.Write = t
	d.Writable.Wake()
}
