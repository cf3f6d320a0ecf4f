package zsyncfile

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zyncio/zync/index"
)

// requireTool returns the path of a zsync 0.6.2 program, failing the test
// when it is not installed.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: the CI image must install the Debian/Ubuntu package zsync (apt-get install zsync)", name)
		}
		t.Fatalf("%s not found: install the package zsync (apt-get install zsync) to run the interoperability tests", name)
	}
	return path
}

// genData returns n pseudo-random bytes with some repetition, so that blocks
// are not all unique.
func genData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		if i >= 3000 && r.IntN(4) == 0 {
			b[i] = b[i-3000]
		} else {
			b[i] = byte(r.IntN(256))
		}
	}
	return b
}

// TestZsyncmakeInterop runs the real zsyncmake 0.6.2 and checks that Parse
// reads its output as the sums of the data, that Params and DefaultBlocksize
// choose its parameters, and that Encode and EncodeRecords reproduce its
// output byte for byte.
func TestZsyncmakeInterop(t *testing.T) {
	zsyncmake := requireTool(t, "zsyncmake")
	dir := t.TempDir()
	mtime := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, size := range []int{1, 2047, 2048, 2049, 100000, 300000} {
		data := genData(size, uint64(size))
		name := fmt.Sprintf("data-%d.bin", size)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		for _, bs := range []int{0, 1024, 2048, 4096} { // 0: zsyncmake's default
			t.Run(fmt.Sprintf("size=%d/b=%d", size, bs), func(t *testing.T) {
				out := filepath.Join(dir, fmt.Sprintf("%s.%d.zsync", name, bs))
				args := []string{"-u", "http://example.com/" + name, "-o", out}
				if bs != 0 {
					args = append(args, "-b", fmt.Sprint(bs))
				}
				args = append(args, name)
				cmd := exec.Command(zsyncmake, args...)
				cmd.Dir = dir
				if msg, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("zsyncmake %s: %v\n%s", strings.Join(args, " "), err, msg)
				}
				real, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				f, err := Parse(bytes.NewReader(real))
				if err != nil {
					t.Fatal(err)
				}
				x := &f.Index
				if err := describes(x, data); err != nil {
					t.Errorf("parsed records do not describe the data: %v", err)
				}
				wantBS := bs
				if bs == 0 {
					wantBS = DefaultBlocksize(int64(size))
				}
				seq, wb, sl := Params(int64(size), wantBS)
				if x.Blocksize != wantBS || x.SeqMatches != seq || x.WeakBytes != wb || x.StrongLen != sl {
					t.Errorf("zsyncmake chose %d %d,%d,%d; DefaultBlocksize/Params give %d %d,%d,%d",
						x.Blocksize, x.SeqMatches, x.WeakBytes, x.StrongLen, wantBS, seq, wb, sl)
				}
				sum := sha1.Sum(data)
				if !bytes.Equal(f.SHA1, sum[:]) || f.Filename != name || !f.MTime.Equal(mtime) {
					t.Errorf("SHA1 %x Filename %q MTime %v", f.SHA1, f.Filename, f.MTime)
				}

				// EncodeRecords of sums computed here equals zsyncmake's
				// binary section byte for byte.
				mine := refIndex(data, wantBS, seq, wb, sl, index.MD4)
				var recs bytes.Buffer
				if err := EncodeRecords(&recs, &mine); err != nil {
					t.Fatal(err)
				}
				section := real[bytes.Index(real, []byte("\n\n"))+2:]
				if !bytes.Equal(recs.Bytes(), section) {
					t.Errorf("EncodeRecords differs from zsyncmake's binary section (%d vs %d bytes)", recs.Len(), len(section))
				}

				// And the whole file.
				mf := &File{Version: "0.6.2", Filename: name, MTime: mtime, URLs: []string{"http://example.com/" + name}, SHA1: sum[:], Index: mine}
				var whole bytes.Buffer
				if err := mf.Encode(&whole); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(whole.Bytes(), real) {
					t.Errorf("Encode differs from zsyncmake:\n%s\nwant\n%s", headerOf(whole.Bytes()), headerOf(real))
				}
			})
		}
	}
}

// TestZsyncmakeEmpty checks zsyncmake's output for an empty input: Length 0,
// Hash-Lengths 1,2,3 and no records.
func TestZsyncmakeEmpty(t *testing.T) {
	zsyncmake := requireTool(t, "zsyncmake")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(zsyncmake, "-u", "empty", "-o", "empty.zsync", "empty")
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zsyncmake: %v\n%s", err, msg)
	}
	f, err := Parse(bytes.NewReader(readFile(t, filepath.Join(dir, "empty.zsync"))))
	if err != nil {
		t.Fatal(err)
	}
	x := &f.Index
	if x.Length != 0 || x.Blocksize != 2048 || x.SeqMatches != 1 || x.WeakBytes != 2 || x.StrongLen != 3 || len(x.Weak) != 0 {
		t.Errorf("index %+v", x)
	}
	if s, w, c := Params(0, 2048); s != x.SeqMatches || w != x.WeakBytes || c != x.StrongLen {
		t.Errorf("Params(0) = %d,%d,%d", s, w, c)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestZsyncClientAcceptsEncode runs the real zsync 0.6.2 client on files
// written by Encode, with a seed holding the whole target so that nothing is
// downloaded: MD4 files (with File-Hash and Extra headers) must be accepted
// and reconstructed, MD5 and SHA-224 files refused.
func TestZsyncClientAcceptsEncode(t *testing.T) {
	zsync := requireTool(t, "zsync")
	data := genData(300000, 7)
	sum1 := sha1.Sum(data)
	var sum256 [32]byte
	copy(sum256[:], bytes.Repeat([]byte{0xab}, 32)) // 0.6.2 ignores File-Hash
	tests := []struct {
		name   string
		file   File
		accept bool
	}{
		{"0.6.2 style", File{Filename: "target.bin", SHA1: sum1[:], Index: refIndex(data, 2048, 2, 2, 5, index.MD4)}, true},
		{"MD4 with File-Hash and Extra", File{Version: "zync/1", Filename: "target.bin", SHA1: sum1[:], SHA256: sum256[:],
			Extra: []Header{{"X-Signature", "sig"}, {"X-Other", "o"}}, Index: refIndex(data, 1024, 1, 4, 16, index.MD4)}, true},
		{"MD5", File{Filename: "target.bin", SHA1: sum1[:], Index: refIndex(data, 2048, 2, 2, 5, index.MD5)}, false},
		{"MD5 with File-Hash", File{Filename: "target.bin", SHA256: sum256[:], Index: refIndex(data, 2048, 1, 4, 16, index.MD5)}, false},
		{"SHA-224", File{Filename: "target.bin", SHA1: sum1[:], Index: refIndex(data, 2048, 1, 4, 28, index.SHA224)}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			seed := filepath.Join(dir, "seed.bin")
			if err := os.WriteFile(seed, data, 0o644); err != nil {
				t.Fatal(err)
			}
			tt.file.URLs = []string{"http://127.0.0.1:9/target.bin"} // never contacted
			var buf bytes.Buffer
			if err := tt.file.Encode(&buf); err != nil {
				t.Fatal(err)
			}
			zs := filepath.Join(dir, "target.bin.zsync")
			if err := os.WriteFile(zs, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, fmt.Sprintf("out%d.bin", i))
			cmd := exec.Command(zsync, "-q", "-i", seed, "-o", out, zs)
			cmd.Dir = dir
			msg, err := cmd.CombinedOutput()
			if !tt.accept {
				if err == nil {
					t.Fatalf("zsync accepted the file:\n%s", msg)
				}
				if !strings.Contains(string(msg), "unrecognised tag Strong-Hash-Algorithm") && !strings.Contains(string(msg), "nonsensical hash lengths") {
					t.Errorf("zsync refused it for another reason:\n%s", msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("zsync: %v\n%s", err, msg)
			}
			if got := readFile(t, out); !bytes.Equal(got, data) {
				t.Errorf("zsync built %d bytes that differ from the target", len(got))
			}
		})
	}
}
