package rulesets_test

import (
	"fmt"
	"reflect"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/synth"
)

// achDates covers the year end, a flu month, a quarter end and a month end
// with clamping (February).
var achDates = map[string][]domain.Date{
	"QOF2526":      {domain.MustDate("2026-03-31"), domain.MustDate("2025-09-30")},
	"FLU2526":      {domain.MustDate("2025-10-31"), domain.MustDate("2026-02-28")},
	"CHILDIMM2526": {domain.MustDate("2025-11-30"), domain.MustDate("2026-03-31")},
	"LDHC2526":     {domain.MustDate("2025-06-30"), domain.MustDate("2026-03-31")},
}

// TestFastMatchesReference runs the fast and the reference evaluator on
// generated practices over many seeds and requires identical output.
func TestFastMatchesReference(t *testing.T) {
	seeds := 12
	patients := 1500
	if testing.Short() {
		seeds, patients = 3, 800
	}
	for _, id := range rulesets.IDs() {
		rs, err := rulesets.Load(id)
		if err != nil {
			t.Fatal(err)
		}
		for seed := int64(1); seed <= int64(seeds); seed++ {
			for _, ach := range achDates[id] {
				b, err := synth.Batch(synth.Options{Practice: "A81001", Patients: patients, Seed: seed, AchDate: ach})
				if err != nil {
					t.Fatal(err)
				}
				fast := rs.Evaluate(b, ach)
				ref := rs.EvaluateReference(b, ach)
				if !reflect.DeepEqual(fast, ref) {
					for i := range fast {
						if i < len(ref) && fast[i] != ref[i] {
							t.Errorf("%s seed %d %s: fast %s/%s=%d, reference %d", id, seed, ach, fast[i].Indicator, fast[i].Field, fast[i].Value, ref[i].Value)
						}
					}
					t.Fatalf("%s seed %d %s: evaluators disagree", id, seed, ach)
				}
				single := rs.EvaluateWorkers(b, ach, 1)
				if !reflect.DeepEqual(fast, single) {
					t.Fatalf("%s seed %d: parallel and single-worker results differ", id, seed)
				}
			}
		}
	}
}

// TestGeneratedPracticeExercisesEveryIndicator requires a non-trivial
// register, denominator, numerator and every reason for each shipped QOF
// indicator on 30,000 generated patients.
func TestGeneratedPracticeExercisesEveryIndicator(t *testing.T) {
	if testing.Short() {
		t.Skip("30,000 generated patients")
	}
	rs, _ := rulesets.Load("QOF2526")
	ach := domain.MustDate("2026-03-31")
	b, err := synth.Batch(synth.Options{Practice: "A81001", Patients: 30000, Seed: 7, AchDate: ach})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rs.Evaluate(b, ach) {
		got[r.Indicator+"/"+r.Field] = r.Value
	}
	for _, d := range rs.Service.Indicators {
		for _, f := range d.Fields() {
			k := d.ID + "/" + f
			if got[k] == 0 {
				t.Errorf("%s is 0 on 30,000 generated patients", k)
			}
		}
		if d.Kind == domain.IndAchievement && got[d.ID+"/NUMERATOR"] >= got[d.ID+"/DENOMINATOR"] {
			t.Errorf("%s: numerator %d not below denominator %d", d.ID, got[d.ID+"/NUMERATOR"], got[d.ID+"/DENOMINATOR"])
		}
	}
	if testing.Verbose() {
		for _, d := range rs.Service.Indicators {
			line := d.ID
			for _, f := range d.Fields() {
				line += fmt.Sprintf(" %s=%d", f, got[d.ID+"/"+f])
			}
			t.Log(line)
		}
	}
}
