package httpflv_test

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
)

// An HTTP/1.0 client gets the FLV body without chunking, to the close.
func TestHTTPFLVHTTP10(t *testing.T) {
	e := startEnv(t)
	pub := e.publish(t, "live", "cam1")
	pub.startMedia(0)
	resp := rawGetProto(t, e, "HTTP/1.0", "/live/cam1.flv")
	if resp.Status != 200 || len(resp.TransferEncoding) != 0 {
		t.Fatalf("status %d, transfer encoding %v", resp.Status, resp.TransferEncoding)
	}
	fr, err := flv.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := fr.ReadTag(); err != nil {
			t.Fatal(err)
		}
	}
	pub.stop()
	if _, err := fr.ReadTag(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
}

// Over HTTP/2 (no hijacking) the stream goes through the ResponseWriter.
func TestHTTPFLVOverHTTP2(t *testing.T) {
	e := startEnv(t)
	pub := e.publish(t, "live", "cam1")
	pub.startMedia(0)
	srv := httptest.NewUnstartedServer(e.Handler)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/live/cam1.flv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/x-flv" {
		t.Fatalf("%s %d %v", resp.Proto, resp.StatusCode, resp.Header)
	}
	fr, err := flv.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := fr.ReadTag(); err != nil {
			t.Fatal(err)
		}
	}
	pub.write(stream.KindVideo, 40, inter(10))
	if tag, err := fr.ReadTag(); err != nil || tag.Timestamp != 40 {
		t.Fatalf("live tag: %v %+v", err, tag)
	}
	pub.stop()
	if _, err := fr.ReadTag(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
}
