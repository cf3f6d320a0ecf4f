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

func newGetCmd() *cobra.Command {
	var (
		opts    zync.GetOptions
		jsonOut bool
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "get [flags] SRC",
		Short: "Update a local file to the target a control file describes",
		Long: `Fetch the target described by the control file SRC (an http(s) URL or a
local path). Blocks found in seeds (every -i, the existing output, and what an
interrupted run left) are reused; only the rest is fetched with HTTP range
requests. Every block is checked before it is written, the whole file is
checked before it replaces the output, and the output path never holds
unverified data.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			level := slog.LevelWarn
			if quiet {
				level = slog.LevelError
			}
			opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			res, err := zync.Get(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if jsonOut {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			if !quiet {
				printSummary(stderr, res)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&opts.Seeds, "seed", "i", nil, "local file that may hold parts of the target (repeatable)")
	fl.StringVarP(&opts.Output, "output", "o", "", "file to create or update (default: the control file's Filename, in the current folder)")
	fl.StringVarP(&opts.BaseURL, "base-url", "u", "", "base for relative URLs in a local control file")
	fl.StringVarP(&opts.KeepControl, "keep", "k", "", "save the control file here")
	fl.IntVarP(&opts.Concurrency, "jobs", "j", 4, "HTTP requests in flight")
	fl.BoolVar(&jsonOut, "json", false, "print the summary as one JSON object on stdout")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print nothing but errors")
	return cmd
}

type jsonResult struct {
	*zync.Result
	ElapsedMS int64 `json:"elapsed_ms"`
}

func writeJSON(w io.Writer, res *zync.Result) error {
	return json.NewEncoder(w).Encode(jsonResult{res, res.Elapsed.Milliseconds()})
}

func printSummary(w io.Writer, res *zync.Result) {
	pct := 0.0
	if res.Length > 0 {
		pct = 100 * float64(res.Reused) / float64(res.Length)
	}
	checked := res.Checked
	if checked == "" {
		checked = "block sums only (no whole-file hash in control file)"
	}
	fmt.Fprintf(w, "zync: %s: %s, reused %s (%.1f%%) from seeds, fetched %s in %d requests, %s; %s OK\n",
		res.Output, size(res.Length), size(res.Reused), pct, size(res.Fetched), res.Requests,
		res.Elapsed.Round(time.Millisecond), checked)
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
