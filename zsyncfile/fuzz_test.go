package zsyncfile

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// longestLine returns the length, LF included, of the longest header line
// Encode would write for f.
func longestLine(f *File) int {
	n := len("zsync: \n") + max(len(f.Version), len(DefaultVersion))
	n = max(n, len("Filename: \n")+len(f.Filename))
	for _, u := range f.URLs {
		n = max(n, len("URL: \n")+len(u))
	}
	for _, h := range f.Extra {
		n = max(n, len(h.Name)+len(": \n")+len(h.Value), len("Safe: \n")+len(h.Name))
	}
	return n
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// (with a URL) survives Encode and a second Parse unchanged, apart from an
// empty Version becoming DefaultVersion. Files with a header line longer than
// Encode's 1023-byte limit must be refused by Encode instead.
//
// Run it with
//
//	go test -run='^$' -fuzz=FuzzParse -fuzztime=60s -fuzzminimizetime=5s ./zsyncfile/
//
// With the default minimize time the fuzzer can spend most of a short first
// run minimizing inputs grown from the multi-kilobyte fixtures, and its
// progress line shows "0/sec" meanwhile (those executions are counted when
// minimizing ends).
func FuzzParse(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.zsync"))
	if err != nil || len(fixtures) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range fixtures {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(helloZsync(f))
	f.Add([]byte("Blocksize: 16\nLength: 20\nURL: u\n\n" + strings.Repeat("r", 40)))
	f.Add([]byte("Blocksize: 16\nLength: 0\nURL: u\n\n"))
	f.Add([]byte("zsync: 0.8.0\r\nSafe: X-A\r\nX-A: 1\r\nBlocksize: 32\r\nLength: 33\r\nHash-Lengths: 2,2,3\r\nStrong-Hash-Algorithm: SHA-224\r\nURL: u\r\nMTime: 1 Jan 2000 00:00:00 +0100\r\n\r\n" + strings.Repeat("x", 10)))
	f.Add([]byte("Blocksize: 16\nLength: 5\nZ-Map2: 2\n\n\n\n\nURL: u\nZ-URL: z\nFile-Hash: SHA-256:" + strings.Repeat("0", 64) + "\n\n" + strings.Repeat("r", 20)))
	f.Add([]byte("Length: 99999999999\nBlocksize: 65536\nURL: u\n\nabc"))
	f.Add([]byte("Blocksize: 1024\nLength: 1030\nHash-Lengths: 1,2,3\nURL: u\nSafe: X-Zync-Anchors\nX-Zync-Anchors: 6\n\n" +
		"wwsssWWSSS" + "\x00\x10abcd" + "\xff\xff\x00\x00\x00\x00"))

	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(bytes.NewReader(data))
		// Knowing the size changes only how the index is allocated.
		ps, errs := ParseSized(bytes.NewReader(data), int64(len(data)))
		if (err == nil) != (errs == nil) || (err == nil && !reflect.DeepEqual(p, ps)) {
			t.Fatalf("Parse and ParseSized disagree: %v, %v", err, errs)
		}
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned a File and an error")
			}
			return
		}
		if err := p.Index.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid index: %v", err)
		}
		if len(p.URLs) == 0 {
			return
		}
		var buf bytes.Buffer
		err = p.Encode(&buf)
		if longestLine(p) > MaxWriteLineLen {
			if err == nil {
				t.Fatal("Encode wrote a line longer than MaxWriteLineLen")
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode of a parsed file: %v", err)
		}
		q, err := Parse(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("Parse of Encode output: %v\n%q", err, buf.Bytes())
		}
		want := *p
		if want.Version == "" {
			want.Version = DefaultVersion
		}
		if !reflect.DeepEqual(q, &want) {
			t.Fatalf("round trip changed the file:\n got %+v\nwant %+v", q, &want)
		}
	})
}
