package tui

import (
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/store/scheduler"
	"gpcollections/tui/screens"
	"gpcollections/tui/session"
)

// Defects found using the demo over SSH as its users would.

// Over SSH, keys typed quickly arrive in one read, and Bubble Tea reports
// the printable ones as one message ("cQOF"). Each must still act as the
// key it is, as if typed slowly.
func TestKeysArrivingTogetherAreEachActedOn(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "achievement", false)
	waitView(t, tm, "Achievement review")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("cQOF")})
	waitView(t, tm, "Choose collection", "filter: QOF")
	press(tm, "enter")
	waitView(t, tm, "QOF2526 31 Mar 2026", "points")

	cora := w.open(t, "cora", "queue", false)
	waitView(t, cora, "2 items, 0 selected")
	cora.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("Aa")})
	waitView(t, cora, "2 selected", "Approve 2 declarations in bulk?")
}

// A decision confirmed in the queue acts on the declarations the question
// named, never on whatever the cursor rests on after the queue changed
// under the confirmation.
func TestQueueDecisionActsOnlyOnWhatWasConfirmed(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "cora", "queue", false)
	waitView(t, tm, "2 items, 0 selected")
	press(tm, "space") // selects the first (QOF), the cursor moves to FLU
	waitView(t, tm, "1 selected")
	press(tm, "r", "register looks short", "enter")
	waitView(t, tm, "Return the declaration of QOF2526 2026-03-31 for A81002", "press y to confirm")
	// Another approver approves the QOF declaration meanwhile.
	qof := w.coll(t, "QOF2526 2026-03-31")
	if _, err := ops.ApproveMany(w.st, w.user(t, "cora"), []ops.DeclRef{{Collection: qof, Practice: "A81002"}}); err != nil {
		t.Fatal(err)
	}
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "declaration", Collection: qof, Practice: "A81002"}}})
	v := waitView(t, tm, "1 item, 0 selected")
	press(tm, "y")
	time.Sleep(100 * time.Millisecond)
	v = waitView(t, tm, "Approval queue")
	if d := w.declaration(t, "FLU2526 2026-03-31", "A81002"); d.State != domain.DeclDeclared {
		t.Fatalf("confirming the return of QOF2526 returned FLU2526 instead (%s, reason %q):\n%s", d.State, d.Reason, v)
	}
	if !strings.Contains(v, "changed while you were confirming") {
		t.Fatalf("the screen does not say why nothing was returned:\n%s", v)
	}
}

// Quitting with manual values typed but not saved asks first: q is one key
// away from the digits being typed, and the values exist nowhere else.
func TestQuitWithUnsavedManualValuesAsks(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "manual", false)
	waitView(t, tm, "LDHC2526 31 Mar 2026", "LDREG")
	press(tm, "enter", "40", "enter")
	waitView(t, tm, "1 change not saved yet")
	press(tm, "q")
	v := waitView(t, tm, "not saved", "press y to quit")
	if !strings.Contains(v, "Manual entry: 1 value typed and not saved") {
		t.Fatalf("the question does not say where the unsaved values are:\n%s", v)
	}
	press(tm, "n")
	waitView(t, tm, "1 change not saved yet", "40")
	// With nothing unsaved, q quits at once.
	press(tm, "u")
	waitView(t, tm, "Discard 1 change not saved?")
	press(tm, "y")
	waitView(t, tm, "unsaved changes discarded")
	press(tm, "q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

// A declaration already declared, approved or paid is not "overdue": the
// countdown to the declaration deadline is for declarations that await
// the practice.
func TestSettledDeclarationIsNotOverdue(t *testing.T) {
	w := newWorld(t)
	for _, screen := range []string{"achievement", "declare"} {
		tm := w.open(t, "pat", screen, false)
		waitView(t, tm, "GP Collections")
		tm.Send(screens.Goto{Screen: screen, Collection: w.coll(t, "CHILDIMM2526 2025-10-31"), Practice: "A81001"})
		v := waitView(t, tm, "CHILDIMM2526 31 Oct 2025", "Financially Approved")
		if strings.Contains(v, "overdue") {
			t.Fatalf("%s calls a financially approved declaration overdue:\n%s", screen, v)
		}
		if !strings.Contains(v, "declaration deadline was") {
			t.Fatalf("%s no longer says when the deadline was:\n%s", screen, v)
		}
	}
}

// A wrong answer in the payment-parameter correction (a long series of
// prompts) is refused at its own prompt, saying what is wrong, with the
// text kept for correcting; the answers already given stay.
func TestCorrectionRefusesABadAnswerWhereItIsTyped(t *testing.T) {
	w := newWorld(t)
	tm := w.startQOFCorrection(t)
	press(tm, "230.0O", "enter") // a letter O for a zero
	v := waitView(t, tm, "Pounds per point", "230.0O")
	if !strings.Contains(v, "£ per point") || !strings.Contains(v, `"230.0O"`) {
		t.Fatalf("the bad amount is not refused at its prompt, naming it:\n%s", v)
	}
	ctrl(tm, tea.KeyBackspace)
	press(tm, "0", "enter")
	for i := 0; i < 5; i++ {
		press(tm, "enter")
	}
	waitView(t, tm, "Why the correction?")
	press(tm, "vendor figure superseded", "enter")
	waitView(t, tm, "£230.00 per point", "press y to confirm")

	tm = w.open(t, "admin", "admin", false)
	press(tm, "n", "Bad Name!", "enter")
	v = waitView(t, tm, "login name", "Bad Name!")
	if !strings.Contains(v, "lower-case letters") {
		t.Fatalf("a bad login name is not refused at its prompt:\n%s", v)
	}
}

// An administrator retries the failed extract of a practice while someone
// is keying its figures in. The retry has no figures yet, so the form
// keeps the extracted fields, the values typed and not saved, and says a
// retry is queued; the values can still be saved.
func TestRetryQueuedKeepsTheManualForm(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "cora", "manual", false)
	press(tm, "p", "A81003", "enter")
	waitView(t, tm, "A81003")
	press(tm, "c", "QOF", "enter")
	waitView(t, tm, "QOF2526 31 Mar 2026", "extract failed")
	press(tm, "enter", "42", "enter")
	waitView(t, tm, "1 change not saved yet")
	qof := w.coll(t, "QOF2526 2026-03-31")
	if _, err := scheduler.Retry(w.st, w.user(t, "admin"), qof, "A81003", "source linked"); err != nil {
		t.Fatal(err)
	}
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "job", Collection: qof, Practice: "A81003"}}})
	v := waitView(t, tm, "retry")
	for _, want := range []string{"retry of A81003's failed extract is queued", "1 change not saved yet", "42"} {
		if !strings.Contains(v, want) {
			t.Fatalf("with a retry queued the form does not show %q:\n%s", want, v)
		}
	}
	press(tm, "s")
	waitView(t, tm, "draft saved")
	m := read(t, w, func(tx *store.Tx) (*domain.ManualEntry, error) { return tx.ManualEntry(qof, "A81003") })
	if len(m.Values) != 1 || m.Values[0].Value != 42 {
		t.Fatalf("the value typed before the retry was saved as %v", m.Values)
	}
}

// viewAt renders what a user sees at a terminal size after msgs.
func (w *world) viewAt(t *testing.T, name string, width, height int, msgs ...tea.Msg) string {
	t.Helper()
	ctx := w.context(t, name, &fakeScheduler{st: w.st})
	ctx.Width, ctx.Height = width, height
	var m tea.Model = New(ctx)
	for _, msg := range msgs {
		m, _ = m.Update(msg)
	}
	return m.View()
}

// Status words in narrow columns stay readable at the standard terminal
// sizes: the manual form's source of a field whose extract failed, and a
// paused collection on the extract monitor and the timetable.
func TestStatusWordsFitTheirColumns(t *testing.T) {
	w := newWorld(t)
	qof := w.coll(t, "QOF2526 2026-03-31")
	if _, err := ops.SetPaused(w.st, w.user(t, "admin"), qof, true, "source moves tonight"); err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]int{{80, 24}, {100, 30}} {
		v := w.viewAt(t, "cora", size[0], size[1], screens.Goto{Screen: "manual", Collection: qof, Practice: "A81003"})
		if !strings.Contains(v, "AST007     REGISTER     x failed") {
			t.Errorf("%dx%d: the manual form does not say the field's extract failed in its Source column:\n%s", size[0], size[1], v)
		}
		v = w.viewAt(t, "cora", size[0], size[1], screens.Goto{Screen: "manual", Collection: qof, Practice: "A81003"},
			tea.KeyMsg{Type: tea.KeyEnter}, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("42")}, tea.KeyMsg{Type: tea.KeyEnter})
		for _, l := range strings.Split(v, "\n") {
			if strings.Contains(l, "AST007     REGISTER") && (!strings.Contains(l, "42") || strings.Contains(l, "...")) {
				t.Errorf("%dx%d: the typed value's check is cut short: %q", size[0], size[1], l)
			}
		}
		v = w.viewAt(t, "admin", size[0], size[1], tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'5'}})
		if !strings.Contains(v, "QOF2526 2026-03-31 run 1       ! paused") {
			t.Errorf("%dx%d: the monitor does not show the collection paused:\n%s", size[0], size[1], v)
		}
		v = w.viewAt(t, "admin", size[0], size[1], tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'2'}}, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/QOF")})
		if !strings.Contains(v, "31 Mar 2026  ! paused") {
			t.Errorf("%dx%d: the timetable does not show the collection paused:\n%s", size[0], size[1], v)
		}
	}
}

// After declaring, the Declaration screen shows the declared figures per
// indicator (points and pounds), as it did before declaring.
func TestDeclaredFiguresShowPerIndicator(t *testing.T) {
	w := newWorld(t)
	for _, c := range []struct{ user, coll, practice, state, row string }{
		{"pam", "QOF2526 2026-03-31", "A81002", "Awaiting Commissioning Organisation Approval", `AST007     ASTINVITE\s+\d+\s+[\d.]+/20\s+£[\d,]+\.\d\d`},
		{"pat", "CHILDIMM2526 2025-10-31", "A81001", "Financially Approved", `\s\d+\s+£[\d,]+\.\d\d`},
	} {
		tm := w.open(t, c.user, "declare", false)
		waitView(t, tm, "GP Collections")
		tm.Send(screens.Goto{Screen: "declare", Collection: w.coll(t, c.coll), Practice: c.practice})
		v := waitView(t, tm, "Declared:", c.state)
		if !regexp.MustCompile(c.row).MatchString(v) {
			t.Errorf("%s %s: the declared figures show no points or pounds per indicator (want a row like %s):\n%s", c.coll, c.practice, c.row, v)
		}
	}
}

// The financial approval question states the amount being approved, to
// the penny: one declaration's, or the total of those selected.
func TestFinanceApprovalStatesTheAmount(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "finn", "queue", false)
	waitView(t, tm, "1 item, 0 selected")
	amount := w.declaration(t, "QOF2526 2026-03-31", "A81004").Amount
	press(tm, "f")
	v := waitView(t, tm, "press y to confirm")
	if !strings.Contains(v, "for A81004, "+amount.String()+"?") {
		t.Fatalf("the question does not state the amount %s:\n%s", amount, v)
	}
	press(tm, "n")
	waitView(t, tm, "cancelled; nothing changed")

	refs := []ops.DeclRef{{Collection: w.coll(t, "QOF2526 2026-03-31"), Practice: "A81002"}, {Collection: w.coll(t, "FLU2526 2026-03-31"), Practice: "A81002"}}
	if _, err := ops.ApproveMany(w.st, w.user(t, "cora"), refs); err != nil {
		t.Fatal(err)
	}
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "declaration"}}})
	waitView(t, tm, "3 items, 0 selected")
	total := amount + w.declaration(t, "QOF2526 2026-03-31", "A81002").Amount + w.declaration(t, "FLU2526 2026-03-31", "A81002").Amount
	press(tm, "A", "f")
	v = waitView(t, tm, "press y to confirm")
	if !strings.Contains(v, "3 declarations, "+total.String()+" in total?") {
		t.Fatalf("the bulk question does not state the total %s:\n%s", total, v)
	}
}

// The timetable calls a passed deadline overdue only while the step it
// governs is outstanding: a collection whose declarations are all settled
// shows its deadlines as dates.
func TestTimetableOverdueOnlyWhileTheStepIsOutstanding(t *testing.T) {
	w := newWorld(t)
	flu := w.coll(t, "FLU2526 2026-03-31")
	ref := []ops.DeclRef{{Collection: flu, Practice: "A81002"}}
	if _, err := ops.ApproveMany(w.st, w.user(t, "cora"), ref); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.FinanceApproveMany(w.st, w.user(t, "finn"), ref); err != nil {
		t.Fatal(err)
	}
	w.clock.Set(at("2026-07-01 09:00")) // past every deadline of the March collections
	show := func(filter string) string {
		return w.viewAt(t, "cora", 100, 30, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("2/" + filter)}, tea.KeyMsg{Type: tea.KeyEnter})
	}
	v := show("FLU 2026-03-31")
	if strings.Contains(v, "overdue") || !strings.Contains(v, "declaration deadline was 24 Apr 2026") {
		t.Fatalf("a settled collection is called overdue, or its deadline is not shown as a date:\n%s", v)
	}
	// QOF: A81001 never declared, A81002 declared and not approved.
	v = show("QOF 2026-03-31")
	if flat := strings.Join(strings.Fields(v), " "); !strings.Contains(flat, "declare by 24 Apr 2026 - x overdue by 68 days (1 to declare)") ||
		!strings.Contains(flat, "approve by 1 Jun 2026 - x overdue by 30 days (2 to approve)") {
		t.Fatalf("outstanding steps past their deadlines are not called overdue:\n%s", v)
	}
}

// The approval queue, filtered to settled declarations, shows their
// approval deadline as a date: financially approved is not overdue.
func TestQueueSettledDeclarationsAreNotOverdue(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "cora", "queue", false)
	waitView(t, tm, "2 items")
	press(tm, "s", "s", "s", "s")
	v := waitView(t, tm, "status: financially-approved (s)", "CHILDIMM2526")
	if strings.Contains(v, "overdue") || !strings.Contains(v, "approval deadline was") {
		t.Fatalf("financially approved declarations are called overdue, or the deadline is not given as a date:\n%s", v)
	}
}

// A cancel asked about one collection acts on that collection, even when
// another session's change moves the rows under the cursor before the
// answer: here an addition lands just above the selected row.
func TestTimetableCancelActsOnTheCollectionAskedAbout(t *testing.T) {
	w := newWorld(t)
	// Two scheduled collections; the cursor goes to the later one.
	var target uint64
	for _, ach := range []string{"2026-01-30", "2026-03-13"} {
		c, _, err := ops.AddCollection(w.st, w.user(t, "admin"), "LDHC2526", domain.MustDate(ach), ops.NoDates(), "test")
		if err != nil {
			t.Fatal(err)
		}
		target = c.ID
	}
	tm := w.open(t, "admin", "timetable", false)
	waitView(t, tm, "LDHC2526 2026-01-30") // the first collection not closed
	for range 12 {
		press(tm, "down")
		time.Sleep(20 * time.Millisecond)
	}
	for range 12 {
		if strings.Contains(waitView(t, tm, "Timetable"), "LDHC2526 2026-03-13  run 0") {
			break
		}
		press(tm, "up")
		time.Sleep(20 * time.Millisecond)
	}
	waitView(t, tm, "LDHC2526 2026-03-13  run 0")
	press(tm, "x", "added twice", "enter")
	waitView(t, tm, "Cancel collection LDHC2526 2026-03-13?", "press y to confirm")
	// Meanwhile another administrator adds a collection that sorts just
	// before it, and the screen reloads.
	added, _, err := ops.AddCollection(w.st, w.user(t, "admin"), "LDHC2526", domain.MustDate("2026-03-12"), ops.NoDates(), "test")
	if err != nil {
		t.Fatal(err)
	}
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "collection", Collection: added.ID}}})
	time.Sleep(200 * time.Millisecond)
	press(tm, "y")
	waitView(t, tm, "cancelled LDHC2526 2026-03-13")
	got, other := w.collection(t, target), w.collection(t, added.ID)
	if got.Status != domain.CollCancelled || other.Status != domain.CollScheduled {
		t.Fatalf("asked to cancel %s: it is %s, and the collection added meanwhile is %s", got.Label(), got.Status, other.Status)
	}
}

// A retry asked about one practice's failed job acts on that job even when
// the monitor's rows move before the reason is entered (they are rebuilt
// on every change during an extraction): here another collection is paused
// and joins the section above.
func TestMonitorRetryActsOnTheJobAskedAbout(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "admin", "monitor", true)
	selectFailedJob(t, tm)
	press(tm, "t")
	waitView(t, tm, "Why retry A81003")
	// Meanwhile another administrator adds collections and pauses them.
	var paused []uint64
	for _, ach := range []string{"2025-05-30", "2025-06-27", "2026-01-30"} {
		c, _, err := ops.AddCollection(w.st, w.user(t, "admin"), "LDHC2526", domain.MustDate(ach), ops.NoDates(), "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ops.SetPaused(w.st, w.user(t, "admin"), c.ID, true, "supplier outage"); err != nil {
			t.Fatal(err)
		}
		paused = append(paused, c.ID)
	}
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "collection", Collection: paused[0]}}})
	time.Sleep(200 * time.Millisecond)
	press(tm, "source fixed", "enter")
	waitView(t, tm, "retry queued for A81003")
	if j := w.job(t, "CHILDIMM2526 2026-03-31", "A81003"); j.State != domain.JobQueued {
		t.Fatalf("the job asked about is %s", j.State)
	}
}

// Disabling a user asked about one user disables that user, even when
// another administrator adds a user who sorts above them before y.
func TestAdminDisableActsOnTheUserAskedAbout(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "admin", "admin", false)
	v := selectRow(t, tm, "Administration", "> pat ")
	above := strings.Split(v, "\n")[selectedLine(v)-1]
	press(tm, "d")
	waitView(t, tm, "Disable pat (Pat Practice)?")
	if err := ops.AddUser(w.st, w.user(t, "admin"), &domain.User{Name: "aaron", FullName: "Aaron Added"}); err != nil {
		t.Fatal(err)
	}
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "user"}}})
	waitView(t, tm, "aaron")
	press(tm, "y")
	waitView(t, tm, "disabled pat")
	disabled := func(name string) bool {
		return read(t, w, func(tx *store.Tx) (*domain.User, error) { return tx.User(name) }).Disabled
	}
	if !disabled("pat") {
		t.Fatal("pat, the user asked about, is not disabled")
	}
	name := strings.Fields(strings.TrimPrefix(strings.TrimSpace(above), ">"))[0]
	if disabled(name) {
		t.Fatalf("%s, who slid under the cursor, was disabled", name)
	}
}

// Declining an offer asked about declines that offer: here another session
// accepts it before y, the task list changes under the cursor, and the
// answer says so about the same offer rather than acting on another task.
func TestHomeDeclineActsOnTheOfferAskedAbout(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "home", false)
	selectRow(t, tm, "Your tasks", "FLU2526")
	press(tm, "x")
	waitView(t, tm, "Decline the offer of FLU2526 for A81001?")
	if err := ops.Accept(w.st, w.user(t, "pat"), "FLU2526", "A81001"); err != nil {
		t.Fatal(err)
	}
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "participation", Practice: "A81001"}}})
	time.Sleep(200 * time.Millisecond)
	press(tm, "y")
	v := waitView(t, tm, "refused")
	if !strings.Contains(v, "FLU2526") {
		t.Fatalf("the refusal is not about the offer asked about:\n%s", v)
	}
	for _, svc := range []string{"QOF2526", "CHILDIMM2526", "LDHC2526", "FLU2526"} {
		p := read(t, w, func(tx *store.Tx) (*domain.Participation, error) { return tx.Participation(svc, "A81001") })
		if p.State == domain.PartDeclined {
			t.Fatalf("%s was declined", p.Service)
		}
	}
}

// A payment-parameter correction confirmed after another administrator
// corrected the same service would put back, unsaid, the figures this form
// was filled from (every prompt starts from the latest parameters): the
// screen says so and adds nothing, whether the other correction reached it
// while confirming (the relay) or only at y.
func TestCorrectionAfterAnotherCorrectionChangesNothing(t *testing.T) {
	for _, relayed := range []bool{true, false} {
		w := newWorld(t)
		tm := w.startQOFCorrection(t)
		press(tm, "230.00", "enter")
		for i := 0; i < 5; i++ {
			press(tm, "enter")
		}
		waitView(t, tm, "Why the correction?")
		press(tm, "vendor figure superseded", "enter")
		waitView(t, tm, "£230.00 per point", "press y to confirm")
		// Meanwhile another administrator corrects the list size.
		def := w.service(t, "QOF2526")
		p, _ := def.LatestParams()
		p.NationalAvgListSize = 10000
		if _, err := ops.CorrectPaymentParams(w.st, w.user(t, "admin"), "QOF2526", p, "new list size"); err != nil {
			t.Fatal(err)
		}
		if relayed {
			tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "service"}}})
			v := waitView(t, tm, "corrected in another session", "nothing changed")
			if strings.Contains(v, "press y to confirm") {
				t.Fatalf("the confirmation stayed open over new parameters:\n%s", v)
			}
		}
		press(tm, "y")
		if !relayed {
			waitView(t, tm, "refused:", "corrected in another session", "nothing changed")
		}
		time.Sleep(100 * time.Millisecond)
		if got, _ := w.service(t, "QOF2526").LatestParams(); got.Version != 2 || got.NationalAvgListSize != 10000 {
			t.Fatalf("relayed %v: the other correction was overwritten: version %d, list size %d", relayed, got.Version, got.NationalAvgListSize)
		}
	}
}

// service reads a service as stored now.
func (w *world) service(t *testing.T, id string) *domain.ServiceDef {
	t.Helper()
	return read(t, w, func(tx *store.Tx) (*domain.ServiceDef, error) { return tx.Service(id) })
}

// Corrected by another session while the form is being filled, the
// confirmation says so, naming the parameters now in force, before y.
func TestCorrectionConfirmationSaysAnotherCorrectionCameFirst(t *testing.T) {
	w := newWorld(t)
	tm := w.startQOFCorrection(t)
	p, _ := w.service(t, "QOF2526").LatestParams()
	p.NationalAvgListSize = 10000
	if _, err := ops.CorrectPaymentParams(w.st, w.user(t, "admin"), "QOF2526", p, "new list size"); err != nil {
		t.Fatal(err)
	}
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "service"}}})
	press(tm, "230.00", "enter")
	for i := 0; i < 5; i++ {
		press(tm, "enter")
	}
	waitView(t, tm, "Why the correction?")
	press(tm, "vendor figure superseded", "enter")
	waitView(t, tm, "corrected in another session since you began", "list size 10,000", "press y to confirm")
}
