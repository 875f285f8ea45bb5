package fhir

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

// memSource is a practice source held in memory.
type memSource map[string][]byte

func (m memSource) open(t string) (io.ReadCloser, error) {
	b, ok := m[t]
	if !ok {
		return nil, fmt.Errorf("open %s.ndjson: %w", t, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m memSource) size() int64 {
	var n int64
	for _, b := range m {
		n += int64(len(b))
	}
	return n
}

// writeSource writes patients with Writer into memory.
func writeSource(t testing.TB, pats []clinical.Patient) memSource {
	t.Helper()
	bufs := map[string]*bytes.Buffer{}
	w := NewWriter(func(rt string) (io.Writer, error) {
		b := &bytes.Buffer{}
		bufs[rt] = b
		return b, nil
	})
	for _, p := range pats {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src := memSource{}
	for k, b := range bufs {
		src[k] = b.Bytes()
	}
	return src
}

// Realistic codes: SNOMED CT concepts for diagnoses, observations with
// their units, procedures, vaccines; dm+d ids for medicines.
var (
	fxConditions = []clinical.Code{44054006, 38341003, 195967001, 53741008, 49436004, 13645005}
	fxLabs       = []struct {
		code     clinical.Code
		unit     string
		mean, sd float64
	}{
		{1049301000000100, "mmol/mol", 52, 12}, // HbA1c (IFCC)
		{1005671000000105, "mmol/L", 4.8, 1.0}, // serum cholesterol
		{60621009, "kg/m2", 27, 5},             // BMI
		{1011481000000105, "mL/min", 78, 20},   // eGFR
	}
	fxBP          = []clinical.Code{75367002, 163020007}
	fxProcedures  = []clinical.Code{171055003, 401191002, 268547008}
	fxVaccines    = []clinical.Code{955691000000108, 1037311000000106, 1239861000000100}
	fxMedications = []clinical.Code{39109611000001107, 42206511000001102, 39695211000001102, 36031211000001109}
)

// fixturePatients makes n patients with about ev events each, deterministic
// from seed: England-like ages, one or two registrations, some deaths,
// blood pressures, lab values, diagnoses, procedures, vaccines, medicines.
func fixturePatients(n, ev int, seed uint64) []clinical.Patient {
	rng := rand.New(rand.NewPCG(seed, 7))
	base := domain.MustDate("2026-03-31")
	pats := make([]clinical.Patient, n)
	for i := range pats {
		birth := base.AddDays(-rng.IntN(95 * 365))
		p := clinical.Patient{
			ID:        fmt.Sprintf("pat-%07d", i),
			NHSNumber: fmt.Sprintf("9%09d", rng.IntN(1_000_000_000)),
			Birth:     birth,
			Death:     domain.NoDate,
			Sex:       clinical.Sex(1 + rng.IntN(2)),
		}
		start := birth.AddDays(rng.IntN(max(1, int(base-birth))))
		if rng.IntN(5) == 0 {
			mid := start.AddDays(rng.IntN(max(1, int(base-start))))
			p.Regs = append(p.Regs, clinical.Registration{Practice: "Y01234", Start: start, End: mid, Type: "temporary"})
			start = mid.AddDays(1)
		}
		end := domain.NoDate
		if rng.IntN(50) == 0 {
			p.Death = start.AddDays(rng.IntN(max(1, int(base-start))))
			end = p.Death
		}
		p.Regs = append(p.Regs, clinical.Registration{Practice: "A81001", Start: start, End: end, Type: "regular"})
		k := ev/2 + rng.IntN(ev+1)
		last := base
		if p.Death.Valid() {
			last = p.Death
		}
		for j := 0; j < k; j++ {
			e := clinical.Event{Date: last.AddDays(-rng.IntN(max(1, min(3650, int(last-birth))))), Seq: uint32(j)}
			switch r := rng.IntN(100); {
			case r < 10:
				e.Kind, e.Code = clinical.KindCondition, fxConditions[rng.IntN(len(fxConditions))]
			case r < 40:
				e.Kind, e.Code, e.NVal, e.Unit = clinical.KindObservation, fxBP[rng.IntN(len(fxBP))], 2, "mm[Hg]"
				e.V1 = float32(100 + rng.IntN(80))
				e.V2 = float32(55 + rng.IntN(45))
			case r < 70:
				l := fxLabs[rng.IntN(len(fxLabs))]
				e.Kind, e.Code, e.NVal, e.Unit = clinical.KindObservation, l.code, 1, l.unit
				e.V1 = float32(int((l.mean+l.sd*rng.NormFloat64())*10)) / 10
			case r < 78:
				e.Kind, e.Code = clinical.KindProcedure, fxProcedures[rng.IntN(len(fxProcedures))]
			case r < 86:
				e.Kind, e.Code = clinical.KindImmunisation, fxVaccines[rng.IntN(len(fxVaccines))]
			default:
				e.Kind, e.Code = clinical.KindMedication, fxMedications[rng.IntN(len(fxMedications))]
			}
			p.Events = append(p.Events, e)
		}
		pats[i] = p
	}
	return pats
}
