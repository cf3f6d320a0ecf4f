package zync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zyncio/zync/patch"
	"github.com/zyncio/zync/zsyncfile"
)

// PatchHeader is the control-file header that announces a patch from a
// known old release: "URL LENGTH sha256:HEX", the patch's URL (relative to
// the control file) and the length and SHA-256 of the seed it applies to.
// It is listed in Safe:, so zsync clients ignore it.
const PatchHeader = "X-Zync-Patch"

// maxPatchHeaders bounds how many announced patches a client considers.
const maxPatchHeaders = 64

// AddPatch writes a patch from the old release at oldPath to the target at
// newPath into dir, named after the target and the old release's hash, and
// announces it in f. It returns the patch's path.
func AddPatch(ctx context.Context, f *zsyncfile.File, oldPath, newPath, dir string) (string, error) {
	tmp, err := os.CreateTemp(dir, ".zync-patch-*")
	if err != nil {
		return "", fmt.Errorf("patch from %s: %w", oldPath, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if _, err := patch.DiffFile(ctx, oldPath, newPath, tmp.Name(), patch.DiffOptions{}); err != nil {
		return "", fmt.Errorf("patch from %s: %w", oldPath, err)
	}
	pf, err := os.Open(tmp.Name())
	if err != nil {
		return "", err
	}
	h, err := patch.ReadHeader(pf)
	pf.Close()
	if err != nil {
		return "", fmt.Errorf("patch from %s: %w", oldPath, err)
	}
	if h.SeedAlgo != patch.SHA256 {
		return "", fmt.Errorf("patch from %s: seed identified by %v, want SHA-256", oldPath, h.SeedAlgo)
	}
	name := filepath.Base(newPath) + ".from-" + hex.EncodeToString(h.SeedSum[:6]) + ".zpatch"
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	f.Extra = append(f.Extra, zsyncfile.Header{
		Name:  PatchHeader,
		Value: fmt.Sprintf("%s %d sha256:%x", url.PathEscape(name), h.SeedLength, h.SeedSum),
	})
	return path, nil
}

// announcedPatch is one X-Zync-Patch header.
type announcedPatch struct {
	url    string
	length int64
	sha256 []byte
}

func (c *Control) patches() []announcedPatch {
	var ps []announcedPatch
	for _, h := range c.File.Extra {
		if h.Name != PatchHeader || len(ps) == maxPatchHeaders {
			continue
		}
		fs := strings.Fields(h.Value)
		if len(fs) != 3 || !strings.HasPrefix(fs[2], "sha256:") {
			continue
		}
		n, err1 := strconv.ParseInt(fs[1], 10, 64)
		sum, err2 := hex.DecodeString(strings.TrimPrefix(fs[2], "sha256:"))
		if err1 != nil || err2 != nil || n < 0 || len(sum) != sha256.Size {
			continue
		}
		ps = append(ps, announcedPatch{url: fs[0], length: n, sha256: sum})
	}
	return ps
}

// errNoPatch means no announced patch applies to any seed.
var errNoPatch = errors.New("no patch for these seeds")

// tryPatch looks for a seed that an announced patch applies to; if there is
// one, it fetches the patch with one GET, applies it to a temporary file
// beside the output, checks the result against the control file and moves
// it into place. Any failure leaves the output as it was: the caller then
// fetches blocks.
func (u *updater) tryPatch(ctx context.Context) (*Result, error) {
	ps := u.c.patches()
	if len(ps) == 0 || u.c.File.SHA256 == nil {
		return nil, errNoPatch
	}
	for _, s := range append(append([]string(nil), u.opts.Seeds...), u.out) {
		st, err := os.Stat(s)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		var sum []byte
		for _, p := range ps {
			if p.length != st.Size() {
				continue
			}
			if sum == nil {
				if sum, err = fileSHA256(ctx, s); err != nil {
					break
				}
			}
			if !bytes.Equal(sum, p.sha256) {
				continue
			}
			res, err := u.applyPatch(ctx, s, p)
			if err == nil {
				return res, nil
			}
			if ctx.Err() != nil {
				return nil, err
			}
			u.logger.Warn("patch failed; fetching blocks instead", "patch", p.url, "err", err)
			u.progress(Event{Phase: "warning", Path: p.url, Message: "patch failed; fetching blocks instead: " + err.Error()})
		}
	}
	return nil, errNoPatch
}

func fileSHA256(ctx context.Context, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReaderOf(ctx, f)); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

type ctxReaderT struct {
	ctx context.Context
	r   io.Reader
}

func ctxReaderOf(ctx context.Context, r io.Reader) io.Reader { return ctxReaderT{ctx, r} }

func (c ctxReaderT) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (u *updater) applyPatch(ctx context.Context, seed string, p announcedPatch) (*Result, error) {
	ref, err := u.c.resolve(p.url)
	if err != nil {
		return nil, err
	}
	client := u.opts.Client
	if client == nil {
		if client, err = NewHTTPClient(HTTPOptions{}); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref.String(), nil)
	if err != nil {
		return nil, err
	}
	for k, v := range u.opts.Header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	u.requests.Add(1)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %s", ref.Redacted(), resp.Status)
	}
	dir := filepath.Dir(absPath(u.out))
	pt, err := os.CreateTemp(dir, "."+filepath.Base(u.out)+".zync-patch-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(pt.Name())
	n, err := io.Copy(pt, resp.Body)
	u.wire.Add(n)
	if cerr := pt.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", ref.Redacted(), err)
	}
	// Apply to a temporary path, check against the control file, and only
	// then move the result over the output.
	tmpOut := u.out + ".zync-patched"
	defer os.Remove(tmpOut)
	res, err := patch.ApplyFile(ctx, seed, pt.Name(), tmpOut, patch.ApplyOptions{})
	if err != nil {
		return nil, err
	}
	if res.TargetLength != u.x.Length || !bytes.Equal(res.SHA256, u.c.File.SHA256) {
		return nil, fmt.Errorf("patch %s makes a file other than the control file's target", ref.Redacted())
	}
	if st, err := os.Stat(u.out); err == nil && st.Mode().IsRegular() {
		_ = os.Chmod(tmpOut, st.Mode().Perm())
	}
	if !u.c.File.MTime.IsZero() {
		_ = os.Chtimes(tmpOut, u.c.File.MTime, u.c.File.MTime)
	}
	if err := os.Rename(tmpOut, u.out); err != nil {
		return nil, err
	}
	return &Result{
		Output: u.out, Length: u.x.Length, Reused: res.Copied, Fetched: u.wire.Load(),
		Requests: int(u.requests.Load()), Checked: "SHA-256", SHA256: hex.EncodeToString(res.SHA256),
		Patched: true,
	}, nil
}
