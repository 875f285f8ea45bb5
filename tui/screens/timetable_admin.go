package screens

import (
	"errors"
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/domain/timetable"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// The timetable administrator's changes from the Timetable screen: add a
// collection (n), reschedule the selected one (r), and run payments ($).
// Each is a wizard whose answers are checked where typed, a confirmation
// with y, and one ops call (one audited transaction); the hub's relay of
// the store change refreshes every session's timetable.

// dateStep is one of a collection's five dates as the wizard asks for it,
// in timetable order: each must fall on or after the one before.
type dateStep struct{ key, what, label string }

var dateSteps = []dateStep{
	{"opens", "Extraction window opens", "opens: "},
	{"closes", "Extraction window closes", "closes: "},
	{"declare", "Declaration deadline", "declare by: "},
	{"approve", "Approval deadline", "approve by: "},
	{"pay", "Payment date", "pay on: "},
}

// order words a date that falls before the previous one, as the timetable
// package's own order check does.
var order = []string{"",
	"the window would close (%s) before it opens (%s)",
	"the declaration deadline (%s) would be before the window closes (%s)",
	"the approval deadline (%s) would be before the declaration deadline (%s)",
	"the payment date (%s) would be before the approval deadline (%s)"}

func datesList(d timetable.Dates) []domain.Date {
	return []domain.Date{d.Opens, d.Closes, d.DeclareBy, d.ApproveBy, d.PayOn}
}

// datePlan is what the date prompts start from: for an addition the
// service's default dates before the moving rule, for a reschedule the
// collection's current ones.
type datePlan struct {
	base timetable.Dates
	cal  *timetable.Calendar
}

// typed is the date answered at step i, or the plan's when left empty.
func (p datePlan) typed(i int, ans map[string]string) (domain.Date, error) {
	if v := ans[dateSteps[i].key]; v != "" {
		return domain.ParseDate(v)
	}
	return datesList(p.base)[i], nil
}

// settled is date i after the moving rule as timetable.Settle applies it:
// the payment date moves back to a working day, the others forward.
func (p datePlan) settled(i int, d domain.Date) (domain.Date, error) {
	if i == len(dateSteps)-1 {
		return p.cal.Prev(d)
	}
	return p.cal.Next(d)
}

// check refuses an answer for date i that is not a date, lies in a year
// the holiday file does not cover, or (moved) falls before date i-1.
func (p datePlan) check(i int) func(string, map[string]string) error {
	return func(v string, ans map[string]string) error {
		d := datesList(p.base)[i]
		if v != "" {
			var err error
			if d, err = domain.ParseDate(v); err != nil {
				return err
			}
		}
		cur, err := p.settled(i, d)
		if err != nil || i == 0 {
			return err
		}
		prev, err := p.typed(i-1, ans)
		if err != nil {
			return err
		}
		if prev, err = p.settled(i-1, prev); err != nil {
			return err
		}
		if cur < prev {
			return fmt.Errorf(order[i], cur, prev)
		}
		return nil
	}
}

// result is the dates the answers make, moved by the rule, with the moves.
func (p datePlan) result(ans map[string]string) (timetable.Dates, []timetable.Move, error) {
	var ds [5]domain.Date
	for i := range dateSteps {
		d, err := p.typed(i, ans)
		if err != nil {
			return timetable.Dates{}, nil, err
		}
		ds[i] = d
	}
	return timetable.Settle(timetable.Dates{Opens: ds[0], Closes: ds[1], DeclareBy: ds[2], ApproveBy: ds[3], PayOn: ds[4]}, p.cal)
}

// change reads the answered dates as ops reads typed dates.
func (p datePlan) change(ans map[string]string) (ops.DateChange, error) {
	return ops.DateFlags{Opens: ans["opens"], Closes: ans["closes"], DeclareBy: ans["declare"],
		ApproveBy: ans["approve"], PayOn: ans["pay"]}.Change()
}

// timetableChange is an addition or reschedule awaiting its confirmation.
type timetableChange struct {
	id      uint64 // the collection rescheduled (0: an addition)
	service string
	ach     domain.Date
	dates   ops.DateChange
	reason  string
	// was is the rescheduled collection's dates when the confirmation was
	// asked: if another session moves it before y, confirming would put
	// back, unsaid, the dates this form was filled from.
	was timetable.Dates
}

// movedMeanwhile says that another session rescheduled c while this one
// was confirming its own reschedule, and that nothing was done. It is a
// store.ErrConflict, refused as a stale write is.
type movedMeanwhile struct{ c *domain.Collection }

func (m movedMeanwhile) Error() string {
	return fmt.Sprintf("%s was rescheduled in another session while you were confirming; nothing changed. It is now %s; r starts again from its dates",
		m.c.Label(), ops.DescribeDates(m.c))
}

func (movedMeanwhile) Unwrap() error { return store.ErrConflict }

// collection is the collection id as last read, nil if it is not shown.
func (t *Timetable) collection(id uint64) *domain.Collection {
	for _, c := range t.all {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// staleReschedule closes a reschedule's confirmation whose collection
// another session has moved since it was asked.
func (t *Timetable) staleReschedule() {
	if !t.confirm.Active() || t.change == nil || t.change.id == 0 {
		return
	}
	if c := t.collection(t.change.id); c != nil && timetable.DatesOf(c) != t.change.was {
		t.confirm.Cancel()
		t.change = nil
		t.say(styles.Warn, movedMeanwhile{c}.Error())
	}
}

func (t *Timetable) mayTimetable() error {
	return domain.Authorize(t.env.User, domain.ActManageTimetable, domain.TargetNational())
}

func (t *Timetable) mayPay() error {
	return domain.Authorize(t.env.User, domain.ActRunPayments, domain.TargetNational())
}

// adminKey starts an addition, a reschedule or a payment run; handled
// reports whether the key was one of them.
func (t *Timetable) adminKey(key string, c *domain.Collection) (handled bool) {
	// A message left from before must not read as the new question's.
	t.clear()
	var err error
	switch key {
	case "n":
		if err = t.mayTimetable(); err == nil {
			t.paid = nil
			t.wiz.start(&t.modal, "add", t.serviceStep(c))
		}
	case "r":
		if c == nil {
			return true
		}
		if err = t.mayTimetable(); err == nil {
			err = t.startReschedule(c)
		}
	case "$":
		if err = t.mayPay(); err == nil {
			t.paid = nil
			t.wiz.start(&t.modal, "pay", t.periodStep())
		}
	default:
		return false
	}
	if err != nil {
		t.fail(err)
	}
	return true
}

// serviceStep asks which service the new collection is of, starting from
// the selected collection's.
func (t *Timetable) serviceStep(c *domain.Collection) wstep {
	value := ""
	if c != nil {
		value = c.Service
	}
	return wstep{key: "service", question: "Which service is the new collection of?", label: "service: ", value: value,
		check: plain(func(v string) error { _, err := t.serviceNamed(v); return err }),
		more: func(v string, _ map[string]string) []wstep {
			def, _ := t.serviceNamed(v)
			return []wstep{t.achStep(def)}
		}}
}

// serviceNamed finds a service by its id, in any case, or says which
// services there are.
func (t *Timetable) serviceNamed(v string) (*domain.ServiceDef, error) {
	svcs, err := t.env.Services()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(svcs))
	for _, s := range svcs {
		if strings.EqualFold(s.ID, v) {
			return s, nil
		}
		ids = append(ids, s.ID)
	}
	return nil, fmt.Errorf("no service %q; the services are %s", v, strings.Join(ids, ", "))
}

// achStep asks for the new collection's achievement date: inside the
// service period, not on the timetable already, and with default dates
// the holiday file covers. The date prompts follow, showing the defaults.
func (t *Timetable) achStep(def *domain.ServiceDef) wstep {
	plan := func(v string) (timetable.Slot, datePlan, error) {
		ach, err := domain.ParseDate(v)
		if err != nil {
			return timetable.Slot{}, datePlan{}, err
		}
		cal, err := ops.HolidayCalendar()
		if err != nil {
			return timetable.Slot{}, datePlan{}, err
		}
		for _, c := range t.all {
			if c.Service == def.ID && c.AchDate == ach {
				return timetable.Slot{}, datePlan{}, fmt.Errorf("%s already has a collection for %s (%s): reschedule or reopen that one", def.ID, ach, c.Status)
			}
		}
		slot, err := timetable.Plan(def, ach, cal)
		return slot, datePlan{base: timetable.DefaultTiming(def.Frequency).Unsettled(ach), cal: cal}, err
	}
	return wstep{key: "ach", question: fmt.Sprintf("Achievement date of the new %s collection (YYYY-MM-DD, %s..%s)", def.ID, def.Start, def.End),
		label: "achievement date: ",
		check: plain(func(v string) error { _, _, err := plan(v); return err }),
		more: func(v string, _ map[string]string) []wstep {
			slot, p, _ := plan(v)
			t.plan = p
			return append(p.steps(datesList(slot.Dates), "enter keeps the default"),
				wstep{key: "reason", question: fmt.Sprintf("Why add %s %s? (kept in the audit log)", def.ID, v),
					label: "reason: ", check: needReason("adding a collection")})
		}}
}

// steps are the five date prompts; shown are the dates the question names
// (the defaults of an addition, the current dates of a reschedule), and
// prefill fills the field with them.
func (p datePlan) steps(shown []domain.Date, keeps string, prefill ...bool) []wstep {
	steps := make([]wstep, 0, len(dateSteps))
	for i, d := range dateSteps {
		s := wstep{key: d.key, label: d.label, check: p.check(i),
			question: fmt.Sprintf("%s (YYYY-MM-DD; %s %s)", d.what, keeps, shown[i])}
		if len(prefill) > 0 && prefill[0] {
			s.value = shown[i].String()
		}
		steps = append(steps, s)
	}
	return steps
}

// startReschedule asks for each of the selected collection's dates, the
// current one filled in, then why. A collection that cannot be
// rescheduled (it was extracted, say) is refused before any question.
func (t *Timetable) startReschedule(c *domain.Collection) error {
	if _, err := domain.CollectionMachine.Fire(c.Status, domain.EvReschedule); err != nil {
		return fmt.Errorf("collection %d (%s): %w", c.ID, c.Label(), err)
	}
	cal, err := ops.HolidayCalendar()
	if err != nil {
		return err
	}
	cur := timetable.DatesOf(c)
	t.plan = datePlan{base: cur, cal: cal}
	t.target = c
	steps := t.plan.steps(datesList(cur), "now", true)
	last := &steps[len(steps)-1]
	dateCheck := last.check
	last.check = func(v string, ans map[string]string) error {
		if err := dateCheck(v, ans); err != nil {
			return err
		}
		all := map[string]string{dateSteps[len(dateSteps)-1].key: v}
		for k, x := range ans {
			all[k] = x
		}
		if d, _, err := t.plan.result(all); err == nil && d == cur {
			return fmt.Errorf("every date is as it was; change one, or esc to leave %s as it is", c.Label())
		}
		return nil
	}
	t.paid = nil
	t.wiz.start(&t.modal, "reschedule", append(steps, wstep{key: "reason", question: "Why reschedule " + c.Label() + "? (kept in the audit log)",
		label: "reason: ", check: needReason("a reschedule")})...)
	return nil
}

// periodStep asks which month to pay, starting from the session's.
func (t *Timetable) periodStep() wstep {
	today := t.env.Today()
	y, m, _ := today.Civil()
	return wstep{key: "period", question: "Run payments for which month? (YYYY-MM)", label: "period: ",
		value: fmt.Sprintf("%04d-%02d", y, int(m)),
		check: plain(func(v string) error {
			p, err := domain.ParsePeriod(v)
			if err == nil && today < p.First() {
				err = fmt.Errorf("%s has not begun (today is %s in England); a run pays what is due in or before its month", p, today)
			}
			return err
		})}
}

// finish asks to confirm what a completed wizard would do.
func (t *Timetable) finish(tag string, ans map[string]string) tea.Cmd {
	if tag == "pay" {
		t.period = ans["period"]
		q := fmt.Sprintf("Run payments for %s? The run pays everything financially approved and due in or before %s, "+
			"and the aspiration months due; it pays nothing twice.", t.period, t.period)
		if runs, err := ops.PaymentRuns(t.env.Store(), t.env.User); err == nil {
			for _, r := range runs {
				if r.Period == t.period {
					q = fmt.Sprintf("%s was already run on %s (run %d, %d lines, %s). Confirming pays nothing now, nothing twice, "+
						"and shows that run again.", t.period, widgets.TimeText(r.At), r.ID, len(r.Lines), r.Total())
				}
			}
		}
		t.confirm.Ask("pay", q)
		return nil
	}
	ch, err := t.plan.change(ans)
	if err == nil {
		var d timetable.Dates
		if d, _, err = t.plan.result(ans); err == nil {
			t.change = &timetableChange{dates: ch, reason: ans["reason"]}
			preview := &domain.Collection{}
			d.Apply(preview)
			switch tag {
			case "add":
				// Both answers were checked where typed; read them again
				// rather than trust that nothing changed since.
				def, err := t.serviceNamed(ans["service"])
				if err != nil {
					t.fail(err)
					return nil
				}
				if t.change.ach, err = domain.ParseDate(ans["ach"]); err != nil {
					t.fail(err)
					return nil
				}
				t.change.service = def.ID
				preview.Service, preview.AchDate = def.ID, t.change.ach
				t.confirm.Ask("add", fmt.Sprintf("Add %s to the timetable? Reason: %s", ops.DescribeDates(preview), t.change.reason))
			default:
				t.change.id, t.change.was = t.target.ID, t.plan.base
				preview.Service, preview.AchDate = t.target.Service, t.target.AchDate
				q := fmt.Sprintf("Reschedule %s? Reason: %s", ops.DescribeDates(preview), t.change.reason)
				if now := t.collection(t.target.ID); now != nil && timetable.DatesOf(now) != t.plan.base {
					// Moved by another session while this form was filled:
					// the dates it started from are no longer the current ones.
					t.change.was = timetable.DatesOf(now)
					q = fmt.Sprintf("%s was rescheduled in another session since you began; it is now %s. ", now.Label(), ops.DescribeDates(now)) + q
				}
				t.confirm.Ask("reschedule", q)
			}
			return nil
		}
	}
	t.fail(err)
	return nil
}

// actAdmin makes a confirmed addition, reschedule or payment run.
func (t *Timetable) actAdmin(tag string) tea.Cmd {
	s, u := t.env.Store(), t.env.User
	if tag == "pay" {
		period := t.period
		return t.env.Run(t.id, tag, func() (string, any, error) {
			res, err := ops.RunPayments(s, u, period)
			if err != nil {
				return "", nil, err
			}
			return res.Describe(), res, nil
		})
	}
	ch := t.change
	t.change = nil
	if ch == nil {
		return nil
	}
	var service string
	if ch.id != 0 {
		service = t.target.Service
	}
	return t.env.Run(t.id, tag, func() (string, any, error) {
		var (
			c     *domain.Collection
			moves []timetable.Move
			err   error
		)
		verb := "added "
		if ch.id == 0 {
			c, moves, err = ops.AddCollection(s, u, ch.service, ch.ach, ch.dates, ch.reason)
		} else {
			// The relay of another session's reschedule may not have
			// reached this screen before y: ops refuses a reschedule from
			// dates that are no longer the collection's.
			verb = "rescheduled "
			was := ch.was
			c, moves, err = ops.RescheduleFrom(s, u, ch.id, &was, ch.dates, ch.reason)
			if errors.Is(err, store.ErrConflict) {
				err = movedNow(s, u, service, ch.id, err)
			}
		}
		if err != nil {
			return "", nil, err
		}
		text := verb + ops.DescribeDates(c)
		for _, m := range moves {
			text += "; " + m.String()
		}
		return text, c.ID, nil
	})
}

// movedNow turns ops' refusal of a reschedule from stale dates into one
// that says what the collection's dates are now.
func movedNow(s *store.Store, u *domain.User, service string, id uint64, refused error) error {
	cs, err := ops.Timetable(s, u, service)
	if err != nil {
		return refused
	}
	for _, c := range cs {
		if c.ID == id {
			return movedMeanwhile{c}
		}
	}
	return refused
}

// paidView says how to fetch the payment run's instruction file; the
// status line holds the run's summary.
func (t *Timetable) paidView(st *styles.Styles, w int) string {
	r := t.paid.Run
	out := []string{st.Heading.Render(fmt.Sprintf("Payment run %d for %s: its instruction file (CSV)", r.ID, r.Period))}
	out = append(out, widgets.Wrap("Fetch it over SSH without a terminal, with the host and port you signed in to:", w)...)
	out = append(out, "  "+st.Bold.Render(fmt.Sprintf("ssh -T HOST payments run --period %s > payments.csv", r.Period)))
	out = append(out, widgets.Wrap(st.Faint.Render("It returns this run's recorded file again and pays nothing twice. esc hides this."), w)...)
	return strings.Join(out, "\n")
}
