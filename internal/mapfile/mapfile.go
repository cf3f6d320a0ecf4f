// Package mapfile maps files read-only into memory and turns the faults a
// mapping can raise into errors.
//
// A mapped file's pages are the page cache's: reading them costs no copy
// and no heap. The price is that a file truncated by another program while
// mapped, or storage that fails, raises a memory fault where a read would
// have returned an error; Guard converts it.
package mapfile

import (
	"errors"
	"runtime/debug"
)

// ErrFault is returned by Guard when its function faulted on a mapping: the
// file shrank while it was read, or its storage failed.
var ErrFault = errors.New("the mapped file could not be read (it shrank while it was read, or its storage failed)")

// Guard runs fn, turning a memory fault in a mapping into ErrFault. Other
// panics are not recovered. It must run on the goroutine that reads the
// mapping.
func Guard(fn func()) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); ok {
				err = ErrFault
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}
