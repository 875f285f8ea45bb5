package calc

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"gpcollections/domain"
)

// randMoney draws payment inputs: mostly QOF-sized, sometimes at the bounds
// the calculator accepts, so both the integer path and its fallback run.
func randMoney(rng *rand.Rand) money {
	wide := rng.IntN(4) == 0
	pick := func(typical, bound int64) int64 {
		if wide {
			return rng.Int64N(bound) + 1
		}
		return rng.Int64N(typical) + 1
	}
	m := money{
		ppp:       pick(30000, MaxCount),
		list:      pick(40000, MaxCount),
		natList:   pick(12000, MaxCount),
		prevBased: rng.IntN(2) == 0,
		decimals:  []int{0, 0, 1, 2, 3, 6}[rng.IntN(6)],
	}
	maxPts := pick(50, maxPoints)
	den := pick(5000, MaxCount)
	num := rng.Int64N(den + 1)
	lo := rng.Int64N(10000)
	hi := lo + rng.Int64N(10001-lo)
	if hi == lo {
		hi++
	}
	m.pn, m.pd = pointsFrac(domain.IndicatorDef{Points: int(maxPts), Lower: int(lo), Upper: int(hi)}, num, den)
	m.reg = rng.Int64N(m.list + 1)
	nd := pick(100000, 1e12)
	m.natPrev = domain.Ratio{Num: max(1, nd/(rng.Int64N(1000)+1)), Den: nd}
	return m
}

// The integer path is an optimisation of the big.Rat definition: whenever it
// answers, the answer is the definition's, to the penny.
func TestFastPenceMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	fast, fallback := 0, 0
	for i := range 200000 {
		m := randMoney(rng)
		want, werr := m.ratPence()
		got, ok := m.fastPence()
		if ok {
			fast++
			if werr != nil || domain.Pence(got) != want {
				t.Fatalf("case %d %+v: fast %d, definition %d (%v)", i, m, got, want, werr)
			}
		} else {
			fallback++
		}
		if p, err := m.pence(); p != want || (err == nil) != (werr == nil) {
			t.Fatalf("case %d %+v: pence %d %v, definition %d %v", i, m, p, err, want, werr)
		}
	}
	if fast == 0 || fallback == 0 {
		t.Fatalf("fast %d, fallback %d: both paths should have been exercised", fast, fallback)
	}
	t.Logf("fast path %d, fallback %d", fast, fallback)
}

// QOF-sized figures never leave the integer path (this is what keeps the
// national recalculation fast).
func TestTypicalFiguresStayOnTheIntegerPath(t *testing.T) {
	m := money{pn: 29 * 9999, pd: 10000, ppp: 22549, list: 250000, natList: 9964, prevBased: true,
		reg: 50000, natPrev: domain.Ratio{Num: 1234567, Den: 100000000}}
	for _, d := range []int{0, 2, 4} {
		m.decimals = d
		if _, ok := m.fastPence(); !ok {
			t.Errorf("decimals %d: fell back to big.Rat", d)
		}
	}
}

func TestMulDivRound(t *testing.T) {
	cases := []struct {
		num, den []uint64
		want     int64
		ok       bool
	}{
		{[]uint64{5}, []uint64{2}, 3, true}, // 2.5 -> 3: halves up
		{[]uint64{7}, []uint64{4}, 2, true}, // 1.75 -> 2
		{[]uint64{5}, []uint64{4}, 1, true}, // 1.25 -> 1
		{[]uint64{1 << 63, 4}, []uint64{8}, 1 << 62, true},
		{[]uint64{1 << 63, 1 << 63}, []uint64{1}, 0, false}, // quotient too big
		{[]uint64{1 << 40, 1 << 40, 1 << 40, 1 << 40}, []uint64{1}, 0, false},
		{[]uint64{1}, []uint64{1 << 32, 1 << 32}, 0, false}, // denominator overflow
		{[]uint64{1}, []uint64{0}, 0, false},
	}
	for _, tc := range cases {
		got, ok := mulDivRound(tc.num, tc.den)
		if got != tc.want || ok != tc.ok {
			t.Errorf("mulDivRound(%v, %v) = %d, %v; want %d, %v", tc.num, tc.den, got, ok, tc.want, tc.ok)
		}
	}
}

// pointsFrac is the threshold formula, checked against big.Rat on random inputs.
func TestPointsFracMatchesFormula(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for range 100000 {
		d, n, den := randCase(rng, 3000)
		pn, pd := pointsFrac(d, n, den)
		if got, want := big.NewRat(pn, pd), ratPoints(d, n, den); got.Cmp(want) != 0 {
			t.Fatalf("%+v n=%d den=%d: %s, want %s", d, n, den, got.RatString(), want.RatString())
		}
	}
}

// randCase draws thresholds, points and a numerator of a denominator.
func randCase(rng *rand.Rand, maxDen int64) (d domain.IndicatorDef, n, den int64) {
	lo := rng.IntN(10000)
	hi := lo + rng.IntN(10001-lo)
	d = domain.IndicatorDef{Points: rng.IntN(60) + 1, Lower: lo, Upper: max(hi, 1)}
	den = rng.Int64N(maxDen) + 1
	return d, rng.Int64N(den + 1), den
}

// ratPoints: 0 at or below lower, max at or above upper (upper wins when
// they are equal), linear between.
func ratPoints(d domain.IndicatorDef, n, den int64) *big.Rat {
	a := big.NewRat(n, den)
	lo, hi := big.NewRat(int64(d.Lower), 10000), big.NewRat(int64(d.Upper), 10000)
	switch {
	case a.Cmp(hi) >= 0:
		return big.NewRat(int64(d.Points), 1)
	case a.Cmp(lo) <= 0:
		return new(big.Rat)
	}
	x := new(big.Rat).Sub(a, lo)
	x.Quo(x, new(big.Rat).Sub(hi, lo))
	return x.Mul(x, big.NewRat(int64(d.Points), 1))
}

// patientsNeeded against a search: the fewest extra numerator patients
// whose points reach floor(current)+1, and the fewest to reach upper.
func TestPatientsNeededMatchesSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 5000 {
		d, n, den := randCase(rng, 200)
		next, upper := patientsNeeded(d, n, den)
		cur := ratPoints(d, n, den)
		maxPts := big.NewRat(int64(d.Points), 1)
		wantNext, wantUpper := int64(0), int64(0)
		if cur.Cmp(maxPts) < 0 {
			target := new(big.Rat).SetInt(new(big.Int).Quo(cur.Num(), cur.Denom()))
			target.Add(target, big.NewRat(1, 1))
			wantNext, wantUpper = -1, -1
			for k := n + 1; k <= den; k++ {
				p := ratPoints(d, k, den)
				if wantNext < 0 && p.Cmp(target) >= 0 {
					wantNext = k - n
				}
				if wantUpper < 0 && p.Cmp(maxPts) == 0 {
					wantUpper = k - n
				}
			}
		}
		if next != wantNext || upper != wantUpper {
			t.Fatalf("%+v n=%d den=%d (points %s): next %d upper %d, want %d %d", d, n, den, cur.RatString(), next, upper, wantNext, wantUpper)
		}
	}
}
