package zsyncfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/rollsum"
)

// recordChunk is how many checksum records Parse reads at a time.
const recordChunk = 4096

// readBufSize is the size of Parse's read buffer; longer header lines are
// gathered separately, up to MaxLineLen.
const readBufSize = 4096

// The MTime forms zsync 0.6.2 accepts ("%a, %d %b %Y %H:%M:%S %z" and the
// same without the weekday). Go's "2" accepts one- or two-digit days and the
// weekday is checked only for syntax.
const (
	mtimeLayout          = "Mon, 2 Jan 2006 15:04:05 -0700"
	mtimeLayoutNoWeekday = "2 Jan 2006 15:04:05 -0700"
)

// parser holds the state of one Parse call.
type parser struct {
	br    *bufio.Reader
	line  int    // number of the last line read, 1-based
	bytes int    // header bytes read so far
	long  []byte // reused buffer for lines longer than the read buffer

	f File

	blocksize, length int64
	haveBS, haveLen   bool
	hashLengths       []int // nil when the header is absent
	algo              index.StrongAlgo
	safe              *string // most recent Safe value
	zurls             int
	anchorBits        int   // from AnchorsHeader, 0 when absent
	size              int64 // the control file's size, or -1 (ParseSized)
}

// Parse reads a .zsync control file: the header lines, the blank line and
// the checksum records (and zync's anchor records, see AnchorsHeader). Bytes
// after the last record are ignored; Parse may read past them. The package documentation lists what is accepted. Errors
// wrap ErrFormat or ErrUnsupported, or are I/O errors from r.
func Parse(r io.Reader) (*File, error) { return ParseSized(r, -1) }

// ParseSized is Parse for a reader whose size is known (a file's size, an
// HTTP Content-Length), or -1. When size shows that every checksum record
// is there, the index is allocated at once instead of grown as records
// arrive: growing a large index by appending leaves copies behind, and its
// peak memory is about twice the index (a 29.5 MB control file of 3.3 M
// blocks peaked at 69 MiB parsed with Parse, 35 MiB with ParseSized). A
// size that lies costs at most the memory the header's Length announces.
func ParseSized(r io.Reader, size int64) (*File, error) {
	p := &parser{br: bufio.NewReaderSize(r, readBufSize), size: size}
	if err := p.headers(); err != nil {
		return nil, err
	}
	if err := p.finishHeaders(); err != nil {
		return nil, err
	}
	if err := p.records(); err != nil {
		return nil, err
	}
	if err := p.anchors(); err != nil {
		return nil, err
	}
	if err := p.f.Index.Validate(); err != nil {
		return nil, fmt.Errorf("zsyncfile: %w: %w", ErrFormat, err)
	}
	return &p.f, nil
}

// lineErr formats an error about the current line and wraps sentinel.
func (p *parser) lineErr(sentinel error, format string, args ...any) error {
	return fmt.Errorf("zsyncfile: line %d: %s: %w", p.line, fmt.Sprintf(format, args...), sentinel)
}

// quote returns s quoted, shortened for error messages.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}

// readLine returns the next header line without its terminator and reports
// whether it was the blank line that ends the headers.
func (p *parser) readLine() (string, bool, error) {
	raw, err := p.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// A line longer than the read buffer: gather it, up to MaxLineLen.
		long := append(p.long[:0], raw...)
		for errors.Is(err, bufio.ErrBufferFull) && len(long) <= MaxLineLen {
			raw, err = p.br.ReadSlice('\n')
			long = append(long, raw...)
		}
		if len(long) > MaxLineLen {
			p.line++
			return "", false, p.lineErr(ErrFormat, "header line longer than %d bytes", MaxLineLen)
		}
		p.long = long
		raw = long
	}
	switch {
	case errors.Is(err, io.EOF):
		if p.line == 0 && len(raw) == 0 {
			return "", false, fmt.Errorf("zsyncfile: empty input, not a zsync file: %w", ErrFormat)
		}
		return "", false, fmt.Errorf("zsyncfile: input ends after %d header lines, before the blank line that ends the headers: %w", p.line, ErrFormat)
	case err != nil:
		return "", false, fmt.Errorf("zsyncfile: reading headers: %w", err)
	}
	p.line++
	p.bytes += len(raw)
	if p.line > MaxHeaders {
		return "", false, p.lineErr(ErrFormat, "more than %d header lines", MaxHeaders)
	}
	if p.bytes > MaxHeaderBytes {
		return "", false, p.lineErr(ErrFormat, "headers longer than %d bytes", MaxHeaderBytes)
	}
	if len(raw) == 1 || (len(raw) == 2 && raw[0] == '\r') {
		return "", true, nil
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return "", false, p.lineErr(ErrFormat, "NUL byte in header line")
	}
	// Like zsync 0.6.2: drop the LF and any trailing CR and spaces.
	return strings.TrimRight(string(raw[:len(raw)-1]), "\r "), false, nil
}

// headers reads the header section up to and including the blank line.
func (p *parser) headers() error {
	for {
		line, end, err := p.readLine()
		if err != nil {
			return err
		}
		if end {
			return nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return p.lineErr(ErrFormat, `want "Name: value", got %s`, quote(line))
		}
		if !validName(name) {
			return p.lineErr(ErrFormat, "bad header name %s", quote(name))
		}
		value = strings.TrimPrefix(value, " ")
		if value == "" {
			return p.lineErr(ErrFormat, "header %q has an empty value", name)
		}
		if err := p.header(name, value); err != nil {
			return err
		}
	}
}

// header interprets one header line.
func (p *parser) header(name, value string) error {
	switch name {
	case "zsync":
		if value == "0.0.4" {
			return p.lineErr(ErrUnsupported, "zsync 0.0.4 control files are not supported")
		}
		p.f.Version = value
	case "Min-Version":
		if compareVersions(value, supportedVersion) > 0 {
			return p.lineErr(ErrUnsupported, "file needs zsync %s or newer, this reader implements %s", quote(value), supportedVersion)
		}
	case "Filename":
		if strings.Contains(value, "/") || value == "." || value == ".." {
			p.f.Filename = "" // unsafe as an output name: ignored, as zsync does
		} else {
			p.f.Filename = value
		}
	case "MTime":
		p.f.MTime = parseMTime(value) // zero when unparsable: ignored, as zsync does
	case "Blocksize":
		n, err := parseCount(value)
		if err != nil {
			return p.lineErr(ErrFormat, "Blocksize %s: %v", quote(value), err)
		}
		if n < index.MinBlocksize || n > index.MaxBlocksize || n&(n-1) != 0 {
			return p.lineErr(ErrFormat, "Blocksize %d is not a power of two between %d and %d", n, index.MinBlocksize, index.MaxBlocksize)
		}
		p.blocksize, p.haveBS = n, true
	case "Length":
		n, err := parseCount(value)
		if err != nil {
			return p.lineErr(ErrFormat, "Length %s: %v", quote(value), err)
		}
		p.length, p.haveLen = n, true
	case "Hash-Lengths":
		hl, err := parseHashLengths(value)
		if err != nil {
			return p.lineErr(ErrFormat, "Hash-Lengths %s: %v", quote(value), err)
		}
		p.hashLengths = hl
	case "URL":
		p.f.URLs = append(p.f.URLs, value)
	case "Z-URL":
		p.zurls++
	case "SHA-1":
		v := strings.TrimLeft(value, " ")
		if len(v) != 40 {
			break // ignored, as zsync 0.6.2 does
		}
		sum, err := hex.DecodeString(v)
		if err != nil {
			return p.lineErr(ErrFormat, "SHA-1 %s is not hex", quote(v))
		}
		p.f.SHA1 = sum
	case "File-Hash":
		return p.fileHash(value)
	case "Strong-Hash-Algorithm":
		a, err := index.ParseStrongAlgo(value)
		if err != nil {
			return p.lineErr(ErrUnsupported, "%v", err)
		}
		p.algo = a
	case "Safe":
		v := value
		p.safe = &v
	case "Z-Map2":
		return p.skipZMap(value)
	case AnchorsHeader:
		n, err := parseCount(value)
		if err != nil || n < rollsum.MinAnchorBits || n > rollsum.MaxAnchorBits {
			return p.lineErr(ErrFormat, "%s %s is not an anchor density between %d and %d bits", AnchorsHeader, quote(value), rollsum.MinAnchorBits, rollsum.MaxAnchorBits)
		}
		p.anchorBits = int(n)
	case "Z-Filename", "Recompress":
		// gzip look-inside mode only: ignored.
	default:
		if p.safe == nil || !strings.Contains(*p.safe, name) {
			return p.lineErr(ErrUnsupported, "unknown header %q is not listed in Safe (written by a newer generator?)", name)
		}
		p.f.Extra = append(p.f.Extra, Header{Name: name, Value: value})
	}
	return nil
}

// fileHash interprets a File-Hash value, "ALGORITHM:hex".
func (p *parser) fileHash(value string) error {
	algo, digest, ok := strings.Cut(value, ":")
	if !ok {
		return nil // no algorithm: ignored, as upstream 0.7 does
	}
	var size int
	switch algo {
	case "SHA-256":
		size = 32
	case "SHA-1":
		size = 20
	default:
		return nil // unknown algorithm: ignored, as upstream 0.7 does
	}
	sum, err := hex.DecodeString(strings.TrimSpace(digest))
	if err != nil || len(sum) != size {
		return p.lineErr(ErrFormat, "File-Hash %s digest %s is not %d hex digits", algo, quote(digest), 2*size)
	}
	if size == 32 {
		p.f.SHA256 = sum
	} else {
		p.f.SHA1 = sum
	}
	return nil
}

// skipZMap discards the 4·N bytes of binary data that follow a Z-Map2 line.
func (p *parser) skipZMap(value string) error {
	n, err := parseCount(value)
	if err != nil {
		return p.lineErr(ErrFormat, "Z-Map2 %s: %v", quote(value), err)
	}
	if n > MaxZMapEntries {
		return p.lineErr(ErrFormat, "Z-Map2 claims %d entries, more than the limit of %d", n, MaxZMapEntries)
	}
	got, err := p.br.Discard(int(4 * n))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return p.lineErr(ErrFormat, "Z-Map2 claims %d bytes of map data but the input ends after %d", 4*n, got)
		}
		return fmt.Errorf("zsyncfile: reading Z-Map2 data: %w", err)
	}
	return nil
}

// finishHeaders checks the header section as a whole and sets up the Index.
func (p *parser) finishHeaders() error {
	if !p.haveBS || !p.haveLen {
		return fmt.Errorf("zsyncfile: not a zsync file (looked for Blocksize and Length lines): %w", ErrFormat)
	}
	if len(p.f.URLs) == 0 && p.zurls > 0 {
		return fmt.Errorf("zsyncfile: the file offers only Z-URL (gzip look-inside) downloads, which are not supported; it needs a URL line: %w", ErrUnsupported)
	}
	x := &p.f.Index
	x.Blocksize = int(p.blocksize)
	x.Length = p.length
	x.Algo = p.algo
	if p.hashLengths == nil {
		x.SeqMatches, x.WeakBytes, x.StrongLen = 1, 4, p.algo.Size()
	} else {
		x.SeqMatches, x.WeakBytes, x.StrongLen = p.hashLengths[0], p.hashLengths[1], p.hashLengths[2]
		if x.StrongLen > p.algo.Size() {
			return fmt.Errorf("zsyncfile: Hash-Lengths asks for %d strong sum bytes but %s sums have %d: %w", x.StrongLen, p.algo, p.algo.Size(), ErrFormat)
		}
	}
	if blocks := numBlocks(p.length, p.blocksize); blocks > index.MaxBlocks {
		return fmt.Errorf("zsyncfile: Length %d with Blocksize %d is %d blocks, more than the limit of %d: %w", p.length, p.blocksize, blocks, int64(index.MaxBlocks), ErrFormat)
	}
	return nil
}

// records reads the checksum records, growing the slices only as records
// actually arrive.
func (p *parser) records() error {
	x := &p.f.Index
	blocks := numBlocks(x.Length, int64(x.Blocksize))
	recLen := x.WeakBytes + x.StrongLen
	first := min(blocks, recordChunk)
	if p.size >= blocks*int64(recLen) {
		first = blocks
	}
	x.Weak = make([]uint32, 0, first)
	x.Strong = make([]byte, 0, first*int64(x.StrongLen))
	buf := make([]byte, min(blocks, recordChunk)*int64(recLen))
	for got := int64(0); got < blocks; {
		n := min(blocks-got, recordChunk)
		k, err := io.ReadFull(p.br, buf[:n*int64(recLen)])
		full := k / recLen
		for i := range full {
			rec := buf[i*recLen : (i+1)*recLen]
			var w uint32
			for _, c := range rec[:x.WeakBytes] {
				w = w<<8 | uint32(c)
			}
			x.Weak = append(x.Weak, w)
			x.Strong = append(x.Strong, rec[x.WeakBytes:]...)
		}
		got += int64(full)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("zsyncfile: checksum section ends after %d complete records of %d bytes, want %d (truncated file?): %w", got, recLen, blocks, ErrFormat)
			}
			return fmt.Errorf("zsyncfile: reading checksum records: %w", err)
		}
	}
	return nil
}

// anchors reads the anchor records announced by AnchorsHeader, if any.
func (p *parser) anchors() error {
	if p.anchorBits == 0 {
		return nil
	}
	x := &p.f.Index
	blocks := len(x.Weak)
	a := &index.Anchors{Bits: p.anchorBits, Off: make([]uint16, 0, min(blocks, recordChunk)), Key: make([]uint32, 0, min(blocks, recordChunk))}
	if p.size >= 0 {
		// The records are all there if the size says so (see ParseSized).
		a.Off, a.Key = slices.Grow(a.Off, blocks), slices.Grow(a.Key, blocks)
	}
	buf := make([]byte, min(blocks, recordChunk)*anchorRecLen)
	for got := 0; got < blocks; {
		n := min(blocks-got, recordChunk)
		k, err := io.ReadFull(p.br, buf[:n*anchorRecLen])
		full := k / anchorRecLen
		for i := range full {
			rec := buf[i*anchorRecLen:]
			a.Off = append(a.Off, binary.BigEndian.Uint16(rec))
			a.Key = append(a.Key, binary.BigEndian.Uint32(rec[2:]))
		}
		got += full
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("zsyncfile: the %s section ends after %d complete records, want %d (truncated file?): %w", AnchorsHeader, got, blocks, ErrFormat)
			}
			return fmt.Errorf("zsyncfile: reading anchor records: %w", err)
		}
	}
	x.Anchors = a
	return nil
}

// numBlocks returns ceil(length/blocksize) without overflowing.
func numBlocks(length, blocksize int64) int64 {
	n := length / blocksize
	if length%blocksize != 0 {
		n++
	}
	return n
}

// parseCount parses a non-negative decimal number. Leading spaces are
// allowed, as atol allows them.
func parseCount(s string) (int64, error) {
	s = strings.TrimLeft(s, " \t")
	if s == "" {
		return 0, errors.New("not a number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a non-negative decimal number")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("number out of range")
	}
	return n, nil
}

// parseHashLengths parses "seq,weak,strong" and checks each against the
// widest bounds any strong algorithm allows.
func parseHashLengths(s string) ([]int, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return nil, errors.New("want seq_matches,weak_bytes,strong_bytes")
	}
	hl := make([]int, 3)
	for i, part := range parts {
		n, err := parseCount(strings.TrimRight(part, " \t"))
		if err != nil || n > 1000 {
			return nil, fmt.Errorf("field %d is not a small non-negative number", i+1)
		}
		hl[i] = int(n)
	}
	switch {
	case hl[0] < 1 || hl[0] > 2:
		return nil, fmt.Errorf("seq_matches %d is not 1 or 2", hl[0])
	case hl[1] < 1 || hl[1] > 4:
		return nil, fmt.Errorf("weak sum length %d is not between 1 and 4", hl[1])
	case hl[2] < 3 || hl[2] > index.SHA224.Size():
		return nil, fmt.Errorf("strong sum length %d is not between 3 and %d", hl[2], index.SHA224.Size())
	}
	return hl, nil
}

// parseMTime parses an MTime value, returning the zero time if it does not
// parse or is outside the years 0000–9999 in UTC (Encode could not write it
// back).
func parseMTime(s string) time.Time {
	for _, layout := range []string{mtimeLayout, mtimeLayoutNoWeekday} {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		t = t.UTC()
		if y := t.Year(); y < 0 || y > 9999 {
			return time.Time{}
		}
		return t
	}
	return time.Time{}
}

// compareVersions compares dotted version strings component by component,
// numerically where both components are numbers and as strings otherwise; a
// missing component counts as 0.
func compareVersions(a, b string) int {
	as := strings.Split(strings.TrimSpace(a), ".")
	bs := strings.Split(strings.TrimSpace(b), ".")
	for i := range max(len(as), len(bs)) {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		xn, errx := strconv.ParseUint(x, 10, 64)
		yn, erry := strconv.ParseUint(y, 10, 64)
		switch {
		case errx == nil && erry == nil:
			if xn != yn {
				if xn < yn {
					return -1
				}
				return 1
			}
		case x != y:
			return strings.Compare(x, y)
		}
	}
	return 0
}
