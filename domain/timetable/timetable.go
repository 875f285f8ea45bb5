// Package timetable places a service's collections on the calendar: the
// achievement dates its frequency gives, each collection's extraction window
// and the deadlines that follow it (declaration, approval, payment).
//
// # Default timing
//
// From the published pattern (GPES collects last month's data early in the
// month, data is in CQRS by about the 9th, practices declare by the 24th,
// the commissioner approves after, payment about two months in arrears; QOF
// year-end is extracted from the night of 31 March and paid by the end of
// June), for an achievement date in month M:
//
//	                   monthly / quarterly      annual (year end)
//	window opens       the day after            the day after (1 April)
//	window closes      9th of M+1               9th of M+1
//	declare by         24th of M+1              24th of M+1
//	approve by         last day of M+1          last day of M+2
//	payment            last day of M+2          last day of M+3 (end of June)
//
// # The moving rule
//
// A date that falls on a Saturday, Sunday or an England bank holiday (the
// data file england-bank-holidays.csv) moves:
//
//   - the window opening and closing, the declaration deadline and the
//     approval deadline move forward to the next working day, so nobody ever
//     gets less time than the timetable promised;
//   - the payment date moves back to the previous working day, so money is
//     never paid later than promised.
//
// After moving, the dates must still be in order (window closes on or after
// it opens, declaration on or after the window closes, approval on or after
// declaration, payment on or after approval); a timetable that breaks the
// order is refused, never silently reordered. Dates an administrator types in
// (add, reschedule) follow the same rule, and every move is reported.
package timetable

import (
	"fmt"
	"time"

	"gpcollections/domain"
)

// MonthDay is a day in the month Months after the achievement date's month;
// Day 0 means that month's last day, and a day past the month's end clamps to
// it.
type MonthDay struct {
	Months int
	Day    int
}

// From places the day relative to an achievement date.
func (m MonthDay) From(ach domain.Date) domain.Date {
	y, mo, _ := ach.Civil()
	first := domain.DateOf(y, mo, 1).AddMonths(m.Months)
	last := first.MonthEnd()
	if m.Day <= 0 {
		return last
	}
	d := first.AddDays(m.Day - 1)
	if d > last {
		return last
	}
	return d
}

// Timing is where a collection's window and deadlines fall, relative to its
// achievement date, before the moving rule is applied.
type Timing struct {
	// OpenAfter is the number of days after the achievement date that the
	// extraction window opens (1: the next day).
	OpenAfter int
	Close     MonthDay
	Declare   MonthDay
	Approve   MonthDay
	Pay       MonthDay
}

// DefaultTiming is the published-like timing for a frequency (see the
// package comment).
func DefaultTiming(f domain.Frequency) Timing {
	t := Timing{
		OpenAfter: 1,
		Close:     MonthDay{1, 9},
		Declare:   MonthDay{1, 24},
		Approve:   MonthDay{1, 0},
		Pay:       MonthDay{2, 0},
	}
	if f == domain.Annual {
		t.Approve = MonthDay{2, 0}
		t.Pay = MonthDay{3, 0}
	}
	return t
}

// Dates are a collection's window and deadlines.
type Dates struct {
	Opens     domain.Date `json:"opens"`
	Closes    domain.Date `json:"closes"`
	DeclareBy domain.Date `json:"declareBy"`
	ApproveBy domain.Date `json:"approveBy"`
	PayOn     domain.Date `json:"payOn"`
}

// DatesOf reads a collection's dates.
func DatesOf(c *domain.Collection) Dates {
	return Dates{Opens: c.WindowStart, Closes: c.WindowEnd, DeclareBy: c.DeclarationDeadline,
		ApproveBy: c.ApprovalDeadline, PayOn: c.PaymentDate}
}

// Apply writes the dates into a collection.
func (d Dates) Apply(c *domain.Collection) {
	c.WindowStart, c.WindowEnd = d.Opens, d.Closes
	c.DeclarationDeadline, c.ApprovalDeadline, c.PaymentDate = d.DeclareBy, d.ApproveBy, d.PayOn
}

// Move is one date the moving rule changed, and why.
type Move struct {
	What string      `json:"what"`
	From domain.Date `json:"from"`
	To   domain.Date `json:"to"`
	Why  string      `json:"why"` // the non-working days skipped: "Saturday, Sunday, Easter Monday"
}

func (m Move) String() string {
	return fmt.Sprintf("%s %s moved to %s (%s)", m.What, m.From, m.To, m.Why)
}

// Settle applies the moving rule to dates, returning the moved dates and
// what moved. It fails when a date lies in a year the calendar does not
// cover or when the moved dates are out of order.
func Settle(d Dates, cal *Calendar) (Dates, []Move, error) {
	var moves []Move
	var err error
	move := func(what string, p *domain.Date, forward bool) {
		if err != nil {
			return
		}
		var to domain.Date
		if forward {
			to, err = cal.Next(*p)
		} else {
			to, err = cal.Prev(*p)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", what, err)
			return
		}
		if to != *p {
			moves = append(moves, Move{What: what, From: *p, To: to, Why: skipped(cal, *p, to)})
			*p = to
		}
	}
	move("window opens", &d.Opens, true)
	move("window closes", &d.Closes, true)
	move("declaration deadline", &d.DeclareBy, true)
	move("approval deadline", &d.ApproveBy, true)
	move("payment date", &d.PayOn, false)
	if err != nil {
		return d, nil, err
	}
	if err := d.ordered(); err != nil {
		return d, moves, err
	}
	return d, moves, nil
}

// skipped names the non-working days passed over moving from one date to
// another (the target excluded), in calendar order.
func skipped(cal *Calendar, from, to domain.Date) string {
	lo, hi := from, to.AddDays(-1)
	if to < from {
		lo, hi = to.AddDays(1), from
	}
	s := ""
	for x := lo; x <= hi; x = x.AddDays(1) {
		if s != "" {
			s += ", "
		}
		s += cal.Why(x)
	}
	return s
}

func (d Dates) ordered() error {
	switch {
	case d.Closes < d.Opens:
		return fmt.Errorf("the window closes (%s) before it opens (%s)", d.Closes, d.Opens)
	case d.DeclareBy < d.Closes:
		return fmt.Errorf("the declaration deadline (%s) is before the window closes (%s)", d.DeclareBy, d.Closes)
	case d.ApproveBy < d.DeclareBy:
		return fmt.Errorf("the approval deadline (%s) is before the declaration deadline (%s)", d.ApproveBy, d.DeclareBy)
	case d.PayOn < d.ApproveBy:
		return fmt.Errorf("the payment date (%s) is before the approval deadline (%s)", d.PayOn, d.ApproveBy)
	}
	return nil
}

// Unsettled places the dates for an achievement date by the timing alone,
// before the moving rule.
func (t Timing) Unsettled(ach domain.Date) Dates {
	return Dates{
		Opens:     ach.AddDays(t.OpenAfter),
		Closes:    t.Close.From(ach),
		DeclareBy: t.Declare.From(ach),
		ApproveBy: t.Approve.From(ach),
		PayOn:     t.Pay.From(ach),
	}
}

// Slot is one planned collection: its achievement date, its settled dates
// and the moves that settled them.
type Slot struct {
	AchDate domain.Date `json:"achDate"`
	Dates
	Moves []Move `json:"moves,omitempty"`
}

// Collection is the slot as a scheduled collection of a service.
func (s Slot) Collection(service string) *domain.Collection {
	c := &domain.Collection{Service: service, AchDate: s.AchDate, Status: domain.CollScheduled}
	s.Dates.Apply(c)
	return c
}

// Plan places one collection of a service at an achievement date with the
// service's default timing.
func Plan(def *domain.ServiceDef, ach domain.Date, cal *Calendar) (Slot, error) {
	if !ach.Valid() {
		return Slot{}, fmt.Errorf("service %s: no achievement date", def.ID)
	}
	if ach < def.Start || ach > def.End {
		return Slot{}, fmt.Errorf("service %s: achievement date %s is outside the service period %s to %s", def.ID, ach, def.Start, def.End)
	}
	d, moves, err := Settle(DefaultTiming(def.Frequency).Unsettled(ach), cal)
	if err != nil {
		return Slot{}, fmt.Errorf("service %s, achievement date %s: %w", def.ID, ach, err)
	}
	return Slot{AchDate: ach, Dates: d, Moves: moves}, nil
}

// AchievementDates lists a service's achievement dates in order: month ends
// (monthly), quarter ends (quarterly: March, June, September, December) or
// the service's end date (annual), within the service period. When the
// period ends between two of these, the end date is one more achievement
// date, so the last part of the period is collected too.
func AchievementDates(def *domain.ServiceDef) ([]domain.Date, error) {
	if err := def.Validate(); err != nil {
		return nil, err
	}
	if def.Frequency == domain.Annual {
		return []domain.Date{def.End}, nil
	}
	var out []domain.Date
	for d := def.Start.MonthEnd(); d <= def.End; d = d.AddDays(1).MonthEnd() {
		_, m, _ := d.Civil()
		if def.Frequency == domain.Quarterly && m != time.March && m != time.June && m != time.September && m != time.December {
			continue
		}
		out = append(out, d)
	}
	if len(out) == 0 || out[len(out)-1] != def.End {
		out = append(out, def.End)
	}
	return out, nil
}

// Generate plans every collection of a service, in achievement date order.
func Generate(def *domain.ServiceDef, cal *Calendar) ([]Slot, error) {
	dates, err := AchievementDates(def)
	if err != nil {
		return nil, err
	}
	out := make([]Slot, 0, len(dates))
	for _, ach := range dates {
		s, err := Plan(def, ach, cal)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
