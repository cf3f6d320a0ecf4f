package assemble

import (
	"bytes"

	"errors"
	"fmt"
	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/rollsum"
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
// length less what is already written, and, for a new file, less its
// all-zero blocks, which stay holes.
func (a *Assembly) MissingBytesOnDisk() int64 {
	n := a.x.Length - min(a.written.Count()*int64(a.x.Blocksize), a.x.Length)
	if a.fresh {
		n -= ZeroBytes(a.x)
	}
	return max(n, 0)
}

// ZeroBytes returns how many bytes of the target lie in all-zero blocks,
// judged by their sums: a new output leaves those as holes.
func ZeroBytes(x *index.Index) int64 {
	zero := make([]byte, x.Blocksize)
	h := x.Algo.New()
	h.Write(zero)
	strong := h.Sum(nil)[:x.StrongLen]
	weak := rollsum.Sum(zero) & x.WeakMask()
	var n int64
	for k := int64(0); k < x.NumBlocks(); k++ {
		if x.Weak[k] == weak && bytes.Equal(x.StrongSum(k), strong) {
			n += int64(x.BlockLen(k))
		}
	}
	return n
}
