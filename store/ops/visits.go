package ops

import (
	"errors"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
)

// RecordVisit notes that actor's session began now and returns when their
// previous one began (zero on a first visit), for "what changed since your
// last visit". It is bookkeeping, not a decision: it needs only a signed-in,
// enabled person, changes nothing anyone else sees, and is not audited
// (sign-ins are the SSH server's to log).
func RecordVisit(s *store.Store, actor *domain.User) (time.Time, error) {
	if actor == nil || actor.IsSystem() {
		return time.Time{}, errors.New("a visit is recorded for a person only")
	}
	if actor.Disabled {
		return time.Time{}, domain.Authorize(actor, domain.ActViewTimetable, domain.TargetNational())
	}
	var prev time.Time
	err := s.Update(actor, func(tx *store.Tx) error {
		v, err := tx.Visit(actor.Name)
		if errors.Is(err, store.ErrNotFound) {
			v, err = &store.Visit{User: actor.Name}, nil
		}
		if err != nil {
			return err
		}
		prev = v.Last
		v.Previous, v.Last = v.Last, tx.Now()
		return tx.PutVisit(v)
	})
	return prev, err
}
