package rulesets_test

import (
	"io/fs"
	"strings"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/rules"
	"gpcollections/domain/rulesets"
)

func TestFluMonthlyCohorts(t *testing.T) {
	flu := func(date string, extra ...ev) []ev { return append([]ev{e("FLU_COD", date)}, extra...) }
	runSpecs(t, "FLU2526", []spec{
		{name: "October 2025", ach: "2025-10-31", patients: []pt{
			{birth: "1955-01-01", events: flu("2025-10-15")},                                                          // 65+: FLU001
			{birth: "1955-01-01", events: flu("2025-09-20")},                                                          // given last month
			{birth: "1955-01-01", events: flu("2025-09-20", e("FLU_COD", "2025-10-20"))},                              // second dose this season: not again
			{birth: "1961-04-01", events: flu("2025-10-10", e("DM_COD", "2015-01-01"))},                               // 64 on 31 March 2026, diabetic: FLU002
			{birth: "1961-03-31", events: flu("2025-10-10")},                                                          // 65 on 31 March 2026: FLU001
			{birth: "1995-01-01", events: flu("2025-10-10", e("PREG_COD", "2025-08-01"))},                             // pregnant: FLU003
			{birth: "2023-06-01", events: flu("2025-10-10")},                                                          // 2 on 31 August 2025: FLU004
			{birth: "1985-01-01", events: flu("2025-10-10")},                                                          // not eligible
			{birth: "1975-01-01", events: flu("2025-10-01", e("AST_COD", "2010-01-01"))},                              // first day of the month, asthma: FLU002
			{birth: "1955-01-01", events: flu("2025-09-30")},                                                          // last day of the previous month
			{birth: "1995-01-01", sex: clinical.SexMale, events: flu("2025-10-10", e("PREG_COD", "2025-08-01"))},      // a man with a pregnancy code: no
			{birth: "1970-01-01", events: flu("2025-10-20", e("COPD_COD", "2018-01-01"))},                             // COPD: FLU002
			{birth: "2000-01-01", events: []ev{e("LD_COD", "2010-01-01")}},                                            // learning disability, not vaccinated
			{birth: "1980-01-01", events: flu("2025-10-10", e("DM_COD", "2015-01-01"), e("DMRES_COD", "2015-01-01"))}, // diabetes resolved the same day: not at risk
		}, want: map[string]int64{"FLURISK/REGISTER": 4, "FLU001/COUNT": 2, "FLU002/COUNT": 3, "FLU003/COUNT": 1, "FLU004/COUNT": 1}},
	})
}

func TestChildhoodImmunisationDoses(t *testing.T) {
	runSpecs(t, "CHILDIMM2526", []spec{
		{name: "November 2025", ach: "2025-11-30", patients: []pt{
			{birth: "2025-09-05", events: []ev{e("6IN1VAC_COD", "2025-11-05"), e("MENBVAC1_COD", "2025-11-05"), e("ROTAVAC1_COD", "2025-11-05")}},
			{birth: "2019-11-01", events: []ev{e("4IN1VAC_COD", "2025-11-10")}}, // 6: not counted
			{birth: "2022-07-01", events: []ev{e("MMRVAC1_COD", "2025-11-30"), e("4IN1VAC_COD", "2025-11-30")}},
			{birth: "2025-09-01", events: []ev{e("6IN1VAC_COD", "2025-10-31")}}, // previous month
			{birth: "2025-08-01", events: []ev{e("PCV_COD", "2025-11-03"), e("PCV_COD", "2025-11-24")}},
			{birth: "2024-11-01", events: []ev{e("HIBMENC_COD", "2025-11-02")}},
		}, want: map[string]int64{"CI6IN1/COUNT": 1, "CIMENB/COUNT": 1, "CIROTA/COUNT": 1, "CIMMR/COUNT": 1, "CI4IN1/COUNT": 1,
			"CIPCV/COUNT": 2, "CIHIBMENC/COUNT": 1}},
	})
}

// TestLDHealthChecks runs the shipped LDHC rules with the sample cluster
// file plus one test concept in HLTHCHK_COD (the sample has no verified
// member), to check the quarter, once-a-year and age rules, and that the
// manual register produces no extracted row.
func TestLDHealthChecks(t *testing.T) {
	ldhc, err := fs.ReadFile(rulesets.FS(), "LDHC2526/ldhc.rules")
	if err != nil {
		t.Fatal(err)
	}
	clusters, _ := fs.ReadFile(rulesets.FS(), rules.ClusterFile)
	const testCheck = 990000000000000001
	cl := string(clusters) + "HLTHCHK_COD,999015851000230100,990000000000000001,TEST ONLY health check concept\n"
	rs, err := rules.Parse(map[string]string{"ldhc.rules": string(ldhc)}, rules.ClusterFile, cl)
	if err != nil {
		t.Fatal(err)
	}
	check := func(date string) ev { return code(testCheck, date) }
	ld := func(events ...ev) []ev { return append([]ev{e("LD_COD", "2005-01-01")}, events...) }
	b := buildBatch(t, rs.Clusters, []pt{
		{birth: "2000-01-01", events: ld(check("2025-08-10"))},                      // Q2 check: counted in Q2
		{birth: "2000-01-01", events: ld(check("2025-05-10"), check("2025-08-10"))}, // second check in the year: not again
		{birth: "2011-09-30", events: ld(check("2025-09-30"))},                      // turns 14 on the quarter end: counted
		{birth: "2011-10-01", events: ld(check("2025-09-01"))},                      // 13
		{birth: "2000-01-01", events: []ev{check("2025-08-10")}},                    // not on the LD register
		{birth: "2000-01-01", events: ld(check("2025-06-30"))},                      // previous quarter's last day
	})
	recordCoverage(t, "LDHC2526", rs, b, domain.MustDate("2025-09-30"))
	got := map[string]int64{}
	for _, r := range rs.Evaluate(b, domain.MustDate("2025-09-30")) {
		got[r.Indicator+"/"+r.Field] = r.Value
		if r.Indicator == "LDREG" {
			t.Errorf("manual indicator LDREG was extracted: %v", r)
		}
	}
	if got["LDHC001/COUNT"] != 2 {
		t.Errorf("LDHC001/COUNT = %d, want 2", got["LDHC001/COUNT"])
	}
	def, _ := rs.Service.Indicator("LDHC001")
	if def.CapIndicator != "LDREG" {
		t.Errorf("LDHC001 cap = %q, want LDREG", def.CapIndicator)
	}
	// With the shipped sample alone the count is always zero, as its file says.
	shipped, _ := rulesets.Load("LDHC2526")
	for _, r := range shipped.Evaluate(b, domain.MustDate("2025-09-30")) {
		if r.Value != 0 {
			t.Errorf("sample cluster file counted %v", r)
		}
	}
}

// TestServiceDefinitions checks the payment parameters the brief fixes.
func TestServiceDefinitions(t *testing.T) {
	qof, _ := rulesets.Service("QOF2526")
	p, ok := qof.LatestParams()
	if !ok || p.PencePerPoint != 22549 || p.NationalAvgListSize != 9964 || !strings.Contains(p.Note, "UNVERIFIED") {
		t.Errorf("QOF2526 payment %+v", p)
	}
	if qof.Frequency != domain.Annual || qof.Kind != domain.KindPoints || qof.PriorYear != "QOF2425" || !qof.DeclarationRequired {
		t.Errorf("QOF2526 service %+v", qof)
	}
	n := 0
	groups := map[string]bool{}
	for _, d := range qof.Indicators {
		if d.Kind == domain.IndAchievement {
			n++
			groups[d.Group] = true
			if d.Points == 0 || d.Upper == 0 {
				t.Errorf("%s has no points or thresholds", d.ID)
			}
		}
	}
	if n < 20 || len(groups) < 7 {
		t.Errorf("QOF2526 has %d achievement indicators in %d groups", n, len(groups))
	}
	dm020, _ := qof.Indicator("DM020")
	if dm020.Points != 17 || dm020.Lower != 3500 || dm020.Upper != 7500 {
		t.Errorf("DM020 %+v", dm020)
	}
	fees := map[string]domain.Pence{"FLU2526": 1006, "CHILDIMM2526": 1206, "LDHC2526": 14000}
	for id, fee := range fees {
		s, err := rulesets.Service(id)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := s.LatestParams()
		for ind, f := range p.Fees {
			if f != fee {
				t.Errorf("%s fee %s = %v, want %v", id, ind, f, fee)
			}
		}
		if len(p.Fees) == 0 {
			t.Errorf("%s has no fees", id)
		}
	}
	flu, _ := rulesets.Service("FLU2526")
	if flu.Frequency != domain.Monthly {
		t.Errorf("FLU2526 frequency %s", flu.Frequency)
	}
	ld, _ := rulesets.Service("LDHC2526")
	reg, _ := ld.Indicator("LDREG")
	if ld.Frequency != domain.Quarterly || reg.Entry != domain.EntryManual {
		t.Errorf("LDHC2526 %s, LDREG entry %s", ld.Frequency, reg.Entry)
	}
}
