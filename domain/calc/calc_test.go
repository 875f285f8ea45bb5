package calc

import (
	"errors"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"

	"gpcollections/domain"
)

const svcID = "QOF2526"

var achDate = domain.MustDate("2026-03-31")

// rows builds INDICATOR_VALUES rows of one practice from "IND FIELD" -> value.
func rows(service string, kv ...any) []domain.IndicatorValue {
	var out []domain.IndicatorValue
	for i := 0; i < len(kv); i += 2 {
		ind, field, _ := strings.Cut(kv[i].(string), " ")
		out = append(out, domain.IndicatorValue{
			Service: service, Practice: "A81001", AchDate: achDate,
			Indicator: ind, Field: field, Value: int64(kv[i+1].(int)),
		})
	}
	return out
}

// pointsService has one prevalence-based indicator (AF008 on the AF001
// register) and one that is not (SMOK002), both 12 points, 40-90%.
func pointsService() *domain.ServiceDef {
	return &domain.ServiceDef{ID: svcID, Kind: domain.KindPoints, Indicators: []domain.IndicatorDef{
		{ID: "AF001", Kind: domain.IndRegister},
		{ID: "AF008", Kind: domain.IndAchievement, Points: 12, Lower: 4000, Upper: 9000, Register: "AF001", PrevalenceBased: true, Reasons: []string{"PCA_DECLINED", "PCA_UNSUITABLE"}},
		{ID: "SMOK002", Kind: domain.IndAchievement, Points: 12, Lower: 4000, Upper: 9000},
	}}
}

// pointsParams: £225.49 a point, national list 10,000 (so a 10,000 list has
// CPI 1), AF national prevalence 2%.
func pointsParams() domain.PaymentParams {
	return domain.PaymentParams{
		Version: 1, PencePerPoint: 22549, NationalAvgListSize: 10000,
		NationalPrevalence: map[string]domain.Ratio{"AF001": {Num: 2, Den: 100}},
	}
}

// paramsWith is pointsParams changed by f.
func paramsWith(f func(*domain.PaymentParams)) domain.PaymentParams {
	p := pointsParams()
	f(&p)
	return p
}

func find(t *testing.T, r Result, id string) IndicatorResult {
	t.Helper()
	for _, ir := range r.Indicators {
		if ir.ID == id {
			return ir
		}
	}
	t.Fatalf("no result for %s", id)
	return IndicatorResult{}
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

// The published example (Lincolnshire LMC, 2022/23): AF, all 29 points at
// £207.56, list 16,000 against a national average of 9,374, practice
// prevalence 3.05% (488 / 16,000) against 2.1% nationally.
func TestPublishedWorkedExample(t *testing.T) {
	svc := &domain.ServiceDef{ID: "QOF2223", Kind: domain.KindPoints, Indicators: []domain.IndicatorDef{
		{ID: "AF001", Kind: domain.IndRegister},
		{ID: "AF008", Kind: domain.IndAchievement, Points: 29, Lower: 7000, Upper: 9500, Register: "AF001", PrevalenceBased: true},
	}}
	params := domain.PaymentParams{
		Version: 1, PencePerPoint: 20756, NationalAvgListSize: 9374,
		NationalPrevalence: map[string]domain.Ratio{"AF001": {Num: 21, Den: 1000}},
	}
	values := rows("QOF2223", "AF001 REGISTER", 488, "AF008 REGISTER", 488, "AF008 DENOMINATOR", 450, "AF008 NUMERATOR", 450)

	cases := []struct {
		name           string
		decimals       int
		want           domain.Pence
		cpi, prevalFct string
	}{
		// The example quotes CPI 1.71 and factor 1.45: 29 × 207.56 × 1.71 ×
		// 1.45 = 14,924.70558, which rounds to £14,924.71.
		{"factors rounded to 2 decimals as published", 2, 1492471, "1.71", "1.45"},
		// Exact factors are 16000/9374 = 1.70685 and (488/16000)/0.021 =
		// 1.45238: 29 × 20756p × 488 × 1000 / (9374 × 21) = 146869456000/98427
		// pence = £14,921.66336..., so £14,921.66. The published figure is
		// £3.05 higher because rounding CPI up 0.18% outweighs rounding the
		// factor down 0.16%.
		{"exact factors", 0, 1492166, "8000/4687", "1525/1050"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := params
			p.FactorDecimals = tc.decimals
			res, err := Calculate(Input{Service: svc, Params: p, ListSize: 16000, Values: values})
			if err != nil {
				t.Fatal(err)
			}
			af := find(t, res, "AF008")
			if af.Points.Cmp(big.NewRat(29, 1)) != 0 {
				t.Errorf("points %s, want 29", af.Points.RatString())
			}
			if af.Pence != tc.want || res.Pence != tc.want {
				t.Errorf("indicator %s, total %s, want %s", af.Pence, res.Pence, tc.want)
			}
			if af.CPI.Cmp(rat(tc.cpi)) != 0 || af.PrevalenceFactor.Cmp(rat(tc.prevalFct)) != 0 {
				t.Errorf("CPI %s factor %s, want %s and %s", af.CPI.RatString(), af.PrevalenceFactor.RatString(), tc.cpi, tc.prevalFct)
			}
			if Percent(af.Prevalence, 2) != "3.05" {
				t.Errorf("prevalence %s%%, want 3.05%%", Percent(af.Prevalence, 2))
			}
		})
	}
}

// Thresholds 40-90%, 12 points, denominator 100 (or 1000), non-prevalence,
// CPI 1: pounds are points × £225.49.
func TestThresholdEdges(t *testing.T) {
	cases := []struct {
		name          string
		den, num      int
		points        string
		pence         domain.Pence
		next, upper   int64
		noAchievement bool
	}{
		{"zero numerator", 100, 0, "0", 0, 45, 90, false},
		{"just below lower", 100, 39, "0", 0, 6, 51, false},
		{"exactly lower earns nothing", 100, 40, "0", 0, 5, 50, false},
		{"just above lower", 100, 41, "6/25", 5412, 4, 49, false},                   // 0.24 × 225.49 = 54.1176
		{"one patient past lower of 1000", 1000, 401, "3/125", 541, 41, 499, false}, // 0.024 pts = £5.41176
		{"whole point exactly: next is the one above", 100, 65, "6", 135294, 5, 25, false},
		{"just below upper", 100, 89, "294/25", 265176, 1, 1, false}, // 11.76 × 225.49 = 2651.7624
		{"exactly upper earns all", 100, 90, "12", 270588, 0, 0, false},
		{"above upper earns no more", 100, 100, "12", 270588, 0, 0, false},
		{"zero denominator: no points, no error", 0, 0, "0", 0, NotApplicable, NotApplicable, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values := rows(svcID, "SMOK002 REGISTER", 1000, "SMOK002 DENOMINATOR", tc.den, "SMOK002 NUMERATOR", tc.num)
			res, err := Calculate(Input{Service: pointsService(), Params: pointsParams(), ListSize: 10000, Values: values})
			if err != nil {
				t.Fatal(err)
			}
			r := find(t, res, "SMOK002")
			if r.Points.Cmp(rat(tc.points)) != 0 {
				t.Errorf("points %s, want %s", r.Points.RatString(), tc.points)
			}
			if r.Pence != tc.pence {
				t.Errorf("pence %d, want %d", r.Pence, tc.pence)
			}
			if r.NeededNextPoint != tc.next || r.NeededUpper != tc.upper {
				t.Errorf("needed next %d upper %d, want %d and %d", r.NeededNextPoint, r.NeededUpper, tc.next, tc.upper)
			}
			if (r.Achievement == nil) != tc.noAchievement {
				t.Errorf("achievement %v, want nil=%v", r.Achievement, tc.noAchievement)
			}
			if tc.noAchievement && len(r.Notes) == 0 {
				t.Error("a zero denominator should say why there are no points")
			}
		})
	}
}

// A step scale (lower == upper) pays all or nothing; full points at the threshold.
func TestStepThreshold(t *testing.T) {
	svc := &domain.ServiceDef{ID: svcID, Kind: domain.KindPoints, Indicators: []domain.IndicatorDef{
		{ID: "VI001", Kind: domain.IndAchievement, Points: 18, Lower: 9000, Upper: 9000},
	}}
	for _, tc := range []struct {
		num         int
		points      int64
		next, upper int64
	}{{89, 0, 1, 1}, {90, 18, 0, 0}, {0, 0, 90, 90}} {
		res, err := Calculate(Input{Service: svc, Params: pointsParams(), ListSize: 10000,
			Values: rows(svcID, "VI001 DENOMINATOR", 100, "VI001 NUMERATOR", tc.num)})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Indicators[0]
		if r.Points.Cmp(big.NewRat(tc.points, 1)) != 0 || r.NeededNextPoint != tc.next || r.NeededUpper != tc.upper {
			t.Errorf("num %d: points %s next %d upper %d, want %d, %d, %d", tc.num, r.Points.RatString(), r.NeededNextPoint, r.NeededUpper, tc.points, tc.next, tc.upper)
		}
	}
}

func TestThresholdsMissingFromRuleSetAreFlaggedNotGuessed(t *testing.T) {
	svc := &domain.ServiceDef{ID: svcID, Kind: domain.KindPoints, Indicators: []domain.IndicatorDef{
		{ID: "AF006", Kind: domain.IndAchievement, Points: 12},
	}}
	res, err := Calculate(Input{Service: svc, Params: pointsParams(), ListSize: 10000,
		Values: rows(svcID, "AF006 DENOMINATOR", 100, "AF006 NUMERATOR", 95)})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Indicators[0]
	if r.Points.Sign() != 0 || r.Pence != 0 || len(r.Notes) == 0 || Percent(r.Achievement, 1) != "95.0" {
		t.Errorf("got points %s pence %d notes %v achievement %s", r.Points.RatString(), r.Pence, r.Notes, Percent(r.Achievement, 1))
	}
}

func TestZeroRegisterAndZeroListSize(t *testing.T) {
	t.Run("zero register", func(t *testing.T) {
		values := rows(svcID, "AF001 REGISTER", 0, "AF008 REGISTER", 0, "AF008 DENOMINATOR", 0, "AF008 NUMERATOR", 0)
		res, err := Calculate(Input{Service: pointsService(), Params: pointsParams(), ListSize: 8000, Values: values})
		if err != nil {
			t.Fatal(err)
		}
		r := find(t, res, "AF008")
		if r.Pence != 0 || r.Achievement != nil || r.NeededNextPoint != NotApplicable {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("zero register with a denominator still pays nothing", func(t *testing.T) {
		// Inconsistent data: the prevalence factor is 0, so nothing is paid.
		values := rows(svcID, "AF001 REGISTER", 0, "AF008 REGISTER", 0, "AF008 DENOMINATOR", 10, "AF008 NUMERATOR", 10)
		res, err := Calculate(Input{Service: pointsService(), Params: pointsParams(), ListSize: 8000, Values: values})
		if err != nil {
			t.Fatal(err)
		}
		r := find(t, res, "AF008")
		if r.Points.Cmp(big.NewRat(12, 1)) != 0 || r.Pence != 0 || r.PrevalenceFactor.Sign() != 0 {
			t.Errorf("points %s pence %d factor %v", r.Points.RatString(), r.Pence, r.PrevalenceFactor)
		}
	})
	t.Run("zero list size", func(t *testing.T) {
		values := rows(svcID, "AF001 REGISTER", 0, "AF008 DENOMINATOR", 10, "AF008 NUMERATOR", 10,
			"SMOK002 DENOMINATOR", 10, "SMOK002 NUMERATOR", 10)
		for _, decimals := range []int{0, 2} {
			p := pointsParams()
			p.FactorDecimals = decimals
			res, err := Calculate(Input{Service: pointsService(), Params: p, ListSize: 0, Values: values})
			if err != nil {
				t.Fatal(err)
			}
			if res.Pence != 0 || res.Points.Cmp(big.NewRat(24, 1)) != 0 {
				t.Errorf("decimals %d: pence %d points %s", decimals, res.Pence, res.Points.RatString())
			}
			if r := find(t, res, "AF008"); r.Prevalence != nil || r.CPI.Sign() != 0 {
				t.Errorf("prevalence %v CPI %v, want none and 0", r.Prevalence, r.CPI)
			}
		}
	})
}

// A practice of 30 patients with 2 on the AF register (6.67%), 1 of 2 treated
// (50%, 5.8 of 29 points at £207.56, national 2.1% and 9,374).
func TestTinyPractice(t *testing.T) {
	svc := &domain.ServiceDef{ID: svcID, Kind: domain.KindPoints, Indicators: []domain.IndicatorDef{
		{ID: "AF001", Kind: domain.IndRegister},
		{ID: "AF008", Kind: domain.IndAchievement, Points: 29, Lower: 4000, Upper: 9000, Register: "AF001", PrevalenceBased: true},
	}}
	params := domain.PaymentParams{Version: 1, PencePerPoint: 20756, NationalAvgListSize: 9374,
		NationalPrevalence: map[string]domain.Ratio{"AF001": {Num: 21, Den: 1000}}}
	values := rows(svcID, "AF001 REGISTER", 2, "AF008 REGISTER", 2, "AF008 DENOMINATOR", 2, "AF008 NUMERATOR", 1)
	for _, tc := range []struct {
		decimals int
		want     domain.Pence
	}{
		// 5.8 × 20756 × 2 × 1000 / (9374 × 21) = 120384800/98427 = 1223.087p.
		{0, 1223},
		// CPI 30/9374 = 0.0032 rounds to 0.00: quoting rounded factors pays a
		// tiny practice nothing, which is why exact is the default.
		{2, 0},
	} {
		params.FactorDecimals = tc.decimals
		res, err := Calculate(Input{Service: svc, Params: params, ListSize: 30, Values: values})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Indicators[1]
		if r.Pence != tc.want || r.Points.Cmp(big.NewRat(29, 5)) != 0 {
			t.Errorf("decimals %d: pence %d points %s, want %d and 29/5", tc.decimals, r.Pence, r.Points.RatString(), tc.want)
		}
		// One more patient treated reaches the upper threshold (100% >= 90%).
		if r.NeededUpper != 1 || r.NeededNextPoint != 1 {
			t.Errorf("needed %d/%d, want 1/1", r.NeededNextPoint, r.NeededUpper)
		}
	}
	for _, n := range []int64{1, 7, 50} {
		res, err := Calculate(Input{Service: svc, Params: params, ListSize: n,
			Values: rows(svcID, "AF001 REGISTER", 1, "AF008 DENOMINATOR", 1, "AF008 NUMERATOR", 1)})
		if err != nil {
			t.Fatalf("list size %d: %v", n, err)
		}
		if res.Indicators[1].Points.Cmp(big.NewRat(29, 1)) != 0 {
			t.Errorf("list size %d: points %s", n, res.Indicators[1].Points.RatString())
		}
	}
}

// The caller passes the list size on the service's list size date; the
// money must follow it exactly.
func TestListSizeChanges(t *testing.T) {
	calc, err := New(pointsService(), pointsParams())
	if err != nil {
		t.Fatal(err)
	}
	at := func(list int64, reg int) Result {
		t.Helper()
		res, err := calc.Practice(list, rows(svcID, "AF001 REGISTER", reg, "AF008 DENOMINATOR", 100, "AF008 NUMERATOR", 95,
			"SMOK002 DENOMINATOR", 100, "SMOK002 NUMERATOR", 95))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	base := at(10000, 200) // CPI 1, prevalence 2% = national: factor 1
	if got := find(t, base, "SMOK002").Pence; got != 270588 {
		t.Fatalf("base SMOK002 %d, want 270588 (12 × £225.49)", got)
	}
	if got := find(t, base, "AF008").Pence; got != 270588 {
		t.Fatalf("base AF008 %d, want 270588", got)
	}
	for _, tc := range []struct {
		list     int64
		smok     domain.Pence
		numerDen [2]int64 // expected ratio to base
	}{
		{15000, 405882, [2]int64{3, 2}},
		{5000, 135294, [2]int64{1, 2}},
		{20000, 541176, [2]int64{2, 1}},
		{10001, 270615, [2]int64{10001, 10000}}, // 270588 × 1.0001 = 270615.06
	} {
		// Non-prevalence money is proportional to the list size.
		got := find(t, at(tc.list, 200), "SMOK002").Pence
		if got != tc.smok {
			t.Errorf("list %d: SMOK002 %d, want %d", tc.list, got, tc.smok)
		}
		exact := new(big.Rat).Mul(big.NewRat(270588, 1), big.NewRat(tc.numerDen[0], tc.numerDen[1]))
		if domain.RoundPence(exact.Quo(exact, big.NewRat(100, 1))) != got {
			t.Errorf("list %d: %d is not base × %d/%d rounded once", tc.list, got, tc.numerDen[0], tc.numerDen[1])
		}
		// With the register held, the prevalence falls as the list grows and
		// the list size cancels: the AF payment is unchanged.
		if af := find(t, at(tc.list, 200), "AF008").Pence; af != 270588 {
			t.Errorf("list %d, register 200: AF008 %d, want 270588 unchanged", tc.list, af)
		}
		// With the prevalence held (the register grows with the list), it is
		// proportional like the rest.
		reg := int(tc.list / 50)
		if af := find(t, at(tc.list, reg), "AF008").Pence; tc.list%50 == 0 && af != tc.smok {
			t.Errorf("list %d, register %d: AF008 %d, want %d", tc.list, reg, af, tc.smok)
		}
	}
}

func TestItemOfServiceCaps(t *testing.T) {
	svc := &domain.ServiceDef{ID: "LDHC2526", Kind: domain.KindItemOfService, Indicators: []domain.IndicatorDef{
		{ID: "LD001", Kind: domain.IndRegister, Entry: domain.EntryManual},
		{ID: "LDHC001", Kind: domain.IndCount, CapIndicator: "LD001"},
		{ID: "LDHC002", Kind: domain.IndCount}, // uncapped
	}}
	params := domain.PaymentParams{Version: 1, Fees: map[string]domain.Pence{"LDHC001": 14000, "LDHC002": 1206}}
	cases := []struct {
		name      string
		values    []any
		payable   int64
		capped    bool
		pence     domain.Pence
		missing   []string
		total     domain.Pence
		otherPaid domain.Pence
	}{
		{"below the cap", []any{"LD001 REGISTER", 25, "LDHC001 COUNT", 20}, 20, false, 280000, nil, 280000, 0},
		{"at the cap", []any{"LD001 REGISTER", 25, "LDHC001 COUNT", 25}, 25, false, 350000, nil, 350000, 0},
		{"above the cap pays the register", []any{"LD001 REGISTER", 25, "LDHC001 COUNT", 31}, 25, true, 350000, nil, 350000, 0},
		{"register 0 pays nothing", []any{"LD001 REGISTER", 0, "LDHC001 COUNT", 3}, 0, true, 0, nil, 0, 0},
		{"register not yet entered", []any{"LDHC001 COUNT", 3, "LDHC002 COUNT", 1000}, 0, false, 0, []string{"LD001 REGISTER"}, 1206000, 1206000},
		{"count missing", []any{"LD001 REGISTER", 25}, 0, false, 0, []string{"LDHC001 COUNT"}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Calculate(Input{Service: svc, Params: params, ListSize: 5000, Values: rows("LDHC2526", tc.values...)})
			if err != nil {
				t.Fatal(err)
			}
			r := find(t, res, "LDHC001")
			if r.Payable != tc.payable || r.Capped != tc.capped || r.Pence != tc.pence || !slices.Equal(r.Missing, tc.missing) {
				t.Errorf("payable %d capped %v pence %d missing %v, want %d %v %d %v", r.Payable, r.Capped, r.Pence, r.Missing, tc.payable, tc.capped, tc.pence, tc.missing)
			}
			if res.Pence != tc.total || find(t, res, "LDHC002").Pence != tc.otherPaid {
				t.Errorf("total %d, want %d", res.Pence, tc.total)
			}
		})
	}
}

func TestTotalsAreSumsOfRoundedLines(t *testing.T) {
	// Three indicators of 1/3 point each at 100p: each line rounds 33.33p to
	// 33p, so the total is 99p, not round(100p).
	svc := &domain.ServiceDef{ID: svcID, Kind: domain.KindPoints}
	var values []any
	for _, id := range []string{"A1", "A2", "A3"} {
		svc.Indicators = append(svc.Indicators, domain.IndicatorDef{ID: id, Kind: domain.IndAchievement, Points: 1, Lower: 0, Upper: 7500})
		values = append(values, id+" DENOMINATOR", 4, id+" NUMERATOR", 1)
	}
	p := domain.PaymentParams{Version: 1, PencePerPoint: 100, NationalAvgListSize: 100}
	res, err := Calculate(Input{Service: svc, Params: p, ListSize: 100, Values: rows(svcID, values...)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pence != 99 || res.Points.Cmp(big.NewRat(1, 1)) != 0 || res.PointsMax != 3 {
		t.Errorf("total %d points %s of %d, want 99p, 1 of 3", res.Pence, res.Points.RatString(), res.PointsMax)
	}
}

func TestRegisterIndicatorPoints(t *testing.T) {
	svc := &domain.ServiceDef{ID: svcID, Kind: domain.KindPoints, Indicators: []domain.IndicatorDef{
		{ID: "AF001", Kind: domain.IndRegister, Points: 5, PrevalenceBased: true},
	}}
	p := pointsParams()
	res, err := Calculate(Input{Service: svc, Params: p, ListSize: 10000, Values: rows(svcID, "AF001 REGISTER", 200)})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Indicators[0]; r.Points.Cmp(big.NewRat(5, 1)) != 0 || r.Pence != 5*22549 {
		t.Errorf("points %s pence %d, want 5 and %d", r.Points.RatString(), r.Pence, 5*22549)
	}
	res, err = Calculate(Input{Service: svc, Params: p, ListSize: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Indicators[0]; r.Points.Sign() != 0 || !slices.Equal(r.Missing, []string{"AF001 REGISTER"}) {
		t.Errorf("no register: points %s missing %v", r.Points.RatString(), r.Missing)
	}
}

func TestMissingFieldsAndReasons(t *testing.T) {
	values := rows(svcID, "AF008 DENOMINATOR", 100, "AF008 NUMERATOR", 95, "AF008 PCA_UNSUITABLE", 3)
	res, err := Calculate(Input{Service: pointsService(), Params: pointsParams(), ListSize: 10000, Values: values})
	if err != nil {
		t.Fatal(err)
	}
	af := find(t, res, "AF008")
	wantMissing := []string{"AF008 REGISTER", "AF008 PCA_DECLINED", "AF001 REGISTER"}
	if !slices.Equal(af.Missing, wantMissing) {
		t.Errorf("missing %v, want %v", af.Missing, wantMissing)
	}
	if af.Pence != 0 || af.Points.Cmp(big.NewRat(12, 1)) != 0 {
		t.Errorf("without a register the points stand but nothing is paid: pence %d points %s", af.Pence, af.Points.RatString())
	}
	if !slices.Equal(af.Reasons, []FieldValue{{"PCA_UNSUITABLE", 3}}) {
		t.Errorf("reasons %v", af.Reasons)
	}
}

func TestBadInputIsRefusedWithItsPlace(t *testing.T) {
	ok := rows(svcID, "AF001 REGISTER", 200, "AF008 DENOMINATOR", 10, "AF008 NUMERATOR", 5)
	other := ok[1]
	other.Practice = "B82002"
	cases := []struct {
		name   string
		values []domain.IndicatorValue
		list   int64
		want   string
		index  int
	}{
		{"wrong service", rows("FLU2526", "AF001 REGISTER", 1), 10000, `service "FLU2526"`, 0},
		{"unknown indicator", rows(svcID, "AF001 REGISTER", 1, "XX001 REGISTER", 1), 10000, "XX001 is not in service", 1},
		{"unknown field", rows(svcID, "AF001 COUNT", 1), 10000, "AF001 has no field COUNT (fields: REGISTER)", 0},
		{"duplicate", rows(svcID, "AF001 REGISTER", 1, "AF001 REGISTER", 2), 10000, "given twice", 1},
		{"negative", rows(svcID, "AF001 REGISTER", -1), 10000, "not between 0", 0},
		{"too large", rows(svcID, "AF001 REGISTER", MaxCount+1), 10000, "not between 0", 0},
		{"two practices", append(ok[:1:1], other), 10000, "give one practice", 1},
		{"numerator above denominator", rows(svcID, "AF008 DENOMINATOR", 10, "AF008 NUMERATOR", 11), 10000, "AF008: numerator 11 is above the denominator 10", -1},
		{"register above list size", ok, 100, "register AF001 200 is above the list size 100", -1},
		{"negative list size", ok, -1, "list size -1", -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Calculate(Input{Service: pointsService(), Params: pointsParams(), ListSize: tc.list, Values: tc.values})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
			var re *RowError
			if errors.As(err, &re) != (tc.index >= 0) || (re != nil && re.Index != tc.index) {
				t.Errorf("row error %v, want index %d", re, tc.index)
			}
		})
	}
}

func TestNewRefusesInvalidParameters(t *testing.T) {
	ios := &domain.ServiceDef{ID: "FLU2526", Kind: domain.KindItemOfService, Indicators: []domain.IndicatorDef{
		{ID: "FLU001", Kind: domain.IndCount, CapIndicator: "FLU000"},
	}}
	badRef := pointsService()
	badRef.Indicators[1].Register = "SMOK002X"
	cases := []struct {
		name   string
		svc    *domain.ServiceDef
		params domain.PaymentParams
		want   string
	}{
		{"negative pence per point", pointsService(), paramsWith(func(p *domain.PaymentParams) { p.PencePerPoint = -1 }), "pence per point -1"},
		{"negative national list size", pointsService(), paramsWith(func(p *domain.PaymentParams) { p.NationalAvgListSize = -5 }), "national average list size -5"},
		{"prevalence over 100%", pointsService(), paramsWith(func(p *domain.PaymentParams) { p.NationalPrevalence["AF001"] = domain.Ratio{Num: 3, Den: 2} }), "national prevalence for AF001 is 3/2"},
		{"factor decimals", pointsService(), paramsWith(func(p *domain.PaymentParams) { p.FactorDecimals = 9 }), "factor decimals 9"},
		{"unknown register", badRef, pointsParams(), "AF008 draws its prevalence from SMOK002X"},
		{"negative fee", ios, domain.PaymentParams{Version: 2, Fees: map[string]domain.Pence{"FLU001": -1}}, "version 2: fee for FLU001"},
		{"unknown cap", ios, domain.PaymentParams{Fees: map[string]domain.Pence{"FLU001": 1}}, "capped by unknown indicator FLU000"},
		{"no service", nil, pointsParams(), "no service definition"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.svc, tc.params)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// A parameter not yet published leaves the indicators that need it unpriced:
// their points stand, nothing is paid for them, and the result says why.
func TestMissingParametersLeaveIndicatorsUnpriced(t *testing.T) {
	values := rows(svcID, "AF001 REGISTER", 200, "AF008 DENOMINATOR", 100, "AF008 NUMERATOR", 95,
		"SMOK002 DENOMINATOR", 100, "SMOK002 NUMERATOR", 95)
	cases := []struct {
		name     string
		params   domain.PaymentParams
		unpriced []string
		why      string
		pence    domain.Pence
	}{
		{"no national prevalence", paramsWith(func(p *domain.PaymentParams) { p.NationalPrevalence = nil }), []string{"AF008"}, "no national prevalence for AF001 in payment parameters version 1", 270588},
		{"no pence per point", paramsWith(func(p *domain.PaymentParams) { p.PencePerPoint = 0 }), []string{"AF008", "SMOK002"}, "no pence per point", 0},
		{"no national list size", paramsWith(func(p *domain.PaymentParams) { p.NationalAvgListSize = 0 }), []string{"AF008", "SMOK002"}, "no national average list size", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Calculate(Input{Service: pointsService(), Params: tc.params, ListSize: 10000, Values: values})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Unpriced, tc.unpriced) || res.Pence != tc.pence {
				t.Errorf("unpriced %v pence %d, want %v and %d", res.Unpriced, res.Pence, tc.unpriced, tc.pence)
			}
			af := find(t, res, "AF008")
			if !strings.Contains(af.Unpriced, tc.why) || af.Pence != 0 || af.Points.Cmp(big.NewRat(12, 1)) != 0 || af.NeededUpper != 0 {
				t.Errorf("AF008 unpriced %q pence %d points %s", af.Unpriced, af.Pence, af.Points.RatString())
			}
		})
	}
	t.Run("no fee in an item-of-service service", func(t *testing.T) {
		svc := &domain.ServiceDef{ID: "FLU2526", Kind: domain.KindItemOfService, Indicators: []domain.IndicatorDef{
			{ID: "FLU001", Kind: domain.IndCount}, {ID: "FLU002", Kind: domain.IndCount},
		}}
		res, err := Calculate(Input{Service: svc, Params: domain.PaymentParams{Version: 2, Fees: map[string]domain.Pence{"FLU002": 1006}},
			Values: rows("FLU2526", "FLU001 COUNT", 10, "FLU002 COUNT", 10)})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Unpriced, []string{"FLU001"}) || res.Pence != 10060 || res.Indicators[0].Unpriced != "no fee for FLU001 in payment parameters version 2" {
			t.Errorf("unpriced %v pence %d: %q", res.Unpriced, res.Pence, res.Indicators[0].Unpriced)
		}
	})
}

func TestPercentAndDecimalFormatting(t *testing.T) {
	if got := Percent(big.NewRat(2, 3), 2); got != "66.67" {
		t.Errorf("Percent(2/3) = %s", got)
	}
	if got := Decimal(big.NewRat(1, 8), 2); got != "0.13" { // halves away from zero
		t.Errorf("Decimal(1/8) = %s", got)
	}
	if Percent(nil, 2) != "" || Decimal(nil, 2) != "" {
		t.Error("nil should format as empty")
	}
}

// One Calculator serves many practices at once (the national recalculation
// fans out); run with -race.
func TestCalculatorIsSafeForConcurrentUse(t *testing.T) {
	c, err := New(pointsService(), pointsParams())
	if err != nil {
		t.Fatal(err)
	}
	want, err := c.Practice(10000, rows(svcID, "AF001 REGISTER", 200, "AF008 DENOMINATOR", 100, "AF008 NUMERATOR", 77))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 200 {
				res, err := c.Practice(10000, rows(svcID, "AF001 REGISTER", 200, "AF008 DENOMINATOR", 100, "AF008 NUMERATOR", 77))
				if err != nil || res.Pence != want.Pence || res.Points.Cmp(want.Points) != 0 {
					t.Errorf("goroutine %d: %v %d", g, err, res.Pence)
					return
				}
			}
		})
	}
	wg.Wait()
}
