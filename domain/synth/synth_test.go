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

// TestFluSeasonUpToTheAchievementDate: a practice generated up to a date
// inside a flu season (September to March) has that season's vaccinations
// so far, not only the previous seasons'.
func TestFluSeasonUpToTheAchievementDate(t *testing.T) {
	flu := map[clinical.Code]bool{}
	for _, c := range loadBook(nil).codes["FLU_COD"] {
		flu[c] = true
	}
	for _, ach := range []domain.Date{domain.MustDate("2025-10-31"), domain.MustDate("2025-12-31"), domain.MustDate("2026-01-31"), domain.MustDate("2026-03-31")} {
		y, m, _ := ach.Civil()
		if m < 9 {
			y--
		}
		season := domain.DateOf(y, 9, 1)
		var over65, vaccinated int
		_ = Each(Options{Patients: 3000, Seed: 3, AchDate: ach}, func(p clinical.Patient) error {
			for _, e := range p.Events {
				if flu[e.Code] && e.Date < p.Birth.AddMonths(6) {
					t.Errorf("%s born %s has a flu vaccination on %s", p.ID, p.Birth, e.Date)
				}
			}
			if p.Birth.AgeOn(ach) < 65 {
				return nil
			}
			over65++
			for _, e := range p.Events {
				if flu[e.Code] && e.Date >= season && e.Date <= ach {
					vaccinated++
					break
				}
			}
			return nil
		})
		if share := float64(vaccinated) / float64(over65); share < 0.4 {
			t.Errorf("generated up to %s: %d of %d patients aged 65+ vaccinated since %s (%.2f), want most", ach, vaccinated, over65, season, share)
		}
	}
}

// TestFutureRegistrations: a few patients register only after the
// achievement date (they are in the source but not in the extract).
func TestFutureRegistrations(t *testing.T) {
	ach := domain.MustDate("2026-03-31")
	future := 0
	const n = 4000
	_ = Each(Options{Patients: n, Seed: 5, AchDate: ach}, func(p clinical.Patient) error {
		if p.Regs[0].Start > ach {
			future++
		}
		return nil
	})
	if share := float64(future) / n; share < 0.005 || share > 0.03 {
		t.Errorf("%d of %d patients register after the achievement date (%.3f), want about 1.5%%", future, n, share)
	}
}

// TestMonitoringStartsAtDiagnosis: the mental health checks (BMI, HbA1c)
// follow the diagnosis, so patients diagnosed in the last 3 months have
// mostly not had them yet (that is what the MH_DAT3 exception is for),
// while established patients mostly have.
func TestMonitoringStartsAtDiagnosis(t *testing.T) {
	ach := domain.MustDate("2026-03-31")
	in := func(cl string) map[clinical.Code]bool {
		m := map[clinical.Code]bool{}
		for _, c := range loadBook(nil).codes[cl] {
			m[c] = true
		}
		return m
	}
	mhc, bmi := in("MH_COD"), in("BMI_COD")
	var recent, recentChecked, old, oldChecked, before int
	_ = Each(Options{Patients: 60000, Seed: 11, AchDate: ach}, func(p clinical.Patient) error {
		first := domain.NoDate
		checked := false
		for _, e := range p.Events {
			if mhc[e.Code] && !first.Valid() {
				first = e.Date
			}
			if bmi[e.Code] {
				if !first.Valid() || e.Date < first {
					before++
				}
				if e.Date > ach.AddMonths(-12) && e.Date <= ach {
					checked = true
				}
			}
		}
		switch {
		case !first.Valid():
		case first > ach.AddMonths(-3):
			recent++
			if checked {
				recentChecked++
			}
		case first < ach.AddYears(-1):
			old++
			if checked {
				oldChecked++
			}
		}
		return nil
	})
	if before > 0 {
		t.Errorf("%d BMI checks before the mental health diagnosis", before)
	}
	if recent < 5 || old < 100 {
		t.Fatalf("only %d recent and %d established diagnoses", recent, old)
	}
	rShare, oShare := float64(recentChecked)/float64(recent), float64(oldChecked)/float64(old)
	if rShare > 0.5 || oShare < 0.6 {
		t.Errorf("BMI in the last year: %.2f of %d diagnosed in the last 3 months, %.2f of %d established; want under 0.5 and over 0.6",
			rShare, recent, oShare, old)
	}
}
