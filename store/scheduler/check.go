package scheduler

import (
	"context"
	"errors"
	"fmt"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
)

// RunCheck is a practice's check against its clinical system before it
// declares: the practice's current source is extracted for the collection's
// achievement date and compared field by field with what was collected (the
// extract result, or the submitted manual entry when there is no extract).
// Nothing collected is replaced; the check is kept as the practice's latest
// for the collection, audited. A practice user (Declaration Management or
// Achievement Entry) or the Extract Monitor may ask for one.
func RunCheck(ctx context.Context, s *store.Store, deps Deps, strict bool, actor *domain.User, id uint64, practice string) (*domain.CheckRun, error) {
	var c *domain.Collection
	var dir, rulesFor string
	authorize := func(tx *store.Tx) error {
		t, err := tx.TargetFor(practice)
		if err != nil {
			return err
		}
		return domain.Authorize(actor, domain.ActRequestCheck, t)
	}
	err := s.View(func(tx *store.Tx) error {
		if err := authorize(tx); err != nil {
			return err
		}
		var err error
		if c, err = tx.Collection(id); err != nil {
			return err
		}
		if c.Status == domain.CollScheduled || c.Status == domain.CollCancelled {
			return fmt.Errorf("collection %d (%s) is %s: nothing has been collected to check against", c.ID, c.Label(), c.Status)
		}
		ok, err := ops.Participating(tx, c.Service, practice)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s, %s: %w", practice, c.Service, ops.ErrNotParticipating)
		}
		l, err := tx.SourceLink(practice)
		if err != nil {
			return fmt.Errorf("%w: link the practice's clinical system export first (gpc source link --practice %s --dir DIR)", err, practice)
		}
		dir = l.Dir
		if def, err := tx.Service(c.Service); err == nil {
			rulesFor = def.RuleSetHash
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rs, err := deps.RuleSet(c.Service)
	if err != nil {
		return nil, fmt.Errorf("rules for service %s: %w", c.Service, err)
	}
	if rulesFor != "" && rulesFor != rs.Hash {
		return nil, fmt.Errorf("the rules for %s (%.12s) differ from those the registered service was defined with (%.12s)", c.Service, rs.Hash, rulesFor)
	}
	b, info, err := deps.Load(dir, practice, strict)
	if err != nil {
		return nil, fmt.Errorf("checking %s against source %s: %w", practice, dir, err)
	}
	current, err := evaluate(ctx, rs, b, c.AchDate, func() int { return cores(1) }, nil)
	patients := len(b.Patients)
	b.Release()
	if err != nil {
		return nil, err
	}
	cr := &domain.CheckRun{Collection: id, Practice: practice, RequestedBy: actor.Name,
		SourceHash: info.Fingerprint, RuleSetHash: rs.Hash, Patients: patients, Note: info.note()}
	err = s.Update(actor, func(tx *store.Tx) error {
		if err := authorize(tx); err != nil {
			return err
		}
		cr.At = tx.Now()
		var collected []domain.FieldValue
		r, err := tx.Result(id, practice)
		switch {
		case err == nil:
			collected, cr.Against, cr.Run = r.Values, fmt.Sprintf("extract run %d", r.Run), r.Run
		case errors.Is(err, store.ErrNotFound):
			m, err := tx.ManualEntry(id, practice)
			if err != nil {
				return err
			}
			if m.State == domain.ManualSubmitted {
				cr.Against = "manual entry"
				have := map[domain.FieldKey]bool{}
				for _, v := range current {
					have[domain.FieldKey{Indicator: v.Indicator, Field: v.Field}] = true
				}
				for _, v := range m.Values {
					if have[domain.FieldKey{Indicator: v.Indicator, Field: v.Field}] {
						collected = append(collected, v)
					}
				}
			} else {
				cr.Against = "nothing collected"
			}
		default:
			return err
		}
		cr.Diffs, cr.Same = domain.CompareValues(collected, current)
		if err := tx.PutCheckRun(cr); err != nil {
			return err
		}
		return tx.Audit("extract.check", fmt.Sprintf("check %d/%s", id, practice), practice, "",
			fmt.Sprintf("against %s: %d fields differ, %d agree; %d patients, source %.12s", cr.Against, len(cr.Diffs), cr.Same, cr.Patients, cr.SourceHash))
	})
	if err != nil {
		return nil, err
	}
	return cr, nil
}
