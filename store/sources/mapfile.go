package sources

import (
	"os"
	"sync/atomic"
)

// openCache gives a cache file's bytes and what gives them back; tests
// swap in readFile to cover hosts that do not map files.
var openCache = mapFile

// mapped counts the cache files mapped for batches not yet released.
var mapped atomic.Int64

// Mapped is how many cache files are mapped for loaded batches whose
// Release has not been called yet: zero once every user is done (tests
// check that nothing is left mapped).
func Mapped() int { return int(mapped.Load()) }

// readFile is mapFile's portable fallback: the file read into memory the
// garbage collector owns, so giving it back is nothing to do.
func readFile(path string) ([]byte, func(), error) {
	data, err := os.ReadFile(path)
	return data, func() {}, err
}
