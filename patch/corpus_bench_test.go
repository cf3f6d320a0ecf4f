package patch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/zyncio/zync/internal/corpus"
)

// The corpus benchmarks measure what docs/patch-format.md reports: patch
// size ("patch-bytes") and time against `xdelta3 -e -s OLD NEW` on
// go1.22.1→go1.22.2 toolchain tars and typescript 5.4.5→5.5.2 npm tars.
// They build the corpora on first use (internal/corpus, needs the network)
// and fail if they cannot.
//
//	go test -run '^$' -bench Corpus -benchtime 3x ./patch/

func corpusPair(b *testing.B, name string) (oldPath, newPath string) {
	b.Helper()
	ctx := context.Background()
	var err error
	switch name {
	case "go":
		if oldPath, err = corpus.GoToolchainTar(ctx, "", "go1.22.1"); err == nil {
			newPath, err = corpus.GoToolchainTar(ctx, "", "go1.22.2")
		}
	case "ts":
		if oldPath, err = corpus.NpmTar(ctx, "", "typescript", "5.4.5"); err == nil {
			newPath, err = corpus.NpmTar(ctx, "", "typescript", "5.5.2")
		}
	}
	if err != nil {
		b.Fatalf("corpus %s missing and could not be built: %v", name, err)
	}
	return oldPath, newPath
}

func benchDiffCorpus(b *testing.B, name string) {
	oldPath, newPath := corpusPair(b, name)
	out := filepath.Join(b.TempDir(), name+".zpatch")
	var res *DiffResult
	b.ResetTimer()
	for b.Loop() {
		var err error
		if res, err = DiffFile(context.Background(), oldPath, newPath, out, DiffOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(res.PatchSize), "patch-bytes")
	b.ReportMetric(float64(res.Literal), "literal-bytes")
	b.ReportMetric(float64(res.Instructions), "instructions")
	b.SetBytes(res.TargetLength)
	// The patch must make the target.
	got := filepath.Join(b.TempDir(), "target")
	if _, err := ApplyFile(context.Background(), oldPath, out, got, ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	want, _ := os.ReadFile(newPath)
	have, _ := os.ReadFile(got)
	if !bytes.Equal(want, have) {
		b.Fatal("apply does not reproduce the target")
	}
}

func benchApplyCorpus(b *testing.B, name string) {
	oldPath, newPath := corpusPair(b, name)
	dir := b.TempDir()
	p := filepath.Join(dir, name+".zpatch")
	res, err := DiffFile(context.Background(), oldPath, newPath, p, DiffOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(res.TargetLength)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ApplyFile(context.Background(), oldPath, p, filepath.Join(dir, "target"), ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiffGoCorpus diffs the go1.22.1 and go1.22.2 linux-amd64 tars
// (xdelta3 -e: 11.2 MB).
func BenchmarkDiffGoCorpus(b *testing.B) { benchDiffCorpus(b, "go") }

// BenchmarkDiffTSCorpus diffs the typescript 5.4.5 and 5.5.2 npm tars
// (xdelta3 -e: 0.18 MB).
func BenchmarkDiffTSCorpus(b *testing.B) { benchDiffCorpus(b, "ts") }

// BenchmarkApplyGoCorpus applies the go1.22.1→go1.22.2 patch.
func BenchmarkApplyGoCorpus(b *testing.B) { benchApplyCorpus(b, "go") }

// BenchmarkApplyTSCorpus applies the typescript 5.4.5→5.5.2 patch.
func BenchmarkApplyTSCorpus(b *testing.B) { benchApplyCorpus(b, "ts") }
