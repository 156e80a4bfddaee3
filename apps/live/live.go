// Package live is the built-in live streaming application:
// rtmp://host/live[/room…]/<stream>. Anyone may publish and play (access rules
// arrive with the operator configuration); a stream name is published once per
// scope. Clients can call getLiveStreams to list what is live in their scope.
//
// Page serves the browser side: http://host:5080/live/<room…>/<stream> is a
// page that plays the stream as HTTP-FLV (or WebSocket-FLV) with the
// embedded, vendored mpegts.js (web/vendor) beside the chat of the room.
package live

import (
	"context"

	"github.com/scopecast/scopecast/scope"
)

// Name is the application's registered name.
const Name = "live"

// App is the live application's scope handler.
type App struct {
	scope.BaseHandler
}

// New returns the live application with its callable methods.
func New() *App {
	a := &App{}
	a.Methods = map[string]scope.Method{
		"getLiveStreams": a.getLiveStreams,
	}
	return a
}

// getLiveStreams returns the names of the streams publishing in the caller's scope,
// sorted (as Scope.Streams returns them).
func (a *App) getLiveStreams(_ context.Context, _ scope.Conn, s *scope.Scope, _ []any) (any, error) {
	names := []any{}
	for _, st := range s.Streams() {
		if st.Publisher() != nil {
			names = append(names, st.Name())
		}
	}
	return names, nil
}
