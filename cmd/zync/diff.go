package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/zyncio/zync/patch"
)

func newDiffCmd() *cobra.Command {
	var (
		opts    patch.DiffOptions
		output  string
		from    string
		jsonOut bool
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "diff [flags] OLD NEW | diff --from OLD.zsync [flags] NEW",
		Short: "Write a patch that turns OLD into NEW",
		Long: `Write a patch: what turns OLD (a seed) into NEW (the target) and nothing more.
Matches are found anywhere in OLD and extended byte by byte; what OLD lacks is
carried zstd-compressed. The patch names OLD by its length and SHA-256 and
carries its block sums, so "zync apply" refuses any other seed.

With --from, OLD is given by its control file (.zsync) instead of its data,
for a publisher who keeps only the indexes of old releases: NEW is matched
against OLD's block sums, which finds whole blocks only (a larger patch).

The patch is written beside its final path and renamed into place.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (from == "") != (len(args) == 2) {
				if from == "" {
					return usageError{fmt.Errorf("diff needs OLD and NEW, or --from OLD.zsync and NEW (see 'zync diff --help')")}
				}
				return usageError{fmt.Errorf("with --from, diff takes only NEW (see 'zync diff --help')")}
			}
			if opts.Level < 1 || opts.Level > 4 {
				return usageError{fmt.Errorf("--level %d is not between 1 and 4", opts.Level)}
			}
			if opts.Workers < 0 {
				return usageError{fmt.Errorf("--workers %d is negative", opts.Workers)}
			}
			newPath := args[len(args)-1]
			if output == "" {
				output = newPath + ".zpatch"
			}
			for _, in := range append(args[:len(args):len(args)], from) {
				if in != "" && samePath(in, output) {
					return usageError{fmt.Errorf("output %s would overwrite the input %s", output, in)}
				}
			}
			var (
				res *patch.DiffResult
				err error
			)
			if from != "" {
				res, err = patch.DiffFileFromControl(cmd.Context(), from, newPath, output, opts)
			} else {
				res, err = patch.DiffFile(cmd.Context(), args[0], newPath, output, opts)
			}
			if err != nil {
				return err
			}
			switch {
			case jsonOut:
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{
					"output": output, "patch_size": res.PatchSize, "seed_length": res.SeedLength,
					"target_length": res.TargetLength, "copied": res.Copied, "literal": res.Literal,
					"instructions": res.Instructions, "sections": res.Sections,
					"sha256": fmt.Sprintf("%x", res.TargetSHA256), "elapsed_ms": res.Elapsed.Milliseconds(),
				})
			case !quiet:
				fmt.Fprintf(cmd.ErrOrStderr(), "zync: %s: patch of %s for %s (%s): %s (%s) copied from the seed, %s literal, %s\n",
					output, size(res.PatchSize), newPath, size(res.TargetLength), size(res.Copied),
					percent(res.Copied, res.TargetLength), size(res.Literal), res.Elapsed.Round(time.Millisecond))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&output, "output", "o", "", "patch to write (default NEW.zpatch)")
	fl.StringVar(&from, "from", "", "OLD's control file (.zsync) instead of OLD: match whole blocks against its block sums")
	fl.IntVarP(&opts.Level, "level", "l", 3, "zstd compression of the patch's streams: 1 (fastest) to 4 (smallest)")
	fl.IntVar(&opts.Workers, "workers", 0, "goroutines that index, match and compress (default: all cores)")
	fl.BoolVar(&jsonOut, "json", false, "print a JSON summary on stdout")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print nothing but errors")
	return cmd
}

// samePath reports whether a and b name the same file (by path, or the
// same existing file).
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 == nil && err2 == nil && aa == bb {
		return true
	}
	return sameFile(a, b)
}
