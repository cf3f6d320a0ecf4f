package patch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/zyncio/zync/index"
)

var update = flag.Bool("update", false, "rewrite the patches in testdata")

// The testdata patches, all made from testdata/seed.bin: real patches of a
// few kilobytes, the seed corpus of the fuzz targets.
var testdataPatches = []struct {
	name   string
	target string // file in testdata; "" for an empty target
	make   func(t testing.TB, seed, target []byte) []byte
}{
	{"edits.zpatch", "target.bin", func(t testing.TB, seed, target []byte) []byte {
		p, _ := diffBytes(t, seed, target, DiffOptions{SectionSize: 4 << 10})
		return p
	}},
	{"identical.zpatch", "seed.bin", func(t testing.TB, seed, target []byte) []byte {
		p, _ := diffBytes(t, seed, target, DiffOptions{})
		return p
	}},
	{"empty.zpatch", "", func(t testing.TB, seed, target []byte) []byte {
		p, _ := diffBytes(t, seed, target, DiffOptions{})
		return p
	}},
	{"raw.zpatch", "target.bin", func(t testing.TB, seed, target []byte) []byte {
		// Small sections, so most streams are stored raw.
		p, _ := diffBytes(t, seed, target, DiffOptions{SectionSize: 1 << 10, Level: 1})
		return p
	}},
	{"control.zpatch", "target.bin", func(t testing.TB, seed, target []byte) []byte {
		var p bytes.Buffer
		cf := controlOf(t, seed, 512, index.MD4, 0, 0, 0)
		if _, err := DiffFromControl(context.Background(), cf, bytes.NewReader(target), int64(len(target)), &p, DiffOptions{SectionSize: 8 << 10}); err != nil {
			t.Fatal(err)
		}
		return p.Bytes()
	}},
}

func testdataFile(t testing.TB, name string) []byte {
	t.Helper()
	if name == "" {
		return []byte{}
	}
	return readFile(t, filepath.Join("testdata", name))
}

// TestTestdata checks that the testdata patches apply to the seed and make
// their targets. With -update it makes them again (and the seed and target).
func TestTestdata(t *testing.T) {
	if *update {
		r := rand.New(rand.NewPCG(13, 14))
		seed := words(r, 24<<10)
		target := append(edit(r, seed, 30), randBytes(r, 300)...)
		writeFile(t, filepath.Join("testdata", "seed.bin"), seed)
		writeFile(t, filepath.Join("testdata", "target.bin"), target)
		for _, tp := range testdataPatches {
			writeFile(t, filepath.Join("testdata", tp.name), tp.make(t, seed, testdataFile(t, tp.target)))
		}
	}
	seed := testdataFile(t, "seed.bin")
	for _, tp := range testdataPatches {
		t.Run(tp.name, func(t *testing.T) {
			p := testdataFile(t, tp.name)
			got, _, err := applyBytes(seed, p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, testdataFile(t, tp.target)) {
				t.Fatal("the patch does not make its target")
			}
			// This version of Diff makes a patch that does the same.
			q := tp.make(t, seed, testdataFile(t, tp.target))
			if got2, _, err := applyBytes(seed, q); err != nil || !bytes.Equal(got2, got) {
				t.Fatalf("a new patch: %v", err)
			}
			if _, err := Check(context.Background(), bytes.NewReader(p)); err != nil {
				t.Errorf("Check: %v", err)
			}
		})
	}
}

func addTestdata(f *testing.F) {
	for _, tp := range testdataPatches {
		f.Add(testdataFile(f, tp.name))
	}
	f.Add([]byte(Magic))
	f.Add([]byte{})
}

// FuzzParse: Check never panics, never accepts a patch whose instructions
// do not add up, and allocates within the format's limits.
func FuzzParse(f *testing.F) {
	addTestdata(f)
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := Check(context.Background(), bytes.NewReader(p))
		if err != nil {
			return
		}
		if h.SeedLength < 0 || h.TargetLength < 0 || int64(len(h.Blocks.Sums)) != h.Blocks.NumBlocks(h.SeedLength)*int64(h.Blocks.StrongLen) {
			t.Fatalf("accepted a bad header %+v", h)
		}
		if _, err := ReadHeader(bytes.NewReader(p)); err != nil {
			t.Fatalf("Check accepted what ReadHeader refuses: %v", err)
		}
	})
}

// FuzzApply: Apply never panics, and whatever it accepts is the target
// the patch names (length and SHA-256).
func FuzzApply(f *testing.F) {
	addTestdata(f)
	seed, err := os.ReadFile(filepath.Join("testdata", "seed.bin"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var out bytes.Buffer
		res, err := Apply(context.Background(), bytes.NewReader(seed), int64(len(seed)), bytes.NewReader(p), &out, ApplyOptions{CacheBytes: 4 << 10})
		if err != nil {
			return
		}
		sum := sha256.Sum256(out.Bytes())
		if int64(out.Len()) != res.TargetLength || !bytes.Equal(sum[:], res.SHA256) {
			t.Fatalf("accepted: %d bytes with SHA-256 %x, result says %d, %x", out.Len(), sum, res.TargetLength, res.SHA256)
		}
	})
}
