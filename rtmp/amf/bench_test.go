package amf

import "testing"

func connectCommand() []any {
	return []any{"connect", 1.0, Obj(
		"app", "live",
		"flashVer", "FMLE/3.0 (compatible; FMSc/1.0)",
		"tcUrl", "rtmp://example.com:1935/live",
		"fpad", false,
		"capabilities", 239.0,
		"audioCodecs", 3575.0,
		"videoCodecs", 252.0,
		"videoFunction", 1.0,
		"objectEncoding", 0.0,
	)}
}

func onMetaData() []any {
	return []any{"onMetaData", &ECMAArray{Props: []Property{
		{"duration", 0.0}, {"width", 1920.0}, {"height", 1080.0}, {"videodatarate", 4500.0},
		{"framerate", 30.0}, {"videocodecid", 7.0}, {"audiodatarate", 160.0},
		{"audiosamplerate", 48000.0}, {"audiosamplesize", 16.0}, {"stereo", true},
		{"audiocodecid", 10.0}, {"encoder", "obs-output module (libobs version 30.0.0)"},
		{"filesize", 0.0},
	}}}
}

func encodeAll(b []byte, vs []any) ([]byte, error) {
	var err error
	for _, v := range vs {
		if b, err = AppendAMF0(b, v); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func benchEncode(b *testing.B, vs []any) {
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		var err error
		if buf, err = encodeAll(buf[:0], vs); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func benchDecode(b *testing.B, vs []any) {
	wire, err := encodeAll(nil, vs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		got, err := DecodeAMF0All(wire, Limits{})
		if err != nil || len(got) != len(vs) {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeConnect(b *testing.B)    { benchEncode(b, connectCommand()) }
func BenchmarkDecodeConnect(b *testing.B)    { benchDecode(b, connectCommand()) }
func BenchmarkEncodeOnMetaData(b *testing.B) { benchEncode(b, onMetaData()) }
func BenchmarkDecodeOnMetaData(b *testing.B) { benchDecode(b, onMetaData()) }

func BenchmarkEncodeConnectAMF3(b *testing.B) {
	b.ReportAllocs()
	v := connectCommand()[2]
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		var err error
		if buf, err = AppendAMF3(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeConnectAMF3(b *testing.B) {
	wire, err := AppendAMF3(nil, connectCommand()[2])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewDecoder(wire, Limits{}).ReadAMF3(); err != nil {
			b.Fatal(err)
		}
	}
}
