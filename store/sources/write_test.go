package sources

import (
	"os"
	"path/filepath"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/fhir"
	"gpcollections/domain/synth"
)

// What WriteDir writes reads back through DirOpener as the same patients,
// and the byte count it reports is what is on disk.
func TestWriteDirRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "A81001")
	opt := synth.Options{Practice: "A81001", Patients: 150, Seed: 9, AchDate: domain.MustDate("2026-03-31")}
	n, err := WriteDir(dir, func(write func(clinical.Patient) error) error { return synth.Each(opt, write) })
	if err != nil {
		t.Fatal(err)
	}
	var onDisk int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, _ := e.Info()
		onDisk += fi.Size()
	}
	if n == 0 || n != onDisk {
		t.Fatalf("reported %d bytes, %d on disk", n, onDisk)
	}
	b, st, err := fhir.Read(DirOpener(dir), fhir.Options{Practice: "A81001", Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	want, err := synth.Batch(opt)
	if err != nil {
		t.Fatal(err)
	}
	if st.Patients != 150 || len(b.Patients) != len(want.Patients) || len(b.Events) != len(want.Events) {
		t.Fatalf("read back %d patients, %d events; generated %d, %d", len(b.Patients), len(b.Events), len(want.Patients), len(want.Events))
	}
}
