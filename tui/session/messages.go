package session

import (
	"fmt"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
)

// Invalidate tells a screen that data it may show has changed since it last
// read it. It carries what changed, coalesced: a screen re-reads what it
// shows through its own user's role filter if Touches says so, and ignores
// the rest. The message never carries the data itself, so nothing one user
// may not see travels to another user's session.
type Invalidate struct {
	// Changes are the distinct changes since the last Invalidate (order
	// not significant). When too many accumulate, All is set instead.
	Changes []store.Change
	// All means "assume everything changed".
	All bool
}

// Touches reports whether any change is of one of the given kinds
// ("declaration", "result", "collection", "job", "manual", ...). With no
// kinds it reports whether anything changed at all.
func (m Invalidate) Touches(kinds ...string) bool {
	if m.All {
		return true
	}
	if len(kinds) == 0 {
		return len(m.Changes) > 0
	}
	for _, c := range m.Changes {
		for _, k := range kinds {
			if c.Kind == k {
				return true
			}
		}
	}
	return false
}

// TouchesPractice reports whether a change concerns the practice (or
// concerns no particular practice, which could include it).
func (m Invalidate) TouchesPractice(code string) bool {
	if m.All {
		return true
	}
	for _, c := range m.Changes {
		if c.Practice == "" || c.Practice == code {
			return true
		}
	}
	return false
}

// UserChanged carries the signed-in user's fresh record after an
// administrator changed it (grants, name); screens replace their copy and
// re-read what they show.
type UserChanged struct {
	User *domain.User
}

// Closing tells a screen that the server is about to end the session, and
// why ("server shutting down", "no key press for 15m0s"). The screen may
// show it; the server ends the program shortly after regardless.
type Closing struct {
	Reason string
	// In is how long until the session ends (0: now).
	In time.Duration
}

func (c Closing) String() string {
	if c.In > 0 {
		return fmt.Sprintf("%s: this session ends in %s", c.Reason, c.In.Round(time.Second))
	}
	return c.Reason
}
