package ops

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"gpcollections/domain"
	"gpcollections/domain/calc"
	"gpcollections/store"
)

// Data provision: a requesting organisation receives a collection's values
// in the INDICATOR_VALUES shape, and a second file of achievement and
// points per practice and indicator.

// Export statuses.
const (
	// ExportApproved gives what practices declared and commissioners
	// approved (approved, financially approved or paid declarations): the
	// declared snapshot, exactly as approved.
	ExportApproved = "approved"
	// ExportAll gives the current values of every participating practice,
	// declared or not.
	ExportAll = "all"
)

// AchievementRow is one practice's indicator in the achievement file.
type AchievementRow struct {
	Service     string
	Practice    string
	AchDate     domain.Date
	Indicator   string
	Register    string // "" when the indicator has no such value
	Denominator string
	Numerator   string
	Achievement string // percent to 2 decimals; "" with no denominator
	Points      string // to 2 decimals
	MaxPoints   int
	Status      string // the declaration's state when exported
}

// Export is a collection's data for a requesting organisation.
type Export struct {
	Service     string
	AchDate     domain.Date
	Status      string
	Practices   int
	Values      []domain.IndicatorValue // in domain.SortValues order
	Achievement []AchievementRow
}

// ExportCollection gathers a collection's data for provision, authorized
// through ActExport (View nationally or for the service's requesting
// organisation), and audits who took it.
func ExportCollection(s *store.Store, actor *domain.User, serviceID string, achDate domain.Date, status string) (*Export, error) {
	if status == "" {
		status = ExportApproved
	}
	if status != ExportApproved && status != ExportAll {
		return nil, fmt.Errorf("export status %q: want %s or %s", status, ExportApproved, ExportAll)
	}
	var ex *Export
	err := s.Update(actor, func(tx *store.Tx) error {
		sc, err := loadService(tx, serviceID)
		if err != nil {
			return err
		}
		if err := domain.Authorize(actor, domain.ActExport, domain.TargetService(sc.svc)); err != nil {
			return err
		}
		c, err := tx.CollectionFor(serviceID, achDate)
		if err != nil {
			return err
		}
		parts, err := tx.Participations(serviceID)
		if err != nil {
			return err
		}
		ex = &Export{Service: serviceID, AchDate: achDate, Status: status}
		for _, p := range parts {
			if !domain.Participating(p.State) {
				continue
			}
			var vals []domain.FieldValue
			var state domain.State
			d, err := tx.Declaration(c.ID, p.Practice)
			switch {
			case err == nil:
				state = d.State
			case !isNotFound(err):
				return err
			}
			if status == ExportApproved {
				if d == nil || !approvedState(d.State) {
					continue
				}
				vals = d.Declared
			} else {
				f, err := figures(tx, c, sc, p.Practice)
				if err != nil {
					return err
				}
				if !f.HasExtract && !f.ManualUsed {
					continue
				}
				vals = f.Values
				if d != nil && isLocked(d.State) && d.DeclaredHash != f.Hash {
					vals = d.Declared // locked: what was approved stands
				}
			}
			rows, ach, err := exportPractice(tx, c, sc, p.Practice, vals, state)
			if err != nil {
				return err
			}
			ex.Values = append(ex.Values, rows...)
			ex.Achievement = append(ex.Achievement, ach...)
			ex.Practices++
		}
		domain.SortValues(ex.Values)
		return tx.Audit("export", fmt.Sprintf("export %s %s", serviceID, achDate), domain.NationalCode, "",
			fmt.Sprintf("%s: %d practices, %d values", status, ex.Practices, len(ex.Values)))
	})
	if err != nil {
		return nil, err
	}
	return ex, nil
}

func approvedState(s domain.State) bool {
	return s == domain.DeclApproved || s == domain.DeclFinanciallyApproved || s == domain.DeclPaid
}

// exportPractice turns one practice's values into rows and achievement.
// Achievement and points do not depend on the list size, so the list size
// is left out (0): the file carries no money.
func exportPractice(tx *store.Tx, c *domain.Collection, sc *serviceCalc, practice string, vals []domain.FieldValue, state domain.State) ([]domain.IndicatorValue, []AchievementRow, error) {
	rows := make([]domain.IndicatorValue, len(vals))
	for i, v := range vals {
		rows[i] = domain.IndicatorValue{Service: sc.svc.ID, Practice: practice, AchDate: c.AchDate, Indicator: v.Indicator, Field: v.Field, Value: v.Value}
	}
	params, ok := sc.svc.ParamsOn(c.AchDate)
	if !ok {
		return nil, nil, fmt.Errorf("%s: no payment parameters in force on %s", c.Label(), c.AchDate)
	}
	calcr, err := sc.calculator(tx, params)
	if err != nil {
		return nil, nil, err
	}
	res, err := calcr.Practice(0, rows)
	if err != nil {
		return nil, nil, fmt.Errorf("%s, %s: %w", c.Label(), practice, err)
	}
	have := map[domain.FieldKey]bool{}
	for _, v := range vals {
		have[domain.FieldKey{Indicator: v.Indicator, Field: v.Field}] = true
	}
	num := func(id, field string, v int64) string {
		if !have[domain.FieldKey{Indicator: id, Field: field}] {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	var ach []AchievementRow
	for _, r := range res.Indicators {
		if r.Kind == domain.IndCount {
			continue // counts are in the values file; they have no achievement
		}
		ach = append(ach, AchievementRow{Service: sc.svc.ID, Practice: practice, AchDate: c.AchDate, Indicator: r.ID,
			Register: num(r.ID, domain.FieldRegister, r.Register), Denominator: num(r.ID, domain.FieldDenominator, r.Denominator),
			Numerator: num(r.ID, domain.FieldNumerator, r.Numerator), Achievement: calc.Percent(r.Achievement, 2),
			Points: calc.Decimal(r.Points, 2), MaxPoints: r.PointsMax, Status: string(state)})
	}
	return rows, ach, nil
}

// WriteValuesCSV writes rows in the INDICATOR_VALUES shape.
func WriteValuesCSV(w io.Writer, rows []domain.IndicatorValue) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(calc.ValuesHeader); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write([]string{r.Service, r.Practice, r.AchDate.String(), r.Indicator, r.Field, strconv.FormatInt(r.Value, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// AchievementHeader is the achievement file's header.
var AchievementHeader = []string{"QUALITY_SERVICE", "ORG_CODE", "ACH_DATE", "IND_CODE", "REGISTER", "DENOMINATOR",
	"NUMERATOR", "ACHIEVEMENT_PCT", "POINTS", "MAX_POINTS", "DECLARATION_STATUS"}

// WriteAchievementCSV writes the achievement rows.
func WriteAchievementCSV(w io.Writer, rows []AchievementRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(AchievementHeader); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write([]string{r.Service, r.Practice, r.AchDate.String(), r.Indicator, r.Register, r.Denominator,
			r.Numerator, r.Achievement, r.Points, strconv.Itoa(r.MaxPoints), r.Status}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
