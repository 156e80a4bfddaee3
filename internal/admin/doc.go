// Package admin serves scopecast's admin listener: Prometheus metrics
// (/metrics), the JSON admin API (/api/...), the live status page (/) and
// pprof (/debug/pprof/).
//
// The handler reads the RTMP server, the RTMPT handler and the scope tree; the
// connections of other transports (WebSocket, HTTP-FLV) are found in the scope
// tree as scope connections, and their byte counters come in through
// [Transport] values, so that this package imports no transport but rtmp
// (and wsbridge only for its AMF-to-JSON encoder, AppendJSON).
//
// A sampler goroutine, owned by the [Handler] and stopped by [Handler.Close],
// reads every stream's counters once a second: it measures bitrates over a
// sliding window (the status page's sparklines) and folds counters that live
// on short-lived objects (a stream's dropped packets, a recording's bytes)
// into process-wide totals, so that the exported counters never go down.
//
// Metric labels are bounded: protocol, reject reason. Per-stream labels
// (scope, stream) are off unless [Options.PerStreamLabels] is set.
//
// The listener is meant for operators (127.0.0.1 by default). Requests that
// change something use POST or DELETE, never GET, and are refused when a
// browser sends them from another origin.
package admin
