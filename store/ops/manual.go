package ops

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gpcollections/domain"
	"gpcollections/domain/manual"
	"gpcollections/store"
)

var (
	// ErrManualClosed refuses manual entry that is not open yet or any more.
	ErrManualClosed = errors.New("manual entry is not open")
	// ErrInvalidManual refuses manual values that do not parse or check.
	ErrInvalidManual = errors.New("invalid manual entry")
)

// ManualErrors lists every problem with a manual entry, each naming its
// indicator and field. Nothing is saved when there is any.
type ManualErrors []manual.FieldError

func (e ManualErrors) Error() string {
	parts := make([]string, len(e))
	for i, x := range e {
		parts[i] = x.Error()
	}
	return fmt.Sprintf("%v: %s", ErrInvalidManual, strings.Join(parts, "; "))
}

func (e ManualErrors) Unwrap() error { return ErrInvalidManual }

// manualOpen says why manual entry for a practice is not open, or nil. It
// opens once the collection's automatic extract completed (or the
// practice's own extract failed, or a retry of it has no figures yet) and
// closes after the declaration deadline.
func manualOpen(tx *store.Tx, c *domain.Collection, practice string) error {
	auto, err := AutomaticEntry(tx, c, practice)
	if err != nil {
		return err
	}
	if c.Status != domain.CollExtracted && c.Status != domain.CollClosed && auto == AutoNone {
		return fmt.Errorf("%s, %s: %w: it opens after the automatic extract completes (the collection is %s)", c.Label(), practice, ErrManualClosed, c.Status)
	}
	if err := checkDeadline(tx, c, DeadlineDeclaration); err != nil {
		return fmt.Errorf("%w (%w)", err, ErrManualClosed)
	}
	return nil
}

// AutoEntry says why a practice may key in a collection's automatic
// fields by hand.
type AutoEntry string

const (
	// AutoNone: the extract is the source of the automatic fields.
	AutoNone AutoEntry = ""
	// AutoFailed: the practice's extract failed.
	AutoFailed AutoEntry = "extract failed"
	// AutoRetryQueued, AutoRetryRunning: a retry of the practice's extract
	// is queued or running and has produced no figures yet, so what was
	// keyed in is still the practice's figures (see mergedInputs).
	AutoRetryQueued  AutoEntry = "retry queued"
	AutoRetryRunning AutoEntry = "retry running"
)

// AutomaticEntry says whether, and why, a practice may key in the
// automatic fields of a collection. It follows what the calculation uses
// (mergedInputs): keyed-in values stand for automatic fields while the
// extract has failed or no extract result exists. A retry (a queued or
// running job with no result yet) counts once the collection's automatic
// extract completed, or when the practice already keyed values in (a
// re-run after a failure); a practice merely waiting for its first
// extraction is not offered the fields.
func AutomaticEntry(tx *store.Tx, c *domain.Collection, practice string) (AutoEntry, error) {
	j, err := tx.Job(c.ID, practice)
	if errors.Is(err, store.ErrNotFound) {
		return AutoNone, nil
	}
	if err != nil {
		return AutoNone, err
	}
	switch j.State {
	case domain.JobFailed:
		return AutoFailed, nil
	case domain.JobQueued, domain.JobRunning:
	default:
		return AutoNone, nil
	}
	if _, err := tx.Result(c.ID, practice); err == nil {
		return AutoNone, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return AutoNone, err
	}
	retry := c.Status == domain.CollExtracted || c.Status == domain.CollClosed
	if !retry {
		svc, err := tx.Service(c.Service)
		if err != nil {
			return AutoNone, err
		}
		m, err := tx.ManualEntry(c.ID, practice)
		if err != nil {
			return AutoNone, err
		}
		manual := manualFields(svc)
		for _, v := range m.Values {
			retry = retry || !manual[domain.FieldKey{Indicator: v.Indicator, Field: v.Field}]
		}
	}
	switch {
	case !retry:
		return AutoNone, nil
	case j.State == domain.JobRunning:
		return AutoRetryRunning, nil
	}
	return AutoRetryQueued, nil
}

// autoNote words AutoEntry for the form.
func autoNote(a AutoEntry, practice string) string {
	switch a {
	case AutoFailed:
		return fmt.Sprintf("%s's extract failed: every field can be entered by hand; what is submitted counts until an extract succeeds", practice)
	case AutoRetryQueued, AutoRetryRunning:
		state := "queued"
		if a == AutoRetryRunning {
			state = "running"
		}
		return fmt.Sprintf("a retry of %s's failed extract is %s and has no figures yet: values entered here count until it succeeds, then the extract's figures replace them", practice, state)
	}
	return ""
}

// ManualField is one field of the entry form.
type ManualField struct {
	Indicator string `json:"indicator"`
	Field     string `json:"field"`
	// Automatic fields are on the form only because the practice's extract
	// failed.
	Automatic bool `json:"automatic,omitempty"`
	// Entered is the value on the form (nil: none yet); Extracted the
	// extract's value for the field, when there is one.
	Entered   *int64 `json:"entered,omitempty"`
	Extracted *int64 `json:"extracted,omitempty"`
}

// ManualForm is what the manual entry screen shows.
type ManualForm struct {
	Collection *domain.Collection  `json:"collection"`
	Practice   string              `json:"practice"`
	Entry      *domain.ManualEntry `json:"entry"`
	Fields     []ManualField       `json:"fields"`
	// Closed says why entry is not possible now; empty when it is open.
	Closed string `json:"closed,omitempty"`
	// Auto says why the automatic fields are on the form (AutoNone: they
	// are not); Note says it in words for the screen.
	Auto     AutoEntry   `json:"auto,omitempty"`
	Note     string      `json:"note,omitempty"`
	Deadline domain.Date `json:"deadline"`
}

// ManualFormFor reads the manual entry form of a practice for a collection.
func ManualFormFor(s *store.Store, actor *domain.User, collID uint64, practice string) (*ManualForm, error) {
	var form ManualForm
	err := s.View(func(tx *store.Tx) error {
		c, err := tx.Collection(collID)
		if err != nil {
			return err
		}
		if err := authorizeOrg(tx, actor, domain.ActEnterManual, practice); err != nil {
			return err
		}
		svc, err := tx.Service(c.Service)
		if err != nil {
			return err
		}
		form.Collection, form.Practice, form.Deadline = c, practice, c.DeclarationDeadline
		if form.Entry, err = tx.ManualEntry(collID, practice); err != nil {
			return err
		}
		if err := requireParticipating(tx, c.Service, practice); err != nil {
			form.Closed = err.Error()
		} else if err := manualOpen(tx, c, practice); err != nil {
			form.Closed = err.Error()
		}
		if form.Auto, err = AutomaticEntry(tx, c, practice); err != nil {
			return err
		}
		form.Note = autoNote(form.Auto, practice)
		allowed, err := manualAllowed(tx, c, svc, practice)
		if err != nil {
			return err
		}
		extracted := map[domain.FieldKey]int64{}
		if r, err := tx.Result(collID, practice); err == nil {
			for _, v := range r.Values {
				extracted[domain.FieldKey{Indicator: v.Indicator, Field: v.Field}] = v.Value
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		entered := map[domain.FieldKey]int64{}
		for _, v := range form.Entry.Values {
			entered[domain.FieldKey{Indicator: v.Indicator, Field: v.Field}] = v.Value
		}
		for _, k := range allowed.order {
			f := ManualField{Indicator: k.Indicator, Field: k.Field, Automatic: !allowed.manual[k]}
			if v, ok := entered[k]; ok {
				f.Entered = &v
			}
			if v, ok := extracted[k]; ok {
				f.Extracted = &v
			}
			form.Fields = append(form.Fields, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &form, nil
}

// allowedFields are the fields a practice may enter by hand for a
// collection, in the service's order.
type allowedFields struct {
	order  []domain.FieldKey
	ok     map[domain.FieldKey]bool
	manual map[domain.FieldKey]bool
}

func manualAllowed(tx *store.Tx, c *domain.Collection, svc *domain.ServiceDef, practice string) (*allowedFields, error) {
	auto, err := AutomaticEntry(tx, c, practice)
	if err != nil {
		return nil, err
	}
	keyed := auto != AutoNone
	a := &allowedFields{ok: map[domain.FieldKey]bool{}, manual: manualFields(svc)}
	for _, d := range svc.Indicators {
		for _, f := range d.Fields() {
			k := domain.FieldKey{Indicator: d.ID, Field: f}
			if a.manual[k] || keyed {
				a.order = append(a.order, k)
				a.ok[k] = true
			}
		}
	}
	return a, nil
}

// SaveManual saves typed values for a practice's collection as a draft, or
// submits them (submit true), which recalculates the declaration in the same
// transaction. values maps fields to the raw text typed; an empty text
// clears a field. The fields are those the service marks manual, plus every
// automatic field while the practice's extract has failed or a retry of it
// has no figures yet (AutomaticEntry). Every value is
// parsed and the whole set checked (domain/manual); on any error nothing is
// saved and ManualErrors names each indicator and field. expectVersion is
// the entry's version the form was read at (0 for a new entry). A
// commissioner with Achievement Entry may enter on a practice's behalf.
// Every save is audited with the values before and after.
func SaveManual(s *store.Store, actor *domain.User, collID uint64, practice string, values map[domain.FieldKey]string, submit bool, expectVersion uint64) (*domain.ManualEntry, error) {
	var saved *domain.ManualEntry
	err := s.Update(actor, func(tx *store.Tx) error {
		c, err := tx.Collection(collID)
		if err != nil {
			return err
		}
		if err := authorizeOrg(tx, actor, domain.ActEnterManual, practice); err != nil {
			return err
		}
		if err := requireParticipating(tx, c.Service, practice); err != nil {
			return err
		}
		if err := manualOpen(tx, c, practice); err != nil {
			return err
		}
		svc, err := tx.Service(c.Service)
		if err != nil {
			return err
		}
		m, err := tx.ManualEntry(collID, practice)
		if err != nil {
			return err
		}
		if m.Version != expectVersion {
			return fmt.Errorf("manual entry %s, %s (you read version %d, it is now %d): %w", c.Label(), practice, expectVersion, m.Version, store.ErrConflict)
		}
		if m.State == domain.ManualSubmitted && !submit {
			return fmt.Errorf("%s, %s: the manual entry was submitted; correct it by submitting the corrected values (the declaration is recalculated at once)", c.Label(), practice)
		}
		allowed, err := manualAllowed(tx, c, svc, practice)
		if err != nil {
			return err
		}
		entry := map[domain.FieldKey]int64{}
		for _, v := range m.Values {
			entry[domain.FieldKey{Indicator: v.Indicator, Field: v.Field}] = v.Value
		}
		var errs ManualErrors
		keys := make([]domain.FieldKey, 0, len(values))
		for k := range values {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			raw := values[k]
			if !allowed.ok[k] {
				errs = append(errs, manual.FieldError{Indicator: k.Indicator, Field: k.Field, Msg: notEnterable(svc, k)})
				continue
			}
			if strings.TrimSpace(raw) == "" {
				delete(entry, k)
				continue
			}
			v, err := manual.ParseValue(k.Indicator, k.Field, raw)
			var fe manual.FieldError
			if errors.As(err, &fe) {
				errs = append(errs, fe)
				continue
			} else if err != nil {
				return err
			}
			entry[k] = v
		}
		if submit {
			for _, k := range allowed.order {
				if _, ok := entry[k]; !ok && allowed.manual[k] {
					errs = append(errs, manual.FieldError{Indicator: k.Indicator, Field: k.Field, Msg: "a value is required to submit"})
				}
			}
		}
		if len(errs) > 0 {
			return errs
		}
		if fe := manual.Validate(svc, checkSet(tx, c, practice, allowed, entry)); len(fe) > 0 {
			return ManualErrors(fe)
		}
		before := valuesText(m.Values)
		m.Values = m.Values[:0]
		for k, v := range entry {
			m.Values = append(m.Values, domain.FieldValue{Indicator: k.Indicator, Field: k.Field, Value: v})
		}
		sortFieldValues(m.Values)
		m.State = domain.ManualDraft
		action := "manual.draft"
		if submit {
			m.State, action = domain.ManualSubmitted, "manual.submit"
		}
		m.UpdatedBy, m.UpdatedAt = actor.Name, tx.Now()
		if err := tx.PutManualEntry(m); err != nil {
			return err
		}
		if err := tx.Audit(action, fmt.Sprintf("manual %d/%s", collID, practice), practice, before, valuesText(m.Values)); err != nil {
			return err
		}
		saved = m
		if submit {
			return Recalculate(tx, c, practice, "manual entry submitted by "+actor.Name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return saved, nil
}

func notEnterable(svc *domain.ServiceDef, k domain.FieldKey) string {
	d, ok := svc.Indicator(k.Indicator)
	if !ok {
		return "not an indicator of service " + svc.ID
	}
	for _, f := range d.Fields() {
		if f == k.Field {
			return "extracted automatically; it can be entered by hand only while the practice's extract has failed (or a retry of it has no figures yet)"
		}
	}
	return fmt.Sprintf("not a field of %s (fields: %s)", k.Indicator, strings.Join(d.Fields(), ", "))
}

// checkSet is what manual.Validate checks: the extract's values with the
// entry's on top, so a typed register is checked against an extracted
// count and the other way round.
func checkSet(tx *store.Tx, c *domain.Collection, practice string, allowed *allowedFields, entry map[domain.FieldKey]int64) map[[2]string]int64 {
	set := map[[2]string]int64{}
	if r, err := tx.Result(c.ID, practice); err == nil {
		for _, v := range r.Values {
			set[[2]string{v.Indicator, v.Field}] = v.Value
		}
	}
	for k, v := range entry {
		if allowed.ok[k] {
			set[[2]string{k.Indicator, k.Field}] = v
		}
	}
	return set
}
