package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/zyncio/zync"
)

func newDemoCmd() *cobra.Command {
	var (
		sizeMiB int
		keepDir string
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Publish and update a sample file over HTTP on 127.0.0.1, end to end",
		Long: `Build an old and a new version of a sample file in a temporary folder,
publish the new one with "make" on an HTTP server on 127.0.0.1, update a copy
of the old one with "get" (the same code paths as real use) and print the
summary. Nothing leaves the machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sizeMiB < 1 || sizeMiB > 4096 {
				return usageError{fmt.Errorf("--size %d: want 1 to 4096 MiB", sizeMiB)}
			}
			dir := keepDir
			if dir == "" {
				d, err := os.MkdirTemp("", "zync-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			} else if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			return runDemo(cmd.Context(), cmd.ErrOrStderr(), cmd.OutOrStdout(), dir, sizeMiB<<20, jsonOut)
		},
	}
	cmd.Flags().IntVar(&sizeMiB, "size", 64, "size of the sample file in MiB")
	cmd.Flags().StringVar(&keepDir, "dir", "", "work in this folder and keep the files (default: a temporary folder, removed)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the get summary as JSON on stdout")
	return cmd
}

// demoVersions returns an old release and a new one that differs as
// releases do: scattered small edits, an insertion, a deletion, a new tail.
func demoVersions(size int) (old, new []byte) {
	r := rand.New(rand.NewPCG(2026, 11))
	old = make([]byte, size)
	for i := 0; i < size; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < size; j++ {
			old[i+j] = byte(v >> (8 * j))
		}
	}
	new = bytes.Clone(old)
	for range 40 {
		new[r.IntN(len(new))] ^= 0x5a
	}
	ins := make([]byte, 5000)
	for i := range ins {
		ins[i] = byte(r.Uint32())
	}
	mid := len(new) / 3
	new = append(new[:mid:mid], append(ins, new[mid:]...)...)
	cut := 2 * len(new) / 3
	new = append(new[:cut:cut], new[cut+3000:]...)
	return old, append(new, []byte("release notes: a new tail\n")...)
}

func runDemo(ctx context.Context, stderr, stdout io.Writer, dir string, n int, jsonOut bool) error {
	old, newer := demoVersions(n)
	pub := filepath.Join(dir, "published")
	if err := os.MkdirAll(pub, 0o755); err != nil {
		return err
	}
	target := filepath.Join(pub, "app.img")
	if err := os.WriteFile(target, newer, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "demo: publishing %s (%s) in %s\n", filepath.Base(target), size64(len(newer)), pub)
	t0 := time.Now()
	cf, err := zync.MakeFile(ctx, target, zync.MakeOptions{})
	if err != nil {
		return err
	}
	if err := zync.WriteControlFile(target+".zsync", cf); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "demo: zync make: %d blocks of %d bytes in %s\n", cf.Index.NumBlocks(), cf.Index.Blocksize, time.Since(t0).Round(time.Millisecond))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(pub)), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := fmt.Sprintf("http://%s/app.img.zsync", ln.Addr())

	local := filepath.Join(dir, "app.img")
	if err := os.WriteFile(local, old, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "demo: the user has the old version at %s; running: zync get -o %s %s\n", local, local, url)
	res, err := zync.Get(ctx, url, zync.GetOptions{Output: local})
	if err != nil {
		return err
	}
	got, err := os.ReadFile(local)
	if err != nil {
		return err
	}
	if sha256.Sum256(got) != sha256.Sum256(newer) {
		return errors.New("demo: the updated file differs from the published one")
	}
	if jsonOut {
		return writeJSON(stdout, res)
	}
	printSummary(stderr, res)
	fmt.Fprintf(stderr, "demo: a plain download would have moved %s; zync moved %s (%.1f%%)\n",
		size64(len(newer)), size(res.Fetched), 100*float64(res.Fetched)/float64(len(newer)))
	return nil
}

func size64(n int) string { return size(int64(n)) }
