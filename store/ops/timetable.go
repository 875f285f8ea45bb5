package ops

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gpcollections/domain"
	"gpcollections/domain/timetable"
	"gpcollections/store"
)

// The timetable: administrators generate a service's collections from its
// definition, add one, reschedule, cancel and reopen them. Dates follow the
// timetable package's moving rule (weekends and England bank holidays), and
// every change is audited with the collection before and after.

// HolidayCalendar supplies the working-day calendar; tests may replace it.
var HolidayCalendar = timetable.England

func collSummary(c *domain.Collection) string {
	s := fmt.Sprintf("%s %s run %d, window %s..%s, declare by %s, approve by %s, pay on %s",
		c.Label(), c.Status, c.Run, c.WindowStart, c.WindowEnd, c.DeclarationDeadline, c.ApprovalDeadline, c.PaymentDate)
	if c.Paused {
		s += ", paused"
	}
	return s
}

func movesText(m []timetable.Move) string {
	s := make([]string, len(m))
	for i, x := range m {
		s[i] = x.String()
	}
	return strings.Join(s, "; ")
}

// Timetable lists collections (of one service, or all when service is ""),
// in window order. Any signed-in user may read the timetable.
func Timetable(s *store.Store, actor *domain.User, service string) ([]*domain.Collection, error) {
	if err := domain.Authorize(actor, domain.ActViewTimetable, domain.TargetNational()); err != nil {
		return nil, err
	}
	var out []*domain.Collection
	err := s.View(func(tx *store.Tx) error {
		var err error
		out, err = tx.Collections(service)
		return err
	})
	SortCollections(out)
	return out, err
}

// StepsDue counts a collection's declarations that still await the steps
// its deadlines govern: ToDeclare await the practice (calculated or
// returned; the declaration deadline), ToApprove await the commissioner's
// approval or the financial approval (declared or approved; the approval
// deadline).
type StepsDue struct {
	ToDeclare int `json:"toDeclare"`
	ToApprove int `json:"toApprove"`
}

// StepsOutstanding counts, per collection id, the declarations the actor
// may see (View) that still await a step, so a passed deadline is called
// overdue only while its step is outstanding. Collections with nothing
// outstanding are absent.
func StepsOutstanding(s *store.Store, actor *domain.User) (map[uint64]StepsDue, error) {
	out := map[uint64]StepsDue{}
	err := s.View(func(tx *store.Tx) error {
		sc := newScope(tx, actor)
		for _, st := range []domain.State{domain.DeclCalculated, domain.DeclReturned, domain.DeclDeclared, domain.DeclApproved} {
			err := tx.EachDeclarationIn(st, func(coll uint64, practice string) error {
				if ok, err := sc.can(domain.ActViewValues, practice); err != nil || !ok {
					return err
				}
				n := out[coll]
				if st == domain.DeclCalculated || st == domain.DeclReturned {
					n.ToDeclare++
				} else {
					n.ToApprove++
				}
				out[coll] = n
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// SortCollections orders collections by window opening, then service and
// achievement date: the order the scheduler meets them in.
func SortCollections(cs []*domain.Collection) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.WindowStart != b.WindowStart {
			return a.WindowStart < b.WindowStart
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.AchDate < b.AchDate
	})
}

// Generated is what GenerateTimetable did.
type Generated struct {
	Added   []*domain.Collection `json:"added"`
	Present []domain.Date        `json:"present"` // achievement dates already on the timetable, left alone
	Moves   []timetable.Move     `json:"moves"`
}

// GenerateTimetable adds every collection of a service's timetable that is
// not on it yet, in one transaction. Collections already present (whatever
// their state or dates) are left as they are, so it is safe to run again.
func GenerateTimetable(s *store.Store, actor *domain.User, service string) (*Generated, error) {
	cal, err := HolidayCalendar()
	if err != nil {
		return nil, err
	}
	out := &Generated{}
	err = s.Update(actor, func(tx *store.Tx) error {
		*out = Generated{}
		if err := domain.Authorize(actor, domain.ActManageTimetable, domain.TargetNational()); err != nil {
			return err
		}
		def, err := tx.Service(service)
		if err != nil {
			return err
		}
		slots, err := timetable.Generate(def, cal)
		if err != nil {
			return err
		}
		for _, sl := range slots {
			if _, err := tx.CollectionFor(def.ID, sl.AchDate); err == nil {
				out.Present = append(out.Present, sl.AchDate)
				continue
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			c := sl.Collection(def.ID)
			if err := tx.AddCollection(c); err != nil {
				return err
			}
			after := collSummary(c)
			if len(sl.Moves) > 0 {
				after += "; " + movesText(sl.Moves)
			}
			if err := tx.Audit("timetable.generate", fmt.Sprintf("collection %d", c.ID), domain.NationalCode, "", after); err != nil {
				return err
			}
			out.Added = append(out.Added, c)
			out.Moves = append(out.Moves, sl.Moves...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DateChange names new dates for a collection; NoDate (the zero value is a
// real date, so use NoDates()) leaves a date as it is.
type DateChange = timetable.Dates

// NoDates is a DateChange that changes nothing.
func NoDates() DateChange {
	return DateChange{Opens: domain.NoDate, Closes: domain.NoDate, DeclareBy: domain.NoDate, ApproveBy: domain.NoDate, PayOn: domain.NoDate}
}

// DateFlags are the optional date overrides of adding or rescheduling a
// collection as typed (YYYY-MM-DD, empty for "leave it"), shared by the
// command line and the SSH commands so both read them the same way.
type DateFlags struct{ Opens, Closes, DeclareBy, ApproveBy, PayOn string }

// Change parses the flags; an error names the flag.
func (f DateFlags) Change() (DateChange, error) {
	ch := NoDates()
	for _, x := range []struct {
		flag, v string
		dst     *domain.Date
	}{{"--opens", f.Opens, &ch.Opens}, {"--closes", f.Closes, &ch.Closes}, {"--declare-by", f.DeclareBy, &ch.DeclareBy},
		{"--approve-by", f.ApproveBy, &ch.ApproveBy}, {"--pay-on", f.PayOn, &ch.PayOn}} {
		if x.v == "" {
			continue
		}
		d, err := domain.ParseDate(x.v)
		if err != nil {
			return ch, fmt.Errorf("%s: %w", x.flag, err)
		}
		*x.dst = d
	}
	return ch, nil
}

// DescribeDates is the one-line summary of a collection's dates that
// adding or rescheduling it reports.
func DescribeDates(c *domain.Collection) string {
	return fmt.Sprintf("%s, window %s..%s, declare by %s, approve by %s, pay on %s",
		c.Label(), c.WindowStart, c.WindowEnd, c.DeclarationDeadline, c.ApprovalDeadline, c.PaymentDate)
}

// DescribeChange is what adding, rescheduling, cancelling or reopening a
// collection reports, as the command line and the SSH commands print it: a
// line naming what was done (done: "added", "rescheduled", ...) with the
// collection's dates (added, rescheduled) or its state, then each move off
// a weekend or bank holiday on a line of its own.
func DescribeChange(done string, c *domain.Collection, moves []timetable.Move) string {
	what := DescribeState(c)
	if done == "added" || done == "rescheduled" {
		what = DescribeDates(c)
	}
	return fmt.Sprintf("%s collection %d: %s\n", done, c.ID, what) + DescribeMoves(moves)
}

// DescribeMoves lists moves off weekends and bank holidays, one indented
// line each.
func DescribeMoves(moves []timetable.Move) string {
	var b strings.Builder
	for _, m := range moves {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	return b.String()
}

// DescribeState is the one-line state of a collection that cancelling or
// reopening it reports.
func DescribeState(c *domain.Collection) string {
	s := fmt.Sprintf("%s is %s", c.Label(), c.Status)
	if c.Run > 0 {
		s += fmt.Sprintf(", run %d", c.Run)
	}
	if c.Paused {
		s += " (paused)"
	}
	return s
}

func overlay(base timetable.Dates, ch DateChange) timetable.Dates {
	set := func(dst *domain.Date, v domain.Date) {
		if v.Valid() {
			*dst = v
		}
	}
	set(&base.Opens, ch.Opens)
	set(&base.Closes, ch.Closes)
	set(&base.DeclareBy, ch.DeclareBy)
	set(&base.ApproveBy, ch.ApproveBy)
	set(&base.PayOn, ch.PayOn)
	return base
}

// AddCollection puts one collection of a service on the timetable at an
// achievement date (an extra or replacement collection). Its dates are the
// service's defaults, overridden by any given in dates; all follow the
// moving rule. It returns the collection and what moved.
func AddCollection(s *store.Store, actor *domain.User, service string, ach domain.Date, dates DateChange, reason string) (*domain.Collection, []timetable.Move, error) {
	cal, err := HolidayCalendar()
	if err != nil {
		return nil, nil, err
	}
	var c *domain.Collection
	var moves []timetable.Move
	err = s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActManageTimetable, domain.TargetNational()); err != nil {
			return err
		}
		def, err := tx.Service(service)
		if err != nil {
			return err
		}
		if ach < def.Start || ach > def.End {
			return fmt.Errorf("service %s: achievement date %s is outside the service period %s to %s", def.ID, ach, def.Start, def.End)
		}
		base := timetable.DefaultTiming(def.Frequency).Unsettled(ach)
		d, mv, err := timetable.Settle(overlay(base, dates), cal)
		if err != nil {
			return fmt.Errorf("%s %s: %w", def.ID, ach, err)
		}
		c = &domain.Collection{Service: def.ID, AchDate: ach, Status: domain.CollScheduled}
		d.Apply(c)
		if err := tx.AddCollection(c); err != nil {
			return err
		}
		moves = mv
		after := collSummary(c)
		if len(mv) > 0 {
			after += "; " + movesText(mv)
		}
		if reason != "" {
			after += "; reason: " + reason
		}
		return tx.Audit("timetable.add", fmt.Sprintf("collection %d", c.ID), domain.NationalCode, "", after)
	})
	if err != nil {
		return nil, nil, err
	}
	return c, moves, nil
}

// transition reads a collection, checks the actor may take one of the
// actions, fires ev, lets edit adjust it, writes it and audits it, all in
// one transaction.
func transition(s *store.Store, actor *domain.User, id uint64, acts []domain.Action, ev domain.Event, auditAction, reason string,
	edit func(tx *store.Tx, c *domain.Collection) error) (*domain.Collection, error) {
	var out *domain.Collection
	err := s.Update(actor, func(tx *store.Tx) error {
		if err := authorizeAny(actor, domain.TargetNational(), acts...); err != nil {
			return err
		}
		c, err := tx.Collection(id)
		if err != nil {
			return err
		}
		before := collSummary(c)
		if ev != "" {
			to, err := domain.CollectionMachine.Fire(c.Status, ev)
			if err != nil {
				return fmt.Errorf("collection %d (%s): %w", c.ID, c.Label(), err)
			}
			c.Status = to
		}
		if edit != nil {
			if err := edit(tx, c); err != nil {
				return err
			}
		}
		if err := tx.PutCollection(c); err != nil {
			return err
		}
		after := collSummary(c)
		if reason != "" {
			after += "; reason: " + reason
		}
		out = c
		return tx.Audit(auditAction, fmt.Sprintf("collection %d", c.ID), domain.NationalCode, before, after)
	})
	return out, err
}

// authorizeAny passes when the actor may take any one of the actions.
func authorizeAny(actor *domain.User, t domain.Target, acts ...domain.Action) error {
	var first error
	for _, a := range acts {
		err := domain.Authorize(actor, a, t)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// Reschedule moves a scheduled collection's window and deadlines. Dates
// given in ch replace the current ones (NoDate keeps one); the result
// follows the moving rule and must stay in order.
func Reschedule(s *store.Store, actor *domain.User, id uint64, ch DateChange, reason string) (*domain.Collection, []timetable.Move, error) {
	return RescheduleFrom(s, actor, id, nil, ch, reason)
}

// RescheduleFrom is Reschedule for someone who chose the new dates looking
// at the collection's dates was: if another session moved the collection
// since, it is refused (wrapping store.ErrConflict) in the same transaction
// rather than putting back, unsaid, the dates the change started from.
// A nil was skips the check.
func RescheduleFrom(s *store.Store, actor *domain.User, id uint64, was *timetable.Dates, ch DateChange, reason string) (*domain.Collection, []timetable.Move, error) {
	cal, err := HolidayCalendar()
	if err != nil {
		return nil, nil, err
	}
	var moves []timetable.Move
	c, err := transition(s, actor, id, []domain.Action{domain.ActManageTimetable}, domain.EvReschedule, "timetable.reschedule", reason,
		func(_ *store.Tx, c *domain.Collection) error {
			if was != nil && timetable.DatesOf(c) != *was {
				return fmt.Errorf("collection %d (%s) was rescheduled by someone else since you looked (now %s): %w",
					c.ID, c.Label(), DescribeDates(c), store.ErrConflict)
			}
			d, mv, err := timetable.Settle(overlay(timetable.DatesOf(c), ch), cal)
			if err != nil {
				return fmt.Errorf("collection %d (%s): %w", c.ID, c.Label(), err)
			}
			if d == timetable.DatesOf(c) {
				return fmt.Errorf("collection %d (%s): the new dates are the current ones; nothing to reschedule", c.ID, c.Label())
			}
			d.Apply(c)
			// A missed-window note no longer applies to new dates.
			c.Note = ""
			moves = mv
			return nil
		})
	if err != nil {
		return nil, nil, err
	}
	return c, moves, nil
}

// CancelCollection takes a scheduled or extracting collection off the
// timetable. Its queued and running extraction jobs are cancelled in the same
// transaction (a running attempt finds its job cancelled and commits
// nothing); results already stored stay as history. Cancelling is both a
// timetable and an extraction decision, so Timetable Administration or
// Extract Monitor may do it.
func CancelCollection(s *store.Store, actor *domain.User, id uint64, reason string) (*domain.Collection, error) {
	return transition(s, actor, id, []domain.Action{domain.ActManageTimetable, domain.ActControlExtraction}, domain.EvCancel, "collection.cancel", reason,
		func(tx *store.Tx, c *domain.Collection) error {
			jobs, err := tx.Jobs(c.ID)
			if err != nil {
				return err
			}
			for _, j := range jobs {
				if j.State != domain.JobQueued && j.State != domain.JobRunning {
					continue
				}
				j.State = domain.JobCancelled
				j.FinishedAt = tx.Now()
				j.Note = "collection cancelled by " + actor.Name
				if err := tx.PutJob(j); err != nil {
					return err
				}
			}
			return nil
		})
}

// ReopenCollection puts a cancelled collection back on the timetable
// (scheduled, to run when its window opens or when run now) or reopens a
// closed one (extracted).
func ReopenCollection(s *store.Store, actor *domain.User, id uint64, reason string) (*domain.Collection, error) {
	return transition(s, actor, id, []domain.Action{domain.ActManageTimetable}, domain.EvReopen, "collection.reopen", reason,
		func(_ *store.Tx, c *domain.Collection) error {
			c.Note = ""
			return nil
		})
}

// SetPaused pauses or resumes the scheduler's work on a collection: while
// paused its window does not open and no new attempt starts (running ones
// finish). Paused survives a restart.
func SetPaused(s *store.Store, actor *domain.User, id uint64, paused bool, reason string) (*domain.Collection, error) {
	action := "collection.resume"
	if paused {
		action = "collection.pause"
	}
	return transition(s, actor, id, []domain.Action{domain.ActControlExtraction}, "", action, reason,
		func(_ *store.Tx, c *domain.Collection) error {
			switch {
			case c.Paused == paused && paused:
				return fmt.Errorf("collection %d (%s) is already paused", c.ID, c.Label())
			case c.Paused == paused:
				return fmt.Errorf("collection %d (%s) is not paused", c.ID, c.Label())
			case paused && (c.Status == domain.CollClosed || c.Status == domain.CollCancelled):
				return fmt.Errorf("collection %d (%s) is %s; there is nothing to pause", c.ID, c.Label(), c.Status)
			}
			c.Paused = paused
			return nil
		})
}
