package main

import (
	"github.com/scopecast/scopecast/internal/admin"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
)

// adminHandler serves the admin listener: /metrics, the JSON API under /api/,
// the status page at / and /debug/pprof (package internal/admin). Its
// sampler runs until Close.
func adminHandler(srv *rtmp.Server, rtmpt *rtmp.RTMPTHandler, scopes *scope.Global, transports ...admin.Transport) *admin.Handler {
	return admin.New(admin.Options{Server: srv, RTMPT: rtmpt, Scopes: scopes, Transports: transports})
}
