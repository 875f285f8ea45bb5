package store

import (
	"errors"
	"fmt"

	"gpcollections/domain"
)

// Payment records: committed payment runs, the paid items that stop a
// second payment, and the prior-year figures aspiration is worked from.
// The rules (what is payable, in which run) live in store/ops.

// PaymentRun reads a run by id.
func (tx *Tx) PaymentRun(id uint64) (*domain.PaymentRun, error) {
	var r domain.PaymentRun
	if err := getJSON(tx.tx, bPayRuns, u64(id), &r); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("payment run %d: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &r, nil
}

// PaymentRuns lists every run, oldest first. Runs are monthly, so the list
// stays short.
func (tx *Tx) PaymentRuns() ([]*domain.PaymentRun, error) {
	var out []*domain.PaymentRun
	err := eachJSON(tx.tx, bPayRuns, nil, func(_ []byte, r *domain.PaymentRun) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// PaymentRunFor finds the run of a period (YYYY-MM); ErrNotFound when the
// period has not been run.
func (tx *Tx) PaymentRunFor(period string) (*domain.PaymentRun, error) {
	var found *domain.PaymentRun
	err := eachJSON(tx.tx, bPayRuns, nil, func(_ []byte, r *domain.PaymentRun) error {
		if r.Period == period {
			found = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("payment run for %s: %w", period, ErrNotFound)
	}
	return found, nil
}

// AddPaymentRun stores a new run under the next id.
func (tx *Tx) AddPaymentRun(r *domain.PaymentRun) error {
	if r.ID != 0 || r.Version != 0 {
		return fmt.Errorf("payment run for %s: already stored as %d", r.Period, r.ID)
	}
	id, err := tx.tx.Bucket([]byte(bPayRuns)).NextSequence()
	if err != nil {
		return err
	}
	r.ID = id
	if err := putJSON(tx.tx, bPayRuns, u64(id), r); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "payment-run"})
	return nil
}

// PutPaymentRun updates a run at the version read.
func (tx *Tx) PutPaymentRun(r *domain.PaymentRun) error {
	if r.ID == 0 {
		return fmt.Errorf("payment run for %s: not stored yet", r.Period)
	}
	if err := putJSON(tx.tx, bPayRuns, u64(r.ID), r); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "payment-run"})
	return nil
}

// PaidKey identifies one payable item: a collection, practice and
// component, with a detail for items paid more than once per collection
// (the aspiration month). Aspiration has no collection: coll is 0 and the
// detail names the service and month.
func PaidKey(coll uint64, practice string, c domain.PayComponent, detail string) []byte {
	k := key(u64(coll), []byte(practice), []byte{'|'}, []byte(c))
	if detail != "" {
		k = key(k, []byte{'|'}, []byte(detail))
	}
	return k
}

// Paid reads a paid item; ErrNotFound when the item has not been paid.
func (tx *Tx) Paid(k []byte) (*domain.PaidItem, error) {
	var p domain.PaidItem
	if err := getJSON(tx.tx, bPaid, k, &p); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("paid item %s: %w", printableKey(k), ErrNotFound)
		}
		return nil, err
	}
	return &p, nil
}

// PaidWithPrefix lists paid items whose key starts with prefix (all of a
// practice's aspiration for a service, say).
func (tx *Tx) PaidWithPrefix(prefix []byte) ([]*domain.PaidItem, error) {
	var out []*domain.PaidItem
	err := eachJSON(tx.tx, bPaid, prefix, func(_ []byte, p *domain.PaidItem) error {
		out = append(out, p)
		return nil
	})
	return out, err
}

// MarkPaid records an item as paid. It refuses an item already paid with
// ErrExists: the one place a double payment is stopped, whatever the caller.
func (tx *Tx) MarkPaid(k []byte, p *domain.PaidItem) error {
	p.Version = 0
	if err := putJSON(tx.tx, bPaid, k, p); err != nil {
		if errors.Is(err, ErrExists) {
			return fmt.Errorf("%s was already paid: %w", printableKey(k), ErrExists)
		}
		return err
	}
	return nil
}

func aspKey(service, practice string) []byte { return []byte(service + "|" + practice) }

// Aspiration reads a practice's prior-year figure for a service.
func (tx *Tx) Aspiration(service, practice string) (*domain.AspirationBase, error) {
	var a domain.AspirationBase
	if err := getJSON(tx.tx, bAspiration, aspKey(service, practice), &a); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("prior-year achievement of %s for %s: %w", practice, service, ErrNotFound)
		}
		return nil, err
	}
	return &a, nil
}

// Aspirations lists every recorded prior-year figure, by service then practice.
func (tx *Tx) Aspirations() ([]*domain.AspirationBase, error) {
	var out []*domain.AspirationBase
	err := eachJSON(tx.tx, bAspiration, nil, func(_ []byte, a *domain.AspirationBase) error {
		out = append(out, a)
		return nil
	})
	return out, err
}

// PutAspiration writes at the version read (0 creates).
func (tx *Tx) PutAspiration(a *domain.AspirationBase) error {
	if err := putJSON(tx.tx, bAspiration, aspKey(a.Service, a.Practice), a); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "aspiration", Service: a.Service, Practice: a.Practice})
	return nil
}
