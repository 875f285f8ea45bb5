package ops

import (
	"errors"
	"fmt"

	"gpcollections/domain"
	"gpcollections/domain/rulesets"
	"gpcollections/store"
)

// InstallService stores a service definition (from a rule set) or, when it
// is already installed, replaces its indicators and rule-set hash while
// keeping every payment-parameter version the store already holds, so a
// correction made by an administrator survives a rule-set update. An update
// recalculates the service's open declarations in the same transaction.
func InstallService(s *store.Store, actor *domain.User, def *domain.ServiceDef) (installed bool, err error) {
	err = s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActManageServices, domain.TargetNational()); err != nil {
			return err
		}
		cur, ver, err := tx.ServiceVersion(def.ID)
		if errors.Is(err, store.ErrNotFound) {
			installed = true
			return tx.PutService(def, 0)
		}
		if err != nil {
			return err
		}
		if cur.RuleSetHash == def.RuleSetHash {
			return nil
		}
		next := *def
		next.Payment = mergeParams(cur.Payment, def.Payment)
		installed = true
		if err := tx.PutService(&next, ver); err != nil {
			return err
		}
		// New rules or indicator figures change what open declarations are
		// worth: recalculate them now, sending declared ones back with the
		// reason; a financially approved figure that would move refuses
		// the update.
		sum, err := RecalculateServiceTx(tx, def.ID, fmt.Sprintf("service definition updated (rules %.12s)", def.RuleSetHash))
		if err != nil {
			return err
		}
		if len(sum.Locked) > 0 {
			return lockedRefusal(def.ID, sum, "updating "+def.ID, "ship changed rules for a paid year as a new service instead")
		}
		return nil
	})
	return installed, err
}

// mergeParams keeps the stored versions and adds shipped versions the store
// does not have yet.
func mergeParams(stored, shipped []domain.PaymentParams) []domain.PaymentParams {
	out := append([]domain.PaymentParams(nil), stored...)
	have := map[int]bool{}
	for _, p := range stored {
		have[p.Version] = true
	}
	for _, p := range shipped {
		if !have[p.Version] {
			out = append(out, p)
		}
	}
	return out
}

// Services lists the installed services; any signed-in user may read what a
// service collects and how it pays.
func Services(s *store.Store, actor *domain.User) ([]*domain.ServiceDef, error) {
	if err := domain.Authorize(actor, domain.ActViewServiceInfo, domain.TargetNational()); err != nil {
		return nil, err
	}
	var out []*domain.ServiceDef
	err := s.View(func(tx *store.Tx) error {
		var err error
		out, err = tx.Services()
		return err
	})
	return out, err
}

// Service reads one installed service.
func Service(s *store.Store, actor *domain.User, id string) (*domain.ServiceDef, error) {
	if err := domain.Authorize(actor, domain.ActViewServiceInfo, domain.TargetNational()); err != nil {
		return nil, err
	}
	var out *domain.ServiceDef
	err := s.View(func(tx *store.Tx) error {
		var err error
		out, err = tx.Service(id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", id, err)
	}
	return out, nil
}

// InstallShipped installs (or updates) the service of every shipped rule set.
func InstallShipped(s *store.Store, actor *domain.User) error {
	for _, id := range rulesets.IDs() {
		def, err := rulesets.Service(id)
		if err != nil {
			return fmt.Errorf("shipped rule set %s: %w", id, err)
		}
		if _, err := InstallService(s, actor, def); err != nil {
			return err
		}
	}
	return nil
}
