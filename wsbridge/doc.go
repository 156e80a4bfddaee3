// Package wsbridge is the WebSocket bridge: browsers join the same rooms, and
// the same shared objects, as RTMP clients.
//
// A request for ws://host:5080/<app>/<room…>?so=<name> (subprotocol "chat"
// accepted) resolves the scope <app>/<room…> through scope.Global.Connect,
// creating missing rooms at any depth exactly as an RTMP connect does, so the
// application's hooks (Connect, Join, Leave, Disconnect, shared-object Access)
// apply unchanged: the WebSocket connection is a scope.Conn (Protocol "ws") and
// a sharedobject.Subscriber. It then joins the transient shared object <name>
// (default "chat") and receives its state as one snapshot frame.
//
// Client frames are JSON requests (send, set, remove, clear, chat) or, for
// compatibility, Red5's chat demo form and plain text (chat messages); they
// become shared-object messages with the connection as their origin, applied
// like an RTMP client's. Server frames are JSON: the snapshot, changes,
// removals, clears and messages caused by others, acknowledgements of the
// client's own operations (never an echo), and errors. docs/websocket.md
// describes the protocol and the close codes (CloseCode).
//
// Each delivery of a shared object is rendered to JSON and framed once for
// all the clients that did not cause it (the frame bytes are shared; server
// frames are unmasked and uncompressed). Every connection has one writer
// goroutine with a bounded queue: it takes everything queued at once and
// writes it with one writev and one write deadline (control frames go through
// gorilla, from the same goroutine); a client that does not keep up is
// disconnected, never waited for. Frames are bounded
// in size and rate (a token bucket per client); pings keep connections alive
// and detect dead ones; browser origins are checked before the upgrade.
package wsbridge
