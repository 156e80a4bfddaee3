// Package chat is the built-in chat application: rtmp://host/chat/<room…> and,
// through the WebSocket bridge, ws://host:5080/chat/<room…>. Every room is a
// scope; its shared objects (by default "chat") carry the room's messages and
// state for Flash-era RTMP clients and browsers alike. Anyone may join, write
// and send.
//
// Presence (when App.Presence is set): the application keeps one attribute per
// connection in the room's transient shared object "chat": "user.<connection
// ID>" = {name, protocol}, written (by the server, origin "") when the
// connection joins and removed when it leaves. A join or a leave is one small
// change for every member, not a rewrite of the whole list. The name comes from
// the connect parameters: a first parameter that is a string, or an object with
// a "name" member (the WebSocket bridge passes its query parameters that way);
// otherwise the connection ID. While the room has users the object is
// acquired, so it lives as long as they do; it lingers out after the last one
// left. Clients cannot write or remove "user.*" attributes
// (SharedObject.NoWriteAccess); after a client's clear the application writes
// them again.
//
// Page serves the chat page, a small embedded web client.
package chat

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
)

// Name is the application's registered name.
const Name = "chat"

// SOName is the shared object that carries a room's chat and presence.
const SOName = "chat"

// UserPrefix starts the presence attributes of SOName: UserPrefix + connection ID.
const UserPrefix = "user."

// MaxNameLen bounds user names (runes).
const MaxNameLen = 64

// App is the chat application's scope handler.
type App struct {
	scope.BaseHandler
	// Presence makes the application keep the "user.*" attributes (see the
	// package documentation). Set it before registering the application.
	Presence bool

	mu    sync.Mutex
	rooms map[*scope.Scope]*room
}

// room is the presence of one scope.
type room struct {
	mu       sync.Mutex
	so       *sharedobject.SharedObject
	users    map[string]user
	closed   bool                            // the last user left: a new room replaces it
	current  atomic.Pointer[map[string]user] // the presence, for onEvent
	unlisten func()
}

type user struct{ name, protocol string }

// New returns the chat application.
func New() *App { return &App{rooms: make(map[*scope.Scope]*room)} }

// Start guards the presence attribute of the room's objects.
func (a *App) Start(s *scope.Scope) error {
	if a.Presence {
		s.SharedObjects().SetAccess(guard{})
	}
	return nil
}

// guard refuses clients' writes to the presence attribute.
type guard struct{}

func (guard) CanConnect(sharedobject.Origin, *sharedobject.SharedObject) error { return nil }

func (guard) CanWrite(origin sharedobject.Origin, so *sharedobject.SharedObject, key string, _ any) error {
	return guard{}.CanDelete(origin, so, key)
}

func (guard) CanDelete(origin sharedobject.Origin, so *sharedobject.SharedObject, key string) error {
	if origin != "" && so.Name() == SOName && strings.HasPrefix(key, UserPrefix) {
		return errors.New("chat: presence is the server's")
	}
	return nil
}

func (guard) CanSend(sharedobject.Origin, *sharedobject.SharedObject, string, []any) error {
	return nil
}

// Connect records c in the presence of s.
func (a *App) Connect(c scope.Conn, s *scope.Scope, params []any) error {
	if !a.Presence {
		return nil
	}
	u := user{name: nameFrom(params, c.ID()), protocol: c.Protocol()}
	for {
		r := a.room(s)
		if r == nil {
			return nil // no shared object (the scope is going): no presence, but no refusal
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			continue
		}
		r.users[c.ID()] = u
		r.snapshotLocked()
		r.so.SetAttribute("", UserPrefix+c.ID(), u.value())
		r.mu.Unlock()
		return nil
	}
}

// Disconnect removes c from the presence of s.
func (a *App) Disconnect(c scope.Conn, s *scope.Scope) {
	a.mu.Lock()
	r := a.rooms[s]
	a.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.users[c.ID()]; !ok || r.closed {
		return
	}
	delete(r.users, c.ID())
	r.so.RemoveAttribute("", UserPrefix+c.ID())
	if len(r.users) > 0 {
		r.snapshotLocked()
		return
	}
	r.current.Store(nil)
	r.unlisten()
	r.so.Release()
	r.closed = true
	a.mu.Lock()
	if a.rooms[s] == r {
		delete(a.rooms, s)
	}
	a.mu.Unlock()
}

// Stop forgets the presence of a stopped scope.
func (a *App) Stop(s *scope.Scope) {
	a.mu.Lock()
	delete(a.rooms, s)
	a.mu.Unlock()
}

// Users returns the presence of s: connection ID → name.
func (a *App) Users(s *scope.Scope) map[string]string {
	a.mu.Lock()
	r := a.rooms[s]
	a.mu.Unlock()
	out := map[string]string{}
	if r == nil {
		return out
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, u := range r.users {
		out[id] = u.name
	}
	return out
}

// room returns the presence of s, creating it (and acquiring the shared
// object) if needed; nil if the object cannot be had.
func (a *App) room(s *scope.Scope) *room {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rooms == nil {
		a.rooms = make(map[*scope.Scope]*room)
	}
	if r := a.rooms[s]; r != nil {
		return r
	}
	so, err := s.SharedObjects().Get(SOName, false, true)
	if err != nil {
		return nil
	}
	so.Acquire()
	r := &room{so: so, users: make(map[string]user)}
	r.unlisten = so.AddListener(sharedobject.ListenerFunc(r.onEvent))
	a.rooms[s] = r
	return r
}

// value is a user's presence attribute.
func (u user) value() *amf.Object { return amf.Obj("name", u.name, "protocol", u.protocol) }

// snapshotLocked records the presence for onEvent, which cannot take r.mu.
func (r *room) snapshotLocked() {
	m := maps.Clone(r.users)
	r.current.Store(&m)
}

// onEvent writes the presence again after a client's clear. It runs on the
// goroutine delivering the clear, which may be one holding r.mu, so it takes
// no lock: it writes the latest snapshot, as one batch, until no newer one
// appeared meanwhile (a newer one's own write then comes after this one).
func (r *room) onEvent(so *sharedobject.SharedObject, ev sharedobject.OriginEvent) {
	if ev.Type != sharedobject.EventClear || ev.Origin == "" {
		return
	}
	for {
		v := r.current.Load()
		if v == nil {
			return
		}
		so.BeginUpdate()
		for _, id := range slices.Sorted(maps.Keys(*v)) {
			so.SetAttribute("", UserPrefix+id, (*v)[id].value())
		}
		so.EndUpdate()
		if r.current.Load() == v {
			return
		}
	}
}

// nameFrom finds a user name in connect parameters.
func nameFrom(params []any, def string) string {
	var name string
	if len(params) > 0 {
		switch p := params[0].(type) {
		case string:
			name = p
		case *amf.Object:
			name = p.GetString("name")
		case *amf.ECMAArray:
			name = p.GetString("name")
		}
	}
	name = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name))
	if utf8.RuneCountInString(name) > MaxNameLen {
		name = string([]rune(name)[:MaxNameLen])
	}
	if name == "" {
		return def
	}
	return name
}
