package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"gpcollections/domain"
)

func collIdxKey(service string, ach domain.Date) []byte {
	b := make([]byte, 0, len(service)+5)
	b = append(b, service...)
	b = append(b, '|')
	return binary.BigEndian.AppendUint32(b, uint32(int32(ach))^0x80000000)
}

// Collection reads a collection by id.
func (tx *Tx) Collection(id uint64) (*domain.Collection, error) {
	var c domain.Collection
	if err := getJSON(tx.tx, bCollections, u64(id), &c); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("collection %d: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &c, nil
}

// CollectionFor finds the collection of a service at an achievement date.
func (tx *Tx) CollectionFor(service string, ach domain.Date) (*domain.Collection, error) {
	v := tx.tx.Bucket([]byte(bIdxCollByServ)).Get(collIdxKey(service, ach))
	if len(v) != 8 {
		return nil, fmt.Errorf("collection %s %s: %w", service, ach, ErrNotFound)
	}
	return tx.Collection(binary.BigEndian.Uint64(v))
}

// Collections lists collections, optionally of one service, by id.
func (tx *Tx) Collections(service string) ([]*domain.Collection, error) {
	var out []*domain.Collection
	err := eachJSON(tx.tx, bCollections, nil, func(_ []byte, c *domain.Collection) error {
		if service == "" || c.Service == service {
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// AddCollection creates a collection with a new id; one per service and
// achievement date. The caller audits (it knows why it was added).
func (tx *Tx) AddCollection(c *domain.Collection) error {
	if c.ID != 0 || c.Version != 0 {
		return fmt.Errorf("collection %s: already stored as %d", c.Label(), c.ID)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if _, err := tx.Service(c.Service); err != nil {
		return err
	}
	ik := collIdxKey(c.Service, c.AchDate)
	idx := tx.tx.Bucket([]byte(bIdxCollByServ))
	if idx.Get(ik) != nil {
		return fmt.Errorf("collection %s: %w", c.Label(), ErrExists)
	}
	id, err := tx.tx.Bucket([]byte(bCollections)).NextSequence()
	if err != nil {
		return err
	}
	c.ID = id
	if c.Status == "" {
		c.Status = domain.CollScheduled
	}
	if err := putJSON(tx.tx, bCollections, u64(id), c); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "collection", Collection: id, Service: c.Service})
	return idx.Put(ik, u64(id))
}

// PutCollection updates a collection at the version read. The achievement
// date and service never change (they are the collection's identity).
func (tx *Tx) PutCollection(c *domain.Collection) error {
	if err := c.Validate(); err != nil {
		return err
	}
	old, err := tx.Collection(c.ID)
	if err != nil {
		return err
	}
	if old.Service != c.Service || old.AchDate != c.AchDate {
		return fmt.Errorf("collection %d: service and achievement date cannot change", c.ID)
	}
	if err := putJSON(tx.tx, bCollections, u64(c.ID), c); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "collection", Collection: c.ID, Service: c.Service})
	return nil
}
