package zync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Defaults for the zero values of HTTPOptions.
const (
	DefaultConnectTimeout  = 15 * time.Second
	DefaultMaxConnsPerHost = 16
)

// HTTPOptions configure NewHTTPClient. The zero value gives zync's defaults.
type HTTPOptions struct {
	// ConnectTimeout bounds the TCP connect and, separately, the TLS
	// handshake of each new connection (a proxy's included). 0 means
	// DefaultConnectTimeout. It does not bound transfers: contexts do.
	ConnectTimeout time.Duration
	// CAFile is a PEM bundle of extra CA certificates, trusted besides the
	// system roots.
	CAFile string
	// Insecure skips TLS certificate verification. A program that sets it
	// must tell its user loudly.
	Insecure bool
	// Auth maps a host ("example.com", any port) or a host:port
	// ("example.com:8443", that port only) to "user:pass". Basic auth is
	// added to requests to that host only, redirects included, and never to
	// another host (as zsync's -A). A request that already carries an
	// Authorization header keeps it.
	Auth map[string]string
	// RateLimit caps the bytes per second read from the network by all
	// connections of the client together (TLS and HTTP framing included: what
	// crosses the wire). 0 means unlimited.
	RateLimit int64
	// Proxy chooses the proxy for a request; nil means
	// http.ProxyFromEnvironment (http_proxy, https_proxy, no_proxy; the
	// proxy URL may carry credentials).
	Proxy func(*http.Request) (*url.URL, error)
	// MaxConnsPerHost bounds the connections to one host, dialing and idle
	// included. 0 means DefaultMaxConnsPerHost.
	MaxConnsPerHost int
}

// NewHTTPClient returns the HTTP client zync uses: HTTP/1.1 and HTTP/2 (when
// the server offers it over TLS), TLS verified against the system roots plus
// opts.CAFile, proxies from the environment unless opts.Proxy says
// otherwise, no overall timeout (transfers can be long; contexts bound them)
// and no transparent decompression (range answers must be the file's bytes).
func NewHTTPClient(opts HTTPOptions) (*http.Client, error) {
	if opts.ConnectTimeout < 0 || opts.RateLimit < 0 || opts.MaxConnsPerHost < 0 {
		return nil, errors.New("http options: negative connect timeout, rate limit or connection count")
	}
	connectTimeout := opts.ConnectTimeout
	if connectTimeout == 0 {
		connectTimeout = DefaultConnectTimeout
	}
	maxConns := opts.MaxConnsPerHost
	if maxConns == 0 {
		maxConns = DefaultMaxConnsPerHost
	}
	proxy := opts.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}

	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", opts.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	if opts.Insecure {
		tlsConf.InsecureSkipVerify = true
	}

	auth, err := parseAuth(opts.Auth)
	if err != nil {
		return nil, err
	}

	dialer := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if opts.RateLimit > 0 {
		lim := newWireLimiter(opts.RateLimit)
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &limitedConn{Conn: c, lim: lim}, nil
		}
	}

	tr := &http.Transport{
		Proxy:       proxy,
		DialContext: dial,
		// A custom DialContext or TLSClientConfig turns HTTP/2 off unless
		// asked for: ask for it.
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   connectTimeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   maxConns,
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		DisableCompression:    true,
	}
	var rt http.RoundTripper = tr
	if len(auth) > 0 {
		rt = &authTransport{next: tr, auth: auth}
	}
	return &http.Client{Transport: rt}, nil
}

// ---- Basic auth for named hosts ----

type basicAuth struct{ user, pass string }

// parseAuth checks and normalises an Auth map: lower-case keys, "user:pass"
// values.
func parseAuth(in map[string]string) (map[string]basicAuth, error) {
	out := make(map[string]basicAuth, len(in))
	for host, cred := range in {
		h := strings.ToLower(strings.TrimSpace(host))
		if h == "" || strings.ContainsAny(h, "/@ ") {
			return nil, fmt.Errorf("auth: bad host %q (want host or host:port)", host)
		}
		user, pass, ok := strings.Cut(cred, ":")
		if !ok {
			return nil, fmt.Errorf("auth for %s: want user:pass", h)
		}
		out[h] = basicAuth{user, pass}
	}
	return out, nil
}

// authTransport adds Basic auth to requests for the hosts it knows. It sits
// below http.Client, so it sees every request of a redirect chain with that
// request's own URL, and the credentials never enter the client's copy of
// the headers that redirects carry to other hosts.
type authTransport struct {
	next *http.Transport
	auth map[string]basicAuth
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") == "" {
		if a, ok := t.lookup(req.URL); ok {
			req = req.Clone(req.Context()) // a RoundTripper must not change its request
			req.SetBasicAuth(a.user, a.pass)
		}
	}
	return t.next.RoundTrip(req)
}

// lookup finds the credentials for u: host:port first (with the scheme's
// default port when u has none), then the bare host.
func (t *authTransport) lookup(u *url.URL) (basicAuth, bool) {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	if a, ok := t.auth[net.JoinHostPort(host, port)]; ok {
		return a, true
	}
	if a, ok := t.auth[host]; ok {
		return a, true
	}
	// An IPv6 literal may be given with brackets and no port.
	a, ok := t.auth["["+host+"]"]
	return a, ok
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the transport.
func (t *authTransport) CloseIdleConnections() { t.next.CloseIdleConnections() }

// ---- rate limit on the wire ----

// wireLimiter is a token bucket shared by every connection of one client.
type wireLimiter struct {
	lim   *rate.Limiter
	chunk int // largest read: the bucket's size
}

func newWireLimiter(bytesPerSec int64) *wireLimiter {
	// The bucket holds 1/16 s of traffic, between 1 KiB and 64 KiB: small
	// enough that a transfer starts at the set rate, large enough that a
	// read is not a system call per few bytes.
	chunk := int(min(max(bytesPerSec/16, 1<<10), 64<<10))
	return &wireLimiter{lim: rate.NewLimiter(rate.Limit(bytesPerSec), chunk), chunk: chunk}
}

// limitedConn charges every byte read to the shared bucket before handing
// it on. Writes (requests) are not limited.
type limitedConn struct {
	net.Conn
	lim *wireLimiter
}

func (c *limitedConn) Read(p []byte) (int, error) {
	if len(p) > c.lim.chunk {
		p = p[:c.lim.chunk]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		// n <= chunk == burst, so WaitN cannot fail; a wait is at most
		// chunk/rate per reader (1/16 s, more when connections share it).
		_ = c.lim.lim.WaitN(context.Background(), n)
	}
	return n, err
}
