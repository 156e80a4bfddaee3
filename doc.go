// Package scopecast is the root of the scopecast media server module: an RTMP
// server in Go with a hierarchical scope tree, live streams, recording, remote
// shared objects, RTMPT and a WebSocket bridge. The server binary is
// cmd/scopecast; DESIGN.md (beside the repository) maps the packages.
//
// This package holds no code, only the test that enforces the import table.
package scopecast
