// Command zync moves only what changed: `zync make` publishes a
// zsync-compatible index of a file, `zync get` updates a local file from one.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes, documented in README.md.
const (
	exitOK          = 0
	exitFailure     = 1 // local I/O and anything not listed below
	exitUsage       = 2
	exitNetwork     = 3 // the server or network failed (404, refused, bad answers)
	exitControl     = 4 // the control file is malformed, unsupported or unsafe
	exitVerify      = 5 // a block or the whole file failed its checksum
	exitDiffer      = 6 // the control file and the target on the server differ
	exitInterrupted = 130
)

type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	// zync's live heap is mostly the index, allocated once; the hot loops
	// allocate nothing. A lower GOGC keeps the peak near the live heap
	// instead of twice it, for little GC work. GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	fmt.Fprintf(stderr, "zync: %v\n", err)
	if hint := hintFor(err); hint != "" {
		fmt.Fprintf(stderr, "zync: %s\n", hint)
	}
	return code
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "zync",
		Short: "Move only what changed: zsync-compatible delta downloads over plain HTTP",
		Long: `zync updates a local file to a published version by reusing the blocks it
already has and fetching only the rest with HTTP range requests. Publishers
run "zync make" once and put the file and its .zsync control file on any
static web server; users run "zync get". Control files are compatible with
zsync 0.6.x, zsync2 and zsync 0.7.x in both directions.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(newMakeCmd(), newGetCmd(), newDemoCmd(), newDiffCmd(), newApplyCmd())
	// Wrong numbers of arguments and unknown commands are usage errors.
	for _, c := range root.Commands() {
		if args := c.Args; args != nil {
			c.Args = func(c *cobra.Command, a []string) error {
				if err := args(c, a); err != nil {
					return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
				}
				return nil
			}
		}
	}
	root.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Errorf("unknown command %q (see 'zync --help')", args[0])}
		}
		return usageError{fmt.Errorf("a command is needed: make, get or demo (see 'zync --help')")}
	}
	root.Args = cobra.ArbitraryArgs
	return root
}

func exitCode(err error) int {
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return classify(err)
}
