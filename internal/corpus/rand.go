package corpus

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
)

// The random corpus: a seed of random bytes and a target made from it by a
// few scattered edits, the case where block matching is easy to reason about.
const (
	// RandEdits is the number of small in-place edits (1 to RandEditMax
	// bytes overwritten with other random bytes) scattered over the target.
	RandEdits = 200
	// RandEditMax is the largest small edit, in bytes.
	RandEditMax = 64
	// RandInsert is the length of the one run of new bytes inserted.
	RandInsert = 64 << 10
	// RandDelete is the length of the one run of seed bytes deleted.
	RandDelete = 32 << 10
	// RandMinSize is the smallest size RandPair accepts.
	RandMinSize = 16 << 20

	randVersion = "v1" // part of the cache file names: bump when the generator changes
)

// randOp is one edit, at offset off of the seed.
type randOp struct {
	off  int64
	kind byte  // 'e' edit (overwrite), 'i' insert, 'd' delete
	n    int64 // bytes overwritten, inserted or deleted
}

// randOps returns the edits for a seed of the given size, sorted by offset
// and non-overlapping: the seed is cut into RandEdits+2 equal slots, each
// holds one edit at a random offset inside it.
func randOps(size int64) []randOp {
	rng := rand.New(rand.NewPCG(uint64(size), 0x7a796e63)) // "zync"
	slots := int64(RandEdits + 2)
	slot := size / slots
	kinds := make([]byte, slots)
	for i := range kinds {
		kinds[i] = 'e'
	}
	perm := rng.Perm(int(slots))
	kinds[perm[0]] = 'i'
	kinds[perm[1]] = 'd'
	ops := make([]randOp, 0, slots)
	for i, k := range kinds {
		var n int64
		switch k {
		case 'e':
			n = 1 + rng.Int64N(RandEditMax)
		case 'i':
			n = RandInsert
		case 'd':
			n = RandDelete
		}
		room := slot - n // for an insertion, n bytes of the slot stay: harmless
		off := int64(i)*slot + rng.Int64N(room)
		ops = append(ops, randOp{off: off, kind: k, n: n})
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].off < ops[j].off })
	return ops
}

func randStream(size int64, which uint64) *rand.ChaCha8 {
	var seed [32]byte
	copy(seed[:], "zync rand corpus ")
	binary.LittleEndian.PutUint64(seed[16:], uint64(size))
	binary.LittleEndian.PutUint64(seed[24:], which)
	return rand.NewChaCha8(seed)
}

// WriteRandSeed writes the seed of the random pair of the given size.
func WriteRandSeed(w io.Writer, size int64) error {
	_, err := io.CopyN(w, randStream(size, 1), size)
	return err
}

// WriteRandTarget writes the target of the random pair of the given size:
// the seed with RandEdits small edits, one insertion of RandInsert new bytes
// and one deletion of RandDelete bytes, at pseudo-random offsets fixed by the
// size. Its length is size + RandInsert - RandDelete.
func WriteRandTarget(w io.Writer, size int64) error {
	if size < RandMinSize {
		return fmt.Errorf("corpus: random corpus size %d below %d", size, RandMinSize)
	}
	seed := randStream(size, 1)
	fresh := randStream(size, 2) // the bytes of edits and the insertion
	var pos int64
	for _, op := range randOps(size) {
		if _, err := io.CopyN(w, seed, op.off-pos); err != nil {
			return err
		}
		pos = op.off
		switch op.kind {
		case 'e':
			// Overwrite with bytes that differ from the seed's.
			old := make([]byte, op.n)
			seed.Read(old)
			pos += op.n
			b := make([]byte, op.n)
			fresh.Read(b)
			for i := range b {
				if b[i] == old[i] {
					b[i] ^= 0xff
				}
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		case 'i':
			if _, err := io.CopyN(w, fresh, op.n); err != nil {
				return err
			}
		case 'd':
			if _, err := io.CopyN(io.Discard, seed, op.n); err != nil {
				return err
			}
			pos += op.n
		}
	}
	_, err := io.CopyN(w, seed, size-pos)
	return err
}

// RandPair returns the paths of the random pair of the given size (at least
// RandMinSize), cacheDir/rand/rand-<size>-v1-{seed,target}.bin, building them
// if they are not there. Both files are a pure function of size: the seed is
// a ChaCha8 stream and the target is described at WriteRandTarget. An empty
// cacheDir means DefaultCacheDir().
func RandPair(cacheDir string, size int64) (seedPath, targetPath string, err error) {
	if size < RandMinSize {
		return "", "", fmt.Errorf("corpus: random corpus size %d below %d", size, RandMinSize)
	}
	cacheDir, err = cacheDirOr(cacheDir)
	if err != nil {
		return "", "", err
	}
	dir := filepath.Join(cacheDir, "rand")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("corpus: %w", err)
	}
	prefix := filepath.Join(dir, fmt.Sprintf("rand-%d-%s-", size, randVersion))
	seedPath, targetPath = prefix+"seed.bin", prefix+"target.bin"
	for _, f := range []struct {
		path  string
		size  int64
		write func(io.Writer, int64) error
	}{
		{seedPath, size, WriteRandSeed},
		{targetPath, size + RandInsert - RandDelete, WriteRandTarget},
	} {
		if fi, err := os.Stat(f.path); err == nil && fi.Mode().IsRegular() && fi.Size() == f.size {
			continue
		}
		err := writeAtomically(f.path, func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 1<<20)
			if err := f.write(bw, size); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			return "", "", err
		}
	}
	return seedPath, targetPath, nil
}

// RandUnrelated returns the path of a file of size random bytes unrelated to
// the random pair (another ChaCha8 stream), cacheDir/rand/rand-<size>-v1-
// unrelated.bin, building it if it is not there: the worst case for a seed
// scan, where nothing matches and every byte is rolled. An empty cacheDir
// means DefaultCacheDir().
func RandUnrelated(cacheDir string, size int64) (string, error) {
	cacheDir, err := cacheDirOr(cacheDir)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, "rand")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("corpus: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("rand-%d-%s-unrelated.bin", size, randVersion))
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		return path, nil
	}
	err = writeAtomically(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if _, err := io.CopyN(bw, randStream(size, 3), size); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return "", err
	}
	return path, nil
}
