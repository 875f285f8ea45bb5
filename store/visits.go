package store

import (
	"errors"
	"fmt"
	"time"

	"gpcollections/domain"
)

// Visit is a user's sign-in bookkeeping: when their current (Last) and
// previous session began, so the home screen can list what changed since
// the previous one. It is kept apart from the user record so that signing in
// never conflicts with an administrator editing the user.
type Visit struct {
	domain.Rev
	User     string    `json:"user"`
	Last     time.Time `json:"last"`
	Previous time.Time `json:"previous,omitempty"`
}

// Visit reads a user's visit record; ErrNotFound before their first visit.
func (tx *Tx) Visit(user string) (*Visit, error) {
	var v Visit
	if err := getJSON(tx.tx, bVisits, []byte(user), &v); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("visit of %s: %w", user, ErrNotFound)
		}
		return nil, err
	}
	return &v, nil
}

// PutVisit writes a visit record at the version read (0 creates). It
// publishes no change: a visit alters nothing anyone else is shown.
func (tx *Tx) PutVisit(v *Visit) error {
	if v.User == "" {
		return errors.New("visit without a user")
	}
	return putJSON(tx.tx, bVisits, []byte(v.User), v)
}
