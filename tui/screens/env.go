// Package screens holds the terminal screens of gpc: home, timetable,
// service information, achievement review, manual entry, declaration, the
// approval queue, the extract monitor, the audit log and administration.
// Every screen reads through store/ops (or store reads guarded by the one
// policy, domain.Can) as the signed-in user, shows only what the policy
// allows, and acts only through store/ops, which authorize again: hiding a
// key is a courtesy, never the security.
package screens

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
)

// Env is what every screen of one session shares: the session, the
// signed-in user as last read, the session's styles, and a cache of
// authorization targets.
type Env struct {
	Ctx  session.Context
	User *domain.User
	St   *styles.Styles
	// PrevVisit is when this user's previous session began (zero on a
	// first visit): home lists what changed since.
	PrevVisit time.Time
	// VisitKnown is true once the visit has been recorded.
	VisitKnown bool

	targets map[string]domain.Target
	ids     int
	// services caches the service definitions (read-only; they change
	// rarely, and a "service" change clears the cache).
	services []*domain.ServiceDef
}

// NewEnv makes the shared environment of one session.
func NewEnv(ctx session.Context) *Env {
	return &Env{Ctx: ctx, User: ctx.User, St: styles.New(ctx.Renderer), targets: map[string]domain.Target{}}
}

// Store is the session's store.
func (e *Env) Store() *store.Store { return e.Ctx.Store }

// Now is the session's clock.
func (e *Env) Now() time.Time { return e.Ctx.Now() }

// Today is the civil date in England now; deadlines are English dates.
func (e *Env) Today() domain.Date { return ops.LondonDate(e.Now()) }

// SetUser replaces the signed-in user after an administrator changed it.
func (e *Env) SetUser(u *domain.User) {
	e.User = u
	e.Forget()
}

// Forget drops cached authorization targets (an organisation changed).
func (e *Env) Forget() { e.targets = map[string]domain.Target{} }

// Services lists the service definitions, read once until ForgetServices.
// The definitions are shared: never modify them.
func (e *Env) Services() ([]*domain.ServiceDef, error) {
	if e.services != nil {
		return e.services, nil
	}
	err := e.Store().View(func(tx *store.Tx) error {
		var err error
		e.services, err = tx.Services()
		return err
	})
	return e.services, err
}

// Service finds one service definition.
func (e *Env) Service(id string) (*domain.ServiceDef, error) {
	svcs, err := e.Services()
	if err != nil {
		return nil, err
	}
	for _, s := range svcs {
		if s.ID == id {
			return s, nil
		}
	}
	return nil, fmt.Errorf("service %s: %w", id, store.ErrNotFound)
}

// ForgetServices drops the cached definitions after a service changed.
func (e *Env) ForgetServices() { e.services = nil }

// newID numbers screens so results of their actions come back to them.
func (e *Env) newID() int {
	e.ids++
	return e.ids
}

// Target is an organisation's authorization target, read once. It opens a
// read transaction: never call it inside another.
func (e *Env) Target(code string) (domain.Target, error) {
	if t, ok := e.targets[code]; ok {
		return t, nil
	}
	var t domain.Target
	err := e.Store().View(func(tx *store.Tx) error {
		var err error
		t, err = tx.TargetFor(code)
		return err
	})
	if err != nil {
		return domain.Target{}, err
	}
	e.targets[code] = t
	return t, nil
}

// Why is the policy's answer for action a on organisation code: nil when
// allowed, the refusal (saying why) otherwise.
func (e *Env) Why(a domain.Action, code string) error {
	var t domain.Target
	if code == domain.NationalCode {
		t = domain.TargetNational()
	} else {
		var err error
		if t, err = e.Target(code); err != nil {
			return err
		}
	}
	return domain.Authorize(e.User, a, t)
}

// Can reports whether the user may take action a on organisation code.
func (e *Env) Can(a domain.Action, code string) bool { return e.Why(a, code) == nil }

// CanAny reports whether the user may take action a on at least one of the
// organisations they hold roles for (for a commissioner that covers its
// practices; nationally, everything). Screens use it to decide whether to
// offer a screen or a key at all.
func (e *Env) CanAny(a domain.Action) bool {
	if domain.Can(e.User, a, domain.TargetNational()) {
		return true
	}
	for _, code := range e.User.Orgs() {
		if e.Can(a, code) {
			return true
		}
	}
	return false
}

// WhyNot is the refusal for an action the user may take nowhere, naming the
// roles it needs; nil if they may take it somewhere.
func (e *Env) WhyNot(a domain.Action) error {
	if e.CanAny(a) {
		return nil
	}
	orgs := e.User.Orgs()
	if len(orgs) == 0 {
		return domain.Authorize(e.User, a, domain.TargetNational())
	}
	return e.Why(a, orgs[0])
}

// Practices lists the practices the user may take action a on, by code.
func (e *Env) Practices(a domain.Action) ([]*domain.Org, error) {
	var out []*domain.Org
	err := e.Store().View(func(tx *store.Tx) error {
		ps, err := tx.Orgs(domain.OrgPractice)
		if err != nil {
			return err
		}
		for _, p := range ps {
			t := domain.TargetOf(p)
			e.targets[p.Code] = t
			if domain.Can(e.User, a, t) {
				out = append(out, p)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, err
}

// AnyPractice reports whether the user may take action a on at least one
// practice (a requester's View, say, reaches no practice's values).
func (e *Env) AnyPractice(a domain.Action) bool {
	if !e.CanAny(a) {
		return false
	}
	ps, err := e.Practices(a)
	return err == nil && len(ps) > 0
}

// AuditScope is the AuditFilter.Orgs the user may read: nil for everything
// (View nationally), otherwise the organisations they may view the audit of,
// with a commissioner's practices. ok is false when they may read none.
func (e *Env) AuditScope() (orgs []string, ok bool, err error) {
	if domain.Can(e.User, domain.ActViewAudit, domain.TargetNational()) {
		return nil, true, nil
	}
	seen := map[string]bool{}
	err = e.Store().View(func(tx *store.Tx) error {
		for _, code := range e.User.Orgs() {
			t, err := tx.TargetFor(code)
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				return err
			}
			if !domain.Can(e.User, domain.ActViewAudit, t) {
				continue
			}
			seen[code] = true
			if t.Kind == domain.OrgCommissioner {
				ps, err := tx.PracticesOf(code)
				if err != nil {
					return err
				}
				for _, p := range ps {
					seen[p] = true
				}
			}
		}
		return nil
	})
	for c := range seen {
		orgs = append(orgs, c)
	}
	sort.Strings(orgs)
	return orgs, len(orgs) > 0, err
}

// Labels maps collection ids to their labels ("QOF2526 2026-03-31"), so
// audit targets like "declaration 12/A81001" can be shown readably.
func (e *Env) Labels() map[uint64]string {
	out := map[uint64]string{}
	_ = e.Store().View(func(tx *store.Tx) error {
		cs, err := tx.Collections("")
		for _, c := range cs {
			out[c.ID] = c.Label()
		}
		return err
	})
	return out
}

// TargetText rewrites an audit target's collection id as its label:
// "declaration 12/A81001" becomes "declaration QOF2526 2026-03-31/A81001".
func TargetText(target string, labels map[uint64]string) string {
	kind, rest, ok := strings.Cut(target, " ")
	if !ok {
		return target
	}
	idText, practice, ok := strings.Cut(rest, "/")
	if !ok {
		return target
	}
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil || labels[id] == "" {
		return target
	}
	return kind + " " + labels[id] + "/" + practice
}

// auditedKinds are the store changes that come with audit entries (a job's
// progress is stored but not audited; scheduler events are neither).
var auditedKinds = []string{"declaration", "result", "collection", "manual", "participation", "service",
	"check", "source", "payment-run", "aspiration"}

// Done carries the outcome of an action a screen started, back to it.
type Done struct {
	Screen int
	Tag    string
	// Text says what happened when it worked.
	Text string
	Err  error
	Data any
}

// Run performs fn off the update loop (a write waits for the disk) and
// brings its outcome back as a Done for screen id.
func (e *Env) Run(id int, tag string, fn func() (string, any, error)) tea.Cmd {
	return func() tea.Msg {
		text, data, err := fn()
		return Done{Screen: id, Tag: tag, Text: text, Err: err, Data: data}
	}
}

// Goto asks the root to show a screen focused on a collection and practice
// (from a task on the home screen).
type Goto struct {
	Screen     string
	Collection uint64
	Practice   string
}

// Note is a one-line status a screen shows under its body.
type Note struct {
	Text string
	Tone styles.Tone
}

// Refusal words an error for the person who caused it: the policy's and
// the workflow's refusals already say what and why.
func Refusal(err error) Note {
	var (
		denied *domain.Denied
		trans  *domain.TransitionError
		stale  *ops.StaleError
		dead   *ops.DeadlineError
		locked *ops.LockedError
		merrs  ops.ManualErrors
	)
	switch {
	case errors.As(err, &denied), errors.As(err, &trans), errors.As(err, &stale),
		errors.As(err, &dead), errors.As(err, &locked), errors.As(err, &merrs),
		errors.Is(err, store.ErrConflict), errors.Is(err, session.ErrSignedOut):
		return Note{Text: "refused: " + err.Error(), Tone: styles.Bad}
	}
	return Note{Text: "error: " + err.Error(), Tone: styles.Bad}
}
