package assemble

import (
	"errors"
	"fmt"
)

// ErrNoSpace means the filesystem of the output lacks room for the target.
var ErrNoSpace = errors.New("not enough free space")

// CheckSpace fails with ErrNoSpace when the filesystem holding dir has less
// than need bytes available to this user. Where free space cannot be
// determined it does not fail: writing will report a full disk clearly.
func CheckSpace(dir string, need int64) error {
	if need <= 0 {
		return nil
	}
	avail, err := freeSpace(dir)
	if err != nil {
		return nil
	}
	if avail < uint64(need) {
		return fmt.Errorf("%w in %s: the target needs %d more bytes, %d are available; free some space or write the output elsewhere (-o)", ErrNoSpace, dir, need, avail)
	}
	return nil
}

// MissingBytesOnDisk returns how many more bytes the target may occupy: its
// length less what is already written.
func (a *Assembly) MissingBytesOnDisk() int64 {
	return a.x.Length - min(a.written.Count()*int64(a.x.Blocksize), a.x.Length)
}
