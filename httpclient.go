package zync

import "net/http"

// NewHTTPClient returns the HTTP client zync uses by default: HTTP/1.1 and
// HTTP/2, TLS verified against the system roots, proxies from the
// environment, no overall timeout (transfers can be long; contexts bound them).
func NewHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	tr.DisableCompression = true
	return &http.Client{Transport: tr}
}
