package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/session"
)

// The timetable administrator's changes from the Timetable screen: adding
// a collection (n), rescheduling one (r) and running payments ($).

// ledger is what the timetable keys could change: the collections, the
// audit entries, the payment runs and the items paid.
type ledger struct{ colls, audit, runs, paid int }

func (w *world) ledger(t *testing.T) ledger {
	t.Helper()
	var l ledger
	if err := w.st.View(func(tx *store.Tx) error {
		cs, err := tx.Collections("")
		if err != nil {
			return err
		}
		as, err := tx.AuditEntries(store.AuditFilter{Limit: 100000})
		if err != nil {
			return err
		}
		rs, err := tx.PaymentRuns()
		if err != nil {
			return err
		}
		ps, err := tx.PaidWithPrefix(nil)
		if err != nil {
			return err
		}
		l = ledger{len(cs), len(as), len(rs), len(ps)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return l
}

// audited lists the audit entries of an action, newest first.
func (w *world) audited(t *testing.T, action string) []domain.AuditEntry {
	t.Helper()
	return read(t, w, func(tx *store.Tx) ([]domain.AuditEntry, error) {
		return tx.AuditEntries(store.AuditFilter{Action: action})
	})
}

// A practice user and an approver are never offered the timetable
// administrator's keys, and pressing them changes nothing.
func TestTimetableAdminKeysOnlyForTimetableAdministrators(t *testing.T) {
	w := newWorld(t)
	before := w.ledger(t)
	for _, name := range []string{"pat", "cora"} {
		tm := w.open(t, name, "timetable", false)
		press(tm, "?")
		v := waitView(t, tm, "more keys", "filter")
		for _, s := range []string{"add collection", "reschedule", "run payments"} {
			if strings.Contains(v, s) {
				t.Errorf("%s's timetable help offers %q:\n%s", name, s, v)
			}
		}
		press(tm, "?")
		for _, k := range []string{"n", "r", "$"} {
			press(tm, k)
			v := waitView(t, tm, "refused:")
			if strings.Contains(v, "enter to accept") || strings.Contains(v, "press y to confirm") {
				t.Errorf("%s pressing %s opened a prompt:\n%s", name, k, v)
			}
			press(tm, "y", "enter")
		}
	}
	if after := w.ledger(t); after != before {
		t.Fatalf("the keys changed the store: %+v -> %+v", before, after)
	}
	// The administrator sees them.
	tm := w.open(t, "admin", "timetable", false)
	press(tm, "?")
	waitView(t, tm, "add collection", "reschedule", "run payments")
}

func TestTimetableAddCollection(t *testing.T) {
	w := newWorld(t)
	before := w.ledger(t)
	tm := w.open(t, "admin", "timetable", false)
	waitView(t, tm, "CHILDIMM2526 2026-03-31")
	press(tm, "n")
	waitView(t, tm, "Which service", "service: CHILDIMM2526") // the selected collection's service
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "NOPE", "enter")
	v := waitView(t, tm, "x service", "service: NOPE")
	if !strings.Contains(v, "LDHC2526") {
		t.Fatalf("an unknown service is not refused naming the known ones:\n%s", v)
	}
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "ldhc2526", "enter")
	waitView(t, tm, "Achievement date of the new LDHC2526 collection")
	for _, bad := range []struct{ typed, says string }{
		{"2026-02-30", "2026-02-30"},
		{"2027-06-30", "outside the service period"},
		{"2026-03-31", "already has a collection"},
	} {
		press(tm, bad.typed, "enter")
		waitView(t, tm, "x achievement date", bad.says, "date: "+bad.typed)
		ctrl(tm, tea.KeyCtrlU)
	}
	// 28 Feb 2026: the window would open on Sunday 1 March.
	press(tm, "2026-02-28", "enter")
	waitView(t, tm, "window opens", "default 2026-03-02")
	press(tm, "enter") // the default
	waitView(t, tm, "window closes", "default 2026-03-09")
	press(tm, "2026-02-27", "enter") // before the window opens
	waitView(t, tm, "x closes", "before it opens", "closes: 2026-02-27")
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "enter", "enter", "enter", "enter")
	waitView(t, tm, "Why add")
	press(tm, "enter")
	waitView(t, tm, "x reason", "needs a reason")
	press(tm, "extra quarter for the audit", "enter")
	v = waitView(t, tm, "press y to confirm")
	if !strings.Contains(v, "LDHC2526 2026-02-28") || !strings.Contains(v, "2026-03-02") {
		t.Fatalf("the confirmation does not name the collection and its dates:\n%s", v)
	}
	if after := w.ledger(t); after != before {
		t.Fatalf("the store changed before confirming: %+v -> %+v", before, after)
	}
	press(tm, "y")
	v = waitView(t, tm, "added LDHC2526 2026-02-28", "window opens 2026-03-01 moved to 2026-03-02")
	waitView(t, tm, "28 Feb 2026  - scheduled")
	var c *domain.Collection
	if err := w.st.View(func(tx *store.Tx) error {
		var err error
		c, err = tx.CollectionFor("LDHC2526", domain.MustDate("2026-02-28"))
		return err
	}); err != nil {
		t.Fatalf("no collection added: %v\n%s", err, v)
	}
	if c.WindowStart != domain.MustDate("2026-03-02") || c.Status != domain.CollScheduled {
		t.Fatalf("added %+v", c)
	}
	after := w.ledger(t)
	if after.colls != before.colls+1 || after.audit != before.audit+1 {
		t.Fatalf("adding one collection made %d collections and %d audit entries", after.colls-before.colls, after.audit-before.audit)
	}
	if a := w.audited(t, "timetable.add"); len(a) == 0 || !strings.Contains(a[0].After, "reason: extra quarter for the audit") {
		t.Fatalf("the addition is not audited with its reason: %+v", a)
	}
}

// scheduledLDHC adds a scheduled collection through ops and opens the
// administrator's timetable on it.
func (w *world) scheduledLDHC(t *testing.T) (*teatest.TestModel, *domain.Collection) {
	t.Helper()
	c, _, err := ops.AddCollection(w.st, w.user(t, "admin"), "LDHC2526", domain.MustDate("2026-02-28"), ops.NoDates(), "test")
	if err != nil {
		t.Fatal(err)
	}
	tm := w.open(t, "admin", "timetable", false)
	press(tm, "/", "ldhc scheduled", "enter")
	waitView(t, tm, "1 of ", "LDHC2526 2026-02-28  run 0")
	return tm, c
}

// collection reads a collection as stored now.
func (w *world) collection(t *testing.T, id uint64) *domain.Collection {
	t.Helper()
	return read(t, w, func(tx *store.Tx) (*domain.Collection, error) { return tx.Collection(id) })
}

func TestTimetableReschedule(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "admin", "timetable", false)
	// An extracted collection cannot be rescheduled: said at once.
	waitView(t, tm, "> CHILDIMM2526  31 Mar 2026")
	press(tm, "down", "down")
	waitView(t, tm, "> LDHC2526      31 Mar 2026")
	press(tm, "r")
	waitView(t, tm, "refused:", "the collection was extracted")
	// The refusal does not linger under the next question.
	press(tm, "$")
	if v := waitView(t, tm, "Run payments for which month"); strings.Contains(v, "refused:") {
		t.Fatalf("an old refusal shows under a new question:\n%s", v)
	}
	press(tm, "esc")

	tm, c := w.scheduledLDHC(t)
	before := w.ledger(t)
	press(tm, "r")
	waitView(t, tm, "window opens", "opens: 2026-03-02") // the current date, ready to edit
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "2 March", "enter")
	waitView(t, tm, "x opens", "opens: 2 March")
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "2026-03-02", "enter")
	waitView(t, tm, "closes: 2026-03-09")
	press(tm, "enter")
	waitView(t, tm, "declare by: 2026-03-24")
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "2026-03-05", "enter") // before the window closes
	waitView(t, tm, "x declare by", "before the window closes", "declare by: 2026-03-05")
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "2026-03-24", "enter", "enter")
	waitView(t, tm, "pay on: 2026-04-30")
	press(tm, "enter") // every date as it was
	waitView(t, tm, "x pay on", "every date is as it was")
	press(tm, "esc")
	waitView(t, tm, "cancelled; nothing changed")
	if after := w.ledger(t); after != before {
		t.Fatalf("a cancelled reschedule changed the store: %+v -> %+v", before, after)
	}

	// Saturday 28 March moves to Monday 30 March.
	press(tm, "r", "enter", "enter")
	waitView(t, tm, "declare by: 2026-03-24")
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "2026-03-28", "enter", "enter", "enter")
	waitView(t, tm, "Why reschedule")
	press(tm, "practices asked for the weekend", "enter")
	v := waitView(t, tm, "press y to confirm")
	if !strings.Contains(v, "declare by 2026-03-30") {
		t.Fatalf("the confirmation does not show the moved deadline:\n%s", v)
	}
	press(tm, "y")
	waitView(t, tm, "rescheduled LDHC2526 2026-02-28", "declaration deadline 2026-03-28 moved to 2026-03-30")
	waitView(t, tm, "declare by 30 Mar 2026")
	got := w.collection(t, c.ID)
	if got.DeclarationDeadline != domain.MustDate("2026-03-30") || got.WindowStart != c.WindowStart || got.PaymentDate != c.PaymentDate {
		t.Fatalf("rescheduled to %+v", got)
	}
	after := w.ledger(t)
	if after.audit != before.audit+1 || after.colls != before.colls {
		t.Fatalf("one reschedule made %d audit entries and %d collections", after.audit-before.audit, after.colls-before.colls)
	}
	if a := w.audited(t, "timetable.reschedule"); len(a) == 0 || !strings.Contains(a[0].After, "reason: practices asked for the weekend") {
		t.Fatalf("the reschedule is not audited with its reason: %+v", a)
	}
}

// Another session's timetable shows an added collection as soon as the
// hub relays the change.
func TestTimetableFollowsAnotherSessionsChange(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "sue", "timetable", false)
	waitView(t, tm, "of 24 collections")
	c, _, err := ops.AddCollection(w.st, w.user(t, "admin"), "LDHC2526", domain.MustDate("2026-02-28"), ops.NoDates(), "test")
	if err != nil {
		t.Fatal(err)
	}
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "collection", Collection: c.ID}}})
	waitView(t, tm, "of 25 collections")
}

func TestTimetableRunsPaymentsOnce(t *testing.T) {
	w := newWorld(t)
	before := w.ledger(t)
	tm := w.open(t, "admin", "timetable", false)
	press(tm, "$")
	waitView(t, tm, "Run payments for which month", "period: 2026-04") // the session's month
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "2026-13", "enter")
	waitView(t, tm, "x period", "period: 2026-13")
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "2026-05", "enter")
	waitView(t, tm, "x period", "has not begun", "period: 2026-05")
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "2026-04", "enter")
	v := waitView(t, tm, "press y to confirm")
	for _, s := range []string{"financially approved", "nothing twice"} {
		if !strings.Contains(v, s) {
			t.Fatalf("the confirmation does not say %q:\n%s", s, v)
		}
	}
	press(tm, "esc")
	waitView(t, tm, "cancelled; nothing changed")
	if after := w.ledger(t); after != before {
		t.Fatalf("a cancelled run changed the store: %+v -> %+v", before, after)
	}
	press(tm, "$", "enter", "y")
	v = waitView(t, tm, "payment run", "for 2026-04 paid", "ssh -T HOST payments run --period 2026-04 > payments.csv")
	once := w.ledger(t)
	if once.runs != before.runs+1 || once.paid <= before.paid {
		t.Fatalf("the run recorded %d runs and paid %d items:\n%s", once.runs-before.runs, once.paid-before.paid, v)
	}
	runs, err := ops.PaymentRuns(w.st, w.user(t, "admin"))
	if err != nil {
		t.Fatal(err)
	}
	run := runs[len(runs)-1]
	if run.Period != "2026-04" || len(run.Lines) == 0 || !strings.Contains(v, run.Total().String()) {
		t.Fatalf("the screen does not show the run's summary (%s, %d lines, %s):\n%s", run.Period, len(run.Lines), run.Total(), v)
	}
	if a := w.audited(t, "payments.run"); len(a) != 1 {
		t.Fatalf("%d payments.run audit entries", len(a))
	}
	// Running the month again pays nothing and says so.
	press(tm, "$", "enter")
	waitView(t, tm, "already run", "press y to confirm")
	press(tm, "y")
	waitView(t, tm, "nothing paid now")
	if again := w.ledger(t); again.runs != once.runs || again.paid != once.paid {
		t.Fatalf("running the month again paid: %+v -> %+v", once, again)
	}
	// Finance staff may not run payments.
	tm = w.open(t, "finn", "timetable", false)
	press(tm, "$")
	waitView(t, tm, "refused:", "Timetable Administration")
}

// A reschedule confirmed after another administrator moved the same
// collection would put back, unsaid, the dates this form started from:
// the screen says so and changes nothing, whether the other change reached
// it while confirming (the relay) or only at y.
func TestTimetableRescheduleMovedMeanwhileChangesNothing(t *testing.T) {
	for _, relayed := range []bool{true, false} {
		w := newWorld(t)
		tm, c := w.scheduledLDHC(t)
		press(tm, "r")
		waitView(t, tm, "opens: 2026-03-02")
		ctrl(tm, tea.KeyCtrlU)
		press(tm, "2026-03-03", "enter", "enter", "enter", "enter", "enter")
		waitView(t, tm, "Why reschedule")
		press(tm, "a day later", "enter")
		waitView(t, tm, "pay on 2026-04-30?", "press y to confirm")
		// Meanwhile another administrator moves its payment date.
		other := ops.NoDates()
		other.PayOn = domain.MustDate("2026-04-29")
		if _, _, err := ops.Reschedule(w.st, w.user(t, "admin"), c.ID, other, "finance asked"); err != nil {
			t.Fatal(err)
		}
		if relayed {
			tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "collection", Collection: c.ID}}})
			v := waitView(t, tm, "rescheduled in another session", "nothing changed")
			if strings.Contains(v, "press y to confirm") {
				t.Fatalf("the confirmation stayed open over new dates:\n%s", v)
			}
		}
		press(tm, "y")
		if !relayed {
			waitView(t, tm, "refused:", "rescheduled in another session", "nothing changed")
		}
		time.Sleep(100 * time.Millisecond)
		if got := w.collection(t, c.ID); got.PaymentDate != domain.MustDate("2026-04-29") || got.WindowStart != c.WindowStart {
			t.Fatalf("relayed %v: the other administrator's reschedule was overwritten: window %s, pay on %s", relayed, got.WindowStart, got.PaymentDate)
		}
	}
}

// Moved by another session while the form is being filled, the
// confirmation says so, naming the dates it now has, before y.
func TestTimetableRescheduleConfirmationSaysItMovedWhileTyped(t *testing.T) {
	w := newWorld(t)
	tm, c := w.scheduledLDHC(t)
	press(tm, "r")
	waitView(t, tm, "opens: 2026-03-02")
	other := ops.NoDates()
	other.PayOn = domain.MustDate("2026-04-29")
	if _, _, err := ops.Reschedule(w.st, w.user(t, "admin"), c.ID, other, "finance asked"); err != nil {
		t.Fatal(err)
	}
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "collection", Collection: c.ID}}})
	waitView(t, tm, "payment 29 Apr 2026")
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "2026-03-03", "enter", "enter", "enter", "enter", "enter")
	waitView(t, tm, "Why reschedule")
	press(tm, "a day later", "enter")
	waitView(t, tm, "rescheduled in another session since you began", "pay on 2026-04-29.", "press y to confirm")
}
