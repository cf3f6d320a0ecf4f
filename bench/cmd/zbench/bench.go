package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zyncio/zync/internal/corpus"
)

// corpusPair is one seed and target.
type corpusPair struct {
	name, desc     string
	seed, target   string // paths in the cache
	seedSize, size int64
	sha            string // SHA-256 of the target
	unrelated      string // a seed unrelated to the target, for the worst-case scan ("" for none)
	ext            string // the target's extension (.tar, .bin)
}

func loadCorpus(ctx context.Context, cfg config, name string) (*corpusPair, error) {
	c := &corpusPair{name: name}
	var err error
	switch name {
	case "ts":
		c.desc = "npm typescript 5.4.5 → 5.5.2, gunzipped registry tarballs"
		if c.seed, err = corpus.NpmTar(ctx, cfg.cache, "typescript", "5.4.5"); err != nil {
			return nil, err
		}
		if c.target, err = corpus.NpmTar(ctx, cfg.cache, "typescript", "5.5.2"); err != nil {
			return nil, err
		}
		c.ext = ".tar"
	case "go":
		c.desc = "Go toolchain go1.22.1 → go1.22.2 linux-amd64, deterministic tars of the module zips"
		if c.seed, err = corpus.GoToolchainTar(ctx, cfg.cache, "go1.22.1"); err != nil {
			return nil, err
		}
		if c.target, err = corpus.GoToolchainTar(ctx, cfg.cache, "go1.22.2"); err != nil {
			return nil, err
		}
		c.ext = ".tar"
	case "rand":
		c.desc = fmt.Sprintf("%d MiB random → %d scattered edits of 1–%d bytes, one %d KiB insertion, one %d KiB deletion",
			cfg.randSize>>20, corpus.RandEdits, corpus.RandEditMax, corpus.RandInsert>>10, corpus.RandDelete>>10)
		if c.seed, c.target, err = corpus.RandPair(cfg.cache, cfg.randSize); err != nil {
			return nil, err
		}
		if c.unrelated, err = corpus.RandUnrelated(cfg.cache, cfg.randSize); err != nil {
			return nil, err
		}
		c.ext = ".bin"
	default:
		return nil, fmt.Errorf("unknown corpus %q", name)
	}
	for _, p := range []struct {
		path string
		size *int64
	}{{c.seed, &c.seedSize}, {c.target, &c.size}} {
		fi, err := os.Stat(p.path)
		if err != nil {
			return nil, err
		}
		*p.size = fi.Size()
	}
	// Hashing also brings both files into the page cache: every tool starts
	// from warm files.
	if _, err := fileSHA256(c.seed); err != nil {
		return nil, err
	}
	if c.sha, err = fileSHA256(c.target); err != nil {
		return nil, err
	}
	if c.unrelated != "" {
		if _, err := fileSHA256(c.unrelated); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// warm reads the corpus files and the files served from www, so that every
// step starts with its inputs in the page cache. Hashing them once at the
// start is not enough on a machine whose host reclaims page cache within
// seconds (ours does: a 256 MiB file read from disk takes 2.7 s): whichever
// tool ran first after a file was evicted would pay for reading it back.
func (b *corpusBench) warm() {
	paths := []string{b.c.seed, b.c.target, b.c.unrelated}
	if ents, err := os.ReadDir(b.www); err == nil {
		for _, e := range ents {
			if e.Type().IsRegular() {
				paths = append(paths, filepath.Join(b.www, e.Name()))
			}
		}
	}
	buf := make([]byte, 1<<20)
	for _, p := range paths {
		if p == "" {
			continue
		}
		if f, err := os.Open(p); err == nil {
			_, _ = io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
			f.Close()
		}
	}
}

// recycleMemory writes a scratch file of twice the target's size plus
// 256 MiB into the page cache and deletes it, so that the next step's fresh
// memory (its output file, its heap) is memory freed a moment ago.
//
// This VM's balloon device reports free memory to the host within seconds
// of its being freed, and memory reported that way costs about 10 µs of
// system time a page when it is next used: 0.7-0.9 s for a 256 MiB
// output instead of 0.05 s. Whether a step paid that depended on how long
// before it the step before had freed its memory, which is a matter of the
// order of steps: zync's first get on rand, after xdelta3, took 0.65-0.84 s
// (1 s of CPU, all of the extra in the kernel) and its get compressed
// right after it, the same transfer, 0.39 s. Memory freed just before the
// step is taken again first, so every step now starts as the second did,
// as on a machine without the balloon. The file is deleted before any of it
// is written back: it costs no disk I/O.
func (b *corpusBench) recycleMemory() {
	p := filepath.Join(b.scratch, "recycle")
	f, err := os.Create(p)
	if err != nil {
		return
	}
	defer os.Remove(p)
	defer f.Close()
	buf := make([]byte, 1<<20)
	for n := int64(0); n < 2*b.c.size+256<<20; n += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// measurement is one run of one step.
type measurement struct {
	wall     time.Duration
	cpu      time.Duration // user + system
	rssKiB   int64         // peak RSS of the client process and its waited-for children
	down, up int64         // bytes over the wire; -1: not applicable
	requests int           // HTTP requests; -1: not applicable
	verified string        // "yes", "NO", or "" when the step makes no output to check
	err      string
}

func newMeasurement() measurement { return measurement{down: -1, up: -1, requests: -1} }

type rowKey struct {
	corpus, tool, step string
	rtt                time.Duration
}

// proc is one finished program run.
type proc struct {
	wall, cpu      time.Duration // cpu: user + system time of the program and its waited-for children
	rssKiB         int64
	stdout, stderr string
}

// corpusBench runs the tools on one corpus. Its directory holds:
//
//	www/       served by nginx and by the rsync daemon: the target and what
//	           the publishers made of it (control files, casync store)
//	state/     nginx and rsyncd configuration and logs
//	scratch/   working directories of the clients, outputs (removed after
//	           each check)
type corpusBench struct {
	cfg  config
	c    *corpusPair
	zync string
	dir  string
	rep  *report

	www, scratch, targetName string
	ngx                      *nginxServer
	rsyncAddr                string
	rsyncd                   *exec.Cmd
	httpProxy, rsyncProxy    map[time.Duration]*delayProxy
}

func (b *corpusBench) runAll(ctx context.Context) error {
	b.www = filepath.Join(b.dir, "www")
	b.scratch = filepath.Join(b.dir, "scratch")
	state := filepath.Join(b.dir, "state")
	for _, d := range []string{b.www, b.scratch, state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	defer os.RemoveAll(b.dir)
	b.targetName = "target" + b.c.ext
	if err := linkOrCopy(b.c.target, filepath.Join(b.www, b.targetName)); err != nil {
		return err
	}
	var err error
	b.ngx, err = startNginx(b.www, filepath.Join(state, "nginx"))
	if err != nil {
		return err
	}
	defer b.ngx.Stop()
	b.httpProxy = map[time.Duration]*delayProxy{}
	b.rsyncProxy = map[time.Duration]*delayProxy{}
	if b.has("rsync") {
		if err := b.startRsyncd(ctx, filepath.Join(state, "rsyncd")); err != nil {
			return err
		}
		defer b.stopRsyncd()
	}
	for _, rtt := range b.cfg.rtts {
		p, err := startDelayProxy(b.ngx.Addr(), rtt)
		if err != nil {
			return err
		}
		defer p.Close()
		b.httpProxy[rtt] = p
		if b.has("rsync") {
			p, err := startDelayProxy(b.rsyncAddr, rtt)
			if err != nil {
				return err
			}
			defer p.Close()
			b.rsyncProxy[rtt] = p
		}
	}

	for run := 1; run <= b.cfg.runs; run++ {
		logf("%s: run %d of %d", b.c.name, run, b.cfg.runs)
		// Publishing and local steps, once per run.
		if b.has("zync") {
			b.record(ctx, "zync", "make", 0, func(ctx context.Context, _ time.Duration, m *measurement) error {
				return b.zyncMake(ctx, m, "zync.zsync")
			})
			b.record(ctx, "zync", "make --compress", 0, func(ctx context.Context, _ time.Duration, m *measurement) error {
				return b.zyncMake(ctx, m, "zyncz.zsync", "--compress")
			})
			b.zyncPatch(ctx)
		}
		if b.has("zsync") {
			b.record(ctx, "zsync", "make", 0, b.zsyncMake)
		}
		if b.c.unrelated != "" {
			// The worst case of the seed scan: nothing matches.
			if b.has("zync") {
				b.record(ctx, "zync", "scan unrelated", 0, b.zyncScanUnrelated)
			}
			if b.has("zsync") {
				b.record(ctx, "zsync", "scan unrelated", 0, b.zsyncScanUnrelated)
			}
		}
		if b.has("casync") {
			b.record(ctx, "casync", "make", 0, b.casyncMake)
		}
		if b.has("rdiff") {
			b.rdiff(ctx)
		}
		if b.has("xdelta3") {
			b.xdelta(ctx)
		}
		// Network steps, once per round-trip time.
		for _, rtt := range b.cfg.rtts {
			if b.has("zync") {
				b.record(ctx, "zync", "get", rtt, func(ctx context.Context, rtt time.Duration, m *measurement) error {
					return b.zyncGet(ctx, rtt, m, "zync.zsync")
				})
				b.record(ctx, "zync", "get compressed", rtt, func(ctx context.Context, rtt time.Duration, m *measurement) error {
					return b.zyncGet(ctx, rtt, m, "zyncz.zsync")
				})
			}
			if b.has("zsync") {
				b.record(ctx, "zsync", "get", rtt, b.zsyncGet)
			}
			if b.has("casync") {
				b.record(ctx, "casync", "extract", rtt, b.casyncExtract)
			}
			if b.has("rsync") {
				b.record(ctx, "rsync", "daemon", rtt, func(ctx context.Context, rtt time.Duration, m *measurement) error {
					return b.rsync(ctx, rtt, m, false)
				})
				b.record(ctx, "rsync", "daemon -z", rtt, func(ctx context.Context, rtt time.Duration, m *measurement) error {
					return b.rsync(ctx, rtt, m, true)
				})
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

func (b *corpusBench) has(tool string) bool { return slices.Contains(b.cfg.tools, tool) }

// record runs one step and files its measurement.
//
// Every step starts from the same state: its inputs in the page cache
// (warm), no dirty data of earlier steps waiting to be written back (sync),
// and recently freed memory to take (recycleMemory). Without the sync, the
// writeback of the files a step wrote (a 256 MiB output, a patch applied)
// ran during the next step, which on two cores takes CPU and disk from it:
// the step after a big write was charged for it, and which tool's step that
// was depended only on the order of steps.
func (b *corpusBench) record(ctx context.Context, tool, step string, rtt time.Duration, f func(context.Context, time.Duration, *measurement) error) {
	b.warm()
	syscall.Sync()
	b.recycleMemory()
	b.rep.sampleLoad()
	m := newMeasurement()
	err := f(ctx, rtt, &m)
	if err != nil {
		m.err = err.Error()
		if m.verified == "" {
			m.verified = "NO"
		}
	}
	b.rep.add(rowKey{b.c.name, tool, step, rtt}, m)
	rttNote := ""
	if rtt > 0 {
		rttNote = " @" + rtt.String()
	}
	if err != nil {
		logf("%s %s %s%s: FAILED: %v", b.c.name, tool, step, rttNote, err)
		return
	}
	logf("%s %s %s%s: %.2fs (CPU %.2fs), %.1f MiB RSS, down %s, up %s, %s requests, verified %q", b.c.name, tool, step, rttNote,
		m.wall.Seconds(), m.cpu.Seconds(), float64(m.rssKiB)/1024, fmtInt(m.down), fmtInt(m.up), fmtInt(int64(m.requests)), m.verified)
}

// exec runs a program in dir with a clean environment (no proxy variables)
// and returns its wall time and peak RSS.
//
// Peak RSS comes from GNU time (%M), which forks the program and reads its
// rusage from wait4: the maximum RSS of the program and of the children it
// waited for (rsync's forked receiver, casync's HTTP helper). The program is
// not started from zbench directly because Linux counts the RSS of the
// address space a process leaves at exec in its maximum: a child that Go
// starts (vfork) inherits zbench's own RSS as a floor, GNU time's is about
// 1 MiB. Without /usr/bin/time, zbench falls back to its own rusage.
func (b *corpusBench) exec(ctx context.Context, dir string, name string, args ...string) (proc, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	var rssFile string
	argv := append([]string{name}, args...)
	if timeBin != "" {
		f, err := os.CreateTemp("", "zbench-rss-")
		if err != nil {
			return proc{}, err
		}
		f.Close()
		rssFile = f.Name()
		defer os.Remove(rssFile)
		argv = append([]string{timeBin, "-f", "%M %U %S", "-o", rssFile, "--"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	cmd.WaitDelay = 10 * time.Second
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	p := proc{wall: time.Since(start), stdout: so.String(), stderr: se.String()}
	if rssFile != "" {
		// The last line is "%M %U %S"; GNU time may put a status line
		// before it.
		b, _ := os.ReadFile(rssFile)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(f) == 3 {
			p.rssKiB, _ = strconv.ParseInt(f[0], 10, 64)
			u, _ := strconv.ParseFloat(f[1], 64)
			s, _ := strconv.ParseFloat(f[2], 64)
			p.cpu = time.Duration((u + s) * float64(time.Second))
		}
	} else if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.rssKiB = ru.Maxrss
		}
		p.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		msg := strings.TrimSpace(p.stderr)
		if len(msg) > 300 {
			msg = "…" + msg[len(msg)-300:]
		}
		return p, fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, msg)
	}
	return p, nil
}

// timeBin is GNU time, if installed (Debian package "time").
var timeBin = func() string {
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		return "/usr/bin/time"
	}
	return ""
}()

// timed copies a run's wall time and RSS into m.
func (m *measurement) take(p proc) {
	m.wall, m.cpu, m.rssKiB = p.wall, p.cpu, p.rssKiB
}

// verify compares the SHA-256 of out with the target's and removes out.
func (b *corpusBench) verify(out string, m *measurement) error {
	defer os.Remove(out)
	sum, err := fileSHA256(out)
	if err != nil {
		m.verified = "NO"
		return err
	}
	if sum != b.c.sha {
		m.verified = "NO"
		return fmt.Errorf("output SHA-256 %s, target %s", sum, b.c.sha)
	}
	m.verified = "yes"
	return nil
}

// network runs f and fills m's wire bytes (from the proxy) and HTTP
// requests (from nginx's access log; -1 for non-HTTP tools).
func (b *corpusBench) network(p *delayProxy, http bool, m *measurement, f func() error) error {
	var before []httpRequest
	if http {
		var err error
		if before, err = b.ngx.Log(); err != nil {
			return err
		}
	}
	d0, u0, _ := p.Counts()
	err := f()
	if http {
		after, lerr := b.ngx.Log()
		if lerr != nil && err == nil {
			err = lerr
		}
		m.requests = len(after) - len(before)
	}
	// The proxy forwards an end of stream RTT/2 after it reads it; its
	// byte counts are final by the time the client has exited, except for
	// bytes the client never read. Wait briefly for stragglers.
	time.Sleep(p.rtt + 20*time.Millisecond)
	d1, u1, _ := p.Counts()
	m.down, m.up = d1-d0, u1-u0
	return err
}

func (b *corpusBench) runDir(name string) (string, error) {
	d := filepath.Join(b.scratch, name)
	os.RemoveAll(d)
	return d, os.MkdirAll(d, 0o755)
}

// --- zync ---

// zyncMake publishes control, the control file of the target, made with
// the extra flags (zyncz.zsync with --compress: the target then also has a
// compressed companion, www/TARGET.zpack).
func (b *corpusBench) zyncMake(ctx context.Context, m *measurement, control string, flags ...string) error {
	dir, err := b.runDir("zync-make")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	args := append(append([]string{"make"}, flags...), "-u", b.targetName, "-o", filepath.Join(b.www, control), filepath.Join(b.www, b.targetName))
	p, err := b.exec(ctx, dir, b.zync, args...)
	m.take(p)
	return err
}

// zyncPatch runs zync diff (bytes down: the patch's size) and zync apply.
func (b *corpusBench) zyncPatch(ctx context.Context) {
	dir := filepath.Join(b.scratch, "zync-patch")
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	defer os.RemoveAll(dir)
	pf, out := filepath.Join(dir, "patch"), filepath.Join(dir, b.targetName)
	made := false
	b.record(ctx, "zync", "diff", 0, func(ctx context.Context, _ time.Duration, m *measurement) error {
		p, err := b.exec(ctx, dir, b.zync, "diff", "-o", pf, b.c.seed, b.c.target)
		m.take(p)
		m.down = fileSize(pf)
		made = err == nil
		return err
	})
	b.record(ctx, "zync", "apply", 0, func(ctx context.Context, _ time.Duration, m *measurement) error {
		if !made {
			return errors.New("diff failed")
		}
		p, err := b.exec(ctx, dir, b.zync, "apply", "-o", out, b.c.seed, pf)
		m.take(p)
		if err != nil {
			return err
		}
		return b.verify(out, m)
	})
}

func (b *corpusBench) zyncGet(ctx context.Context, rtt time.Duration, m *measurement, control string) error {
	dir, err := b.runDir("zync-get")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, b.targetName)
	px := b.httpProxy[rtt]
	var p proc
	err = b.network(px, true, m, func() error {
		var err error
		p, err = b.exec(ctx, dir, b.zync, "get", "--json", "-q", "-i", b.c.seed, "-o", out, "http://"+px.Addr()+"/"+control)
		return err
	})
	m.take(p)
	if err != nil {
		return err
	}
	var res struct {
		Length int64 `json:"length"`
	}
	if err := json.Unmarshal([]byte(p.stdout), &res); err != nil || res.Length != b.c.size {
		return fmt.Errorf("zync get --json printed %q (%v)", p.stdout, err)
	}
	return b.verify(out, m)
}

// --- zsync 0.6.2 ---

func (b *corpusBench) zsyncMake(ctx context.Context, _ time.Duration, m *measurement) error {
	dir, err := b.runDir("zsync-make")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := b.exec(ctx, dir, "zsyncmake", "-u", b.targetName, "-o", filepath.Join(b.www, "zsync.zsync"), filepath.Join(b.www, b.targetName))
	m.take(p)
	return err
}

func (b *corpusBench) zsyncGet(ctx context.Context, rtt time.Duration, m *measurement) error {
	dir, err := b.runDir("zsync-get") // zsync 0.6.2 writes its temporary file in its cwd
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, b.targetName)
	px := b.httpProxy[rtt]
	var p proc
	err = b.network(px, true, m, func() error {
		var err error
		p, err = b.exec(ctx, dir, "zsync", "-q", "-i", b.c.seed, "-o", out, "http://"+px.Addr()+"/zsync.zsync")
		return err
	})
	m.take(p)
	if err != nil {
		return err
	}
	return b.verify(out, m)
}

// zyncScanUnrelated times a scan of the unrelated seed: zync get --dry-run
// with the local control file scans the seed, prints its plan and stops
// without touching the network.
func (b *corpusBench) zyncScanUnrelated(ctx context.Context, _ time.Duration, m *measurement) error {
	dir, err := b.runDir("zync-scan")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := b.exec(ctx, dir, b.zync, "get", "--dry-run", "-q", "-i", b.c.unrelated, "-o", filepath.Join(dir, b.targetName), filepath.Join(b.www, "zync.zsync"))
	m.take(p)
	if err == nil && !strings.Contains(p.stdout, "reuse  0 B") {
		err = fmt.Errorf("zync get --dry-run found blocks in the unrelated seed: %q", p.stdout)
	}
	return err
}

// zsyncScanUnrelated times zsync 0.6.2's scan of the unrelated seed. zsync
// has no dry run, so it gets a copy of its control file whose URL is a
// closed port on loopback: it reads the control file, scans the seed, fails
// to connect at once and exits. That it reached the download is checked in
// its message.
func (b *corpusBench) zsyncScanUnrelated(ctx context.Context, _ time.Duration, m *measurement) error {
	dir, err := b.runDir("zsync-scan")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	control, err := os.ReadFile(filepath.Join(b.www, "zsync.zsync"))
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	head, body, ok := bytes.Cut(control, []byte("\n\n"))
	if !ok {
		return errors.New("zsync.zsync has no end of headers")
	}
	var lines []string
	for _, l := range strings.Split(string(head), "\n") {
		if strings.HasPrefix(l, "URL: ") {
			l = fmt.Sprintf("URL: http://127.0.0.1:%d/%s", port, b.targetName)
		}
		lines = append(lines, l)
	}
	cf := filepath.Join(dir, "closed.zsync")
	if err := os.WriteFile(cf, append([]byte(strings.Join(lines, "\n")+"\n\n"), body...), 0o644); err != nil {
		return err
	}
	p, err := b.exec(ctx, dir, "zsync", "-q", "-i", b.c.unrelated, "-o", filepath.Join(dir, b.targetName), cf)
	m.take(p)
	if err == nil || !strings.Contains(p.stderr, "failed to retrieve") {
		return fmt.Errorf("zsync did not stop at the download as expected (%v): %q", err, p.stderr)
	}
	return nil
}

// --- casync ---

func (b *corpusBench) casyncMake(ctx context.Context, _ time.Duration, m *measurement) error {
	dir, err := b.runDir("casync-make")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store := filepath.Join(b.www, "store")
	os.RemoveAll(store) // a fresh store each run: make's cost includes writing every chunk
	p, err := b.exec(ctx, dir, "casync", "make", "--store="+store, filepath.Join(b.www, "target.caibx"), filepath.Join(b.www, b.targetName))
	m.take(p)
	return err
}

func (b *corpusBench) casyncExtract(ctx context.Context, rtt time.Duration, m *measurement) error {
	if _, err := os.Stat(filepath.Join(b.www, "target.caibx")); err != nil {
		return fmt.Errorf("no casync index (casync make failed)")
	}
	dir, err := b.runDir("casync-extract")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, b.targetName)
	px := b.httpProxy[rtt]
	base := "http://" + px.Addr()
	var p proc
	err = b.network(px, true, m, func() error {
		var err error
		p, err = b.exec(ctx, dir, "casync", "extract", "--store="+base+"/store", "--seed="+b.c.seed, base+"/target.caibx", out)
		return err
	})
	m.take(p)
	if err != nil {
		return err
	}
	return b.verify(out, m)
}

// --- rsync ---

func (b *corpusBench) startRsyncd(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	conf := filepath.Join(dir, "rsyncd.conf")
	text := fmt.Sprintf("use chroot = no\npid file = %s/rsyncd.pid\nlog file = %s/rsyncd.log\n[c]\n\tpath = %s\n\tread only = yes\n\tuid = %d\n\tgid = %d\n",
		dir, dir, b.www, os.Getuid(), os.Getgid())
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("rsync", "--daemon", "--no-detach", "--config="+conf, "--address=127.0.0.1", "--port="+strconv.Itoa(port))
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("rsync daemon: %w", err)
	}
	b.rsyncd = cmd
	b.rsyncAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); ; {
		c, err := net.DialTimeout("tcp", b.rsyncAddr, time.Second)
		if err == nil {
			c.Close()
			go func() { <-exited }()
			return nil
		}
		select {
		case werr := <-exited:
			b.rsyncd = nil
			return fmt.Errorf("rsync daemon exited: %v: %s", werr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rsync daemon did not listen on %s: %s", b.rsyncAddr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *corpusBench) stopRsyncd() {
	if b.rsyncd != nil && b.rsyncd.Process != nil {
		syscall.Kill(-b.rsyncd.Process.Pid, syscall.SIGTERM)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// rsync pulls the target from the daemon into a directory whose file of the
// same name is the seed (a hard link: rsync writes a new file and renames
// it, the seed is not touched), the way rsync finds its basis file.
func (b *corpusBench) rsync(ctx context.Context, rtt time.Duration, m *measurement, compress bool) error {
	dir, err := b.runDir("rsync")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, b.targetName)
	if err := linkOrCopy(b.c.seed, out); err != nil {
		return err
	}
	args := []string{"--no-whole-file", "--ignore-times", "--stats"}
	if compress {
		args = append(args, "-z")
	}
	px := b.rsyncProxy[rtt]
	args = append(args, "rsync://"+px.Addr()+"/c/"+b.targetName, out)
	var p proc
	err = b.network(px, false, m, func() error {
		var err error
		p, err = b.exec(ctx, dir, "rsync", args...)
		return err
	})
	m.take(p)
	if err != nil {
		return err
	}
	return b.verify(out, m)
}

// --- rdiff (librsync) ---

// rdiff runs the three steps of an rsync-style update done with files:
// signature of the seed (sent to the sender: "up"), delta of the target
// against it (sent back: "down"), patch.
func (b *corpusBench) rdiff(ctx context.Context) {
	dir := filepath.Join(b.scratch, "rdiff")
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	sig, delta, out := filepath.Join(dir, "sig"), filepath.Join(dir, "delta"), filepath.Join(dir, b.targetName)
	ok := true
	step := func(name string, f func(context.Context, time.Duration, *measurement) error) {
		if !ok {
			b.record(ctx, "rdiff", name, 0, func(context.Context, time.Duration, *measurement) error {
				return errors.New("an earlier rdiff step failed")
			})
			return
		}
		b.record(ctx, "rdiff", name, 0, func(ctx context.Context, rtt time.Duration, m *measurement) error {
			err := f(ctx, rtt, m)
			ok = err == nil
			return err
		})
	}
	step("signature", func(ctx context.Context, _ time.Duration, m *measurement) error {
		p, err := b.exec(ctx, dir, "rdiff", "signature", "--force", b.c.seed, sig)
		m.take(p)
		m.up = fileSize(sig)
		return err
	})
	step("delta", func(ctx context.Context, _ time.Duration, m *measurement) error {
		p, err := b.exec(ctx, dir, "rdiff", "delta", "--force", sig, b.c.target, delta)
		m.take(p)
		m.down = fileSize(delta)
		return err
	})
	step("patch", func(ctx context.Context, _ time.Duration, m *measurement) error {
		p, err := b.exec(ctx, dir, "rdiff", "patch", "--force", b.c.seed, delta, out)
		m.take(p)
		if err != nil {
			return err
		}
		return b.verify(out, m)
	})
	os.RemoveAll(dir)
}

// --- xdelta3 ---

// xdelta runs xdelta3's encoder with its defaults and with -9, and decodes
// the default delta to check it. The delta size is the "ideal" transfer of
// a sender that holds both files.
func (b *corpusBench) xdelta(ctx context.Context) {
	dir := filepath.Join(b.scratch, "xdelta3")
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	defer os.RemoveAll(dir)
	delta, delta9, out := filepath.Join(dir, "delta"), filepath.Join(dir, "delta9"), filepath.Join(dir, b.targetName)
	encoded := false
	b.record(ctx, "xdelta3", "encode", 0, func(ctx context.Context, _ time.Duration, m *measurement) error {
		p, err := b.exec(ctx, dir, "xdelta3", "-e", "-f", "-s", b.c.seed, b.c.target, delta)
		m.take(p)
		m.down = fileSize(delta)
		encoded = err == nil
		return err
	})
	b.record(ctx, "xdelta3", "decode", 0, func(ctx context.Context, _ time.Duration, m *measurement) error {
		if !encoded {
			return errors.New("encode failed")
		}
		p, err := b.exec(ctx, dir, "xdelta3", "-d", "-f", "-s", b.c.seed, delta, out)
		m.take(p)
		if err != nil {
			return err
		}
		return b.verify(out, m)
	})
	b.record(ctx, "xdelta3", "encode -9", 0, func(ctx context.Context, _ time.Duration, m *measurement) error {
		p, err := b.exec(ctx, dir, "xdelta3", "-9", "-e", "-f", "-s", b.c.seed, b.c.target, delta9)
		m.take(p)
		m.down = fileSize(delta9)
		return err
	})
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// linkOrCopy makes dst a hard link to src, or a copy when they are on
// different file systems.
func linkOrCopy(src, dst string) error {
	os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
