package zpack_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/internal/corpus"
	"github.com/zyncio/zync/internal/testenv"
	"github.com/zyncio/zync/makeindex"
	"github.com/zyncio/zync/scan"
	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/httpsource"
	"github.com/zyncio/zync/zpack"
	"github.com/zyncio/zync/zsyncfile"
)

// corpusPair is a benchmark corpus, what rsync -z sends for it
// (docs/benchmarks.md, bytes down) and the goal of issue 5 for the bytes a
// companion costs.
type corpusPair struct {
	name, seed, target string
	rsyncZ, goal       int64
}

var corpora = []corpusPair{
	{"ts", "npm/typescript-5.4.5.tar", "npm/typescript-5.5.2.tar", 2_210_918, 2_250_000},
	{"go", "go1.22.1.linux-amd64.tar", "go1.22.2.linux-amd64.tar", 31_665_769, 31_800_000},
}

// missingRanges returns the ranges of target blocks that the seed does not
// supply, as zync get computes them: the control file's blocksize and
// hash lengths (zsyncmake's), a scan of the seed, one range per run of
// missing blocks.
func missingRanges(b *testing.B, seedPath, targetPath string) (bs int, size int64, ranges []source.Range) {
	ctx := context.Background()
	tf, err := os.Open(targetPath)
	if err != nil {
		b.Fatal(err)
	}
	defer tf.Close()
	fi, err := tf.Stat()
	if err != nil {
		b.Fatal(err)
	}
	size = fi.Size()
	bs = zsyncfile.DefaultBlocksize(size)
	seq, weak, strong := zsyncfile.Params(size, bs)
	res, err := makeindex.Build(ctx, tf, size, makeindex.Options{Blocksize: bs, SeqMatches: seq, WeakBytes: weak, StrongLen: strong, Algo: index.MD4})
	if err != nil {
		b.Fatal(err)
	}
	sf, err := os.Open(seedPath)
	if err != nil {
		b.Fatal(err)
	}
	defer sf.Close()
	si, err := sf.Stat()
	if err != nil {
		b.Fatal(err)
	}
	known := scan.NewBitmap(res.Index.NumBlocks())
	if _, err := scan.NewMatcher(res.Index).ScanReaderAt(ctx, sf, si.Size(), known, func(int64, []byte) error { return nil }, scan.Options{}); err != nil {
		b.Fatal(err)
	}
	known.Missing(func(first, last int64) {
		end := min((last+1)*int64(bs), size)
		ranges = append(ranges, source.Range{Off: first * int64(bs), Len: end - first*int64(bs)})
	})
	return bs, size, ranges
}

// BenchmarkCorpus measures the bytes a client fetches from a companion for
// the blocks its seed lacks, on the benchmark corpora of docs/benchmarks.md
// (built by internal/corpus: GoToolchainTar, NpmTar; bench/run builds them),
// for several tier choices, against what rsync -z sends. The default
// configuration also goes through a real nginx, its bytes are taken from the
// access log, and it fails if they exceed the goal of issue 5 (31.8 MB on go,
// 2.25 MB on ts). Not run by CI (a benchmark); run it with
//
//	go test -run '^$' -bench Corpus -benchtime 1x -timeout 60m ./zpack/
//
// ZPACK_TIERS="1,8,128+dict 2 1,8+dict16384 ..." replaces the configurations
// tried: tiers in blocks, "+dict" for a dictionary of the default size,
// "+dictN" for one of N bytes.
func BenchmarkCorpus(b *testing.B) {
	dir, err := corpus.DefaultCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	configs := []string{"1,8,128+dict", "1,8,128", "1,16,256+dict", "1,4,64+dict", "1,2,8,32,128,512+dict", "1", "2", "16", "64"}
	if v := os.Getenv("ZPACK_TIERS"); v != "" {
		configs = strings.Fields(v)
	}
	for _, c := range corpora {
		b.Run(c.name, func(b *testing.B) {
			seed, target := filepath.Join(dir, c.seed), filepath.Join(dir, c.target)
			for _, p := range []string{seed, target} {
				if _, err := os.Stat(p); err != nil {
					b.Fatalf("corpus file missing (%v): build it with internal/corpus (GoToolchainTar, NpmTar), e.g. by running bash bench/run -corpus %s", err, c.name)
				}
			}
			bs, size, missing := missingRanges(b, seed, target)
			var miss int64
			for _, r := range missing {
				miss += r.Len
			}
			b.Logf("%s: %d bytes, blocksize %d, %d bytes missing in %d ranges; rsync -z sends %d", c.name, size, bs, miss, len(missing), c.rsyncZ)
			for _, cfg := range configs {
				b.Run(cfg, func(b *testing.B) {
					for b.Loop() {
						measure(b, c, cfg, target, size, bs, missing, cfg == configs[0])
					}
				})
			}
		})
	}
}

func measure(b *testing.B, c corpusPair, cfg, targetPath string, size int64, bs int, missing []source.Range, wire bool) {
	ctx := context.Background()
	spec, dictSpec, useDict := strings.Cut(cfg, "+dict")
	dictSize, _ := strconv.Atoi(dictSpec)
	var tiers []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			b.Fatalf("bad tiers %q", cfg)
		}
		tiers = append(tiers, n)
	}
	tf, err := os.Open(targetPath)
	if err != nil {
		b.Fatal(err)
	}
	defer tf.Close()
	opts := zpack.Options{Tiers: tiers}
	var dictTime time.Duration
	if useDict {
		t0 := time.Now()
		if opts.Dictionary, err = zpack.TrainDictionary(ctx, tf, size, zpack.DictOptions{Size: dictSize}); err != nil {
			b.Fatal(err)
		}
		dictTime = time.Since(t0)
	}
	dir := b.TempDir()
	out, err := os.Create(filepath.Join(dir, "target.zpack"))
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	res, err := zpack.Write(ctx, io.NewSectionReader(tf, 0, size), size, bs, out, opts)
	if err != nil {
		b.Fatal(err)
	}
	writeTime := time.Since(t0)
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	plan, err := res.Map.Plan(missing, zpack.DefaultPartCost)
	if err != nil {
		b.Fatal(err)
	}
	fetched := plan.Compressed + res.MapLength
	b.ReportMetric(float64(fetched)/1e6, "MB-fetched")
	b.ReportMetric(float64(res.Size)/1e6, "MB-companion")
	b.ReportMetric(float64(plan.Ranges), "ranges")
	b.Logf("%s tiers %s: companion %d bytes (%.0f%% of the target; dictionary %d bytes, %v; write %v); fetch %d = frames %d (%d frames, %d ranges) + map %d: %.1f%% of rsync -z",
		c.name, cfg, res.Size, 100*float64(res.Size)/float64(size), len(opts.Dictionary), dictTime.Round(time.Millisecond), writeTime.Round(time.Millisecond),
		fetched, plan.Compressed, plan.Frames, plan.Ranges, res.MapLength, 100*float64(fetched)/float64(c.rsyncZ))
	if !wire {
		return
	}
	// Through a real nginx, as zync get would: the map, then the frames,
	// every range checked against the target.
	srv := testenv.StartNginx(b, dir)
	ref := res.Ref("target.zpack")
	hs, err := httpsource.New(srv.URL(ref.URL), httpsource.Options{Length: ref.Size(), Concurrency: 8})
	if err != nil {
		b.Fatal(err)
	}
	m, err := zpack.Open(ctx, hs, ref, size)
	if err != nil {
		b.Fatal(err)
	}
	src, err := zpack.NewSource(hs, m, zpack.SourceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	t0 = time.Now()
	err = src.Fetch(ctx, missing, func(r source.Range, data io.Reader) error {
		got, err := io.ReadAll(data)
		if err != nil {
			return err
		}
		want := make([]byte, r.Len)
		if _, err := tf.ReadAt(want, r.Off); err != nil {
			return err
		}
		if string(got) != string(want) {
			return fmt.Errorf("range %s: wrong bytes", r)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	fetchTime := time.Since(t0)
	var body, sent int64
	log := srv.Log()
	for _, r := range log {
		body += r.Bytes
		sent += r.Sent
	}
	b.ReportMetric(float64(sent)/1e6, "MB-wire")
	b.Logf("%s over nginx: %d requests, %d body bytes, %d bytes with headers (%.1f%% of rsync -z's %d), fetch and decompress %v",
		c.name, len(log), body, sent, 100*float64(sent)/float64(c.rsyncZ), c.rsyncZ, fetchTime.Round(time.Millisecond))
	if sent > c.goal {
		b.Errorf("%s: %d bytes over the wire, more than the goal of %d", c.name, sent, c.goal)
	}
}
