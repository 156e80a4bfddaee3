package flv

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopecast/scopecast/stream"
)

// Recording errors, wrapped with detail (and the OS error where there is
// one); test with errors.Is. The RTMP layer maps ErrRecordAccess and
// ErrRecordWrite to NetStream.Record.NoAccess.
var (
	// ErrRecordAccess: the file or its directory cannot be created or opened.
	ErrRecordAccess = errors.New("flv: cannot open recording")
	// ErrRecordWrite: writing the file failed mid-recording (a full disk).
	ErrRecordWrite = errors.New("flv: recording write failed")
	// ErrRecordAppend: the existing file cannot be appended to (not FLV, or
	// damaged before its tail).
	ErrRecordAppend = errors.New("flv: cannot append to recording")
	// ErrRecordBusy: another recorder of this process writes the same file.
	ErrRecordBusy = errors.New("flv: file is already being recorded")
	// ErrRecordStream: the stream ended the subscription (closed, or the
	// recorder fell too far behind); it wraps the stream's error.
	ErrRecordStream = errors.New("flv: recorded stream ended")
)

// MarkerSuffix is appended to a recording's path to name its marker file,
// which exists while the file is being written; a marker left behind by a
// crash tells RepairDir which files to repair.
const MarkerSuffix = ".recording"

// Recorder defaults.
const (
	DefaultFlushInterval = 500 * time.Millisecond
	DefaultRecordQueue   = 4096
	// flushSize is the buffered amount that triggers a write before the
	// flush interval.
	flushSize = 256 << 10
)

// RecorderOptions tune a Recorder. The zero value records a new file with the
// defaults.
type RecorderOptions struct {
	Append        bool          // continue an existing file's timeline (a missing file is created)
	FlushInterval time.Duration // how often buffered tags reach the file (default 500 ms): a kill -9 loses at most this much
	QueueLen      int           // packets buffered between the stream and the file writer (default 4096), on top of the stream's own subscriber queue
	Logger        *slog.Logger  // default slog.Default()

	wrapFile func(recFile) recFile // tests: inject failing writes
}

// RecorderStats is a snapshot of a recorder's progress.
type RecorderStats struct {
	Bytes    int64         // bytes in the file, buffered ones included
	Flushed  int64         // bytes known to have reached the file
	Tags     uint64        // tags written (buffered ones included)
	Duration time.Duration // timeline recorded so far (append: including the existing file)
	Dropped  uint64        // media packets the stream skipped because the recorder's queues were full
	Skipped  uint64        // media left out before the first keyframe (by the recorder, or by the stream when the recorder joined mid-GOP)
}

// recFile is what the recorder needs of its file.
type recFile interface {
	io.WriterAt
	io.ReaderAt
	Truncate(size int64) error
	Sync() error
	Close() error
}

// active holds the paths being recorded by this process.
var active = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

func claim(path string) bool {
	active.Lock()
	defer active.Unlock()
	if active.m[path] {
		return false
	}
	active.m[path] = true
	return true
}

func release(path string) {
	active.Lock()
	delete(active.m, path)
	active.Unlock()
}

func isActive(path string) bool {
	active.Lock()
	defer active.Unlock()
	return active.m[path]
}

// Recorder writes a stream to an FLV file. See StartRecorder.
type Recorder struct {
	path, marker string
	log          *slog.Logger
	st           *stream.Stream
	sub          *stream.Subscriber
	notify       chan struct{}
	ch           chan *stream.Packet
	interval     time.Duration

	stop       chan struct{}
	stopOnce   sync.Once
	writerDone chan struct{}
	done       chan struct{}

	mu  sync.Mutex
	err error

	bytes, flushed, durMS atomic.Int64
	tags, skipped         atomic.Uint64
	initialDrops          atomic.Uint64 // skipped by the stream before the first media
	initialDone           atomic.Bool

	// Owned by the writer goroutine (and StartRecorder before it starts).
	f        recFile
	off      int64  // file offset where the next flush writes
	buf      []byte // whole tags not yet written
	metaOff  int64  // offset of the reserved onMetaData data, or -1
	meta     []byte // its current bytes
	baseMeta *amfObj
	pubMeta  *amfObj
	flags    byte // header flags seen (0x04 audio, 0x01 video)
	flagsOld byte // header flags of an appended file
	info     mediaInfo
	tl       timeline
	base     int64 // timeline offset of the current session, ms
	first    int64 // first source timestamp of the session
	started  bool  // media written in this session
	sawKey   bool  // a video keyframe written in this session
	pending  []*stream.Packet
	lastDrop uint64
	patched  int64 // duration last patched into the file, ms
	durable  int64 // timeline end of what is in the file, ms
	appended bool  // the file existed (Append)
	dirty    bool  // a cut-short write could not be truncated
}

// StartRecorder subscribes to st and records it to path, creating the
// directories. The file starts with the FLV header and a reserved onMetaData
// tag (see the package documentation), then the media:
//
//   - Timestamps are rebased so that the first recorded packet is at 0 (with
//     Append, at the end of the existing file's timeline). When the stream's
//     publisher stops and another starts, the timeline continues where it
//     was, as with Append.
//   - Video starts at a keyframe: earlier video frames of a session are left
//     out (Stats.Skipped); the sequence headers come first, at the session's
//     first timestamp. onMetaData from the publisher is merged into the
//     reserved tag rather than written again; other data messages are kept.
//
// A recorder started while the stream has a publisher but no GOP cached
// (typically right after Publish) gets the stream's instant-start snapshot
// and skips all media, audio included, until the first video keyframe; one
// started before Publish records from the first packet (audio that precedes
// the first keyframe included).
//
// The marker path+MarkerSuffix exists until the file is complete. The
// recorder runs two goroutines of its own, which Stop waits for: one moves
// packets from the stream subscription into a queue of opts.QueueLen, the
// other writes whole tags to a buffer that reaches the file every
// FlushInterval (or 256 KiB). The publisher never waits: if both queues fill,
// the stream skips media for the recorder as for any slow subscriber, and the
// drops are counted in Stats and logged.
func StartRecorder(st *stream.Stream, path string, opts RecorderOptions) (*Recorder, error) {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = DefaultRecordQueue
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrRecordAccess, path, err)
	}
	if !claim(abs) {
		return nil, fmt.Errorf("%w: %s", ErrRecordBusy, path)
	}
	r := &Recorder{
		path:       abs,
		marker:     abs + MarkerSuffix,
		log:        opts.Logger.With("path", abs),
		st:         st,
		interval:   opts.FlushInterval,
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
		done:       make(chan struct{}),
		metaOff:    -1,
	}
	if err := r.open(opts); err != nil {
		release(abs)
		return nil, err
	}
	r.notify = make(chan struct{}, 1)
	r.ch = make(chan *stream.Packet, opts.QueueLen)
	r.sub = st.Subscribe(r.notify)
	go r.write()
	go r.pump()
	return r, nil
}

// open creates the marker and the file, and writes or checks its beginning.
func (r *Recorder) open(opts RecorderOptions) error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrRecordAccess, err)
	}
	hadMarker := fileExists(r.marker)
	if err := writeMarker(r.marker); err != nil {
		return fmt.Errorf("%w: marker: %w", ErrRecordAccess, err)
	}
	flag := os.O_RDWR | os.O_CREATE
	if !opts.Append {
		flag |= os.O_TRUNC
	}
	osf, err := os.OpenFile(r.path, flag, 0o644)
	if err != nil {
		if !hadMarker {
			os.Remove(r.marker)
		}
		return fmt.Errorf("%w: %w", ErrRecordAccess, err)
	}
	var f recFile = osf
	if opts.wrapFile != nil {
		f = opts.wrapFile(f)
	}
	r.f = f
	fail := func(err error) error {
		f.Close()
		if !hadMarker {
			os.Remove(r.marker)
		}
		return err
	}
	fi, err := osf.Stat()
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrRecordAccess, err))
	}
	if opts.Append && fi.Size() > 0 {
		if err := r.openAppend(fi.Size()); err != nil {
			return fail(err)
		}
		return nil
	}
	// A new file: header, then the reserved onMetaData.
	if m := r.st.Metadata(); m != nil {
		r.pubMeta, _ = parseMeta(m.Payload)
	}
	initial := buildMeta(nil, r.pubMeta, nil, 0, 0)
	size := reserveSize(len(metaPrefix) + len(amfAppend(nil, initial)))
	data, ok := encodeMetaSized(initial, size)
	if !ok {
		data, _ = encodeMetaSized(&amfObj{ECMA: true, Props: initial.Props[:2]}, size)
	}
	b := AppendHeader(nil, Header{HasAudio: true, HasVideo: true})
	r.metaOff = int64(len(b)) + TagHeaderSize
	b = AppendTag(b, TagScript, 0, data)
	if _, err := f.WriteAt(b, 0); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrRecordWrite, err))
	}
	r.meta = data
	r.off = int64(len(b))
	r.bytes.Store(r.off)
	r.flushed.Store(r.off)
	return nil
}

// openAppend checks an existing file, cuts a damaged tail (as Repair does)
// and continues its timeline.
func (r *Recorder) openAppend(size int64) error {
	res, err := scanFile(r.f, size, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRecordAppend, err)
	}
	if res.err != nil {
		if err := checkTail(r.f, res, size); err != nil {
			return fmt.Errorf("%w: %w", ErrRecordAppend, err)
		}
		if err := r.f.Truncate(res.end); err != nil {
			return fmt.Errorf("%w: %w", ErrRecordWrite, err)
		}
		r.log.Warn("flv: cut a damaged tail before appending", "bytes", size-res.end, "cause", res.err)
	}
	r.appended = true
	r.off = res.end
	r.base = res.tl.end
	r.durable = res.tl.end
	r.tl = res.tl
	if res.hdr.HasAudio {
		r.flagsOld |= 0x04
	}
	if res.hdr.HasVideo {
		r.flagsOld |= 0x01
	}
	if res.metaOff >= 0 {
		m := make([]byte, res.metaSize)
		if _, err := r.f.ReadAt(m, res.metaOff); err != nil {
			return fmt.Errorf("%w: reading onMetaData: %w", ErrRecordAccess, err)
		}
		r.meta, r.metaOff = m, res.metaOff
		r.baseMeta, _ = parseMeta(m)
	}
	if m := r.st.Metadata(); m != nil {
		r.pubMeta, _ = parseMeta(m.Payload)
	}
	r.durMS.Store(r.base)
	r.bytes.Store(r.off)
	r.flushed.Store(r.off)
	return nil
}

// checkTail decides whether the bytes after the last good tag are the debris
// of an interrupted write (at most one tag long, with no good tags inside),
// which may be cut, or damage before good data, which must not be.
func checkTail(f io.ReaderAt, res scanResult, size int64) error {
	tail := size - res.end
	if tail > TagHeaderSize+MaxTagData+4 {
		return fmt.Errorf("%w: %d damaged bytes after offset %d (%v): more than one tag", ErrCorrupt, tail, res.end, res.err)
	}
	b := make([]byte, tail)
	if _, err := f.ReadAt(b, res.end); err != nil && err != io.EOF {
		return err
	}
	for p := 1; p < len(b); p++ {
		if validTagAt(b, p) {
			return fmt.Errorf("%w: good tags at offset %d after damage at %d (%v)", ErrCorrupt, res.end+int64(p), res.end, res.err)
		}
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func writeMarker(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "scopecast recording started %s\n", time.Now().UTC().Format(time.RFC3339))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Path returns the absolute path of the file being recorded.
func (r *Recorder) Path() string { return r.path }

// Stop ends the recording: the packets already queued for the recorder are
// written, then the final onMetaData (true duration, file size, codec and
// rate fields) replaces the reserved one, the file is synced and closed and
// the marker removed. It waits for the recorder's goroutines and returns
// Err. Stop is idempotent and may be called after the recorder ended by
// itself.
func (r *Recorder) Stop() error {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	return r.Err()
}

// Done is closed when the recorder has ended, by itself (a write error such
// as a full disk, or the stream ending the subscription) or by Stop. The
// file is finalized either way, as far as the disk allows.
func (r *Recorder) Done() <-chan struct{} { return r.done }

// Err returns why the recorder ended: nil while it runs and after a clean
// Stop, otherwise an error wrapping ErrRecordWrite (with the OS error) or
// ErrRecordStream (with the stream's error).
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Recorder) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// Stats returns the recorder's progress.
func (r *Recorder) Stats() RecorderStats {
	return RecorderStats{
		Bytes:    r.bytes.Load(),
		Flushed:  r.flushed.Load(),
		Tags:     r.tags.Load(),
		Duration: time.Duration(r.durMS.Load()) * time.Millisecond,
		Dropped:  r.dropped(),
		Skipped:  r.skipped.Load() + r.initialDrops.Load(),
	}
}

// dropped counts the stream's drops for the recorder, leaving out the media
// it skipped before the first keyframe, when the recorder joined a running
// stream without a usable GOP (the stream's instant-start policy).
func (r *Recorder) dropped() uint64 {
	if !r.initialDone.Load() {
		return 0
	}
	return r.sub.Dropped() - r.initialDrops.Load()
}

// pump moves packets from the subscription to the writer's queue.
func (r *Recorder) pump() {
	defer func() {
		r.st.Unsubscribe(r.sub)
		close(r.ch)
		<-r.writerDone
		release(r.path)
		close(r.done)
	}()
	batch := make([]*stream.Packet, 0, 256)
	send := func() bool {
		for i, p := range batch {
			select {
			case r.ch <- p:
			case <-r.writerDone:
				clear(batch)
				return false
			}
			batch[i] = nil
		}
		return true
	}
	for {
		select {
		case <-r.notify:
		case <-r.writerDone:
			return
		case <-r.stop:
			// Drain what the stream queued before Stop, bounded so that a
			// busy publisher cannot keep the recorder going.
			for range r.st.Config().QueueLen/cap(batch) + 2 {
				batch = r.sub.Pop(batch[:0])
				if len(batch) == 0 || !send() {
					return
				}
			}
			return
		}
		batch = r.sub.Pop(batch[:0])
		if !send() {
			return
		}
		if err := r.sub.Err(); err != nil {
			r.fail(fmt.Errorf("%w: %w", ErrRecordStream, err))
			return
		}
	}
}

// write is the writer goroutine: packets to tags, tags to the file.
func (r *Recorder) write() {
	defer close(r.writerDone)
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	for {
		select {
		case p, ok := <-r.ch:
			if !ok {
				r.finish(nil)
				return
			}
			r.handle(p)
			if len(r.buf) >= flushSize {
				if err := r.flush(); err != nil {
					r.finish(err)
					return
				}
			}
		case <-tick.C:
			if err := r.flush(); err != nil {
				r.finish(err)
				return
			}
			if d := r.dropped(); d != r.lastDrop {
				r.log.Warn("flv: recorder fell behind, media skipped", "dropped", d-r.lastDrop, "total", d)
				r.lastDrop = d
			}
		}
	}
}

// handle turns one packet into tags in the buffer.
func (r *Recorder) handle(p *stream.Packet) {
	switch p.Kind {
	case stream.KindPublishStart, stream.KindPublishStop:
		// A new session continues the timeline where the last one ended.
		if r.started {
			r.base = r.tl.end
		}
		r.started, r.sawKey = false, false
		r.pending = r.pending[:0]
		return
	case stream.KindData:
		if isMetaPayload(p.Payload) {
			if m, err := parseMeta(p.Payload); err == nil {
				r.pubMeta = m
			}
			return
		}
		if r.started {
			r.tag(TagScript, r.rebase(p.Timestamp), p.Payload)
		}
		return
	case stream.KindAudio, stream.KindVideo:
	default:
		return
	}
	video := p.Kind == stream.KindVideo
	if !r.initialDone.Load() && !p.Header {
		r.initialDrops.Store(r.sub.Dropped())
		r.initialDone.Store(true)
	}
	if p.Header {
		r.info.observe(video, true, p.Payload)
		if !r.started {
			r.addPending(p)
			return
		}
		r.tag(uint8(p.Kind), r.rebase(p.Timestamp), p.Payload)
		return
	}
	if video && !r.sawKey {
		if !p.Keyframe {
			r.skipped.Add(1)
			return
		}
		r.sawKey = true
	}
	if !r.started {
		r.started = true
		r.first = int64(p.Timestamp)
		for _, h := range r.pending {
			r.tag(uint8(h.Kind), uint32(r.base), h.Payload)
		}
		clear(r.pending)
		r.pending = r.pending[:0]
	}
	ts := r.rebase(p.Timestamp)
	r.info.observe(video, false, p.Payload)
	if video {
		r.flags |= 0x01
	} else {
		r.flags |= 0x04
	}
	r.tag(uint8(p.Kind), ts, p.Payload)
	r.tl.add(video, int64(ts))
	r.durMS.Store(r.tl.end)
}

// addPending keeps a sequence header until the session's first media: the
// latest of its kind replaces an earlier one, except for Enhanced RTMP
// multitrack headers (kept, at most 16).
func (r *Recorder) addPending(p *stream.Packet) {
	multi := len(p.Payload) > 0 && p.Payload[0]&0x80 != 0 &&
		(p.Kind == stream.KindVideo && p.Payload[0]&0x0F == 6 || p.Kind == stream.KindAudio && p.Payload[0]&0x0F == 5)
	if !multi {
		for i, h := range r.pending {
			if h.Kind == p.Kind {
				r.pending[i] = p
				return
			}
		}
	}
	if len(r.pending) < 16 {
		r.pending = append(r.pending, p)
	}
}

// rebase maps a source timestamp of the session to the file's timeline;
// packets slightly older than the session's first (audio and video
// interleave) are clamped to its start.
func (r *Recorder) rebase(ts uint32) uint32 {
	return uint32(r.base + max(0, int64(ts)-r.first))
}

func (r *Recorder) tag(typ uint8, ts uint32, data []byte) {
	if len(data) > MaxTagData {
		r.log.Warn("flv: message too large for an FLV tag, left out", "bytes", len(data))
		return
	}
	r.buf = AppendTag(r.buf, typ, ts, data)
	r.tags.Add(1)
	r.bytes.Add(int64(TagHeaderSize + len(data) + 4))
}

// flush writes the buffered tags and patches the duration and file size in
// the reserved onMetaData. A short write is cut back to the last whole tag.
func (r *Recorder) flush() error {
	if len(r.buf) > 0 {
		_, err := r.f.WriteAt(r.buf, r.off)
		if err != nil {
			// Cut back to the last whole tag whatever was written: os.File.WriteAt
			// can report 0 after a partial write ended by EFBIG or ENOSPC.
			if r.f.Truncate(r.off) != nil {
				r.dirty = true // Repair cuts it at the next start
			}
			return fmt.Errorf("%w: %w", ErrRecordWrite, err)
		}
		r.off += int64(len(r.buf))
		r.flushed.Store(r.off)
		r.durable = r.tl.end
		if cap(r.buf) > 4*flushSize {
			r.buf = nil
		} else {
			r.buf = r.buf[:0]
		}
	}
	if r.meta != nil && r.tl.end != r.patched {
		patchNumber(r.meta, "duration", float64(r.tl.end)/1000)
		patchNumber(r.meta, "filesize", float64(r.off))
		if _, err := r.f.WriteAt(r.meta, r.metaOff); err != nil {
			return fmt.Errorf("%w: onMetaData: %w", ErrRecordWrite, err)
		}
		r.patched = r.tl.end
	}
	return nil
}

// finish writes what is left and the final metadata, and closes the file.
// cause is the write error that ended the recording, if any; the marker is
// removed only when the file is known to be whole.
func (r *Recorder) finish(cause error) {
	if cause == nil {
		cause = r.flush()
	}
	if cause != nil {
		r.fail(cause)
		r.log.Error("flv: recording stopped", "err", cause)
		r.buf = nil // lost; the file is whole up to r.off
	}
	d := time.Duration(r.durable) * time.Millisecond
	r.durMS.Store(r.durable)
	var err error
	if r.meta != nil {
		var final *amfObj
		if !r.appended || r.baseMeta != nil {
			// Re-encode only metadata we could read: unreadable fields of
			// an appended file are kept, with the two numbers patched.
			final = buildMeta(r.baseMeta, r.pubMeta, &r.info, d, r.off)
		}
		updateMeta(r.meta, final, d, r.off)
		if _, werr := r.f.WriteAt(r.meta, r.metaOff); werr != nil {
			err = werr
		}
	}
	if flags := r.flags | r.flagsOld; flags != 0 && err == nil {
		if _, werr := r.f.WriteAt([]byte{flags}, 4); werr != nil {
			err = werr
		}
	}
	if serr := r.f.Sync(); err == nil {
		err = serr
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.fail(fmt.Errorf("%w: finishing: %w", ErrRecordWrite, err))
		return
	}
	if !r.dirty {
		// The file ends at a whole tag with its final metadata.
		os.Remove(r.marker)
	}
}
