//go:build !unix && !windows

package mapfile

import (
	"errors"
	"os"
)

// CanRelease reports whether Release gives a mapping's pages back, so that
// a sequential reader of a mapped file keeps its resident memory bounded.
const CanRelease = false

// Map fails on this system: callers read the file instead.
func Map(*os.File, int64) ([]byte, func(), error) {
	return nil, nil, errors.ErrUnsupported
}

// WillNeed does nothing on this system.
func WillNeed([]byte) {}

// Release does nothing on this system.
func Release([]byte) {}
