package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/scopecast/scopecast/internal/testutil"
	"github.com/scopecast/scopecast/rtmp/client"
)

// The command's admin listener, as docs/api.md shows it: an ffmpeg
// publisher and an ffmpeg player appear in /api/streams and /api/clients; the
// README's curl forms work (a recording started with a form-encoded body,
// stopped with query parameters); kicking the ffmpeg player ends its process;
// the status page is served.
func TestAdminAPIOnTheCommand(t *testing.T) {
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	ls, _ := runCmd(t, "-rtmp", "127.0.0.1:0", "-http", "", "-admin", "127.0.0.1:0",
		"-data", t.TempDir(), "-log-level", "warn")
	admin := "http://" + ls.Admin.String()
	rtmpURL := "rtmp://" + ls.RTMP.String() + "/live/cam1"

	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(ffmpeg, append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("ffmpeg %v: %s", args[len(args)-1], stderr.String())
			}
		})
		return cmd
	}
	testutil.FFmpegPublish(t, rtmpURL, 60, 25)

	call := func(method, path, ctype, body string, out any) int {
		t.Helper()
		req, err := http.NewRequest(method, admin+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, data)
			}
		}
		return resp.StatusCode
	}
	type stream struct {
		Name       string
		Publishing bool
		Players    int
		VideoCodec string `json:"video_codec"`
	}
	var streams []stream
	testutil.WaitFor(t, 20*time.Second, "the stream in /api/streams", func() bool {
		call("GET", "/api/streams", "", "", &streams)
		return len(streams) == 1 && streams[0].Publishing && streams[0].VideoCodec == "h264"
	})

	// An ffmpeg player (live only), then the project's client in the same scope.
	player := start("-rtmp_live", "live", "-i", rtmpURL, "-f", "null", "-")
	c, err := client.Dial(context.Background(), "rtmp://"+ls.RTMP.String()+"/live", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testutil.WaitFor(t, 20*time.Second, "one player", func() bool {
		call("GET", "/api/streams", "", "", &streams)
		return len(streams) == 1 && streams[0].Players == 1
	})
	type clientJSON struct {
		ID         string
		Protocol   string
		Publishing []string
		BytesOut   *uint64 `json:"bytes_out"`
	}
	var clients []clientJSON
	call("GET", "/api/clients", "", "", &clients)
	var playerID string
	for _, cl := range clients {
		if len(cl.Publishing) == 0 && cl.BytesOut != nil && *cl.BytesOut > 10000 {
			playerID = cl.ID
		}
	}
	if len(clients) != 3 || playerID == "" {
		t.Fatalf("clients: %+v", clients)
	}

	// The README's recording commands: curl -d sends a form content type.
	var rec struct{ File string }
	if st := call("POST", "/api/recordings", "application/x-www-form-urlencoded", `{"scope":"/live","name":"cam1"}`, &rec); st != 201 || rec.File == "" {
		t.Fatalf("start recording: %d %+v", st, rec)
	}
	var stopped struct{ Stopped bool }
	if st := call("DELETE", "/api/recordings?scope=/live&name=cam1", "", "", &stopped); st != 200 || !stopped.Stopped {
		t.Errorf("stop recording: %d %+v", st, stopped)
	}

	// Kick the ffmpeg player: its process ends.
	var kicked struct{ Kicked bool }
	if st := call("DELETE", "/api/clients/"+playerID, "", "", &kicked); st != 200 || !kicked.Kicked {
		t.Fatalf("kick: %d %+v", st, kicked)
	}
	exited := make(chan error, 1)
	go func() { exited <- player.Wait() }()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatal("the kicked ffmpeg player is still running")
	}

	resp, err := http.Get(admin + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "scopecast status") {
		t.Errorf("status page: %d %.200s", resp.StatusCode, page)
	}
}
