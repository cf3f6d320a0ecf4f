//go:build unix

package assemble

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/zyncio/zync/source/filesource"
)

// TestZeroBlocksStayHoles: all-zero blocks of a new output are left as
// holes, so a mostly empty disk image costs little disk and little I/O.
func TestZeroBlocksStayHoles(t *testing.T) {
	target := make([]byte, 8<<20)
	copy(target[1<<20:], randData(9, 5000))
	x, want := build(t, target)
	out := filepath.Join(t.TempDir(), "img")
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
	if _, _, err := a.Verify(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, target) {
		t.Fatal("output differs")
	}
	st, _ := os.Stat(out)
	if used := st.Sys().(*syscall.Stat_t).Blocks * 512; used > 1<<20 {
		t.Errorf("output uses %d bytes on disk for 5000 bytes of data", used)
	}
}
