package rtmp

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
)

// Recording errors of the server API, wrapped with detail; test with
// errors.Is. Errors of package flv (flv.ErrBadName, flv.ErrRecordAccess, …)
// come through wrapped as they are.
var (
	ErrRecordingDisabled = errors.New("rtmp: recording is disabled (Server.StreamsDir is empty)")
	ErrNoStream          = errors.New("rtmp: no such live stream")
	ErrAlreadyRecording  = errors.New("rtmp: the stream is already being recorded")
	ErrNotRecording      = errors.New("rtmp: the stream is not being recorded")
)

// recording is one running recorder of a live stream, registered in the
// server under its scope path and stream name. It ends in exactly one of
// three ways, decided by whoever takes it out of the registry first: a stop
// (the publisher leaves, StopRecording, Shutdown), or the recorder ending by
// itself (a write error, the stream closed), which the watcher reports.
type recording struct {
	key       string
	scopePath string
	name      string
	rec       *flv.Recorder // nil while the recorder starts
	conn      *Conn         // the publisher that asked (publish record/append), or nil
	msid      uint32
	append    bool
	announced chan struct{} // closed once Record.Start went out: NoAccess must follow it
}

func recKey(scopePath, name string) string { return scopePath + "\x00" + name }

// RecordingInfo describes a running recording.
type RecordingInfo struct {
	Scope     string // scope path, e.g. "/live/room"
	Name      string // stream name
	Path      string // the file
	Publisher bool   // started by the publisher (publish "record"/"append") rather than StartRecording
	Append    bool
	Stats     flv.RecorderStats
}

// Recordings returns the running recordings, sorted by scope and name.
func (s *Server) Recordings() []RecordingInfo {
	s.recMu.Lock()
	out := make([]RecordingInfo, 0, len(s.recs))
	for _, r := range s.recs {
		if r.rec == nil {
			continue
		}
		out = append(out, r.info())
	}
	s.recMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Scope != out[j].Scope {
			return out[i].Scope < out[j].Scope
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// StartRecording records the live stream name of the scope at scopePath
// (e.g. "live/room") to StreamsDir/<scope path>/<name>.flv, continuing the
// file's timeline if appendMode is set (a new file otherwise). The recording
// starts at the stream's next keyframe and runs until StopRecording, until
// the stream's publisher stops, or until the file cannot be written. Errors
// wrap ErrRecordingDisabled, ErrNoStream, ErrAlreadyRecording, ErrServerClosed
// or the flv package's errors (flv.ErrBadName, flv.ErrRecordAccess,
// flv.ErrRecordAppend, flv.ErrRecordBusy).
func (s *Server) StartRecording(scopePath, name string, appendMode bool) error {
	if s.StreamsDir == "" {
		return ErrRecordingDisabled
	}
	sc := s.Scopes.Lookup(scopePath)
	if sc == nil {
		return fmt.Errorf("%w: no scope %q", ErrNoStream, scopePath)
	}
	st := sc.Stream(name)
	if st == nil || st.Publisher() == nil {
		return fmt.Errorf("%w: %q is not publishing in %s", ErrNoStream, name, sc.Path())
	}
	r, err := s.startRecording(st, sc, name, appendMode, nil, 0)
	if err != nil {
		return err
	}
	close(r.announced)
	s.logger().Info("recording started", "scope", sc.Path(), "stream", name, "file", r.rec.Path(), "append", appendMode)
	return nil
}

// StopRecording stops the recording of stream name in the scope at
// scopePath, whoever started it (a publisher in record mode gets
// NetStream.Record.Stop and goes on live), and finalizes the file. It returns
// an error wrapping ErrNotRecording if there is none, or why the recorder
// failed.
func (s *Server) StopRecording(scopePath, name string) error {
	sc := s.Scopes.Lookup(scopePath)
	if sc == nil {
		return fmt.Errorf("%w: no scope %q", ErrNotRecording, scopePath)
	}
	s.recMu.Lock()
	r := s.recs[recKey(sc.Path(), name)]
	s.recMu.Unlock()
	if r == nil || r.rec == nil {
		return fmt.Errorf("%w: %q in %s", ErrNotRecording, name, sc.Path())
	}
	return s.stopRecording(r, true)
}

// recordFileName expands a RecordName template for stream name at t.
func recordFileName(template, name string, t time.Time) string {
	if template == "" {
		return name
	}
	return strings.NewReplacer(
		"{name}", name,
		"{date}", t.Format("20060102"),
		"{time}", t.Format("150405"),
		"{unix}", strconv.FormatInt(t.Unix(), 10),
	).Replace(template)
}

// startRecording registers a recording of st and starts its recorder.
// c and msid name the publisher to notify (nil for the server API). The
// caller closes r.announced once it has sent Record.Start.
func (s *Server) startRecording(st *stream.Stream, sc *scope.Scope, name string, appendMode bool, c *Conn, msid uint32) (*recording, error) {
	if s.StreamsDir == "" {
		return nil, ErrRecordingDisabled
	}
	path, err := flv.SafePath(s.StreamsDir, sc.Path(), recordFileName(s.RecordName, name, time.Now()))
	if err != nil {
		return nil, err
	}
	r := &recording{key: recKey(sc.Path(), name), scopePath: sc.Path(), name: name, conn: c, msid: msid,
		append: appendMode, announced: make(chan struct{})}
	s.recMu.Lock()
	switch {
	case s.recClosed:
		s.recMu.Unlock()
		return nil, ErrServerClosed
	case s.recs[r.key] != nil:
		s.recMu.Unlock()
		return nil, fmt.Errorf("%w: %q in %s", ErrAlreadyRecording, name, sc.Path())
	}
	if s.recs == nil {
		s.recs = make(map[string]*recording)
	}
	s.recs[r.key] = r // reserved: r.rec is nil until the recorder runs
	s.recMu.Unlock()

	log := s.logger()
	if c != nil {
		log = c.log
	}
	rec, err := flv.StartRecorder(st, path, flv.RecorderOptions{
		Append:        appendMode,
		FlushInterval: s.RecordFlushInterval,
		QueueLen:      s.RecordQueueLen,
		Logger:        log.With("stream", name),
	})
	s.recMu.Lock()
	if err != nil {
		delete(s.recs, r.key)
		s.recMu.Unlock()
		return nil, err
	}
	if s.recClosed { // Shutdown came meanwhile and did not see it
		delete(s.recs, r.key)
		s.recMu.Unlock()
		rec.Stop()
		return nil, ErrServerClosed
	}
	r.rec = rec
	s.recWG.Add(1) // under recMu, never after stopRecordings started waiting
	s.recMu.Unlock()
	go s.watch(r)
	return r, nil
}

// unregister takes r out of the registry; only the first caller gets true
// and decides how r ends.
func (s *Server) unregister(r *recording) bool {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if s.recs[r.key] != r {
		return false
	}
	delete(s.recs, r.key)
	return true
}

// watch waits for r's recorder to end. If it ended by itself (a full disk,
// an unwritable file, the stream closed), it reports it: in the log and,
// for a publisher's own recording, with NetStream.Record.NoAccess.
func (s *Server) watch(r *recording) {
	defer s.recWG.Done()
	<-r.rec.Done()
	if !s.unregister(r) {
		return // stopped: the stopper reports
	}
	err := r.rec.Err()
	st := r.rec.Stats()
	log := s.logger()
	if r.conn != nil {
		log = r.conn.log
	}
	log.Warn("recording ended", "scope", r.scopePath, "stream", r.name, "file", r.rec.Path(), "err", err,
		"duration", st.Duration, "bytes", st.Bytes)
	repairAfterWriteError(log, r.rec)
	s.recordDone(r, err)
	if r.conn != nil && !errors.Is(err, flv.ErrRecordStream) {
		<-r.announced
		r.conn.sendStatus(r.msid, recordFailure(r.name, err))
	}
}

// stopRecording stops r's recorder, which finalizes the file, unless it
// ended or was stopped already; notify sends NetStream.Record.Stop to its
// publisher.
func (s *Server) stopRecording(r *recording, notify bool) error {
	if !s.unregister(r) {
		return nil
	}
	err := r.rec.Stop()
	st := r.rec.Stats()
	log := s.logger()
	if r.conn != nil {
		log = r.conn.log
	}
	log.Info("recording stopped", "scope", r.scopePath, "stream", r.name, "file", r.rec.Path(),
		"duration", st.Duration, "bytes", st.Bytes, "dropped", st.Dropped, "err", err)
	repairAfterWriteError(log, r.rec)
	s.recordDone(r, err)
	if notify && r.conn != nil {
		r.conn.sendStatus(r.msid, recordStatus(codeRecordStop, r.name))
	}
	return err
}

// recordDone calls OnRecordDone for the ended recording r on a goroutine of
// its own, counted in recWG so that Shutdown waits for it.
func (s *Server) recordDone(r *recording, err error) {
	if s.OnRecordDone == nil {
		return
	}
	info := r.info()
	s.recWG.Add(1)
	go func() {
		defer s.recWG.Done()
		s.OnRecordDone(info, err)
	}()
}

func (r *recording) info() RecordingInfo {
	return RecordingInfo{Scope: r.scopePath, Name: r.name, Path: r.rec.Path(),
		Publisher: r.conn != nil, Append: r.append, Stats: r.rec.Stats()}
}

// recordingOf returns the running recording of stream name in scope
// scopePath, or nil.
func (s *Server) recordingOf(scopePath, name string) *recording {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if r := s.recs[recKey(scopePath, name)]; r != nil && r.rec != nil {
		return r
	}
	return nil
}

// stopRecordings stops every recording and refuses new ones (Shutdown).
func (s *Server) stopRecordings() {
	s.recMu.Lock()
	s.recClosed = true
	var all []*recording
	for _, r := range s.recs {
		if r.rec != nil {
			all = append(all, r)
		}
	}
	s.recMu.Unlock()
	for _, r := range all {
		s.stopRecording(r, false)
	}
	s.recWG.Wait()
}

// repairAfterWriteError repairs the file of a recorder that ended with a
// write error. Such a write may leave part of a tag behind: a write cut
// short by a full disk or a file size limit can report no bytes written, so
// the recorder cannot know there is something to cut. Repair cuts it now
// rather than at the next start (truncating needs no space).
func repairAfterWriteError(log *slog.Logger, rec *flv.Recorder) {
	if !errors.Is(rec.Err(), flv.ErrRecordWrite) {
		return
	}
	rep, err := flv.Repair(rec.Path())
	switch {
	case err != nil:
		log.Error("recording left damaged", "file", rec.Path(), "err", err)
	case rep.Truncated > 0 || rep.MetadataPatched:
		log.Warn("recording repaired after a write error", "file", rep.Path, "truncated", rep.Truncated, "duration", rep.Duration)
	}
}
