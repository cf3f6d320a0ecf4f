package zync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAddCompanionRefusesChangedTarget: a target whose bytes no longer match
// its control file gets no companion, and nothing is left behind.
func TestAddCompanionRefusesChangedTarget(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "t.bin")
	data := bytes.Repeat([]byte("compressible text "), 1<<16)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cf, err := MakeFile(context.Background(), p, MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = AddCompanion(context.Background(), cf, p, dir, CompanionOptions{})
	if err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("AddCompanion on a changed target: %v; want an error saying it changed", err)
	}
	if len(cf.Extra) != 0 {
		t.Errorf("control file got headers %v", cf.Extra)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	if err := os.WriteFile(p, data[:len(data)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := AddCompanion(context.Background(), cf, p, dir, CompanionOptions{}); err == nil {
		t.Error("AddCompanion on a target of another length succeeded")
	}
}

// TestGetFromCompanionAlone: when the plain target is gone from the server,
// the companion alone still delivers the missing blocks.
func TestGetFromCompanionAlone(t *testing.T) {
	f := publish(t, 3<<20)
	// A compressible target instead of publish's random one.
	r := rand.New(rand.NewPCG(5, 6))
	var text bytes.Buffer
	for text.Len() < 3<<20 {
		fmt.Fprintf(&text, "line %d: value %d\n", text.Len(), r.IntN(1000))
	}
	f.target = text.Bytes()[:3<<20]
	f.old = bytes.Clone(f.target)
	for o := 0; o < len(f.old); o += 16 * 2048 {
		f.old[o] ^= 0xff
	}
	if err := os.WriteFile(filepath.Join(f.pub, "t.bin"), f.target, 0o644); err != nil {
		t.Fatal(err)
	}
	cf, err := MakeFile(context.Background(), filepath.Join(f.pub, "t.bin"), MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zp, err := AddCompanion(context.Background(), cf, filepath.Join(f.pub, "t.bin"), f.pub, CompanionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(zp) != "t.bin.zpack" {
		t.Errorf("companion at %s", zp)
	}
	if err := WriteControlFile(filepath.Join(f.pub, "t.bin.zsync"), cf); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.pub, "t.bin")); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	out := filepath.Join(f.work, "out.bin")
	res, err := Get(context.Background(), f.url, GetOptions{
		Output: out, Seeds: []string{f.seed(t)},
		Progress: func(e Event) {
			if e.Phase == "warning" {
				warnings = append(warnings, e.Message)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, f.target) {
		t.Fatal("output differs from the target")
	}
	if res.Fetched == 0 || res.Reused == 0 {
		t.Errorf("fetched %d, reused %d", res.Fetched, res.Reused)
	}
	if len(warnings) == 0 || !strings.Contains(strings.Join(warnings, "\n"), "compressed companion alone") {
		t.Errorf("warnings: %q", warnings)
	}
}

// TestAddCompanionIncompressible: random data gets no companion (it would
// be several copies of the target and save nothing), and says so.
func TestAddCompanionIncompressible(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.bin")
	data := make([]byte, 2<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cf, err := MakeFile(context.Background(), p, MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = AddCompanion(context.Background(), cf, p, dir, CompanionOptions{})
	if !errors.Is(err, ErrIncompressible) {
		t.Fatalf("AddCompanion on random data: %v; want ErrIncompressible", err)
	}
	if len(cf.Extra) != 0 {
		t.Errorf("control file got headers %v", cf.Extra)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestAddCompanionIncompressibleAfterWrite: samples that compress do not
// fool AddCompanion when the rest of the target does not (here 3% zeros,
// exactly where the samples are taken, in random data): the written
// companion's largest frames are judged, and it is thrown away.
func TestAddCompanionIncompressibleAfterWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.bin")
	const size, step = 32 << 20, (32 << 20) / 64 // the 64 samples of zpack.Compressible
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		if i%step >= 16<<10 {
			data[i] = byte(r.Uint32())
		}
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cf, err := MakeFile(context.Background(), p, MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = AddCompanion(context.Background(), cf, p, dir, CompanionOptions{Level: 1, NoDictionary: true})
	if !errors.Is(err, ErrIncompressible) || !strings.Contains(err.Error(), "largest frames") {
		t.Fatalf("AddCompanion: %v; want ErrIncompressible from the written frames", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}
