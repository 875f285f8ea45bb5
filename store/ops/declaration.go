package ops

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // deadlines are English civil dates wherever gpc runs

	"gpcollections/domain"
	"gpcollections/store"
)

// london is the time zone every deadline is read in: a deadline date ends
// at midnight in England, whatever the server's zone.
var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic("time/tzdata is linked in, so Europe/London must load: " + err.Error())
	}
	return loc
}()

// LondonDate is the civil date of t in England.
func LondonDate(t time.Time) domain.Date { return domain.DateFromTime(t.In(london)) }

var (
	// ErrDeadline refuses an action after its deadline.
	ErrDeadline = errors.New("past the deadline")
	// ErrStale refuses a declaration (or approval) of figures that are no
	// longer the current ones.
	ErrStale = errors.New("stale declaration")
)

// DeadlineError says which deadline passed, and when.
type DeadlineError struct {
	Which      string // "declaration" or "approval"
	Collection string
	Deadline   domain.Date
	Today      domain.Date
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("%s: %v: the %s deadline was %s (today is %s in England); a national administrator can extend it",
		e.Collection, ErrDeadline, e.Which, e.Deadline, e.Today)
}

func (e *DeadlineError) Unwrap() error { return ErrDeadline }

// StaleError refuses a decision taken on figures that have changed since
// the person saw them.
type StaleError struct {
	Collection string
	Practice   string
	Reason     string // why the figures changed, when known
}

func (e *StaleError) Error() string {
	s := fmt.Sprintf("%s, %s: %v: the figures changed since you looked", e.Collection, e.Practice, ErrStale)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s + "; review the current values and try again"
}

func (e *StaleError) Unwrap() error { return ErrStale }

// Deadline names for ExtendDeadline.
const (
	DeadlineDeclaration = "declaration"
	DeadlineApproval    = "approval"
)

func checkDeadline(tx *store.Tx, c *domain.Collection, which string) error {
	dl := c.DeclarationDeadline
	if which == DeadlineApproval {
		dl = c.ApprovalDeadline
	}
	today := LondonDate(tx.Now())
	if today > dl {
		return &DeadlineError{Which: which, Collection: c.Label(), Deadline: dl, Today: today}
	}
	return nil
}

// ExtendDeadline moves a collection's declaration or approval deadline
// later. The reason is required and the change audited with before and after.
func ExtendDeadline(s *store.Store, actor *domain.User, collID uint64, which string, newDate domain.Date, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("extending a deadline needs a reason")
	}
	return s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActExtendDeadline, domain.TargetNational()); err != nil {
			return err
		}
		c, err := tx.Collection(collID)
		if err != nil {
			return err
		}
		var field *domain.Date
		switch which {
		case DeadlineDeclaration:
			field = &c.DeclarationDeadline
			if newDate > c.ApprovalDeadline {
				return fmt.Errorf("%s: the declaration deadline cannot move past the approval deadline %s; extend the approval deadline first", c.Label(), c.ApprovalDeadline)
			}
		case DeadlineApproval:
			field = &c.ApprovalDeadline
			if newDate > c.PaymentDate {
				return fmt.Errorf("%s: the approval deadline cannot move past the payment date %s", c.Label(), c.PaymentDate)
			}
		default:
			return fmt.Errorf("deadline %q: want %s or %s", which, DeadlineDeclaration, DeadlineApproval)
		}
		if !newDate.Valid() || newDate <= *field {
			return fmt.Errorf("%s: the new %s deadline %s is not after the current one, %s; an extension moves it later", c.Label(), which, newDate, *field)
		}
		before := fmt.Sprintf("%s deadline %s", which, *field)
		*field = newDate
		if err := tx.PutCollection(c); err != nil {
			return err
		}
		return tx.Audit("collection.extend-deadline", "collection "+c.Label(), domain.NationalCode, before,
			fmt.Sprintf("%s deadline %s: %s", which, newDate, reason))
	})
}

// loadDecision reads what every declaration decision needs and checks the
// parts common to all: the actor may take action a on the practice, the
// practice takes part, the deadline has not passed, a declaration exists.
func loadDecision(tx *store.Tx, actor *domain.User, a domain.Action, collID uint64, practice, deadline string) (*domain.Collection, *domain.Declaration, error) {
	c, err := tx.Collection(collID)
	if err != nil {
		return nil, nil, err
	}
	if err := authorizeOrg(tx, actor, a, practice); err != nil {
		return nil, nil, err
	}
	if err := requireParticipating(tx, c.Service, practice); err != nil {
		return nil, nil, err
	}
	if err := checkDeadline(tx, c, deadline); err != nil {
		return nil, nil, err
	}
	d, err := tx.Declaration(collID, practice)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("%s, %s: nothing to decide: no achievement has been calculated yet: %w", c.Label(), practice, store.ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	return c, d, nil
}

// Declare declares a practice's achievement exactly as the person saw it:
// seenHash is the InputsHash the screen showed. If the figures have changed
// since, it is refused as a stale declaration (and, if the stored
// declaration lagged behind its inputs, it is brought up to date first, so
// the screen shows the new figures and why). The declared snapshot (values,
// points, amount) is kept. Services with "No Approval Required" go straight
// to approved.
func Declare(s *store.Store, actor *domain.User, collID uint64, practice, seenHash string) error {
	var stale error
	err := s.Update(actor, func(tx *store.Tx) error {
		stale = nil
		c, d, err := loadDecision(tx, actor, domain.ActDeclare, collID, practice, DeadlineDeclaration)
		if err != nil {
			return err
		}
		sc, err := loadService(tx, c.Service)
		if err != nil {
			return err
		}
		f, err := figures(tx, c, sc, practice)
		if err != nil {
			return err
		}
		if f.Hash != d.InputsHash && !isLocked(d.State) {
			// The stored figures lag behind the inputs: recalculate now and
			// keep that, but the person saw the old figures.
			if _, err := recalculate(tx, c, sc, practice, "recalculated when a declaration was attempted"); err != nil {
				return err
			}
			d, _ = tx.Declaration(collID, practice)
			stale = &StaleError{Collection: c.Label(), Practice: practice, Reason: d.Reason}
			return nil
		}
		if seenHash != d.InputsHash {
			return &StaleError{Collection: c.Label(), Practice: practice, Reason: d.Reason}
		}
		next, err := domain.DeclarationMachine.Fire(d.State, domain.EvDeclare)
		if err != nil {
			return fmt.Errorf("%s, %s: %w", c.Label(), practice, err)
		}
		before := declSummary(d)
		d.History = append(d.History, domain.Change{At: tx.Now(), By: actor.Name, Event: domain.EvDeclare, From: d.State, To: next})
		d.State, d.Reason = next, ""
		d.Declared, d.DeclaredHash = append([]domain.FieldValue(nil), f.Values...), f.Hash
		if err := autoSteps(sc.svc, d, f, tx.Now()); err != nil {
			return err
		}
		if err := tx.PutDeclaration(d); err != nil {
			return err
		}
		return tx.Audit("declaration.declare", declTarget(d), practice, before, declSummary(d)+"; values "+valuesText(d.Declared))
	})
	if err != nil {
		return err
	}
	return stale
}

// DeclRef names a declaration for a decision. Seen, when not empty, is the
// DeclaredHash the approver saw; a declaration declared again since (with
// other figures) is then refused as stale.
type DeclRef struct {
	Collection uint64 `json:"collection"`
	Practice   string `json:"practice"`
	Seen       string `json:"seen,omitempty"`
}

func (r DeclRef) String() string { return fmt.Sprintf("%d/%s", r.Collection, r.Practice) }

type decision struct {
	action   domain.Action
	ev       domain.Event
	verb     string
	reason   string
	deadline string
	// current: the decision must rest on the figures the stored inputs
	// give now (an approval); a declaration lagging behind them is brought
	// up to date, which sends it back to the practice, and refused as stale.
	current bool
}

var (
	approveDecision = decision{action: domain.ActApprove, ev: domain.EvApprove, verb: "approve", deadline: DeadlineApproval, current: true}
	financeDecision = decision{action: domain.ActFinanceApprove, ev: domain.EvFinanceApprove, verb: "finance-approve", deadline: DeadlineApproval, current: true}
)

func returnDecision(reason string) decision {
	return decision{action: domain.ActReturn, ev: domain.EvReturn, verb: "return", reason: reason, deadline: DeadlineApproval}
}

// refusal marks an error that refuses one decision without failing a bulk
// transaction. Nothing was written for it, unless keep: then the
// declaration was brought up to date with its inputs, which must commit.
type refusal struct {
	error
	keep bool
}

func (r refusal) Unwrap() error { return r.error }

// decide checks and applies one decision in tx. A refusal comes back wrapped
// in refusal; any other error means the transaction must fail.
func decide(tx *store.Tx, actor *domain.User, ref DeclRef, dc decision) (domain.State, error) {
	c, d, err := loadDecision(tx, actor, dc.action, ref.Collection, ref.Practice, dc.deadline)
	if err != nil {
		return "", refusal{error: err}
	}
	if ref.Seen != "" && ref.Seen != d.DeclaredHash {
		return d.State, refusal{error: &StaleError{Collection: c.Label(), Practice: ref.Practice, Reason: d.Reason}}
	}
	if dc.current && !isLocked(d.State) {
		sc, err := loadService(tx, c.Service)
		if err != nil {
			return d.State, refusal{error: err}
		}
		f, err := figures(tx, c, sc, ref.Practice)
		if err != nil {
			return d.State, refusal{error: err}
		}
		if f.Hash != d.InputsHash {
			if _, err := recalculate(tx, c, sc, ref.Practice, "recalculated when a "+dc.verb+" was attempted"); err != nil {
				return "", err
			}
			if d, err = tx.Declaration(ref.Collection, ref.Practice); err != nil {
				return "", err
			}
			return d.State, refusal{error: &StaleError{Collection: c.Label(), Practice: ref.Practice, Reason: d.Reason}, keep: true}
		}
	}
	next, err := domain.DeclarationMachine.Fire(d.State, dc.ev)
	if err != nil {
		return d.State, refusal{error: fmt.Errorf("%s, %s: %w", c.Label(), ref.Practice, err)}
	}
	before := declSummary(d)
	d.History = append(d.History, domain.Change{At: tx.Now(), By: actor.Name, Event: dc.ev, From: d.State, To: next, Reason: dc.reason})
	d.State = next
	if dc.ev == domain.EvReturn {
		d.Reason = dc.reason
	}
	if err := tx.PutDeclaration(d); err != nil {
		return "", err
	}
	after := declSummary(d)
	if dc.reason != "" {
		after += "; reason: " + dc.reason
	}
	return next, tx.Audit("declaration."+dc.verb, declTarget(d), ref.Practice, before, after)
}

func decideOne(s *store.Store, actor *domain.User, ref DeclRef, dc decision) error {
	var kept error
	err := s.Update(actor, func(tx *store.Tx) error {
		kept = nil
		_, err := decide(tx, actor, ref, dc)
		var r refusal
		if errors.As(err, &r) {
			if r.keep {
				kept = r.error
				return nil
			}
			return r.error
		}
		return err
	})
	if err != nil {
		return err
	}
	return kept
}

// Approve approves a declared declaration for the practice's commissioner.
// seenHash ("" to skip the check) is the DeclaredHash the approver saw.
func Approve(s *store.Store, actor *domain.User, collID uint64, practice, seenHash string) error {
	return decideOne(s, actor, DeclRef{collID, practice, seenHash}, approveDecision)
}

// Return sends a declared or approved declaration back to the practice with
// a reason, which the practice sees.
func Return(s *store.Store, actor *domain.User, collID uint64, practice, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("returning a declaration needs a reason; the practice sees it")
	}
	return decideOne(s, actor, DeclRef{Collection: collID, Practice: practice}, returnDecision(reason))
}

// FinanceApprove gives the financial approval after which nothing changes.
func FinanceApprove(s *store.Store, actor *domain.User, collID uint64, practice, seenHash string) error {
	return decideOne(s, actor, DeclRef{collID, practice, seenHash}, financeDecision)
}

// BulkResult is one item's outcome in a bulk decision.
type BulkResult struct {
	Ref   DeclRef      `json:"ref"`
	State domain.State `json:"state,omitempty"`
	Err   error        `json:"-"`
	Error string       `json:"error,omitempty"`
}

// Bulk decisions run in ONE transaction: each item is checked on its own
// and either applied or refused with its reason (a refusal writes nothing
// for that item, except bringing a lagging declaration up to date, and
// does not stop the others); the applied items commit
// together at one instant, with one fsync, and nobody sees half a bulk
// approval. Only a storage failure fails the whole call.
func bulk(s *store.Store, actor *domain.User, refs []DeclRef, dc decision) ([]BulkResult, error) {
	var out []BulkResult
	err := s.Update(actor, func(tx *store.Tx) error {
		out = make([]BulkResult, 0, len(refs))
		for _, ref := range refs {
			st, err := decide(tx, actor, ref, dc)
			var r refusal
			switch {
			case errors.As(err, &r):
				out = append(out, BulkResult{Ref: ref, State: st, Err: r.error, Error: r.error.Error()})
			case err != nil:
				return err
			default:
				out = append(out, BulkResult{Ref: ref, State: st})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ApproveMany approves many declarations; see bulk for the transaction.
func ApproveMany(s *store.Store, actor *domain.User, refs []DeclRef) ([]BulkResult, error) {
	return bulk(s, actor, refs, approveDecision)
}

// ReturnMany returns many declarations with one reason.
func ReturnMany(s *store.Store, actor *domain.User, refs []DeclRef, reason string) ([]BulkResult, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, errors.New("returning declarations needs a reason; the practices see it")
	}
	return bulk(s, actor, refs, returnDecision(reason))
}

// FinanceApproveMany financially approves many declarations.
func FinanceApproveMany(s *store.Store, actor *domain.User, refs []DeclRef) ([]BulkResult, error) {
	return bulk(s, actor, refs, financeDecision)
}

// QueueFilter narrows the approval queue. Zero fields match everything;
// with no State the queue holds what awaits the actor: declared
// declarations for an approver, approved ones for finance.
type QueueFilter struct {
	State      domain.State
	Service    string
	Collection uint64
	Practice   string
}

// QueueItem is one declaration in a queue, with what the approver needs to
// decide. Amount is zero and MoneyShown false without Finance View.
type QueueItem struct {
	Ref          DeclRef      `json:"ref"`
	Service      string       `json:"service"`
	AchDate      domain.Date  `json:"achDate"`
	Label        string       `json:"label"`
	PracticeName string       `json:"practiceName"`
	State        domain.State `json:"state"`
	Status       string       `json:"status"`
	Points       string       `json:"points"`
	Amount       domain.Pence `json:"amount"`
	MoneyShown   bool         `json:"moneyShown"`
	Reason       string       `json:"reason,omitempty"`
	DeclaredBy   string       `json:"declaredBy,omitempty"`
	DeclaredAt   time.Time    `json:"declaredAt,omitempty"`
	Deadline     domain.Date  `json:"approvalDeadline"`
}

// Queue lists declarations for approvers, scoped by the policy: a
// commissioner sees only its practices. Items come oldest declaration first.
func Queue(s *store.Store, actor *domain.User, f QueueFilter) ([]QueueItem, error) {
	var out []QueueItem
	err := s.View(func(tx *store.Tx) error {
		type want struct {
			state domain.State
			act   domain.Action // the action that must be allowed on the practice
		}
		var wants []want
		if f.State != "" {
			wants = []want{{f.State, domain.ActViewValues}}
		} else {
			wants = []want{{domain.DeclDeclared, domain.ActApprove}, {domain.DeclApproved, domain.ActFinanceApprove}}
		}
		sc := newScope(tx, actor)
		colls := map[uint64]*domain.Collection{}
		names := map[string]string{}
		for _, w := range wants {
			ds, err := tx.DeclarationsIn(w.state)
			if err != nil {
				return err
			}
			for _, d := range ds {
				if (f.Collection != 0 && d.Collection != f.Collection) || (f.Service != "" && d.Service != f.Service) || (f.Practice != "" && d.Practice != f.Practice) {
					continue
				}
				if ok, err := sc.can(w.act, d.Practice); err != nil {
					return err
				} else if !ok {
					continue
				}
				c := colls[d.Collection]
				if c == nil {
					if c, err = tx.Collection(d.Collection); err != nil {
						return err
					}
					colls[d.Collection] = c
				}
				if _, ok := names[d.Practice]; !ok {
					o, err := tx.Org(d.Practice)
					if err != nil {
						return err
					}
					names[d.Practice] = o.Name
				}
				money, err := sc.can(domain.ActViewMoney, d.Practice)
				if err != nil {
					return err
				}
				it := QueueItem{Ref: DeclRef{Collection: d.Collection, Practice: d.Practice, Seen: d.DeclaredHash},
					Service: d.Service, AchDate: c.AchDate, Label: c.Label(), PracticeName: names[d.Practice],
					State: d.State, Status: domain.DeclarationTitle(d.State), Points: d.Points, Reason: d.Reason,
					Deadline: c.ApprovalDeadline, MoneyShown: money}
				if money {
					it.Amount = d.Amount
				}
				if ch, ok := lastChange(d, domain.EvDeclare); ok {
					it.DeclaredBy, it.DeclaredAt = ch.By, ch.At
				}
				out = append(out, it)
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].DeclaredAt.Equal(out[j].DeclaredAt) {
			return out[i].DeclaredAt.Before(out[j].DeclaredAt)
		}
		return out[i].Ref.String() < out[j].Ref.String()
	})
	return out, err
}

func lastChange(d *domain.Declaration, ev domain.Event) (domain.Change, bool) {
	for i := len(d.History) - 1; i >= 0; i-- {
		if d.History[i].Event == ev {
			return d.History[i], true
		}
	}
	return domain.Change{}, false
}

// DeclarationView is a declaration with the calculation behind it, as the
// practice and its commissioner see it. Money (Amount, Result pence) is
// zeroed and MoneyShown false for a viewer without Finance View.
type DeclarationView struct {
	Collection   *domain.Collection  `json:"collection"`
	PracticeName string              `json:"practiceName"`
	Declaration  *domain.Declaration `json:"declaration"`
	Status       string              `json:"status"`
	// Figures are the current calculation; nil for a locked declaration
	// whose inputs have since changed (it stands as approved).
	Figures    *Figures `json:"-"`
	MoneyShown bool     `json:"moneyShown"`
}

// DeclaredFigures are the calculation of what was declared, per indicator:
// the current figures when their fingerprint is the declared one (a
// declaration whose inputs change is sent back, so this holds while it is
// declared or approved). ok is false when nothing was declared yet, or
// when the figures of a locked declaration have moved on since (it stands
// as approved, and only its totals were kept).
func (v *DeclarationView) DeclaredFigures() (f *Figures, ok bool) {
	if v.Figures == nil || v.Declaration.DeclaredHash == "" || v.Figures.Hash != v.Declaration.DeclaredHash {
		return nil, false
	}
	return v.Figures, true
}

// ViewDeclaration reads a practice's declaration for a collection with its
// current figures.
func ViewDeclaration(s *store.Store, actor *domain.User, collID uint64, practice string) (*DeclarationView, error) {
	var v DeclarationView
	err := s.View(func(tx *store.Tx) error {
		if err := authorizeOrg(tx, actor, domain.ActViewValues, practice); err != nil {
			return err
		}
		c, err := tx.Collection(collID)
		if err != nil {
			return err
		}
		o, err := tx.Org(practice)
		if err != nil {
			return err
		}
		d, err := tx.Declaration(collID, practice)
		if err != nil {
			return err
		}
		f, err := CurrentFigures(tx, c, practice)
		if err != nil {
			return err
		}
		if !isLocked(d.State) || f.Hash == d.InputsHash {
			v.Figures = f
		}
		v.Collection, v.PracticeName, v.Declaration, v.Status = c, o.Name, d, domain.DeclarationTitle(d.State)
		v.MoneyShown = domain.Can(actor, domain.ActViewMoney, domain.TargetOf(o))
		if !v.MoneyShown {
			d.Amount = 0
			if v.Figures != nil {
				hideMoney(v.Figures)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func hideMoney(f *Figures) {
	f.Result.Pence = 0
	inds := append(f.Result.Indicators[:0:0], f.Result.Indicators...)
	for i := range inds {
		inds[i].Pence = 0
		inds[i].Fee = 0
	}
	f.Result.Indicators = inds
}

func valuesText(v []domain.FieldValue) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%s %s=%d", x.Indicator, x.Field, x.Value)
	}
	return strings.Join(parts, ", ")
}
