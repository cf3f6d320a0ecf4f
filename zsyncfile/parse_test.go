package zsyncfile

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zyncio/zync/index"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseUpstreamFixtures(t *testing.T) {
	target := readTestdata(t, "target.dat")
	sum1 := sha1.Sum(target)
	sum256 := sha256.Sum256(target)
	mtime := time.Date(2026, 5, 28, 16, 40, 12, 0, time.UTC)
	const (
		sha1Good = "d0be479e0a823100bd09a997d125979626272453"
		sha1Bad  = "fd7467dfb39d77c5db0a7f0b08dbcded1dc013d8"
		sha256   = "e342d5e314285c95ee8ad3c28838b4a6e6139f4ef64d689490a30785e79ceb83"
	)
	tests := []struct {
		file         string
		version      string
		mtime        time.Time
		bs           int
		length       int64
		seq, wb, sl  int
		algo         index.StrongAlgo
		sha1, sha256 string // hex, "" if absent
		url          string
		describes    bool // the records describe target.dat
	}{
		{"target.dat.zsync", "0.8.0", mtime, 2048, 281020, 1, 4, 16, index.MD4, "", sha256, "target.dat", true},
		{"target.dat.0.6.zsync", "0.6.5", mtime, 2048, 281020, 1, 3, 6, index.MD4, sha1Good, "", "target.dat", true},
		{"target.dat.bad-checksum.zsync", "0.7.1", mtime, 2048, 281020, 1, 3, 6, index.MD4, sha1Bad, "", "target.dat", true},
		{"target.dat.bad.zsync", "0.7.2", time.Date(2026, 6, 13, 11, 1, 22, 0, time.UTC), 1024, 281021, 1, 4, 6, index.MD4, sha1Bad, "", "target.dat", false},
		{"target.dat.md5.zsync", "0.8.0", mtime, 2048, 281020, 1, 4, 16, index.MD5, "", sha256, "target.dat", true},
		{"target.dat.sha224.zsync", "0.8.0", mtime, 2048, 281020, 1, 4, 28, index.SHA224, "", sha256, "target.dat", true},
		{"target.dat.sm2.zsync", "0.7.1", time.Date(2026, 6, 7, 22, 11, 3, 0, time.UTC), 1024, 281020, 2, 4, 4, index.MD4, sha1Good, "", "target.dat", true},
		{"target.dat3.zsync", "0.7.1", mtime, 2048, 281020, 1, 3, 6, index.MD4, sha1Good, "", "target.dat3", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := Parse(bytes.NewReader(readTestdata(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			x := &f.Index
			if f.Version != tt.version || f.Filename != "target.dat" || !f.MTime.Equal(tt.mtime) || f.MTime.Location() != time.UTC {
				t.Errorf("Version %q Filename %q MTime %v, want %q target.dat %v UTC", f.Version, f.Filename, f.MTime, tt.version, tt.mtime)
			}
			if x.Blocksize != tt.bs || x.Length != tt.length || x.SeqMatches != tt.seq || x.WeakBytes != tt.wb || x.StrongLen != tt.sl || x.Algo != tt.algo {
				t.Errorf("index params %d %d %d,%d,%d %v, want %d %d %d,%d,%d %v",
					x.Blocksize, x.Length, x.SeqMatches, x.WeakBytes, x.StrongLen, x.Algo,
					tt.bs, tt.length, tt.seq, tt.wb, tt.sl, tt.algo)
			}
			if got := hex.EncodeToString(f.SHA1); got != tt.sha1 {
				t.Errorf("SHA1 %q, want %q", got, tt.sha1)
			}
			if got := hex.EncodeToString(f.SHA256); got != tt.sha256 {
				t.Errorf("SHA256 %q, want %q", got, tt.sha256)
			}
			if !reflect.DeepEqual(f.URLs, []string{tt.url}) {
				t.Errorf("URLs %q, want [%q]", f.URLs, tt.url)
			}
			if len(f.Extra) != 0 {
				t.Errorf("Extra %q, want none", f.Extra)
			}
			err = describes(x, target)
			if tt.describes && err != nil {
				t.Errorf("records do not describe target.dat: %v", err)
			}
			if !tt.describes && err == nil {
				t.Errorf("records describe target.dat, want them not to")
			}
			// The whole-file hashes agree with target.dat except in the bad ones.
			if f.SHA1 != nil && bytes.Equal(f.SHA1, sum1[:]) != (tt.sha1 == sha1Good) {
				t.Errorf("SHA-1 match with target.dat is %v", bytes.Equal(f.SHA1, sum1[:]))
			}
			if f.SHA256 != nil && !bytes.Equal(f.SHA256, sum256[:]) {
				t.Errorf("SHA-256 does not match target.dat")
			}
		})
	}
}

// build assembles a control file from header text and a binary tail.
func build(header string, tail []byte) []byte {
	return append([]byte(header), tail...)
}

func TestParseDialects(t *testing.T) {
	hello := helloData()
	recs := refRecords(hello, 2048, 2, 3, index.MD4)    // Hash-Lengths 2,2,3
	recs16 := refRecords(hello, 2048, 4, 16, index.MD4) // default 1,4,16
	want := refIndex(hello, 2048, 2, 2, 3, index.MD4)
	want16 := refIndex(hello, 2048, 1, 4, 16, index.MD4)
	zmap := []byte{0x00, 0x50, '\n', '\n', '\r', '\n', ':', ' ', '\n', 0x80, 0x00, '\n'} // 3 entries
	const sha = "b52377de1451c3f503521e4c33de84538b9c6545"
	mtime := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

	tests := []struct {
		name  string
		input []byte
		check func(t *testing.T, f *File)
	}{
		{
			name: "zsync2 sorted headers, zsync last",
			input: build("Blocksize: 2048\nFilename: hello.txt\nHash-Lengths: 2,2,3\nLength: 5500\n"+
				"MTime: Wed, 01 May 2024 12:00:00 +0000\nSHA-1: "+sha+"\nURL: http://example.com/hello.txt\nzsync: 2.0.0-alpha-1\n\n", recs),
			check: func(t *testing.T, f *File) {
				if f.Version != "2.0.0-alpha-1" || f.Filename != "hello.txt" || !f.MTime.Equal(mtime) || hex.EncodeToString(f.SHA1) != sha {
					t.Errorf("got %+v", f)
				}
				checkIndex(t, &f.Index, &want)
			},
		},
		{
			name:  "no zsync header",
			input: build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nURL: u\n\n", recs),
			check: func(t *testing.T, f *File) {
				if f.Version != "" {
					t.Errorf("Version %q, want empty", f.Version)
				}
				checkIndex(t, &f.Index, &want)
			},
		},
		{
			name:  "CRLF header lines, CRLF blank line",
			input: build("zsync: 0.6.2\r\nBlocksize: 2048\r\nLength: 5500\r\nHash-Lengths: 2,2,3\r\nURL: http://x/y\r\nSHA-1: "+sha+"\r\n\r\n", recs),
			check: func(t *testing.T, f *File) {
				if f.Version != "0.6.2" || f.URLs[0] != "http://x/y" || hex.EncodeToString(f.SHA1) != sha {
					t.Errorf("got %+v", f)
				}
				checkIndex(t, &f.Index, &want)
			},
		},
		{
			name:  "CRLF header lines, LF blank line",
			input: build("zsync: 0.6.2\r\nBlocksize: 2048\r\nLength: 5500\r\nHash-Lengths: 2,2,3\r\nURL: http://x/y\r\n\n", recs),
			check: func(t *testing.T, f *File) { checkIndex(t, &f.Index, &want) },
		},
		{
			name: "gzip mode: Z-Map2 binary with newlines, Z-URL, Recompress, junk record",
			input: build("zsync: 0.6.2\nSafe: Z-Filename Recompress MTime\nZ-Filename: hello.txt.gz\nFilename: hello.txt\n"+
				"Blocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nZ-URL: hello.txt.gz\nURL: hello.txt\nSHA-1: "+sha+"\n"+
				"Recompress: 1f8b080000000000 --best\nZ-Map2: 3\n"+string(zmap)+"\n",
				append(append([]byte{}, recs...), "\x11\x22\n\x33\x44"...)),
			check: func(t *testing.T, f *File) {
				if !reflect.DeepEqual(f.URLs, []string{"hello.txt"}) || f.Filename != "hello.txt" || len(f.Extra) != 0 {
					t.Errorf("got %+v", f)
				}
				checkIndex(t, &f.Index, &want)
			},
		},
		{
			name:  "Z-Map2 with zero entries, then more headers",
			input: build("Blocksize: 2048\nLength: 5500\nZ-Map2: 0\nHash-Lengths: 2,2,3\nURL: u\n\n", recs),
			check: func(t *testing.T, f *File) { checkIndex(t, &f.Index, &want) },
		},
		{
			name:  "junk after the records",
			input: build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nURL: u\n\n", append(append([]byte{}, recs...), bytes.Repeat([]byte{0xff}, 1000)...)),
			check: func(t *testing.T, f *File) { checkIndex(t, &f.Index, &want) },
		},
		{
			name:  "missing Hash-Lengths means 1,4,16",
			input: build("zsync: 0.6.2\nBlocksize: 2048\nLength: 5500\nURL: u\n\n", recs16),
			check: func(t *testing.T, f *File) { checkIndex(t, &f.Index, &want16) },
		},
		{
			name:  "missing Hash-Lengths with SHA-224 means 1,4,28",
			input: build("zsync: 0.8.0\nBlocksize: 2048\nLength: 5500\nStrong-Hash-Algorithm: SHA-224\nURL: u\n\n", refRecords(hello, 2048, 4, 28, index.SHA224)),
			check: func(t *testing.T, f *File) {
				w := refIndex(hello, 2048, 1, 4, 28, index.SHA224)
				checkIndex(t, &f.Index, &w)
			},
		},
		{
			name:  "unknown header accepted when the last Safe lists it as a substring",
			input: build("zsync: 0.6.2\nSafe: X-Foobar,Other\nFoo: bar baz\nBlocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nURL: u\nOther: 1\n\n", recs),
			check: func(t *testing.T, f *File) {
				if want := []Header{{"Foo", "bar baz"}, {"Other", "1"}}; !reflect.DeepEqual(f.Extra, want) {
					t.Errorf("Extra %q, want %q", f.Extra, want)
				}
			},
		},
		{
			name:  "Min-Version not newer than supported",
			input: build("zsync: 0.8.0\nMin-Version: 0.8.0\nMin-Version: 0.6.2\nBlocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nURL: u\n\n", recs),
			check: func(t *testing.T, f *File) { checkIndex(t, &f.Index, &want) },
		},
		{
			name:  "Length 0 has no records",
			input: []byte("zsync: 0.6.2\nFilename: empty\nBlocksize: 2048\nLength: 0\nHash-Lengths: 1,2,3\nURL: empty\nSHA-1: da39a3ee5e6b4b0d3255bfef95601890afd80709\n\n"),
			check: func(t *testing.T, f *File) {
				x := &f.Index
				if x.Length != 0 || x.NumBlocks() != 0 || len(x.Weak) != 0 || len(x.Strong) != 0 {
					t.Errorf("index %+v, want empty", x)
				}
			},
		},
		{
			name:  "missing space after colon, extra spaces in numbers",
			input: build("zsync:0.6.2\nBlocksize:  2048\nLength:5500\nHash-Lengths: 2, 2, 3\nURL:u\n\n", recs),
			check: func(t *testing.T, f *File) {
				if f.Version != "0.6.2" || f.URLs[0] != "u" {
					t.Errorf("got %+v", f)
				}
				checkIndex(t, &f.Index, &want)
			},
		},
		{
			name:  "later duplicates overwrite, URLs accumulate",
			input: build("Blocksize: 1024\nBlocksize: 2048\nLength: 1\nLength: 5500\nHash-Lengths: 1,4,16\nHash-Lengths: 2,2,3\nURL: a\nURL: b\nURL: c\nFilename: x\nFilename: y\n\n", recs),
			check: func(t *testing.T, f *File) {
				if !reflect.DeepEqual(f.URLs, []string{"a", "b", "c"}) || f.Filename != "y" {
					t.Errorf("got %+v", f)
				}
				checkIndex(t, &f.Index, &want)
			},
		},
		{
			name: "MTime without weekday and with a zone, SHA-1 upper case",
			input: build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nURL: u\nMTime: 1 May 2024 07:00:00 -0500\nSHA-1: "+
				strings.ToUpper(sha)+"\n\n", recs),
			check: func(t *testing.T, f *File) {
				if !f.MTime.Equal(mtime) || f.MTime.Location() != time.UTC || hex.EncodeToString(f.SHA1) != sha {
					t.Errorf("MTime %v SHA1 %x", f.MTime, f.SHA1)
				}
			},
		},
		{
			name:  "unparsable MTime and short SHA-1 are ignored",
			input: build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nURL: u\nMTime: yesterday\nSHA-1: abcdef\n\n", recs),
			check: func(t *testing.T, f *File) {
				if !f.MTime.IsZero() || f.SHA1 != nil {
					t.Errorf("MTime %v SHA1 %x, want both absent", f.MTime, f.SHA1)
				}
			},
		},
		{
			name:  "File-Hash SHA-1 and unknown File-Hash algorithm",
			input: build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nURL: u\nFile-Hash: SHA-1:"+sha+"\nFile-Hash: BLAKE3:00\n\n", recs),
			check: func(t *testing.T, f *File) {
				if hex.EncodeToString(f.SHA1) != sha || f.SHA256 != nil {
					t.Errorf("SHA1 %x SHA256 %x", f.SHA1, f.SHA256)
				}
			},
		},
		{
			name:  "Filename with a slash is ignored",
			input: build("Filename: ../../etc/passwd\nBlocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nURL: u\n\n", recs),
			check: func(t *testing.T, f *File) {
				if f.Filename != "" {
					t.Errorf("Filename %q, want empty", f.Filename)
				}
			},
		},
		{
			name:  "no URL at all is not an error",
			input: build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\n\n", recs),
			check: func(t *testing.T, f *File) {
				if len(f.URLs) != 0 {
					t.Errorf("URLs %q", f.URLs)
				}
			},
		},
		{
			name:  "lower-case algorithm name",
			input: build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nStrong-Hash-Algorithm: md5\nURL: u\n\n", refRecords(hello, 2048, 2, 3, index.MD5)),
			check: func(t *testing.T, f *File) {
				w := refIndex(hello, 2048, 2, 2, 3, index.MD5)
				checkIndex(t, &f.Index, &w)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(bytes.NewReader(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, f)
		})
	}
}

// checkIndex compares two indexes field by field.
func checkIndex(t *testing.T, got, want *index.Index) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("index\n got %+v\nwant %+v", *got, *want)
	}
}

// TestParseWeakBytes checks that the stored weak bytes are the trailing ones
// of A_hi A_lo B_hi B_lo, for every weak length.
func TestParseWeakBytes(t *testing.T) {
	for wb := 1; wb <= 4; wb++ {
		rec := append([]byte{0xa1, 0xa2, 0xb1, 0xb2}[4-wb:], 1, 2, 3)
		in := build("Blocksize: 16\nLength: 16\nHash-Lengths: 1,"+string(rune('0'+wb))+",3\nURL: u\n\n", rec)
		f, err := Parse(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		want := uint32(0xa1a2b1b2) & index.WeakMask(wb)
		if f.Index.Weak[0] != want || !bytes.Equal(f.Index.Strong, []byte{1, 2, 3}) {
			t.Errorf("weak bytes %d: Weak %#x Strong %x, want %#x 010203", wb, f.Index.Weak[0], f.Index.Strong, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	hello := helloData()
	recs := refRecords(hello, 2048, 2, 3, index.MD4)
	const base = "Blocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nURL: u\n"
	tests := []struct {
		name     string
		input    []byte
		sentinel error
		contains string
	}{
		{"empty input", nil, ErrFormat, "empty input"},
		{"binary garbage", []byte("\x89PNG\r\n\x1a\n\x00\x00"), ErrFormat, "line 1"},
		{"HTML page", []byte("<html>\n<body>404</body>\n"), ErrFormat, `want "Name: value"`},
		{"no blank line", []byte("zsync: 0.6.2\nBlocksize: 2048\n"), ErrFormat, "before the blank line"},
		{"missing Blocksize", []byte("zsync: 0.6.2\nLength: 10\nURL: u\n\n"), ErrFormat, "not a zsync file"},
		{"missing Length", []byte("zsync: 0.6.2\nBlocksize: 2048\nURL: u\n\n"), ErrFormat, "not a zsync file"},
		{"unknown header", build("zsync: 0.6.2\nX-Foo: bar\n"+base+"\n", recs), ErrUnsupported, `unknown header "X-Foo" is not listed in Safe`},
		{"Safe after the header", build("Foo: 1\nSafe: Foo\n"+base+"\n", recs), ErrUnsupported, `"Foo"`},
		{"only the last Safe counts", build("Safe: Foo\nSafe: Bar\nFoo: 1\n"+base+"\n", recs), ErrUnsupported, `"Foo"`},
		{"header names are case-sensitive", build("url: x\n"+base+"\n", recs), ErrUnsupported, `"url"`},
		{"Min-Version newer", build("Min-Version: 0.8.1\n"+base+"\n", recs), ErrUnsupported, "or newer"},
		{"Min-Version 0.10", build("Min-Version: 0.10\n"+base+"\n", recs), ErrUnsupported, "or newer"},
		{"Min-Version 1.0", build("Min-Version: 1.0\n"+base+"\n", recs), ErrUnsupported, "or newer"},
		{"zsync 0.0.4", build("zsync: 0.0.4\n"+base+"\n", recs), ErrUnsupported, "0.0.4"},
		{"only Z-URLs", build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 2,2,3\nZ-URL: u.gz\nZ-Map2: 0\n\n", recs), ErrUnsupported, "Z-URL"},
		{"unknown strong algorithm", build("Strong-Hash-Algorithm: BLAKE3\n"+base+"\n", recs), ErrUnsupported, "BLAKE3"},
		{"strong length above MD4's 16", build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 1,4,20\nURL: u\n\n", recs), ErrFormat, "20 strong sum bytes"},
		{"strong length 2", build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 1,4,2\n\n", recs), ErrFormat, "strong sum length 2"},
		{"strong length 29", build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 1,4,29\n\n", recs), ErrFormat, "strong sum length 29"},
		{"seq matches 3", build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 3,4,16\n\n", recs), ErrFormat, "seq_matches 3"},
		{"weak length 5", build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 1,5,16\n\n", recs), ErrFormat, "weak sum length 5"},
		{"weak length 0", build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 1,0,16\n\n", recs), ErrFormat, "weak sum length 0"},
		{"Hash-Lengths two fields", build("Blocksize: 2048\nLength: 5500\nHash-Lengths: 1,4\n\n", recs), ErrFormat, "Hash-Lengths"},
		{"negative Hash-Lengths", build("Blocksize: 2048\nLength: 5500\nHash-Lengths: -1,4,16\n\n", recs), ErrFormat, "Hash-Lengths"},
		{"negative Length", []byte("Blocksize: 2048\nLength: -5\n\n"), ErrFormat, "Length"},
		{"negative Blocksize", []byte("Blocksize: -2048\nLength: 5\n\n"), ErrFormat, "Blocksize"},
		{"Length not a number", []byte("Blocksize: 2048\nLength: 12abc\n\n"), ErrFormat, "Length"},
		{"Length overflows", []byte("Blocksize: 2048\nLength: 99999999999999999999\n\n"), ErrFormat, "out of range"},
		{"Blocksize not a power of two", []byte("Blocksize: 3000\nLength: 5\n\n"), ErrFormat, "Blocksize 3000 is not a power of two"},
		{"Blocksize 0", []byte("Blocksize: 0\nLength: 5\n\n"), ErrFormat, "Blocksize 0"},
		{"Blocksize too small", []byte("Blocksize: 8\nLength: 5\n\n"), ErrFormat, "Blocksize 8"},
		{"Blocksize too large", []byte("Blocksize: 134217728\nLength: 5\n\n"), ErrFormat, "Blocksize 134217728"},
		{"too many blocks", []byte("Blocksize: 16\nLength: 9223372036854775807\n\n"), ErrFormat, "more than the limit"},
		{"negative Z-Map2", []byte("Blocksize: 2048\nLength: 5\nZ-Map2: -1\n\n"), ErrFormat, "Z-Map2"},
		{"Z-Map2 over the limit", []byte("Blocksize: 2048\nLength: 5\nZ-Map2: 99999999999\n\n"), ErrFormat, "more than the limit"},
		{"Z-Map2 longer than the file", []byte("Blocksize: 2048\nLength: 5\nZ-Map2: 268435456\nabc"), ErrFormat, "input ends after 3"},
		{"no colon", build("Blocksize 2048\n", recs), ErrFormat, `line 1: want "Name: value", got "Blocksize 2048"`},
		{"space in name", build("Block size: 2048\n", recs), ErrFormat, "bad header name"},
		{"empty name", build(": 2048\n", recs), ErrFormat, "bad header name"},
		{"empty value", build("URL: \n"+base+"\n", recs), ErrFormat, "empty value"},
		{"empty value without space", build("URL:\n"+base+"\n", recs), ErrFormat, "empty value"},
		{"line of spaces", build("zsync: 1\n   \n"+base+"\n", recs), ErrFormat, "line 2"},
		{"NUL in line", build("URL: a\x00b\n"+base+"\n", recs), ErrFormat, "NUL"},
		{"SHA-1 not hex", build("SHA-1: "+strings.Repeat("zz", 20)+"\n"+base+"\n", recs), ErrFormat, "not hex"},
		{"File-Hash SHA-256 short", build("File-Hash: SHA-256:abcd\n"+base+"\n", recs), ErrFormat, "64 hex digits"},
		{"short checksum section", build(base+"\n", recs[:12]), ErrFormat, "after 2 complete records of 5 bytes, want 3"},
		{"no checksum section", []byte(base + "\n"), ErrFormat, "after 0 complete records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(bytes.NewReader(tt.input))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", f)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %q does not wrap %v", err, tt.sentinel)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
			if !strings.HasPrefix(err.Error(), "zsyncfile: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestParseHostile checks that inputs claiming huge sizes fail clearly and
// cheaply.
func TestParseHostile(t *testing.T) {
	longLine := "URL: " + strings.Repeat("x", 100<<10) + "\n"
	manyLines := strings.Repeat("URL: u\n", MaxHeaders+1)
	bigHeader := "Safe: X-Pad\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 60<<10)+"\n", 20)
	tests := []struct {
		name     string
		input    string
		contains string
	}{
		{"2^40 bytes of target, no records", "Blocksize: 2048\nLength: 1099511627776\nURL: u\n\n", "after 0 complete records"},
		{"2^36 bytes at blocksize 16, a few records", "Blocksize: 16\nLength: 68719476736\nURL: u\n\n" + strings.Repeat("r", 200), "after 10 complete records of 20 bytes, want 4294967296"},
		{"huge Z-Map2", "Blocksize: 2048\nLength: 1\nZ-Map2: 268435456\n" + strings.Repeat("z", 1000), "Z-Map2 claims 1073741824 bytes"},
		{"giant line", longLine, "longer than 65536 bytes"},
		{"too many header lines", manyLines, "more than 4096 header lines"},
		{"too many header bytes", bigHeader, "headers longer than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			alloc := allocated(func() { _, err = Parse(strings.NewReader(tt.input)) })
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %v, want ErrFormat containing %q", err, tt.contains)
			}
			// Input size plus the 64 KiB line buffer and a 128 KiB record buffer.
			if limit := uint64(len(tt.input))*3 + 1<<20; alloc > limit {
				t.Errorf("Parse allocated %d bytes, want at most %d", alloc, limit)
			}
		})
	}
}

// errReader fails after returning its data.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	for _, in := range []string{"zsync: 0.6.2\nBlocksize: 2048\n", "Blocksize: 2048\nLength: 5500\n\nabc"} {
		_, err := Parse(&errReader{data: []byte(in), err: boom})
		if !errors.Is(err, boom) || errors.Is(err, ErrFormat) {
			t.Errorf("Parse(%q): error %v, want the reader's error only", in, err)
		}
	}
	// io.ErrUnexpectedEOF from the reader itself still means a short file.
	_, err := Parse(&errReader{data: []byte("Blocksize: 2048\nLength: 5500\n\nabc"), err: io.ErrUnexpectedEOF})
	if !errors.Is(err, ErrFormat) {
		t.Errorf("error %v, want ErrFormat", err)
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"0.6.2", "0.8.0", -1},
		{"0.8", "0.8.0", 0},
		{"0.8.0", "0.8.0", 0},
		{"0.8.1", "0.8.0", 1},
		{"0.10", "0.8.0", 1},
		{"1", "0.8.0", 1},
		{"0.7.2-rc1", "0.8.0", -1},
		{"0.8.0b", "0.8.0", 1},
	}
	for _, tt := range tests {
		if got := compareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
