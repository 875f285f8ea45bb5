package sources

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/fhir"
)

// load is Load for tests: the batch is released when the test ends.
func load(t testing.TB, cache, src, practice string, strict bool) (*clinical.Batch, Info, error) {
	b, info, err := Load(cache, src, practice, strict)
	if b != nil {
		t.Cleanup(b.Release)
	}
	return b, info, err
}

// sameBatch compares two batches by their encodings: their data, not how
// they hold it.
func sameBatch(t testing.TB, a, b *clinical.Batch) bool {
	t.Helper()
	x, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

// TestMain fails the run if a test leaves a cache file mapped.
func TestMain(m *testing.M) {
	code := m.Run()
	if n := Mapped(); n != 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "%d cache files left mapped\n", n)
		code = 1
	}
	os.Exit(code)
}

func testPatients(n int) []clinical.Patient {
	var pats []clinical.Patient
	for i := range n {
		p := clinical.Patient{ID: fmt.Sprintf("p%03d", i), NHSNumber: fmt.Sprintf("9%09d", i), Birth: domain.DateOf(1950+i%60, 3, 1+i%28),
			Death: domain.NoDate, Sex: clinical.Sex(1 + i%2),
			Regs: []clinical.Registration{{Practice: "A81001", Start: domain.DateOf(2001, 1, 1), End: domain.NoDate, Type: "regular"}}}
		for j := range 5 {
			p.Events = append(p.Events, clinical.Event{Date: domain.DateOf(2020+j, 1, 1+i%28), Code: 75367002, Kind: clinical.KindObservation,
				NVal: 2, V1: float32(120 + j), V2: float32(80 - j), Unit: "mm[Hg]", Seq: uint32(j)})
		}
		pats = append(pats, p)
	}
	return pats
}

// writeDir writes patients as an NDJSON source directory.
func writeDir(t testing.TB, dir string, pats []clinical.Patient) {
	t.Helper()
	var files []*os.File
	w := fhir.NewWriter(func(rt string) (io.Writer, error) {
		f, err := os.Create(filepath.Join(dir, rt+".ndjson"))
		files = append(files, f)
		return f, err
	})
	for _, p := range pats {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

const extraCondition = `{"resourceType":"Condition","id":"extra","code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003"}]},"subject":{"reference":"Patient/p001"},"onsetDateTime":"2024-01-01"}`

func TestLoadImportsOnceAndRebuildsWhenTheSourceChanges(t *testing.T) {
	src, cache := t.TempDir(), t.TempDir()
	writeDir(t, src, testPatients(20))

	b1, info1, err := load(t, cache, src, "A81001", true)
	if err != nil {
		t.Fatal(err)
	}
	if !info1.Rebuilt || info1.Stats.Patients != 20 || info1.Stats.Events != 100 || len(info1.Fingerprint) != 64 || info1.Dir != src {
		t.Fatalf("first load: %+v", info1)
	}
	if _, err := os.Stat(info1.CachePath); err != nil {
		t.Fatalf("no cache file: %v", err)
	}

	b2, info2, err := load(t, cache, src, "A81001", true)
	if err != nil {
		t.Fatal(err)
	}
	if info2.Rebuilt || info2.Fingerprint != info1.Fingerprint || !reflect.DeepEqual(info2.Stats, info1.Stats) || !sameBatch(t, b2, b1) {
		t.Fatalf("unchanged source was imported again or differs: %+v", info2)
	}

	// A new line: new size, new content.
	appendLine(t, filepath.Join(src, "Condition.ndjson"), extraCondition)
	b3, info3, err := load(t, cache, src, "A81001", true)
	if err != nil {
		t.Fatal(err)
	}
	if !info3.Rebuilt || info3.Fingerprint == info1.Fingerprint || len(b3.Events) != 101 {
		t.Fatalf("changed source: %+v, %d events", info3, len(b3.Events))
	}

	// Same size, new time: imported again (and the same content gives the
	// same fingerprint).
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(src, "Patient.ndjson"), later, later); err != nil {
		t.Fatal(err)
	}
	_, info4, err := load(t, cache, src, "A81001", true)
	if err != nil {
		t.Fatal(err)
	}
	if !info4.Rebuilt || info4.Fingerprint != info3.Fingerprint {
		t.Fatalf("touched source: %+v", info4)
	}

	// A file removed.
	if err := os.Remove(filepath.Join(src, "Condition.ndjson")); err != nil {
		t.Fatal(err)
	}
	b5, info5, err := load(t, cache, src, "A81001", true)
	if err != nil || !info5.Rebuilt || info5.Fingerprint != info1.Fingerprint || len(b5.Events) != 100 {
		t.Fatalf("file removed: %+v %v", info5, err)
	}
}

func TestFingerprintIsTheContentNotTheLocation(t *testing.T) {
	a, b, cache := t.TempDir(), t.TempDir(), t.TempDir()
	writeDir(t, a, testPatients(5))
	writeDir(t, b, testPatients(5))
	_, ia, err := load(t, cache, a, "A81001", false)
	if err != nil {
		t.Fatal(err)
	}
	_, ib, err := load(t, cache, b, "A81001", false)
	if err != nil {
		t.Fatal(err)
	}
	if ia.Fingerprint != ib.Fingerprint {
		t.Error("same files, different fingerprints")
	}
	if ia.CachePath == ib.CachePath {
		t.Error("two source directories share a cache file")
	}
	_, ic, err := load(t, cache, a, "B82002", false)
	if err != nil || ic.CachePath == ia.CachePath || !ic.Rebuilt {
		t.Errorf("another practice code shares the cache: %+v %v", ic, err)
	}
}

func TestCorruptCacheIsRebuiltFromTheSource(t *testing.T) {
	src, cache := t.TempDir(), t.TempDir()
	writeDir(t, src, testPatients(10))
	want, info, err := load(t, cache, src, "A81001", false)
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(info.CachePath)
	if err != nil {
		t.Fatal(err)
	}
	events := bytes.Index(good, []byte("EVTS")) + 16
	batch := bytes.Index(good, []byte("GPCBATCH"))
	for name, spoil := range map[string]func([]byte) []byte{
		"flipped batch byte":    func(b []byte) []byte { b[len(b)-30] ^= 1; return b },
		"flipped event byte":    func(b []byte) []byte { b[events+25] ^= 1; return b },
		"flipped manifest byte": func(b []byte) []byte { b[20] ^= 1; return b },
		"truncated":             func(b []byte) []byte { return b[:len(b)/2] },
		"empty":                 func([]byte) []byte { return nil },
		"foreign":               func([]byte) []byte { return []byte("hello, world\n") },
		// Caches an older program wrote: another layout, another batch
		// format, the batch not aligned.
		"old layout":       func(b []byte) []byte { copy(b, "GPCSRC01"); return b },
		"old batch format": func(b []byte) []byte { b[batch+8] = 1; return b },
		"unpadded":         func(b []byte) []byte { return append(b[:batch-1:batch-1], b[batch:]...) },
	} {
		if err := os.WriteFile(info.CachePath, spoil(append([]byte(nil), good...)), 0o644); err != nil {
			t.Fatal(err)
		}
		got, again, err := load(t, cache, src, "A81001", false)
		if err != nil || !again.Rebuilt || !sameBatch(t, got, want) {
			t.Errorf("%s: %+v %v", name, again, err)
		}
		if Mapped() != 0 {
			t.Errorf("%s: the refused cache is still mapped", name)
		}
		after, info, err := Load(cache, src, "A81001", false)
		if err != nil || info.Rebuilt || !sameBatch(t, after, want) {
			t.Errorf("%s: the rebuilt cache was not used: %+v %v", name, info, err)
		}
		after.Release()
	}
}

// A batch read from the cache is the mapped file until it is released;
// the portable fallback reads the file instead, with the same result.
func TestCachedBatchesAreMappedUntilReleased(t *testing.T) {
	src, cache := t.TempDir(), t.TempDir()
	writeDir(t, src, testPatients(30))
	fresh, info, err := Load(cache, src, "A81001", false)
	if err != nil || !info.Rebuilt || Mapped() != 0 {
		t.Fatalf("import: %+v %v, %d mapped", info, err, Mapped())
	}
	fresh.Release() // harmless on an imported batch
	if len(fresh.Events) != 150 {
		t.Fatalf("Release dropped an imported batch's events")
	}
	a, _, err := Load(cache, src, "A81001", false)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Load(cache, src, "A81001", false)
	if err != nil {
		t.Fatal(err)
	}
	if Mapped() != 2 || !sameBatch(t, a, fresh) || !sameBatch(t, b, fresh) {
		t.Fatalf("%d mapped, or the cached batches differ from the import", Mapped())
	}
	a.Release()
	a.Release()
	if Mapped() != 1 || a.Events != nil {
		t.Errorf("after releasing one twice: %d mapped, %d events left", Mapped(), len(a.Events))
	}
	if !sameBatch(t, b, fresh) {
		t.Error("releasing one batch changed the other")
	}
	b.Release()
	if Mapped() != 0 {
		t.Errorf("%d mapped after releasing both", Mapped())
	}
	// A source that changed: the stale cache is not even mapped for long.
	appendLine(t, filepath.Join(src, "Condition.ndjson"), extraCondition)
	if _, info, err := load(t, cache, src, "A81001", false); err != nil || !info.Rebuilt || Mapped() != 0 {
		t.Errorf("stale cache: %+v %v, %d mapped", info, err, Mapped())
	}

	openCache = readFile
	defer func() { openCache = mapFile }()
	read, info, err := Load(cache, src, "A81001", false)
	if err != nil || info.Rebuilt || Mapped() != 0 || len(read.Events) != 151 {
		t.Fatalf("read instead of mapped: %+v %v, %d mapped", info, err, Mapped())
	}
	read.Release()
}

func TestMissingOrUnusableSourcesNameThePath(t *testing.T) {
	cache := t.TempDir()
	missing := filepath.Join(t.TempDir(), "no-such-practice")
	if _, _, err := load(t, cache, missing, "A81001", false); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing dir: %v", err)
	}
	empty := t.TempDir()
	if _, _, err := load(t, cache, empty, "A81001", false); err == nil || !strings.Contains(err.Error(), empty) || !strings.Contains(err.Error(), "Patient.ndjson") {
		t.Errorf("no Patient file: %v", err)
	}
	file := filepath.Join(empty, "x")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := load(t, cache, file, "A81001", false); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as source: %v", err)
	}
	if _, _, err := load(t, cache, empty, "A8 1001", false); err == nil || !strings.Contains(err.Error(), "practice code") {
		t.Errorf("bad practice code: %v", err)
	}
	if os.Geteuid() != 0 {
		locked := t.TempDir()
		writeDir(t, locked, testPatients(1))
		p := filepath.Join(locked, "Patient.ndjson")
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := load(t, cache, locked, "A81001", false); !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), p) {
			t.Errorf("unreadable Patient file: %v", err)
		}
	}
}

func TestStrictLoadRefusesACacheBuiltWithBadLines(t *testing.T) {
	src, cache := t.TempDir(), t.TempDir()
	writeDir(t, src, testPatients(3))
	appendLine(t, filepath.Join(src, "Condition.ndjson"), `{"resourceType":"Condition","id":"bad"}`)
	_, info, err := load(t, cache, src, "A81001", false)
	if err != nil || info.Stats.Bad != 1 || len(info.Stats.Errors) != 1 {
		t.Fatalf("lenient load: %+v %v", info, err)
	}
	_, _, err = load(t, cache, src, "A81001", true)
	var le fhir.LineError
	if !errors.As(err, &le) || le.File != "Condition.ndjson" || le.Line != 1 || !strings.Contains(err.Error(), src) {
		t.Fatalf("strict load: %v", err)
	}
	// The failed strict import left the lenient cache in place.
	if _, again, err := load(t, cache, src, "A81001", false); err != nil || again.Rebuilt || again.Stats.Bad != 1 {
		t.Errorf("lenient cache lost: %+v %v", again, err)
	}
}

func TestSourceChangingDuringImportIsAnError(t *testing.T) {
	src, cache := t.TempDir(), t.TempDir()
	writeDir(t, src, testPatients(3))
	testHookImported = func() { appendLine(t, filepath.Join(src, "Observation.ndjson"), "") }
	defer func() { testHookImported = nil }()
	_, _, err := load(t, cache, src, "A81001", false)
	if err == nil || !strings.Contains(err.Error(), "changed while it was being imported") || !strings.Contains(err.Error(), src) {
		t.Fatalf("got %v", err)
	}
	testHookImported = nil
	if _, info, err := load(t, cache, src, "A81001", false); err != nil || !info.Rebuilt {
		t.Errorf("after the change settled: %+v %v", info, err)
	}
}

func TestSaveThenLoad(t *testing.T) {
	cache := t.TempDir()
	src := filepath.Join(t.TempDir(), "generated")
	bl := clinical.NewBuilder("A81001")
	for _, p := range testPatients(7) {
		if err := bl.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	b := bl.Build()
	saved, err := Save(cache, src, "A81001", b)
	if err != nil {
		t.Fatal(err)
	}
	got, info, err := load(t, cache, src, "A81001", true)
	if err != nil {
		t.Fatal(err)
	}
	if info.Rebuilt || info.Fingerprint != saved.Fingerprint || info.Stats.Patients != 7 || !sameBatch(t, got, b) {
		t.Errorf("load after save: %+v", info)
	}
	if _, err := Save(cache, src, "B82002", b); err == nil {
		t.Error("saved a batch under another practice code")
	}
	// Files appearing in the directory replace the saved batch.
	writeDir(t, src, testPatients(2))
	if _, info, err := load(t, cache, src, "A81001", true); err != nil || !info.Rebuilt || info.Stats.Patients != 2 {
		t.Errorf("source written after save: %+v %v", info, err)
	}
}

func TestCheck(t *testing.T) {
	src := t.TempDir()
	writeDir(t, src, testPatients(2))
	if err := os.WriteFile(filepath.Join(src, "README"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(src)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	var total int64
	for _, f := range rep.Files {
		types = append(types, f.ResourceType)
		total += f.Size
	}
	if !reflect.DeepEqual(types, []string{"Patient", "EpisodeOfCare", "Observation"}) || total != rep.Bytes || rep.Bytes == 0 ||
		!reflect.DeepEqual(rep.Other, []string{"README"}) || len(rep.Missing) != 5 {
		t.Errorf("report %+v", rep)
	}
	if err := os.Remove(filepath.Join(src, "Patient.ndjson")); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(src); err == nil || !strings.Contains(err.Error(), "no Patient.ndjson") {
		t.Errorf("no Patient: %v", err)
	}
	if _, err := Check(filepath.Join(src, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
}

// No temporary files are left beside the cache.
func TestCacheDirHoldsOnlyCacheFiles(t *testing.T) {
	src, cache := t.TempDir(), t.TempDir()
	writeDir(t, src, testPatients(2))
	for range 3 {
		appendLine(t, filepath.Join(src, "Condition.ndjson"), strings.Replace(extraCondition, `"extra"`, fmt.Sprintf(`"x%d"`, time.Now().UnixNano()), 1))
		if _, _, err := load(t, cache, src, "A81001", false); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".gpcb") {
		t.Errorf("cache dir: %v", entries)
	}
}

// benchSource writes a 10,000-patient source of about 50 events each.
func benchSource(b *testing.B) (dir string, size int64) {
	dir = b.TempDir()
	var pats []clinical.Patient
	for i := range 10_000 {
		p := clinical.Patient{ID: fmt.Sprintf("pat-%07d", i), NHSNumber: fmt.Sprintf("9%09d", i), Birth: domain.DateOf(1940+i%80, time.Month(1+i%12), 1+i%28),
			Death: domain.NoDate, Sex: clinical.Sex(1 + i%2),
			Regs: []clinical.Registration{{Practice: "A81001", Start: domain.DateOf(2000+i%25, 4, 1), End: domain.NoDate, Type: "regular"}}}
		for j := range 50 {
			e := clinical.Event{Date: domain.DateOf(2016+j%10, time.Month(1+j%12), 1+(i+j)%28), Seq: uint32(j)}
			switch j % 5 {
			case 0:
				e.Kind, e.Code = clinical.KindCondition, 38341003
			case 1:
				e.Kind, e.Code, e.NVal, e.V1, e.V2, e.Unit = clinical.KindObservation, 75367002, 2, float32(110+j), float32(70+j%20), "mm[Hg]"
			case 2:
				e.Kind, e.Code, e.NVal, e.V1, e.Unit = clinical.KindObservation, 1049301000000100, 1, float32(40+j%30)+0.5, "mmol/mol"
			case 3:
				e.Kind, e.Code = clinical.KindMedication, 39109611000001107
			case 4:
				e.Kind, e.Code = clinical.KindImmunisation, 955691000000108
			}
			p.Events = append(p.Events, e)
		}
		pats = append(pats, p)
	}
	writeDir(b, dir, pats)
	rep, err := Check(dir)
	if err != nil {
		b.Fatal(err)
	}
	return dir, rep.Bytes
}

// BenchmarkLoadImport is a first load from disk: read, hash, parse, encode,
// write the cache.
func BenchmarkLoadImport(b *testing.B) {
	dir, size := benchSource(b)
	cache := b.TempDir()
	b.SetBytes(size)
	for b.Loop() {
		os.RemoveAll(cache)
		if _, _, err := Load(cache, dir, "A81001", false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadCached is a later load: stat the source, map and check the
// cache.
func BenchmarkLoadCached(b *testing.B) {
	dir, _ := benchSource(b)
	cache := b.TempDir()
	if _, _, err := load(b, cache, dir, "A81001", false); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		bt, info, err := Load(cache, dir, "A81001", false)
		if err != nil || info.Rebuilt {
			b.Fatal(err)
		}
		bt.Release()
	}
}
