//go:build windows

package mapfile

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// CanRelease reports whether Release gives a mapping's pages back, so that
// a sequential reader of a mapped file keeps its resident memory bounded.
const CanRelease = false

// Map maps the first size bytes of f read-only (size > 0). unmap releases
// the mapping; the data must not be used after it.
func Map(f *os.File, size int64) (data []byte, unmap func(), err error) {
	h, err := windows.CreateFileMapping(windows.Handle(f.Fd()), nil, windows.PAGE_READONLY, uint32(size>>32), uint32(size), nil)
	if err != nil {
		return nil, nil, err
	}
	addr, err := windows.MapViewOfFile(h, windows.FILE_MAP_READ, 0, 0, uintptr(size))
	windows.CloseHandle(h)
	if err != nil {
		return nil, nil, err
	}
	data = unsafe.Slice((*byte)(unsafe.Pointer(addr)), int(size))
	return data, func() { _ = windows.UnmapViewOfFile(addr) }, nil
}

// WillNeed does nothing on Windows (its readahead follows the access pattern).
func WillNeed([]byte) {}

// Release does nothing on Windows: the working set manager trims mapped
// pages that are not used.
func Release([]byte) {}
