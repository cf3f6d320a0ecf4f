package patch

import (
	"fmt"
	"io"
	"os"

	"github.com/zyncio/zync/internal/mapfile"
)

// seedBytes returns the seed's bytes for random access. A regular file is
// mapped read-only where the system can (the pages are the page cache's,
// not the process's heap); any other io.ReaderAt is read into memory.
func seedBytes(old io.ReaderAt, size int64) (data []byte, release func(), err error) {
	if size == 0 {
		return nil, func() {}, nil
	}
	if f, ok := old.(*os.File); ok {
		if data, release, err := mapfile.Map(f, size); err == nil {
			mapfile.WillNeed(data)
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
