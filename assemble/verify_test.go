package assemble

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zyncio/zync/scan"
	"github.com/zyncio/zync/source/filesource"
)

// The background hash follows the blocks as they are written, in any order,
// and ends with the hash of the whole file.
func TestVerifyFollowsWrites(t *testing.T) {
	target := randData(3, 300_000+5)
	seed := bytes.Clone(target[100_000:200_000])
	x, want := build(t, target)
	dir := t.TempDir()
	seedPath := filepath.Join(dir, "seed")
	if err := os.WriteFile(seedPath, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{"forward", "backward"} {
		t.Run(order, func(t *testing.T) {
			a, err := Begin(filepath.Join(dir, "out-"+order), x)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close(false)
			// Blocks in the middle are written before the hash starts, the
			// rest after it, one range at a time.
			if _, err := a.ScanSeed(context.Background(), seedPath, scan.Options{}); err != nil {
				t.Fatal(err)
			}
			a.StartVerify(want)
			rs := a.Missing()
			if order == "backward" {
				slices.Reverse(rs)
			}
			for _, r := range rs {
				if err := a.Receive(r, bytes.NewReader(target[r.Off:min(r.End(), int64(len(target)))])); err != nil {
					t.Fatal(err)
				}
			}
			checked, sum, err := a.Verify(context.Background(), want)
			if err != nil {
				t.Fatal(err)
			}
			if w := sha256.Sum256(target); checked != "SHA-256+SHA-1" || !bytes.Equal(sum, w[:]) {
				t.Fatalf("checked %q, SHA-256 %x, want both hashes and %x", checked, sum, w)
			}
		})
	}
}

// A background hash that never finishes (the run failed before every block
// arrived) is stopped by Close, and a hash of the wrong bytes is refused.
func TestVerifyStopAndMismatch(t *testing.T) {
	target := randData(4, 50_000)
	x, want := build(t, target)
	dir := t.TempDir()
	a, err := Begin(filepath.Join(dir, "out"), x)
	if err != nil {
		t.Fatal(err)
	}
	a.StartVerify(want)
	if err := a.Close(false); err != nil { // must not hang
		t.Fatal(err)
	}

	b, err := Begin(filepath.Join(dir, "out2"), x)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(false)
	bad := want
	bad.SHA256 = make([]byte, 32)
	b.StartVerify(bad)
	if err := b.Fetch(context.Background(), filesource.New(bytes.NewReader(target), int64(len(target)))); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second call gives the same answer
		if _, _, err := b.Verify(context.Background(), bad); !errors.Is(err, ErrVerify) {
			t.Fatalf("got %v, want ErrVerify", err)
		}
	}
}
