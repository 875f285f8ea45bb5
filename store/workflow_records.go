package store

import (
	"errors"
	"fmt"

	"gpcollections/domain"
)

// The workflow aggregates: participation, manual entries and declarations.
// These are plain versioned reads and writes; the rules for changing them
// (who, when, which transition) live with the operations that call them.

func partKey(service, practice string) []byte { return []byte(service + "|" + practice) }

// Participation reads a practice's participation in a service; a practice
// never offered the service reads as not-offered (version 0).
func (tx *Tx) Participation(service, practice string) (*domain.Participation, error) {
	var p domain.Participation
	err := getJSON(tx.tx, bParticipation, partKey(service, practice), &p)
	if errors.Is(err, ErrNotFound) {
		return &domain.Participation{Service: service, Practice: practice, State: domain.PartNotOffered}, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Participations lists a service's participation records.
func (tx *Tx) Participations(service string) ([]*domain.Participation, error) {
	var out []*domain.Participation
	err := eachJSON(tx.tx, bParticipation, []byte(service+"|"), func(_ []byte, p *domain.Participation) error {
		out = append(out, p)
		return nil
	})
	return out, err
}

// PutParticipation writes at the version read (0 creates).
func (tx *Tx) PutParticipation(p *domain.Participation) error {
	if err := putJSON(tx.tx, bParticipation, partKey(p.Service, p.Practice), p); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "participation", Service: p.Service, Practice: p.Practice})
	return nil
}

// ManualEntry reads the manual entry of a practice for a collection; none
// yet reads as an empty draft (version 0).
func (tx *Tx) ManualEntry(coll uint64, practice string) (*domain.ManualEntry, error) {
	var m domain.ManualEntry
	err := getJSON(tx.tx, bManual, resultKey(coll, practice), &m)
	if errors.Is(err, ErrNotFound) {
		return &domain.ManualEntry{Collection: coll, Practice: practice, State: domain.ManualDraft}, nil
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// PutManualEntry writes at the version read (0 creates).
func (tx *Tx) PutManualEntry(m *domain.ManualEntry) error {
	if err := putJSON(tx.tx, bManual, resultKey(m.Collection, m.Practice), m); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "manual", Collection: m.Collection, Practice: m.Practice})
	return nil
}

func declStateKey(s domain.State, coll uint64, practice string) []byte {
	return key([]byte(string(s)+"|"), u64(coll), []byte(practice))
}

// Declaration reads a practice's declaration for a collection.
func (tx *Tx) Declaration(coll uint64, practice string) (*domain.Declaration, error) {
	var d domain.Declaration
	if err := getJSON(tx.tx, bDeclarations, resultKey(coll, practice), &d); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("declaration for collection %d practice %s: %w", coll, practice, ErrNotFound)
		}
		return nil, err
	}
	return &d, nil
}

// Declarations lists a collection's declarations (coll 0: all).
func (tx *Tx) Declarations(coll uint64) ([]*domain.Declaration, error) {
	var prefix []byte
	if coll != 0 {
		prefix = u64(coll)
	}
	var out []*domain.Declaration
	err := eachJSON(tx.tx, bDeclarations, prefix, func(_ []byte, d *domain.Declaration) error {
		out = append(out, d)
		return nil
	})
	return out, err
}

// DeclarationsIn lists declarations in a state using the state index: the
// approval queue reads this without scanning every declaration.
func (tx *Tx) DeclarationsIn(s domain.State) ([]*domain.Declaration, error) {
	var out []*domain.Declaration
	err := tx.EachDeclarationIn(s, func(coll uint64, practice string) error {
		d, err := tx.Declaration(coll, practice)
		if err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// EachDeclarationIn calls fn with the collection and practice of every
// declaration in a state, from the state index alone: counting work to do
// nationally reads no declaration records.
func (tx *Tx) EachDeclarationIn(s domain.State, fn func(coll uint64, practice string) error) error {
	prefix := []byte(string(s) + "|")
	c := tx.tx.Bucket([]byte(bIdxDeclState)).Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		rest := k[len(prefix):]
		if len(rest) < 8 {
			return &CorruptError{Bucket: bIdxDeclState, Key: printableKey(k), Err: errors.New("short key")}
		}
		if err := fn(beUint64(rest[:8]), string(rest[8:])); err != nil {
			return err
		}
	}
	return nil
}

// PutDeclaration writes at the version read (0 creates) and moves the state
// index entry in the same transaction.
func (tx *Tx) PutDeclaration(d *domain.Declaration) error {
	k := resultKey(d.Collection, d.Practice)
	idx := tx.tx.Bucket([]byte(bIdxDeclState))
	if d.Version != 0 {
		old, err := tx.Declaration(d.Collection, d.Practice)
		if err != nil {
			return err
		}
		if old.Version == d.Version {
			if err := idx.Delete(declStateKey(old.State, d.Collection, d.Practice)); err != nil {
				return err
			}
		}
	}
	if err := putJSON(tx.tx, bDeclarations, k, d); err != nil {
		return err
	}
	if err := idx.Put(declStateKey(d.State, d.Collection, d.Practice), nil); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "declaration", Collection: d.Collection, Practice: d.Practice, Service: d.Service})
	return nil
}

func beUint64(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}
