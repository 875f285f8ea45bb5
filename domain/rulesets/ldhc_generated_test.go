package rulesets_test

import (
	"io/fs"
	"slices"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/rules"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/synth"
)

// testHealthCheck stands in for the release's health check concepts: the
// sample cluster file has no verified member of HLTHCHK_COD.
const testHealthCheck clinical.Code = 990000000000000001

func ldhcWithTestCode(t *testing.T) *rules.RuleSet {
	t.Helper()
	ldhc, err := fs.ReadFile(rulesets.FS(), "LDHC2526/ldhc.rules")
	if err != nil {
		t.Fatal(err)
	}
	clusters, _ := fs.ReadFile(rulesets.FS(), rules.ClusterFile)
	cl := string(clusters) + "HLTHCHK_COD,999015851000230100,990000000000000001,TEST ONLY health check concept\n"
	rs, err := rules.Parse(map[string]string{"ldhc.rules": string(ldhc)}, rules.ClusterFile, cl)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// With a cluster file that has health check codes, a generated practice
// has learning disability health checks in every quarter, so LDHC001 is
// non-trivial; with the shipped sample it is 0, as its file says.
func TestGeneratedPracticesHaveLDHealthChecksWhenTheCodesAreLoaded(t *testing.T) {
	rs := ldhcWithTestCode(t)
	shipped, err := rulesets.Load("LDHC2526")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"2025-06-30", "2025-09-30", "2025-12-31", "2026-03-31"} {
		ach := domain.MustDate(q)
		opt := synth.Options{Practice: "A81001", Patients: 10000, Seed: 3, AchDate: ach, Clusters: rs.Clusters}
		b, err := synth.Batch(opt)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, r := range rs.Evaluate(b, ach) {
			if r.Indicator == "LDHC001" {
				n = r.Value
			}
		}
		t.Logf("quarter ending %s: LDHC001 = %d", q, n)
		// About 60 people on the register, 50 of them 14 or over, three
		// in four checked a year: some 5 to 15 a quarter.
		if n < 3 || n > 30 {
			t.Errorf("quarter ending %s: LDHC001 = %d, want a handful", q, n)
		}
		for _, r := range shipped.Evaluate(b, ach) {
			if r.Value != 0 {
				t.Errorf("quarter ending %s: the sample cluster file counted %v", q, r)
			}
		}
	}
}

// Health checks draw on their own random stream: loading their codes adds
// them and changes nothing else in any patient's record.
func TestHealthCheckCodesChangeNothingElse(t *testing.T) {
	rs := ldhcWithTestCode(t)
	ach := domain.MustDate("2026-03-31")
	plain := synth.Options{Practice: "A81001", Patients: 3000, Seed: 9, AchDate: ach}
	with := plain
	with.Clusters = rs.Clusters
	type key struct {
		d    domain.Date
		c    clinical.Code
		k    clinical.Kind
		v, w float32
	}
	keys := func(p clinical.Patient, drop clinical.Code) []key {
		var ks []key
		for _, e := range p.Events {
			if e.Code != drop {
				ks = append(ks, key{e.Date, e.Code, e.Kind, e.V1, e.V2})
			}
		}
		slices.SortFunc(ks, func(a, b key) int {
			if a.d != b.d {
				return int(a.d - b.d)
			}
			if a.c != b.c {
				return map[bool]int{true: -1, false: 1}[a.c < b.c]
			}
			return int(a.k) - int(b.k)
		})
		return ks
	}
	checks := 0
	for i := range plain.Patients {
		a, b := synth.Patient(plain, i), synth.Patient(with, i)
		for _, e := range b.Events {
			if e.Code == testHealthCheck {
				checks++
			}
		}
		if a.ID != b.ID || a.Birth != b.Birth || a.Sex != b.Sex || !slices.Equal(a.Regs, b.Regs) ||
			!slices.Equal(keys(a, 0), keys(b, testHealthCheck)) {
			t.Fatalf("patient %d differs beyond its health checks", i)
		}
	}
	if checks == 0 {
		t.Fatal("no health checks generated")
	}
}
