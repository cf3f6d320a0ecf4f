package zync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/zyncio/zync/assemble"
	"github.com/zyncio/zync/internal/testenv"
)

// TestDiskFullBeforeStart: the output's filesystem cannot hold the target,
// so the run stops before writing anything.
func TestDiskFullBeforeStart(t *testing.T) {
	f := publish(t, 6<<20)
	small := testenv.MountTmpfs(t, 4<<20)
	out := filepath.Join(small, "t.bin")
	_, err := Get(context.Background(), f.url, GetOptions{Output: out, Seeds: []string{f.seed(t)}})
	if !errors.Is(err, assemble.ErrNoSpace) {
		t.Fatalf("got %v, want ErrNoSpace", err)
	}
	if entries, _ := os.ReadDir(small); len(entries) != 0 {
		t.Fatalf("files written on the full filesystem: %v", entries)
	}
	if got, _ := os.ReadFile(filepath.Join(f.work, "old.bin")); !bytes.Equal(got, f.old) {
		t.Fatal("seed changed")
	}
}

// TestDiskFullMidRun fills the filesystem once fetching has begun: the run
// fails with a clear error naming the full disk, the old output and the seed
// are intact, and once space is freed the same command resumes and finishes.
func TestDiskFullMidRun(t *testing.T) {
	f := publish(t, 6<<20)
	small := testenv.MountTmpfs(t, 8<<20)
	out := filepath.Join(small, "t.bin")
	oldOut := []byte("the old version, kept until the new one is verified")
	os.WriteFile(out, oldOut, 0o644)
	filler := filepath.Join(small, "filler")
	var once sync.Once
	var fetched atomic.Int64
	fill := func() {
		fh, err := os.Create(filler)
		if err != nil {
			t.Error(err)
			return
		}
		defer fh.Close()
		buf := make([]byte, 64<<10)
		for {
			if _, err := fh.Write(buf); err != nil {
				return // full
			}
		}
	}
	_, err := Get(context.Background(), f.url, GetOptions{
		Output: out, Concurrency: 1, MinSavings: -1,
		Progress: func(e Event) {
			if e.Phase == "fetch" && fetched.Add(e.Bytes) > 1<<20 {
				once.Do(fill)
			}
		},
	})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want an error wrapping ENOSPC", err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, oldOut) {
		t.Fatal("old output changed")
	}
	if _, err := os.Stat(out + assemble.PartSuffix); err != nil {
		t.Fatalf("part file gone after a full disk: %v", err)
	}
	os.Remove(filler)
	res, err := Get(context.Background(), f.url, GetOptions{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, f.target) {
		t.Fatal("output differs from target after resuming")
	}
	// What was written before the disk filled is taken over, not fetched again.
	if !res.Resumed || res.Reused < 1<<20 {
		t.Errorf("second run: resumed=%v reused=%d fetched=%d; want the first MiB reused", res.Resumed, res.Reused, res.Fetched)
	}
}
