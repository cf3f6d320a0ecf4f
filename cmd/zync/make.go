package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/zyncio/zync"
	"github.com/zyncio/zync/index"
)

func newMakeCmd() *cobra.Command {
	var (
		opts    zync.MakeOptions
		output  string
		strong  string
		jsonOut bool
		// patchFrom are old releases to write patches from.
		patchFrom []string
		// compress writes the compressed companion.
		compress bool
		copts    zync.CompanionOptions
	)
	cmd := &cobra.Command{
		Use:   "make [flags] FILE",
		Short: "Write the .zsync control file of FILE",
		Long: `Write FILE.zsync, the control file clients use to fetch FILE. The default
file is accepted by zsync 0.6.x, zsync2 and zsync 0.7.x: MD4 block sums laid
out exactly as zsyncmake writes them, a SHA-1 and a SHA-256 of the whole file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			algo, err := index.ParseStrongAlgo(strong)
			if err != nil {
				return usageError{err}
			}
			opts.Strong = algo
			if opts.Blocksize != 0 && (opts.Blocksize < index.MinBlocksize || opts.Blocksize > index.MaxBlocksize || opts.Blocksize&(opts.Blocksize-1) != 0) {
				return usageError{fmt.Errorf("blocksize %d is not a power of two between %d and %d", opts.Blocksize, index.MinBlocksize, index.MaxBlocksize)}
			}
			in := args[0]
			if output == "" {
				output = in + ".zsync"
			}
			if abs1, _ := filepath.Abs(output); abs1 != "" {
				if abs2, _ := filepath.Abs(in); abs1 == abs2 {
					return usageError{fmt.Errorf("output %s would overwrite the input", output)}
				}
			}
			f, err := zync.MakeFile(cmd.Context(), in, opts)
			if err != nil {
				return err
			}
			for _, old := range patchFrom {
				if _, err := zync.AddPatch(cmd.Context(), f, old, in, filepath.Dir(output)); err != nil {
					return err
				}
			}
			companion := ""
			if compress {
				companion, err = zync.AddCompanion(cmd.Context(), f, in, filepath.Dir(output), copts)
				if errors.Is(err, zync.ErrIncompressible) {
					// The control file is still worth writing: plain blocks.
					newCLILogger(cmd.ErrOrStderr(), slog.LevelWarn).Warn(err.Error())
				} else if err != nil {
					return err
				}
			}
			if err := zync.WriteControlFile(output, f); err != nil {
				return err
			}
			if jsonOut {
				out := map[string]any{
					"output": output, "length": f.Index.Length, "blocksize": f.Index.Blocksize,
					"blocks": f.Index.NumBlocks(), "sha256": fmt.Sprintf("%x", f.SHA256),
				}
				if companion != "" {
					out["companion"] = companion
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&opts.Blocksize, "blocksize", "b", 0, "block size in bytes, a power of two (default: 2048 below 100 MB, else 4096, as zsyncmake)")
	fl.StringArrayVarP(&opts.URLs, "url", "u", nil, "URL of the target, absolute or relative to the control file (repeatable; default: FILE's base name)")
	fl.StringVarP(&output, "output", "o", "", "control file to write (default FILE.zsync)")
	fl.StringVarP(&opts.Filename, "filename", "f", "", "file name suggested to clients (default: FILE's base name)")
	fl.StringVar(&strong, "strong", "md4", "strong block sum: md4 (every zsync client), md5 or sha224 (zsync 0.7+ clients only)")
	fl.BoolVar(&opts.NoAnchors, "no-anchors", false, "leave out the anchor records that let zync clients scan seeds faster (6 bytes a block; zsync clients skip them): the control file is then byte for byte zsyncmake's")
	fl.BoolVar(&jsonOut, "json", false, "print a JSON summary on stdout")
	fl.StringArrayVar(&patchFrom, "patch-from", nil, "also write a patch from this old release beside the control file and announce it there; clients holding that release fetch it in one request (repeatable)")
	fl.BoolVar(&compress, "compress", false, "also write FILE"+zync.CompanionSuffix+" beside the control file, a compressed companion of FILE that zync clients fetch blocks from (zsync clients ignore it and use FILE); publish it with FILE")
	fl.IntVar(&copts.Level, "compress-level", 0, "zstd level of the companion, 1-22 (default: the best)")
	return cmd
}
