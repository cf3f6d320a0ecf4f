// Package zsyncfile reads and writes .zsync control files.
//
// A control file is a block of "Name: value" text lines, a blank line, and
// one binary checksum record per target block (see docs/zsync-format.md).
// Parse reads every dialect in the wild: zsync 0.6.x, zsync2 (headers in any
// order, "zsync:" last or missing) and zsync 0.7.x / SPEC 0.8
// (Strong-Hash-Algorithm, File-Hash, Safe). Encode writes files that both the
// zsync 0.6.2 client and upstream's Go 0.7.x client accept.
//
// # Reading (Parse)
//
// Parse follows zsync 0.6.2 where that is unambiguous and is lenient where
// leniency cannot change the meaning of a file:
//
//   - Header lines end in LF or CRLF; trailing CR and spaces are removed from
//     every line, as 0.6.2 does. The blank line that ends the headers may be
//     "\n" or "\r\n" (0.6.2 accepts only "\n").
//   - A line is "Name: value". The colon is required; the space after it is
//     optional (0.6.2 requires it). Exactly one space is consumed, further
//     spaces stay in the value. An empty value is an error, as in 0.6.2 (which
//     strips the trailing space and then finds no ": ").
//   - Header names are case-sensitive and must be visible ASCII (0x21–0x7E)
//     other than ':'. Lines containing a NUL byte are rejected.
//   - Headers may come in any order; a later duplicate overwrites an earlier
//     one, except URL, which accumulates. zsync 0.0.4 files are refused.
//   - Unknown headers are fatal (ErrUnsupported) unless the most recent Safe
//     value seen before them contains the name as a substring (0.6.2's rule);
//     such headers are kept in File.Extra.
//   - Min-Version is refused (ErrUnsupported) when it is newer than the
//     format this package implements, SPEC 0.8 / zsync 0.8.0. Versions are
//     compared numerically component by component.
//   - Z-Map2 is accepted anywhere and exactly 4·N bytes after its line are
//     discarded. Z-URL, Z-Filename and Recompress are ignored, but a file
//     whose only download locations are Z-URLs is refused (ErrUnsupported):
//     gzip look-inside is not supported.
//   - Hash-Lengths defaults to 1,4,S where S is the digest size of the strong
//     algorithm (16 for MD4 and MD5, which is 0.6.2's 1,4,16). Bounds:
//     1 ≤ seq ≤ 2, 1 ≤ weak ≤ 4, 3 ≤ strong ≤ digest size.
//   - Blocksize must be a power of two in [index.MinBlocksize,
//     index.MaxBlocksize]; Length must be ≥ 0. Length 0 is accepted (zero
//     blocks, zero records) although the 0.6.2 client refuses it.
//   - MTime is RFC 1123 with a numeric zone, with or without the weekday, and
//     the day may have one or two digits. An MTime that does not parse, or
//     that falls outside the years 0000–9999 in UTC, is ignored, as zsync
//     ignores an unparsable one.
//   - SHA-1 must be 40 characters, otherwise it is ignored (0.6.2 does the
//     same); 40 characters that are not hex are an error. File-Hash SHA-256
//     and SHA-1 values are understood, other File-Hash algorithms are ignored
//     (as upstream 0.7 does).
//   - A Filename containing '/' or equal to "." or ".." is ignored.
//   - Anything after the last record is ignored (zsyncmake's gzip mode
//     appends a junk record).
//
// Parse never allocates from a count found in the file: header lines, total
// header size and header count are bounded, the block count is bounded by
// index.MaxBlocks, and the checksum slices grow only as records are actually
// read.
//
// # Writing (Encode)
//
// Encode writes the headers in this order:
//
//	zsync: <Version, default 0.6.2>
//	Filename: <Filename>                       (if set)
//	MTime: Wed, 01 May 2024 12:00:00 +0000     (if set, always in UTC)
//	Blocksize, Length, Hash-Lengths: seq,weak,strong
//	URL: <url>                                 (one line per URL)
//	SHA-1: <lower-case hex>                    (if set)
//	Safe: File-Hash                            (if SHA256 is set)
//	Strong-Hash-Algorithm: MD5 | SHA-224       (only if the algorithm is not MD4)
//	File-Hash: SHA-256:<lower-case hex>        (if SHA256 is set)
//	Safe: X-Zync-Anchors, X-Zync-Anchors: bits (if the index has anchors)
//	Safe: <Name> and <Name>: <Value>           (for each Extra header)
//
// The anchor records (see AnchorsHeader) follow the checksum records.
//
// The first eight are zsyncmake 0.6.2's order, so a File built like
// zsyncmake's output is encoded byte for byte as zsyncmake writes it (the
// worked example of docs/zsync-format.md §12 round-trips exactly). "zsync"
// comes first, which upstream's Go 0.7 parser requires; it accepts the other
// headers in any order.
//
// Strong-Hash-Algorithm is omitted for MD4, the algorithm every reader
// assumes without it, and it is never listed in Safe: a 0.6.2 client
// therefore refuses MD5 and SHA-224 files instead of misreading them
// ("unrecognised tag Strong-Hash-Algorithm", or "nonsensical hash lengths"
// first when more than 16 strong bytes are stored), and accepts MD4 ones.
// File-Hash is listed in Safe so that 0.6.2 skips it. Safe is written only
// when there is something to list. Each Extra header gets its own
// "Safe: <Name>" line right before it: 0.6.2 looks only at the most recent
// Safe value (as a substring), and upstream's Go 0.7 parser accepts an
// unknown header only when a Safe value equals its name exactly, so one Safe
// line per extension header is the form both accept.
//
// Lines are at most 1023 bytes including the LF, the limit of the 0.6.2
// client; Encode refuses longer ones.
package zsyncfile

import (
	"errors"
	"time"

	"github.com/zyncio/zync/index"
)

// ErrFormat is wrapped by errors for input that is malformed, is not a
// .zsync file, or exceeds this package's limits, and by Encode for a File
// that cannot be written as a valid .zsync file.
var ErrFormat = errors.New("not a valid .zsync file")

// ErrUnsupported is wrapped by errors for well-formed files that use
// something this package does not support: an unknown header that is not
// listed in Safe, a Min-Version newer than SPEC 0.8, a file that offers only
// gzip look-inside downloads (Z-URL), an unknown strong hash algorithm, or a
// zsync 0.0.4 file.
var ErrUnsupported = errors.New("unsupported .zsync file")

// Header is one "Name: value" line of a control file.
type Header struct{ Name, Value string }

// File is a parsed .zsync control file.
type File struct {
	// Version is the value of the "zsync:" header: the generator's version.
	// Parse leaves it "" when the header is absent; Encode writes
	// DefaultVersion when it is "".
	Version string
	// Filename is the suggested output name, "" if absent. It never contains
	// '/'.
	Filename string
	// MTime is the target's modification time, zero if absent. Parse always
	// returns it in UTC.
	MTime time.Time
	// URLs lists the URL lines in file order. Z-URL lines are not included.
	URLs []string
	// SHA1 is the SHA-1 of the whole target (20 bytes), nil if absent.
	SHA1 []byte
	// SHA256 is the SHA-256 of the whole target (32 bytes) from
	// "File-Hash: SHA-256:<hex>", nil if absent.
	SHA256 []byte
	// Extra holds unknown headers that were accepted because Safe listed
	// them, in file order. Encode writes them last, each preceded by a Safe
	// line naming it.
	Extra []Header
	// Index holds the block parameters and checksums.
	Index index.Index
}

// AnchorsHeader is the header of zync's anchor records (index.Anchors). Its
// value is the anchor density's Bits; the records follow the checksum
// records, one per block: the anchor offset as two big-endian bytes
// (index.NoAnchor for none), then the key (the weak sum of the 64 bytes
// after the anchor window) as four. zsync 0.6.2 skips the header (Encode
// lists it in Safe) and reads nothing past the checksum records, so the
// records cost it nothing.
const AnchorsHeader = "X-Zync-Anchors"

// anchorRecLen is the size of one anchor record.
const anchorRecLen = 6

// DefaultVersion is what Encode writes in the "zsync:" header when
// File.Version is empty.
const DefaultVersion = "0.6.2"

// Limits of the reader and writer.
const (
	// MaxLineLen is the longest header line Parse accepts, terminator included.
	MaxLineLen = 64 << 10
	// MaxHeaderBytes bounds the total size of the header lines Parse reads
	// (Z-Map2 payloads are not counted).
	MaxHeaderBytes = 1 << 20
	// MaxHeaders bounds the number of header lines Parse reads.
	MaxHeaders = 4096
	// MaxZMapEntries bounds the N of a "Z-Map2: N" header.
	MaxZMapEntries = 1 << 28
	// MaxWriteLineLen is the longest line Encode writes, LF included: the
	// zsync 0.6.2 client reads lines into a 1024-byte buffer.
	MaxWriteLineLen = 1023
)

// supportedVersion is the newest format version this package implements; a
// Min-Version above it is refused.
const supportedVersion = "0.8.0"

// knownHeader reports whether name has a meaning of its own to this package;
// Extra never holds such headers.
func knownHeader(name string) bool {
	switch name {
	case "zsync", "Min-Version", "Filename", "MTime", "Blocksize", "Length",
		"Hash-Lengths", "URL", "SHA-1", "Safe", "Strong-Hash-Algorithm",
		"File-Hash", "Z-URL", "Z-Map2", "Z-Filename", "Recompress", AnchorsHeader:
		return true
	}
	return false
}

// validName reports whether s can be a header name: visible ASCII other than
// ':'.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}
