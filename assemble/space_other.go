//go:build !unix && !windows

package assemble

import "errors"

func freeSpace(string) (uint64, error) { return 0, errors.New("free space unknown on this system") }
