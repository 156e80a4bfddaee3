package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scopecast/scopecast/stream/flv"
)

// parseFLVURL recognises an HTTP-FLV (http://…/stream.flv) or WebSocket-FLV
// (ws://…/stream.flv) player URL. ok is false for other schemes (RTMP,
// RTMPT), which the caller handles.
func parseFLVURL(s string) (u *url.URL, ok bool, err error) {
	if s == "" {
		return nil, false, nil
	}
	u, err = url.Parse(s)
	if err != nil {
		return nil, false, fmt.Errorf("-player-url %q: %w", s, err)
	}
	switch u.Scheme {
	case "http", "ws":
	case "https", "wss":
		return nil, false, fmt.Errorf("-player-url %q: TLS is not supported by the tool; use http:// or ws://", s)
	default:
		return nil, false, nil
	}
	if u.Host == "" || !strings.HasSuffix(u.Path, ".flv") {
		return nil, false, fmt.Errorf("-player-url %q: want http://host[:port]/app[/room…]/stream.flv or ws://…", s)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	return u, true, nil
}

// playFLV runs one HTTP-FLV or WebSocket-FLV player until the end of the
// run: it counts the FLV tags it reads exactly as an RTMP player counts
// messages. It is connected once the response (or the upgrade) is in.
func (r *bench) playFLV(ctx context.Context, p *player) {
	u := r.flvURL
	d := &net.Dialer{Timeout: r.cfg.PlayTO}
	if p.local != nil {
		d.LocalAddr = p.local
	}
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		p.err = connectErr("connect", err, r)
		return
	}
	defer nc.Close()
	if !r.register(nc) {
		p.err = errors.New("connect: not finished by the end of the run")
		return
	}
	defer r.unregister(nc)
	nc.SetDeadline(time.Now().Add(r.cfg.PlayTO))
	p.playSent = time.Now()
	var body io.Reader
	if u.Scheme == "ws" {
		wd := websocket.Dialer{
			NetDial:          func(string, string) (net.Conn, error) { return nc, nil },
			HandshakeTimeout: r.cfg.PlayTO,
			ReadBufferSize:   64 << 10,
		}
		ws, resp, err := wd.DialContext(ctx, u.String(), nil)
		if err != nil {
			if resp != nil {
				err = fmt.Errorf("HTTP %s", resp.Status)
			}
			p.err = connectErr("play", err, r)
			return
		}
		body = &wsStream{ws: ws}
	} else {
		req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: scopecast-bench\r\n\r\n"
		if _, err := io.WriteString(nc, req); err != nil {
			p.err = connectErr("play", err, r)
			return
		}
		br := bufio.NewReaderSize(nc, 64<<10)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			p.err = connectErr("play", err, r)
			return
		}
		if resp.StatusCode != http.StatusOK {
			p.err = fmt.Errorf("play: HTTP %s", resp.Status)
			return
		}
		body = resp.Body
	}
	nc.SetDeadline(r.endAt)
	r.joined(p)
	fr, err := flv.NewReader(body)
	if err != nil {
		r.readEnded(p, err)
		return
	}
	for {
		tag, err := fr.ReadTag()
		if err != nil {
			r.readEnded(p, err)
			return
		}
		if r.receive(p, nil, tag.Type, tag.Timestamp, tag.Data) {
			return
		}
	}
}

// wsStream is the byte stream of a WebSocket-FLV connection: its binary
// messages, concatenated.
type wsStream struct {
	ws  *websocket.Conn
	cur io.Reader
}

func (s *wsStream) Read(b []byte) (int, error) {
	for {
		if s.cur != nil {
			n, err := s.cur.Read(b)
			if err == io.EOF {
				s.cur = nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		typ, rd, err := s.ws.NextReader()
		if err != nil {
			return 0, err
		}
		if typ != websocket.BinaryMessage {
			return 0, errors.New("websocket-flv: a text message")
		}
		s.cur = rd
	}
}
