package rules

import (
	"strings"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

const testClusters = `# sample
cluster_id,refset_id,concept_id,description
DM_COD,999004691000230108,44054006,Diabetes mellitus type 2
DM_COD,999004691000230108,46635009,Diabetes mellitus type 1
DMRES_COD,999003371000230102,315051004,Diabetes resolved
IFCCHBAM_COD,999003251000230103,999791000000106,Haemoglobin A1c level - IFCC standardised
BP_COD,999012731000230108,75367002,Blood pressure
`

const testService = `
service TST2526
  name "Test service"
  year "2025/26"
  period 2025-04-01 to 2026-03-31
  frequency annual
  kind points
  declaration required
  approval required
  auto-accept yes
end
payment 1 effective 2025-04-01
  pence-per-point 22549 "vendor figure"
  national-list-size 9964 UNVERIFIED "2024/25 carried forward"
end
`

const testRules = `
field DMLAT = last DM_COD
field DMRES = last DMRES_COD
field HBA = last IFCCHBAM_COD after PPED-12m
field BP = last BP_COD lowest after PPED-12m

register DMREG "Diabetes register"
  rule 1 if DMLAT and (not DMRES or DMRES.date < DMLAT.date)
         then next else reject
  rule 2 if AGE >= 17 then select else reject
end

indicator DMX "HbA1c 58 or less"
  points 10
  thresholds 40% 90%
  register DMREG
  denominator
    rule 1 if HBA.value <= 58 then select else next
    rule 2 if REG > PPED-9m then reject NEWREG else next
    rule 3 if not HBA then reject NOTEST else select
  numerator
    rule 1 if HBA.value <= 58 then select else reject
end
`

func testSet(t *testing.T) *RuleSet {
	t.Helper()
	rs, err := Parse(map[string]string{"service.rules": testService, "dm.rules": testRules}, "clusters.csv", testClusters)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestParseAndEvaluateBothWays(t *testing.T) {
	rs := testSet(t)
	d := domain.MustDate
	bl := clinical.NewBuilder("A81001")
	reg := []clinical.Registration{{Practice: "A81001", Start: d("2000-01-01"), End: domain.NoDate}}
	add := func(id string, birth string, ev ...clinical.Event) {
		if err := bl.Add(clinical.Patient{ID: id, Birth: d(birth), Death: domain.NoDate, Sex: clinical.SexFemale, Regs: reg, Events: ev}); err != nil {
			t.Fatal(err)
		}
	}
	dm := clinical.Event{Date: d("2010-01-01"), Code: 44054006, Kind: clinical.KindCondition}
	hba := func(date string, v float32) clinical.Event {
		return clinical.Event{Date: d(date), Code: 999791000000106, Kind: clinical.KindObservation, NVal: 1, V1: v}
	}
	add("achieves", "1950-01-01", dm, hba("2025-10-01", 50))
	add("fails", "1950-01-01", dm, hba("2025-10-01", 70))
	add("notest", "1950-01-01", dm)
	add("resolved-same-day", "1950-01-01", dm, clinical.Event{Date: d("2010-01-01"), Code: 315051004, Seq: 1})
	add("child", "2015-01-01", dm)
	b := bl.Build()
	got := rs.Evaluate(b, d("2026-03-31"))
	ref := rs.EvaluateReference(b, d("2026-03-31"))
	want := map[string]int64{"DMREG/REGISTER": 3, "DMX/REGISTER": 3, "DMX/DENOMINATOR": 2, "DMX/NUMERATOR": 1, "DMX/NEWREG": 0, "DMX/NOTEST": 1}
	for _, rows := range [][]domain.IndicatorValue{got, ref} {
		if len(rows) != len(want) {
			t.Fatalf("rows %v", rows)
		}
		for _, r := range rows {
			if want[r.Indicator+"/"+r.Field] != r.Value {
				t.Errorf("%s/%s = %d, want %d", r.Indicator, r.Field, r.Value, want[r.Indicator+"/"+r.Field])
			}
		}
	}
	txt, err := rs.Explain(b, d("2026-03-31"), "fails")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt, "HBA = 2025-10-01 code 999791000000106 value 70") {
		t.Errorf("explain:\n%s", txt)
	}
	t.Log(txt)
}
