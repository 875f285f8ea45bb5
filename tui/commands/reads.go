package commands

import (
	"errors"
	"fmt"
	"sort"

	"gpcollections/domain"
	"gpcollections/domain/calc"
	"gpcollections/store"
)

// The reads below are the SSH commands' own until the workflow's read
// operations land in store/ops; each authorizes with domain.Authorize on
// the practice or service target before reading anything it returns.

// Achievement is one practice's values and calculation for a collection.
type Achievement struct {
	Service          string             `json:"service"`
	ServiceName      string             `json:"serviceName"`
	Practice         string             `json:"practice"`
	AchDate          domain.Date        `json:"achDate"`
	Collection       uint64             `json:"collection"`
	CollectionStatus domain.State       `json:"collectionStatus"`
	Run              int                `json:"run"`
	ListSize         int64              `json:"listSize"`
	Declaration      *DeclarationState  `json:"declaration"`
	Indicators       []IndicatorSummary `json:"indicators"`
	Points           string             `json:"points"`
	PointsMax        int                `json:"pointsMax"`
	// Pence is present only for users who may see money (Finance View).
	Pence *int64 `json:"pence,omitempty"`
}

// DeclarationState is a declaration's state as users know it.
type DeclarationState struct {
	State  domain.State `json:"state"`
	Title  string       `json:"title"`
	Reason string       `json:"reason,omitempty"`
}

// IndicatorSummary is one indicator's line.
type IndicatorSummary struct {
	ID          string               `json:"id"`
	Kind        domain.IndicatorKind `json:"kind"`
	Register    int64                `json:"register"`
	Denominator int64                `json:"denominator"`
	Numerator   int64                `json:"numerator"`
	Count       int64                `json:"count,omitempty"`
	Reasons     []calc.FieldValue    `json:"reasons,omitempty"`
	// Achievement is a percentage with two decimals; "" without a denominator.
	Achievement string `json:"achievement,omitempty"`
	Points      string `json:"points"`
	PointsMax   int    `json:"pointsMax"`
	// Payment (pounds, e.g. "£1,234.56") and PaymentPence only with Finance View.
	Payment         string   `json:"payment,omitempty"`
	PaymentPence    *int64   `json:"paymentPence,omitempty"`
	NeededNextPoint int64    `json:"neededNextPoint"`
	NeededUpper     int64    `json:"neededUpper"`
	Missing         []string `json:"missing,omitempty"`
	Notes           []string `json:"notes,omitempty"`
}

// ReadAchievement reads and calculates a practice's achievement. Without a
// practice code it uses the user's own practice when they hold roles for
// exactly one.
func ReadAchievement(st *store.Store, u *domain.User, service string, ach domain.Date, practice string) (*Achievement, error) {
	if practice == "" {
		var own []string
		for _, g := range u.Grants {
			if g.OrgKind == domain.OrgPractice && !contains(own, g.Org) {
				own = append(own, g.Org)
			}
		}
		if len(own) != 1 {
			return nil, usagef("achievement: give --practice CODE (you hold roles for %d practices)", len(own))
		}
		practice = own[0]
	}
	var out *Achievement
	err := st.View(func(tx *store.Tx) error {
		org, err := tx.Org(practice)
		if err != nil {
			return err
		}
		if org.Kind != domain.OrgPractice {
			return fmt.Errorf("%s is a %s, not a practice", practice, org.Kind)
		}
		target := domain.TargetOf(org)
		// Refuse before anything about the practice's collection is read.
		if err := domain.Authorize(u, domain.ActViewValues, target); err != nil {
			return err
		}
		money := domain.Can(u, domain.ActViewMoney, target)
		svc, err := tx.Service(service)
		if err != nil {
			return err
		}
		coll, err := tx.CollectionFor(service, ach)
		if err != nil {
			return err
		}
		values, run, err := practiceValues(tx, svc, coll, practice)
		if err != nil {
			return err
		}
		params, ok := svc.ParamsOn(ach)
		if !ok {
			return fmt.Errorf("service %s has no payment parameters in force on %s", svc.ID, ach)
		}
		list, _ := org.ListSizeOn(listSizeDate(params, ach))
		res, err := calc.Calculate(calc.Input{Service: svc, Params: params, ListSize: list, Values: values})
		if err != nil {
			return fmt.Errorf("%s %s: %w", practice, coll.Label(), err)
		}
		out = &Achievement{Service: svc.ID, ServiceName: svc.Name, Practice: practice, AchDate: ach, Collection: coll.ID,
			CollectionStatus: coll.Status, Run: run, ListSize: list, Points: calc.Decimal(res.Points, 2), PointsMax: res.PointsMax}
		if money {
			p := int64(res.Pence)
			out.Pence = &p
		}
		for _, r := range res.Indicators {
			s := IndicatorSummary{ID: r.ID, Kind: r.Kind, Register: r.Register, Denominator: r.Denominator, Numerator: r.Numerator,
				Count: r.Count, Reasons: r.Reasons, Points: calc.Decimal(r.Points, 2), PointsMax: r.PointsMax,
				NeededNextPoint: r.NeededNextPoint, NeededUpper: r.NeededUpper, Missing: r.Missing, Notes: r.Notes}
			if r.Achievement != nil {
				s.Achievement = calc.Percent(r.Achievement, 2)
			}
			if money {
				p := int64(r.Pence)
				s.PaymentPence, s.Payment = &p, r.Pence.String()
			}
			out.Indicators = append(out.Indicators, s)
		}
		d, err := tx.Declaration(coll.ID, practice)
		switch {
		case err == nil:
			out.Declaration = &DeclarationState{State: d.State, Title: domain.DeclarationTitle(d.State), Reason: d.Reason}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		return nil
	})
	return out, err
}

// practiceValues gathers a practice's rows for a collection: the extract's
// values, with submitted manual entries added (manual fields, or every
// field when the extract failed). Drafts are not values yet.
func practiceValues(tx *store.Tx, svc *domain.ServiceDef, coll *domain.Collection, practice string) ([]domain.IndicatorValue, int, error) {
	byKey := map[domain.FieldKey]int64{}
	run := 0
	r, err := tx.Result(coll.ID, practice)
	switch {
	case err == nil:
		run = r.Run
		for _, v := range r.Values {
			byKey[domain.FieldKey{Indicator: v.Indicator, Field: v.Field}] = v.Value
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, 0, err
	}
	m, err := tx.ManualEntry(coll.ID, practice)
	switch {
	case err == nil && m.State == domain.ManualSubmitted:
		for _, v := range m.Values {
			byKey[domain.FieldKey{Indicator: v.Indicator, Field: v.Field}] = v.Value
		}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, 0, err
	}
	if len(byKey) == 0 {
		return nil, 0, fmt.Errorf("no values for %s in %s yet (the collection is %s): %w", practice, coll.Label(), coll.Status, store.ErrNotFound)
	}
	out := make([]domain.IndicatorValue, 0, len(byKey))
	for k, v := range byKey {
		out = append(out, domain.IndicatorValue{Service: svc.ID, Practice: practice, AchDate: coll.AchDate, Indicator: k.Indicator, Field: k.Field, Value: v})
	}
	domain.SortValues(out)
	return out, run, nil
}

// listSizeDate is the date whose list size counts: the service's month and
// day (PaymentParams.ListSizeDate, "MM-DD") on or before the achievement
// date, or the achievement date itself when none is set.
func listSizeDate(p domain.PaymentParams, ach domain.Date) domain.Date {
	if p.ListSizeDate == "" {
		return ach
	}
	y, _, _ := ach.Civil()
	d, err := domain.ParseDate(fmt.Sprintf("%04d-%s", y, p.ListSizeDate))
	if err != nil {
		return ach
	}
	if d > ach {
		d = d.AddYears(-1)
	}
	return d
}

// QueueItem is a declaration waiting for the user.
type QueueItem struct {
	Collection uint64          `json:"collection"`
	Label      string          `json:"label"`
	Service    string          `json:"service"`
	AchDate    domain.Date     `json:"achDate"`
	Practice   string          `json:"practice"`
	State      domain.State    `json:"state"`
	Title      string          `json:"title"`
	Actions    []domain.Action `json:"actions"`
	Deadline   domain.Date     `json:"deadline"`
	Pence      *int64          `json:"pence,omitempty"`
	Reason     string          `json:"reason,omitempty"`
}

// next lists, per declaration state, the actions open to its next actor
// (the first moves it on) and which deadline applies to them.
var next = []struct {
	state   domain.State
	actions []domain.Action
	approve bool // the approval deadline applies (else the declaration's)
}{
	{domain.DeclCalculated, []domain.Action{domain.ActDeclare}, false},
	{domain.DeclReturned, []domain.Action{domain.ActDeclare}, false},
	{domain.DeclDeclared, []domain.Action{domain.ActApprove, domain.ActReturn}, true},
	{domain.DeclApproved, []domain.Action{domain.ActFinanceApprove, domain.ActReturn}, true},
}

// ReadQueue lists the declarations the user may move on now, by deadline.
func ReadQueue(st *store.Store, u *domain.User) ([]QueueItem, error) {
	var out []QueueItem
	err := st.View(func(tx *store.Tx) error {
		targets := map[string]domain.Target{}
		colls := map[uint64]*domain.Collection{}
		for _, n := range next {
			ds, err := tx.DeclarationsIn(n.state)
			if err != nil {
				return err
			}
			for _, d := range ds {
				t, ok := targets[d.Practice]
				if !ok {
					if t, err = tx.TargetFor(d.Practice); err != nil {
						return err
					}
					targets[d.Practice] = t
				}
				if !domain.Can(u, domain.ActViewValues, t) {
					continue
				}
				// Waiting for the user means the user takes the step that
				// moves it on (the first action); a return alone is not.
				if !domain.Can(u, n.actions[0], t) {
					continue
				}
				var acts []domain.Action
				for _, a := range n.actions {
					if domain.Can(u, a, t) {
						acts = append(acts, a)
					}
				}
				c, ok := colls[d.Collection]
				if !ok {
					if c, err = tx.Collection(d.Collection); err != nil {
						return err
					}
					colls[d.Collection] = c
				}
				it := QueueItem{Collection: c.ID, Label: c.Label(), Service: c.Service, AchDate: c.AchDate, Practice: d.Practice,
					State: d.State, Title: domain.DeclarationTitle(d.State), Actions: acts, Deadline: c.DeclarationDeadline, Reason: d.Reason}
				if n.approve {
					it.Deadline = c.ApprovalDeadline
				}
				if domain.Can(u, domain.ActViewMoney, t) {
					p := int64(d.Amount)
					it.Pence = &p
				}
				out = append(out, it)
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Deadline != out[j].Deadline {
			return out[i].Deadline < out[j].Deadline
		}
		if out[i].Label != out[j].Label {
			return out[i].Label < out[j].Label
		}
		return out[i].Practice < out[j].Practice
	})
	return out, err
}

// ReadExport returns a collection's INDICATOR_VALUES rows for data
// provision: the declared snapshots of approved (and later) declarations,
// or with all every practice's current extract values.
func ReadExport(st *store.Store, u *domain.User, service string, ach domain.Date, all bool) ([]domain.IndicatorValue, error) {
	var out []domain.IndicatorValue
	err := st.View(func(tx *store.Tx) error {
		svc, err := tx.Service(service)
		if err != nil {
			return err
		}
		if err := domain.Authorize(u, domain.ActExport, domain.TargetService(svc)); err != nil {
			return err
		}
		coll, err := tx.CollectionFor(service, ach)
		if err != nil {
			return err
		}
		add := func(practice string, vs []domain.FieldValue) {
			for _, v := range vs {
				out = append(out, domain.IndicatorValue{Service: svc.ID, Practice: practice, AchDate: coll.AchDate, Indicator: v.Indicator, Field: v.Field, Value: v.Value})
			}
		}
		if all {
			rs, err := tx.Results(coll.ID)
			if err != nil {
				return err
			}
			for _, r := range rs {
				add(r.Practice, r.Values)
			}
			return nil
		}
		ds, err := tx.Declarations(coll.ID)
		if err != nil {
			return err
		}
		for _, d := range ds {
			switch d.State {
			case domain.DeclApproved, domain.DeclFinanciallyApproved, domain.DeclPaid:
				add(d.Practice, d.Declared)
			}
		}
		return nil
	})
	domain.SortValues(out)
	return out, err
}

func sortTimetable(rows []TimetableRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].AchDate != rows[j].AchDate {
			return rows[i].AchDate < rows[j].AchDate
		}
		return rows[i].Service < rows[j].Service
	})
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
