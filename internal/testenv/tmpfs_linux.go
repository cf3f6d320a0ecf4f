package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// MountTmpfs mounts a tmpfs of size bytes on a new folder and unmounts it
// when the test ends: a real, small filesystem to fill up. It needs root.
// Outside CI a non-root run skips the test; under CI=true it fails, because
// CI runs as root and the test must run there.
func MountTmpfs(t testing.TB, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if InCI() {
			t.Fatal("mounting a tmpfs needs root; CI runs .ci/run as root")
		}
		t.Skip("mounting a tmpfs needs root (this test always runs under CI=true)")
	}
	dir := filepath.Join(t.TempDir(), "small-fs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
