package zync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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
	// Client makes the HTTP requests; nil means NewHTTPClient().
	Client *http.Client
	// Header is added to every HTTP request.
	Header http.Header
	// Concurrency is how many range requests are in flight; 0 means 4.
	Concurrency int
	// Workers is how many goroutines scan seeds; 0 means all cores.
	Workers int
	// Progress, if set, receives progress events; it may be called from
	// several goroutines at once.
	Progress func(Event)
	// Logger receives warnings (an unreadable seed) and debug detail; nil discards.
	Logger *slog.Logger
}

// Event is a progress report.
type Event struct {
	Phase string // "scan", "fetch" or "verify"
	Path  string // the seed being scanned, or the URL being fetched
	Bytes int64  // bytes processed since the previous event of this phase
}

// Result summarises a Get.
type Result struct {
	Output   string        `json:"output"`
	Length   int64         `json:"length"`
	Reused   int64         `json:"reused_bytes"`  // target bytes taken from seeds
	Fetched  int64         `json:"fetched_bytes"` // payload bytes received over the network
	Requests int           `json:"requests"`      // HTTP requests for target data
	Elapsed  time.Duration `json:"-"`
	Checked  string        `json:"checked"` // whole-file hashes verified, e.g. "SHA-256+SHA-1"
	SHA256   string        `json:"sha256"`  // hex SHA-256 of the target
}

// Control is a parsed control file and where it came from.
type Control struct {
	File *zsyncfile.File
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
	if isURL(src) {
		if client == nil {
			client = NewHTTPClient()
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
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("open control file: %w", err)
		}
		defer f.Close()
		body = f
	}
	if baseURL != "" {
		u, err := url.Parse(baseURL)
		if err != nil {
			return nil, fmt.Errorf("base URL %q: %w", baseURL, err)
		}
		c.Base = u
	}
	parse := func(r io.Reader) error {
		f, err := zsyncfile.Parse(r)
		if err != nil {
			return fmt.Errorf("control file %s: %w", src, err)
		}
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
		client = NewHTTPClient()
	}
	c, err := LoadControl(ctx, client, opts.Header, src, opts.BaseURL, opts.KeepControl)
	if err != nil {
		return nil, err
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
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(Event) {}
	}
	x := &c.File.Index
	if st, err := os.Stat(out); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("output %s exists and is not a regular file", out)
	}
	a, err := assemble.Begin(out, x)
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if cerr := a.Close(keep); cerr != nil && err == nil {
			err = cerr
		}
	}()

	// Seeds: the user's, then the old output, then an interrupted run's part file.
	seeds := append([]string(nil), opts.Seeds...)
	seeds = append(seeds, out, out+assemble.PartSuffix)
	seen := map[string]bool{}
	for i, s := range seeds {
		abs, _ := filepath.Abs(s)
		if seen[abs] || a.Known().Full() {
			continue
		}
		seen[abs] = true
		_, err := a.ScanSeed(ctx, s, scan.Options{
			Workers:  opts.Workers,
			Progress: func(n int64) { progress(Event{Phase: "scan", Path: s, Bytes: n}) },
		})
		switch {
		case err == nil:
		case errors.Is(err, assemble.ErrSeedUnusable):
			if i < len(opts.Seeds) || !errors.Is(err, fs.ErrNotExist) {
				logger.Warn("seed skipped", "seed", s, "err", err)
			}
		case ctx.Err() != nil:
			return nil, fmt.Errorf("interrupted; run the same command again to resume: %w", ctx.Err())
		default:
			return nil, err
		}
	}
	if err := a.Park(); err != nil {
		return nil, err
	}
	keep = true

	var requests atomic.Int64
	var wire atomic.Int64
	if !a.Known().Full() {
		urls, err := c.TargetURLs()
		if err != nil {
			return nil, err
		}
		var lastErr error
		for _, u := range urls {
			src, err := httpsource.New(u, httpsource.Options{
				Client:      opts.Client,
				Header:      opts.Header,
				Concurrency: opts.Concurrency,
				Length:      x.Length,
				Logger:      logger,
				OnRequest: func(ri httpsource.RequestInfo) {
					requests.Add(1)
					wire.Add(ri.Bytes)
					progress(Event{Phase: "fetch", Path: u, Bytes: ri.Bytes})
				},
			})
			if err != nil {
				lastErr = err
				continue
			}
			lastErr = a.Fetch(ctx, src)
			if lastErr == nil || ctx.Err() != nil {
				break
			}
			logger.Warn("URL failed", "url", u, "err", lastErr)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted; run the same command again to resume: %w", ctx.Err())
		}
		if lastErr != nil {
			return nil, lastErr
		}
	}

	checked, sum, err := a.Verify(ctx, assemble.Hashes{SHA1: c.File.SHA1, SHA256: c.File.SHA256})
	if err != nil {
		if errors.Is(err, assemble.ErrVerify) {
			keep = false // proven wrong: nothing in it is worth resuming from
		}
		return nil, err
	}
	if checked == "" {
		logger.Warn("the control file has no whole-file hash; only block sums were checked")
	}
	if err := a.Commit(assemble.CommitOptions{MTime: c.File.MTime}); err != nil {
		return nil, err
	}
	return &Result{
		Output:   out,
		Length:   x.Length,
		Reused:   a.Reused(),
		Fetched:  wire.Load(),
		Requests: int(requests.Load()),
		Elapsed:  time.Since(start),
		Checked:  checked,
		SHA256:   fmt.Sprintf("%x", sum),
	}, nil
}
