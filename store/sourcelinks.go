package store

import (
	"errors"
	"fmt"

	"gpcollections/domain"
)

// SourceLink reads the source linked to a practice.
func (tx *Tx) SourceLink(practice string) (*domain.SourceLink, error) {
	var l domain.SourceLink
	if err := getJSON(tx.tx, bSources, []byte(practice), &l); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("source for practice %s: %w", practice, ErrNotFound)
		}
		return nil, err
	}
	return &l, nil
}

// SourceLinks lists every practice's linked source, by practice code.
func (tx *Tx) SourceLinks() ([]*domain.SourceLink, error) {
	var out []*domain.SourceLink
	err := eachJSON(tx.tx, bSources, nil, func(_ []byte, l *domain.SourceLink) error {
		out = append(out, l)
		return nil
	})
	return out, err
}

// PutSourceLink writes a practice's source link at the version read (0
// creates). The caller audits, knowing whether it linked, relinked or checked.
func (tx *Tx) PutSourceLink(l *domain.SourceLink) error {
	if l.Practice == "" || l.Dir == "" {
		return fmt.Errorf("source link without practice or directory")
	}
	if err := putJSON(tx.tx, bSources, []byte(l.Practice), l); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "source", Practice: l.Practice})
	return nil
}
