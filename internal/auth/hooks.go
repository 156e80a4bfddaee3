package auth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/scopecast/scopecast/scope"
)

// Event is the JSON body of a hook request.
type Event struct {
	// Action is "connect", "publish", "play", "unpublish" or "record_done".
	Action string `json:"action"`
	App    string `json:"app"`
	Scope  string `json:"scope"`            // e.g. "/live/room1"
	Stream string `json:"stream,omitempty"` // the stream name without its query
	Mode   string `json:"mode,omitempty"`   // publish: "live", "record" or "append"
	// Query is the stream name's query (cam1?key=x gives {"key":"x"}), first
	// value of each parameter.
	Query map[string]string `json:"query,omitempty"`
	// ConnectQuery is the query of the connect URL (rtmp://host/live?key=x/cam1,
	// ws://host/chat/room?key=x).
	ConnectQuery map[string]string `json:"connect_query,omitempty"`
	ClientID     string            `json:"client_id,omitempty"`
	Protocol     string            `json:"protocol,omitempty"` // rtmp, rtmps, rtmpt, ws, http-flv…
	RemoteAddr   string            `json:"remote_addr,omitempty"`
	// record_done only.
	File       string `json:"file,omitempty"`
	Bytes      int64  `json:"bytes,omitempty"`
	DurationMS int64  `json:"duration_ms,omitempty"`
	Error      string `json:"error,omitempty"`
	Time       string `json:"time"` // RFC 3339, UTC

	hookURL string // where a queued notification goes
}

// HTTPDoer sends a hook request; *http.Client is one.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

func newClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	// Never follow a redirect: a hook answers itself.
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// maxBody bounds how much of a hook's answer is read.
const maxBody = 4 << 10

// post sends ev to u within timeout and returns the status code and the
// beginning of the body.
func (a *Authorizer) post(ctx context.Context, u string, timeout time.Duration, ev Event) (int, []byte, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "scopecast")
	i := actionIndex(ev.Action)
	if i < 0 {
		return 0, nil, fmt.Errorf("auth: no hook for action %q", ev.Action) // a programmer error, kept harmless
	}
	hc := &a.hooks[i]
	hc.calls.Add(1)
	resp, err := a.client.Do(req)
	if err != nil {
		hc.errors.Add(1)
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil && len(b) == 0 && resp.StatusCode/100 != 2 {
		hc.errors.Add(1)
		return 0, nil, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so that the connection is reused
	return resp.StatusCode, b, nil
}

// decide calls a deciding hook; it returns "" to allow or the reason to
// refuse.
func (a *Authorizer) decide(u string, timeout time.Duration, ev Event, c scope.Conn, s *scope.Scope) string {
	code, body, err := a.post(context.Background(), u, timeout, ev)
	if err != nil {
		reason := ReasonHookDown
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			reason = ReasonTimeout
		}
		a.log.Warn("auth: hook failed", "conn", c.ID(), "scope", s.Path(), "hook", "on_"+ev.Action, "err", err)
		return reason
	}
	if code/100 == 2 {
		return ""
	}
	return hookReason(code, body)
}

// hookReason is the reason a refusing hook gave: its JSON "reason", else the
// first line of its body, else its status.
func hookReason(code int, body []byte) string {
	var j struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &j) == nil && j.Reason != "" {
		if r := cleanReason(j.Reason); r != "" {
			return r
		}
	}
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			if r := cleanReason(sc.Text()); r != "" {
				return r
			}
		}
	}
	return fmt.Sprintf("refused by hook (HTTP %d)", code)
}

// notify queues a done notification; a full queue drops it (counted).
func (a *Authorizer) notify(u string, ev Event) {
	ev.hookURL = u
	select {
	case <-a.stop:
		a.dropped.Add(1)
		return
	default:
	}
	select {
	case a.queue <- ev:
	default:
		a.dropped.Add(1)
	}
}

// Recording is a finished recording, for on_record_done.
type Recording struct {
	Scope    string // scope path, e.g. "/live/room"
	Name     string // stream name
	File     string
	Bytes    int64
	Duration time.Duration
	Err      error // why it ended early, or nil
}

// RecordDone queues on_record_done for r (if the application of its scope
// has one). It never blocks.
func (a *Authorizer) RecordDone(r Recording) {
	app, _, _ := strings.Cut(strings.TrimPrefix(r.Scope, "/"), "/")
	p := a.policy.Load()
	u := p.hooksFor(app).OnRecordDone
	if u == "" {
		return
	}
	ev := Event{Action: "record_done", App: app, Scope: r.Scope, Stream: r.Name, File: r.File,
		Bytes: r.Bytes, DurationMS: r.Duration.Milliseconds(), Time: time.Now().UTC().Format(time.RFC3339Nano)}
	if r.Err != nil {
		ev.Error = r.Err.Error()
	}
	a.notify(u, ev)
}

// dropLogInterval is how often dropped notifications are logged, as one line.
const dropLogInterval = 10 * time.Second

// sendDone posts the queued done notifications one after another until
// Close.
func (a *Authorizer) sendDone() {
	defer a.wg.Done()
	tick := time.NewTicker(dropLogInterval)
	defer tick.Stop()
	var logged uint64
	logDrops := func() {
		if d := a.dropped.Load(); d != logged {
			a.log.Warn("auth: hook notifications dropped (queue full)", "dropped", d-logged, "total", d)
			logged = d
		}
	}
	defer logDrops()
	for {
		select { // Close first: it sends the rest itself
		case <-a.stop:
			return
		default:
		}
		select {
		case ev := <-a.queue:
			a.sendOne(a.ctx, ev)
		case <-tick.C:
			logDrops()
		case <-a.stop:
			return
		}
	}
}

func (a *Authorizer) sendOne(ctx context.Context, ev Event) {
	p := a.policy.Load()
	timeout := p.hooksFor(ev.App).Timeout
	code, body, err := a.post(ctx, ev.hookURL, timeout, ev)
	switch {
	case err != nil:
		a.log.Warn("auth: hook failed", "conn", ev.ClientID, "scope", ev.Scope, "hook", "on_"+ev.Action, "err", err)
	case code/100 != 2:
		a.log.Warn("auth: hook answered an error", "conn", ev.ClientID, "scope", ev.Scope, "hook", "on_"+ev.Action,
			"status", code, "body", cleanReason(string(body)))
	}
}

// Close stops taking done notifications and posts those still queued until
// ctx ends; then the one in flight is abandoned and the rest dropped
// (counted), and Close returns ctx's error.
func (a *Authorizer) Close(ctx context.Context) error {
	var err error
	a.stopped.Do(func() {
		close(a.stop)
		done := make(chan struct{})
		go func() {
			a.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			a.cancel() // ends the post in flight
			<-done
		}
		defer a.cancel()
		for {
			select {
			case ev := <-a.queue:
				if ctx.Err() != nil {
					a.dropped.Add(1)
					err = ctx.Err()
					continue
				}
				a.sendOne(ctx, ev)
			default:
				if err == nil {
					err = ctx.Err()
				}
				return
			}
		}
	})
	return err
}
