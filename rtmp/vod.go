package rtmp

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
)

// vodPlay is the playback of a recording on one message stream, owned by
// the connection's read goroutine. A flv.Source publishes the file into a
// private stream whose one subscriber is the playSub the writer drains, so
// that recorded media takes the same path as live media. A seek replaces the
// private stream, subscriber and Source: nothing queued before the seek can
// reach the player after it.
type vodPlay struct {
	name   string // stream name, without query
	f      *flv.File
	length time.Duration // play at most this long from (re)start; 0: to the end
	paused bool

	st  *stream.Stream
	sub *stream.Subscriber
	src *flv.Source
}

// open makes the private stream, its subscriber and a Source starting at
// the keyframe at or before at; the Source is not started yet.
func (v *vodPlay) open(c *Conn, at time.Duration) {
	// The Source waits while the player's queue is half full, so the
	// stream's slow-subscriber policy never skips recorded media; a player
	// that stops reading is caught by the write timeout instead.
	v.st = stream.New(v.name, stream.Config{MaxLag: -1})
	v.sub = v.st.Subscribe(c.notify)
	v.src = flv.NewSource(v.f, v.st, flv.SourceOptions{
		Start:     at,
		Length:    v.length,
		ReadAhead: c.srv.VODReadAhead,
		Backlog:   v.sub.Len,
	})
	if v.paused {
		v.src.Pause()
	}
}

// close stops the Source (waiting for its goroutine) and the private
// stream. The subscriber goes first, so that the Source's Unpublish never
// reaches the player as a Play.Complete.
func (v *vodPlay) close() {
	v.st.Unsubscribe(v.sub)
	v.src.Stop()
	v.st.Close()
}

// recordingPath returns the file of stream name's recording in the
// connection's scope if it exists: an error wrapping ErrRecordingDisabled,
// flv.ErrBadName (a name that would leave the streams directory) or
// os.ErrNotExist otherwise.
func (c *Conn) recordingPath(name string) (string, error) {
	if c.srv.StreamsDir == "" {
		return "", ErrRecordingDisabled
	}
	p, err := flv.SafePath(c.srv.StreamsDir, c.scope.Path(), name)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s is not a regular file", os.ErrNotExist, name)
	}
	return p, nil
}

// sendPlayStart sends what starts a play: Stream Begin (after Stream Is
// Recorded for a recording), Play.Reset unless reset is false, Play.Start and
// |RtmpSampleAccess.
func (c *Conn) sendPlayStart(msid uint32, name string, reset, recorded bool) {
	if recorded {
		c.sendControlUser(message.EventStreamIsRecorded, msid)
	}
	c.sendControlUser(message.EventStreamBegin, msid)
	if reset {
		info := statusObject("status", codePlayReset, "Playing and resetting "+name+".")
		info.Set("details", name)
		c.sendStatus(msid, info)
	}
	info := statusObject("status", codePlayStart, "Started playing "+name+".")
	info.Set("details", name)
	c.sendStatus(msid, info)
	c.sendSampleAccess(msid)
}

func (c *Conn) sendNotFound(msid uint32, name string) {
	info := statusObject("error", codePlayNotFound, "Failed to play "+name+"; stream not found.")
	info.Set("details", name)
	c.sendStatus(msid, info)
}

// playRecording starts the playback of the recording at path on ns from
// start (ms), for at most length ms (0 or less: to the end).
func (c *Conn) playRecording(ns *netStream, raw, name, path string, start, length float64, reset bool) {
	msid := ns.id
	if err := c.scope.AuthorizePlay(c, raw); err != nil {
		c.log.Info("play refused", "stream", name, "err", err)
		c.sendStatus(msid, playFailure(name, err))
		return
	}
	f, err := flv.OpenFile(path)
	if err != nil {
		c.scope.PlayStopped(c, name)
		c.log.Warn("recording cannot be played", "stream", name, "file", path, "err", err)
		info := statusObject("error", codePlayFailed, "The recording of "+name+" cannot be played.")
		info.Set("details", name)
		c.sendStatus(msid, info)
		return
	}
	v := &vodPlay{name: name, f: f}
	if length > 0 {
		v.length = time.Duration(length * float64(time.Millisecond))
	}
	v.open(c, time.Duration(max(start, 0)*float64(time.Millisecond)))
	c.sendPlayStart(msid, name, reset, true)
	ps := &playSub{msid: msid, name: name, st: v.st, sub: v.sub, vod: true, duration: f.Duration().Seconds()}
	ns.play, ns.vod = ps, v
	c.enqueue(outItem{op: opAddSub, sub: ps})
	v.src.Start()
	c.log.Info("playing recording", "stream", name, "start_ms", start, "duration", f.Duration())
}

// seekRecording restarts ns's playback from the keyframe at or before ms:
// a fresh private stream and Source, handed to the writer with the
// Seek.Notify and Play.Start that precede the new media.
func (c *Conn) seekRecording(ns *netStream, ms float64) {
	v := ns.vod
	v.close()
	at := time.Duration(max(ms, 0) * float64(time.Millisecond))
	v.open(c, at)
	c.enqueue(outItem{op: opSeek, sub: ns.play, vsub: v.sub, pos: uint32(at.Milliseconds())})
	v.src.Start()
	c.log.Debug("seek", "stream", v.name, "ms", at.Milliseconds())
}

// stopRecordingPlay ends ns's playback of a recording: the Source's
// goroutine is stopped and waited for, the file closed.
func (c *Conn) stopRecordingPlay(ns *netStream) {
	v := ns.vod
	ns.vod = nil
	v.close()
	v.f.Close()
	c.scope.PlayStopped(c, v.name)
}

// streamLength answers getStreamLength: the duration in seconds of the
// recording of name, 0 for a live stream or no recording.
func (c *Conn) streamLength(raw string) float64 {
	name, _ := scope.SplitName(raw)
	if st := c.scope.Stream(name); st != nil && st.Publisher() != nil {
		return 0
	}
	p, err := c.recordingPath(name)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, ErrRecordingDisabled) {
			c.log.Debug("getStreamLength", "stream", name, "err", err)
		}
		return 0
	}
	f, err := flv.OpenFile(p)
	if err != nil {
		c.log.Debug("getStreamLength", "stream", name, "err", err)
		return 0
	}
	defer f.Close()
	return f.Duration().Seconds()
}
