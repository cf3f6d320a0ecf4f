package zsyncfile_test

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/rollsum"
	"github.com/zyncio/zync/zsyncfile"
)

func ExampleParse() {
	r, err := os.Open("testdata/target.dat.zsync")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	f, err := zsyncfile.Parse(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	x := &f.Index
	fmt.Println("file:", f.Filename, "from", f.URLs)
	fmt.Println("modified:", f.MTime)
	fmt.Printf("%d bytes in %d blocks of %d\n", x.Length, x.NumBlocks(), x.Blocksize)
	fmt.Printf("hash lengths %d,%d,%d with %v\n", x.SeqMatches, x.WeakBytes, x.StrongLen, x.Algo)
	fmt.Printf("block 0: weak %08x strong %x\n", x.Weak[0], x.StrongSum(0))
	fmt.Printf("SHA-256 %x\n", f.SHA256)
	// Output:
	// file: target.dat from [target.dat]
	// modified: 2026-05-28 16:40:12 +0000 UTC
	// 281020 bytes in 138 blocks of 2048
	// hash lengths 1,4,16 with MD4
	// block 0: weak 074a80e7 strong 4a31f2ef54629a60f26a16090a002464
	// SHA-256 e342d5e314285c95ee8ad3c28838b4a6e6139f4ef64d689490a30785e79ceb83
}

func ExampleFile_Encode() {
	data := []byte(strings.Repeat("zync example data\n", 300)) // 5400 bytes
	length := int64(len(data))
	bs := zsyncfile.DefaultBlocksize(length)
	seq, weakBytes, strongLen := zsyncfile.Params(length, bs)

	x := index.Index{
		Blocksize: bs, Length: length, Algo: index.MD4,
		SeqMatches: seq, WeakBytes: weakBytes, StrongLen: strongLen,
	}
	for off := 0; off < len(data); off += bs {
		block := make([]byte, bs) // the last block is zero-padded
		copy(block, data[off:min(off+bs, len(data))])
		x.Weak = append(x.Weak, rollsum.Sum(block)&x.WeakMask())
		h := x.Algo.New()
		h.Write(block)
		x.Strong = append(x.Strong, h.Sum(nil)[:strongLen]...)
	}
	sum := sha1.Sum(data)
	f := &zsyncfile.File{
		Filename: "example.txt",
		MTime:    time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		URLs:     []string{"http://example.com/example.txt"},
		SHA1:     sum[:],
		Index:    x,
	}
	var buf bytes.Buffer
	if err := f.Encode(&buf); err != nil {
		fmt.Println(err)
		return
	}
	header, records, _ := bytes.Cut(buf.Bytes(), []byte("\n\n"))
	fmt.Printf("%s\n", header)
	fmt.Printf("%d bytes of records\n", len(records))
	// Output:
	// zsync: 0.6.2
	// Filename: example.txt
	// MTime: Wed, 01 May 2024 12:00:00 +0000
	// Blocksize: 2048
	// Length: 5400
	// Hash-Lengths: 2,2,3
	// URL: http://example.com/example.txt
	// SHA-1: f29adc0f581c5ad0a67233861ca9a36c3c9dc3c7
	// 15 bytes of records
}
