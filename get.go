package zync

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/source/mirror"
	"github.com/zyncio/zync/source/retry"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zyncio/zync/assemble"
	"github.com/zyncio/zync/scan"
	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/httpsource"
	"github.com/zyncio/zync/zsyncfile"
)

// Errors a caller decides on (see also zsyncfile.ErrFormat and
// ErrUnsupported, source.ErrNotFound and ErrLengthMismatch, and
// assemble.ErrVerify and ErrBlockMismatch).
var (
	// ErrUnsafeName: the control file suggests an output name that is not a
	// plain file name in the current folder.
	ErrUnsafeName = errors.New("unsafe output name in control file")
	// ErrNoURL: the control file has no usable URL for the target.
	ErrNoURL = errors.New("no usable URL for the target")
)

// GetOptions configure Get.
type GetOptions struct {
	// Output is the path of the file to create or update. Empty means the
	// control file's Filename in the current folder, if it is a plain name.
	Output string
	// Seeds are local files that may hold parts of the target. The existing
	// output and a part file left by an interrupted run are always used too.
	Seeds []string
	// BaseURL resolves relative URLs of a control file read from a local path.
	BaseURL string
	// KeepControl, if set, is where the control file is saved.
	KeepControl string
	// Client makes the HTTP requests; nil means NewHTTPClient(HTTPOptions{}).
	Client *http.Client
	// Header is added to every HTTP request.
	Header http.Header
	// Concurrency is how many range requests are in flight per URL; 0
	// means 8, enough to hide the round trips of a distant server.
	Concurrency int
	// WasteBudget bounds the bytes a server that ignores Range may make zync
	// read and throw away (its whole file instead of the ranges asked):
	// 0 means no bound, negative means never read a whole file for ranges.
	WasteBudget int64
	// MaxGap merges missing ranges separated by at most this many bytes into
	// one HTTP range (the gap is fetched and thrown away): on a
	// high-latency link a few unneeded bytes beat more requests. 0 merges
	// only adjacent ranges.
	MaxGap int64
	// Workers is how many goroutines scan seeds; 0 means all cores.
	Workers int
	// Progress, if set, receives progress events; it may be called from
	// several goroutines at once.
	Progress func(Event)
	// Logger receives warnings (an unreadable seed) and debug detail; nil discards.
	Logger *slog.Logger
	// Mirrors are more URLs of the target, tried besides the control file's.
	Mirrors []string
	// DryRun scans the seeds and reports the plan in Result.Plan without
	// writing or fetching anything.
	DryRun bool
	// StallTimeout aborts (and retries) a request whose body makes no
	// progress for this long; 0 means 30 s.
	StallTimeout time.Duration
	// MinSavings is the fraction of the target the seeds must supply for a
	// delta transfer to be worth its range requests; below it the target is
	// fetched whole with one plain request. 0 means 0.05; negative never
	// falls back.
	MinSavings float64
	// Plain fetches from the target's URLs even when the control file names
	// a compressed companion (see AddCompanion).
	Plain bool
	// Thorough sweeps each seed a second time, at the positions the first
	// pass jumped over after a match, for blocks at other alignments (a file
	// stored twice in a tar): it finds every block zsync's matching rules
	// allow, some that zsync misses, at the cost of about a second pass over
	// the seed data that matched (see scan.Options.Sweep).
	Thorough bool
}

// Plan is what a Get will do once the seeds are scanned.
type Plan struct {
	Length   int64 `json:"length"`   // target length
	Reused   int64 `json:"reused"`   // bytes the seeds (and a resumed run) supply
	ToFetch  int64 `json:"to_fetch"` // bytes to fetch
	Ranges   int   `json:"ranges"`   // byte ranges to fetch
	Requests int   `json:"requests"` // HTTP requests it should take (at best)
	Whole    bool  `json:"whole"`    // fetched whole: the delta saves too little
}

// Event is a progress report.
type Event struct {
	Phase   string // "scan", "plan", "fetch", "retry", "verify", "warning" or "done"
	Path    string // the seed being scanned, or the URL being fetched
	Bytes   int64  // bytes processed since the previous event of this phase
	Total   int64  // the phase's total bytes, when known
	Message string // detail for "plan", "retry" and "warning"
}

// Result summarises a Get.
type Result struct {
	Output   string        `json:"output"`
	Length   int64         `json:"length"`
	Reused   int64         `json:"reused_bytes"`  // target bytes taken from seeds
	Fetched  int64         `json:"fetched_bytes"` // payload bytes received over the network
	Requests int           `json:"requests"`      // HTTP requests for target data
	Elapsed  time.Duration `json:"-"`
	Checked  string        `json:"checked"` // whole-file hash verified: "SHA-256", or "SHA-1" for a control file without File-Hash
	SHA256   string        `json:"sha256"`  // hex SHA-256 of the target
	Plan     *Plan         `json:"plan,omitempty"`
	// Time spent scanning seeds and fetching (the control file excluded).
	ScanTime  time.Duration `json:"-"`
	FetchTime time.Duration `json:"-"`
	UpToDate  bool          `json:"up_to_date"` // the output already was the target; nothing was fetched
	Patched   bool          `json:"patched"`    // made with an announced patch (one request) instead of blocks
	Resumed   bool          `json:"resumed"`    // an interrupted run's verified blocks were reused
}

// Control is a parsed control file and where it came from.
type Control struct {
	File *zsyncfile.File
	// Hash is the SHA-256 of the control file's bytes; it ties resumable
	// state to the control file it was made for.
	Hash [32]byte
	// Base resolves the control file's relative URLs (the final URL after
	// redirects for a fetched control file); nil when unknown.
	Base *url.URL
}

// LoadControl reads a control file from an http(s) URL or a local path. A
// local control file's relative URLs resolve against baseURL when given.
// With keep set, the control file's bytes are also saved there.
func LoadControl(ctx context.Context, client *http.Client, header http.Header, src, baseURL, keep string) (*Control, error) {
	var c Control
	var body io.Reader
	size := int64(-1) // the control file's size, when known
	if isURL(src) {
		if client == nil {
			var err error
			if client, err = NewHTTPClient(HTTPOptions{}); err != nil {
				return nil, err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, fmt.Errorf("control file URL %q: %w", src, err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch control file: %w", err)
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			return nil, fmt.Errorf("fetch control file %s: %w (HTTP %s)", src, source.ErrNotFound, resp.Status)
		case resp.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("fetch control file %s: HTTP %s", src, resp.Status)
		}
		c.Base = resp.Request.URL
		body = resp.Body
		size = resp.ContentLength
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("open control file: %w", err)
		}
		defer f.Close()
		body = f
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
	}
	if baseURL != "" {
		u, err := url.Parse(baseURL)
		if err != nil {
			return nil, fmt.Errorf("base URL %q: %w", baseURL, err)
		}
		c.Base = u
	}
	parse := func(r io.Reader) error {
		h := sha256.New()
		f, err := zsyncfile.ParseSized(io.TeeReader(r, h), size)
		if err != nil {
			return fmt.Errorf("control file %s: %w", src, err)
		}
		// Hash what follows the records too, so the hash covers the file.
		if _, err := io.Copy(h, r); err != nil {
			return fmt.Errorf("read control file %s: %w", src, err)
		}
		copy(c.Hash[:], h.Sum(nil))
		c.File = f
		return nil
	}
	if keep != "" {
		// Parse while saving, so a control file is read once and a bad one is
		// not kept.
		if err := writeFileAtomic(keep, func(w io.Writer) error {
			return parse(io.TeeReader(body, w))
		}); err != nil {
			return nil, err
		}
		return &c, nil
	}
	if err := parse(body); err != nil {
		return nil, err
	}
	return &c, nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// SafeName checks that a control file's Filename can be used as an output
// name in the current folder: a plain name, not hidden, no separators, no
// "..", no control characters. zync never takes a path from a control file.
func SafeName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the control file names no file; give an output path", ErrUnsafeName)
	case strings.ContainsAny(name, `/\:`) || filepath.Base(name) != name:
		return fmt.Errorf("%w: %q contains a path separator", ErrUnsafeName, name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("%w: %q starts with a dot", ErrUnsafeName, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %q contains a control character", ErrUnsafeName, name)
		}
	}
	return nil
}

// TargetURLs resolves the control file's URLs against its base.
func (c *Control) TargetURLs() ([]string, error) {
	var out []string
	for _, s := range c.File.URLs {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("%w: URL %q in control file: %v", ErrNoURL, s, err)
		}
		if !u.IsAbs() {
			if c.Base == nil {
				return nil, fmt.Errorf("%w: the control file's URL %q is relative; give the base URL (-u)", ErrNoURL, s)
			}
			u = c.Base.ResolveReference(u)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("%w: URL %q is not http or https", ErrNoURL, u.Redacted())
		}
		out = append(out, u.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the control file lists no URL", ErrNoURL)
	}
	return out, nil
}

// Get updates opts.Output (or the control file's Filename) to the target
// that the control file at src (an http(s) URL or a local path) describes.
func Get(ctx context.Context, src string, opts GetOptions) (*Result, error) {
	start := time.Now()
	client := opts.Client
	if client == nil {
		var err error
		if client, err = NewHTTPClient(HTTPOptions{}); err != nil {
			return nil, err
		}
	}
	c, err := LoadControl(ctx, client, opts.Header, src, opts.BaseURL, opts.KeepControl)
	if err != nil {
		return nil, err
	}
	if opts.Logger != nil {
		opts.Logger.Debug("control file loaded", "elapsed", time.Since(start).Round(time.Millisecond), "blocks", c.File.Index.NumBlocks())
	}
	out := opts.Output
	if out == "" {
		if err := SafeName(c.File.Filename); err != nil {
			return nil, err
		}
		out = c.File.Filename
	}
	res, err := Update(ctx, c, out, opts)
	if res != nil {
		res.Elapsed = time.Since(start)
	}
	return res, err
}

// Update builds the target that c describes at the path out.
func Update(ctx context.Context, c *Control, out string, opts GetOptions) (res *Result, err error) {
	start := time.Now()
	u := &updater{c: c, x: &c.File.Index, out: out, opts: opts, logger: opts.Logger, progress: opts.Progress, start: start}
	if u.logger == nil {
		u.logger = slog.New(slog.DiscardHandler)
	}
	if u.progress == nil {
		u.progress = func(Event) {}
	}
	res, err = u.run(ctx)
	if res != nil {
		res.Elapsed = time.Since(start)
	}
	if err != nil && ctx.Err() != nil && !strings.Contains(err.Error(), resumeHint) {
		err = fmt.Errorf("%s: %w", resumeHint, err)
	}
	return res, err
}

const resumeHint = "interrupted; run the same command again to resume"

// updater carries one Update through its steps.
type updater struct {
	c        *Control
	x        *index.Index
	out      string
	opts     GetOptions
	logger   *slog.Logger
	progress func(Event)
	start    time.Time
	a        *assemble.Assembly
	requests atomic.Int64
	wire     atomic.Int64
}

func (u *updater) run(ctx context.Context) (*Result, error) {
	if st, err := os.Stat(u.out); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("output %s exists and is not a regular file", u.out)
	}
	if ok, err := u.upToDate(ctx); err != nil {
		return nil, err
	} else if ok {
		return &Result{Output: u.out, Length: u.x.Length, Reused: u.x.Length, UpToDate: true, Checked: u.hashName(), SHA256: u.sha256()}, nil
	}
	if u.opts.DryRun {
		return u.dryRun(ctx)
	}
	if res, err := u.tryPatch(ctx); err == nil {
		return res, nil
	} else if ctx.Err() != nil {
		return nil, err
	}
	id := assemble.Identity{Control: u.c.Hash, Length: u.x.Length, Blocksize: u.x.Blocksize}
	a, j, err := assemble.Resume(u.out, u.x, id)
	resumed := err == nil
	if resumed {
		id.Validator = j.Validator
		u.logger.Info("resuming an interrupted run", "blocks", j.Count())
	} else {
		// All-zero blocks of a new file stay holes: they need no space.
		if err := assemble.CheckSpace(filepath.Dir(absPath(u.out)), u.x.Length-assemble.ZeroBytes(u.x)); err != nil {
			return nil, err
		}
		if a, err = assemble.Begin(u.out, u.x); err != nil {
			return nil, err
		}
	}
	u.a = a
	a.SetIdentity(id)
	u.logger.Debug("output prepared (block table built)", "elapsed", time.Since(u.start).Round(time.Millisecond))
	keep := true
	defer func() { _ = a.Close(keep) }()

	scanStart := time.Now()
	if !resumed {
		if err := u.scanSeeds(ctx); err != nil {
			return nil, err
		}
		if err := a.Park(); err != nil {
			return nil, err
		}
	} else {
		if n, err := a.Recover(ctx); err != nil {
			return nil, err
		} else if n > 0 {
			u.logger.Info("recovered blocks written after the last checkpoint", "blocks", n)
		}
		if err := assemble.CheckSpace(filepath.Dir(absPath(u.out)), a.MissingBytesOnDisk()); err != nil {
			return nil, err
		}
	}

	scanTime := time.Since(scanStart)
	u.logger.Debug("seeds scanned", "elapsed", scanTime.Round(time.Millisecond), "reused", a.Reused())
	// SHA-256 when the control file has it, else SHA-1 (zsync 0.6 files):
	// one strong whole-file hash is the check; a second would only cost time.
	// It runs from now on, behind the blocks as they are written.
	want := assemble.Hashes{SHA256: u.c.File.SHA256}
	if want.SHA256 == nil {
		want.SHA1 = u.c.File.SHA1
	}
	a.StartVerify(want)
	plan := u.plan()
	fetchStart := time.Now()
	u.progress(Event{Phase: "plan", Bytes: plan.Reused, Total: plan.Length, Message: fmt.Sprintf("reuse %d bytes, fetch %d bytes in %d ranges", plan.Reused, plan.ToFetch, plan.Ranges)})
	if plan.ToFetch > 0 {
		if err := u.fetch(ctx, plan, &id); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: %w", resumeHint, ctx.Err())
			}
			return nil, err
		}
	}

	fetchTime := time.Since(fetchStart)
	u.logger.Debug("fetched", "elapsed", fetchTime.Round(time.Millisecond))
	checked, sum, err := a.Verify(ctx, want)
	if err != nil {
		if errors.Is(err, assemble.ErrVerify) {
			keep = false // proven wrong: nothing in it is worth resuming from
		}
		return nil, err
	}
	if checked == "" {
		u.logger.Warn("the control file has no whole-file hash; only block sums were checked")
	}
	u.logger.Debug("verified", "hash", checked, "elapsed", time.Since(fetchStart.Add(fetchTime)).Round(time.Millisecond))
	if err := a.Commit(assemble.CommitOptions{MTime: u.c.File.MTime}); err != nil {
		return nil, err
	}
	u.logger.Debug("committed", "elapsed", time.Since(fetchStart.Add(fetchTime)).Round(time.Millisecond))

	// Clean up after a run that was resumed from a part left by an older
	// control file's run: nothing else of ours may stay beside the output.
	_ = os.Remove(u.out + assemble.PartSuffix + assemble.JournalSuffix)
	u.progress(Event{Phase: "done", Bytes: u.x.Length, Total: u.x.Length})
	return &Result{
		Output:    u.out,
		Length:    u.x.Length,
		Reused:    a.Reused() + a.ResumedBytes(),
		Fetched:   u.wire.Load(),
		Requests:  int(u.requests.Load()),
		Checked:   checked,
		SHA256:    fmt.Sprintf("%x", sum),
		Plan:      &plan,
		Resumed:   resumed,
		ScanTime:  scanTime,
		FetchTime: fetchTime,
	}, nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// hashName names the whole-file hash upToDate checks with.
func (u *updater) hashName() string {
	switch {
	case u.c.File.SHA256 != nil:
		return "SHA-256"
	case u.c.File.SHA1 != nil:
		return "SHA-1"
	}
	return ""
}

func (u *updater) sha256() string {
	if u.c.File.SHA256 != nil {
		return fmt.Sprintf("%x", u.c.File.SHA256)
	}
	return ""
}

// upToDate reports whether the output already is the target (same length
// and whole-file hash), in which case nothing needs fetching or writing.
func (u *updater) upToDate(ctx context.Context) (bool, error) {
	f, err := os.Open(u.out)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() != u.x.Length || u.hashName() == "" {
		return false, nil
	}
	var h hash.Hash
	want := u.c.File.SHA256
	if want != nil {
		h = sha256.New()
	} else {
		h, want = sha1.New(), u.c.File.SHA1
	}
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		u.progress(Event{Phase: "verify", Path: u.out, Bytes: int64(n), Total: u.x.Length})
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, nil
		}
	}
	return bytes.Equal(h.Sum(nil), want), nil
}

// seedPaths lists the seeds in the order they are read: the user's, the
// old output, then an interrupted run's part file.
func (u *updater) seedPaths() []string {
	seeds := append([]string(nil), u.opts.Seeds...)
	return append(seeds, u.out, u.out+assemble.PartSuffix)
}

func (u *updater) scanSeeds(ctx context.Context) error {
	seen := map[string]bool{}
	for i, s := range u.seedPaths() {
		abs := absPath(s)
		if seen[abs] || u.a.Known().Full() {
			continue
		}
		seen[abs] = true
		var total int64
		if st, err := os.Stat(s); err == nil {
			total = st.Size()
		}
		_, err := u.a.ScanSeed(ctx, s, scan.Options{
			Workers:  u.opts.Workers,
			Sweep:    u.opts.Thorough,
			Logger:   u.logger,
			Progress: func(n int64) { u.progress(Event{Phase: "scan", Path: s, Bytes: n, Total: total}) },
		})
		switch {
		case err == nil:
		case errors.Is(err, assemble.ErrSeedUnusable):
			if i < len(u.opts.Seeds) || !errors.Is(err, fs.ErrNotExist) {
				u.logger.Warn("seed skipped", "seed", s, "err", err)
				u.progress(Event{Phase: "warning", Path: s, Message: err.Error()})
			}
		case ctx.Err() != nil:
			return fmt.Errorf("%s: %w", resumeHint, ctx.Err())
		default:
			return err
		}
	}
	return nil
}

func (u *updater) dryRun(ctx context.Context) (*Result, error) {
	a, err := assemble.BeginDry(u.x)
	if err != nil {
		return nil, err
	}
	u.a = a
	if err := u.scanSeeds(ctx); err != nil {
		return nil, err
	}
	plan := u.plan()
	return &Result{Output: u.out, Length: u.x.Length, Reused: plan.Reused, Plan: &plan}, nil
}

const (
	defaultMinSavings  = 0.05
	defaultConcurrency = 8
)

func (u *updater) concurrency() int {
	if u.opts.Concurrency > 0 {
		return u.opts.Concurrency
	}
	return defaultConcurrency
}

// plan says what remains to fetch, and whether a delta is worth it.
func (u *updater) plan() Plan {
	rs := u.a.Missing()
	p := Plan{Length: u.x.Length, Ranges: len(rs)}
	for _, r := range rs {
		p.ToFetch += r.Len
	}
	p.Reused = u.x.Length - p.ToFetch
	threshold := u.opts.MinSavings
	if threshold == 0 {
		threshold = defaultMinSavings
	}
	if p.ToFetch > 0 && float64(p.Reused) < threshold*float64(u.x.Length) && u.a.ResumedBytes() == 0 {
		p.Whole, p.Ranges, p.Requests = true, 1, 1
		return p
	}
	maxRanges := httpsource.DefaultMaxRanges
	conc := u.concurrency()
	p.Requests = max((p.Ranges+maxRanges-1)/maxRanges, min(p.Ranges, conc))
	return p
}

// fetch gets the missing blocks, checkpointing the journal as it goes.
func (u *updater) fetch(ctx context.Context, plan Plan, id *assemble.Identity) error {
	urls, err := u.targetURLs()
	if err != nil {
		return err
	}
	if plan.Whole {
		u.logger.Warn("the seeds supply too little for a delta to pay; downloading the whole target",
			"reused", plan.Reused, "length", plan.Length)
		u.progress(Event{Phase: "warning", Message: "seeds supply too little; downloading the whole target"})
	}
	withCompanion := u.openCompanionAsync(ctx)
	src, err := u.source(ctx, urls, id)
	switch {
	case err == nil:
		src = withCompanion(src)
	case errors.Is(err, source.ErrLengthMismatch) || ctx.Err() != nil:
		_ = withCompanion(nil) // wait for it
		return err
	default:
		// No URL of the target is usable: the companion alone may do.
		if src = withCompanion(nil); src == nil {
			return err
		}
		u.warn("no URL of the target is usable; fetching from the compressed companion alone", "", err)
	}
	// Checkpoint the journal at once (recording what the seeds supplied)
	// and then every second while fetching, so a kill loses at most a
	// second of verified data. The checkpoint's fsync runs alongside the
	// download instead of before it.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if err := u.a.Checkpoint(); err != nil {
				u.logger.Warn("checkpoint failed", "err", err)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	// Report payload progress as the assembler consumes it.
	receive := func(r source.Range, data io.Reader) error {
		return u.a.Receive(r, &progressReader{r: data, fn: func(n int) {
			u.progress(Event{Phase: "fetch", Bytes: int64(n), Total: plan.ToFetch})
		}})
	}
	if plan.Whole {
		return src.Fetch(ctx, []source.Range{{Off: 0, Len: u.x.Length}}, receive)
	}
	return src.Fetch(ctx, u.a.Missing(), receive)
}

type progressReader struct {
	r  io.Reader
	fn func(int)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.fn(n)
	}
	return n, err
}

func (u *updater) targetURLs() ([]string, error) {
	urls, err := u.c.TargetURLs()
	if err != nil && len(u.opts.Mirrors) == 0 {
		return nil, err
	}
	urls = append(urls, u.opts.Mirrors...)
	return urls, nil
}

func (u *updater) retryOptions() retry.Options {
	return retry.Options{
		Logger: u.logger,
		OnRetry: func(e retry.Event) {
			u.progress(Event{Phase: "retry", Path: e.URL, Message: fmt.Sprintf("attempt %d after %v: %v", e.Attempt, e.Delay.Round(time.Millisecond), e.Err)})
		},
	}
}

// source returns where the missing bytes come from: every URL whose server
// confirms the control file's length, each behind retries, all behind
// mirror failover. A server reporting a different length stops the run: the
// control file and the target differ.
func (u *updater) source(ctx context.Context, urls []string, id *assemble.Identity) (source.Source, error) {
	ro := u.retryOptions()
	var srcs []source.Source
	var lastErr error
	for _, url := range urls {
		hs, err := httpsource.New(url, httpsource.Options{
			Client:       u.opts.Client,
			Header:       u.opts.Header,
			Concurrency:  u.concurrency(),
			MaxGap:       u.opts.MaxGap,
			WasteBudget:  u.opts.WasteBudget,
			Length:       u.x.Length,
			Logger:       u.logger,
			StallTimeout: u.opts.StallTimeout,
			OnRequest:    u.countRequest,
		})
		if err != nil {
			lastErr = err
			continue
		}
		var info httpsource.Info
		err = retry.Do(ctx, ro, hs.URL(), func(ctx context.Context) (err error) {
			info, err = hs.Stat(ctx)
			return err
		})
		if errors.Is(err, source.ErrLengthMismatch) {
			return nil, fmt.Errorf("%s: %w: the control file says %d bytes, the server has %d", hs.URL(), source.ErrLengthMismatch, u.x.Length, info.Length)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			lastErr = err
			u.logger.Warn("URL unusable", "url", hs.URL(), "err", err)
			u.progress(Event{Phase: "warning", Path: hs.URL(), Message: err.Error()})
			continue
		}
		// If-Range guards this run against the file changing under it, with
		// a strong ETag only: RFC 7233 forbids weak ETags there, and a date
		// is strong only when it is old enough, so servers such as Apache
		// answer a recent one with the whole file.
		if e := info.ETag; e != "" && !strings.HasPrefix(e, "W/") {
			hs.SetIfRange(e)
		}
		v := info.Validator()
		if len(srcs) == 0 && v != "" && v != id.Validator {
			id.Validator = v
			u.a.SetIdentity(*id)
		}
		srcs = append(srcs, retry.New(hs, ro))
	}
	if len(srcs) == 0 {
		return nil, lastErr
	}
	return mirror.New(srcs, mirror.Options{
		Logger: u.logger,
		OnEvent: func(e mirror.Event) {
			u.progress(Event{Phase: "warning", Path: e.URL, Message: fmt.Sprintf("mirror %v: %v", e.Kind, e.Err)})
		},
	})
}
