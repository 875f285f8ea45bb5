package domain

import (
	"fmt"
	"time"
)

// PayComponent is what a payment line pays for.
type PayComponent string

const (
	// PayAchievement is a points service's achievement payment.
	PayAchievement PayComponent = "achievement"
	// PayAspiration is a monthly advance against the year's QOF achievement.
	PayAspiration PayComponent = "aspiration"
	// PayItemOfService is an item-of-service service's fee payment.
	PayItemOfService PayComponent = "item-of-service"
	// PayReconciliation is the year-end achievement less the aspiration
	// already paid; it may be negative (the practice repays).
	PayReconciliation PayComponent = "reconciliation"
)

// PaymentLine is one payment instruction, with the approvals it rests on.
type PaymentLine struct {
	Practice   string       `json:"practice"`
	Service    string       `json:"service"`
	Component  PayComponent `json:"component"`
	Collection uint64       `json:"collection,omitempty"` // 0 for aspiration
	AchDate    Date         `json:"achDate,omitempty"`
	// Month is the aspiration month (YYYY-MM); empty for other components.
	Month  string `json:"month,omitempty"`
	Amount Pence  `json:"amount"`
	// Declaration names the declaration paid ("12/A81001"); empty for aspiration.
	Declaration       string    `json:"declaration,omitempty"`
	ApprovedBy        string    `json:"approvedBy,omitempty"`
	ApprovedAt        time.Time `json:"approvedAt,omitempty"`
	FinanceApprovedBy string    `json:"financeApprovedBy,omitempty"`
	FinanceApprovedAt time.Time `json:"financeApprovedAt,omitempty"`
	// RestsOn says in words what else the amount depends on (the prior-year
	// figure of an aspiration payment, the aspiration a reconciliation nets).
	RestsOn string `json:"restsOn,omitempty"`
}

// PaymentRun is one committed payment run for a period (YYYY-MM). Its lines
// are the record the CSV is written from, so a repeated run reproduces the
// same file instead of paying again.
type PaymentRun struct {
	Rev
	ID     uint64        `json:"id"`
	Period string        `json:"period"`
	At     time.Time     `json:"at"`
	By     string        `json:"by"`
	Lines  []PaymentLine `json:"lines"`
}

// Total is the sum of the run's lines.
func (r *PaymentRun) Total() Pence {
	var t Pence
	for _, l := range r.Lines {
		t += l.Amount
	}
	return t
}

// PaidItem records that one (collection, practice, component[, month]) was
// paid, by which run; it is what stops a second payment.
type PaidItem struct {
	Rev
	Run  uint64      `json:"run"`
	Line PaymentLine `json:"line"`
}

// AspirationBase is a practice's prior-year unadjusted achievement payment
// for a service, from which its aspiration payments are worked out.
type AspirationBase struct {
	Rev
	Service  string    `json:"service"`
	Practice string    `json:"practice"`
	Prior    Pence     `json:"prior"`
	SetBy    string    `json:"setBy"`
	SetAt    time.Time `json:"setAt"`
	Note     string    `json:"note,omitempty"`
}

// Period is a payment month.
type Period struct {
	Year  int
	Month time.Month
}

// ParsePeriod reads YYYY-MM.
func ParsePeriod(s string) (Period, error) {
	d, err := ParseDate(s + "-01")
	if err != nil || len(s) != 7 {
		return Period{}, fmt.Errorf("period %q: want a month as YYYY-MM, e.g. 2026-04", s)
	}
	y, m, _ := d.Civil()
	return Period{y, m}, nil
}

// PeriodOf is the month a date falls in.
func PeriodOf(d Date) Period {
	y, m, _ := d.Civil()
	return Period{y, m}
}

func (p Period) String() string { return fmt.Sprintf("%04d-%02d", p.Year, int(p.Month)) }

// First is the period's first day; Last its last.
func (p Period) First() Date { return DateOf(p.Year, p.Month, 1) }
func (p Period) Last() Date  { return p.First().MonthEnd() }

// Before reports whether p is an earlier month than q.
func (p Period) Before(q Period) bool {
	return p.Year < q.Year || (p.Year == q.Year && p.Month < q.Month)
}
