// Package session is the contract between the SSH server (or the local
// terminal runner) and the screens: what a screen is given when a person
// signs in, and the messages the server sends it while it runs. It holds no
// behaviour of its own, so both sides can import it without importing each
// other.
package session

import (
	"context"
	"errors"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/scheduler"
)

// Context is everything a screen needs for one signed-in person. The SSH
// server builds one per session; `gpc tui` builds one for the local
// terminal. Screens must read and write only through it (ops functions with
// User as the actor), and build every style from Renderer, never from the
// global lipgloss renderer, so that each session gets its own terminal's
// colours.
type Context struct {
	// Store is the open data store. Writes go through store/ops.
	Store *store.Store
	// User is the signed-in user as read when the session began. Screens
	// that outlive a change to the user (grants, disabled) receive a
	// UserChanged message carrying the fresh record.
	User *domain.User
	// KeyFingerprint is the SSH key that actually signed the session in
	// ("" for the local terminal).
	KeyFingerprint string
	// Renderer builds styles for this session's terminal. Its background
	// darkness is decided without asking the terminal (see sshserver).
	Renderer *lipgloss.Renderer
	// Clock is the time source; tests inject a fixed one.
	Clock func() time.Time
	// Width and Height are the terminal size when the session began; a
	// tea.WindowSizeMsg follows with the same figures and on every resize.
	Width, Height int
	// Scheduler controls extraction; nil when no scheduler runs in this
	// process (the local terminal), in which case screens say so instead of
	// offering the controls.
	Scheduler Scheduler
	// Remote names where the session comes from ("127.0.0.1:50123", or
	// "local terminal").
	Remote string
	// ReloadUser re-reads the signed-in user (by the key that signed in, or
	// by name locally). It fails with ErrSignedOut when the user or key was
	// removed or the account disabled.
	ReloadUser func() (*domain.User, error)
}

// Now is the context's clock, defaulting to time.Now.
func (c Context) Now() time.Time {
	if c.Clock == nil {
		return time.Now()
	}
	return c.Clock()
}

// Factory makes the root screen model for a signed-in person.
type Factory func(Context) tea.Model

// ErrSignedOut means the session's user may no longer be signed in: the
// account was disabled or removed, or the key was removed.
var ErrSignedOut = errors.New("signed out")

// Scheduler is what screens may ask of the extraction scheduler; the
// methods are those of *scheduler.Scheduler (store/scheduler), so the
// server hands that over as it is. Each authorizes actor with the one
// policy and is one audited action. A screen reads progress and status
// from the store (scheduler.ReadStatus works with or without a running
// scheduler) and hears of changes through Invalidate: commits arrive with
// their store kinds ("job", "collection"), and scheduler events that are
// not stored with the kinds KindProgress, KindFault and KindIdle.
type Scheduler interface {
	// RunNow starts a scheduled collection's extraction now.
	RunNow(actor *domain.User, collection uint64) (*domain.Collection, error)
	// Rerun extracts an extracted collection again as a new run.
	Rerun(actor *domain.User, collection uint64, reason string) (*domain.Collection, error)
	// Retry queues one practice's failed extraction again.
	Retry(actor *domain.User, collection uint64, practice, reason string) (*domain.Job, error)
	// Pause holds the scheduler off a collection; Resume lets it go on.
	Pause(actor *domain.User, collection uint64, reason string) (*domain.Collection, error)
	Resume(actor *domain.User, collection uint64, reason string) (*domain.Collection, error)
	// Cancel cancels a collection and its unfinished jobs.
	Cancel(actor *domain.User, collection uint64, reason string) (*domain.Collection, error)
	// Check extracts a practice's current source and compares it with
	// what was collected, replacing nothing.
	Check(ctx context.Context, actor *domain.User, collection uint64, practice string) (*domain.CheckRun, error)
	// Status is the scheduler's state with live progress and recent faults.
	Status() (*scheduler.Status, error)
}

// Change kinds relayed from scheduler events that have no store commit.
const (
	KindProgress = "progress" // patients evaluated so far in a running job
	KindFault    = "fault"    // something an administrator should know
	KindIdle     = "idle"     // nothing running or due now
)
