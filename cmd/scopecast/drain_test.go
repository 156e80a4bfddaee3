package main

import (
	"bufio"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/sopeer"
	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/rtmp/chunk"
	"github.com/scopecast/scopecast/rtmp/client"
	"github.com/scopecast/scopecast/rtmp/handshake"
	"github.com/scopecast/scopecast/rtmp/message"
	"github.com/scopecast/scopecast/sharedobject"
	"github.com/scopecast/scopecast/stream/flv"
)

var buildBinary = testutil.BuildScopecast

// startBinary runs the scopecast binary with data as its data directory and
// the extra flags, logging JSON.
func startBinary(t *testing.T, bin, data string, extra ...string) *testutil.Scopecast {
	t.Helper()
	return testutil.StartScopecast(t, bin, data, "", extra...)
}

// enhancedClient connects with Enhanced RTMP's fourCcList and capsEx
// (Reconnect) in its connect command, as rtmp/client cannot, and reports the
// ReconnectRequest it receives.
func enhancedClient(t *testing.T, addr, app string) (nc net.Conn, reconnect <-chan *amf.Object) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	br := bufio.NewReader(nc)
	if err := handshake.Client(br, nc, false); err != nil {
		t.Fatal(err)
	}
	obj := amf.Obj("app", app, "tcUrl", "rtmp://"+addr+"/"+app, "flashVer", "FMLE/3.0 (drain test)",
		"fourCcList", []any{"avc1", "hvc1"}, "capsEx", 1.0)
	p, err := message.AppendCommand(nil, "connect", 1, obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := chunk.NewWriter(nc, chunk.DefaultChunkSize).WriteMessage(&chunk.Message{ChunkStreamID: 3, TypeID: chunk.TypeCommandAMF0, Payload: p}); err != nil {
		t.Fatal(err)
	}
	rc := make(chan *amf.Object, 1)
	connected := make(chan bool, 1)
	go func() {
		rd := chunk.NewReader(br, chunk.Limits{})
		for {
			m, err := rd.ReadMessage()
			if err != nil {
				close(rc)
				return
			}
			if m.TypeID != chunk.TypeCommandAMF0 {
				continue
			}
			cmd, err := message.DecodeCommand(m.Payload, false, amf.Limits{})
			if err != nil {
				continue
			}
			info, _ := cmd.Arg(0).(*amf.Object)
			switch {
			case cmd.Name == "_result" && cmd.TxID == 1:
				connected <- true
			case cmd.Name == "onStatus" && info != nil && info.GetString("code") == "NetConnection.Connect.ReconnectRequest":
				rc <- info
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("enhanced client: no connect _result")
	}
	return nc, rc
}

// SIGTERM to the real binary while ffmpeg records (stream key
// cam?mode=record) and an Enhanced RTMP client stays connected: the
// enhanced client gets NetConnection.Connect.ReconnectRequest, the process
// exits 0 within the grace (the drain takes at most half of it), the
// recording is finalized (no .recording marker, no repair at the next start)
// and ffprobe finds a clean file as long as what was published; a persistent
// shared-object change acknowledged before the signal is there after the
// restart.
func TestSIGTERMDrainsAndFinalizes(t *testing.T) {
	testutil.NeedTool(t, "ffmpeg")
	testutil.NeedTool(t, "ffprobe")
	bin := buildBinary(t)
	data := t.TempDir()
	const grace = 6 * time.Second
	p := startBinary(t, bin, data, "-shutdown-grace", grace.String())

	// A persistent shared-object change, acknowledged.
	so := sopeer.Dial(t, "rtmp://"+p.Addr+"/chat/room1", client.Options{})
	writePrefs(t, so, sharedobject.Event{Type: sharedobject.EventUse})
	writePrefs(t, so, sharedobject.Event{Type: sharedobject.EventRequestChange, Key: "color", Value: "blue"})
	testutil.WaitFor(t, 10*time.Second, "the change acknowledged", func() bool {
		ok := so.Has(sharedobject.EventSuccess, "color")
		return ok
	})

	// ffmpeg records by stream key.
	pub := testutil.FFmpegPublish(t, "rtmp://"+p.Addr+"/live/cam?mode=record", 60, 25)
	file := filepath.Join(data, "streams", "live", "cam.flv")
	var recStart time.Time
	testutil.WaitFor(t, 20*time.Second, "the recording", func() bool {
		_, err := os.Stat(file + flv.MarkerSuffix)
		recStart = time.Now()
		return err == nil
	})
	enh, reconnect := enhancedClient(t, p.Addr, "live")
	defer enh.Close()
	testutil.WaitFor(t, 20*time.Second, "3 s recorded", func() bool {
		f, err := flv.OpenFile(file)
		if err != nil {
			return false
		}
		defer f.Close()
		return f.Duration() >= 3*time.Second
	})

	sig := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	published := sig.Sub(recStart).Seconds()
	select {
	case info := <-reconnect:
		if info == nil {
			t.Error("the enhanced client was closed without ReconnectRequest")
		} else if info.GetString("level") != "status" {
			t.Errorf("ReconnectRequest %v", info)
		}
	case <-time.After(grace):
		t.Error("no ReconnectRequest")
	}
	exited := make(chan error, 1)
	go func() { exited <- p.Cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("server exit: %v", err)
		}
	case <-time.After(grace + 2*time.Second):
		t.Fatalf("server still running %v after SIGTERM", grace+2*time.Second)
	}
	took := time.Since(sig)
	<-p.Done
	for _, msg := range []string{"shutting down", "draining: asked clients to reconnect", "drain ended"} {
		if !p.Logged(msg) {
			t.Errorf("not logged: %q", msg)
		}
	}
	if took > grace/2+2*time.Second {
		t.Errorf("exit took %v: the drain should end at half the grace (%v)", took, grace/2)
	}
	pubExit := make(chan struct{})
	go func() { pub.Wait(); close(pubExit) }()
	select {
	case <-pubExit:
	case <-time.After(10 * time.Second):
		t.Error("ffmpeg publisher still running after the server exited")
	}

	if _, err := os.Stat(file + flv.MarkerSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker after SIGTERM: %v", err)
	}
	// ffprobe: the duration in onMetaData, the frames, and a full decode
	// without a word on stderr.
	pr := testutil.CheckFile(t, file)
	dur, frames := pr.Duration, pr.VideoFrames
	t.Logf("SIGTERM after %.2f s of recording: exit in %v; file %.3f s, %d video frames (%s)", published, took.Round(time.Millisecond), dur, frames, pr.VideoCodec)
	if pr.VideoCodec != "h264" {
		t.Errorf("video codec %q", pr.VideoCodec)
	}
	if dur < published-1 || dur > published+0.5 {
		t.Errorf("recording lasts %.3f s; %.2f s were published before SIGTERM", dur, published)
	}
	if want := dur * 25; float64(frames) < want-5 || float64(frames) > want+5 {
		t.Errorf("%d video frames in %.3f s at 25 fps", frames, dur)
	}

	// The restart: nothing to repair, and the acknowledged change is there.
	p2 := startBinary(t, bin, data)
	if p2.Logged("recording repaired after a crash") {
		t.Error("the restart repaired the recording: it was not finalized")
	}
	so2 := sopeer.Dial(t, "rtmp://"+p2.Addr+"/chat/room1", client.Options{})
	writePrefs(t, so2, sharedobject.Event{Type: sharedobject.EventUse})
	testutil.WaitFor(t, 10*time.Second, "the persistent change after the restart", func() bool {
		return len(so2.Find(func(e sharedobject.Event) bool {
			return e.Type == sharedobject.EventChange && e.Key == "color" && e.Value == "blue"
		})) > 0
	})
}

// writePrefs writes events to the persistent object "prefs".
func writePrefs(t *testing.T, p *sopeer.Peer, evs ...sharedobject.Event) {
	t.Helper()
	p.Write(t, &sharedobject.Message{Name: "prefs", Persistent: true, Flags: 2, Events: evs})
}
