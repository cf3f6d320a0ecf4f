package zsyncfile

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zyncio/zync/index"
)

// helloZsync is the exact 225-byte hello.txt.zsync zsyncmake 0.6.2 writes
// for the worked example of docs/zsync-format.md §12.
func helloZsync(t testing.TB) []byte {
	const header = "zsync: 0.6.2\n" +
		"Filename: hello.txt\n" +
		"MTime: Wed, 01 May 2024 12:00:00 +0000\n" +
		"Blocksize: 2048\n" +
		"Length: 5500\n" +
		"Hash-Lengths: 2,2,3\n" +
		"URL: http://example.com/files/hello.txt\n" +
		"SHA-1: b52377de1451c3f503521e4c33de84538b9c6545\n" +
		"\n"
	b := append([]byte(header), mustHex(t, "bef73ff465e1f2143849522caf5a0a")...)
	if len(b) != 225 {
		t.Fatalf("example is %d bytes, want 225", len(b))
	}
	return b
}

// helloFile builds the File of the worked example from the data.
func helloFile() *File {
	data := helloData()
	seq, wb, sl := Params(int64(len(data)), DefaultBlocksize(int64(len(data))))
	sum := sha1.Sum(data)
	return &File{
		Version:  "0.6.2",
		Filename: "hello.txt",
		MTime:    time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		URLs:     []string{"http://example.com/files/hello.txt"},
		SHA1:     sum[:],
		Index:    refIndex(data, 2048, seq, wb, sl, index.MD4),
	}
}

func TestEncodeWorkedExample(t *testing.T) {
	want := helloZsync(t)
	f := helloFile()
	var buf bytes.Buffer
	if err := f.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("Encode:\n%q\nwant\n%q", buf.Bytes(), want)
	}

	// The records alone, and the decoded sums of §12.
	var recs bytes.Buffer
	if err := EncodeRecords(&recs, &f.Index); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(recs.Bytes(), want[0xd2:]) {
		t.Errorf("EncodeRecords %x, want %x", recs.Bytes(), want[0xd2:])
	}
	if w := []uint32{0xbef7, 0xe1f2, 0x522c}; !reflect.DeepEqual(f.Index.Weak, w) {
		t.Errorf("weak sums %#x, want %#x", f.Index.Weak, w)
	}

	// And Parse gives the same File back.
	g, err := Parse(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, f) {
		t.Errorf("Parse:\n got %+v\nwant %+v", g, f)
	}
}

// roundTrip encodes f, parses the result and compares.
func roundTrip(t *testing.T, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	g, err := Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("Parse of Encode output: %v\n%q", err, buf.Bytes())
	}
	want := *f
	if want.Version == "" {
		want.Version = DefaultVersion
	}
	if !reflect.DeepEqual(g, &want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", g, &want)
	}
	return buf.Bytes()
}

// headerOf returns the header text of an encoded file.
func headerOf(b []byte) string {
	end := bytes.Index(b, []byte("\n\n"))
	return string(b[:end+1])
}

func TestEncodeRoundTrip(t *testing.T) {
	target := readTestdata(t, "target.dat")
	s256 := sha256.Sum256(target)
	s1 := sha1.Sum(target)
	tests := []struct {
		name   string
		file   File
		header string // the exact header text expected
	}{
		{
			name: "MD4 with SHA-256 and Extra",
			file: File{
				Version: "zync/1", Filename: "target.dat", URLs: []string{"target.dat", "http://mirror/target.dat"},
				SHA1: s1[:], SHA256: s256[:], Extra: []Header{{"X-Signature", "abc def"}, {"X-Other", "1"}, {"X-Signature", "second"}},
				Index: refIndex(target, 2048, 1, 4, 16, index.MD4),
			},
			header: "zsync: zync/1\nFilename: target.dat\nBlocksize: 2048\nLength: 281020\nHash-Lengths: 1,4,16\n" +
				"URL: target.dat\nURL: http://mirror/target.dat\nSHA-1: d0be479e0a823100bd09a997d125979626272453\n" +
				"Safe: File-Hash\nFile-Hash: SHA-256:e342d5e314285c95ee8ad3c28838b4a6e6139f4ef64d689490a30785e79ceb83\n" +
				"Safe: X-Signature\nX-Signature: abc def\nSafe: X-Other\nX-Other: 1\nSafe: X-Signature\nX-Signature: second\n",
		},
		{
			name: "MD5 with SHA-256",
			file: File{
				Version: "0.8.0", Filename: "target.dat", MTime: time.Date(2026, 5, 28, 16, 40, 12, 0, time.UTC),
				URLs: []string{"target.dat"}, SHA256: s256[:], Index: refIndex(target, 2048, 1, 4, 16, index.MD5),
			},
			header: "zsync: 0.8.0\nFilename: target.dat\nMTime: Thu, 28 May 2026 16:40:12 +0000\nBlocksize: 2048\nLength: 281020\n" +
				"Hash-Lengths: 1,4,16\nURL: target.dat\nSafe: File-Hash\nStrong-Hash-Algorithm: MD5\n" +
				"File-Hash: SHA-256:e342d5e314285c95ee8ad3c28838b4a6e6139f4ef64d689490a30785e79ceb83\n",
		},
		{
			name: "SHA-224 without SHA-256",
			file: File{
				URLs: []string{"t"}, Index: refIndex(target, 4096, 2, 3, 28, index.SHA224),
			},
			header: "zsync: 0.6.2\nBlocksize: 4096\nLength: 281020\nHash-Lengths: 2,3,28\nURL: t\nStrong-Hash-Algorithm: SHA-224\n",
		},
		{
			name: "MD4 short sums, Length 0",
			file: File{
				Version: "0.6.2", URLs: []string{"empty"}, SHA1: mustHex(t, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
				Index: refIndex(nil, 2048, 1, 2, 3, index.MD4),
			},
			header: "zsync: 0.6.2\nBlocksize: 2048\nLength: 0\nHash-Lengths: 1,2,3\nURL: empty\nSHA-1: da39a3ee5e6b4b0d3255bfef95601890afd80709\n",
		},
		{
			name: "MTime in another zone is written in UTC",
			file: File{
				URLs: []string{"u"}, MTime: time.Date(2024, 5, 1, 14, 0, 0, 0, time.FixedZone("CEST", 7200)).UTC(),
				Index: refIndex(helloData(), 1024, 2, 2, 4, index.MD4),
			},
			header: "zsync: 0.6.2\nMTime: Wed, 01 May 2024 12:00:00 +0000\nBlocksize: 1024\nLength: 5500\nHash-Lengths: 2,2,4\nURL: u\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := roundTrip(t, &tt.file)
			if got := headerOf(b); got != tt.header {
				t.Errorf("header:\n%s\nwant\n%s", got, tt.header)
			}
			if tt.file.Index.Length > 0 {
				if err := describes(&tt.file.Index, target); tt.file.Index.Length == int64(len(target)) && err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestEncodeUpstreamFixtures re-encodes every fixture and parses it back.
func TestEncodeUpstreamFixtures(t *testing.T) {
	for _, name := range []string{
		"target.dat.zsync", "target.dat.0.6.zsync", "target.dat.bad-checksum.zsync", "target.dat.bad.zsync",
		"target.dat.md5.zsync", "target.dat.sha224.zsync", "target.dat.sm2.zsync", "target.dat3.zsync",
	} {
		t.Run(name, func(t *testing.T) {
			in := readTestdata(t, name)
			f, err := Parse(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			out := roundTrip(t, f)
			// The records are byte-identical to upstream's.
			inRecs := in[bytes.Index(in, []byte("\n\n"))+2:]
			outRecs := out[bytes.Index(out, []byte("\n\n"))+2:]
			if !bytes.Equal(inRecs[:len(outRecs)], outRecs) {
				t.Errorf("re-encoded records differ from the fixture's")
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	valid := func() *File { return helloFile() }
	tests := []struct {
		name     string
		mutate   func(f *File)
		contains string
	}{
		{"no URL", func(f *File) { f.URLs = nil }, "no URL"},
		{"Filename with slash", func(f *File) { f.Filename = "a/b" }, "Filename"},
		{"Filename dot-dot", func(f *File) { f.Filename = ".." }, "Filename"},
		{"Filename with LF", func(f *File) { f.Filename = "a\nb" }, "Filename value"},
		{"URL with trailing space", func(f *File) { f.URLs = []string{"http://x/ "} }, "URL value"},
		{"empty URL", func(f *File) { f.URLs = []string{""} }, "URL value"},
		{"URL with NUL", func(f *File) { f.URLs = []string{"a\x00"} }, "URL value"},
		{"URL line of 1024 bytes", func(f *File) { f.URLs = []string{strings.Repeat("u", 1024-len("URL: \n"))} }, "URL line is 1024 bytes"},
		{"long Extra value", func(f *File) { f.Extra = []Header{{"X-A", strings.Repeat("v", 1100)}} }, "X-A line is"},
		{"Extra with a known name", func(f *File) { f.Extra = []Header{{"URL", "x"}} }, `"URL"`},
		{"Extra name with colon", func(f *File) { f.Extra = []Header{{"X:Y", "x"}} }, `"X:Y"`},
		{"Extra name with space", func(f *File) { f.Extra = []Header{{"X Y", "x"}} }, `"X Y"`},
		{"Extra empty value", func(f *File) { f.Extra = []Header{{"X-Y", ""}} }, "X-Y value"},
		{"SHA1 wrong size", func(f *File) { f.SHA1 = f.SHA1[:19] }, "SHA1 has 19 bytes"},
		{"SHA256 wrong size", func(f *File) { f.SHA256 = make([]byte, 20) }, "SHA256 has 20 bytes"},
		{"Version 0.0.4", func(f *File) { f.Version = "0.0.4" }, "0.0.4"},
		{"MTime year 10000", func(f *File) { f.MTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "MTime year"},
		{"bad blocksize", func(f *File) { f.Index.Blocksize = 3000 }, "blocksize 3000"},
		{"missing sums", func(f *File) { f.Index.Weak = f.Index.Weak[:2] }, "2 weak sums for 3 blocks"},
		{"strong too long for MD4", func(f *File) { f.Index.StrongLen = 20 }, "strong sum length 20"},
		{"huge length", func(f *File) { f.Index.Length = 1<<63 - 1 }, "blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := valid()
			tt.mutate(f)
			var buf bytes.Buffer
			err := f.Encode(&buf)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %v, want ErrFormat containing %q", err, tt.contains)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode wrote %d bytes before failing", buf.Len())
			}
		})
	}

	// A line of exactly 1023 bytes is fine.
	f := valid()
	f.URLs = []string{strings.Repeat("u", 1023-len("URL: \n"))}
	roundTrip(t, f)
}

func TestEncodeRecords(t *testing.T) {
	data := readTestdata(t, "target.dat")[:100_001]
	for _, algo := range []index.StrongAlgo{index.MD4, index.MD5, index.SHA224} {
		for wb := 1; wb <= 4; wb++ {
			for _, sl := range []int{3, 7, algo.Size()} {
				x := refIndex(data, 1024, 2, wb, sl, algo)
				var buf bytes.Buffer
				if err := EncodeRecords(&buf, &x); err != nil {
					t.Fatal(err)
				}
				if want := refRecords(data, 1024, wb, sl, algo); !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("%v %d,%d: records differ", algo, wb, sl)
				}
			}
		}
	}
	x := index.Index{Blocksize: 1000}
	if err := EncodeRecords(&bytes.Buffer{}, &x); !errors.Is(err, ErrFormat) || !errors.Is(err, index.ErrInvalid) {
		t.Errorf("EncodeRecords of an invalid index: %v", err)
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestEncodeWriteError(t *testing.T) {
	if err := helloFile().Encode(failWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v, want the writer's", err)
	}
	x := helloFile().Index
	if err := EncodeRecords(failWriter{}, &x); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v, want the writer's", err)
	}
}

func TestHexIsLowerCase(t *testing.T) {
	f := helloFile()
	f.SHA1 = mustHex(t, "ABCDEF0123456789ABCDEF0123456789ABCDEF01")
	var buf bytes.Buffer
	if err := f.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "SHA-1: "+hex.EncodeToString(f.SHA1)+"\n") || strings.Contains(buf.String(), "ABCDEF") {
		t.Errorf("SHA-1 not lower-case hex:\n%s", headerOf(buf.Bytes()))
	}
}
