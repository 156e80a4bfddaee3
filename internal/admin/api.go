package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/scopecast/scopecast/rtmp"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
	"github.com/scopecast/scopecast/wsbridge"
)

func (h *Handler) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/overview", h.getOverview)
	mux.HandleFunc("GET /api/scopes", h.getScopes)
	mux.HandleFunc("GET /api/streams", h.getStreams)
	mux.HandleFunc("DELETE /api/streams/{path...}", h.stopStream)
	mux.HandleFunc("POST /api/streams/{path...}", h.postStream)
	mux.HandleFunc("GET /api/clients", h.getClients)
	mux.HandleFunc("GET /api/clients/{id}", h.getClient)
	mux.HandleFunc("DELETE /api/clients/{id}", h.kickClient)
	mux.HandleFunc("GET /api/recordings", h.getRecordings)
	mux.HandleFunc("POST /api/recordings", h.startRecording)
	mux.HandleFunc("DELETE /api/recordings", h.stopRecording)
	mux.HandleFunc("GET /api/sharedobjects", h.getSharedObjects)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// ScopeJSON is one scope of GET /api/scopes, its rooms nested.
type ScopeJSON struct {
	Path          string           `json:"path"`
	Name          string           `json:"name"`
	Connections   int              `json:"connections"`
	Streams       []ScopeStreamRef `json:"streams"`
	SharedObjects []string         `json:"shared_objects"`
	Children      []*ScopeJSON     `json:"children"`
}

// ScopeStreamRef is a stream in the scope tree.
type ScopeStreamRef struct {
	Name        string `json:"name"`
	Publishing  bool   `json:"publishing"`
	Subscribers int    `json:"subscribers"`
}

func (h *Handler) scopeTree() []*ScopeJSON {
	roots := []*ScopeJSON{}
	byScope := map[*scope.Scope]*ScopeJSON{}
	h.opts.Scopes.Walk(func(s *scope.Scope) bool {
		n := &ScopeJSON{Path: s.Path(), Name: s.Name(), Connections: len(s.Conns()),
			Streams: []ScopeStreamRef{}, SharedObjects: s.SharedObjects().Names(), Children: []*ScopeJSON{}}
		if n.SharedObjects == nil {
			n.SharedObjects = []string{}
		}
		for _, st := range s.Streams() {
			n.Streams = append(n.Streams, ScopeStreamRef{Name: st.Name(), Publishing: st.Publisher() != nil, Subscribers: st.NumSubscribers()})
		}
		byScope[s] = n
		if p := byScope[s.Parent()]; s.Parent() != nil && p != nil {
			p.Children = append(p.Children, n)
		} else {
			roots = append(roots, n)
		}
		return true
	})
	return roots
}

func (h *Handler) getScopes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.scopeTree())
}

// StreamJSON is one live stream of GET /api/streams.
type StreamJSON struct {
	Scope       string          `json:"scope"`
	Name        string          `json:"name"`
	Publishing  bool            `json:"publishing"`
	Publisher   *ClientRef      `json:"publisher"`
	VideoCodec  string          `json:"video_codec"`
	AudioCodec  string          `json:"audio_codec"`
	Metadata    json.RawMessage `json:"metadata"`    // the publisher's onMetaData object (width, height, framerate, encoder, …), or null
	BitrateBPS  float64         `json:"bitrate_bps"` // bits per second, averaged over the sampler's window
	BytesIn     uint64          `json:"bytes_in"`
	PacketsIn   uint64          `json:"packets_in"`
	Players     int             `json:"players"`
	Dropped     uint64          `json:"dropped"`
	SlowClosed  uint64          `json:"slow_closed"`
	Recording   *RecordingJSON  `json:"recording"`
	HistoryBPS  []float64       `json:"history_bps"` // one point per sample, oldest first
	SampleEvery float64         `json:"sample_interval_s"`
}

// metaLimits bound the decoding of a publisher's onMetaData.
var metaLimits = amf.Limits{MaxDepth: 8, MaxStringLen: 16 << 10, MaxElements: 256, MaxTotal: 1024}

// metadataJSON returns the object of an onMetaData packet ("onMetaData",
// object), or of a @setDataFrame one, as JSON; null if there is none or it
// does not decode.
func metadataJSON(p *stream.Packet) json.RawMessage {
	null := json.RawMessage("null")
	if p == nil {
		return null
	}
	vals, err := amf.DecodeAMF0All(p.Payload, metaLimits)
	if err != nil {
		return null
	}
	for _, v := range vals {
		switch v.(type) {
		case *amf.Object, *amf.ECMAArray:
			return json.RawMessage(wsbridge.AppendJSON(nil, v))
		}
	}
	return null
}

// ClientRef names a client.
type ClientRef struct {
	ID       string `json:"id"`
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
}

func refOf(c scope.Conn) *ClientRef {
	return &ClientRef{ID: c.ID(), Protocol: c.Protocol(), Address: c.RemoteAddr()}
}

func (h *Handler) streams() []StreamJSON {
	recs := map[string]*RecordingJSON{}
	for _, ri := range h.opts.Server.Recordings() {
		recs[ri.Scope+"\x00"+ri.Name] = recordingJSON(ri)
	}
	out := []StreamJSON{}
	h.opts.Scopes.Walk(func(s *scope.Scope) bool {
		for _, st := range s.Streams() {
			ss := st.Stats()
			bps, hist := h.sampler.rate(st)
			sj := StreamJSON{
				Scope: s.Path(), Name: st.Name(), Publishing: ss.Publishing,
				VideoCodec: videoCodec(ss.VideoCodec), AudioCodec: audioCodec(ss.AudioCodec),
				BitrateBPS: bps, BytesIn: ss.BytesIn, PacketsIn: ss.PacketsIn, Players: ss.Subscribers,
				Dropped: ss.Dropped, SlowClosed: ss.SlowDisconnects, Recording: recs[s.Path()+"\x00"+st.Name()],
				HistoryBPS: hist, SampleEvery: h.opts.SampleInterval.Seconds(),
			}
			if c, ok := st.Publisher().(scope.Conn); ok {
				sj.Publisher = refOf(c)
			}
			sj.Metadata = metadataJSON(st.Metadata())
			out = append(out, sj)
		}
		return true
	})
	return out
}

func (h *Handler) getStreams(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.streams())
}

// splitStreamPath splits "live/room/cam" into the scope "/live/room" and the
// stream "cam".
func splitStreamPath(p string) (scopePath, name string, ok bool) {
	p = strings.Trim(p, "/")
	i := strings.LastIndexByte(p, '/')
	if i <= 0 || i == len(p)-1 {
		return "", "", false
	}
	return "/" + p[:i], p[i+1:], true
}

func (h *Handler) postStream(w http.ResponseWriter, r *http.Request) {
	p, ok := strings.CutSuffix(r.PathValue("path"), "/stop")
	if !ok {
		writeError(w, http.StatusNotFound, "POST /api/streams/{scope}/{name}/stop is the only stream action")
		return
	}
	h.doStopStream(w, p)
}

func (h *Handler) stopStream(w http.ResponseWriter, r *http.Request) {
	h.doStopStream(w, r.PathValue("path"))
}

// doStopStream closes the publisher's connection: its players get
// NetStream.Play.UnpublishNotify as when a publisher leaves, and a recording
// of the stream is finalized.
func (h *Handler) doStopStream(w http.ResponseWriter, path string) {
	scopePath, name, ok := splitStreamPath(path)
	if !ok {
		writeError(w, http.StatusBadRequest, "want /api/streams/{scope path}/{stream name}")
		return
	}
	s := h.opts.Scopes.Lookup(scopePath)
	var st *stream.Stream
	if s != nil {
		st = s.Stream(name)
	}
	if st == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no stream %q in %s", name, scopePath))
		return
	}
	c, ok := st.Publisher().(scope.Conn)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("stream %q in %s is not publishing", name, s.Path()))
		return
	}
	c.Close(fmt.Errorf("%w: stream %s/%s stopped", rtmp.ErrKicked, s.Path(), name))
	h.log.Info("admin: stream stopped", "scope", s.Path(), "stream", name, "conn", c.ID())
	writeJSON(w, http.StatusOK, map[string]any{"scope": s.Path(), "name": name, "stopped": true, "publisher": refOf(c)})
}

// ClientJSON is one client of GET /api/clients.
type ClientJSON struct {
	ID          string     `json:"id"`
	Protocol    string     `json:"protocol"`
	Address     string     `json:"address"`
	Scope       string     `json:"scope"` // "" before connect
	BytesIn     *uint64    `json:"bytes_in"`
	BytesOut    *uint64    `json:"bytes_out"`
	ConnectedAt *time.Time `json:"connected_at"`
	Publishing  []string   `json:"publishing"`
}

// Optional accessors of connections (rtmp.Conn and the WebSocket bridge's
// have all three; HTTP-FLV readers count only what they send).
type (
	bytesInCounter  interface{ BytesIn() uint64 }
	bytesOutCounter interface{ BytesOut() uint64 }
	connectedAt     interface{ ConnectedAt() time.Time }
)

// clients lists the rtmp server's connections (some not yet connected) and
// every scope connection, with the scope object each is in.
func (h *Handler) clients() ([]ClientJSON, map[string]scope.Conn) {
	conns := map[string]scope.Conn{}
	scopeOf := map[string]string{}
	publishing := map[string][]string{}
	for _, c := range h.opts.Server.Conns() {
		conns[c.ID()] = c
	}
	h.opts.Scopes.Walk(func(s *scope.Scope) bool {
		for _, c := range s.Conns() {
			conns[c.ID()] = c
			scopeOf[c.ID()] = s.Path()
		}
		for _, st := range s.Streams() {
			if c, ok := st.Publisher().(scope.Conn); ok {
				publishing[c.ID()] = append(publishing[c.ID()], s.Path()+"/"+st.Name())
			}
		}
		return true
	})
	out := make([]ClientJSON, 0, len(conns))
	for id, c := range conns {
		cj := ClientJSON{ID: id, Protocol: c.Protocol(), Address: c.RemoteAddr(), Scope: scopeOf[id], Publishing: publishing[id]}
		if cj.Publishing == nil {
			cj.Publishing = []string{}
		}
		if bc, ok := c.(bytesInCounter); ok {
			in := bc.BytesIn()
			cj.BytesIn = &in
		}
		if bc, ok := c.(bytesOutCounter); ok {
			out := bc.BytesOut()
			cj.BytesOut = &out
		}
		if ca, ok := c.(connectedAt); ok {
			t := ca.ConnectedAt().UTC()
			cj.ConnectedAt = &t
		}
		out = append(out, cj)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].ID) != len(out[j].ID) {
			return len(out[i].ID) < len(out[j].ID)
		}
		return out[i].ID < out[j].ID
	})
	return out, conns
}

func (h *Handler) getClients(w http.ResponseWriter, r *http.Request) {
	out, _ := h.clients()
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) getClient(w http.ResponseWriter, r *http.Request) {
	out, _ := h.clients()
	id := r.PathValue("id")
	for _, c := range out {
		if c.ID == id {
			writeJSON(w, http.StatusOK, c)
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no client %q", id))
}

// kickClient closes a client's connection with rtmp.ErrKicked.
func (h *Handler) kickClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, conns := h.clients()
	c := conns[id]
	if c == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no client %q", id))
		return
	}
	c.Close(rtmp.ErrKicked)
	h.log.Info("admin: client kicked", "conn", id, "proto", c.Protocol(), "remote", c.RemoteAddr())
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "kicked": true, "protocol": c.Protocol(), "address": c.RemoteAddr()})
}

// RecordingJSON is a running recording.
type RecordingJSON struct {
	Scope       string  `json:"scope"`
	Name        string  `json:"name"`
	File        string  `json:"file"`
	ByPublisher bool    `json:"by_publisher"` // publish "record"/"append" rather than the API
	Append      bool    `json:"append"`
	Bytes       int64   `json:"bytes"`
	Tags        uint64  `json:"tags"`
	DurationS   float64 `json:"duration_s"`
	Dropped     uint64  `json:"dropped"`
}

func recordingJSON(ri rtmp.RecordingInfo) *RecordingJSON {
	return &RecordingJSON{Scope: ri.Scope, Name: ri.Name, File: ri.Path, ByPublisher: ri.Publisher, Append: ri.Append,
		Bytes: ri.Stats.Bytes, Tags: ri.Stats.Tags, DurationS: ri.Stats.Duration.Seconds(), Dropped: ri.Stats.Dropped}
}

func (h *Handler) getRecordings(w http.ResponseWriter, r *http.Request) {
	out := []*RecordingJSON{}
	for _, ri := range h.opts.Server.Recordings() {
		out = append(out, recordingJSON(ri))
	}
	writeJSON(w, http.StatusOK, out)
}

// recordingRequest is the body of POST /api/recordings (query parameters
// scope, name and append do as well).
type recordingRequest struct {
	Scope  string `json:"scope"`
	Name   string `json:"name"`
	Append bool   `json:"append"`
}

func readRecordingRequest(r *http.Request) (recordingRequest, error) {
	var req recordingRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return req, err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return req, fmt.Errorf("body: %w", err)
		}
	}
	q := r.URL.Query()
	if req.Scope == "" {
		req.Scope = q.Get("scope")
	}
	if req.Name == "" {
		req.Name = q.Get("name")
	}
	if q.Get("append") == "true" || q.Get("append") == "1" {
		req.Append = true
	}
	if req.Scope == "" || req.Name == "" {
		return req, errors.New("scope and name are required")
	}
	return req, nil
}

// recordingStatus maps the rtmp recording API's errors to HTTP statuses.
func recordingStatus(err error) int {
	switch {
	case errors.Is(err, rtmp.ErrNoStream), errors.Is(err, rtmp.ErrNotRecording):
		return http.StatusNotFound
	case errors.Is(err, rtmp.ErrAlreadyRecording), errors.Is(err, flv.ErrRecordBusy):
		return http.StatusConflict
	case errors.Is(err, flv.ErrBadName):
		return http.StatusBadRequest
	case errors.Is(err, rtmp.ErrRecordingDisabled), errors.Is(err, rtmp.ErrServerClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// recordingMessage is the error text for a client: the OS error of a failed
// file is logged, not returned (it names server paths).
func recordingMessage(err error) string {
	switch {
	case errors.Is(err, rtmp.ErrNoStream):
		return "no such live stream"
	case errors.Is(err, rtmp.ErrNotRecording):
		return "the stream is not being recorded"
	case errors.Is(err, rtmp.ErrAlreadyRecording), errors.Is(err, flv.ErrRecordBusy):
		return "the stream is already being recorded"
	case errors.Is(err, flv.ErrBadName):
		return "the stream name cannot be a file name"
	case errors.Is(err, rtmp.ErrRecordingDisabled):
		return "recording is disabled on this server"
	case errors.Is(err, rtmp.ErrServerClosed):
		return "the server is shutting down"
	}
	return "the recording failed (see the server log)"
}

func (h *Handler) startRecording(w http.ResponseWriter, r *http.Request) {
	req, err := readRecordingRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := h.opts.Server.StartRecording(req.Scope, req.Name, req.Append); err != nil {
		h.log.Info("admin: recording not started", "scope", req.Scope, "stream", req.Name, "err", err)
		writeError(w, recordingStatus(err), recordingMessage(err))
		return
	}
	sc := h.opts.Scopes.Lookup(req.Scope)
	for _, ri := range h.opts.Server.Recordings() {
		if sc != nil && ri.Scope == sc.Path() && ri.Name == req.Name {
			writeJSON(w, http.StatusCreated, recordingJSON(ri))
			return
		}
	}
	// Stopped already (the publisher left at once): still created.
	writeJSON(w, http.StatusCreated, map[string]any{"scope": req.Scope, "name": req.Name})
}

func (h *Handler) stopRecording(w http.ResponseWriter, r *http.Request) {
	req, err := readRecordingRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var file string
	if sc := h.opts.Scopes.Lookup(req.Scope); sc != nil {
		for _, ri := range h.opts.Server.Recordings() {
			if ri.Scope == sc.Path() && ri.Name == req.Name {
				file = ri.Path
			}
		}
	}
	if err := h.opts.Server.StopRecording(req.Scope, req.Name); err != nil {
		h.log.Info("admin: recording stop", "scope", req.Scope, "stream", req.Name, "err", err)
		writeError(w, recordingStatus(err), recordingMessage(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"scope": req.Scope, "name": req.Name, "file": file, "stopped": true})
}

// SharedObjectJSON is one live shared object of GET /api/sharedobjects.
type SharedObjectJSON struct {
	Scope       string                     `json:"scope"`
	Name        string                     `json:"name"`
	Persistent  bool                       `json:"persistent"`
	Version     uint32                     `json:"version"`
	Subscribers int                        `json:"subscribers"`
	Attributes  map[string]json.RawMessage `json:"attributes,omitempty"`
}

// getSharedObjects lists the live shared objects of ?scope= with their
// attributes (AMF values as JSON, as the WebSocket bridge writes them), or of
// every scope without attributes.
func (h *Handler) getSharedObjects(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("scope")
	var scopes []*scope.Scope
	if path != "" {
		s := h.opts.Scopes.Lookup(path)
		if s == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no scope %q", path))
			return
		}
		scopes = append(scopes, s)
	} else {
		h.opts.Scopes.Walk(func(s *scope.Scope) bool {
			scopes = append(scopes, s)
			return true
		})
	}
	out := []SharedObjectJSON{}
	for _, s := range scopes {
		c := s.SharedObjects()
		for _, name := range c.Names() {
			so := c.Lookup(name)
			if so == nil {
				continue
			}
			sj := SharedObjectJSON{Scope: s.Path(), Name: name, Persistent: so.Persistent(), Version: so.Version(), Subscribers: so.Subscribers()}
			if path != "" {
				sj.Attributes = map[string]json.RawMessage{}
				for k, v := range so.Attributes() {
					sj.Attributes[k] = json.RawMessage(wsbridge.AppendJSON(nil, v))
				}
			}
			out = append(out, sj)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// OverviewJSON is what the status page draws, in one request.
type OverviewJSON struct {
	Time        time.Time      `json:"time"`
	Protocols   map[string]int `json:"protocols"` // open connections by transport
	Clients     int            `json:"clients"`
	Scopes      []*ScopeJSON   `json:"scopes"`
	Streams     []StreamJSON   `json:"streams"`
	Recordings  int            `json:"recordings"`
	SampleEvery float64        `json:"sample_interval_s"`
}

func (h *Handler) getOverview(w http.ResponseWriter, r *http.Request) {
	clients, _ := h.clients()
	ov := OverviewJSON{Time: time.Now().UTC(), Protocols: map[string]int{}, Clients: len(clients),
		Scopes: h.scopeTree(), Streams: h.streams(), Recordings: len(h.opts.Server.Recordings()),
		SampleEvery: h.opts.SampleInterval.Seconds()}
	for _, c := range clients {
		ov.Protocols[c.Protocol]++
	}
	writeJSON(w, http.StatusOK, ov)
}

// Codec names for the API: legacy FLV codec ids and sound formats, and the
// Enhanced RTMP FourCCs; anything else as stream.CodecString gives it.
var (
	videoCodecs = map[string]string{"2": "h263", "3": "screen", "4": "vp6", "5": "vp6a", "6": "screen2", "7": "h264", "12": "hevc",
		"avc1": "h264", "hvc1": "hevc", "av01": "av1", "vp09": "vp9", "vp08": "vp8"}
	audioCodecs = map[string]string{"0": "pcm", "1": "adpcm", "2": "mp3", "3": "pcm", "4": "nellymoser", "5": "nellymoser", "6": "nellymoser",
		"7": "g711a", "8": "g711u", "10": "aac", "11": "speex", "14": "mp3",
		"mp4a": "aac", "Opus": "opus", "fLaC": "flac", "ac-3": "ac3", "ec-3": "eac3", ".mp3": "mp3"}
)

func videoCodec(id uint32) string { return codecName(videoCodecs, id) }
func audioCodec(id uint32) string { return codecName(audioCodecs, id) }

func codecName(names map[string]string, id uint32) string {
	s := stream.CodecString(id)
	if n, ok := names[s]; ok {
		return n
	}
	return s
}
