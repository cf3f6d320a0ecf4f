package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/zyncio/zync/patch"
)

func newApplyCmd() *cobra.Command {
	var (
		output  string
		jsonOut bool
		quiet   bool
	)
	cmd := &cobra.Command{
		Use:   "apply [flags] OLD PATCH -o NEW",
		Short: "Make NEW from OLD and a patch written by zync diff",
		Long: `Apply PATCH to OLD (the seed) and write the target to NEW. OLD is checked
first (length, then SHA-256): a patch made for another file is refused before
anything is written. The patch is streamed; every block of OLD it copies from
is checked against the patch's block sums, and the target against its
SHA-256. NEW is built in a temporary file beside it, fsynced and renamed into
place: NEW never holds unverified bytes. NEW may be OLD itself.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			seed, p := args[0], args[1]
			if output == "" {
				return usageError{fmt.Errorf("give the output with -o NEW (see 'zync apply --help')")}
			}
			if samePath(p, output) {
				return usageError{fmt.Errorf("output %s would overwrite the patch", output)}
			}
			res, err := patch.ApplyFile(cmd.Context(), seed, p, output, patch.ApplyOptions{})
			if err != nil {
				return err
			}
			switch {
			case jsonOut:
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{
					"output": output, "length": res.TargetLength, "copied": res.Copied, "literal": res.Literal,
					"sha256": fmt.Sprintf("%x", res.SHA256), "elapsed_ms": res.Elapsed.Milliseconds(),
				})
			case !quiet:
				fmt.Fprintf(cmd.ErrOrStderr(), "zync: %s: %s, %s (%s) copied from %s, %s from the patch, %s; SHA-256 OK\n",
					output, size(res.TargetLength), size(res.Copied), percent(res.Copied, res.TargetLength), seed,
					size(res.Literal), res.Elapsed.Round(time.Millisecond))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&output, "output", "o", "", "target to write (required; may be OLD)")
	fl.BoolVar(&jsonOut, "json", false, "print a JSON summary on stdout")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print nothing but errors")
	return cmd
}

// sameFile reports whether a and b are the same existing file.
func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
