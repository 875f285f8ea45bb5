package fhir

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

var d = domain.MustDate

// handPatients cover what the round trip must keep: blood pressures as
// components, lab values with units, deaths, several registrations, an open
// registration, same-day events of different kinds, every event kind.
func handPatients() []clinical.Patient {
	return []clinical.Patient{
		{
			ID: "b-2", NHSNumber: "9000000009", Birth: d("1950-06-15"), Death: d("2025-12-01"), Sex: clinical.SexFemale,
			Regs: []clinical.Registration{
				{Practice: "A81001", Start: d("1990-01-01"), End: d("2000-03-31"), Type: "regular"},
				{Practice: "B82002", Start: d("2000-04-01"), End: d("2001-01-01"), Type: "temporary"},
				{Practice: "A81001", Start: d("2001-01-02"), End: d("2025-12-01"), Type: "regular"},
			},
			Events: []clinical.Event{
				{Date: d("2025-01-10"), Code: 75367002, Kind: clinical.KindObservation, NVal: 2, V1: 142, V2: 88.5, Unit: "mm[Hg]", Seq: 9},
				{Date: d("2025-01-10"), Code: 44054006, Kind: clinical.KindCondition, Seq: 3},
				{Date: d("2025-01-10"), Code: 1049301000000100, Kind: clinical.KindObservation, NVal: 1, V1: 58.3, Unit: "mmol/mol", Seq: 5},
				{Date: d("2025-01-10"), Code: 39109611000001107, Kind: clinical.KindMedication, Seq: 1},
				{Date: d("2024-10-01"), Code: 955691000000108, Kind: clinical.KindImmunisation, Seq: 100},
				{Date: d("2020-02-29"), Code: 171055003, Kind: clinical.KindProcedure, Seq: 0},
				{Date: d("2024-10-01"), Code: 163020007, Kind: clinical.KindObservation, NVal: 1, V1: -0.000123, Seq: 2},
			},
		},
		{ID: "a.1", Birth: d("2026-03-31"), Death: domain.NoDate, Sex: clinical.SexUnknown,
			Regs: []clinical.Registration{{Practice: "A81001", Start: d("2026-03-31"), End: domain.NoDate}}},
		{ID: "c", NHSNumber: "9434765919", Birth: d("1900-01-01"), Death: domain.NoDate, Sex: clinical.SexOther,
			Events: []clinical.Event{
				{Date: d("1999-12-31"), Code: 271649006, Kind: clinical.KindObservation, NVal: 1, V1: 3.4028235e38, Unit: "x\"y\\z\u00e9\n"},
				{Date: d("1999-12-31"), Code: 271649006, Kind: clinical.KindObservation, NVal: 1, V1: 1e-45, Unit: "mm[Hg]"},
			}},
	}
}

// expectBatch is what Read must give for pats: the Builder's batch of the
// patients in id order.
func expectBatch(t testing.TB, practice string, pats []clinical.Patient) *clinical.Batch {
	t.Helper()
	sorted := slices.Clone(pats)
	slices.SortFunc(sorted, func(a, b clinical.Patient) int { return strings.Compare(a.ID, b.ID) })
	bl := clinical.NewBuilder(practice)
	for _, p := range sorted {
		if err := bl.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return bl.Build()
}

func readSource(t testing.TB, src memSource, opt Options) (*clinical.Batch, Stats) {
	t.Helper()
	b, st, err := Read(src.open, opt)
	if err != nil {
		t.Fatal(err)
	}
	return b, st
}

func TestWriteThenReadGivesTheSamePatients(t *testing.T) {
	pats := handPatients()
	src := writeSource(t, pats)
	got, st := readSource(t, src, Options{Practice: "A81001", Strict: true})
	want := expectBatch(t, "A81001", pats)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("batch differs\n got %+v\nwant %+v", got, want)
	}
	if st.Patients != 3 || st.Events != 9 || st.Bad != 0 || st.Skipped != 0 || st.Resources != 3+4+9 || st.Bytes != src.size() {
		t.Errorf("stats %+v", st)
	}
	// Each patient comes back as it went in, events in date-then-Seq order.
	for i, p := range []clinical.Patient{pats[1], pats[0], pats[2]} {
		want := slices.Clone(p.Events)
		clinical.SortEvents(want)
		for j := range want {
			want[j].Seq = uint32(j)
		}
		p.Events = want
		if len(p.Events) == 0 {
			p.Events = nil
		}
		if rec := got.Record(i); !reflect.DeepEqual(rec, p) {
			t.Errorf("patient %s\n got %+v\nwant %+v", p.ID, rec, p)
		}
	}
}

func TestWriteThenReadRoundTripsGeneratedPatients(t *testing.T) {
	pats := fixturePatients(300, 40, 1)
	src := writeSource(t, pats)
	got, st := readSource(t, src, Options{Practice: "A81001", Strict: true})
	if want := expectBatch(t, "A81001", pats); !reflect.DeepEqual(got, want) {
		t.Fatal("generated patients do not round-trip")
	}
	if st.Lines != st.Resources || st.Patients != 300 {
		t.Errorf("stats %+v", st)
	}
}

// Same-day ties must not depend on the order of lines in the files.
func TestReadIsIndependentOfLineOrder(t *testing.T) {
	pats := fixturePatients(200, 30, 2)
	src := writeSource(t, pats)
	want, _ := readSource(t, src, Options{Practice: "A81001"})
	rng := rand.New(rand.NewPCG(3, 4))
	shuffled := memSource{}
	for k, b := range src {
		lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
		rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		shuffled[k] = append(bytes.Join(lines, []byte("\n")), '\n')
	}
	got, _ := readSource(t, shuffled, Options{Practice: "A81001"})
	if !reflect.DeepEqual(got, want) {
		t.Fatal("shuffling the lines changed the batch")
	}
}

func TestWriterRefusesWhatReadCouldNotGiveBack(t *testing.T) {
	ok := clinical.Patient{ID: "p1", Birth: d("2000-01-01"), Death: domain.NoDate}
	ev := func(e clinical.Event) clinical.Patient {
		p := ok
		if e.Date == 0 {
			e.Date = d("2020-01-01")
		}
		p.Events = []clinical.Event{e}
		return p
	}
	cases := map[string]clinical.Patient{
		"bad id":             {ID: "p 1", Birth: d("2000-01-01")},
		"no birth":           {ID: "p1", Birth: domain.NoDate},
		"short NHS number":   {ID: "p1", Birth: d("2000-01-01"), Death: domain.NoDate, NHSNumber: "12345"},
		"death before birth": {ID: "p1", Birth: d("2000-01-01"), Death: d("1999-01-01")},
		"value on condition": ev(clinical.Event{Code: 44054006, Kind: clinical.KindCondition, NVal: 1, V1: 2}),
		"unit without value": ev(clinical.Event{Code: 44054006, Kind: clinical.KindObservation, Unit: "kg"}),
		"hidden V2":          ev(clinical.Event{Code: 44054006, Kind: clinical.KindObservation, NVal: 1, V1: 1, V2: 2}),
		"code too short":     ev(clinical.Event{Code: 12345, Kind: clinical.KindObservation}),
		"no kind":            ev(clinical.Event{Code: 44054006}),
		"registration w/o practice": {ID: "p1", Birth: d("2000-01-01"), Death: domain.NoDate,
			Regs: []clinical.Registration{{Start: d("2001-01-01"), End: domain.NoDate}}},
	}
	for name, p := range cases {
		var buf bytes.Buffer
		w := NewWriter(func(string) (io.Writer, error) { return &buf, nil })
		if err := w.Write(p); err == nil {
			t.Errorf("%s: written", name)
		} else if !strings.Contains(err.Error(), p.ID) {
			t.Errorf("%s: error %q does not name the patient", name, err)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %q", name, buf.String())
		}
	}
}

// sizedFile is an in-memory file that reports its size, as *os.File does,
// so that Read reserves its arrays from the first chunk's density.
type sizedFile struct {
	*bytes.Reader
	n int64
}

func (f sizedFile) Close() error               { return nil }
func (f sizedFile) Stat() (fs.FileInfo, error) { return sizedInfo(f.n), nil }

type sizedInfo int64

func (s sizedInfo) Name() string       { return "x.ndjson" }
func (s sizedInfo) Size() int64        { return int64(s) }
func (s sizedInfo) Mode() fs.FileMode  { return 0o644 }
func (s sizedInfo) ModTime() time.Time { return time.Time{} }
func (s sizedInfo) IsDir() bool        { return false }
func (s sizedInfo) Sys() any           { return nil }

// The reservation made from a file's size is only a capacity hint: a source
// read with sizes (several chunks per file, dense and sparse files) gives
// exactly the batch read without them, and the generated patients back.
func TestSizedFilesReadTheSame(t *testing.T) {
	pats := fixturePatients(3000, 40, 7)
	src := writeSource(t, pats)
	if len(src["Condition"]) < 3*chunkSize {
		t.Fatalf("fixture too small to span chunks: %d bytes", len(src["Condition"]))
	}
	sized := func(rt string) (io.ReadCloser, error) {
		b, ok := src[rt]
		if !ok {
			return nil, fmt.Errorf("open %s.ndjson: %w", rt, fs.ErrNotExist)
		}
		return sizedFile{bytes.NewReader(b), int64(len(b))}, nil
	}
	got, st, err := Read(sized, Options{Practice: "A81001", Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := readSource(t, src, Options{Practice: "A81001", Strict: true})
	if !reflect.DeepEqual(got, plain) {
		t.Fatal("reading with file sizes changed the batch")
	}
	if want := expectBatch(t, "A81001", pats); !reflect.DeepEqual(got, want) {
		t.Fatal("generated patients do not round-trip when sizes are known")
	}
	if st.Patients != 3000 || st.Bad != 0 {
		t.Errorf("stats %+v", st)
	}
}

// groupBy puts every item in its key's group, whatever the input order.
func TestGroupByInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		n := 1 + rng.IntN(20)
		items := make([][2]uint32, rng.IntN(300))
		for i := range items {
			items[i] = [2]uint32{uint32(rng.IntN(n)), uint32(i)}
		}
		orig := slices.Clone(items)
		g := groupBy(items, n, func(x *[2]uint32) uint32 { return x[0] })
		var seen []uint32
		for k := range n {
			for _, x := range g.of(k) {
				if x[0] != uint32(k) {
					t.Fatalf("round %d: item %v in group %d", round, x, k)
				}
				seen = append(seen, x[1])
			}
		}
		slices.Sort(seen)
		for i, x := range seen {
			if x != uint32(i) || orig[i][1] != uint32(i) {
				t.Fatalf("round %d: items lost or repeated", round)
			}
		}
		if len(seen) != len(orig) {
			t.Fatalf("round %d: %d items grouped, %d given", round, len(seen), len(orig))
		}
	}
}
