package main

import (
	"github.com/scopecast/scopecast/internal/admin"
	"github.com/scopecast/scopecast/internal/auth"
	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream/httpflv"
	"github.com/scopecast/scopecast/wsbridge"
)

// adminHandler serves the admin listener: /metrics, the JSON API under /api/,
// the status page at / and /debug/pprof (package internal/admin). Its
// sampler runs until Close. authz's counters are exported when it is not nil,
// the WebSocket bridge's (protocol "ws") when ws is not, and the FLV
// handler's (protocols "http-flv" and "ws-flv") when flv is not.
func adminHandler(srv *rtmp.Server, rtmpt *rtmp.RTMPTHandler, scopes *scope.Global, authz *auth.Authorizer, ws *wsbridge.Handler, flv *httpflv.Handler, transports ...admin.Transport) *admin.Handler {
	if ws != nil {
		transports = append(transports, admin.Transport{Protocol: "ws", Opened: ws.Opened, BytesIn: ws.BytesIn, BytesOut: ws.BytesOut})
	}
	if flv != nil {
		transports = append(transports, flvTransports(flv)...)
	}
	opts := admin.Options{Server: srv, RTMPT: rtmpt, Scopes: scopes, Transports: transports}
	if authz != nil {
		opts.Auth = authSource{authz}
	}
	return admin.New(opts)
}

// authSource shows an auth.Authorizer's counters to the admin handler.
type authSource struct{ a *auth.Authorizer }

func (s authSource) AuthStats() admin.AuthStats {
	st := s.a.Stats()
	out := admin.AuthStats{DoneDropped: st.DoneDropped,
		Refusals: make([]admin.AuthRefusals, len(st.Refusals)), Hooks: make([]admin.HookStats, len(st.Hooks))}
	for i, r := range st.Refusals {
		out.Refusals[i] = admin.AuthRefusals{Action: r.Action, By: r.By, N: r.N}
	}
	for i, h := range st.Hooks {
		out.Hooks[i] = admin.HookStats{Hook: h.Hook, Calls: h.Calls, Errors: h.Errors}
	}
	return out
}

// flvTransports are the FLV handler's counters by protocol. The readers
// receive nothing but their request, so bytes in are not counted.
func flvTransports(h *httpflv.Handler) []admin.Transport {
	return []admin.Transport{
		{Protocol: httpflv.ProtocolHTTP,
			Opened:   func() uint64 { return h.Stats().HTTP.Served },
			BytesOut: func() uint64 { return h.Stats().HTTP.BytesOut }},
		{Protocol: httpflv.ProtocolWS,
			Opened:   func() uint64 { return h.Stats().WS.Served },
			BytesOut: func() uint64 { return h.Stats().WS.BytesOut }},
	}
}
