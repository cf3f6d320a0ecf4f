package patch

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/makeindex"
	"github.com/zyncio/zync/zsyncfile"
)

// controlOf returns the control file of data, as zync make writes it
// (zsyncmake's parameters) unless seq, weak, strong say otherwise.
func controlOf(t testing.TB, data []byte, bs int, algo index.StrongAlgo, seq, weak, strong int) *zsyncfile.File {
	t.Helper()
	if seq == 0 {
		seq, weak, strong = zsyncfile.Params(int64(len(data)), bs)
	}
	res, err := makeindex.Build(context.Background(), bytes.NewReader(data), int64(len(data)), makeindex.Options{
		Blocksize: bs, SeqMatches: seq, WeakBytes: weak, StrongLen: strong, Algo: algo,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &zsyncfile.File{URLs: []string{"x"}, SHA1: res.SHA1, SHA256: res.SHA256, Index: *res.Index}
}

func TestDiffFromControl(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	old := words(r, 1<<20)
	target := edit(r, old, 20)
	for _, c := range []struct {
		name              string
		bs                int
		algo              index.StrongAlgo
		seq, weak, strong int
		noSHA256          bool
		target            []byte
	}{
		{name: "zsyncmake parameters", bs: 2048},
		{name: "seq 1, md5", bs: 1024, algo: index.MD5, seq: 1, weak: 4, strong: 16},
		{name: "sha224, 4-byte weak sums", bs: 4096, algo: index.SHA224, seq: 2, weak: 4, strong: 28},
		{name: "SHA-1 only", bs: 2048, noSHA256: true},
		{name: "identical", bs: 2048, target: old},
		{name: "empty target", bs: 2048, target: []byte{}},
		{name: "unrelated target", bs: 2048, target: randBytes(r, 100<<10)},
	} {
		t.Run(c.name, func(t *testing.T) {
			cf := controlOf(t, old, c.bs, c.algo, c.seq, c.weak, c.strong)
			if c.noSHA256 {
				cf.SHA256 = nil
			}
			tg := target
			if c.target != nil {
				tg = c.target
			}
			var p bytes.Buffer
			res, err := DiffFromControl(context.Background(), cf, bytes.NewReader(tg), int64(len(tg)), &p, DiffOptions{SectionSize: 256 << 10})
			if err != nil {
				t.Fatal(err)
			}
			got, ares, err := applyBytes(old, p.Bytes())
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !bytes.Equal(got, tg) {
				t.Fatal("Apply did not make the target")
			}
			if ares.Copied != res.Copied {
				t.Errorf("apply copied %d, diff says %d", ares.Copied, res.Copied)
			}
			// Whole blocks only, and most of them found.
			if res.Copied%int64(c.bs) != 0 {
				t.Errorf("copied %d bytes: not whole blocks of %d", res.Copied, c.bs)
			}
			if c.target == nil && res.Copied < int64(len(tg))*85/100 {
				t.Errorf("copied only %d of %d bytes", res.Copied, len(tg))
			}
			if c.name == "identical" && res.Copied < int64(len(old))-int64(c.bs) {
				t.Errorf("identical: copied %d of %d", res.Copied, len(old))
			}
			h, err := ReadHeader(bytes.NewReader(p.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if (h.SeedAlgo == SHA1) != c.noSHA256 || h.Blocks.Blocksize != c.bs || h.Blocks.StrongLen != cf.Index.StrongLen {
				t.Errorf("header: seed %v, blocks %d/%d", h.SeedAlgo, h.Blocks.Blocksize, h.Blocks.StrongLen)
			}
			// Any other seed is refused.
			other := append([]byte(nil), old...)
			other[0] ^= 1
			if _, _, err := applyBytes(other, p.Bytes()); !errors.Is(err, ErrWrongSeed) {
				t.Errorf("another seed: %v, want ErrWrongSeed", err)
			}
		})
	}
}

func TestDiffFileFromControl(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	dir := t.TempDir()
	old := words(r, 512<<10)
	target := edit(r, old, 50)
	op, np, cp, pp, out := filepath.Join(dir, "old"), filepath.Join(dir, "new"), filepath.Join(dir, "old.zsync"), filepath.Join(dir, "p"), filepath.Join(dir, "out")
	writeFile(t, op, old)
	writeFile(t, np, target)
	var cb bytes.Buffer
	if err := controlOf(t, old, 2048, index.MD4, 0, 0, 0).Encode(&cb); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cp, cb.Bytes())
	if _, err := DiffFileFromControl(context.Background(), cp, np, pp, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyFile(context.Background(), op, pp, out, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, out); !bytes.Equal(got, target) {
		t.Fatal("output is not the target")
	}
	// Not a control file.
	if _, err := DiffFileFromControl(context.Background(), op, np, pp+"2", DiffOptions{}); !errors.Is(err, zsyncfile.ErrFormat) {
		t.Errorf("seed data as control file: %v, want zsyncfile.ErrFormat", err)
	}
	// No whole-file hash to name the seed by.
	cf := controlOf(t, old, 2048, index.MD4, 0, 0, 0)
	cf.SHA1, cf.SHA256 = nil, nil
	if _, err := DiffFromControl(context.Background(), cf, bytes.NewReader(target), int64(len(target)), &cb, DiffOptions{}); err == nil || !strings.Contains(err.Error(), "whole-file hash") {
		t.Errorf("no hash: %v", err)
	}
	if _, err := os.Stat(pp + "2"); !errors.Is(err, os.ErrNotExist) {
		t.Error("a patch was written for a bad control file")
	}
}
