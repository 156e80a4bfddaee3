// Package wdeadline keeps a connection's write deadline without a timer
// update per write. Setting a deadline costs a runtime timer update
// (SetWriteDeadline before every frame was 6 % of the server's CPU in the
// WebSocket bridge's 100 msg/s profile, docs/benchmarks.md); a writer that
// keeps one a little older than it would ask for moves it far less often.
package wdeadline

import "time"

// Lazy remembers the write deadline last set on one connection. Its zero
// value has set none. It is not safe for concurrent use: it belongs to the
// connection's writer.
type Lazy struct {
	set time.Time
}

// Move reports whether a write that wants deadline dl, for a write timeout of
// timeout, must set it: when dl is earlier than the one set, or later by more
// than min(1 s, timeout/8). It then records dl. So a write always has at least
// 7/8 of its timeout, and a connection written all the time moves its deadline
// at most about once a second.
func (l *Lazy) Move(dl time.Time, timeout time.Duration) bool {
	if !dl.Before(l.set) && dl.Sub(l.set) <= min(time.Second, timeout/8) {
		return false
	}
	l.set = dl
	return true
}
