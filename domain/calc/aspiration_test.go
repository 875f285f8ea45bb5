package calc

import (
	"math/rand/v2"
	"testing"

	"gpcollections/domain"
)

func TestAspirationMonthsSumToTheAnnualAmount(t *testing.T) {
	eighty := domain.Ratio{Num: 4, Den: 5}
	cases := []struct {
		name          string
		share         domain.Ratio
		prior         domain.Pence
		annual, month domain.Pence
		last          domain.Pence
	}{
		// 80% of £12,345.67 = £9,876.536 -> £9,876.54; /12 = £823.0447 -> £823.04;
		// December takes £9,876.54 - 11 × £823.04 = £823.10.
		{"80% of a typical year", eighty, 1234567, 987654, 82304, 82310},
		{"70% share", domain.Ratio{Num: 7, Den: 10}, 12000000, 8400000, 700000, 700000},
		{"nothing earned last year", eighty, 0, 0, 0, 0},
		{"no share configured", domain.Ratio{}, 1234567, 0, 0, 0},
		// 6p / 12 = 0.5p would round up to 1p and overpay 11p by November:
		// months take the whole pence (0) and December the 6p.
		{"tiny annual amount", domain.Ratio{Num: 1, Den: 1}, 6, 6, 0, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Aspiration(tc.share, tc.prior)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Annual != tc.annual || plan.Months[0] != tc.month || plan.Months[10] != tc.month || plan.Months[11] != tc.last {
				t.Errorf("annual %d months %v, want %d, %d × 11, %d", plan.Annual, plan.Months, tc.annual, tc.month, tc.last)
			}
		})
	}
}

func TestAspirationPropertyNoMonthNegativeAndExactSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		prior := domain.Pence(rng.Int64N(1 << uint(rng.IntN(40)+1)))
		den := rng.Int64N(1000) + 1
		share := domain.Ratio{Num: rng.Int64N(den + 1), Den: den}
		plan, err := Aspiration(share, prior)
		if err != nil {
			t.Fatal(err)
		}
		var sum domain.Pence
		for i, m := range plan.Months {
			if m < 0 {
				t.Fatalf("share %v prior %d: month %d is %d", share, prior, i+1, m)
			}
			sum += m
		}
		if sum != plan.Annual {
			t.Fatalf("share %v prior %d: months sum to %d, annual %d", share, prior, sum, plan.Annual)
		}
		// December absorbs at most the rounding of eleven months.
		if d := plan.Months[11] - plan.Months[0]; d > 11 || d < -6 {
			t.Fatalf("share %v prior %d: December %d vs %d", share, prior, plan.Months[11], plan.Months[0])
		}
	}
}

func TestAspirationRefusesBadInput(t *testing.T) {
	if _, err := Aspiration(domain.Ratio{Num: 6, Den: 5}, 100); err == nil {
		t.Error("a share above 100% should be refused")
	}
	if _, err := Aspiration(domain.Ratio{Num: -1, Den: 5}, 100); err == nil {
		t.Error("a negative share should be refused")
	}
	if _, err := Aspiration(domain.Ratio{Num: 4, Den: 5}, -1); err == nil {
		t.Error("a negative prior payment should be refused")
	}
}

func TestYearEndReconciliation(t *testing.T) {
	plan, err := Aspiration(domain.Ratio{Num: 4, Den: 5}, 5000000) // £40,000 paid in advance
	if err != nil {
		t.Fatal(err)
	}
	var paid domain.Pence
	for _, m := range plan.Months {
		paid += m
	}
	for _, tc := range []struct {
		achievement, want domain.Pence
	}{
		{5200000, 1200000}, // achieved more: £12,000 due
		{4000000, 0},       // exactly the advance
		{3500000, -500000}, // achieved less: the practice repays £5,000
		{0, -4000000},      // achieved nothing
	} {
		if got := Reconcile(tc.achievement, paid); got != tc.want {
			t.Errorf("achievement %s less %s paid = %s, want %s", tc.achievement, paid, got, tc.want)
		}
	}
}
