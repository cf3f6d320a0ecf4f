package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/zyncio/zync"
)

// getFlags holds the flags of `zync get` that need checking before use.
type getFlags struct {
	opts           zync.GetOptions
	jsonOut        bool
	quiet          bool
	verbose        int
	auth           []string
	headers        []string
	cacert         string
	insecure       bool
	limitRate      string
	connectTimeout time.Duration
	mirrors        []string
	stallTimeout   time.Duration
	minSavings     float64
	progress       string
}

// insecureWarning is printed on every run with --insecure, -q or not.
const insecureWarning = `zync: WARNING: --insecure: TLS certificate verification is OFF.
zync: WARNING: anyone on the network path can read or change what zync fetches over https;
zync: WARNING: blocks are still checked against the control file, but a control file fetched
zync: WARNING: this way is unauthenticated. Use --cacert FILE to trust a private CA instead.
`

func newGetCmd() *cobra.Command {
	g := &getFlags{}
	cmd := &cobra.Command{
		Use:   "get [flags] SRC",
		Short: "Update a local file to the target a control file describes",
		Long: `Fetch the target described by the control file SRC (an http(s) URL or a
local path). Blocks found in seeds (every -i, the existing output, and what an
interrupted run left) are reused; only the rest is fetched with HTTP range
requests. Every block is checked before it is written, the whole file is
checked before it replaces the output, and the output path never holds
unverified data.

Proxies come from http_proxy, https_proxy and no_proxy (credentials may be
given in the proxy URL).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&g.opts.Seeds, "seed", "i", nil, "local file that may hold parts of the target (repeatable)")
	fl.StringVarP(&g.opts.Output, "output", "o", "", "file to create or update (default: the control file's Filename, in the current folder)")
	fl.StringVarP(&g.opts.BaseURL, "base-url", "u", "", "base for relative URLs in a local control file")
	fl.StringVarP(&g.opts.KeepControl, "keep", "k", "", "save the control file here")
	fl.IntVarP(&g.opts.Concurrency, "jobs", "j", 8, "HTTP requests in flight per URL (1 to 64)")
	fl.Int64Var(&g.opts.WasteBudget, "max-waste", 0, "most bytes to read and throw away when a server ignores Range and sends the whole file (0: no limit; -1: never)")
	fl.Int64Var(&g.opts.MaxGap, "merge-gap", 0, "merge missing ranges at most this many bytes apart into one (fewer requests on high-latency links, a few more bytes)")
	fl.StringArrayVar(&g.mirrors, "url", nil, "another URL of the target (a mirror), tried after the control file's (repeatable)")
	fl.StringArrayVarP(&g.auth, "auth", "A", nil, "host=user:pass: HTTP Basic auth sent to that host only (host or host:port; repeatable), as zsync -A")
	fl.StringArrayVarP(&g.headers, "header", "H", nil, `"Name: value": extra header for every request (repeatable)`)
	fl.StringVar(&g.cacert, "cacert", "", "PEM file of CA certificates to trust besides the system's")
	fl.BoolVar(&g.insecure, "insecure", false, "do not verify TLS certificates (dangerous; prints a warning)")
	fl.StringVar(&g.limitRate, "limit-rate", "0", "cap the download rate, in bytes/s: 500K, 2M, 1G (K=1024) or plain bytes; 0 = no limit")
	fl.Var(durationFlag{&g.connectTimeout}, "connect-timeout", "limit for connecting and the TLS handshake, e.g. 15s (default 15s)")
	fl.Var(durationFlag{&g.stallTimeout}, "stall-timeout", "retry a request that receives nothing for this long (default 30s)")
	fl.Float64Var(&g.minSavings, "min-savings", 0.05, "fetch the whole file in one request when seeds supply less than this fraction of it; 0 = always use ranges")
	fl.BoolVar(&g.opts.Plain, "plain", false, "fetch plain blocks from the target's URLs even when the control file names a compressed companion")
	fl.BoolVar(&g.opts.Thorough, "thorough", false, "scan the seed data that matched a second time, for blocks at other alignments (a file stored twice in a tar): finds a few blocks zsync misses, costs up to a second scan")
	fl.BoolVar(&g.opts.DryRun, "dry-run", false, "scan the seeds and print the plan (bytes reused, bytes to fetch, ranges, requests); fetch and write nothing")
	fl.StringVar(&g.progress, "progress", progressAuto, "progress display: auto (a bar when stderr is a terminal), bar, json (JSON lines on stdout) or none")
	fl.BoolVar(&g.jsonOut, "json", false, "print the summary as one JSON object on stdout")
	fl.BoolVarP(&g.quiet, "quiet", "q", false, "print nothing but errors (and the --insecure warning)")
	fl.CountVarP(&g.verbose, "verbose", "v", "log what happens (-v) and how long each phase takes (-vv)")
	return cmd
}

// check turns the flags into options, or a usage error.
func (g *getFlags) check() (zync.HTTPOptions, error) {
	var ho zync.HTTPOptions
	var err error
	switch g.progress {
	case progressAuto, progressBar, progressJSON, progressNone:
	default:
		return ho, usageError{fmt.Errorf("--progress %q: want auto, bar, json or none", g.progress)}
	}
	if g.opts.Concurrency < 1 || g.opts.Concurrency > 64 {
		return ho, usageError{fmt.Errorf("-j %d: want 1 to 64 requests in flight", g.opts.Concurrency)}
	}
	if g.minSavings < 0 || g.minSavings > 1 || g.minSavings != g.minSavings {
		return ho, usageError{fmt.Errorf("--min-savings %v: want a fraction from 0 to 1", g.minSavings)}
	}
	g.opts.MinSavings = g.minSavings
	if g.minSavings == 0 {
		g.opts.MinSavings = -1 // the library's "never fall back"; its 0 is the default
	}
	g.opts.StallTimeout = g.stallTimeout
	for _, m := range g.mirrors {
		if err := checkMirror(m); err != nil {
			return ho, usageError{err}
		}
	}
	g.opts.Mirrors = g.mirrors
	if g.opts.Header, err = parseHeaders(g.headers); err != nil {
		return ho, usageError{err}
	}
	if ho.Auth, err = parseAuth(g.auth); err != nil {
		return ho, usageError{err}
	}
	if ho.RateLimit, err = parseRate(g.limitRate); err != nil {
		return ho, usageError{fmt.Errorf("--limit-rate: %w", err)}
	}
	if g.cacert != "" && g.insecure {
		return ho, usageError{fmt.Errorf("--cacert and --insecure contradict each other")}
	}
	ho.CAFile, ho.Insecure, ho.ConnectTimeout = g.cacert, g.insecure, g.connectTimeout
	ho.MaxConnsPerHost = max(zync.DefaultMaxConnsPerHost, g.opts.Concurrency)
	return ho, nil
}

func (g *getFlags) run(cmd *cobra.Command, src string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	ho, err := g.check()
	if err != nil {
		return err
	}
	if g.insecure {
		fmt.Fprint(stderr, insecureWarning)
	}
	client, err := zync.NewHTTPClient(ho)
	if err != nil {
		return usageError{err} // an unreadable --cacert, in practice
	}
	defer client.CloseIdleConnections()
	opts := g.opts
	opts.Client = client

	mode := g.progress
	if g.quiet && mode == progressAuto {
		mode = progressNone
	}
	rep := newReporter(mode, stdout, stderr)
	logOut := rep.Log()
	if logOut == nil {
		logOut = stderr
	}
	level := slog.LevelWarn
	switch {
	case g.quiet:
		level = slog.LevelError
	case g.verbose == 1:
		level = slog.LevelInfo
	case g.verbose > 1:
		level = slog.LevelDebug
	}
	opts.Logger = newCLILogger(logOut, level)
	opts.Progress = rep.Event

	res, err := zync.Get(cmd.Context(), src, opts)
	rep.Close(err == nil)
	jr, _ := rep.(*jsonReporter)
	if err != nil {
		if jr != nil {
			jr.final(jsonError{Event: "error", Message: err.Error(), Hint: hintFor(err), ExitCode: exitCode(err), Time: now()})
		}
		return err
	}
	switch {
	case jr != nil:
		jr.final(jsonSummary{Event: "summary", jsonResult: newJSONResult(res), Time: now()})
	case g.jsonOut:
		return writeJSON(stdout, res)
	case opts.DryRun:
		printPlan(stdout, res)
	case !g.quiet:
		printSummary(stderr, res)
	}
	return nil
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

type jsonResult struct {
	*zync.Result
	ElapsedMS int64 `json:"elapsed_ms"`
	ScanMS    int64 `json:"scan_ms"`
	FetchMS   int64 `json:"fetch_ms"`
}

func newJSONResult(res *zync.Result) jsonResult {
	return jsonResult{res, res.Elapsed.Milliseconds(), res.ScanTime.Milliseconds(), res.FetchTime.Milliseconds()}
}

// jsonSummary is the last line of --progress json after a success.
type jsonSummary struct {
	Event string `json:"event"`
	jsonResult
	Time string `json:"time"`
}

// jsonError is the last line of --progress json after a failure.
type jsonError struct {
	Event    string `json:"event"`
	Message  string `json:"message"`
	Hint     string `json:"hint,omitempty"`
	ExitCode int    `json:"exit_code"`
	Time     string `json:"time"`
}

func writeJSON(w io.Writer, res *zync.Result) error {
	return json.NewEncoder(w).Encode(newJSONResult(res))
}

func printSummary(w io.Writer, res *zync.Result) {
	checked := res.Checked
	if checked == "" {
		checked = "block sums only (no whole-file hash in control file)"
	}
	if res.UpToDate {
		fmt.Fprintf(w, "zync: %s: already up to date (%s, %s OK); nothing fetched, %s\n",
			res.Output, size(res.Length), checked, res.Elapsed.Round(time.Millisecond))
		return
	}
	fmt.Fprintf(w, "zync: %s: %s, reused %s (%s) from seeds, fetched %s in %d requests, %s; %s OK\n",
		res.Output, size(res.Length), size(res.Reused), percent(res.Reused, res.Length), size(res.Fetched), res.Requests,
		res.Elapsed.Round(time.Millisecond), checked)
}

// printPlan prints what a --dry-run found.
func printPlan(w io.Writer, res *zync.Result) {
	if res.UpToDate {
		fmt.Fprintf(w, "zync: dry run: %s is already up to date (%s); nothing to fetch\n", res.Output, size(res.Length))
		return
	}
	p := res.Plan
	if p == nil {
		p = &zync.Plan{Length: res.Length, Reused: res.Reused, ToFetch: res.Length - res.Reused}
	}
	fmt.Fprintf(w, "zync: dry run: %s, %s\n", res.Output, size(p.Length))
	fmt.Fprintf(w, "  reuse  %s (%s) from seeds\n", size(p.Reused), percent(p.Reused, p.Length))
	if p.Whole {
		fmt.Fprintf(w, "  fetch  %s: the whole file in %d request (the seeds supply less than --min-savings)\n", size(p.ToFetch), p.Requests)
	} else {
		fmt.Fprintf(w, "  fetch  %s (%s) in %d ranges, about %d requests\n", size(p.ToFetch), percent(p.ToFetch, p.Length), p.Ranges, p.Requests)
	}
	fmt.Fprintf(w, "nothing was fetched or written\n")
}

func percent(n, of int64) string {
	if of <= 0 {
		return "0.0%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
