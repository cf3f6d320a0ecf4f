//go:build !unix && !windows

package patch

import (
	"errors"
	"os"
)

func mapFile(*os.File, int64) ([]byte, func(), error) {
	return nil, nil, errors.New("no mmap on this system")
}
