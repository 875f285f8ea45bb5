package commands

import (
	"errors"
	"fmt"

	"gpcollections/domain"
	"gpcollections/domain/calc"
	"gpcollections/store"
	"gpcollections/store/ops"
)

// The commands read through store/ops (timetable, queue, export, the
// calculation); the one read composed here, a practice's achievement,
// authorizes with domain.Authorize on the practice before reading.

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

// ReadAchievement reads a practice's current figures for a collection (the
// workflow's calculation, ops.CurrentFigures) after the policy allows the
// user to view the practice's values. Without a practice code it uses the
// user's own practice when they hold roles for exactly one.
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
		coll, err := tx.CollectionFor(service, ach)
		if err != nil {
			return err
		}
		f, err := ops.CurrentFigures(tx, coll, practice)
		if err != nil {
			return err
		}
		if !f.HasExtract && !f.ManualUsed {
			return fmt.Errorf("no values for %s in %s yet (the collection is %s): %w", practice, coll.Label(), coll.Status, store.ErrNotFound)
		}
		res := f.Result
		run := 0
		if r, err := tx.Result(coll.ID, practice); err == nil {
			run = r.Run
		}
		out = &Achievement{Service: f.Service.ID, ServiceName: f.Service.Name, Practice: practice, AchDate: ach, Collection: coll.ID,
			CollectionStatus: coll.Status, Run: run, ListSize: f.ListSize, Points: calc.Decimal(res.Points, 2), PointsMax: res.PointsMax}
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

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
