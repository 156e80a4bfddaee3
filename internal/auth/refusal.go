package auth

import (
	"github.com/scopecast/scopecast/scope"
)

// Reject reasons, as the rtmp server labels refused connects
// (rtmp.RejectAuth and rtmp.RejectHook: the same strings, which
// cmd/scopecast's tests check; this package does not import rtmp).
const (
	RejectAuth = "auth" // the static rules (keys, allow, deny) refused
	RejectHook = "hook" // a deciding hook refused, timed out or failed
)

// Who refused, the values of RefusalCount.By.
const (
	ByRule = "rule"
	ByHook = "hook"
)

// HookNames are the hooks, in the order of Stats.Hooks.
var HookNames = [...]string{"on_connect", "on_publish", "on_play", "on_unpublish", "on_record_done"}

// actions are the refused actions, in the order of Stats.Refusals.
var actions = [...]string{"connect", "publish", "play"}

// RefusalError is the error of a refused connect, publish or play. It wraps
// the *scope.RejectError whose reason the client is shown (errors.As finds
// it), and tells the transports who refused: RejectReason is RejectAuth for
// the static rules and RejectHook for a deciding hook.
type RefusalError struct {
	Action string // "connect", "publish" or "play"
	Hook   string // the deciding hook that refused ("on_connect"…); "" for the static rules
	Reject *scope.RejectError
}

// Error is the wrapped RejectError's message.
func (e *RefusalError) Error() string { return e.Reject.Error() }

// Unwrap returns the *scope.RejectError.
func (e *RefusalError) Unwrap() error { return e.Reject }

// RejectReason implements rtmp.RejectReasoner: RejectAuth or RejectHook.
func (e *RefusalError) RejectReason() string {
	if e.Hook == "" {
		return RejectAuth
	}
	return RejectHook
}

// RefusalCount is how many actions of one kind were refused by the rules or
// by a hook.
type RefusalCount struct {
	Action string // "connect", "publish" or "play"
	By     string // ByRule or ByHook
	N      uint64
}

// HookCount are the requests made to one hook.
type HookCount struct {
	Hook   string // one of HookNames
	Calls  uint64 // requests made
	Errors uint64 // requests that failed (no answer, timeout; a refusal is not an error)
}

// actionIndex is a's place in actions (and HookNames), or -1.
func actionIndex(a string) int {
	switch a {
	case "connect":
		return 0
	case "publish":
		return 1
	case "play":
		return 2
	case "unpublish":
		return 3
	case "record_done":
		return 4
	}
	return -1
}
