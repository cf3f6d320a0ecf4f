package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/zyncio/zync/patch"
	"io/fs"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/zyncio/zync"
	"github.com/zyncio/zync/assemble"
	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/zsyncfile"
)

// classify maps an error to an exit code by the sentinels it wraps.
func classify(err error) int {
	switch {
	case errors.Is(err, patch.ErrWrongSeed):
		return exitVerify
	case errors.Is(err, patch.ErrCorrupt), errors.Is(err, patch.ErrUnsupported):
		return exitControl
	case errors.Is(err, source.ErrLengthMismatch), errors.Is(err, source.ErrChanged):
		return exitDiffer
	case errors.Is(err, assemble.ErrVerify), errors.Is(err, assemble.ErrBlockMismatch):
		return exitVerify
	case errors.Is(err, zsyncfile.ErrFormat), errors.Is(err, zsyncfile.ErrUnsupported),
		errors.Is(err, zync.ErrUnsafeName), errors.Is(err, zync.ErrNoURL):
		return exitControl
	case errors.Is(err, source.ErrNotFound), errors.Is(err, source.ErrPermanent),
		isNetError(err), isTLSError(err), httpStatus(err) != 0:
		return exitNetwork
	}
	return exitFailure
}

func isNetError(err error) bool {
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && !errors.Is(err, fs.ErrNotExist) {
		var pe *fs.PathError
		return !errors.As(err, &pe)
	}
	return false
}

func isTLSError(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
	)
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cve) || errors.As(err, &rhe)
}

// statusRE finds an HTTP status in a message: "HTTP 401 Unauthorized" (the
// control file) or ": 403 Forbidden:" (a range request).
var statusRE = regexp.MustCompile(`(?:HTTP |: )([1-5][0-9][0-9]) [A-Z]`)

// httpStatus returns the HTTP status an error reports, or 0. An error type
// with a StatusCode method is believed first; otherwise the message is read.
func httpStatus(err error) int {
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) {
		return sc.StatusCode()
	}
	if m := statusRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n >= 400 {
			return n
		}
	}
	return 0
}

const proxyVars = "http_proxy, https_proxy, no_proxy"

// hintFor says what the user can do about an error.
func hintFor(err error) string {
	switch {
	case errors.Is(err, patch.ErrWrongSeed):
		return "the patch was made from another file: give the file it was made from; the output was left untouched"
	case errors.Is(err, patch.ErrCorrupt):
		return "the patch is damaged or truncated: fetch it again; the output was left untouched"
	case errors.Is(err, patch.ErrUnsupported):
		return "the patch needs a newer zync"
	case errors.Is(err, source.ErrChanged):
		return "the file on the server changed during the run; run again"
	case errors.Is(err, source.ErrLengthMismatch):
		return "the control file does not describe the file on the server (published out of step?); fetch a fresh control file"
	case errors.Is(err, assemble.ErrVerify):
		return "the assembled file does not match the control file's hash; the output was left untouched"
	case errors.Is(err, assemble.ErrBlockMismatch):
		return "the server sent bytes that do not match the control file; the output was left untouched"
	case errors.Is(err, zync.ErrUnsafeName):
		return "give the output path with -o"
	}
	if h := tlsHint(err); h != "" {
		return h
	}
	switch st := httpStatus(err); {
	case st == 401 || st == 403:
		return fmt.Sprintf("the server refused access (HTTP %d): give credentials with -A host=user:pass (or a header with -H); a signed URL may have expired: get a fresh one", st)
	case st == 407:
		return "the proxy wants credentials: put them in the proxy URL (https_proxy=http://user:pass@proxy:port)"
	case st == 404 || st == 410 || errors.Is(err, source.ErrNotFound):
		return "check the URL; the control file may point at a file that was moved or not yet published"
	case st == 429 || st >= 500:
		return fmt.Sprintf("the server is overloaded or failing (HTTP %d): try again later, or name a mirror with --url", st)
	}
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		return "the host name does not resolve: check the URL, the DNS settings, or the proxy settings (" + proxyVars + ")"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing accepts connections there: check the host and port of the URL, or the proxy settings (" + proxyVars + ")"
	case errors.As(err, &op) && op.Op == "dial" && op.Timeout(),
		strings.Contains(err.Error(), "TLS handshake timeout"):
		return "could not connect within --connect-timeout: check the network, the host and port, and the proxy settings (" + proxyVars + ")"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "the network failed: check the connection and the proxy settings (" + proxyVars + "); run again to resume"
	}
	return ""
}

func tlsHint(err error) string {
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &he):
		return "the server's TLS certificate is for another name than the URL's host: check the URL"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return "the server's TLS certificate has expired or is not valid yet: check the system clock, or tell the server's operator"
	case errors.As(err, &ua), errors.As(err, &ci), errors.As(err, &cve):
		return "the server's TLS certificate is not signed by a CA this system trusts: give the CA's certificate with --cacert FILE (--insecure turns verification off: a last resort)"
	case errors.As(err, &rhe):
		return "the server does not speak TLS there: use an http:// URL, or check the port"
	}
	return ""
}
