package main

import (
	"errors"
	"io/fs"

	"github.com/zyncio/zync"
	"github.com/zyncio/zync/assemble"
	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/zsyncfile"
)

// classify maps an error to an exit code by the sentinels it wraps.
func classify(err error) int {
	switch {
	case errors.Is(err, source.ErrLengthMismatch):
		return exitDiffer
	case errors.Is(err, assemble.ErrVerify), errors.Is(err, assemble.ErrBlockMismatch):
		return exitVerify
	case errors.Is(err, zsyncfile.ErrFormat), errors.Is(err, zsyncfile.ErrUnsupported),
		errors.Is(err, zync.ErrUnsafeName), errors.Is(err, zync.ErrNoURL):
		return exitControl
	case errors.Is(err, source.ErrNotFound), errors.Is(err, source.ErrPermanent), isNetError(err):
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

// hintFor says what the user can do about an error.
func hintFor(err error) string {
	switch {
	case errors.Is(err, source.ErrLengthMismatch):
		return "the control file does not describe the file on the server (published out of step?); fetch a fresh control file"
	case errors.Is(err, assemble.ErrVerify):
		return "the assembled file does not match the control file's hash; the output was left untouched"
	case errors.Is(err, assemble.ErrBlockMismatch):
		return "the server sent bytes that do not match the control file; the output was left untouched"
	case errors.Is(err, zync.ErrUnsafeName):
		return "give the output path with -o"
	case errors.Is(err, source.ErrNotFound):
		return "check the URL; the control file may point at a file that was moved or not yet published"
	}
	return ""
}
