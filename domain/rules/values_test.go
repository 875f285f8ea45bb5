package rules

import (
	"strings"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

// A coded event without a recorded value (an HbA1c code with no result, a
// blood pressure code with no readings, a reading without its diastolic)
// has no value: a comparison reading it is false, as the published rules'
// "IFCCHBA_VAL <= 58" is false when the value is null. It must never count
// as a value of 0, which would pass every "<=" target.
func TestValuelessEventsHaveNoValue(t *testing.T) {
	rs := testSet(t)
	d := domain.MustDate
	ach := d("2026-03-31")
	bl := clinical.NewBuilder("A81001")
	reg := []clinical.Registration{{Practice: "A81001", Start: d("2000-01-01"), End: domain.NoDate}}
	add := func(id string, ev ...clinical.Event) {
		if err := bl.Add(clinical.Patient{ID: id, Birth: d("1950-01-01"), Death: domain.NoDate, Sex: clinical.SexFemale, Regs: reg, Events: ev}); err != nil {
			t.Fatal(err)
		}
	}
	dm := clinical.Event{Date: d("2010-01-01"), Code: 44054006, Kind: clinical.KindCondition}
	hba := func(date string, seq uint32, v ...float32) clinical.Event {
		e := clinical.Event{Date: d(date), Code: 999791000000106, Kind: clinical.KindObservation, Seq: seq}
		if len(v) > 0 {
			e.NVal, e.V1 = 1, v[0]
		}
		return e
	}
	add("novalue", dm, hba("2025-10-01", 1))                                  // tested, no result: DENOM, not NUM
	add("latest-novalue", dm, hba("2025-06-01", 1, 50), hba("2025-10-01", 2)) // the latest has no result: DENOM
	add("value", dm, hba("2025-10-01", 1, 50))                                // NUM
	b := bl.Build()
	want := map[string]int64{"DMREG/REGISTER": 3, "DMX/REGISTER": 3, "DMX/DENOMINATOR": 3, "DMX/NUMERATOR": 1, "DMX/NEWREG": 0, "DMX/NOTEST": 0}
	for name, rows := range map[string][]domain.IndicatorValue{"fast": rs.Evaluate(b, ach), "reference": rs.EvaluateReference(b, ach)} {
		for _, r := range rows {
			if want[r.Indicator+"/"+r.Field] != r.Value {
				t.Errorf("%s: %s/%s = %d, want %d", name, r.Indicator, r.Field, r.Value, want[r.Indicator+"/"+r.Field])
			}
		}
	}
	txt, err := rs.Explain(b, ach, "novalue")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt, "HBA = 2025-10-01 code 999791000000106 no value") {
		t.Errorf("explain does not say the value is missing:\n%s", txt)
	}
}

// The lowest systolic and the lowest diastolic on the latest date are taken
// among the readings that have them; a reading with no values, or with a
// systolic only, does not make the lowest 0.
func TestLowestIgnoresMissingValues(t *testing.T) {
	rs := testSet(t)
	d := domain.MustDate
	ach := d("2026-03-31")
	set, err := Parse(map[string]string{"service.rules": testService, "bp.rules": `
field BP = last BP_COD lowest after PPED-12m
indicator BPX "BP 140/90 or less"
  points 1
  thresholds 40% 90%
  denominator
    rule 1 if true then select else reject
  numerator
    rule 1 if BP.value <= 140 and BP.value2 <= 90 then select else reject
end
`}, "clusters.csv", testClusters)
	if err != nil {
		t.Fatal(err)
	}
	_ = rs
	bl := clinical.NewBuilder("A81001")
	reg := []clinical.Registration{{Practice: "A81001", Start: d("2000-01-01"), End: domain.NoDate}}
	bp := func(seq uint32, v ...float32) clinical.Event {
		e := clinical.Event{Date: d("2025-10-01"), Code: 75367002, Kind: clinical.KindObservation, Seq: seq, NVal: uint8(len(v))}
		if len(v) > 0 {
			e.V1 = v[0]
		}
		if len(v) > 1 {
			e.V2 = v[1]
		}
		return e
	}
	add := func(id string, ev ...clinical.Event) {
		if err := bl.Add(clinical.Patient{ID: id, Birth: d("1950-01-01"), Death: domain.NoDate, Sex: clinical.SexFemale, Regs: reg, Events: ev}); err != nil {
			t.Fatal(err)
		}
	}
	add("a-high-then-empty", bp(1, 160, 100), bp(2))        // lowest of the readings with values: 160/100: not NUM
	add("b-empty-then-high", bp(1), bp(2, 160, 100))        // same
	add("c-systolic-only", bp(1, 130))                      // no diastolic: not NUM
	add("d-high-then-systolic", bp(1, 150, 85), bp(2, 130)) // lowest 130/85: NUM
	add("e-normal", bp(1, 130, 80))                         // NUM
	b := bl.Build()
	for name, rows := range map[string][]domain.IndicatorValue{"fast": set.Evaluate(b, ach), "reference": set.EvaluateReference(b, ach)} {
		for _, r := range rows {
			if r.Field == domain.FieldNumerator && r.Value != 2 {
				t.Errorf("%s: BPX numerator %d, want 2", name, r.Value)
			}
		}
	}
}
