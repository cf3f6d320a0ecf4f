// Command zbench measures zync against its peers on real corpora: zsync
// 0.6.2 (zsyncmake, zsync), rsync through its daemon, rdiff (librsync),
// casync and xdelta3, with a real nginx on loopback as the web server.
// It prints one markdown table (wall time, MB/s, peak RSS, bytes over the
// wire, HTTP requests, output verified) and writes it to -out.
//
// Run it through bench/run, which installs the Debian packages first:
//
//	bash bench/run -corpus ts,go,rand -latency 0,50ms -runs 3 -out docs/benchmarks.md
//
// See docs/benchmarks.md for what each column means.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/zyncio/zync/internal/corpus"
)

var (
	allCorpora = []string{"ts", "go", "rand"}
	allTools   = []string{"zync", "zsync", "rsync", "rdiff", "casync", "xdelta3"}
)

type config struct {
	corpora  []string
	tools    []string
	rtts     []time.Duration
	out      string
	cache    string
	runs     int
	zync     string
	zyncVer  string
	work     string
	keep     bool
	randSize int64
	timeout  time.Duration
}

func main() {
	var (
		cfg                        config
		corporaF, toolsF, latencyF string
		randMiB                    int64
	)
	flag.StringVar(&corporaF, "corpus", strings.Join(allCorpora, ","), "corpora to run, comma-separated: ts (npm typescript 5.4.5 → 5.5.2), go (Go toolchain go1.22.1 → go1.22.2), rand (random with edits)")
	flag.StringVar(&toolsF, "tools", strings.Join(allTools, ","), "tools to run, comma-separated")
	flag.StringVar(&latencyF, "latency", "0", "round-trip times to add in front of the servers, comma-separated (e.g. 0,50ms)")
	flag.StringVar(&cfg.out, "out", "", "also write the markdown report (machine, command, table, ratios) to this file; if it has the lines "+markBegin+" and "+markEnd+", only what is between them is replaced")
	flag.StringVar(&cfg.cache, "cache", "", "corpus cache directory (default $ZYNC_CORPUS_DIR or the user cache dir's zync-corpus)")
	flag.IntVar(&cfg.runs, "runs", 1, "repeat every measurement N times and report the median")
	flag.StringVar(&cfg.zync, "zync", "", "zync binary (default: build ./cmd/zync into the work directory)")
	flag.StringVar(&cfg.zyncVer, "zync-version", "", "how to name the zync build in the report (default: the VCS stamp of the binary)")
	flag.StringVar(&cfg.work, "work", "", "work directory (default: a new temporary directory, removed at the end)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory")
	flag.Int64Var(&randMiB, "rand-mib", 256, "size of the rand corpus's seed in MiB")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "time limit of one program run")
	flag.Parse()
	if flag.NArg() != 0 {
		fatalf("unexpected arguments %q", flag.Args())
	}
	var err error
	if cfg.corpora, err = pickList(corporaF, allCorpora, "corpus"); err != nil {
		fatalf("%v", err)
	}
	if cfg.tools, err = pickList(toolsF, allTools, "tool"); err != nil {
		fatalf("%v", err)
	}
	for _, s := range strings.Split(latencyF, ",") {
		s = strings.TrimSpace(s)
		if s == "0" {
			cfg.rtts = append(cfg.rtts, 0)
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			fatalf("bad -latency %q", s)
		}
		if !slices.Contains(cfg.rtts, d) {
			cfg.rtts = append(cfg.rtts, d)
		}
	}
	if cfg.runs < 1 {
		fatalf("-runs must be at least 1")
	}
	cfg.randSize = randMiB << 20
	if cfg.cache == "" {
		if cfg.cache, err = corpus.DefaultCacheDir(); err != nil {
			fatalf("%v", err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if err != nil {
		fatalf("%v", err)
	}
	md := rep.markdown(os.Args[1:])
	fmt.Print("\n" + rep.tableMarkdown() + "\n" + rep.ratiosMarkdown())
	if cfg.out != "" {
		if err := writeReport(cfg.out, md); err != nil {
			fatalf("%v", err)
		}
		fmt.Fprintf(os.Stderr, "zbench: wrote %s\n", cfg.out)
	}
}

func pickList(s string, all []string, what string) ([]string, error) {
	var out []string
	for _, x := range strings.Split(s, ",") {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		if !slices.Contains(all, x) {
			return nil, fmt.Errorf("unknown %s %q (known: %s)", what, x, strings.Join(all, ", "))
		}
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %s selected", what)
	}
	return out, nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "zbench: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "zbench: "+format+"\n", args...)
}

// run builds the corpora, runs every selected tool runs times on each and
// returns the report.
func run(ctx context.Context, cfg config) (*report, error) {
	work := cfg.work
	if work == "" {
		d, err := os.MkdirTemp("", "zbench-")
		if err != nil {
			return nil, err
		}
		work = d
		if !cfg.keep {
			defer os.RemoveAll(work)
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	work, _ = filepath.Abs(work)
	zyncBin := cfg.zync
	if zyncBin == "" && slices.Contains(cfg.tools, "zync") {
		zyncBin = filepath.Join(work, "bin", "zync")
		logf("building zync into %s", zyncBin)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", zyncBin, "github.com/zyncio/zync/cmd/zync")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build zync: %v\n%s", err, out)
		}
	}
	if zyncBin != "" {
		zyncBin, _ = filepath.Abs(zyncBin)
	}
	rep := &report{cfg: cfg, results: map[rowKey][]measurement{}}
	rep.machine = describeMachine(ctx, zyncBin, cfg.zyncVer)
	for _, name := range cfg.corpora {
		c, err := loadCorpus(ctx, cfg, name)
		if err != nil {
			return nil, err
		}
		rep.corpora = append(rep.corpora, c)
		logf("corpus %s: seed %s (%d bytes), target %s (%d bytes)", c.name, c.seed, c.seedSize, c.target, c.size)
		b := &corpusBench{cfg: cfg, c: c, zync: zyncBin, dir: filepath.Join(work, c.name), rep: rep}
		if err := b.runAll(ctx); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return rep, nil
}
