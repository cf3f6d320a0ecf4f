package zsyncfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/rollsum"
)

// readTestdata returns the contents of testdata/name.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// paddedBlock returns block i of data zero-padded to bs bytes.
func paddedBlock(data []byte, bs int, i int) []byte {
	start := i * bs
	end := min(start+bs, len(data))
	blk := make([]byte, bs)
	copy(blk, data[start:end])
	return blk
}

// refSums computes, independently of the package, the masked packed weak sum
// and the strong sum prefix of every block of data.
func refSums(data []byte, bs, weakBytes, strongLen int, algo index.StrongAlgo) (weak []uint32, strong []byte) {
	n := (len(data) + bs - 1) / bs
	for i := range n {
		blk := paddedBlock(data, bs, i)
		weak = append(weak, rollsum.SumPadded(data[i*bs:min((i+1)*bs, len(data))], bs)&index.WeakMask(weakBytes))
		h := algo.New()
		h.Write(blk)
		strong = append(strong, h.Sum(nil)[:strongLen]...)
	}
	return weak, strong
}

// refIndex builds the index of data with the given parameters.
func refIndex(data []byte, bs, seq, weakBytes, strongLen int, algo index.StrongAlgo) index.Index {
	w, s := refSums(data, bs, weakBytes, strongLen, algo)
	if w == nil {
		w = []uint32{}
	}
	if s == nil {
		s = []byte{}
	}
	return index.Index{
		Blocksize: bs, Length: int64(len(data)),
		SeqMatches: seq, WeakBytes: weakBytes, StrongLen: strongLen, Algo: algo,
		Weak: w, Strong: s,
	}
}

// refRecords builds the binary checksum section of data byte by byte, the
// way zsyncmake does: the trailing weakBytes of A_hi A_lo B_hi B_lo, then the
// leading strongLen bytes of the digest of the zero-padded block.
func refRecords(data []byte, bs, weakBytes, strongLen int, algo index.StrongAlgo) []byte {
	var out []byte
	n := (len(data) + bs - 1) / bs
	for i := range n {
		blk := paddedBlock(data, bs, i)
		var a, b uint16
		for j, c := range blk {
			a += uint16(c)
			b += uint16(bs-j) * uint16(c)
		}
		full := []byte{byte(a >> 8), byte(a), byte(b >> 8), byte(b)}
		out = append(out, full[4-weakBytes:]...)
		h := algo.New()
		h.Write(blk)
		out = append(out, h.Sum(nil)[:strongLen]...)
	}
	return out
}

// describes reports whether x holds the right sums for every block of data;
// if not, the error says where they first differ.
func describes(x *index.Index, data []byte) error {
	if x.Length != int64(len(data)) {
		return fmt.Errorf("Length %d, data has %d bytes", x.Length, len(data))
	}
	w, s := refSums(data, x.Blocksize, x.WeakBytes, x.StrongLen, x.Algo)
	if len(w) != len(x.Weak) {
		return fmt.Errorf("%d weak sums, want %d", len(x.Weak), len(w))
	}
	for i := range w {
		if w[i] != x.Weak[i] {
			return fmt.Errorf("block %d: weak sum %#x, want %#x", i, x.Weak[i], w[i])
		}
		if !bytes.Equal(s[i*x.StrongLen:(i+1)*x.StrongLen], x.StrongSum(int64(i))) {
			return fmt.Errorf("block %d: strong sum %x, want %x", i, x.StrongSum(int64(i)), s[i*x.StrongLen:(i+1)*x.StrongLen])
		}
	}
	return nil
}

// helloData is the 5500-byte file of the worked example in
// docs/zsync-format.md §12.
func helloData() []byte {
	var b bytes.Buffer
	for i := range 100 {
		fmt.Fprintf(&b, "line %03d: The quick brown fox jumps over the lazy dog.\n", i)
	}
	return b.Bytes()
}

// allocated runs f and returns the number of heap bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
