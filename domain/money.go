package domain

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Pence is an amount of money in whole pence. Every stored or summed amount is
// Pence; fractional intermediate values live in big.Rat and are rounded to
// Pence once (see RoundPence).
type Pence int64

// ParsePounds reads "225.49", "£1,234.5" or "-3" as pence, refusing more than
// two decimal places rather than rounding silently.
func ParsePounds(s string) (Pence, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "£")
	t = strings.ReplaceAll(t, ",", "")
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(t, "-")
	whole, frac, hasFrac := strings.Cut(t, ".")
	if whole == "" || (hasFrac && (len(frac) == 0 || len(frac) > 2)) {
		return 0, fmt.Errorf("amount %q: want pounds with at most two decimal places", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 || w > 1e15 {
		return 0, fmt.Errorf("amount %q: not a number of pounds", s)
	}
	p := Pence(w*100 + f)
	if neg {
		p = -p
	}
	return p, nil
}

// String formats as pounds with thousands separators: "£14,924.71", "-£3.00".
func (p Pence) String() string {
	sign := ""
	v := int64(p)
	if v < 0 {
		sign = "-"
		v = -v
	}
	return fmt.Sprintf("%s£%s.%02d", sign, groupThousands(v/100), v%100)
}

// Plain formats without symbol or separators, for CSV: "14924.71".
func (p Pence) Plain() string {
	sign := ""
	v := int64(p)
	if v < 0 {
		sign = "-"
		v = -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// Rat returns the amount in pounds as an exact rational.
func (p Pence) Rat() *big.Rat { return new(big.Rat).SetFrac64(int64(p), 100) }

// RoundPence is the one rounding rule for money: an exact amount in pounds is
// rounded to the nearest penny, halves away from zero (£0.005 -> £0.01).
func RoundPence(pounds *big.Rat) Pence {
	x := new(big.Rat).Mul(pounds, big.NewRat(100, 1))
	return Pence(roundHalfAway(x))
}

func roundHalfAway(x *big.Rat) int64 {
	num := new(big.Int).Set(x.Num())
	den := x.Denom()
	neg := num.Sign() < 0
	num.Abs(num)
	// floor((2*num + den) / (2*den)) rounds half up on the magnitude.
	q := new(big.Int).Mul(num, big.NewInt(2))
	q.Add(q, den)
	q.Quo(q, new(big.Int).Mul(den, big.NewInt(2)))
	v := q.Int64()
	if neg {
		v = -v
	}
	return v
}

// Ratio is an exact non-negative fraction used for shares and prevalences:
// "80%" or "0.021" or "2.1%" parse exactly, never through float64.
type Ratio struct {
	Num int64 `json:"num"`
	Den int64 `json:"den"`
}

// ParseRatio reads a decimal ("0.021") or a percentage ("2.1%").
func ParseRatio(s string) (Ratio, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	t = strings.TrimSuffix(t, "%")
	r, ok := new(big.Rat).SetString(t)
	if !ok || r.Sign() < 0 || strings.ContainsAny(t, "/eE") {
		return Ratio{}, fmt.Errorf("ratio %q: want a decimal like 0.021 or a percentage like 2.1%%", s)
	}
	if pct {
		r.Quo(r, big.NewRat(100, 1))
	}
	if !r.Num().IsInt64() || !r.Denom().IsInt64() {
		return Ratio{}, fmt.Errorf("ratio %q: too many digits", s)
	}
	return Ratio{Num: r.Num().Int64(), Den: r.Denom().Int64()}, nil
}

// Rat converts to big.Rat; a zero Ratio is 0.
func (r Ratio) Rat() *big.Rat {
	if r.Den == 0 {
		return new(big.Rat)
	}
	return big.NewRat(r.Num, r.Den)
}

// IsZero reports an unset ratio.
func (r Ratio) IsZero() bool { return r.Num == 0 }

// Percent formats to the given decimals, e.g. "2.10%".
func (r Ratio) Percent(decimals int) string {
	x := new(big.Rat).Mul(r.Rat(), big.NewRat(100, 1))
	return x.FloatString(decimals) + "%"
}

func (r Ratio) String() string { return r.Rat().FloatString(6) }
