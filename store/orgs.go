package store

import (
	"errors"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"gpcollections/domain"
)

// Org reads an organisation.
func (tx *Tx) Org(code string) (*domain.Org, error) {
	var o domain.Org
	if err := getJSON(tx.tx, bOrgs, []byte(code), &o); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("organisation %s: %w", code, ErrNotFound)
		}
		return nil, err
	}
	return &o, nil
}

// Orgs lists organisations, optionally of one kind, by code.
func (tx *Tx) Orgs(kind domain.OrgKind) ([]*domain.Org, error) {
	var out []*domain.Org
	err := eachJSON(tx.tx, bOrgs, nil, func(_ []byte, o *domain.Org) error {
		if kind == "" || o.Kind == kind {
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// PracticesOf lists the codes of a commissioner's practices.
func (tx *Tx) PracticesOf(commissioner string) ([]string, error) {
	b := tx.tx.Bucket([]byte(bIdxOrgParent))
	prefix := []byte(commissioner + "|")
	var out []string
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out, nil
}

// PutOrg creates (Version 0) or updates an organisation after validating it,
// checking its commissioner exists, and keeping the parent index current.
func (tx *Tx) PutOrg(o *domain.Org) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Kind == domain.OrgPractice {
		p, err := tx.Org(o.Parent)
		if err != nil {
			return fmt.Errorf("practice %s: commissioner %s: %w", o.Code, o.Parent, err)
		}
		if p.Kind != domain.OrgCommissioner {
			return fmt.Errorf("practice %s: %s is a %s, not a commissioner", o.Code, o.Parent, p.Kind)
		}
	}
	var before string
	if o.Version != 0 {
		old, err := tx.Org(o.Code)
		if err != nil {
			return err
		}
		if old.Kind != o.Kind {
			return fmt.Errorf("organisation %s: cannot change kind from %s to %s", o.Code, old.Kind, o.Kind)
		}
		if old.Parent != o.Parent {
			if err := tx.tx.Bucket([]byte(bIdxOrgParent)).Delete([]byte(old.Parent + "|" + old.Code)); err != nil {
				return err
			}
		}
		before = orgSummary(old)
	}
	if err := putJSON(tx.tx, bOrgs, []byte(o.Code), o); err != nil {
		return err
	}
	if err := indexOrgParent(tx.tx, o); err != nil {
		return err
	}
	practice := ""
	if o.Kind == domain.OrgPractice {
		practice = o.Code
	}
	tx.Notify(Change{Kind: "org", Practice: practice})
	return tx.Audit("org.put", "organisation "+o.Code, o.Code, before, orgSummary(o))
}

func indexOrgParent(tx *bolt.Tx, o *domain.Org) error {
	if o.Parent == "" {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists([]byte(bIdxOrgParent))
	if err != nil {
		return err
	}
	return b.Put([]byte(o.Parent+"|"+o.Code), nil)
}

func orgSummary(o *domain.Org) string {
	s := fmt.Sprintf("%s %s %q", o.Kind, o.Code, o.Name)
	if o.Parent != "" {
		s += " parent " + o.Parent
	}
	for _, l := range o.ListSizes {
		s += fmt.Sprintf(" list %d from %s", l.Size, l.From)
	}
	return s
}

// TargetFor builds the authorization target of an organisation code.
func (tx *Tx) TargetFor(code string) (domain.Target, error) {
	o, err := tx.Org(code)
	if err != nil {
		return domain.Target{}, err
	}
	return domain.TargetOf(o), nil
}

// User reads a user.
func (tx *Tx) User(name string) (*domain.User, error) {
	var u domain.User
	if err := getJSON(tx.tx, bUsers, []byte(name), &u); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("user %s: %w", name, ErrNotFound)
		}
		return nil, err
	}
	return &u, nil
}

// Users lists users by name.
func (tx *Tx) Users() ([]*domain.User, error) {
	var out []*domain.User
	err := eachJSON(tx.tx, bUsers, nil, func(_ []byte, u *domain.User) error {
		out = append(out, u)
		return nil
	})
	return out, err
}

// UserByKey finds the user owning an SSH key fingerprint.
func (tx *Tx) UserByKey(fingerprint string) (*domain.User, error) {
	name := tx.tx.Bucket([]byte(bIdxUserKey)).Get([]byte(fingerprint))
	if name == nil {
		return nil, fmt.Errorf("key %s: %w", fingerprint, ErrNotFound)
	}
	return tx.User(string(name))
}

// PutUser creates (Version 0) or updates a user: validated, every grant's
// organisation checked to exist and be of the kind the grant says, and the
// key index kept in the same transaction.
func (tx *Tx) PutUser(u *domain.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	for _, g := range u.Grants {
		o, err := tx.Org(g.Org)
		if err != nil {
			return fmt.Errorf("user %s: grant %s: %w", u.Name, g, err)
		}
		if o.Kind != g.OrgKind {
			return fmt.Errorf("user %s: grant %s: %s is a %s, not a %s", u.Name, g, g.Org, o.Kind, g.OrgKind)
		}
	}
	var old *domain.User
	before := ""
	if u.Version != 0 {
		var err error
		if old, err = tx.User(u.Name); err != nil {
			return err
		}
		before = userSummary(old)
	} else if _, err := tx.User(u.Name); err == nil {
		return fmt.Errorf("user %s: %w", u.Name, ErrExists)
	}
	if err := indexUserKeys(tx.tx, old, u); err != nil {
		return err
	}
	if err := putJSON(tx.tx, bUsers, []byte(u.Name), u); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "user"})
	orgs := u.Orgs()
	org := ""
	if len(orgs) > 0 {
		org = orgs[0]
	}
	return tx.Audit("user.put", "user "+u.Name, org, before, userSummary(u))
}

func indexUserKeys(tx *bolt.Tx, old, u *domain.User) error {
	b, err := tx.CreateBucketIfNotExists([]byte(bIdxUserKey))
	if err != nil {
		return err
	}
	if old != nil {
		for _, k := range old.Keys {
			if err := b.Delete([]byte(k.Fingerprint)); err != nil {
				return err
			}
		}
	}
	for _, k := range u.Keys {
		if owner := b.Get([]byte(k.Fingerprint)); owner != nil && string(owner) != u.Name {
			return fmt.Errorf("key %s already belongs to user %s", k.Fingerprint, owner)
		}
		if err := b.Put([]byte(k.Fingerprint), []byte(u.Name)); err != nil {
			return err
		}
	}
	return nil
}

func userSummary(u *domain.User) string {
	var g []string
	for _, x := range u.Grants {
		g = append(g, x.String())
	}
	sort.Strings(g)
	var k []string
	for _, x := range u.Keys {
		k = append(k, x.Fingerprint)
	}
	s := fmt.Sprintf("user %s %q grants %v keys %v", u.Name, u.FullName, g, k)
	if u.Disabled {
		s += " disabled"
	}
	return s
}

// Service reads a service definition.
func (tx *Tx) Service(id string) (*domain.ServiceDef, error) {
	var s serviceRec
	if err := getJSON(tx.tx, bServices, []byte(id), &s); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("service %s: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &s.ServiceDef, nil
}

// ServiceVersion reads a service definition with its store version.
func (tx *Tx) ServiceVersion(id string) (*domain.ServiceDef, uint64, error) {
	var s serviceRec
	if err := getJSON(tx.tx, bServices, []byte(id), &s); err != nil {
		return nil, 0, fmt.Errorf("service %s: %w", id, err)
	}
	return &s.ServiceDef, s.Version, nil
}

// Services lists service definitions by id.
func (tx *Tx) Services() ([]*domain.ServiceDef, error) {
	var out []*domain.ServiceDef
	err := eachJSON(tx.tx, bServices, nil, func(_ []byte, s *serviceRec) error {
		out = append(out, &s.ServiceDef)
		return nil
	})
	return out, err
}

// serviceRec wraps a ServiceDef with its store version.
type serviceRec struct {
	domain.Rev
	domain.ServiceDef
}

// PutService creates (version 0) or replaces a service definition.
func (tx *Tx) PutService(def *domain.ServiceDef, version uint64) error {
	if err := def.Validate(); err != nil {
		return err
	}
	before := ""
	if version != 0 {
		old, err := tx.Service(def.ID)
		if err != nil {
			return err
		}
		before = serviceSummary(old)
	}
	rec := &serviceRec{Rev: domain.Rev{Version: version}, ServiceDef: *def}
	if err := putJSON(tx.tx, bServices, []byte(def.ID), rec); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "service", Service: def.ID})
	return tx.Audit("service.put", "service "+def.ID, domain.NationalCode, before, serviceSummary(def))
}

func serviceSummary(s *domain.ServiceDef) string {
	p, _ := s.LatestParams()
	return fmt.Sprintf("service %s %q %s..%s %s, %d indicators, payment parameters v%d (%s per point, national list %d), rules %.12s",
		s.ID, s.Name, s.Start, s.End, s.Frequency, len(s.Indicators), p.Version, p.PencePerPoint, p.NationalAvgListSize, s.RuleSetHash)
}
