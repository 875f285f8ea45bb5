package sources

import (
	"bufio"
	"io"
	"os"
	"path/filepath"

	"gpcollections/domain/clinical"
	"gpcollections/domain/fhir"
)

// WriteDir writes patients as a FHIR bulk-data source directory (created if
// needed): one buffered NDJSON file per resource type. each calls write once
// per patient. It returns the NDJSON bytes written. The generator and the
// demo both write sources through it.
func WriteDir(dir string, each func(write func(clinical.Patient) error) error) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	type file struct {
		f *os.File
		w *bufio.Writer
		n countingWriter
	}
	var files []*file
	w := fhir.NewWriter(func(rt string) (io.Writer, error) {
		f, err := os.Create(filepath.Join(dir, rt+".ndjson"))
		if err != nil {
			return nil, err
		}
		fl := &file{f: f, w: bufio.NewWriterSize(f, 1<<20)}
		fl.n.w = fl.w
		files = append(files, fl)
		return &fl.n, nil
	})
	err := each(w.Write)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	var total int64
	for _, fl := range files {
		if ferr := fl.w.Flush(); err == nil {
			err = ferr
		}
		if ferr := fl.f.Close(); err == nil {
			err = ferr
		}
		total += fl.n.n
	}
	return total, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// DirOpener opens DIR/<ResourceType>.ndjson for fhir.Read; an absent file
// fails with an error wrapping fs.ErrNotExist, which fhir.Read reads as an
// empty resource type.
func DirOpener(dir string) fhir.Opener {
	return func(rt string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(dir, rt+".ndjson"))
	}
}
