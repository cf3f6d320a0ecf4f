package corpus

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestCorpusRandPairDeterministic(t *testing.T) {
	const size = RandMinSize
	a, b := t.TempDir(), t.TempDir()
	s1, t1, err := RandPair(a, size)
	if err != nil {
		t.Fatal(err)
	}
	s2, t2, err := RandPair(b, size)
	if err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, s1) != fileSHA(t, s2) || fileSHA(t, t1) != fileSHA(t, t2) {
		t.Fatal("two builds of the random pair differ")
	}
	seed, err := os.ReadFile(s1)
	if err != nil {
		t.Fatal(err)
	}
	target, err := os.ReadFile(t1)
	if err != nil {
		t.Fatal(err)
	}
	if len(seed) != size || len(target) != size+RandInsert-RandDelete {
		t.Fatalf("sizes %d and %d", len(seed), len(target))
	}
	// Walk the edits: the target is the seed with exactly those changes.
	var sp, tp int64
	changed := 0
	for _, op := range randOps(size) {
		n := op.off - sp
		if !bytes.Equal(seed[sp:op.off], target[tp:tp+n]) {
			t.Fatalf("bytes before the edit at %d differ", op.off)
		}
		sp, tp = op.off, tp+n
		switch op.kind {
		case 'e':
			for i := range op.n {
				if seed[sp+i] == target[tp+i] {
					t.Fatalf("edit at %d leaves byte %d unchanged", op.off, i)
				}
			}
			sp += op.n
			tp += op.n
			changed++
		case 'i':
			tp += op.n
		case 'd':
			sp += op.n
		}
	}
	if !bytes.Equal(seed[sp:], target[tp:]) {
		t.Fatal("tail differs")
	}
	if changed != RandEdits {
		t.Fatalf("%d edits, want %d", changed, RandEdits)
	}
	// The cached files are reused as they are.
	fi1, _ := os.Stat(t1)
	s3, t3, err := RandPair(a, size)
	if err != nil || s3 != s1 || t3 != t1 {
		t.Fatalf("second RandPair = %q, %q, %v", s3, t3, err)
	}
	if fi3, _ := os.Stat(t3); !fi3.ModTime().Equal(fi1.ModTime()) {
		t.Error("the cached target was rewritten")
	}
	if _, _, err := RandPair(a, RandMinSize-1); err == nil {
		t.Error("a size below RandMinSize was accepted")
	}
}

func TestCorpusNpmTarCacheAndNames(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "npm", NpmTarName("typescript", "5.4.5"))
	if filepath.Base(p) != "typescript-5.4.5.tar" {
		t.Fatalf("NpmTarName = %q", filepath.Base(p))
	}
	if n := NpmTarName("@types/node", "20.1.0"); n != "types-node-20.1.0.tar" {
		t.Fatalf("scoped NpmTarName = %q", n)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	// A cancelled context: reaching npm would fail.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := NpmTar(ctx, dir, "typescript", "5.4.5"); err != nil || got != p {
		t.Fatalf("NpmTar = %q, %v; want the cached %q", got, err, p)
	}
	for _, bad := range [][2]string{
		{"typescript", "5.4"}, {"typescript", "latest"}, {"../x", "1.0.0"},
		{"Type", "1.0.0"}, {"a b", "1.0.0"}, {"typescript", "1.0.0; rm -rf /"}, {"@s/", "1.0.0"},
	} {
		if _, err := NpmTar(ctx, dir, bad[0], bad[1]); err == nil {
			t.Errorf("NpmTar(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestCorpusGunzipFile(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("tar bytes "), 10000)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(want)
	zw.Close()
	src := filepath.Join(dir, "x.tgz")
	os.WriteFile(src, buf.Bytes(), 0o644)
	dst := filepath.Join(dir, "x.tar")
	if err := gunzipFile(src, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) {
		t.Fatal("gunzipped bytes differ")
	}
	os.WriteFile(src, []byte("not gzip"), 0o644)
	if err := gunzipFile(src, filepath.Join(dir, "y.tar")); err == nil {
		t.Fatal("garbage accepted")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestCorpusRandUnrelated(t *testing.T) {
	const size = RandMinSize
	dir := t.TempDir()
	u, err := RandUnrelated(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := RandPair(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := os.ReadFile(u)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := os.ReadFile(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(ub) != size {
		t.Fatalf("size %d", len(ub))
	}
	// Another stream, not a copy of the seed.
	if bytes.Equal(ub[:4096], sb[:4096]) {
		t.Fatal("the unrelated file starts like the seed")
	}
	u2, err := RandUnrelated(t.TempDir(), size)
	if err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, u) != fileSHA(t, u2) {
		t.Fatal("two builds of the unrelated file differ")
	}
}
