package auth

import (
	"net/url"
	"time"

	"github.com/scopecast/scopecast/scope"
)

// handler is an application's scope.Handler with the rules in front.
type handler struct {
	a    *Authorizer
	app  string
	next scope.Handler
}

var _ scope.Handler = (*handler)(nil)

func (h *handler) Start(s *scope.Scope) error { return h.next.Start(s) }

func (h *handler) Stop(s *scope.Scope) { h.next.Stop(s) }

// Connect checks the connect rule and on_connect, then the application.
func (h *handler) Connect(c scope.Conn, s *scope.Scope, params []any) error {
	p := h.a.policy.Load()
	hooks := p.hooksFor(h.app)
	if err := h.admit(c, s, "connect", "", "", p.Apps[h.app].Connect, hooks.OnConnect, hooks.Timeout); err != nil {
		return err
	}
	return h.next.Connect(c, s, params)
}

func (h *handler) Disconnect(c scope.Conn, s *scope.Scope) { h.next.Disconnect(c, s) }

func (h *handler) Join(c scope.Conn, s *scope.Scope) error { return h.next.Join(c, s) }

func (h *handler) Leave(c scope.Conn, s *scope.Scope) { h.next.Leave(c, s) }

// Publish checks the publish rule and on_publish, then the application. If
// on_publish allowed and the application refuses, on_unpublish follows, so
// that a hook that counts publishers stays right.
func (h *handler) Publish(c scope.Conn, s *scope.Scope, name, mode string) error {
	p := h.a.policy.Load()
	hooks := p.hooksFor(h.app)
	if err := h.admit(c, s, "publish", name, mode, p.Apps[h.app].Publish, hooks.OnPublish, hooks.Timeout); err != nil {
		return err
	}
	if err := h.next.Publish(c, s, name, mode); err != nil {
		if hooks.OnPublish != "" {
			h.unpublished(c, s, name)
		}
		return err
	}
	return nil
}

// Unpublish runs the application's hook, then queues on_unpublish.
func (h *handler) Unpublish(c scope.Conn, s *scope.Scope, name string) {
	h.next.Unpublish(c, s, name)
	h.unpublished(c, s, name)
}

func (h *handler) unpublished(c scope.Conn, s *scope.Scope, name string) {
	p := h.a.policy.Load()
	if u := p.hooksFor(h.app).OnUnpublish; u != "" {
		h.a.notify(u, h.event("unpublish", c, s, name, connectQuery(c)))
	}
}

// Play checks the play rule and on_play, then the application.
func (h *handler) Play(c scope.Conn, s *scope.Scope, name string) error {
	p := h.a.policy.Load()
	hooks := p.hooksFor(h.app)
	if err := h.admit(c, s, "play", name, "", p.Apps[h.app].Play, hooks.OnPlay, hooks.Timeout); err != nil {
		return err
	}
	return h.next.Play(c, s, name)
}

// admit applies the rule of action ("connect", "publish" or "play") to c,
// with the keys of the stream name's query (name is "" for a connect) and of
// the connect URL, then asks the action's deciding hook (on_<action> at URL
// hook, unless hook is ""). It returns the refusal, or nil.
func (h *handler) admit(c scope.Conn, s *scope.Scope, action, name, mode string, rule Rule, hook string, timeout time.Duration) error {
	cq := connectQuery(c)
	if reason := rule.check(c.RemoteAddr(), nameQuery(name), cq); reason != "" {
		return h.a.refuse(c, s, action, name, reason, ByRule)
	}
	if hook == "" {
		return nil
	}
	ev := h.event(action, c, s, name, cq)
	ev.Mode = mode
	if reason := h.a.decide(hook, timeout, ev, c, s); reason != "" {
		return h.a.refuse(c, s, action, name, reason, "on_"+action)
	}
	return nil
}

func (h *handler) StopPlay(c scope.Conn, s *scope.Scope, name string) { h.next.StopPlay(c, s, name) }

func (h *handler) Method(name string) scope.Method { return h.next.Method(name) }

// event describes an action of c in s for a hook.
func (h *handler) event(action string, c scope.Conn, s *scope.Scope, name string, cq url.Values) Event {
	base, _ := scope.SplitName(name)
	return Event{
		Action:       action,
		App:          h.app,
		Scope:        s.Path(),
		Stream:       base,
		Query:        flatten(nameQuery(name)),
		ConnectQuery: flatten(cq),
		ClientID:     c.ID(),
		Protocol:     c.Protocol(),
		RemoteAddr:   c.RemoteAddr(),
		Time:         time.Now().UTC().Format(time.RFC3339Nano),
	}
}

// refuse counts and logs (debug: the transport logs the refusal too) a
// refusal and returns it: a *RefusalError around the scope.Reject the client
// sees. by is "rule" or the hook that refused.
func (a *Authorizer) refuse(c scope.Conn, s *scope.Scope, action, name, reason, by string) error {
	hook := ""
	j := 0
	if by != ByRule {
		hook, j = by, 1
	}
	if i := actionIndex(action); i >= 0 && i < len(actions) {
		a.refusals[i][j].Add(1)
	}
	base, _ := scope.SplitName(name)
	a.log.Debug("auth: "+action+" refused", "conn", c.ID(), "scope", s.Path(), "stream", base,
		"remote", c.RemoteAddr(), "by", by, "reason", reason)
	return &RefusalError{Action: action, Hook: hook, Reject: &scope.RejectError{Reason: reason}}
}

// flatten keeps the first value of each parameter (nil for none).
func flatten(q url.Values) map[string]string {
	if len(q) == 0 {
		return nil
	}
	m := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}
