// Package ops holds the user actions of gpc. Each one checks the domain
// policy for its actor and runs as one store transaction, audited inside it;
// the CLI, the SSH commands and the terminal screens all call these, so an
// action behaves the same whichever way a person reaches it.
package ops

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"gpcollections/domain"
	"gpcollections/store"
)

// Bootstrap creates the national organisation and the first administrator
// (the admin role bundle) on an empty store. It refuses if users exist.
func Bootstrap(s *store.Store, name, fullName string, key domain.PublicKey) (*domain.User, error) {
	b, err := domain.BundleByName("admin")
	if err != nil {
		return nil, err
	}
	u := &domain.User{Name: name, FullName: fullName}
	if key.Fingerprint != "" {
		u.Keys = []domain.PublicKey{key}
	}
	for _, r := range b.Roles {
		if err := u.AddGrant(domain.Grant{Org: domain.NationalCode, OrgKind: domain.OrgNational, Role: r}); err != nil {
			return nil, err
		}
	}
	err = s.Update(u, func(tx *store.Tx) error {
		users, err := tx.Users()
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("the store in %s already has users; add more with gpc user add", s.Dir())
		}
		if _, err := tx.Org(domain.NationalCode); errors.Is(err, store.ErrNotFound) {
			if err := tx.PutOrg(&domain.Org{Code: domain.NationalCode, Kind: domain.OrgNational, Name: "GP Collections (national administrator)"}); err != nil {
				return err
			}
		}
		return tx.PutUser(u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// AddOrg registers an organisation.
func AddOrg(s *store.Store, actor *domain.User, o *domain.Org) error {
	return s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActManageOrgs, domain.TargetNational()); err != nil {
			return err
		}
		o.Version = 0
		return tx.PutOrg(o)
	})
}

// SetListSize records a practice's list size from a date and recalculates
// the practice's open declarations in the same transaction (RecalculatePractice).
func SetListSize(s *store.Store, actor *domain.User, code string, from domain.Date, size int64) error {
	if size < 0 {
		return fmt.Errorf("list size %d for %s: must not be negative", size, code)
	}
	return s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActManageOrgs, domain.TargetNational()); err != nil {
			return err
		}
		o, err := tx.Org(code)
		if err != nil {
			return err
		}
		if o.Kind != domain.OrgPractice {
			return fmt.Errorf("%s is a %s; only practices have list sizes", code, o.Kind)
		}
		o.SetListSize(from, size)
		if err := tx.PutOrg(o); err != nil {
			return err
		}
		if _, err := RecalculatePractice(tx, code, fmt.Sprintf("list size %d from %s recorded by %s", size, from, actor.Name)); err != nil {
			return err
		}
		tx.Notify(store.Change{Kind: "listsize", Practice: code})
		return nil
	})
}

// Orgs lists organisations of a kind ("" for all). Organisation codes and
// names are public (the ODS register), so any signed-in user may list them.
func Orgs(s *store.Store, actor *domain.User, kind domain.OrgKind) ([]*domain.Org, error) {
	if err := domain.Authorize(actor, domain.ActViewTimetable, domain.TargetNational()); err != nil {
		return nil, err
	}
	var out []*domain.Org
	err := s.View(func(tx *store.Tx) error {
		var err error
		out, err = tx.Orgs(kind)
		return err
	})
	return out, err
}

// mayManageUser: the actor must hold User Administration over every
// organisation the user has a grant for (a user with no grants yet needs
// national User Administration).
func mayManageUser(tx *store.Tx, actor *domain.User, u *domain.User) error {
	orgs := u.Orgs()
	if len(orgs) == 0 {
		return domain.Authorize(actor, domain.ActManageUsers, domain.TargetNational())
	}
	for _, code := range orgs {
		if err := authorizeOrg(tx, actor, domain.ActManageUsers, code); err != nil {
			return err
		}
	}
	return nil
}

// AddUser creates a user, optionally with grants and keys.
func AddUser(s *store.Store, actor *domain.User, u *domain.User) error {
	return s.Update(actor, func(tx *store.Tx) error {
		if err := mayManageUser(tx, actor, u); err != nil {
			return err
		}
		u.Version = 0
		return tx.PutUser(u)
	})
}

// Grant gives a user roles (or a whole bundle of roles) for an organisation.
func Grant(s *store.Store, actor *domain.User, name, org string, roles []domain.Role) error {
	return changeGrants(s, actor, name, org, roles, (*domain.User).AddGrant)
}

// Revoke removes roles a user holds for an organisation.
func Revoke(s *store.Store, actor *domain.User, name, org string, roles []domain.Role) error {
	return changeGrants(s, actor, name, org, roles, (*domain.User).RemoveGrant)
}

// changeGrants applies change to each of the user's grants of roles for
// org, as one audited action by someone who administers org's users.
func changeGrants(s *store.Store, actor *domain.User, name, org string, roles []domain.Role, change func(*domain.User, domain.Grant) error) error {
	return s.Update(actor, func(tx *store.Tx) error {
		o, err := tx.Org(org)
		if err != nil {
			return err
		}
		if err := domain.Authorize(actor, domain.ActManageUsers, domain.TargetOf(o)); err != nil {
			return err
		}
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		for _, r := range roles {
			if err := change(u, domain.Grant{Org: o.Code, OrgKind: o.Kind, Role: r}); err != nil {
				return fmt.Errorf("user %s: %w", name, err)
			}
		}
		return tx.PutUser(u)
	})
}

// AddKey adds an SSH public key to a user.
func AddKey(s *store.Store, actor *domain.User, name string, k domain.PublicKey) error {
	return changeUser(s, actor, name, func(u *domain.User) error {
		for _, have := range u.Keys {
			if have.Fingerprint == k.Fingerprint {
				return fmt.Errorf("user %s already has key %s", name, k.Fingerprint)
			}
		}
		u.Keys = append(u.Keys, k)
		return nil
	})
}

// RemoveKey removes a key by fingerprint.
func RemoveKey(s *store.Store, actor *domain.User, name, fingerprint string) error {
	return changeUser(s, actor, name, func(u *domain.User) error {
		for i, have := range u.Keys {
			if have.Fingerprint == fingerprint {
				u.Keys = append(u.Keys[:i], u.Keys[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("user %s has no key %s", name, fingerprint)
	})
}

// SetDisabled disables or re-enables a user (their sessions end at once:
// the server re-reads users when one changes).
func SetDisabled(s *store.Store, actor *domain.User, name string, disabled bool) error {
	return changeUser(s, actor, name, func(u *domain.User) error {
		if u.Name == actor.Name && disabled {
			return errors.New("you cannot disable your own account")
		}
		u.Disabled = disabled
		return nil
	})
}

// changeUser lets change edit a user the actor administers and stores it,
// as one audited action.
func changeUser(s *store.Store, actor *domain.User, name string, change func(*domain.User) error) error {
	return s.Update(actor, func(tx *store.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		if err := mayManageUser(tx, actor, u); err != nil {
			return err
		}
		if err := change(u); err != nil {
			return err
		}
		return tx.PutUser(u)
	})
}

// Users lists the users the actor may see: those holding a grant for an
// organisation the actor may view users of.
func Users(s *store.Store, actor *domain.User) ([]*domain.User, error) {
	var out []*domain.User
	err := s.View(func(tx *store.Tx) error {
		all, err := tx.Users()
		if err != nil {
			return err
		}
		nationalView := domain.Can(actor, domain.ActViewUsers, domain.TargetNational())
		for _, u := range all {
			visible := nationalView
			for _, code := range u.Orgs() {
				if visible {
					break
				}
				visible = authorizeOrg(tx, actor, domain.ActViewUsers, code) == nil
			}
			if visible {
				out = append(out, u)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Actor loads a user by name as the principal for an action, refusing a
// disabled account.
func Actor(s *store.Store, name string) (*domain.User, error) {
	var u *domain.User
	err := s.View(func(tx *store.Tx) error {
		var err error
		u, err = tx.User(name)
		return err
	})
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, fmt.Errorf("user %s is disabled", name)
	}
	return u, nil
}

// authorizeOrg runs the policy for an action on an organisation by code.
func authorizeOrg(tx *store.Tx, actor *domain.User, a domain.Action, code string) error {
	t, err := tx.TargetFor(code)
	if err != nil {
		return err
	}
	return domain.Authorize(actor, a, t)
}

// Backup streams a consistent copy of the live data file to w (the server
// keeps serving; bbolt's read transaction sees one snapshot), then records
// who took it.
func Backup(s *store.Store, actor *domain.User, w io.Writer) (int64, error) {
	if err := domain.Authorize(actor, domain.ActBackup, domain.TargetNational()); err != nil {
		return 0, err
	}
	n, err := s.Backup(w)
	if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, s.Update(actor, func(tx *store.Tx) error {
		return tx.Audit("store.backup", "data file", domain.NationalCode, "", fmt.Sprintf("%d bytes streamed", n))
	})
}
