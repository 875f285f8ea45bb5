package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gpcollections/domain"
)

// calcTestService is the published AF example (29 points, £207.56, national
// list 9,374, national AF prevalence 2.1%) plus a non-prevalence indicator
// and a capped item-of-service count, so one file exercises every kind.
func calcTestService() *domain.ServiceDef {
	return &domain.ServiceDef{
		ID: "QOF2223", Kind: domain.KindPoints,
		Indicators: []domain.IndicatorDef{
			{ID: "AF001", Kind: domain.IndRegister},
			{ID: "AF008", Kind: domain.IndAchievement, Points: 29, Lower: 7000, Upper: 9500, Register: "AF001", PrevalenceBased: true, Reasons: []string{"PCA_DECLINED"}},
			{ID: "SMOK002", Kind: domain.IndAchievement, Points: 12, Lower: 4000, Upper: 9000},
			{ID: "LD001", Kind: domain.IndRegister, Entry: domain.EntryManual},
			{ID: "LDHC001", Kind: domain.IndCount, CapIndicator: "LD001"},
		},
		Payment: []domain.PaymentParams{
			{Version: 1, EffectiveFrom: domain.MustDate("2022-04-01"), PencePerPoint: 20756, NationalAvgListSize: 9374, FactorDecimals: 2,
				NationalPrevalence: map[string]domain.Ratio{"AF001": {Num: 21, Den: 1000}}, Fees: map[string]domain.Pence{"LDHC001": 14000}},
			{Version: 2, EffectiveFrom: domain.MustDate("2023-04-01"), PencePerPoint: 20756, NationalAvgListSize: 9374,
				NationalPrevalence: map[string]domain.Ratio{"AF001": {Num: 21, Den: 1000}}, Fees: map[string]domain.Pence{"LDHC001": 14000}},
		},
	}
}

const calcCSV = `QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE
QOF2223,A81001,2023-03-31,AF001,REGISTER,488
QOF2223,A81001,2023-03-31,AF008,REGISTER,488
QOF2223,A81001,2023-03-31,AF008,DENOMINATOR,450
QOF2223,A81001,2023-03-31,AF008,NUMERATOR,450
QOF2223,A81001,2023-03-31,AF008,PCA_DECLINED,3
QOF2223,A81001,2023-03-31,SMOK002,REGISTER,2000
QOF2223,A81001,2023-03-31,SMOK002,DENOMINATOR,1000
QOF2223,A81001,2023-03-31,SMOK002,NUMERATOR,650
QOF2223,A81001,2023-03-31,LD001,REGISTER,25
QOF2223,A81001,2023-03-31,LDHC001,COUNT,31
`

// runGpc executes the real command tree in-process.
func runGpc(t *testing.T, args ...string) (string, error) {
	t.Helper()
	old := serviceByID
	t.Cleanup(func() { serviceByID = old })
	serviceByID = func(id string) (*domain.ServiceDef, error) {
		if id == "QOF2223" {
			return calcTestService(), nil
		}
		return old(id)
	}
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.csv")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCalcText(t *testing.T) {
	file := writeFile(t, calcCSV)
	out, err := runGpc(t, "calc", "--values", file, "--service", "QOF2223", "--list-size", "16000")
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 is in force on 2023-03-31 and rounds factors to 2 decimals:
	// the published £14,924.71. SMOK002 at 65% of 40-90% earns 6 of 12
	// points: 6 × £207.56 × 1.71 = £2,129.57; 42 more patients reach 7 points,
	// 250 more the upper threshold. 31 LD checks are capped at the register
	// of 25: 25 × £140 = £3,500.
	// Columns are compared with runs of spaces collapsed: the figures matter,
	// not the padding.
	var norm []string
	for _, line := range strings.Split(out, "\n") {
		norm = append(norm, strings.Join(strings.Fields(line), " "))
	}
	for _, want := range []string{
		"QOF2223 · practice A81001 · achievement date 2023-03-31 · list size 16,000",
		"payment parameters version 1: £207.56 a point, national average list size 9,374, CPI and prevalence factor rounded to 2 decimals",
		"INDICATOR ACHIEVEMENT NUM/DEN POINTS POUNDS NEXT POINT UPPER",
		"AF001 register 488",
		"AF008 100.00% 450/450 29.00 of 29 £14,924.71 0 0",
		"SMOK002 65.00% 650/1000 6.00 of 12 £2,129.57 +42 +250",
		"LDHC001 count 31, paid 25 £3,500.00",
		"TOTAL 35.00 of 41 £20,554.28",
	} {
		if !slices.Contains(norm, want) {
			t.Errorf("output lacks the line %q:\n%s", want, out)
		}
	}
}

func TestCalcJSONWithParamsVersion(t *testing.T) {
	file := writeFile(t, calcCSV)
	out, err := runGpc(t, "calc", "--values", file, "--service", "QOF2223", "--list-size", "16000", "--format", "json", "--params-version", "2")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ParamsVersion int `json:"paramsVersion"`
		Indicators    []struct {
			ID              string  `json:"id"`
			Achievement     *string `json:"achievementPercent"`
			PointsExact     string  `json:"pointsExact"`
			Pence           int64   `json:"pence"`
			Pounds          string  `json:"pounds"`
			NeededNextPoint *int64  `json:"neededNextPoint"`
			Capped          bool    `json:"capped"`
		} `json:"indicators"`
		Totals struct {
			Pence  int64  `json:"pence"`
			Points string `json:"pointsExact"`
		} `json:"totals"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.ParamsVersion != 2 || len(got.Indicators) != 5 {
		t.Fatalf("version %d, %d indicators", got.ParamsVersion, len(got.Indicators))
	}
	af, smok, ld := got.Indicators[1], got.Indicators[2], got.Indicators[4]
	// Version 2 keeps the factors exact: £14,921.66 (see the calc package test).
	if af.ID != "AF008" || af.Pence != 1492166 || af.Pounds != "14921.66" || *af.Achievement != "100.00" {
		t.Errorf("AF008 %+v", af)
	}
	// 6 × 20756p × 16000/9374 = 212564.11p.
	if smok.Pence != 212564 || smok.PointsExact != "6" || *smok.NeededNextPoint != 42 {
		t.Errorf("SMOK002 %+v", smok)
	}
	if got.Indicators[0].NeededNextPoint != nil || got.Indicators[0].Achievement != nil {
		t.Errorf("a register has no achievement or patients needed: %+v", got.Indicators[0])
	}
	if !ld.Capped || ld.Pence != 350000 || got.Totals.Pence != 1492166+212564+350000 || got.Totals.Points != "35" {
		t.Errorf("LDHC001 %+v totals %+v", ld, got.Totals)
	}
}

func TestCalcErrorsNameTheProblem(t *testing.T) {
	base := []string{"calc", "--service", "QOF2223", "--list-size", "16000", "--values"}
	twoPractices := calcCSV + "QOF2223,B82002,2023-03-31,AF001,REGISTER,10\n"
	cases := []struct {
		name, csv string
		extra     []string
		want      string
	}{
		{"numerator above denominator", strings.Replace(calcCSV, "NUMERATOR,450", "NUMERATOR,451", 1), nil, "AF008: numerator 451 is above the denominator 450"},
		{"unknown indicator names the line", calcCSV + "QOF2223,A81001,2023-03-31,XX001,COUNT,1\n", nil, "line 12: XX001 COUNT: indicator XX001 is not in service QOF2223"},
		{"negative value names the line", strings.Replace(calcCSV, "COUNT,31", "COUNT,-31", 1), nil, "line 11: LDHC001 COUNT: value -31"},
		{"bad value names the line", strings.Replace(calcCSV, "COUNT,31", "COUNT,3x", 1), nil, `line 11: VALUE "3x" is not a whole number`},
		{"wrong service names the line", strings.Replace(calcCSV, "QOF2223,A81001,2023-03-31,LD001", "FLU2223,A81001,2023-03-31,LD001", 1), nil, `line 10: LD001 REGISTER: row is for service "FLU2223"`},
		{"several practices", twoPractices, nil, "rows for 2 practices (A81001, B82002): choose one with --org"},
		{"unknown org", twoPractices, []string{"--org", "C00000"}, "no rows for --org C00000"},
		{"header only", "QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE\n", nil, "no rows after the header"},
		{"unknown params version", calcCSV, []string{"--params-version", "9"}, "no payment parameters version 9 (versions: 1 (from 2022-04-01), 2 (from 2023-04-01))"},
		{"no params in force", strings.ReplaceAll(calcCSV, "2023-03-31", "2021-03-31"), nil, "no payment parameters in force on 2021-03-31"},
		{"bad format", calcCSV, []string{"--format", "xml"}, `--format "xml": want text or json`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, tc.csv)
			_, err := runGpc(t, append(append(base, file), tc.extra...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	t.Run("unknown service", func(t *testing.T) {
		_, err := runGpc(t, "calc", "--service", "NOPE1", "--list-size", "1", "--values", writeFile(t, calcCSV))
		if err == nil || !strings.Contains(err.Error(), "NOPE1") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := runGpc(t, "calc", "--service", "QOF2223", "--list-size", "1", "--values", filepath.Join(t.TempDir(), "none.csv"))
		if err == nil || !strings.Contains(err.Error(), "none.csv") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("list size required", func(t *testing.T) {
		_, err := runGpc(t, "calc", "--service", "QOF2223", "--values", writeFile(t, calcCSV))
		if err == nil || !strings.Contains(err.Error(), "list-size") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestCalcOrgPicksOnePractice(t *testing.T) {
	file := writeFile(t, calcCSV+"QOF2223,B82002,2023-03-31,LD001,REGISTER,10\nQOF2223,B82002,2023-03-31,LDHC001,COUNT,4\n")
	out, err := runGpc(t, "calc", "--values", file, "--service", "QOF2223", "--list-size", "3000", "--org", "B82002")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "practice B82002") || !strings.Contains(out, "£560.00") || !strings.Contains(out, "no values given for AF001, AF008, SMOK002") {
		t.Errorf("output:\n%s", out)
	}
}

// The command is wired to the embedded rule sets.
func TestCalcUsesEmbeddedRuleSets(t *testing.T) {
	file := writeFile(t, `QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE
LDHC2526,A81001,2025-06-30,LDREG,REGISTER,25
LDHC2526,A81001,2025-06-30,LDHC001,COUNT,31
`)
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"calc", "--values", file, "--service", "LDHC2526", "--list-size", "9000", "--format", "json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Totals struct {
			Pence int64 `json:"pence"`
		} `json:"totals"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	// £140 a check, 31 checks capped at the register of 25.
	if got.Totals.Pence != 25*14000 {
		t.Errorf("total %d pence, want %d:\n%s", got.Totals.Pence, 25*14000, out.String())
	}

	file = writeFile(t, `QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE
QOF2526,A81001,2026-03-31,HYP001,REGISTER,1400
QOF2526,A81001,2026-03-31,HYP008,REGISTER,1100
QOF2526,A81001,2026-03-31,HYP008,DENOMINATOR,1000
QOF2526,A81001,2026-03-31,HYP008,NUMERATOR,700
`)
	root = newRoot()
	out.Reset()
	root.SetOut(&out)
	root.SetArgs([]string{"calc", "--values", file, "--service", "QOF2526", "--list-size", "10000"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "70.00%") || !strings.Contains(out.String(), "TOTAL") {
		t.Errorf("output:\n%s", out.String())
	}
}
