//go:build unix

package mapfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// CanRelease reports whether Release gives a mapping's pages back, so that
// a sequential reader of a mapped file keeps its resident memory bounded.
const CanRelease = true

// Map maps the first size bytes of f read-only (size > 0). unmap releases
// the mapping; the data must not be used after it.
func Map(f *os.File, size int64) (data []byte, unmap func(), err error) {
	if int64(int(size)) != size {
		return nil, nil, unix.EFBIG
	}
	data, err = unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() { _ = unix.Munmap(data) }, nil
}

// WillNeed asks the system to start reading the pages of b, a part of a
// mapping, as the readahead of a read(2) would.
func WillNeed(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_WILLNEED)
	}
}

// Release drops the pages of b, a part of a mapping starting at a page
// boundary, from the process: they stay in the page cache and fault back in
// if read again, but no longer count in the process's resident memory, so
// a scan of a file of any size keeps its peak RSS flat.
func Release(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_DONTNEED)
	}
}
