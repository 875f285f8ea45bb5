//go:build linux

package sources

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// mapFile maps a file read-only: the batch is then the page cache's own
// memory, nothing is copied, and MAP_POPULATE sets up the whole mapping
// (reading the file if it is not cached) at once rather than a page fault
// at a time. A file that cannot be mapped is read instead.
func mapFile(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := fi.Size()
	if size == 0 || !fi.Mode().IsRegular() {
		return readFile(path)
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("%s: %d bytes is too large to map", path, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return readFile(path)
	}
	mapped.Add(1)
	var once sync.Once
	return data, func() {
		once.Do(func() {
			syscall.Munmap(data)
			mapped.Add(-1)
		})
	}, nil
}
