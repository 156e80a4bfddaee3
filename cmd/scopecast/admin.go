package main

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/scope"
)

// adminHandler serves the admin listener: /metrics, /api/scopes, /debug/pprof.
func adminHandler(srv *rtmp.Server, rtmpt *rtmp.RTMPTHandler, scopes *scope.Global) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(newCollector(srv, rtmpt, scopes))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/scopes", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(scopeTree(scopes))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// scopeJSON is one scope in /api/scopes.
type scopeJSON struct {
	Path    string       `json:"path"`
	Conns   int          `json:"connections"`
	Streams []streamJSON `json:"streams"`
}

type streamJSON struct {
	Name        string `json:"name"`
	Publishing  bool   `json:"publishing"`
	Subscribers int    `json:"subscribers"`
}

func scopeTree(g *scope.Global) []scopeJSON {
	out := []scopeJSON{}
	g.Walk(func(s *scope.Scope) bool {
		sj := scopeJSON{Path: s.Path(), Conns: len(s.Conns()), Streams: []streamJSON{}}
		for _, st := range s.Streams() {
			sj.Streams = append(sj.Streams, streamJSON{Name: st.Name(), Publishing: st.Publisher() != nil, Subscribers: st.NumSubscribers()})
		}
		out = append(out, sj)
		return true
	})
	return out
}

// collector reads the server's counters at scrape time.
type collector struct {
	srv    *rtmp.Server
	rtmpt  *rtmp.RTMPTHandler
	scopes *scope.Global

	conns, accepted, bytesIn, bytesOut, rejected, protocol, slow, panics, mediaDropped *prometheus.Desc
	scopesN, streamsN, playersN                                                        *prometheus.Desc

	tSessions, tOpened, tRefused, tExpired, tBytesIn, tBytesOut, tPending, tSends, tPolls, tBad *prometheus.Desc
}

func newCollector(srv *rtmp.Server, rtmpt *rtmp.RTMPTHandler, scopes *scope.Global) *collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("scopecast_"+name, help, nil, nil)
	}
	return &collector{
		srv: srv, rtmpt: rtmpt, scopes: scopes,
		conns:        d("rtmp_connections", "Open RTMP connections."),
		accepted:     d("rtmp_connections_accepted_total", "RTMP connections accepted."),
		bytesIn:      d("rtmp_received_bytes_total", "Bytes received from RTMP clients."),
		bytesOut:     d("rtmp_sent_bytes_total", "Bytes sent to RTMP clients."),
		rejected:     d("rtmp_connects_rejected_total", "Connect commands refused."),
		protocol:     d("rtmp_protocol_errors_total", "Connections closed for bad input."),
		slow:         d("rtmp_slow_players_closed_total", "Players disconnected for falling behind."),
		panics:       d("rtmp_panics_total", "Recovered panics, each closing one connection."),
		mediaDropped: d("rtmp_media_dropped_total", "Media messages on a stream that was not publishing."),
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
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	ct := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	g(c.conns, float64(st.Active.Load()))
	ct(c.accepted, st.Accepted.Load())
	ct(c.bytesIn, st.BytesIn.Load())
	ct(c.bytesOut, st.BytesOut.Load())
	ct(c.rejected, st.Rejected.Load())
	ct(c.protocol, st.Protocol.Load())
	ct(c.slow, st.SlowClosed.Load())
	ct(c.panics, st.Panics.Load())
	ct(c.mediaDropped, st.MediaDropped.Load())
	var scopes, streams, players int
	c.scopes.Walk(func(s *scope.Scope) bool {
		scopes++
		for _, x := range s.Streams() {
			if x.Publisher() != nil {
				streams++
			}
			players += x.NumSubscribers()
		}
		return true
	})
	t := c.rtmpt.Stats()
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
	g(c.scopesN, float64(scopes))
	g(c.streamsN, float64(streams))
	g(c.playersN, float64(players))
}
