// Package httpflv plays live streams to browsers and HTTP clients as FLV:
// HTTP-FLV (GET /<app>/<room…>/<stream>.flv, a chunked response) and
// WebSocket-FLV (the same byte stream in binary WebSocket frames, on an
// upgrade of the same path).
//
// Each reader is a scope connection (scope.Conn, Protocol "http-flv" or
// "ws-flv"): it connects to the scope <app>/<room…> through
// scope.Global.Connect and subscribes to the stream through Scope.Subscribe,
// so the application's Connect, Join and Play hooks apply exactly as they do
// to RTMP players (the Play hook sees the name with the request's query, e.g.
// "cam1?token=abc"), and a refusal is an HTTP status before anything is
// streamed. Everything is decided before the response starts: a bad path is
// 400, an unknown application 404, a refusal 403.
//
// A response is one publishing session: the FLV header (its audio and video
// flags from what the stream carries), the cached onMetaData, the sequence
// headers and the GOP since the last keyframe, then the live packets with the
// publisher's timestamps. When the publisher stops, the response ends (the
// last chunk, or a WebSocket close 1000), so that a player reconnects and
// starts a clean FLV stream when the publisher is back. A reader that arrives
// before the publisher waits: nothing is written until the stream starts.
// Enhanced RTMP (HEVC, AV1, VP9, Opus…) packets pass through unchanged: the
// tag body is the RTMP message payload.
//
// Fan-out: readers are stream.Subscribers, with the same bounded queue and
// slow-reader policy as RTMP players (skip to the next keyframe on overflow,
// disconnect when behind for longer than the stream's MaxLag, or when one
// write takes longer than WriteTimeout). Each packet's FLV tag is encoded
// once, memoized on the packet (stream.WireKeyFLVTag), and shared by every
// reader; a reader's writer goroutine takes all that is queued and writes it
// with one writev under one deadline, its own framing (the chunk-size line or
// the WebSocket frame header) in front. Like the RTMP writer, after a write
// that carried media it holds media for MergeWindow so that one write carries
// several frames. No lock is held across a socket write.
//
// Browsers: CORS is answered for GET, HEAD and OPTIONS preflights from
// AllowedOrigins (default: any origin, as the stream is as public as its
// rtmp:// URL), and WebSocket upgrades from other origins are refused with
// 403 by the same rule. The handler decodes nothing a client sends but the
// request path: WebSocket frames from the client are read (pings answered,
// close honoured) and discarded.
package httpflv
