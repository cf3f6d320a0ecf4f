package patch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// seedBytes returns the seed's bytes for random access. A regular file is
// mapped read-only where the system can (the pages are the page cache's,
// not the process's heap); any other io.ReaderAt is read into memory.
func seedBytes(old io.ReaderAt, size int64) (data []byte, release func(), err error) {
	if size == 0 {
		return nil, func() {}, nil
	}
	if f, ok := old.(*os.File); ok {
		if data, release, err := mapFile(f, size); err == nil {
			return data, release, nil
		}
	}
	if size > maxInMemory {
		return nil, nil, fmt.Errorf("seed of %d bytes cannot be mapped and is too large to read into memory", size)
	}
	data = make([]byte, size)
	n, err := old.ReadAt(data, 0)
	if n == len(data) {
		err = nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read seed: %w", err)
	}
	return data, func() {}, nil
}

// maxInMemory bounds a seed that is read into memory because it cannot be mapped.
const maxInMemory = 8 << 30

// errSeedFault is returned when reading a mapped seed faults: the file was
// truncated while zync read it.
var errSeedFault = errors.New("the seed changed (was truncated?) while it was read")

// guard runs fn, turning a memory fault in a mapped seed into an error.
func guard(fn func()) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); ok {
				err = errSeedFault
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}
