package synth

import (
	"bytes"
	"io"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/fhir"
)

func ndjson(t *testing.T, opt Options) map[string][]byte {
	t.Helper()
	bufs := map[string]*bytes.Buffer{}
	w := fhir.NewWriter(func(rt string) (io.Writer, error) {
		bufs[rt] = &bytes.Buffer{}
		return bufs[rt], nil
	})
	if err := Each(opt, w.Write); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for k, b := range bufs {
		out[k] = b.Bytes()
	}
	return out
}

func TestSameSeedByteIdenticalNDJSON(t *testing.T) {
	opt := Options{Practice: "A81001", Patients: 600, Seed: 42, AchDate: domain.MustDate("2026-03-31")}
	a, b := ndjson(t, opt), ndjson(t, opt)
	if len(a) < 5 {
		t.Fatalf("only %d resource files", len(a))
	}
	for rt := range a {
		if !bytes.Equal(a[rt], b[rt]) {
			t.Errorf("%s differs between two runs with the same seed", rt)
		}
	}
	opt.Seed = 43
	c := ndjson(t, opt)
	if bytes.Equal(a["Observation"], c["Observation"]) {
		t.Error("a different seed gave the same observations")
	}
}

func TestGeneratedRecordsReadBackAndLookRealistic(t *testing.T) {
	ach := domain.MustDate("2026-03-31")
	opt := Options{Practice: "A81001", Patients: 4000, Seed: 5, AchDate: ach}
	files := ndjson(t, opt)
	b, st, err := fhir.Read(func(rt string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(files[rt])), nil
	}, fhir.Options{Practice: "A81001", Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Bad != 0 || len(b.Patients) != 4000 {
		t.Fatalf("read back %d patients, %d bad lines", len(b.Patients), st.Bad)
	}
	perPatient := float64(len(b.Events)) / float64(len(b.Patients))
	if perPatient < 40 || perPatient > 70 {
		t.Errorf("%.1f coded events per patient, want about 50", perPatient)
	}
	var children, elderly, female, dead, joiners int
	for i, p := range b.Patients {
		age := p.Birth.AgeOn(ach)
		if age < 5 {
			children++
		}
		if age >= 75 {
			elderly++
		}
		if p.Sex == clinical.SexFemale {
			female++
		}
		if p.Death.Valid() {
			dead++
		}
		for _, r := range b.PatientRegs(i) {
			if r.Start > ach.AddYears(-1) && r.Start <= ach {
				joiners++
			}
		}
	}
	n := float64(len(b.Patients))
	check := func(what string, got, lo, hi float64) {
		if got < lo || got > hi {
			t.Errorf("%s %.3f, want between %.3f and %.3f", what, got, lo, hi)
		}
	}
	check("under-5 share", float64(children)/n, 0.03, 0.08)
	check("75+ share", float64(elderly)/n, 0.06, 0.13)
	check("female share", float64(female)/n, 0.47, 0.56)
	check("deaths in the year", float64(dead)/n, 0.002, 0.02)
	check("joiners in the year", float64(joiners)/n, 0.06, 0.14)
}
