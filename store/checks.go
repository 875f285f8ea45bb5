package store

import (
	"errors"
	"fmt"

	"gpcollections/domain"
)

// CheckRun reads a practice's latest check run for a collection.
func (tx *Tx) CheckRun(coll uint64, practice string) (*domain.CheckRun, error) {
	var c domain.CheckRun
	if err := getJSON(tx.tx, bChecks, resultKey(coll, practice), &c); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("check for collection %d practice %s: %w", coll, practice, ErrNotFound)
		}
		return nil, err
	}
	return &c, nil
}

// CheckRuns lists the latest check run of every practice for a collection.
func (tx *Tx) CheckRuns(coll uint64) ([]*domain.CheckRun, error) {
	var out []*domain.CheckRun
	err := eachJSON(tx.tx, bChecks, u64(coll), func(_ []byte, c *domain.CheckRun) error {
		out = append(out, c)
		return nil
	})
	return out, err
}

// PutCheckRun stores a check run as the practice's latest for the
// collection, replacing the previous one whatever its version: a check is a
// snapshot, not something two people edit. The caller audits.
func (tx *Tx) PutCheckRun(c *domain.CheckRun) error {
	if c.Collection == 0 || c.Practice == "" {
		return fmt.Errorf("check run without collection or practice")
	}
	c.Version = 0
	if old, err := tx.CheckRun(c.Collection, c.Practice); err == nil {
		c.Version = old.Version
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := putJSON(tx.tx, bChecks, resultKey(c.Collection, c.Practice), c); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "check", Collection: c.Collection, Practice: c.Practice})
	return nil
}
