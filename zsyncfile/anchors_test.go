package zsyncfile

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/zyncio/zync/index"
)

// TestAnchorsRoundTrip checks that anchor records are written after the
// checksum records, announced in Safe, and read back.
func TestAnchorsRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("anchors round trip "), 300) // 5,700 bytes
	f := &File{URLs: []string{"t"}, Index: refIndex(data, 1024, 2, 2, 3, index.MD4)}
	f.Index.Anchors = &index.Anchors{
		Bits: 8,
		Off:  []uint16{0, 17, index.NoAnchor, 896, 800, index.NoAnchor},
		Key:  []uint32{1, 2, 0, 0xfffefdfc, 5, 0},
	}
	var buf bytes.Buffer
	if err := f.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	hdr, body, _ := bytes.Cut(buf.Bytes(), []byte("\n\n"))
	if !strings.Contains(string(hdr), "\nSafe: X-Zync-Anchors\nX-Zync-Anchors: 8") {
		t.Errorf("header lacks the anchors line after its Safe line:\n%s", hdr)
	}
	if want := 6*5 + 6*6; len(body) != want {
		t.Errorf("%d bytes after the header, want %d", len(body), want)
	}
	if got := body[6*5+3*6:][:6]; !bytes.Equal(got, []byte{0x03, 0x80, 0xff, 0xfe, 0xfd, 0xfc}) {
		t.Errorf("block 3's anchor record is % x", got)
	}
	g, err := Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Index.Anchors, f.Index.Anchors) {
		t.Errorf("anchors read back as %+v, want %+v", g.Index.Anchors, f.Index.Anchors)
	}

	// Readers that do not know anchors: the records are ignored like any
	// bytes after the checksums, and the header needs Safe.
	plain := *f
	plain.Index.Anchors = nil
	var pb bytes.Buffer
	if err := plain.Encode(&pb); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes()[len(hdr)+2:], pb.Bytes()[bytes.Index(pb.Bytes(), []byte("\n\n"))+2:]) {
		t.Error("the checksum records differ with anchors")
	}
}

func TestAnchorsBad(t *testing.T) {
	head := "Blocksize: 1024\nLength: 1030\nHash-Lengths: 1,2,3\nURL: u\n"
	recs := "wwsssWWSSS"
	for _, tt := range []struct {
		name, in, want string
	}{
		{"truncated", head + "X-Zync-Anchors: 6\n\n" + recs + "\x00\x10abcd\xff\xff", "ends after 1 complete records"},
		{"none", head + "X-Zync-Anchors: 6\n\n" + recs, "ends after 0 complete records"},
		{"density too low", head + "X-Zync-Anchors: 5\n\n" + recs, "not an anchor density"},
		{"density too high", head + "X-Zync-Anchors: 17\n\n" + recs, "not an anchor density"},
		{"not a number", head + "X-Zync-Anchors: v1\n\n" + recs, "not an anchor density"},
		{"window past the block", head + "X-Zync-Anchors: 6\n\n" + recs + "\x03\x81abcd\xff\xff\x00\x00\x00\x00", "block 0's anchor window at offset 897"},
		{"window past the short block", head + "X-Zync-Anchors: 6\n\n" + recs + "\x00\x00abcd\x00\x00\x00\x00\x00\x00", "block 1's anchor window at offset 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrFormat with %q", err, tt.want)
			}
		})
	}
}
