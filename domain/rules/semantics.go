package rules

import (
	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

// This file holds the few definitions both evaluators share because they
// are the language's meaning rather than an implementation choice: how an
// offset moves a date, which period an achievement date closes, and who is
// in the extract's population.

// applyOffsets moves d by each offset in turn; months and years clamp to
// the month's last day (31 March minus 1 month is 28 or 29 February).
func applyOffsets(d domain.Date, offs []Offset) domain.Date {
	for _, o := range offs {
		switch o.Unit {
		case 'd':
			d = d.AddDays(o.N)
		case 'w':
			d = d.AddDays(7 * o.N)
		case 'm':
			d = d.AddMonths(o.N)
		case 'y':
			d = d.AddYears(o.N)
		}
	}
	return d
}

// PeriodStart is the first day of the collection period that ends on the
// achievement date ach: the month for monthly services, the three months
// for quarterly ones, the service year (from the service start) for annual
// ones. Rules call it PSD.
func PeriodStart(s *domain.ServiceDef, ach domain.Date) domain.Date {
	y, m, _ := ach.Civil()
	first := domain.DateOf(y, m, 1)
	switch s.Frequency {
	case domain.Monthly:
		return first
	case domain.Quarterly:
		return first.AddMonths(-2)
	}
	if s.Start.Valid() && s.Start <= ach {
		return s.Start
	}
	return first.AddMonths(-11)
}

// CurrentRegistration finds the registration at practice in force on ach:
// started on or before ach and not ended before it (an end date is the
// last day registered). A registration without a practice counts as the
// batch's own. With several, the latest start wins: REG_DAT in the
// published rules is the start of the current registration.
func CurrentRegistration(regs []clinical.Registration, practice string, ach domain.Date) (clinical.Registration, bool) {
	var best clinical.Registration
	found := false
	for _, r := range regs {
		if r.Practice != "" && r.Practice != practice {
			continue
		}
		if r.Start > ach || (r.End.Valid() && r.End < ach) {
			continue
		}
		if !found || r.Start > best.Start {
			best, found = r, true
		}
	}
	return best, found
}

// InPopulation is the extract population: registered at the practice on
// the achievement date and alive on it (a death dated on the achievement
// date still counts, as a deregistration dated on it does).
func InPopulation(death domain.Date, regs []clinical.Registration, practice string, ach domain.Date) (clinical.Registration, bool) {
	if death.Valid() && death < ach {
		return clinical.Registration{}, false
	}
	return CurrentRegistration(regs, practice, ach)
}

// serviceAnchors resolves the fixed anchors for one achievement date.
func serviceAnchors(s *domain.ServiceDef, ach domain.Date) map[Anchor]domain.Date {
	return map[Anchor]domain.Date{
		AnchorPPED: ach,
		AnchorPSD:  PeriodStart(s, ach),
		AnchorSSD:  s.Start,
		AnchorSED:  s.End,
	}
}
