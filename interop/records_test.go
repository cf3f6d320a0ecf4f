package interop

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// splitControl splits a control file into its header values and the binary
// section (everything after the first "\n\n").
func splitControl(t testing.TB, path string) (map[string][]string, []byte) {
	t.Helper()
	b := readFile(t, path)
	head, bin, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		t.Fatalf("%s: no blank line after the header", path)
	}
	h := map[string][]string{}
	for _, line := range strings.Split(string(head), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("%s: bad header line %q", path, line)
		}
		h[k] = append(h[k], v)
	}
	return h, bin
}

// TestZyncMakeRecordsMatchZsyncmake: for files of many sizes and for several
// block sizes, `zync make` and the real zsyncmake (same -b and -u) write the
// same Blocksize, Length, Hash-Lengths, SHA-1 and URL values and the same
// checksum records; with --no-anchors the binary section is byte for byte
// zsyncmake's, without it the anchor records follow (6 bytes a block, for
// blocksizes of 1 KiB to 64 KiB, announced by X-Zync-Anchors in Safe).
func TestZyncMakeRecordsMatchZsyncmake(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	type file struct {
		name string
		size int
	}
	var files []file
	for _, size := range []int{1, 16, 17, 2047, 2048, 2049, 34815, 34816, 65536 + 7, 1<<20 + 3, 5 << 20} {
		name := fmt.Sprintf("r%d.bin", size)
		writeFile(t, filepath.Join(dir, name), randBytes(uint64(100+size), size))
		files = append(files, file{name, size})
	}
	// Low-entropy data too: many equal weak sums.
	writeFile(t, filepath.Join(dir, "text.txt"), textBytes(3, 300001))
	files = append(files, file{"text.txt", 300001})

	for _, f := range files {
		for _, bs := range []int{0, 1024, 4096, 65536} { // 0: each tool's default
			name := fmt.Sprintf("%s/b%d", f.name, bs)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var flags []string
				if bs != 0 {
					flags = []string{"-b", strconv.Itoa(bs)}
				}
				ref := fmt.Sprintf("%s.b%d.zsyncmake.zsync", f.name, bs)
				ours := fmt.Sprintf("%s.b%d.zync.zsync", f.name, bs)
				plain := fmt.Sprintf("%s.b%d.zync-plain.zsync", f.name, bs)
				url := "http://example.com/files/" + f.name
				zsyncmake(t, dir, append(flags, "-u", url, "-o", ref, f.name)...)
				zyncMake(t, dir, append(flags, "-u", url, "-o", ours, f.name)...)
				zyncMake(t, dir, append(flags, "--no-anchors", "-u", url, "-o", plain, f.name)...)

				wantH, wantBin := splitControl(t, filepath.Join(dir, ref))
				gotH, gotBin := splitControl(t, filepath.Join(dir, ours))
				for _, k := range []string{"Blocksize", "Length", "Hash-Lengths", "SHA-1", "URL"} {
					if fmt.Sprint(gotH[k]) != fmt.Sprint(wantH[k]) {
						t.Errorf("%s: zync %q, zsyncmake %q", k, gotH[k], wantH[k])
					}
				}
				if _, plainBin := splitControl(t, filepath.Join(dir, plain)); !bytes.Equal(plainBin, wantBin) {
					t.Errorf("binary section with --no-anchors differs: zync %d bytes, zsyncmake %d bytes, first difference at byte %d (Hash-Lengths %v)",
						len(plainBin), len(wantBin), firstDiff(plainBin, wantBin), wantH["Hash-Lengths"])
				}
				recs := gotBin[:min(len(gotBin), len(wantBin))]
				if !bytes.Equal(recs, wantBin) {
					t.Errorf("checksum records differ: first difference at byte %d (Hash-Lengths %v)", firstDiff(recs, wantBin), wantH["Hash-Lengths"])
				}
				bsize := 2048 // zsyncmake's default below 100 MB
				if bs != 0 {
					bsize = bs
				}
				blocks := (f.size + bsize - 1) / bsize
				wantAnchors := 0
				// Random data has an anchor in every full block; text may
				// not, and then zync make leaves the anchors out.
				if bsize >= 1024 && bsize <= 65536 && (gotH["X-Zync-Anchors"] != nil || strings.HasPrefix(f.name, "r")) {
					wantAnchors = 6 * blocks
					if gotH["X-Zync-Anchors"] == nil || gotH["Safe"] == nil {
						t.Errorf("no X-Zync-Anchors header announced in Safe: %v", gotH)
					}
				}
				if n := len(gotBin) - len(wantBin); n != wantAnchors {
					t.Errorf("%d bytes after the checksum records, want %d of anchor records", n, wantAnchors)
				}
			})
		}
	}
}
