package admin

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/sharedobject"
)

// collector reads the server's counters at scrape time.
type collector struct {
	h *Handler

	// RTMP server (names kept from before the admin package).
	conns, accepted, bytesIn, bytesOut, rejected, protocol, slow, panics, mediaDropped, reconnects *prometheus.Desc
	// The tree.
	scopesN, streamsN, playersN *prometheus.Desc
	// RTMPT.
	tSessions, tOpened, tRefused, tExpired, tBytesIn, tBytesOut, tPending, tSends, tPolls, tBad *prometheus.Desc
	// By protocol and by reason.
	pConns, pOpened, pBytesIn, pBytesOut, rejectedBy *prometheus.Desc
	// Streams, shared objects, WebSocket, recordings.
	dropped, slowAll, soN, soUpdates, soBatches, soDropped, soSubs, wsClients, recordingsN, recBytes *prometheus.Desc
	// The authorizer (Options.Auth).
	authRefused, hookCalls, hookErrors, hookDropped *prometheus.Desc
	// Per stream (Options.PerStreamLabels).
	sPlayers, sBytes, sBitrate *prometheus.Desc
}

func newCollector(h *Handler) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("scopecast_"+name, help, labels, nil)
	}
	return &collector{
		h:            h,
		conns:        d("rtmp_connections", "Open RTMP connections (all RTMP transports)."),
		accepted:     d("rtmp_connections_accepted_total", "RTMP connections accepted on TCP listeners."),
		bytesIn:      d("rtmp_received_bytes_total", "Bytes received from RTMP clients."),
		bytesOut:     d("rtmp_sent_bytes_total", "Bytes sent to RTMP clients."),
		rejected:     d("rtmp_connects_rejected_total", "Connect commands refused."),
		protocol:     d("rtmp_protocol_errors_total", "Connections closed for bad input."),
		slow:         d("rtmp_slow_players_closed_total", "Players disconnected for falling behind."),
		panics:       d("rtmp_panics_total", "Recovered panics, each closing one connection."),
		mediaDropped: d("rtmp_media_dropped_total", "Media messages on a stream that was not publishing."),
		reconnects:   d("rtmp_reconnect_requests_total", "NetConnection.Connect.ReconnectRequest sent to clients (graceful drain)."),
		scopesN:      d("scopes", "Scopes in the tree (applications and rooms)."),
		streamsN:     d("streams", "Live streams with a publisher."),
		playersN:     d("players", "Subscribers of live streams."),

		tSessions: d("rtmpt_sessions", "Open RTMPT sessions."),
		tOpened:   d("rtmpt_sessions_opened_total", "RTMPT sessions opened."),
		tRefused:  d("rtmpt_sessions_refused_total", "RTMPT /open requests refused by a session limit."),
		tExpired:  d("rtmpt_sessions_expired_total", "RTMPT sessions ended for want of requests."),
		tBytesIn:  d("rtmpt_received_bytes_total", "RTMP bytes received in RTMPT /send bodies."),
		tBytesOut: d("rtmpt_sent_bytes_total", "RTMP bytes sent in RTMPT responses."),
		tPending:  d("rtmpt_pending_bytes", "RTMPT output waiting for polls, all sessions."),
		tSends:    d("rtmpt_sends_total", "RTMPT /send requests served."),
		tPolls:    d("rtmpt_polls_total", "RTMPT /idle requests served."),
		tBad:      d("rtmpt_bad_requests_total", "RTMPT requests answered with a 4xx status."),

		pConns:     d("connections", "Open client connections by transport (RTMP ones before connect included).", "protocol"),
		pOpened:    d("connections_opened_total", "Client connections served, by transport.", "protocol"),
		pBytesIn:   d("received_bytes_total", "Bytes received from clients, by transport.", "protocol"),
		pBytesOut:  d("sent_bytes_total", "Bytes sent to clients, by transport.", "protocol"),
		rejectedBy: d("connects_rejected_total", "Connects refused, by reason.", "reason"),

		dropped:     d("stream_dropped_packets_total", "Media packets skipped for subscribers that fell behind (players and recorders)."),
		slowAll:     d("slow_consumers_closed_total", "Stream subscribers disconnected for falling behind (all transports)."),
		soN:         d("sharedobjects", "Live shared objects."),
		soUpdates:   d("sharedobject_updates_total", "Shared-object events committed: attribute changes, removes, clears and sends."),
		soBatches:   d("sharedobject_batches_total", "Shared-object batches committed (one delivery each)."),
		soDropped:   d("sharedobject_subscribers_dropped_total", "Shared-object subscribers dropped because a delivery failed (slow or gone)."),
		soSubs:      d("sharedobject_subscribers", "Subscriptions to live shared objects."),
		wsClients:   d("websocket_clients", "Open WebSocket (shared-object bridge) clients."),
		recordingsN: d("recordings", "Recordings running."),
		recBytes:    d("recorded_bytes_total", "Bytes written to recordings."),

		authRefused: d("auth_refused_total", "Connects, publishes and plays refused by the auth rules or a hook.", "action", "by"),
		hookCalls:   d("auth_hook_requests_total", "HTTP hook requests made.", "hook"),
		hookErrors:  d("auth_hook_errors_total", "HTTP hook requests that failed (no answer, timeout; a refusal is not an error).", "hook"),
		hookDropped: d("auth_hook_notifications_dropped_total", "on_unpublish and on_record_done notifications dropped because the queue was full."),

		sPlayers: d("stream_players", "Subscribers of a live stream.", "scope", "stream"),
		sBytes:   d("stream_received_bytes_total", "Payload bytes the stream's publisher sent.", "scope", "stream"),
		sBitrate: d("stream_bitrate_bits_per_second", "The stream's bitrate over the sampler's window.", "scope", "stream"),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	opts := c.h.opts
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ct := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	st := opts.Server.Stats()
	g(c.conns, float64(st.Active.Load()))
	ct(c.accepted, st.Accepted.Load())
	in, out := opts.Server.Bytes()
	ct(c.bytesIn, in)
	ct(c.bytesOut, out)
	ct(c.rejected, st.Rejected.Load())
	ct(c.protocol, st.Protocol.Load())
	ct(c.slow, st.SlowClosed.Load())
	ct(c.panics, st.Panics.Load())
	ct(c.mediaDropped, st.MediaDropped.Load())
	ct(c.reconnects, st.ReconnectRequests.Load())
	for reason, n := range opts.Server.RejectedByReason() {
		ct(c.rejectedBy, n, reason)
	}
	if opts.Auth != nil {
		as := opts.Auth.AuthStats()
		for _, r := range as.Refusals {
			ct(c.authRefused, r.N, r.Action, r.By)
		}
		for _, hs := range as.Hooks {
			ct(c.hookCalls, hs.Calls, hs.Hook)
			ct(c.hookErrors, hs.Errors, hs.Hook)
		}
		ct(c.hookDropped, as.DoneDropped)
	}
	if opts.RTMPT != nil {
		t := opts.RTMPT.Stats()
		g(c.tSessions, float64(t.Sessions.Load()))
		ct(c.tOpened, t.Opened.Load())
		ct(c.tRefused, t.Refused.Load())
		ct(c.tExpired, t.Expired.Load())
		ct(c.tBytesIn, t.BytesIn.Load())
		ct(c.tBytesOut, t.BytesOut.Load())
		g(c.tPending, float64(t.Pending.Load()))
		ct(c.tSends, t.Sends.Load())
		ct(c.tPolls, t.Polls.Load())
		ct(c.tBad, t.BadRequests.Load())
	}

	// By protocol: the rtmp server's transports from its own counters, the
	// others from the tree and the Transports.
	type proto struct {
		conns                     int
		opened, bytesIn, bytesOut uint64
		counted                   bool // opened and bytes are known
	}
	protos := map[string]*proto{}
	get := func(name string) *proto {
		p := protos[name]
		if p == nil {
			p = &proto{}
			protos[name] = p
		}
		return p
	}
	for _, ps := range opts.Server.ProtocolStats() {
		p := get(ps.Protocol)
		p.conns, p.opened, p.bytesIn, p.bytesOut, p.counted = ps.Active, ps.Opened, ps.BytesIn, ps.BytesOut, true
	}
	for _, t := range opts.Transports {
		p := get(t.Protocol)
		if t.Opened != nil {
			p.opened += t.Opened()
			p.counted = true
		}
		if t.BytesIn != nil {
			p.bytesIn += t.BytesIn()
			p.counted = true
		}
		if t.BytesOut != nil {
			p.bytesOut += t.BytesOut()
			p.counted = true
		}
	}
	var scopes, streams, players, objects, subs int
	c.h.opts.Scopes.Walk(func(s *scope.Scope) bool {
		scopes++
		for _, x := range s.Streams() {
			if x.Publisher() != nil {
				streams++
			}
			players += x.NumSubscribers()
		}
		for _, conn := range s.Conns() {
			if _, ok := conn.(*rtmp.Conn); !ok {
				get(conn.Protocol()).conns++
			}
		}
		so := s.SharedObjects()
		for _, name := range so.Names() {
			if o := so.Lookup(name); o != nil {
				objects++
				subs += o.Subscribers()
			}
		}
		return true
	})
	g(c.scopesN, float64(scopes))
	g(c.streamsN, float64(streams))
	g(c.playersN, float64(players))
	names := make([]string, 0, len(protos))
	for name := range protos {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := protos[name]
		g(c.pConns, float64(p.conns), name)
		if p.counted {
			ct(c.pOpened, p.opened, name)
			ct(c.pBytesIn, p.bytesIn, name)
			ct(c.pBytesOut, p.bytesOut, name)
		}
	}
	ws := 0
	if p := protos["ws"]; p != nil {
		ws = p.conns
	}
	g(c.wsClients, float64(ws))
	g(c.soN, float64(objects))
	g(c.soSubs, float64(subs))

	tot := c.h.sampler.current()
	ct(c.dropped, tot.dropped)
	ct(c.slowAll, tot.slow)
	ct(c.soDropped, tot.soDropped)
	ct(c.recBytes, tot.recBytes)
	g(c.recordingsN, float64(len(opts.Server.Recordings())))
	sos := sharedobject.ProcessStats()
	ct(c.soUpdates, sos.Events)
	ct(c.soBatches, sos.Batches)

	if opts.PerStreamLabels {
		c.h.opts.Scopes.Walk(func(s *scope.Scope) bool {
			for _, x := range s.Streams() {
				ss := x.Stats()
				bps, _ := c.h.sampler.rate(x)
				g(c.sPlayers, float64(ss.Subscribers), s.Path(), x.Name())
				ct(c.sBytes, ss.BytesIn, s.Path(), x.Name())
				g(c.sBitrate, bps, s.Path(), x.Name())
			}
			return true
		})
	}
}
