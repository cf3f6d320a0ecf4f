package zsyncfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/zyncio/zync/index"
)

// mtimeFormat is how MTime is written (always in UTC, so it ends "+0000").
const mtimeFormat = "Mon, 02 Jan 2006 15:04:05 -0700"

// Encode checks f and writes it as a .zsync control file: the header lines,
// a blank line and the checksum records. The package documentation gives the
// header order and the rules for Safe and Strong-Hash-Algorithm.
//
// f must have a valid Index, at least one URL, a Filename without '/', SHA1
// and SHA256 of the right sizes if set, header values that are non-empty,
// contain no LF or NUL and do not end in a space or CR (the 0.6.2 client
// strips those), Extra names that are visible ASCII without ':' and are not
// headers this package knows, and no line longer than MaxWriteLineLen bytes.
// Otherwise Encode writes nothing and returns an error wrapping ErrFormat.
func (f *File) Encode(w io.Writer) error {
	hdr, err := f.header()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(hdr); err != nil {
		return fmt.Errorf("zsyncfile: writing header: %w", err)
	}
	if err := writeRecords(bw, &f.Index); err != nil {
		return err
	}
	if err := writeAnchors(bw, f.Index.Anchors); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("zsyncfile: writing: %w", err)
	}
	return nil
}

// encodeErr formats an Encode validation error and wraps ErrFormat.
func encodeErr(format string, args ...any) error {
	return fmt.Errorf("zsyncfile: cannot encode: %s: %w", fmt.Sprintf(format, args...), ErrFormat)
}

// header validates f and returns its header section, blank line included.
func (f *File) header() ([]byte, error) {
	if err := validIndex(&f.Index); err != nil {
		return nil, fmt.Errorf("zsyncfile: cannot encode: %w: %w", ErrFormat, err)
	}
	if len(f.URLs) == 0 {
		return nil, encodeErr("no URL (the zsync client needs at least one URL line)")
	}
	if strings.Contains(f.Filename, "/") || f.Filename == "." || f.Filename == ".." {
		return nil, encodeErr("Filename %s must be a plain file name without '/'", quote(f.Filename))
	}
	if f.SHA1 != nil && len(f.SHA1) != 20 {
		return nil, encodeErr("SHA1 has %d bytes, want 20", len(f.SHA1))
	}
	if f.SHA256 != nil && len(f.SHA256) != 32 {
		return nil, encodeErr("SHA256 has %d bytes, want 32", len(f.SHA256))
	}
	version := f.Version
	if version == "" {
		version = DefaultVersion
	}
	if version == "0.0.4" {
		return nil, encodeErr(`Version "0.0.4" would make zsync refuse the file`)
	}
	if !f.MTime.IsZero() {
		if y := f.MTime.UTC().Year(); y < 0 || y > 9999 {
			return nil, encodeErr("MTime year %d is outside 0000-9999", y)
		}
	}

	var b bytes.Buffer
	var err error
	add := func(name, value string) {
		if err != nil {
			return
		}
		if !validValue(value) {
			err = encodeErr("%s value %s is empty, contains LF or NUL, or ends in a space or CR", name, quote(value))
			return
		}
		if n := len(name) + 2 + len(value) + 1; n > MaxWriteLineLen {
			err = encodeErr("%s line is %d bytes, more than the %d zsync 0.6.2 can read", name, n, MaxWriteLineLen)
			return
		}
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteByte('\n')
	}

	x := &f.Index
	add("zsync", version)
	if f.Filename != "" {
		add("Filename", f.Filename)
	}
	if !f.MTime.IsZero() {
		add("MTime", f.MTime.UTC().Format(mtimeFormat))
	}
	add("Blocksize", strconv.Itoa(x.Blocksize))
	add("Length", strconv.FormatInt(x.Length, 10))
	add("Hash-Lengths", fmt.Sprintf("%d,%d,%d", x.SeqMatches, x.WeakBytes, x.StrongLen))
	for _, u := range f.URLs {
		add("URL", u)
	}
	if f.SHA1 != nil {
		add("SHA-1", hex.EncodeToString(f.SHA1))
	}
	// SPEC 0.8 headers. Strong-Hash-Algorithm is omitted for MD4 (every
	// reader defaults to MD4) and never listed in Safe, so that 0.6.2 refuses
	// files it would misread. File-Hash is safe for 0.6.2 to skip.
	if f.SHA256 != nil {
		add("Safe", "File-Hash")
	}
	if x.Algo != index.MD4 {
		add("Strong-Hash-Algorithm", x.Algo.String())
	}
	if f.SHA256 != nil {
		add("File-Hash", "SHA-256:"+hex.EncodeToString(f.SHA256))
	}
	if a := x.Anchors; a != nil {
		add("Safe", AnchorsHeader)
		add(AnchorsHeader, strconv.Itoa(a.Bits))
	}
	// One Safe line per extension header: 0.6.2 matches the most recent
	// Safe value as a substring, upstream's Go 0.7 parser needs a Safe value
	// equal to the name; "Safe: <Name>" right before the header satisfies
	// both.
	for _, h := range f.Extra {
		if !validName(h.Name) || knownHeader(h.Name) {
			return nil, encodeErr("Extra header name %s is not a valid extension header name", quote(h.Name))
		}
		add("Safe", h.Name)
		add(h.Name, h.Value)
	}
	if err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// validValue reports whether s can be written as a header value and read
// back unchanged.
func validValue(s string) bool {
	return s != "" && !strings.ContainsAny(s, "\n\x00") &&
		!strings.HasSuffix(s, " ") && !strings.HasSuffix(s, "\r")
}

// validIndex runs x.Validate after checking what Validate cannot see
// without overflowing.
func validIndex(x *index.Index) error {
	if x.Blocksize > 0 && x.Length > 0 && numBlocks(x.Length, int64(x.Blocksize)) > index.MaxBlocks {
		return fmt.Errorf("%w: length %d is more than %d blocks of %d", index.ErrInvalid, x.Length, int64(index.MaxBlocks), x.Blocksize)
	}
	return x.Validate()
}

// EncodeRecords writes the checksum section of a .zsync file for x: for
// each block, the trailing x.WeakBytes bytes of its big-endian packed weak
// sum followed by its x.StrongLen strong sum bytes, exactly as zsyncmake
// writes them. x must be valid (index.Index.Validate).
func EncodeRecords(w io.Writer, x *index.Index) error {
	if err := validIndex(x); err != nil {
		return fmt.Errorf("zsyncfile: cannot encode records: %w: %w", ErrFormat, err)
	}
	bw := bufio.NewWriter(w)
	if err := writeRecords(bw, x); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("zsyncfile: writing checksum records: %w", err)
	}
	return nil
}

// writeRecords writes the records of a validated index.
func writeRecords(bw *bufio.Writer, x *index.Index) error {
	var rec [4 + 32]byte
	wb, sl := x.WeakBytes, x.StrongLen
	for i, weak := range x.Weak {
		for j := range wb {
			rec[j] = byte(weak >> (8 * uint(wb-1-j)))
		}
		copy(rec[wb:], x.Strong[i*sl:(i+1)*sl])
		if _, err := bw.Write(rec[:wb+sl]); err != nil {
			return fmt.Errorf("zsyncfile: writing checksum records: %w", err)
		}
	}
	return nil
}

// writeAnchors writes the anchor records of a validated index, if it has
// anchors.
func writeAnchors(bw *bufio.Writer, a *index.Anchors) error {
	if a == nil {
		return nil
	}
	var rec [anchorRecLen]byte
	for i, o := range a.Off {
		binary.BigEndian.PutUint16(rec[:], o)
		binary.BigEndian.PutUint32(rec[2:], a.Key[i])
		if _, err := bw.Write(rec[:]); err != nil {
			return fmt.Errorf("zsyncfile: writing anchor records: %w", err)
		}
	}
	return nil
}
