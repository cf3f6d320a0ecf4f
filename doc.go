// Package zync moves only what changed: it makes zsync-compatible indexes
// of files (Make) and updates a local file to a published target by reusing
// the blocks that local seeds already hold and fetching only the rest with
// HTTP range requests (Get).
//
// The root package is the embedding API: context first, options structs,
// progress through a callback, no printing. The pieces below it are usable
// alone: rollsum (weak sum), index (block index), scan (seed scanning),
// makeindex (parallel index building), zsyncfile (the .zsync format),
// source and source/httpsource (where missing bytes come from), and
// assemble (verified, atomic construction of the target).
package zync
