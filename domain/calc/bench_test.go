package calc

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gpcollections/domain"
)

// nationalQOF is a QOF-shaped service: 8 registers and 25 achievement
// indicators of 8 fields each (register, denominator, numerator, 5 reasons),
// 20 of them prevalence-based, with their parameters.
func nationalQOF() (*domain.ServiceDef, domain.PaymentParams) {
	svc := &domain.ServiceDef{ID: svcID, Kind: domain.KindPoints}
	params := domain.PaymentParams{Version: 1, PencePerPoint: 22549, NationalAvgListSize: 9964,
		NationalPrevalence: map[string]domain.Ratio{}}
	reasons := []string{"PCA_DECLINED", "PCA_UNSUITABLE", "PCA_NO_RESPONSE", "PCA_NEW_DIAGNOSIS", "PCA_NEW_REGISTRATION"}
	for r := range 8 {
		id := fmt.Sprintf("REG%03d", r)
		svc.Indicators = append(svc.Indicators, domain.IndicatorDef{ID: id, Kind: domain.IndRegister})
		params.NationalPrevalence[id] = domain.Ratio{Num: int64(5 + 13*r), Den: 1000}
	}
	for i := range 25 {
		d := domain.IndicatorDef{ID: fmt.Sprintf("ACH%03d", i), Kind: domain.IndAchievement,
			Points: 4 + i%30, Lower: 3500 + 100*(i%10), Upper: 8500 + 100*(i%8), Reasons: reasons}
		if i < 20 {
			d.PrevalenceBased, d.Register = true, fmt.Sprintf("REG%03d", i%8)
		}
		svc.Indicators = append(svc.Indicators, d)
	}
	return svc, params
}

type practiceRows struct {
	list int64
	rows []domain.IndicatorValue
}

// nationalRows generates every practice's INDICATOR_VALUES rows.
func nationalRows(svc *domain.ServiceDef, practices int) []practiceRows {
	rng := rand.New(rand.NewPCG(2526, 1))
	out := make([]practiceRows, practices)
	for p := range out {
		list := 1000 + rng.Int64N(30000)
		org := fmt.Sprintf("P%05d", p)
		regs := map[string]int64{}
		var rows []domain.IndicatorValue
		add := func(ind, field string, v int64) {
			rows = append(rows, domain.IndicatorValue{Service: svc.ID, Practice: org, AchDate: achDate, Indicator: ind, Field: field, Value: v})
		}
		for _, d := range svc.Indicators {
			if d.Kind == domain.IndRegister {
				regs[d.ID] = rng.Int64N(list / 8)
				add(d.ID, domain.FieldRegister, regs[d.ID])
				continue
			}
			reg := rng.Int64N(list / 8)
			if d.Register != "" {
				reg = regs[d.Register]
			}
			den := rng.Int64N(reg + 1)
			add(d.ID, domain.FieldRegister, reg)
			add(d.ID, domain.FieldDenominator, den)
			add(d.ID, domain.FieldNumerator, rng.Int64N(den+1))
			for _, r := range d.Reasons {
				add(d.ID, r, rng.Int64N(10))
			}
		}
		out[p] = practiceRows{list, rows}
	}
	return out
}

// BenchmarkNationalRecalculation recalculates 6,300 practices × the full
// QOF-shaped set from rows in memory; one op is the whole nation.
func BenchmarkNationalRecalculation(b *testing.B) {
	svc, params := nationalQOF()
	nation := nationalRows(svc, 6300)
	rows := 0
	for _, p := range nation {
		rows += len(p.rows)
	}
	c, err := New(svc, params)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var total domain.Pence
		for _, p := range nation {
			res, err := c.Practice(p.list, p.rows)
			if err != nil {
				b.Fatal(err)
			}
			total += res.Pence
		}
		if total <= 0 {
			b.Fatal("nothing paid")
		}
	}
	b.ReportMetric(float64(rows), "rows/op")
}

// BenchmarkPractice is one practice of the national set.
func BenchmarkPractice(b *testing.B) {
	svc, params := nationalQOF()
	p := nationalRows(svc, 1)[0]
	c, err := New(svc, params)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Practice(p.list, p.rows); err != nil {
			b.Fatal(err)
		}
	}
}
