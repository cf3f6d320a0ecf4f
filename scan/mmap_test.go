package scan

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// readerOnly hides a file's type, so ScanReaderAt reads it with ReadAt.
type readerOnly struct{ io.ReaderAt }

// TestScanMappedSeed: a seed scanned through its mapping finds the same
// blocks with the same data as one read with ReadAt, including the
// zero-padded last block.
func TestScanMappedSeed(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	target := randBytes(r, 300*1024+123)
	x := buildIndex(t, target, 1024, 2, 2, 5)
	seed := append(randBytes(r, 5000), target[:200*1024]...)
	seed = append(seed, randBytes(r, 777)...)
	seed = append(seed, target[250*1024:]...)
	path := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(path, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scanWith := func(ra io.ReaderAt) map[int64][]byte {
		m := NewMatcher(x)
		known := NewBitmap(x.NumBlocks())
		got := map[int64][]byte{}
		var mu sync.Mutex
		_, err := m.ScanReaderAt(context.Background(), ra, int64(len(seed)), known, func(k int64, data []byte) error {
			mu.Lock()
			defer mu.Unlock()
			got[k] = bytes.Clone(data)
			return nil
		}, Options{Workers: 3, BufferSize: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	mapped, read := scanWith(f), scanWith(readerOnly{f})
	if len(mapped) < 250 {
		t.Fatalf("only %d blocks found", len(mapped))
	}
	if len(mapped) != len(read) {
		t.Fatalf("%d blocks through the mapping, %d read", len(mapped), len(read))
	}
	for k, d := range read {
		if !bytes.Equal(mapped[k], d) {
			t.Fatalf("block %d differs between the mapped and the read seed", k)
		}
	}
}
