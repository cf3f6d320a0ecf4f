// Package zpack writes and reads the compressed companion of a target: the
// target cut into runs of blocks, each run compressed on its own with zstd,
// so that a client can fetch the compressed bytes of just the runs that hold
// the blocks it lacks and decompress them independently.
//
// # Tiers
//
// Small runs waste little data that a client does not need; large runs
// compress better. A companion therefore holds the target at several run
// sizes, the tiers (by default 1, 8 and 128 blocks), and a client picks, for
// each part of the target it needs, the cheapest mix: a whole 128-block frame
// when most of its blocks are missing, single-block frames for a few
// scattered blocks. Every frame is an independent zstd frame; all frames may
// share one small zstd dictionary trained on the target (TrainDictionary),
// which mostly helps the smallest frames.
//
// # Files and control-file header
//
// The companion (conventionally TARGET.zpack) is the frames, then the map
// (which frame holds which target bytes, the tiers, the dictionary), then a
// 16-byte trailer; docs/compressed-format.md describes the bytes. The control
// file names the companion and the map's place and SHA-256 in one header,
// HeaderName, announced in Safe so that zsync 0.6.2 ignores it (see Ref).
//
// # Writing and reading
//
// Write streams a target once, compresses its runs on every core and writes
// the companion; its Result gives the Ref to put in the control file.
// A client calls Open to fetch and check the map through a Source of the
// companion's bytes (an httpsource.Source for the companion URL, usually
// behind retry), then NewSource for a source.Source of the target's bytes.
// Fallback puts the plain target behind it, for a companion that turns out
// to be broken.
//
// Corrupt compressed data never yields bytes silently: every frame carries
// a zstd checksum, every decoded frame must have exactly its run's length,
// and errors for bad data wrap source.ErrBadData. The caller still checks
// every block's strong sum.
package zpack

import (
	"errors"
)

// Version is the format version Write produces and the only one read.
const Version = 1

// Limits of the format. Every count and length read from a map is checked
// against them before anything is allocated from it.
const (
	// MaxTiers bounds the number of tiers.
	MaxTiers = 8
	// MaxRunSize bounds the target bytes one frame holds (64 MiB, the
	// largest blocksize an index may have).
	MaxRunSize = 1 << 26
	// MaxDictSize bounds the shared dictionary.
	MaxDictSize = 1 << 20
	// MaxMapSize bounds the map section as stored and, separately, its
	// decompressed body.
	MaxMapSize = 1 << 27
	// MaxFrames bounds the number of frames of all tiers together.
	MaxFrames = 1 << 26
	// MaxLength bounds the target length.
	MaxLength = 1 << 56
	// TrailerSize is the size of the trailer that ends a companion.
	TrailerSize = 16
)

// DefaultTiers are the run sizes of Options.Tiers, in blocks. Measured on a
// Go toolchain tar (go1.22.1 → go1.22.2, 4 KiB blocks) and on the
// typescript npm tarball (5.4.5 → 5.5.2, 2 KiB blocks): see
// docs/compressed-format.md.
var DefaultTiers = []int{1, 8, 128}

// DefaultDictSize is the dictionary size TrainDictionary aims at.
const DefaultDictSize = 32 << 10

// Magic strings.
const (
	mapMagic     = "ZPACKMAP"
	trailerMagic = "ZPACKEND"
	// dictID is the zstd dictionary ID of trained dictionaries. Frames
	// record it; it only has to match the map's dictionary.
	dictID = 1
)

var (
	// ErrFormat is wrapped by errors for a map, trailer or header value that
	// is malformed or exceeds the limits.
	ErrFormat = errors.New("not a valid zpack companion")
	// ErrUnsupported is wrapped by errors for a companion of another format
	// version.
	ErrUnsupported = errors.New("unsupported zpack version")
)

// frameBound is the most compressed bytes a frame of n target bytes may
// take: zstd's worst case (stored blocks) plus the frame header and
// checksum, with room to spare.
func frameBound(n int64) int64 { return n + n>>7 + 512 }
