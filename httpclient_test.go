package zync

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeCA writes the certificate of a httptest TLS server as a PEM file.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustClient(t *testing.T, opts HTTPOptions) *http.Client {
	t.Helper()
	c, err := NewHTTPClient(opts)
	if err != nil {
		t.Fatalf("NewHTTPClient(%+v): %v", opts, err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func get(ctx context.Context, c *http.Client, u string, hdr http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestHTTPClientTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s", r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := writeCA(t, srv)

	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name      string
		opts      HTTPOptions
		newErr    string // NewHTTPClient fails with this
		getErr    string // the request fails with this
		wantProto int
	}{
		{name: "system roots refuse a private CA", opts: HTTPOptions{}, getErr: "certificate"},
		{name: "CA file accepted", opts: HTTPOptions{CAFile: ca}, wantProto: 2},
		{name: "insecure", opts: HTTPOptions{Insecure: true}, wantProto: 2},
		{name: "CA file missing", opts: HTTPOptions{CAFile: filepath.Join(t.TempDir(), "none.pem")}, newErr: "no such file"},
		{name: "CA file without certificates", opts: HTTPOptions{CAFile: notPEM}, newErr: "no PEM certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			client, err := NewHTTPClient(c.opts)
			if c.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.newErr) {
					t.Fatalf("NewHTTPClient: err = %v, want %q", err, c.newErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer client.CloseIdleConnections()
			resp, body, err := get(context.Background(), client, srv.URL+"/x", nil)
			if c.getErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.getErr) {
					t.Fatalf("GET: err = %v, want %q", err, c.getErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			if resp.ProtoMajor != c.wantProto {
				t.Errorf("protocol %s, want HTTP/%d (HTTP/2 must stay on with a custom dialer)", resp.Proto, c.wantProto)
			}
			if !strings.HasPrefix(string(body), "hello over HTTP/") {
				t.Errorf("body %q", body)
			}
		})
	}
}

// TestHTTPClientAuth: credentials go to the named host only, on redirects
// too, and never to another host.
func TestHTTPClientAuth(t *testing.T) {
	t.Parallel()
	type seen struct {
		mu   sync.Mutex
		auth map[string]string // path -> Authorization header
	}
	newServer := func(s *seen, redirectTo *string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.auth[r.URL.Path] = r.Header.Get("Authorization")
			s.mu.Unlock()
			if strings.HasPrefix(r.URL.Path, "/redirect/") {
				http.Redirect(w, r, *redirectTo+"/"+strings.TrimPrefix(r.URL.Path, "/redirect/"), http.StatusFound)
				return
			}
			io.WriteString(w, "ok")
		}))
	}
	seenA := &seen{auth: map[string]string{}}
	seenB := &seen{auth: map[string]string{}}
	var urlA, urlB string
	a := newServer(seenA, &urlB)
	defer a.Close()
	b := newServer(seenB, &urlA)
	defer b.Close()
	// A is reached by name (localhost), B by address (127.0.0.1): two hosts.
	_, portA, _ := net.SplitHostPort(a.Listener.Addr().String())
	urlA = "http://localhost:" + portA
	urlB = b.URL
	basic := "Basic " + "dXNlcjpwYXNz" // user:pass

	for _, c := range []struct {
		name   string
		auth   map[string]string
		url    string
		header http.Header
		wantA  map[string]string // path -> Authorization A must have seen
		wantB  map[string]string
	}{
		{
			name:  "host only, direct",
			auth:  map[string]string{"localhost": "user:pass"},
			url:   urlA + "/direct",
			wantA: map[string]string{"/direct": basic},
		},
		{
			name:  "host:port, redirect to another host",
			auth:  map[string]string{"LOCALHOST:" + portA: "user:pass"},
			url:   urlA + "/redirect/to-b",
			wantA: map[string]string{"/redirect/to-b": basic},
			wantB: map[string]string{"/to-b": ""},
		},
		{
			name:  "redirect from another host to the named one",
			auth:  map[string]string{"localhost": "user:pass"},
			url:   urlB + "/redirect/to-a",
			wantB: map[string]string{"/redirect/to-a": ""},
			wantA: map[string]string{"/to-a": basic},
		},
		{
			name:  "other port of the host",
			auth:  map[string]string{"localhost:1": "user:pass"},
			url:   urlA + "/other-port",
			wantA: map[string]string{"/other-port": ""},
		},
		{
			name:   "explicit Authorization header wins",
			auth:   map[string]string{"localhost": "user:pass"},
			url:    urlA + "/explicit",
			header: http.Header{"Authorization": {"Bearer token"}},
			wantA:  map[string]string{"/explicit": "Bearer token"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Not parallel: the servers' records are shared.
			client := mustClient(t, HTTPOptions{Auth: c.auth, Proxy: noProxy})
			resp, _, err := get(context.Background(), client, c.url, c.header)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %s", resp.Status)
			}
			for _, side := range []struct {
				name string
				s    *seen
				want map[string]string
			}{{"A", seenA, c.wantA}, {"B", seenB, c.wantB}} {
				side.s.mu.Lock()
				for path, want := range side.want {
					got, ok := side.s.auth[path]
					if !ok {
						t.Errorf("server %s got no request for %s", side.name, path)
					} else if got != want {
						t.Errorf("server %s, %s: Authorization %q, want %q", side.name, path, got, want)
					}
				}
				side.s.mu.Unlock()
			}
		})
	}
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

func TestHTTPClientAuthBadOptions(t *testing.T) {
	t.Parallel()
	for _, opts := range []HTTPOptions{
		{Auth: map[string]string{"example.com": "no-colon"}},
		{Auth: map[string]string{"": "u:p"}},
		{Auth: map[string]string{"http://example.com": "u:p"}},
		{RateLimit: -1},
		{ConnectTimeout: -time.Second},
		{MaxConnsPerHost: -2},
	} {
		if _, err := NewHTTPClient(opts); err == nil {
			t.Errorf("NewHTTPClient(%+v) accepted", opts)
		}
	}
}

// TestHTTPClientRateLimit checks a lower bound only: a loaded machine may be
// slower than the limit, never faster.
func TestHTTPClientRateLimit(t *testing.T) {
	t.Parallel()
	const size = 2 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)

	for _, c := range []struct {
		name    string
		limit   int64
		streams int // concurrent downloads sharing the client's limit
		min     time.Duration
	}{
		// 2 MiB at 4 MiB/s: 0.5 s less one 64 KiB bucket ≈ 0.48 s.
		{"one connection", 4 << 20, 1, 400 * time.Millisecond},
		// 2 × 2 MiB at 8 MiB/s, shared: the same.
		{"two connections share the limit", 8 << 20, 2, 400 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			client := mustClient(t, HTTPOptions{RateLimit: c.limit, Proxy: noProxy})
			start := time.Now()
			errs := make(chan error, c.streams)
			for range c.streams {
				go func() {
					_, body, err := get(context.Background(), client, srv.URL, nil)
					if err == nil && !bytes.Equal(body, data) {
						err = fmt.Errorf("body: %d bytes, want %d", len(body), len(data))
					}
					errs <- err
				}()
			}
			for range c.streams {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			el := time.Since(start)
			t.Logf("%d × %d bytes at %d B/s: %v", c.streams, size, c.limit, el)
			if el < c.min {
				t.Errorf("took %v, want at least %v: the rate limit is not applied", el, c.min)
			}
		})
	}
}

// TestHTTPClientProxy: an explicit Proxy func sends requests to the proxy.
func TestHTTPClientProxy(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.RequestURI+" "+r.Header.Get("Proxy-Authorization"))
		mu.Unlock()
		io.WriteString(w, "from the proxy")
	}))
	defer proxy.Close()
	pu, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	pu.User = url.UserPassword("puser", "ppass")
	client := mustClient(t, HTTPOptions{Proxy: http.ProxyURL(pu)})
	// .invalid never resolves: only the proxy can answer.
	_, body, err := get(context.Background(), client, "http://target.invalid/file.img", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "from the proxy" {
		t.Errorf("body %q", body)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "GET http://target.invalid/file.img Basic cHVzZXI6cHBhc3M="
	if len(got) != 1 || got[0] != want {
		t.Errorf("proxy saw %q, want [%q]", got, want)
	}
}

// TestHTTPClientConnectTimeout: a server that accepts the connection but
// never answers the TLS handshake fails the request with a timeout.
func TestHTTPClientConnectTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, silent
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	client := mustClient(t, HTTPOptions{ConnectTimeout: 200 * time.Millisecond, Proxy: noProxy})
	// The context only keeps a broken test from hanging.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, err = get(ctx, client, "https://"+ln.Addr().String()+"/", nil)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() || ctx.Err() != nil {
		t.Fatalf("err = %v, want a handshake timeout", err)
	}
}
