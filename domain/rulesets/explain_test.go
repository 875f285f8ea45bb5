package rulesets_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/synth"
)

// TestExplainAgreesWithTheExtract explains every patient of a generated
// practice and adds up what the explanations say (on the register, in the
// denominator, the numerator, excluded for a reason, counted): the totals
// must be the extract's counts, so a practice checking patients one by one
// against its clinical system checks the figures it is paid on.
func TestExplainAgreesWithTheExtract(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 400
	}
	head := regexp.MustCompile(`^([A-Z0-9]+): (.*)$`)
	for id, dates := range achDates {
		rs, err := rulesets.Load(id)
		if err != nil {
			t.Fatal(err)
		}
		ach := dates[0]
		b, err := synth.Batch(synth.Options{Practice: "A81001", Patients: n, Seed: 21, AchDate: ach})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, p := range b.Patients {
			txt, err := rs.Explain(b, ach, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(txt, "Not in the extract population") {
				continue
			}
			for _, line := range strings.Split(txt, "\n") {
				m := head.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				ind, out := m[1], m[2]
				def, ok := rs.Service.Indicator(ind)
				if !ok {
					t.Fatalf("%s: explanation names unknown indicator %s", id, ind)
				}
				switch {
				case strings.HasPrefix(out, "not on register "):
				case out == "ON the register":
					got[ind+"/"+domain.FieldRegister]++
				case out == "not on the register", out == "not counted", strings.HasPrefix(out, "entered manually"):
				case strings.HasPrefix(out, "counted ("):
					k, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(out, "counted ("), ")"))
					if err != nil {
						t.Fatalf("%s: %q", ind, line)
					}
					got[ind+"/"+domain.FieldCount] += int64(k)
				default:
					got[ind+"/"+domain.FieldRegister]++
					switch {
					case out == "in the denominator and the NUMERATOR":
						got[ind+"/"+domain.FieldDenominator]++
						got[ind+"/"+domain.FieldNumerator]++
					case out == "in the denominator, not the numerator":
						got[ind+"/"+domain.FieldDenominator]++
					case strings.HasPrefix(out, "excluded, reason "):
						got[ind+"/"+strings.TrimPrefix(out, "excluded, reason ")]++
					case out == "not in the denominator":
					default:
						t.Fatalf("%s: unexpected outcome %q (%s)", ind, out, def.Kind)
					}
				}
			}
		}
		for _, r := range rs.Evaluate(b, ach) {
			k := r.Indicator + "/" + r.Field
			if got[k] != r.Value {
				t.Errorf("%s %s: explanations add up to %s = %d, the extract says %d", id, ach, k, got[k], r.Value)
			}
			delete(got, k)
		}
		for k, v := range got {
			t.Errorf("%s: explanations count %s = %d, not an extract field", id, k, v)
		}
	}
}
