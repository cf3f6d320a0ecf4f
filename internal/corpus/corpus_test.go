package corpus

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

const testPrefix = "golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64/"

type zipEntry struct {
	name string
	mode fs.FileMode // 0: no Unix attributes
	data []byte
}

func testEntries() []zipEntry {
	rng := rand.New(rand.NewPCG(1, 2))
	blob := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	long := strings.Repeat("very-long-directory-name/", 6) + "file-with-a-name-beyond-ustar.txt"
	return []zipEntry{
		{"README.md", 0o644, []byte("hello\n")},
		{"bin/go", 0o755, blob(70000)},
		{"bin/gofmt", 0, blob(3000)}, // no Unix attrs: 0755 under bin/
		{"pkg/tool/linux_amd64/vet", 0, blob(100)},
		{"src/a/b/c.go", 0o600, []byte("package c\n")},
		{"src/a/empty.txt", 0o644, nil},
		{"src/a-b/x.go", 0, []byte("package x\n")},
		{"misc/", 0o750 | fs.ModeDir, nil}, // an explicit directory entry
		{long, 0o644, blob(10)},
	}
}

// makeZip writes the entries in the order given by perm.
func makeZip(t *testing.T, entries []zipEntry, perm []int) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, i := range perm {
		e := entries[i]
		var w io.Writer
		var err error
		if e.mode == 0 {
			w, err = zw.Create(testPrefix + e.name)
		} else {
			h := &zip.FileHeader{Name: testPrefix + e.name, Method: zip.Deflate}
			h.SetMode(e.mode)
			w, err = zw.CreateHeader(h)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestCorpusTarDeterministic(t *testing.T) {
	entries := testEntries()
	inOrder := make([]int, len(entries))
	for i := range inOrder {
		inOrder[i] = i
	}
	shuffled := rand.New(rand.NewPCG(7, 7)).Perm(len(entries))

	dir := t.TempDir()
	z1 := makeZip(t, entries, inOrder)
	z2 := makeZip(t, entries, shuffled)
	a := filepath.Join(dir, "a.tar")
	b := filepath.Join(dir, "b.tar")
	c := filepath.Join(dir, "c.tar")
	for _, x := range []struct{ zip, tar string }{{z1, a}, {z1, b}, {z2, c}} {
		if err := ModuleZipToTarFile(x.zip, testPrefix, "go/", x.tar); err != nil {
			t.Fatal(err)
		}
	}
	ha, hb, hc := fileSHA(t, a), fileSHA(t, b), fileSHA(t, c)
	if ha != hb {
		t.Errorf("same zip, two builds: sha256 %s != %s", ha, hb)
	}
	if ha != hc {
		t.Errorf("same files in another zip order: sha256 %s != %s", ha, hc)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// Read it back.
	f, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	type got struct {
		mode int64
		typ  byte
		data []byte
	}
	var names []string
	all := map[string]got{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(FixedModTime) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v uid %d gid %d uname %q gname %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		names = append(names, h.Name)
		all[h.Name] = got{h.Mode, h.Typeflag, data}
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("entries not sorted: %q before %q", names[i-1], names[i])
		}
	}
	wantMode := map[string]int64{
		"go/README.md": 0o644, "go/bin/go": 0o755, "go/bin/gofmt": 0o755,
		"go/pkg/tool/linux_amd64/vet": 0o755, "go/src/a/b/c.go": 0o600,
		"go/src/a/empty.txt": 0o644, "go/src/a-b/x.go": 0o644,
	}
	for _, e := range entries {
		name := "go/" + e.name
		g, ok := all[name]
		if !ok {
			t.Errorf("%s missing from the tar", name)
			continue
		}
		if e.mode.IsDir() {
			if g.typ != tar.TypeDir || g.mode != 0o750 {
				t.Errorf("%s: type %c mode %o, want directory 0750", name, g.typ, g.mode)
			}
			continue
		}
		if g.typ != tar.TypeReg || !bytes.Equal(g.data, e.data) {
			t.Errorf("%s: type %c, %d bytes; want a regular file of %d bytes", name, g.typ, len(g.data), len(e.data))
		}
		if w, ok := wantMode[name]; ok && g.mode != w {
			t.Errorf("%s: mode %o, want %o", name, g.mode, w)
		}
	}
	for _, d := range []string{"go/", "go/bin/", "go/pkg/", "go/pkg/tool/", "go/pkg/tool/linux_amd64/", "go/src/a/b/", "go/src/a-b/", "go/very-long-directory-name/"} {
		if g, ok := all[d]; !ok || g.typ != tar.TypeDir || g.mode != 0o755 {
			t.Errorf("directory %s: %+v, present %v", d, g, ok)
		}
	}
}

func TestCorpusTarRejectsUnsafeNames(t *testing.T) {
	for _, name := range []string{"../evil", "a/../../evil", "/abs"} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		zw.Create(testPrefix + name)
		zw.Close()
		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteTar(io.Discard, zr, testPrefix, "go/"); err == nil {
			t.Errorf("%q: accepted", name)
		}
	}
}

func TestCorpusCacheReuse(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "go1.99.9.linux-amd64.tar")
	content := bytes.Repeat([]byte{0}, 1024)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	// A cancelled context: reaching the go command would fail.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := GoToolchainTar(ctx, dir, "go1.99.9")
	if err != nil || got != p {
		t.Fatalf("GoToolchainTar = %q, %v; want the cached %q", got, err, p)
	}
	if _, err := GoToolchainTar(ctx, dir, "go1.99.9; rm -rf /"); err == nil {
		t.Fatal("a bad version was accepted")
	}
	t.Setenv("ZYNC_CORPUS_DIR", dir)
	if d, err := DefaultCacheDir(); err != nil || d != dir {
		t.Fatalf("DefaultCacheDir = %q, %v", d, err)
	}
}

// TestCorpusGoToolchainReal downloads a real toolchain (the module proxy is
// reachable from CI), checks the tar, and rebuilds it to check determinism on
// real data.
func TestCorpusGoToolchainReal(t *testing.T) {
	testenv.SkipIfShort(t, "a 70 MB download")
	cache, err := DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	p, err := GoToolchainTar(context.Background(), cache, "go1.22.1")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var files int
	modes := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			files++
		}
		modes[h.Name] = h.Mode
	}
	if files < 5000 || modes["go/bin/go"] != 0o755 || modes["go/VERSION"] != 0o644 || modes["go/"] != 0o755 {
		t.Fatalf("%s: %d files, go/bin/go %o, go/VERSION %o", p, files, modes["go/bin/go"], modes["go/VERSION"])
	}

	// Rebuild from the module zip (in the module cache now) elsewhere.
	modPath, modVersion := ToolchainModule("go1.22.1")
	zipPath, err := downloadModule(context.Background(), modPath, modVersion)
	if err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(t.TempDir(), "again.tar")
	if err := ModuleZipToTarFile(zipPath, modPath+"@"+modVersion+"/", "go/", again); err != nil {
		t.Fatal(err)
	}
	if a, b := fileSHA(t, p), fileSHA(t, again); a != b {
		t.Fatalf("rebuilt tar differs: %s vs %s", a, b)
	} else {
		fi, _ := os.Stat(p)
		t.Logf("%s: %d bytes, %d files, sha256 %s", p, fi.Size(), files, a)
	}
}
