package calc

import (
	"fmt"
	"math/big"

	"gpcollections/domain"
)

// AspirationPlan is a year's QOF aspiration payments: a share of the prior
// year's unadjusted achievement payment, paid monthly in advance.
type AspirationPlan struct {
	Annual domain.Pence     // RoundPence(share × prior achievement)
	Months [12]domain.Pence // sum to Annual exactly
}

// Aspiration splits share × prior achievement into twelve payments. Rounding:
// the annual amount is rounded once (domain.RoundPence); each of months 1-11
// is the exact annual amount / 12 rounded once by the same rule; month 12
// absorbs the remainder, so the twelve always sum to Annual. For an annual
// amount under 66p, where eleven rounded-up months would exceed it, months
// 1-11 take the whole pence of Annual/12 instead, so no month is negative.
func Aspiration(share domain.Ratio, prior domain.Pence) (AspirationPlan, error) {
	if share.Num < 0 || (share.Num > 0 && (share.Den <= 0 || share.Num > share.Den)) {
		return AspirationPlan{}, fmt.Errorf("aspiration share %d/%d: want a share between 0 and 100%%", share.Num, share.Den)
	}
	if prior < 0 {
		return AspirationPlan{}, fmt.Errorf("prior year's achievement payment %s is negative", prior)
	}
	exact := new(big.Rat).Mul(share.Rat(), prior.Rat())
	var plan AspirationPlan
	plan.Annual = domain.RoundPence(exact)
	month := domain.RoundPence(exact.Quo(exact, big.NewRat(12, 1)))
	if 11*month > plan.Annual {
		month = plan.Annual / 12
	}
	for m := range 11 {
		plan.Months[m] = month
	}
	plan.Months[11] = plan.Annual - 11*month
	return plan, nil
}

// Reconcile is the year-end balance: the achievement payment less the
// aspiration already paid. Negative means the practice was overpaid and
// repays the difference.
func Reconcile(achievement, aspirationPaid domain.Pence) domain.Pence {
	return achievement - aspirationPaid
}
