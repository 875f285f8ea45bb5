// Package sources keeps practice sources (FHIR NDJSON directories) and
// their compact caches on disk. A source is imported once into a cache file
// holding the batch in clinical's binary form; later loads map the cache
// into memory and check it, and re-import only when the source's files
// changed.
//
// Cache files are only ever replaced whole (written beside, then renamed),
// never changed in place, so a mapping stays valid until it is released.
// Something else truncating a mapped cache file would crash the process.
package sources

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"gpcollections/domain/clinical"
	"gpcollections/domain/fhir"
)

// Info describes a loaded source.
type Info struct {
	Practice, Dir string
	// Fingerprint is the SHA-256 (hex) over the source files' names and
	// contents: the provenance recorded with an extract. For a batch put in
	// the cache by Save it is the SHA-256 of the encoded batch.
	Fingerprint string
	Stats       fhir.Stats // of the import that built the cache
	Rebuilt     bool       // true when the cache was (re)built by this call
	CachePath   string
}

// FileInfo is one resource file of a source.
type FileInfo struct {
	ResourceType string
	Path         string
	Size         int64
	ModTime      time.Time
}

// CheckReport is what Check found.
type CheckReport struct {
	Dir     string
	Files   []FileInfo // resource files present, in fhir.ResourceTypes order
	Missing []string   // resource types without a file (only Patient is required)
	Other   []string   // other entries in the directory, ignored by the import
	Bytes   int64      // total size of the resource files
}

// stamp identifies a file's state cheaply: a change of name, size or
// modification time means the source must be imported again.
type stamp struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
}

// manifest heads a cache file.
type manifest struct {
	Practice    string     `json:"practice"`
	Dir         string     `json:"dir"`
	Files       []stamp    `json:"files"`
	Fingerprint string     `json:"fingerprint"`
	Strict      bool       `json:"strict"`
	Saved       bool       `json:"saved,omitempty"` // put by Save, not imported
	Stats       fhir.Stats `json:"stats"`
}

// cacheMagic names the cache layout; a cache in another layout (an older
// program's) is simply rebuilt.
const cacheMagic = "GPCSRC02"

// testHookImported runs between the import and the second look at the
// source's files; tests use it to change a file mid-import.
var testHookImported func()

// Load returns the practice's batch, importing the NDJSON directory into
// cacheDir on first use and again whenever the source changed (file names,
// sizes or modification times). A corrupt or unreadable cache is rebuilt.
// With strict, a cache that was built with bad lines skipped is not used:
// the source is imported again strictly, and fails at its first bad line.
//
// A batch read from the cache is a view of the cache file mapped into
// memory (checked in full as it is mapped): the caller calls its Release
// once done with it, after which neither the batch nor anything taken from
// its events may be used. Calling Release on a freshly imported batch is
// harmless.
func Load(cacheDir, srcDir, practice string, strict bool) (*clinical.Batch, Info, error) {
	abs, stamps, err := inspect(srcDir)
	if err != nil {
		return nil, Info{}, err
	}
	path, err := cachePath(cacheDir, abs, practice)
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{Practice: practice, Dir: abs, CachePath: path}
	current := func(m manifest) bool {
		return m.Practice == practice && m.Dir == abs && slices.Equal(m.Files, stamps) && (!strict || m.Stats.Bad == 0)
	}
	if m, b, ok := readCache(path, current); ok {
		info.Fingerprint, info.Stats = m.Fingerprint, m.Stats
		return b, info, nil
	}
	b, m, err := importSource(abs, stamps, practice, strict)
	if err != nil {
		return nil, info, err
	}
	if err := writeCache(path, m, b); err != nil {
		return nil, info, err
	}
	info.Fingerprint, info.Stats, info.Rebuilt = m.Fingerprint, m.Stats, true
	return b, info, nil
}

// Save writes a batch built elsewhere (e.g. straight from the generator)
// into the cache for srcDir, creating the directory if needed, so that Load
// of that directory returns it while the directory's files stay as they are.
func Save(cacheDir, srcDir, practice string, b *clinical.Batch) (Info, error) {
	if b.Practice != practice {
		return Info{}, fmt.Errorf("saving a batch for practice %q as %q", b.Practice, practice)
	}
	if err := os.MkdirAll(srcDir, 0o755); err != nil {
		return Info{}, fmt.Errorf("source directory: %w", err)
	}
	abs, stamps, err := inspect(srcDir)
	if err != nil {
		return Info{}, err
	}
	path, err := cachePath(cacheDir, abs, practice)
	if err != nil {
		return Info{}, err
	}
	data, err := b.MarshalBinary()
	if err != nil {
		return Info{}, err
	}
	sum := sha256.Sum256(data)
	m := manifest{Practice: practice, Dir: abs, Files: stamps, Fingerprint: hex.EncodeToString(sum[:]), Saved: true,
		Stats: fhir.Stats{Patients: len(b.Patients), Events: len(b.Events)}}
	if err := writeCacheData(path, m, data); err != nil {
		return Info{}, err
	}
	return Info{Practice: practice, Dir: abs, Fingerprint: m.Fingerprint, Stats: m.Stats, Rebuilt: true, CachePath: path}, nil
}

// Check inspects a source without importing it. The report is filled as far
// as the directory could be read; the error says what makes it unusable.
func Check(srcDir string) (CheckReport, error) {
	rep := CheckReport{Dir: srcDir}
	abs, err := filepath.Abs(srcDir)
	if err != nil {
		return rep, err
	}
	rep.Dir = abs
	entries, err := os.ReadDir(abs)
	if err != nil {
		return rep, fmt.Errorf("source directory %s: %w", abs, err)
	}
	known := map[string]bool{}
	for _, rt := range fhir.ResourceTypes {
		known[rt+".ndjson"] = true
	}
	for _, e := range entries {
		if !known[e.Name()] {
			rep.Other = append(rep.Other, e.Name())
		}
	}
	var problems []error
	for _, rt := range fhir.ResourceTypes {
		p := filepath.Join(abs, rt+".ndjson")
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			rep.Missing = append(rep.Missing, rt)
			if rt == "Patient" {
				problems = append(problems, fmt.Errorf("source %s has no %s (required)", abs, rt+".ndjson"))
			}
			continue
		case err != nil:
			problems = append(problems, err)
			continue
		case !fi.Mode().IsRegular():
			problems = append(problems, fmt.Errorf("%s is not a regular file", p))
			continue
		}
		if f, err := os.Open(p); err != nil {
			problems = append(problems, err)
		} else {
			f.Close()
		}
		rep.Files = append(rep.Files, FileInfo{ResourceType: rt, Path: p, Size: fi.Size(), ModTime: fi.ModTime()})
		rep.Bytes += fi.Size()
	}
	return rep, errors.Join(problems...)
}

// inspect resolves the directory and stamps its resource files.
func inspect(srcDir string) (string, []stamp, error) {
	abs, err := filepath.Abs(srcDir)
	if err != nil {
		return "", nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", nil, fmt.Errorf("source directory %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return "", nil, fmt.Errorf("source %s is not a directory", abs)
	}
	stamps, err := stampFiles(abs)
	return abs, stamps, err
}

func stampFiles(abs string) ([]stamp, error) {
	var out []stamp
	for _, rt := range fhir.ResourceTypes {
		name := rt + ".ndjson"
		fi, err := os.Stat(filepath.Join(abs, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", filepath.Join(abs, name))
		}
		out = append(out, stamp{Name: name, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()})
	}
	return out, nil
}

// cachePath keys the cache by practice code and a hash of the absolute
// source path, so two copies of a practice's source never share a cache.
func cachePath(cacheDir, abs, practice string) (string, error) {
	if practice == "" || len(practice) > 16 {
		return "", fmt.Errorf("practice code %q: want 1 to 16 letters or digits", practice)
	}
	for _, c := range practice {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return "", fmt.Errorf("practice code %q: want 1 to 16 letters or digits", practice)
		}
	}
	h := sha256.Sum256([]byte(abs))
	return filepath.Join(cacheDir, practice+"-"+hex.EncodeToString(h[:8])+".gpcb"), nil
}

// hashedFile counts and hashes a resource file as the importer reads it.
type hashedFile struct {
	f *os.File
	h hash.Hash
	n int64
}

func (r *hashedFile) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	return n, err
}

func (r *hashedFile) Close() error { return r.f.Close() }

// importSource reads the NDJSON files, fingerprinting them on the way, and
// refuses the result if any file changed while it was read.
func importSource(abs string, stamps []stamp, practice string, strict bool) (*clinical.Batch, manifest, error) {
	m := manifest{Practice: practice, Dir: abs, Files: stamps, Strict: strict}
	if len(stamps) == 0 || stamps[0].Name != "Patient.ndjson" {
		return nil, m, fmt.Errorf("source %s has no Patient.ndjson: %w", abs, fs.ErrNotExist)
	}
	opened := map[string]*hashedFile{}
	open := func(rt string) (io.ReadCloser, error) {
		name := rt + ".ndjson"
		if !slices.ContainsFunc(stamps, func(s stamp) bool { return s.Name == name }) {
			return nil, fmt.Errorf("%s: %w", filepath.Join(abs, name), fs.ErrNotExist)
		}
		f, err := os.Open(filepath.Join(abs, name))
		if err != nil {
			return nil, err
		}
		hf := &hashedFile{f: f, h: sha256.New()}
		opened[name] = hf
		return hf, nil
	}
	b, st, err := fhir.Read(open, fhir.Options{Practice: practice, Strict: strict})
	if err != nil {
		return nil, m, fmt.Errorf("importing %s: %w", abs, err)
	}
	if testHookImported != nil {
		testHookImported()
	}
	after, err := stampFiles(abs)
	if err != nil {
		return nil, m, err
	}
	fp := sha256.New()
	for _, s := range stamps {
		hf := opened[s.Name]
		if hf == nil || hf.n != s.Size {
			return nil, m, fmt.Errorf("source %s changed while it was being imported (%s)", abs, s.Name)
		}
		fmt.Fprintf(fp, "%s %d %x\n", s.Name, s.Size, hf.h.Sum(nil))
	}
	if !slices.Equal(after, stamps) {
		return nil, m, fmt.Errorf("source %s changed while it was being imported: import again", abs)
	}
	m.Fingerprint, m.Stats = hex.EncodeToString(fp.Sum(nil)), st
	return b, m, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A cache file: magic | manifest length u32 | manifest JSON | CRC-32C of
// the manifest u32 | zero padding to a multiple of 8 bytes | the encoded
// batch (which has its own checksum).
func writeCache(path string, m manifest, b *clinical.Batch) error {
	data, err := b.MarshalBinary()
	if err != nil {
		return err
	}
	return writeCacheData(path, m, data)
}

func writeCacheData(path string, m manifest, batch []byte) error {
	mj, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var head bytes.Buffer
	head.WriteString(cacheMagic)
	head.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(mj))))
	head.Write(mj)
	head.Write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(mj, castagnoli)))
	head.Write(make([]byte, -head.Len()&7))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	return writeFileAtomic(path, head.Bytes(), batch)
}

// readCache returns the cache's manifest and, if want accepts the
// manifest, its batch: a view of the mapped file, which the batch's Release
// unmaps. ok is false for a missing, foreign, damaged or unwanted cache,
// which the caller then rebuilds; nothing stays mapped then.
func readCache(path string, want func(manifest) bool) (m manifest, b *clinical.Batch, ok bool) {
	data, unmap, err := openCache(path)
	if err != nil {
		return m, nil, false
	}
	defer func() {
		if !ok {
			unmap()
		}
	}()
	if len(data) < len(cacheMagic)+8 || string(data[:len(cacheMagic)]) != cacheMagic {
		return m, nil, false
	}
	rest := data[len(cacheMagic):]
	n := uint64(binary.LittleEndian.Uint32(rest))
	if n > uint64(len(rest)-8) {
		return m, nil, false
	}
	mj := rest[4 : 4+n]
	if crc32.Checksum(mj, castagnoli) != binary.LittleEndian.Uint32(rest[4+n:]) || json.Unmarshal(mj, &m) != nil || !want(m) {
		return m, nil, false
	}
	// Zero padding puts the batch at a multiple of 8 bytes in the file,
	// where its rows can be used in place.
	at := len(cacheMagic) + 8 + int(n)
	pad := -at & 7
	if len(data)-at < pad || !allZero(data[at:at+pad]) {
		return m, nil, false
	}
	b, err = clinical.UnmarshalBatchShared(data[at+pad:], unmap)
	if err != nil {
		return m, nil, false
	}
	return m, b, true
}

func allZero(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

// writeFileAtomic writes parts to a temporary file beside path, syncs it,
// renames it over path and syncs the directory: a crash leaves either the
// old file or the new one, never half of one.
func writeFileAtomic(path string, parts ...[]byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	for _, p := range parts {
		if _, err := tmp.Write(p); err != nil {
			return err
		}
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: some filesystems refuse to sync a directory
		d.Close()
	}
	return nil
}
