package calc

import (
	"errors"
	"math"
	"math/big"
	"math/bits"

	"gpcollections/domain"
)

// money holds everything one indicator's payment depends on. Points are the
// exact fraction pn/pd; PencePerPoint is in pence, so the exact payment in
// pence is points × ppp × CPI [× prevalence factor].
type money struct {
	pn, pd    int64 // points earned = pn/pd, pd > 0
	ppp       int64 // pence per point
	list      int64 // practice list size
	natList   int64 // national average list size, > 0
	prevBased bool
	reg       int64        // register count for the prevalence
	natPrev   domain.Ratio // national prevalence, Num, Den > 0
	decimals  int          // FactorDecimals: 0 keeps CPI and factor exact
}

var pow10 = [...]uint64{1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12}

// pence is the payment rounded once, half away from zero. It takes the
// integer path and falls back to big.Rat only when a product would not fit
// in 128 bits; both give the same answer (TestFastPenceMatchesDefinition).
func (m money) pence() (domain.Pence, error) {
	if p, ok := m.fastPence(); ok {
		return domain.Pence(p), nil
	}
	return m.ratPence()
}

// fastPence computes the payment with 128-bit integer arithmetic. ok is
// false when an intermediate does not fit; it never returns a wrong figure.
func (m money) fastPence() (int64, bool) {
	if m.pn == 0 || m.ppp == 0 || m.list == 0 || (m.prevBased && m.reg == 0) {
		return 0, true
	}
	pn, pd, ppp := uint64(m.pn), uint64(m.pd), uint64(m.ppp)
	list, natList := uint64(m.list), uint64(m.natList)
	reg, np, nd := uint64(m.reg), uint64(m.natPrev.Num), uint64(m.natPrev.Den)
	if m.decimals == 0 {
		if !m.prevBased {
			return mulDivRound([]uint64{pn, ppp, list}, []uint64{pd, natList})
		}
		// CPI × factor = (list/natList) × (reg/list)/(np/nd): the list size
		// cancels, so the exact payment of a prevalence-based indicator
		// depends on the register, not on the list size.
		return mulDivRound([]uint64{pn, ppp, reg, nd}, []uint64{pd, natList, np})
	}
	scale := pow10[m.decimals]
	cpi, ok := mulDivRound([]uint64{list, scale}, []uint64{natList})
	if !ok {
		return 0, false
	}
	if !m.prevBased {
		return mulDivRound([]uint64{pn, ppp, uint64(cpi)}, []uint64{pd, scale})
	}
	factor, ok := mulDivRound([]uint64{reg, nd, scale}, []uint64{list, np})
	if !ok {
		return 0, false
	}
	return mulDivRound([]uint64{pn, ppp, uint64(cpi), uint64(factor)}, []uint64{pd, scale, scale})
}

// mulDivRound returns prod(num)/prod(den) rounded half up (= half away from
// zero, all factors being non-negative). The numerator is kept in 128 bits,
// the denominator in 64; ok is false on any overflow or a zero denominator.
func mulDivRound(num, den []uint64) (int64, bool) {
	var hi, lo uint64 = 0, 1
	for _, f := range num {
		h1, l1 := bits.Mul64(lo, f)
		h2, l2 := bits.Mul64(hi, f)
		if h2 != 0 {
			return 0, false
		}
		var carry uint64
		hi, carry = bits.Add64(h1, l2, 0)
		if carry != 0 {
			return 0, false
		}
		lo = l1
	}
	d := uint64(1)
	for _, f := range den {
		h, l := bits.Mul64(d, f)
		if h != 0 {
			return 0, false
		}
		d = l
	}
	if d == 0 || hi >= d {
		return 0, false
	}
	q, r := bits.Div64(hi, lo, d)
	if r >= d-r { // 2r >= d without overflowing 2r
		q++
	}
	if q > math.MaxInt64 {
		return 0, false
	}
	return int64(q), true
}

// ratPence is the definition, written as the formula reads, in big.Rat.
func (m money) ratPence() (domain.Pence, error) {
	if m.list == 0 {
		return 0, nil // CPI is 0: no division by a zero list size
	}
	pounds := new(big.Rat).SetFrac64(m.pn, m.pd)
	pounds.Mul(pounds, big.NewRat(m.ppp, 100))
	pounds.Mul(pounds, m.cpiRat())
	if m.prevBased {
		pounds.Mul(pounds, m.factorRat())
	}
	return roundPence(pounds)
}

var errTooLarge = errors.New("payment too large to hold in pence")

// roundPence applies domain.RoundPence, refusing amounts beyond int64 pence
// rather than letting them wrap.
func roundPence(pounds *big.Rat) (domain.Pence, error) {
	limit := big.NewRat(math.MaxInt64/100-1, 1)
	if new(big.Rat).Abs(pounds).Cmp(limit) > 0 {
		return 0, errTooLarge
	}
	return domain.RoundPence(pounds), nil
}

// cpiRat is CPI as multiplied (rounded to FactorDecimals when set).
func (m money) cpiRat() *big.Rat {
	return roundDecimals(big.NewRat(m.list, m.natList), m.decimals)
}

// prevalenceRat is the practice prevalence register/list size; list > 0.
func (m money) prevalenceRat() *big.Rat { return big.NewRat(m.reg, m.list) }

// factorRat is the prevalence factor as multiplied; list > 0.
func (m money) factorRat() *big.Rat {
	f := m.prevalenceRat()
	f.Quo(f, m.natPrev.Rat())
	return roundDecimals(f, m.decimals)
}

// roundDecimals rounds x to d decimals with the one money rule, so factors
// and pence can never disagree about halves: RoundPence rounds to 1/100, so
// scaling by 10^(d-2) first makes it round to 1/10^d. d == 0 means exact.
func roundDecimals(x *big.Rat, d int) *big.Rat {
	if d == 0 {
		return x
	}
	scale := new(big.Int).SetUint64(pow10[d])
	scaled := new(big.Rat).Mul(x, new(big.Rat).SetFrac(scale, big.NewInt(100)))
	n := int64(domain.RoundPence(scaled))
	return new(big.Rat).SetFrac(big.NewInt(n), scale)
}
