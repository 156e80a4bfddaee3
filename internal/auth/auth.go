// Package auth decides who may connect, publish and play: static keys, client
// address allow and deny lists, and HTTP hooks, per application. It works as
// a scope.Handler decorator ([Authorizer.Wrap]) so that every transport —
// RTMP, RTMPS, RTMPT, WebSocket, HTTP-FLV — meets the same rules, since they
// all connect, publish and play through package scope. Refusals are
// [RefusalError]s around a *scope.RejectError, whose reason the client sees
// (NetConnection.Connect.Rejected, NetStream.Publish.BadName,
// NetStream.Play.Failed, WebSocket close 4403), and which tell the rtmp
// server's refusal counter who refused (RejectReason "auth" or "hook").
//
// The rules live behind an atomic pointer: [Authorizer.SetPolicy] replaces
// them (SIGHUP) without touching connections or streams; the new rules apply
// to the next connect, publish or play.
package auth

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopecast/scopecast/scope"
)

// DefaultTimeout bounds one hook call when the policy gives none.
const DefaultTimeout = 3 * time.Second

// DefaultQueue is how many "done" notifications (on_unpublish,
// on_record_done) may wait to be posted when Options.Queue is zero.
const DefaultQueue = 256

// Reasons given to refused clients by the static rules.
const (
	ReasonAddress    = "address not allowed"
	ReasonMissingKey = "missing key"
	ReasonWrongKey   = "wrong key"
	ReasonTimeout    = "hook timeout"
	ReasonHookDown   = "hook unavailable"
)

// Policy is the complete set of rules. The zero value allows everything.
type Policy struct {
	Hooks Hooks          // global hooks
	Apps  map[string]App // rules by application name; an app not listed has none
}

// App are the rules of one application.
type App struct {
	Connect Rule // checks the client address and the connect URL's key
	Publish Rule // checks the address and the key of the stream name or connect URL
	Play    Rule
	Hooks   Hooks // each URL set, and Timeout if not zero, replaces the global one
}

// Rule allows a client if its address is in no Deny prefix, is in an Allow
// prefix (when there are any), and it gives one of Keys (when there are any).
type Rule struct {
	Keys  []string
	Allow []netip.Prefix
	Deny  []netip.Prefix
}

// Hooks are HTTP endpoints (empty: none) and the timeout of one call.
type Hooks struct {
	OnConnect    string
	OnPublish    string
	OnPlay       string
	OnUnpublish  string
	OnRecordDone string
	Timeout      time.Duration
}

func (h Hooks) over(base Hooks) Hooks {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	out := Hooks{
		OnConnect:    pick(h.OnConnect, base.OnConnect),
		OnPublish:    pick(h.OnPublish, base.OnPublish),
		OnPlay:       pick(h.OnPlay, base.OnPlay),
		OnUnpublish:  pick(h.OnUnpublish, base.OnUnpublish),
		OnRecordDone: pick(h.OnRecordDone, base.OnRecordDone),
		Timeout:      h.Timeout,
	}
	if out.Timeout <= 0 {
		out.Timeout = base.Timeout
	}
	if out.Timeout <= 0 {
		out.Timeout = DefaultTimeout
	}
	return out
}

// hooksFor returns the effective hooks of app.
func (p *Policy) hooksFor(app string) Hooks {
	return p.Apps[app].Hooks.over(p.Hooks)
}

// ConnectQuerier is implemented by connections that know the query of the
// URL they connected with (rtmp://host/live?key=x/cam1 gives key=x,
// ws://host/chat/room?key=x too). Keys are looked for there when the stream
// name has none.
type ConnectQuerier interface {
	ConnectQuery() url.Values
}

// Stats count what the authorizer did since it started.
type Stats struct {
	Refused     uint64 // connects, publishes and plays refused (rules and hooks)
	HookCalls   uint64 // hook requests made (deciding and done)
	HookErrors  uint64 // hook requests that failed: no answer, timeout (a deny is not an error)
	DoneDropped uint64 // done notifications dropped because the queue was full
	// Refusals splits Refused by action and by who refused: six entries
	// (connect, publish, play × ByRule, ByHook), zero or not.
	Refusals []RefusalCount
	// Hooks splits HookCalls and HookErrors by hook, one entry per name of
	// HookNames, in that order.
	Hooks []HookCount
}

// Options configure an Authorizer; the zero value is usable.
type Options struct {
	// Client posts the hooks; nil means a client of its own. Each call is
	// bounded by the hook timeout whatever the client's own timeout.
	Client HTTPDoer
	// Logger receives refusals (info) and hook failures (warn), with "conn"
	// and "scope" attributes; nil means slog.Default().
	Logger *slog.Logger
	// Queue bounds the done notifications waiting to be posted (default
	// DefaultQueue); more are dropped and counted.
	Queue int
}

// Authorizer applies a Policy to the applications it wraps. Create it with
// New and stop it with Close.
type Authorizer struct {
	client HTTPDoer
	log    *slog.Logger
	policy atomic.Pointer[Policy]

	queue   chan Event
	ctx     context.Context // the done sender's; cancel ends its post in flight
	cancel  context.CancelFunc
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup

	dropped  atomic.Uint64
	refusals [len(actions)][2]atomic.Uint64 // by action, by rule (0) or hook (1)
	hooks    [len(HookNames)]struct{ calls, errors atomic.Uint64 }
}

// New returns an Authorizer applying p and starts its done-hook sender.
func New(p Policy, opts Options) *Authorizer {
	a := &Authorizer{client: opts.Client, log: opts.Logger, stop: make(chan struct{})}
	if a.client == nil {
		a.client = newClient()
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	q := opts.Queue
	if q <= 0 {
		q = DefaultQueue
	}
	a.queue = make(chan Event, q)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.SetPolicy(p)
	a.wg.Add(1)
	go a.sendDone()
	return a
}

// SetPolicy replaces the rules. Connections, streams and plays already
// admitted are left alone; the next connect, publish and play meet p.
func (a *Authorizer) SetPolicy(p Policy) {
	a.policy.Store(&p)
}

// Policy returns the rules in force. The caller must not modify them.
func (a *Authorizer) Policy() *Policy { return a.policy.Load() }

// Stats returns the counters.
func (a *Authorizer) Stats() Stats {
	st := Stats{DoneDropped: a.dropped.Load(), Refusals: make([]RefusalCount, 0, 2*len(actions)), Hooks: make([]HookCount, len(HookNames))}
	for i, act := range actions {
		for j, by := range [...]string{ByRule, ByHook} {
			n := a.refusals[i][j].Load()
			st.Refused += n
			st.Refusals = append(st.Refusals, RefusalCount{Action: act, By: by, N: n})
		}
	}
	for i, name := range HookNames {
		hc := HookCount{Hook: name, Calls: a.hooks[i].calls.Load(), Errors: a.hooks[i].errors.Load()}
		st.HookCalls += hc.Calls
		st.HookErrors += hc.Errors
		st.Hooks[i] = hc
	}
	return st
}

// Wrap returns h with the rules of application app in front of its Connect,
// Publish and Play hooks, and the done notifications after its Unpublish.
// Every other hook and method is h's own.
func (a *Authorizer) Wrap(app string, h scope.Handler) scope.Handler {
	if h == nil {
		panic("auth: Wrap with nil Handler")
	}
	return &handler{a: a, app: app, next: h}
}

// remoteAddr parses a scope.Conn's RemoteAddr ("ip:port", or an IP).
func remoteAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// check applies r to a client at addr that gave the queries keys (the first
// with a key counts).
// It returns the reason for a refusal, or "".
func (r *Rule) check(addr string, keys ...url.Values) string {
	if len(r.Allow) > 0 || len(r.Deny) > 0 {
		ip, ok := remoteAddr(addr)
		if !ok {
			return ReasonAddress
		}
		for _, p := range r.Deny {
			if p.Contains(ip) {
				return ReasonAddress
			}
		}
		if len(r.Allow) > 0 {
			allowed := false
			for _, p := range r.Allow {
				allowed = allowed || p.Contains(ip)
			}
			if !allowed {
				return ReasonAddress
			}
		}
	}
	if len(r.Keys) == 0 {
		return ""
	}
	given, ok := findKey(keys...)
	if !ok {
		return ReasonMissingKey
	}
	match := 0
	for _, k := range r.Keys {
		match |= subtle.ConstantTimeCompare([]byte(given), []byte(k))
	}
	if match == 0 {
		return ReasonWrongKey
	}
	return ""
}

// findKey returns the first "key" or "token" parameter of the first query
// that has one.
func findKey(qs ...url.Values) (string, bool) {
	for _, q := range qs {
		for _, name := range []string{"key", "token"} {
			if v, ok := q[name]; ok && len(v) > 0 {
				return v[0], true
			}
		}
	}
	return "", false
}

func connectQuery(c scope.Conn) url.Values {
	if cq, ok := c.(ConnectQuerier); ok {
		return cq.ConnectQuery()
	}
	return nil
}

func nameQuery(name string) url.Values {
	_, q := scope.SplitName(name)
	if q == "" {
		return nil
	}
	v, _ := url.ParseQuery(q) // what parses is kept
	return v
}

// cleanReason makes a hook's reason safe to show: one line, no control
// characters, at most 200 bytes.
func cleanReason(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "")
	}
	return s
}
