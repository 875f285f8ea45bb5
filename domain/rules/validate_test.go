package rules

import (
	"strings"
	"testing"
)

// TestValidationErrorsNameFileAndLine: each broken rule file is refused
// with the file, the line and what was wrong.
func TestValidationErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, rules, want string
	}{
		{"unknown cluster", "field X = last NOPE_COD\n", "dm.rules:1: unknown cluster NOPE_COD"},
		{"unknown field", "register R \"r\"\n  rule 1 if NOPE then select else reject\nend\n", "dm.rules:2: unknown field NOPE"},
		{"unknown field in comparison", "register R \"r\"\n  rule 1 if NOPE.value > 1 then select else reject\nend\n", "dm.rules:2: unknown field NOPE"},
		{"falls off the end", "register R \"r\"\n  rule 1 if AGE > 1 then select else next\nend\n", "dm.rules:2: R register: the last rule (1) says \"next\""},
		{"reason used twice", "register R \"r\"\n  rule 1 if AGE > 1 then select else reject\nend\nindicator I \"i\"\n  register R\n  denominator\n    rule 1 if AGE > 5 then reject OLD else next\n    rule 2 if AGE > 3 then reject OLD else select\n  numerator\n    rule 1 if AGE > 2 then select else reject\nend\n", "dm.rules:8: I: reason OLD used twice (also at dm.rules:7)"},
		{"unknown register", "indicator I \"i\"\n  register NOREG\n  denominator\n    rule 1 if AGE > 5 then select else reject\n  numerator\n    rule 1 if AGE > 2 then select else reject\nend\n", "dm.rules:2: I: unknown register NOREG"},
		{"unknown register in on", "register R \"r\"\n  rule 1 if on NOREG then select else reject\nend\n", "dm.rules:2: unknown register NOREG"},
		{"rule numbering", "register R \"r\"\n  rule 2 if AGE > 1 then select else reject\nend\n", "dm.rules:2: R register: rule numbered 2, expected 1"},
		{"type mismatch", "register R \"r\"\n  rule 1 if AGE > PPED then select else reject\nend\n", "dm.rules:2: cannot compare a number with a date"},
		{"not closed", "register R \"r\"\n  rule 1 if AGE > 1 then select else reject\n", "dm.rules:1: block not closed"},
		{"reason in numerator", "indicator I \"i\"\n  denominator\n    rule 1 if AGE > 5 then select else reject\n  numerator\n    rule 1 if AGE > 2 then select else reject WHY\nend\n", "dm.rules:5: I numerator rule 1: reject WHY: only denominator rejects carry a reason"},
		{"duplicate field", "field A = last DM_COD\nfield A = first DM_COD\n", "dm.rules:2: field A already defined at dm.rules:1"},
		{"bad window", "field A = last DM_COD after LATER-12m\n", "dm.rules:1: expected PPED, PSD, SSD, SED, DOB, REG or a date"},
		{"unknown attribute", "register R \"r\"\n  colour blue\nend\n", "dm.rules:2: unknown indicator attribute \"colour\""},
		{"register cycle", "register R \"r\"\n  rule 1 if on S then select else reject\nend\nregister S \"s\"\n  rule 1 if on R then select else reject\nend\n", "refers to itself"},
		{"bad character", "field A = last DM_COD ; \n", "dm.rules:1: unexpected character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(map[string]string{"service.rules": testService, "dm.rules": c.rules}, "clusters.csv", testClusters)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.rules)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestClusterFileErrors(t *testing.T) {
	cases := map[string]string{
		"cluster_id,refset_id,concept_id\n":                                                    "clusters.csv:1: header must be",
		"cluster_id,refset_id,concept_id,description\nDM_COD,1,abc,x\n":                        "clusters.csv:2: concept id \"abc\"",
		"cluster_id,refset_id,concept_id,description\nDM_COD,1,123456,x\nDM_COD,2,1234567,y\n": "clusters.csv:3: cluster DM_COD has refset 2 here but 1 earlier",
		"cluster_id,refset_id,concept_id,description\nDM_COD,1,123456,x\nDM_COD,1,123456,y\n":  "clusters.csv:3: concept 123456 listed twice",
		"": "empty cluster file",
	}
	for in, want := range cases {
		_, err := ParseClusters("clusters.csv", strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

// FuzzParse: arbitrary rule text never panics; it loads or is refused.
func FuzzParse(f *testing.F) {
	f.Add(testRules)
	f.Add("register R \"r\"\n  rule 1 if (AGE > 1 and not (DMLAT)) or true then select else reject\nend\n")
	f.Add("field A = count DM_COD spaced 7d on or after DOB+8m and before PPED-1y\n")
	f.Add("indicator I \"x\"\n kind count\n count A\n rule 1 if A.date = 2025-01-01 then select else reject\nend")
	f.Fuzz(func(t *testing.T, src string) {
		rs, err := Parse(map[string]string{"service.rules": testService, "x.rules": src}, "clusters.csv", testClusters)
		if err == nil && rs.Service.ID != "TST2526" {
			t.Fatalf("loaded with service %q", rs.Service.ID)
		}
	})
}
