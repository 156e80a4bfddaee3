// Package chat is the built-in chat application: rtmp://host/chat/<room…>.
// Every room is a scope; its shared objects (by default "chat") carry the
// room's messages and state, for Flash-era RTMP clients and, through the
// WebSocket bridge, for browsers. Anyone may join, write and send.
package chat

import "github.com/scopecast/scopecast/scope"

// Name is the application's registered name.
const Name = "chat"

// App is the chat application's scope handler.
type App struct {
	scope.BaseHandler
}

// New returns the chat application.
func New() *App { return &App{} }
