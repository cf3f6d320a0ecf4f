// Package patch makes and applies patches: payloads that turn one known
// seed into the target and carry nothing more than the target bytes the
// seed lacks, plus enough of the seed's index to check it.
//
// Diff matches the target against the seed's bytes: the seed is indexed at
// content-defined anchors, the target is scanned with a rolling check, and
// every candidate is verified and extended byte by byte in both directions,
// so copies are exact to the byte (not aligned to blocks). DiffFromControl
// needs only the seed's control file (.zsync): it finds whole seed blocks in
// the target by their weak and strong sums, which is coarser but needs no
// old data.
//
// A patch is a header (the seed's length, whole-file hash and block table,
// the target's length), sections of copy/literal instructions with their
// literal bytes (zstd-compressed), the target's SHA-256 and a SHA-256
// trailer over the whole patch. The format is described in
// docs/patch-format.md.
//
// Apply checks the seed before writing anything (ErrWrongSeed), streams the
// sections with bounded memory, checks every seed block it copies from
// against the block table, and checks the trailer and the target's SHA-256
// at the end (ErrCorrupt). ApplyFile builds the target in a temporary file
// beside the output and renames it into place only once verified.
package patch
