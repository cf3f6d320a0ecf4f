package testenv

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHarnessTools(t *testing.T) {
	for _, name := range []string{"zsync", "zsyncmake", "nginx", "apache2", "lighttpd", "caddy", "go"} {
		p := Tool(t, name)
		if !filepath.IsAbs(p) {
			t.Errorf("Tool(%q) = %q, not absolute", name, p)
		}
	}
}

func httpGet(t *testing.T, url, rng string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestHarnessServerLog checks each real server and its access-log parsing:
// a full GET, a range, a multi-range request, a 404, Reset.
func TestHarnessServerLog(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	data := make([]byte, 100000)
	rand.NewChaCha8([32]byte{1}).Read(data)
	if err := os.WriteFile(filepath.Join(root, "f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Whether the multipart body starts with CRLF before the first
	// boundary: zsync 0.6.2 needs it (format notes §7.3).
	leadingCRLF := map[string]bool{"nginx": true, "apache2": true, "lighttpd": false, "caddy": false}
	for _, ws := range WebServers {
		t.Run(ws.Name, func(t *testing.T) {
			t.Parallel()
			srv := ws.Start(t, root)
			if srv.Name() != ws.Name {
				t.Errorf("Name() = %q, want %q", srv.Name(), ws.Name)
			}
			if got := srv.Log(); len(got) != 0 {
				t.Fatalf("log of a fresh server = %+v, want empty", got)
			}

			resp, body := httpGet(t, srv.URL("f.bin"), "")
			if resp.StatusCode != 200 || !bytes.Equal(body, data) {
				t.Fatalf("full GET: %s, %d bytes", resp.Status, len(body))
			}
			resp, body = httpGet(t, srv.URL("/f.bin"), "bytes=10-19")
			if resp.StatusCode != 206 || !bytes.Equal(body, data[10:20]) {
				t.Fatalf("range GET: %s, %q", resp.Status, body)
			}
			// Far apart, so that no server merges them into one part.
			resp, body = httpGet(t, srv.URL("f.bin"), "bytes=0-1,50000-50001")
			if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") {
				t.Fatalf("multi-range GET: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
			}
			if got := bytes.HasPrefix(body, []byte("\r\n--")); got != leadingCRLF[ws.Name] {
				t.Errorf("multipart body starts with CRLF: %v, want %v: %q", got, leadingCRLF[ws.Name], body[:min(len(body), 20)])
			}
			multiLen := len(body)
			resp, _ = httpGet(t, srv.URL("missing"), "")
			if resp.StatusCode != 404 {
				t.Fatalf("missing file: %s", resp.Status)
			}

			got := srv.Log()
			want := []Request{
				{Method: "GET", Path: "/f.bin", Status: 200, Bytes: int64(len(data))},
				{Method: "GET", Path: "/f.bin", Status: 206, Bytes: 10, Range: "bytes=10-19"},
				{Method: "GET", Path: "/f.bin", Status: 206, Bytes: int64(multiLen), Range: "bytes=0-1,50000-50001"},
				{Method: "GET", Path: "/missing", Status: 404},
			}
			if len(got) != len(want) {
				t.Fatalf("log has %d entries, want %d: %+v", len(got), len(want), got)
			}
			for i, w := range want {
				g := got[i]
				if g.Method != w.Method || g.Path != w.Path || g.Status != w.Status || g.Range != w.Range ||
					(w.Status != 404 && g.Bytes != w.Bytes) {
					t.Errorf("entry %d = %+v, want %+v", i, g, w)
				}
				if !strings.HasPrefix(g.Line, "GET "+w.Path+" HTTP/1.1") {
					t.Errorf("entry %d request line %q", i, g.Line)
				}
				if g.Conn == 0 {
					t.Errorf("entry %d has no connection identifier", i)
				}
			}
			if b, n := Totals(got, "/f.bin"); n != 3 || b != int64(len(data)+10+multiLen) {
				t.Errorf("Totals(/f.bin) = %d bytes in %d requests", b, n)
			}

			srv.Reset()
			if got := srv.Log(); len(got) != 0 {
				t.Fatalf("log after Reset = %+v, want empty", got)
			}
			httpGet(t, srv.URL("f.bin"), "bytes=-5")
			if got := srv.Log(); len(got) != 1 || got[0].Bytes != 5 || got[0].Range != "bytes=-5" {
				t.Fatalf("log after Reset and one request = %+v", got)
			}
		})
	}
}

// TestHarnessNginxMany starts several servers at once: each gets its own port.
func TestHarnessNginxMany(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "x"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 4 {
		ng := StartNginx(t, root)
		if seen[ng.Addr()] {
			t.Fatalf("address %s handed out twice", ng.Addr())
		}
		seen[ng.Addr()] = true
		if _, body := httpGet(t, ng.URL("x"), ""); string(body) != "hello" {
			t.Fatalf("got %q", body)
		}
	}
}

func TestHarnessRun(t *testing.T) {
	// Not parallel: t.Setenv. Run must drop proxy variables (zsync 0.6.2
	// would send loopback requests through them).
	t.Setenv("http_proxy", "http://192.0.2.1:1")
	sh := Tool(t, "sh")
	out, errOut, code := Run(t, t.TempDir(), sh, "-c", "echo ${http_proxy-unset}; echo err >&2; exit 7")
	if code != 7 || strings.TrimSpace(errOut) != "err" || strings.TrimSpace(out) != "unset" {
		t.Fatalf("Run = %q, %q, %d", out, errOut, code)
	}
}
