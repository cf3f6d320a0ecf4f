package assemble

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/makeindex"
	"github.com/zyncio/zync/scan"
	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/filesource"
)

func build(t *testing.T, data []byte) (*index.Index, Hashes) {
	t.Helper()
	res, err := makeindex.Build(context.Background(), bytes.NewReader(data), int64(len(data)), makeindex.Options{
		Blocksize: 1024, SeqMatches: 2, WeakBytes: 2, StrongLen: 4, Algo: index.MD4,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Index, Hashes{SHA1: res.SHA1, SHA256: res.SHA256}
}

func randData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// corrupt is a source that serves the target with one byte flipped.
type corrupt struct {
	data []byte
	at   int64
}

func (c corrupt) Fetch(ctx context.Context, rs []source.Range, fn func(source.Range, io.Reader) error) error {
	bad := bytes.Clone(c.data)
	bad[c.at] ^= 1
	return filesource.New(bytes.NewReader(bad), int64(len(bad))).Fetch(ctx, rs, fn)
}

func TestAssemble(t *testing.T) {
	target := randData(1, 100_000+17)
	seed := bytes.Clone(target[:60_000])
	x, want := build(t, target)
	dir := t.TempDir()
	seedPath := filepath.Join(dir, "seed")
	if err := os.WriteFile(seedPath, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.WriteFile(out, []byte("old contents"), 0o640); err != nil {
		t.Fatal(err)
	}
	a, err := Begin(out, x)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(false)
	if _, err := a.ScanSeed(context.Background(), seedPath, scan.Options{}); err != nil {
		t.Fatal(err)
	}
	if a.Reused() < 55_000 {
		t.Fatalf("reused %d bytes, want most of the 60000-byte seed", a.Reused())
	}
	if err := a.Park(); err != nil {
		t.Fatal(err)
	}
	// A corrupted source is refused block by block and nothing reaches the output.
	err = a.Fetch(context.Background(), corrupt{target, 99_000})
	if !errors.Is(err, ErrBlockMismatch) {
		t.Fatalf("corrupt source: got %v, want ErrBlockMismatch", err)
	}
	if _, _, err := a.Verify(context.Background(), want); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("verify with missing blocks: got %v, want ErrIncomplete", err)
	}
	if got, _ := os.ReadFile(out); string(got) != "old contents" {
		t.Fatal("output changed before commit")
	}
	if err := a.Fetch(context.Background(), filesource.New(bytes.NewReader(target), int64(len(target)))); err != nil {
		t.Fatal(err)
	}
	checked, sum, err := a.Verify(context.Background(), want)
	if err != nil || checked != "SHA-256+SHA-1" || !bytes.Equal(sum, want.SHA256) {
		t.Fatalf("verify: %q %x %v", checked, sum, err)
	}
	mtime := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := a.Commit(CommitOptions{MTime: mtime}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, target) {
		t.Fatalf("output differs from target (%v)", err)
	}
	st, _ := os.Stat(out)
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the old output's 0640", st.Mode().Perm())
	}
	if !st.ModTime().Equal(mtime) {
		t.Errorf("mtime %v, want %v", st.ModTime(), mtime)
	}
	if _, err := os.Stat(out + PartSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("part file left after commit: %v", err)
	}
}

func TestVerifyFailureLeavesOutput(t *testing.T) {
	target := randData(2, 10_000)
	x, want := build(t, target)
	want.SHA1 = sha1.New().Sum(nil) // the hash of nothing: wrong
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	os.WriteFile(out, []byte("keep me"), 0o644)
	a, err := Begin(out, x)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Park(); err != nil {
		t.Fatal(err)
	}
	if err := a.Fetch(context.Background(), filesource.New(bytes.NewReader(target), int64(len(target)))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Verify(context.Background(), want); !errors.Is(err, ErrVerify) {
		t.Fatalf("got %v, want ErrVerify", err)
	}
	a.Close(false)
	if got, _ := os.ReadFile(out); string(got) != "keep me" {
		t.Fatal("output changed after failed verification")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files left beside the output: %v", entries)
	}
}

func TestEmptyTarget(t *testing.T) {
	x, want := build(t, nil)
	if want.SHA256 == nil || !bytes.Equal(want.SHA256, func() []byte { s := sha256.Sum256(nil); return s[:] }()) {
		t.Fatal("bad empty hash")
	}
	out := filepath.Join(t.TempDir(), "empty")
	a, err := Begin(out, x)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Missing()) != 0 {
		t.Fatal("empty target has missing ranges")
	}
	if _, _, err := a.Verify(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(out); err != nil || st.Size() != 0 {
		t.Fatalf("empty output: %v %v", st, err)
	}
}
