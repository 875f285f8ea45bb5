package rulesets_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/rules"
	"gpcollections/domain/rulesets"
)

// Rule coverage of the spec tables: every rule of every shipped register
// and indicator must be seen both true and false by some hand-built
// patient, so a mistyped rule anywhere in a list shows up as a wrong count.
// runSpecs records the branches from each patient's explanation.

var (
	covMu sync.Mutex
	// covered["QOF2526/DM020/denominator/3/TRUE"]
	covered = map[string]bool{}
)

var (
	covHead = regexp.MustCompile(`^([A-Z0-9]+): `)
	covStep = regexp.MustCompile(`^  (register|denominator|numerator|count) rule (\d+): (TRUE|FALSE) -> `)
)

func recordCoverage(t *testing.T, service string, rs *rules.RuleSet, b *clinical.Batch, ach domain.Date) {
	t.Helper()
	covMu.Lock()
	defer covMu.Unlock()
	for _, p := range b.Patients {
		txt, err := rs.Explain(b, ach, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		list := ""
		for _, line := range strings.Split(txt, "\n") {
			if m := covHead.FindStringSubmatch(line); m != nil {
				list = m[1]
				continue
			}
			if m := covStep.FindStringSubmatch(line); m != nil {
				covered[fmt.Sprintf("%s/%s/%s/%s/%s", service, list, m[1], m[2], m[3])] = true
			}
		}
	}
}

func TestSpecTablesCoverEveryRule(t *testing.T) {
	// The tables, run here so that the coverage is complete whatever order
	// the tests run in.
	for name, table := range map[string]func(*testing.T){
		"QOFRegisters": TestQOFRegisters, "QOFDiabetes": TestQOFDiabetes,
		"QOFBloodPressureControl": TestQOFBloodPressureControl, "QOFAsthma": TestQOFAsthma,
		"QOFPublicHealth": TestQOFPublicHealth, "QOFVaccination": TestQOFVaccination,
		"QOFMentalHealth": TestQOFMentalHealth, "Flu": TestFluMonthlyCohorts,
		"ChildhoodImmunisation": TestChildhoodImmunisationDoses, "LDHealthChecks": TestLDHealthChecks,
	} {
		t.Run(name, table)
	}
	var missing []string
	for _, id := range rulesets.IDs() {
		rs, err := rulesets.Load(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range rs.Lists {
			if l.Manual() {
				continue
			}
			sections := map[string][]rules.Rule{}
			switch l.Kind {
			case rules.ListRegister:
				sections["register"] = l.Rules
			case rules.ListAchievement:
				sections["denominator"], sections["numerator"] = l.Denom, l.Numer
			default:
				sections["count"] = l.Rules
			}
			for sec, rl := range sections {
				for _, r := range rl {
					for _, b := range []string{"TRUE", "FALSE"} {
						k := fmt.Sprintf("%s/%s/%s/%d/%s", id, l.Def.ID, sec, r.N, b)
						if !covered[k] {
							missing = append(missing, k)
						}
					}
				}
			}
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		t.Errorf("no spec case takes %s", k)
	}
}
