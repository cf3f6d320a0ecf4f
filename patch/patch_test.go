package patch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// words makes text-like data: compressible, with repeated phrases, like
// the source files and JSON of real releases.
func words(r *rand.Rand, n int) []byte {
	vocab := strings.Fields(`func return if err != nil { } package import const var type struct
		interface map chan go defer select case default for range break continue
		the seed target block chunk index patch copy literal section anchor`)
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(vocab[r.IntN(len(vocab))])
		switch r.IntN(8) {
		case 0:
			b.WriteString("\n\t")
		case 1:
			fmt.Fprintf(&b, "(%d)", r.IntN(1000))
		default:
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// edit returns old with n scattered edits: replaced, inserted and deleted
// runs, and a few moved regions.
func edit(r *rand.Rand, old []byte, n int) []byte {
	out := append([]byte(nil), old...)
	for range n {
		if len(out) < 64 {
			break
		}
		at := r.IntN(len(out) - 32)
		switch r.IntN(4) {
		case 0: // replace a few bytes
			copy(out[at:], randBytes(r, 1+r.IntN(12)))
		case 1: // insert
			ins := randBytes(r, 1+r.IntN(40))
			out = append(out[:at], append(ins, out[at:]...)...)
		case 2: // delete
			out = append(out[:at], out[at+1+r.IntN(30):]...)
		case 3: // move a region to elsewhere
			l := 100 + r.IntN(2000)
			if at+l < len(out) {
				reg := append([]byte(nil), out[at:at+l]...)
				out = append(out[:at], out[at+l:]...)
				to := r.IntN(len(out))
				out = append(out[:to], append(reg, out[to:]...)...)
			}
		}
	}
	return out
}

func diffBytes(t testing.TB, old, target []byte, opts DiffOptions) ([]byte, *DiffResult) {
	t.Helper()
	var p bytes.Buffer
	res, err := Diff(context.Background(), bytes.NewReader(old), int64(len(old)), bytes.NewReader(target), int64(len(target)), &p, opts)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	if res.PatchSize != int64(p.Len()) {
		t.Fatalf("PatchSize %d, wrote %d", res.PatchSize, p.Len())
	}
	return p.Bytes(), res
}

func applyBytes(seed, p []byte) ([]byte, *ApplyResult, error) {
	var out bytes.Buffer
	res, err := Apply(context.Background(), bytes.NewReader(seed), int64(len(seed)), bytes.NewReader(p), &out, ApplyOptions{CacheBytes: 1 << 18})
	return out.Bytes(), res, err
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	text := words(r, 3<<20)
	small := words(r, 200<<10)
	cases := []struct {
		name        string
		old, target []byte
		opts        DiffOptions
		wantCopied  float64 // at least this fraction of the target copied
		maxPatch    int     // patch at most this many bytes (0: no check)
		useForce64  bool
	}{
		{name: "both empty"},
		{name: "empty old", target: small},
		{name: "empty new", old: small, maxPatch: 2048},
		{name: "tiny", old: []byte("abc"), target: []byte("abd")},
		{name: "shorter than a key", old: []byte("0123456789"), target: []byte("0123456789")},
		{name: "identical", old: text, target: text, wantCopied: 1, maxPatch: 4096},
		{name: "completely different", old: randBytes(r, 300<<10), target: randBytes(r, 300<<10)},
		{name: "insertion at the start", old: small, target: append(randBytes(r, 1000), small...), wantCopied: 0.99},
		{name: "truncation", old: small, target: small[:len(small)/3], wantCopied: 0.99},
		{name: "append", old: small, target: append(append([]byte(nil), small...), words(r, 5000)...), wantCopied: 0.95},
		{name: "scattered edits", old: text, target: edit(r, text, 400), wantCopied: 0.98, maxPatch: 40 << 10},
		{name: "scattered edits, small sections", old: text, target: edit(r, text, 400), opts: DiffOptions{SectionSize: 1 << 10}, wantCopied: 0.9},
		{name: "scattered edits, 8-byte index", old: text, target: edit(r, text, 400), useForce64: true, wantCopied: 0.98},
		{name: "scattered edits, level 1, one worker", old: small, target: edit(r, small, 50), opts: DiffOptions{Level: 1, Workers: 1}, wantCopied: 0.95},
		{name: "scattered edits, level 4, dense anchors", old: small, target: edit(r, small, 50), opts: DiffOptions{Level: 4, AnchorBits: 2, MatchMin: 8}, wantCopied: 0.95},
		{name: "zeros", old: make([]byte, 1<<20), target: append(make([]byte, 1<<19), append([]byte("x"), make([]byte, 1<<19)...)...), wantCopied: 0.99},
		{name: "reordered halves", old: text, target: append(append([]byte(nil), text[len(text)/2:]...), text[:len(text)/2]...), wantCopied: 0.99},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.useForce64 {
				force64 = true
				defer func() { force64 = false }()
			}
			p, dres := diffBytes(t, c.old, c.target, c.opts)
			got, ares, err := applyBytes(c.old, p)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !bytes.Equal(got, c.target) {
				t.Fatalf("Apply made %d bytes, want the %d-byte target", len(got), len(c.target))
			}
			if dres.Copied+dres.Literal != int64(len(c.target)) || ares.Copied+ares.Literal != int64(len(c.target)) {
				t.Errorf("copied+literal: diff %d+%d, apply %d+%d, target %d", dres.Copied, dres.Literal, ares.Copied, ares.Literal, len(c.target))
			}
			if ares.Copied != dres.Copied {
				t.Errorf("apply copied %d, diff says %d", ares.Copied, dres.Copied)
			}
			if want := sha256.Sum256(c.target); !bytes.Equal(ares.SHA256, want[:]) || !bytes.Equal(dres.TargetSHA256, want[:]) {
				t.Errorf("target SHA-256: apply %x, diff %x, want %x", ares.SHA256, dres.TargetSHA256, want)
			}
			if len(c.target) > 0 && float64(dres.Copied) < c.wantCopied*float64(len(c.target)) {
				t.Errorf("copied %d of %d bytes, want at least %.0f%%", dres.Copied, len(c.target), 100*c.wantCopied)
			}
			if c.maxPatch > 0 && len(p) > c.maxPatch {
				t.Errorf("patch is %d bytes, want at most %d", len(p), c.maxPatch)
			}
		})
	}
}

// TestDeterministic: the patch does not depend on the number of workers or
// on whether the seed is mapped or read.
func TestDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	old := words(r, 1<<20)
	target := edit(r, old, 200)
	ref, _ := diffBytes(t, old, target, DiffOptions{Workers: 1, SectionSize: 64 << 10})
	for _, w := range []int{2, 5} {
		p, _ := diffBytes(t, old, target, DiffOptions{Workers: w, SectionSize: 64 << 10})
		if !bytes.Equal(p, ref) {
			t.Errorf("Workers %d: patch differs from Workers 1", w)
		}
	}
	dir := t.TempDir()
	op, np, pp := filepath.Join(dir, "old"), filepath.Join(dir, "new"), filepath.Join(dir, "p")
	writeFile(t, op, old)
	writeFile(t, np, target)
	if _, err := DiffFile(context.Background(), op, np, pp, DiffOptions{SectionSize: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, pp); !bytes.Equal(got, ref) {
		t.Error("DiffFile (mapped seed) made another patch than Diff (seed in memory)")
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dirNames lists dir, to check that no temporary file is left.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// fixture is a seed, a target and the patch between them, on disk.
type fixture struct {
	dir, seed, target, patch, out string
	seedData, targetData, p       []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	f := &fixture{dir: t.TempDir()}
	f.seedData = words(r, 600<<10)
	f.targetData = edit(r, f.seedData, 300)
	f.targetData = append(f.targetData, randBytes(r, 20<<10)...) // literals that zstd cannot shrink
	f.seed = filepath.Join(f.dir, "seed")
	f.target = filepath.Join(f.dir, "target")
	f.patch = filepath.Join(f.dir, "p.zpatch")
	f.out = filepath.Join(f.dir, "out")
	writeFile(t, f.seed, f.seedData)
	writeFile(t, f.target, f.targetData)
	res, err := DiffFile(context.Background(), f.seed, f.target, f.patch, DiffOptions{SectionSize: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sections < 3 {
		t.Fatalf("fixture has %d sections, want several", res.Sections)
	}
	f.p = readFile(t, f.patch)
	return f
}

func TestApplyFile(t *testing.T) {
	f := newFixture(t)
	writeFile(t, f.out, []byte("previous content"))
	if err := os.Chmod(f.out, 0o640); err != nil {
		t.Fatal(err)
	}
	res, err := ApplyFile(context.Background(), f.seed, f.patch, f.out, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, f.out); !bytes.Equal(got, f.targetData) {
		t.Fatal("output is not the target")
	}
	if st, _ := os.Stat(f.out); st.Mode().Perm() != 0o640 {
		t.Errorf("output mode %v, want the previous output's 0640 kept", st.Mode().Perm())
	}
	if res.TargetLength != int64(len(f.targetData)) {
		t.Errorf("TargetLength %d", res.TargetLength)
	}
	if names := dirNames(t, f.dir); len(names) != 4 {
		t.Errorf("directory holds %v, want seed, target, patch and output only", names)
	}
	// In place: the output may be the seed itself.
	if _, err := ApplyFile(context.Background(), f.seed, f.patch, f.seed, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, f.seed); !bytes.Equal(got, f.targetData) {
		t.Fatal("in-place apply did not leave the target at the seed's path")
	}
}

func TestWrongSeedRefused(t *testing.T) {
	f := newFixture(t)
	flipped := append([]byte(nil), f.seedData...)
	flipped[len(flipped)/2] ^= 1
	for _, c := range []struct {
		name string
		seed []byte
		want string
	}{
		{"same length, one bit differs", flipped, "SHA-256"},
		{"shorter", f.seedData[:len(f.seedData)-1], "bytes"},
		{"longer", append(append([]byte(nil), f.seedData...), 0), "bytes"},
		{"empty", nil, "bytes"},
		{"the target instead", f.targetData, "bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			seed, out := filepath.Join(dir, "seed"), filepath.Join(dir, "out")
			writeFile(t, seed, c.seed)
			writeFile(t, out, []byte("previous content"))
			_, err := ApplyFile(context.Background(), seed, f.patch, out, ApplyOptions{})
			if !errors.Is(err, ErrWrongSeed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ApplyFile: %v, want ErrWrongSeed mentioning %q", err, c.want)
			}
			if got := readFile(t, out); string(got) != "previous content" {
				t.Error("the output changed")
			}
			if names := dirNames(t, dir); len(names) != 2 {
				t.Errorf("directory holds %v, want no temporary file", names)
			}
			// Streaming: nothing is written before the seed is checked.
			got, _, err := applyBytes(c.seed, f.p)
			if !errors.Is(err, ErrWrongSeed) || len(got) != 0 {
				t.Errorf("Apply: %v after writing %d bytes, want ErrWrongSeed and nothing written", err, len(got))
			}
		})
	}
}

// changingSeed returns the seed's bytes for its first size bytes read (the
// whole-file hash) and a damaged copy afterwards, as a seed modified
// while a patch is applied.
type changingSeed struct {
	orig, later []byte
	read        int64
}

func (s *changingSeed) ReadAt(p []byte, off int64) (int, error) {
	src := s.orig
	if s.read >= int64(len(s.orig)) {
		src = s.later
	}
	s.read += int64(len(p))
	if off >= int64(len(src)) {
		return 0, io.EOF
	}
	n := copy(p, src[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestSeedChangedDuringApply(t *testing.T) {
	f := newFixture(t)
	later := append([]byte(nil), f.seedData...)
	for i := 1000; i < len(later); i += 50000 {
		later[i] ^= 0x55
	}
	s := &changingSeed{orig: f.seedData, later: later}
	_, err := Apply(context.Background(), s, int64(len(f.seedData)), bytes.NewReader(f.p), io.Discard, ApplyOptions{})
	if !errors.Is(err, ErrWrongSeed) || !strings.Contains(err.Error(), "block") {
		t.Fatalf("Apply: %v, want ErrWrongSeed for a block", err)
	}
}

// checkRefused applies a damaged patch with ApplyFile: it must fail with
// ErrCorrupt or ErrUnsupported, leave the output as it was and leave no
// temporary file; streaming Apply must fail too.
func checkRefused(t *testing.T, f *fixture, p []byte) {
	t.Helper()
	dir := t.TempDir()
	pp, out := filepath.Join(dir, "p"), filepath.Join(dir, "out")
	writeFile(t, pp, p)
	writeFile(t, out, []byte("previous content"))
	_, err := ApplyFile(context.Background(), f.seed, pp, out, ApplyOptions{})
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
		t.Fatalf("ApplyFile: %v, want ErrCorrupt or ErrUnsupported", err)
	}
	if got := readFile(t, out); string(got) != "previous content" {
		t.Error("the output changed")
	}
	if names := dirNames(t, dir); len(names) != 2 {
		t.Errorf("directory holds %v, want no temporary file", names)
	}
	if _, _, err := applyBytes(f.seedData, p); err == nil {
		t.Error("streaming Apply accepted the damaged patch")
	}
}

func TestTruncatedPatchRefused(t *testing.T) {
	f := newFixture(t)
	cuts := []int{0, 1, len(Magic), len(Magic) + 1, 40, len(f.p) / 4, len(f.p) / 2, len(f.p) - 33, len(f.p) - 32, len(f.p) - 1}
	for _, n := range cuts {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			checkRefused(t, f, f.p[:n])
		})
	}
	t.Run("trailing data", func(t *testing.T) {
		checkRefused(t, f, append(append([]byte(nil), f.p...), 0))
	})
}

func TestBitFlippedPatchRefused(t *testing.T) {
	f := newFixture(t)
	r := rand.New(rand.NewPCG(7, 8))
	at := []int{0, len(Magic), len(Magic) + 1, len(Magic) + 3, 60, len(f.p) - 40, len(f.p) - 1}
	for range 25 {
		at = append(at, r.IntN(len(f.p)))
	}
	for _, i := range at {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			p := append([]byte(nil), f.p...)
			p[i] ^= 1 << r.IntN(8)
			checkRefused(t, f, p)
		})
	}
}

// craft builds a patch from raw sections (raw codecs), with a valid
// trailer, so that checks behind the trailer can be reached.
type rawSection struct {
	span  int64
	instr []byte
	lits  []byte
}

func craft(h *Header, secs []rawSection, targetSum []byte, tail ...[]byte) []byte {
	b := appendHeader(nil, h)
	for _, s := range secs {
		b = appendSectionHeader(b, &sectionHeader{span: s.span, instrRaw: int64(len(s.instr)), instrStored: int64(len(s.instr)),
			litRaw: int64(len(s.lits)), litStored: int64(len(s.lits))})
		b = append(b, s.instr...)
		b = append(b, s.lits...)
	}
	for _, t := range tail {
		b = append(b, t...)
	}
	b = append(b, tagEnd)
	b = append(b, targetSum...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

func seedHeader(seed []byte, targetLen int64) *Header {
	s := sha256.Sum256(seed)
	h := &Header{Version: Version, SeedLength: int64(len(seed)), SeedAlgo: SHA256, SeedSum: s[:], TargetLength: targetLen,
		Blocks: BlockTable{Blocksize: 64, Algo: SHA256, StrongLen: 16}}
	pad := make([]byte, 64)
	for k := int64(0); k < h.Blocks.NumBlocks(int64(len(seed))); k++ {
		blk := seed[k*64 : min(k*64+64, int64(len(seed)))]
		copy(pad, blk)
		clear(pad[len(blk):])
		bs := sha256.Sum256(pad)
		h.Blocks.Sums = append(h.Blocks.Sums, bs[:16]...)
	}
	return h
}

func ops(list ...op) []byte {
	var w opWriter
	for _, o := range list {
		w.instr = appendOp(w.instr, &w.reps, o)
	}
	return w.instr
}

// appendOp encodes one instruction as given (no merging).
func appendOp(b []byte, r *reps, o op) []byte {
	b = appendUvarint(b, uint64(o.lit))
	b = appendUvarint(b, uint64(o.n))
	if o.n > 0 {
		b = appendUvarint(b, r.encode(o.disp))
	}
	return b
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func TestCraftedPatches(t *testing.T) {
	seed := []byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
	target := append([]byte("hello "), seed[10:40]...)
	tsum := sha256.Sum256(target)
	good := []rawSection{{span: int64(len(target)), instr: ops(op{lit: 6, n: 30, disp: 4}), lits: []byte("hello ")}}
	if got, _, err := applyBytes(seed, craft(seedHeader(seed, int64(len(target))), good, tsum[:])); err != nil || !bytes.Equal(got, target) {
		t.Fatalf("the good crafted patch: %v, %q", err, got)
	}
	for _, c := range []struct {
		name string
		h    *Header
		secs []rawSection
		sum  []byte
		tail []byte
		want string
	}{
		{name: "copy past the seed's end", secs: []rawSection{{span: 36, instr: ops(op{lit: 6, n: 30, disp: 70}), lits: []byte("hello ")}}, want: "outside the seed"},
		{name: "copy before the seed's start", secs: []rawSection{{span: 36, instr: ops(op{lit: 6, n: 30, disp: -7}), lits: []byte("hello ")}}, want: "outside the seed"},
		{name: "literal longer than the literals", secs: []rawSection{{span: 36, instr: ops(op{lit: 7, n: 29, disp: 4}), lits: []byte("hello ")}}, want: "exceeds"},
		{name: "copy longer than the section", secs: []rawSection{{span: 36, instr: ops(op{lit: 6, n: 31, disp: 4}), lits: []byte("hello ")}}, want: "exceeds"},
		{name: "instructions left over", secs: []rawSection{{span: 36, instr: append(ops(op{lit: 6, n: 30, disp: 4}), 1, 0), lits: []byte("hello ")}}, want: "left over"},
		{name: "literals left over", secs: []rawSection{{span: 36, instr: ops(op{lit: 6, n: 30, disp: 4}), lits: []byte("hello !")}}, want: "left over"},
		{name: "empty instruction", secs: []rawSection{{span: 36, instr: append([]byte{0, 0}, ops(op{lit: 6, n: 30, disp: 4})...), lits: []byte("hello ")}}, want: "empty instruction"},
		{name: "section longer than the target", secs: []rawSection{{span: 37, instr: ops(op{lit: 6, n: 30, disp: 4}), lits: []byte("hello ")}}, want: "target bytes left"},
		{name: "sections too short", secs: []rawSection{{span: 6, instr: ops(op{lit: 6}), lits: []byte("hello ")}}, want: "make 6 bytes"},
		{name: "wrong target hash", secs: good, sum: make([]byte, 32), want: "SHA-256"},
		{name: "unknown record", secs: good, tail: []byte{7}, want: "unknown record tag"},
		{name: "huge displacement", secs: []rawSection{{span: 36, instr: append([]byte{6, 30}, appendUvarint(nil, 1<<63)...), lits: []byte("hello ")}}, want: "out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			if h == nil {
				h = seedHeader(seed, int64(len(target)))
			}
			sum := c.sum
			if sum == nil {
				sum = tsum[:]
			}
			var tail [][]byte
			if c.tail != nil {
				tail = append(tail, c.tail)
			}
			_, _, err := applyBytes(seed, craft(h, c.secs, sum, tail...))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrCorrupt mentioning %q", err, c.want)
			}
		})
	}
}

// TestParseBounds: counts and lengths a patch declares are checked before
// anything is allocated for them.
func TestParseBounds(t *testing.T) {
	hdr := func(seedLen int64, bs uint64, algo, sumLen byte) []byte {
		b := []byte(Magic)
		b = append(b, Version, 0)
		b = appendUvarint(b, uint64(seedLen))
		b = append(b, byte(SHA256))
		b = append(b, make([]byte, 32)...)
		b = appendUvarint(b, bs)
		return append(b, algo, sumLen)
	}
	for _, c := range []struct {
		name string
		p    []byte
		err  error
		want string
	}{
		{"bad magic", []byte("\x89ZPATCX\n\x01"), ErrCorrupt, "bad magic"},
		{"newer version", append([]byte(Magic), 2), ErrUnsupported, "version 2"},
		{"unknown flags", append([]byte(Magic), Version, 1), ErrUnsupported, "flags"},
		{"seed length over the limit", appendUvarint(append([]byte(Magic), Version, 0), MaxLength+1), ErrCorrupt, "exceeds the limit"},
		{"non-canonical varint", append([]byte(Magic), Version, 0x80, 0x00), ErrCorrupt, "non-canonical"},
		{"blocksize not a power of two", hdr(100, 1000, byte(SHA256), 16), ErrCorrupt, "power of two"},
		{"blocksize too large", hdr(100, MaxTableBlocksize*2, byte(SHA256), 16), ErrCorrupt, "exceeds the limit"},
		{"unknown block algorithm", hdr(100, 64, 99, 16), ErrUnsupported, "algorithm 99"},
		{"sum too long", hdr(100, 64, byte(MD4), 17), ErrCorrupt, "between 3 and 16"},
		{"table over the limit", hdr(1<<50, 16, byte(SHA256), 32), ErrCorrupt, "exceeds the limit"},
		{"huge table, truncated", hdr(1<<36, 1<<16, byte(SHA256), 32), ErrCorrupt, "truncated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ReadHeader(bytes.NewReader(c.p))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %v mentioning %q", err, c.err, c.want)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
				t.Errorf("allocated %d bytes for a %d-byte patch", d, len(c.p))
			}
		})
	}
	// A section declaring the largest streams, then truncated: refused
	// without allocating the declared sizes.
	seed := []byte("some seed bytes")
	h := seedHeader(seed, MaxSectionSpan)
	b := appendHeader(nil, h)
	b = appendSectionHeader(b, &sectionHeader{span: MaxSectionSpan, instrCodec: codecZstd, instrRaw: MaxInstrBytes, instrStored: maxStored(MaxInstrBytes),
		litCodec: codecZstd, litRaw: MaxSectionSpan, litStored: 10})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := applyBytes(seed, b)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("got %v, want a truncated patch", err)
	}
	// The section declares 32 MiB + 34 MiB; the zstd decoder and the first
	// read chunk take a few MiB.
	if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
		t.Errorf("allocated %d bytes for a truncated section", d)
	}
}

func TestCanceled(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := DiffFile(ctx, f.seed, f.target, filepath.Join(f.dir, "p2"), DiffOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("DiffFile: %v, want context.Canceled", err)
	}
	if _, err := ApplyFile(ctx, f.seed, f.patch, f.out, ApplyOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ApplyFile: %v, want context.Canceled", err)
	}
	if names := dirNames(t, f.dir); len(names) != 3 {
		t.Errorf("directory holds %v, want seed, target and patch only", names)
	}
}

func TestDiffErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, o := range []DiffOptions{{Level: 5}, {SectionSize: 100}, {SectionSize: MaxSectionSize + 1}, {MatchMin: 4}, {AnchorBits: 13}} {
		if _, err := DiffFile(ctx, f.seed, f.target, filepath.Join(f.dir, "x"), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	// A target shorter or longer than it says.
	var out bytes.Buffer
	if _, err := Diff(ctx, bytes.NewReader(f.seedData), int64(len(f.seedData)), bytes.NewReader(f.targetData), int64(len(f.targetData))+1, &out, DiffOptions{}); err == nil || !strings.Contains(err.Error(), "ended before") {
		t.Errorf("short target: %v", err)
	}
	if _, err := Diff(ctx, bytes.NewReader(f.seedData), int64(len(f.seedData)), bytes.NewReader(f.targetData), int64(len(f.targetData))-1, &out, DiffOptions{}); err == nil || !strings.Contains(err.Error(), "longer") {
		t.Errorf("long target: %v", err)
	}
	if _, err := DiffFile(ctx, f.dir, f.target, filepath.Join(f.dir, "x"), DiffOptions{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("seed is a directory: %v", err)
	}
	if names := dirNames(t, f.dir); len(names) != 3 {
		t.Errorf("directory holds %v, want no temporary file", names)
	}
}

func TestReadHeader(t *testing.T) {
	f := newFixture(t)
	h, err := ReadHeader(bytes.NewReader(f.p))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(f.seedData)
	if h.SeedLength != int64(len(f.seedData)) || !bytes.Equal(h.SeedSum, sum[:]) || h.SeedAlgo != SHA256 || h.TargetLength != int64(len(f.targetData)) {
		t.Errorf("header %+v", h)
	}
	if h.Blocks.Blocksize != 64<<10 || h.Blocks.Algo != SHA256 || int64(len(h.Blocks.Sums)) != h.Blocks.NumBlocks(h.SeedLength)*16 {
		t.Errorf("block table %d %v %d", h.Blocks.Blocksize, h.Blocks.Algo, len(h.Blocks.Sums))
	}
}

func TestParams(t *testing.T) {
	for _, c := range []struct {
		n      int64
		bs     int
		idxMax int64
	}{
		{0, 64 << 10, 4 << 10},
		{100 << 20, 64 << 10, 50 << 20},
		{1 << 30, 64 << 10, 512 << 20},
		{1 << 34, 1 << 20, 4 << 30},
		{5 << 30, 512 << 10, 5 << 29},
	} {
		if bs := tableBlocksize(c.n); bs != c.bs {
			t.Errorf("tableBlocksize(%d) = %d, want %d", c.n, bs, c.bs)
		}
		// The documented bound: at most 8 bytes per 16 seed bytes, and
		// MaxIndexBytes with the default density.
		if ib := indexBytes(c.n, defaultAnchorBits); ib > max(c.idxMax, 4<<10) || (c.n > 1<<20 && ib > c.n/2) {
			t.Errorf("indexBytes(%d) = %d", c.n, ib)
		}
		o := DiffOptions{}
		if ib := indexBytes(c.n, o.anchorBits(c.n)); ib > MaxIndexBytes {
			t.Errorf("default index of a %d-byte seed takes %d bytes", c.n, ib)
		}
	}
	for _, a := range []HashAlgo{SHA256, SHA1, MD4, MD5, SHA224} {
		if a.New().Size() != a.Size() || a.String() == "" {
			t.Errorf("%v", a)
		}
	}
	if HashAlgo(99).New() != nil || HashAlgo(99).Size() != 0 || HashAlgo(99).String() != "HashAlgo(99)" {
		t.Error("unknown algorithm")
	}
}
