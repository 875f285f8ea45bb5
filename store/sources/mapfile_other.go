//go:build !linux

package sources

// mapFile reads the file where mapping it is not implemented.
func mapFile(path string) ([]byte, func(), error) { return readFile(path) }
