// Package scope is the scope tree of the server: the global scope, the applications
// registered on it (such as "live" and "chat") and the rooms below them at any depth.
//
// A client's connect path names a scope: "chat/room1/room2" is the room
// /chat/room1/room2 of application "chat". [Global.Connect] resolves a path, creating the
// missing rooms atomically (concurrent connectors of a new room get the same *Scope and the
// application's Start hook runs once per new scope), then runs the application's Connect
// and Join hooks. A room lives while something holds it: connections whose leaf scope it is,
// its live streams, [Scope.Hold] holders (shared objects, applications) and its child rooms.
// When nothing holds a room any more, it lingers for [Options.KeepDelay] and is then
// removed and stopped; application scopes are never removed.
//
// Applications implement [Handler] (embedding [BaseHandler] for defaults). Hooks are never
// called with a lock of this package held, so they may call back into the scope. A panic
// in a hook or in an application method is recovered and becomes an error wrapping
// [ErrPanic]; it never crashes the process.
//
// Connections are anything that implements [Conn]: RTMP, RTMPT and WebSocket connections
// alike. Applications never know which protocol a client speaks.
package scope
