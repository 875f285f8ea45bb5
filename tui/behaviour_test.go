package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/session"
)

// open starts name's session and shows the screen called screen.
func (w *world) open(t *testing.T, name, screen string, sch bool) *teatest.TestModel {
	t.Helper()
	tm := w.run(t, name, sch)
	t.Cleanup(func() { _ = tm.Quit() })
	waitView(t, tm, "GP Collections")
	if screen == "home" {
		return tm
	}
	m := newModel(w.context(t, name, nil))
	for i, s := range m.tabs {
		if s.Name() == screen {
			press(tm, string(rune('0'+(i+1)%10)))
			waitView(t, tm, "["+string(rune('0'+(i+1)%10))+" ")
			return tm
		}
	}
	t.Fatalf("%s has no %s screen", name, screen)
	return nil
}

// tabNames lists the screens a user is offered.
func (w *world) tabNames(t *testing.T, name string) []string {
	var out []string
	for _, s := range newModel(w.context(t, name, nil)).tabs {
		out = append(out, s.Name())
	}
	return out
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func ctrl(tm *teatest.TestModel, t tea.KeyType) { tm.Send(tea.KeyMsg{Type: t}) }

// newRun stores a new extract run for a practice with one value changed and
// recalculates, as the scheduler does, without telling any session.
func (w *world) newRun(t *testing.T, coll uint64, practice, ind, field string, value int64) {
	t.Helper()
	err := w.st.Update(domain.SystemUser, func(tx *store.Tx) error {
		r, err := tx.Result(coll, practice)
		if err != nil {
			return err
		}
		vals := append([]domain.FieldValue(nil), r.Values...)
		for i := range vals {
			if vals[i].Indicator == ind && vals[i].Field == field {
				vals[i].Value = value
			}
		}
		if err := tx.PutResult(&domain.ExtractResult{Collection: coll, Practice: practice, Run: r.Run + 1, Values: vals,
			RuleSetHash: r.RuleSetHash, SourceHash: r.SourceHash + "+", Started: tx.Now(), Finished: tx.Now()}); err != nil {
			return err
		}
		c, err := tx.Collection(coll)
		if err != nil {
			return err
		}
		return ops.Recalculate(tx, c, practice, "extract run 2")
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPracticeUserNeverSeesAnotherPractice(t *testing.T) {
	w := newWorld(t)
	forbidden := []string{"A81002", "Hillview", "4,242", "4242", "B82001", "Far Away", "A81004", "Meadow"}
	for _, screen := range w.tabNames(t, "pat") {
		t.Run(screen, func(t *testing.T) {
			tm := w.open(t, "pat", screen, false)
			views := []string{waitView(t, tm, "GP Collections")}
			switch screen {
			case "achievement", "declare", "manual":
				press(tm, "p")
				views = append(views, waitView(t, tm, "Choose practice"))
				press(tm, "esc", "c")
				views = append(views, waitView(t, tm, "Choose collection"))
			case "audit":
				press(tm, "/")
				press(tm, "A8100", "enter")
				views = append(views, waitView(t, tm, `text="A8100"`))
			}
			for _, v := range views {
				for _, f := range forbidden {
					if strings.Contains(v, f) {
						t.Errorf("pat's %s screen shows %q:\n%s", screen, f, v)
					}
				}
			}
		})
	}
}

func TestCommissionerSeesOnlyItsPractices(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "cora", "queue", false)
	for i := 0; i < len(queueStatesForTest); i++ {
		v := waitView(t, tm, "Approval queue")
		if strings.Contains(v, "B82001") || strings.Contains(v, "Far Away") {
			t.Fatalf("cora's queue shows another commissioner's practice:\n%s", v)
		}
		press(tm, "s")
		waitView(t, tm, "status: "+queueStatesForTest[(i+1)%len(queueStatesForTest)]+" (s)")
	}
	tm = w.open(t, "cora", "achievement", false)
	press(tm, "p")
	v := waitView(t, tm, "Choose practice", "A81001", "A81004")
	if strings.Contains(v, "B82001") {
		t.Fatalf("cora may pick another commissioner's practice:\n%s", v)
	}
}

var queueStatesForTest = []string{"awaiting you", "declared", "approved", "returned", "financially-approved", "paid", "calculated"}

func TestFinanceViewGatesPounds(t *testing.T) {
	w := newWorld(t)
	if tabs := w.tabNames(t, "val"); has(tabs, "declare") || has(tabs, "manual") || has(tabs, "queue") {
		t.Fatalf("val (View only) is offered %v", tabs)
	}
	tm := w.open(t, "val", "achievement", false)
	press(tm, "c", "QOF", "enter")
	v := waitView(t, tm, "QOF2526 31 Mar 2026", "AST007")
	if !strings.Contains(v, "pounds hidden: needs Finance View") || strings.Contains(v, "£") || strings.Contains(v, "Pounds") {
		t.Fatalf("val without Finance View sees money:\n%s", v)
	}
	tm = w.open(t, "pat", "achievement", false)
	press(tm, "c", "QOF", "enter")
	v = waitView(t, tm, "QOF2526 31 Mar 2026", "AST007")
	if !strings.Contains(v, "Pounds") || !strings.Contains(v, "£6,738.63") {
		t.Fatalf("pat with Finance View does not see the pounds:\n%s", v)
	}
}

func TestRefusedActionsSayWhy(t *testing.T) {
	t.Run("the policy", func(t *testing.T) {
		w := newWorld(t)
		tm := w.open(t, "sue", "timetable", false)
		press(tm, "x")
		v := waitView(t, tm, "refused:")
		if !strings.Contains(v, "sue may not manage timetable") || !strings.Contains(v, "Timetable Administration") {
			t.Fatalf("the refusal does not say why:\n%s", v)
		}
	})
	t.Run("the lifecycle", func(t *testing.T) {
		w := newWorld(t)
		tm := w.open(t, "pat", "declare", false)
		press(tm, "c", "CHILDIMM2526 28 Feb", "enter")
		waitView(t, tm, "CHILDIMM2526 28 Feb 2026", "Financially Approved")
		press(tm, "d")
		v := waitView(t, tm, "refused:")
		if !strings.Contains(v, "nothing can be amended") {
			t.Fatalf("declaring a paid collection again is not refused with the reason:\n%s", v)
		}
	})
	t.Run("the deadline", func(t *testing.T) {
		w := newWorld(t)
		w.clock.Set(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
		tm := w.open(t, "cora", "queue", false)
		press(tm, "down", "a") // FLU: approval deadline 30 April
		v := waitView(t, tm, "refused:")
		if !strings.Contains(v, "past the deadline") || !strings.Contains(v, "2026-04-30") {
			t.Fatalf("a late approval is not refused with the deadline:\n%s", v)
		}
		d := w.declaration(t, "FLU2526 2026-03-31", "A81002")
		if d.State != domain.DeclDeclared {
			t.Fatalf("the refused approval changed the declaration to %s", d.State)
		}
	})
}

func (w *world) declaration(t *testing.T, coll, practice string) *domain.Declaration {
	t.Helper()
	id := w.coll(t, coll)
	return read(t, w, func(tx *store.Tx) (*domain.Declaration, error) { return tx.Declaration(id, practice) })
}

func TestManualEntryValidatesAsTyped(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "manual", false)
	waitView(t, tm, "LDHC2526 31 Mar 2026", "LDREG")
	press(tm, "enter", "12.5", "enter")
	v := waitView(t, tm, "problem")
	if !strings.Contains(v, `LDREG REGISTER: "12.5" is not a whole number`) {
		t.Fatalf("a decimal is not refused inline, naming indicator and field:\n%s", v)
	}
	press(tm, "enter")
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "5", "enter")
	v = waitView(t, tm, "LDHC001 COUNT 12")
	if !strings.Contains(v, "5 is below LDHC001 COUNT 12") {
		t.Fatalf("a register below the checks counted is not refused inline:\n%s", v)
	}
	press(tm, "S")
	waitView(t, tm, "to fix before submitting")
	press(tm, "enter")
	ctrl(tm, tea.KeyCtrlU)
	press(tm, "40", "enter")
	waitView(t, tm, "ok, unsaved", "1 change not saved yet")
	press(tm, "s")
	waitView(t, tm, "draft saved")
	ldhc := w.coll(t, "LDHC2526 2026-03-31")
	m := read(t, w, func(tx *store.Tx) (*domain.ManualEntry, error) { return tx.ManualEntry(ldhc, "A81001") })
	if m.State != domain.ManualDraft || len(m.Values) != 1 || m.Values[0].Value != 40 {
		t.Fatalf("the draft saved is %+v", m)
	}
	press(tm, "S")
	waitView(t, tm, "press y to confirm")
	press(tm, "y")
	waitView(t, tm, "submitted; the declaration was recalculated")
}

func TestDeclareWithStaleFiguresIsRefused(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "declare", false)
	press(tm, "c", "QOF", "enter")
	before := waitView(t, tm, "You will declare", "figures ref")
	// A new extract lands and nobody tells this session.
	w.newRun(t, w.coll(t, "QOF2526 2026-03-31"), "A81001", "DM020", domain.FieldNumerator, 300)
	press(tm, "d")
	waitView(t, tm, "exactly as shown")
	press(tm, "y")
	v := waitView(t, tm, "refused:")
	if !strings.Contains(v, "stale declaration: the figures changed since you looked") || !strings.Contains(v, "review the current values") {
		t.Fatalf("a stale declaration is not refused with the reason:\n%s", v)
	}
	if ref(before) == ref(v) {
		t.Fatalf("the screen still shows the old figures (ref %s)", ref(v))
	}
	if d := w.declaration(t, "QOF2526 2026-03-31", "A81001"); d.State != domain.DeclCalculated {
		t.Fatalf("the stale declaration went through: %s", d.State)
	}
	// Declaring what is now on screen works.
	press(tm, "d")
	waitView(t, tm, "exactly as shown")
	press(tm, "y")
	waitView(t, tm, "declared; it now awaits the commissioner")
	if d := w.declaration(t, "QOF2526 2026-03-31", "A81001"); d.State != domain.DeclDeclared {
		t.Fatalf("declaration is %s", d.State)
	}
}

func TestFiguresChangingDuringConfirmationCancelIt(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "declare", false)
	press(tm, "c", "QOF", "enter")
	waitView(t, tm, "You will declare")
	press(tm, "d")
	waitView(t, tm, "press y to confirm")
	coll := w.coll(t, "QOF2526 2026-03-31")
	w.newRun(t, coll, "A81001", "DM020", domain.FieldNumerator, 301)
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "result", Collection: coll, Practice: "A81001"}}})
	v := waitView(t, tm, "the figures changed while you were confirming")
	if strings.Contains(v, "press y to confirm") {
		t.Fatalf("the confirmation stayed open over new figures:\n%s", v)
	}
	press(tm, "y")
	time.Sleep(50 * time.Millisecond)
	if d := w.declaration(t, "QOF2526 2026-03-31", "A81001"); d.State != domain.DeclCalculated {
		t.Fatalf("a 'y' after the figures changed declared: %s", d.State)
	}
}

func ref(view string) string {
	_, after, _ := strings.Cut(view, "figures ref ")
	if len(after) >= 8 {
		return after[:8]
	}
	return after
}

func TestBulkApproval(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "cora", "queue", false)
	waitView(t, tm, "2 items, 0 selected")
	press(tm, "A")
	waitView(t, tm, "2 selected")
	press(tm, "a")
	waitView(t, tm, "Approve 2 declarations in bulk?")
	press(tm, "y")
	waitView(t, tm, "approved 2", "nothing in the queue")
	for _, c := range []string{"QOF2526 2026-03-31", "FLU2526 2026-03-31"} {
		if d := w.declaration(t, c, "A81002"); d.State != domain.DeclApproved {
			t.Fatalf("%s A81002 is %s after bulk approval", c, d.State)
		}
	}
}

func TestEscCancelsAndNeverConfirms(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "cora", "queue", false)
	press(tm, "r")
	waitView(t, tm, "The practice sees the reason")
	press(tm, "figures look wrong", "enter")
	waitView(t, tm, "Return the declaration of QOF2526 2026-03-31 for A81002", "press y to confirm")
	press(tm, "esc")
	waitView(t, tm, "cancelled; nothing changed")
	press(tm, "q") // a stray key after cancelling is not an answer either
	if d := w.declaration(t, "QOF2526 2026-03-31", "A81002"); d.State != domain.DeclDeclared {
		t.Fatalf("Esc returned the declaration: %s", d.State)
	}
}

func TestReturnWithReason(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "cora", "queue", false)
	press(tm, "r", "DM020 register looks short", "enter")
	waitView(t, tm, "press y to confirm")
	press(tm, "x") // not an answer
	press(tm, "y")
	waitView(t, tm, "returned 1")
	d := w.declaration(t, "QOF2526 2026-03-31", "A81002")
	if d.State != domain.DeclReturned || d.Reason != "DM020 register looks short" {
		t.Fatalf("returned declaration is %s with reason %q", d.State, d.Reason)
	}
}

func TestTooSmallTerminal(t *testing.T) {
	w := newWorld(t)
	m := New(w.context(t, "pat", nil))
	m, _ = m.Update(tea.WindowSizeMsg{Width: 60, Height: 20})
	v := m.View()
	if !strings.Contains(v, "terminal too small: need 80x24, have 60x20") {
		t.Fatalf("no too-small screen:\n%s", v)
	}
	if n := strings.Count(v, "\n") + 1; n != 20 {
		t.Fatalf("the too-small screen has %d lines for a 20-line terminal", n)
	}
	if _, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'2'}}); cmd != nil {
		t.Fatal("keys other than q act on a too-small screen")
	}
	m, _ = m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	v = m.View()
	if strings.Contains(v, "too small") || !strings.Contains(v, "Your tasks") {
		t.Fatalf("the screen did not come back at 80x24:\n%s", v)
	}
	if n := strings.Count(v, "\n") + 1; n != 24 {
		t.Fatalf("the view has %d lines for a 24-line terminal", n)
	}
	for _, l := range strings.Split(v, "\n") {
		if len([]rune(l)) > 80 {
			t.Fatalf("a line is wider than the terminal: %q", l)
		}
	}
}

func TestInvalidateRereadsWhatIsShown(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "achievement", false)
	press(tm, "c", "QOF", "enter")
	waitView(t, tm, "AST007          211     179     112")
	coll := w.coll(t, "QOF2526 2026-03-31")
	w.newRun(t, coll, "A81001", "AST007", domain.FieldNumerator, 150)
	// A change to another practice leaves this screen alone...
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "result", Collection: coll, Practice: "A81002"}}})
	waitView(t, tm, "AST007          211     179     112")
	// ...a change to this one is re-read at once.
	tm.Send(session.Invalidate{Changes: []store.Change{{Kind: "result", Collection: coll, Practice: "A81001"}}})
	waitView(t, tm, "AST007          211     179     150", "last change: extract run 2")
}

func TestCheckRunOnRequest(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "achievement", false)
	press(tm, "c", "QOF", "enter", "r")
	waitView(t, tm, "check runs need the extraction scheduler")

	tm = w.open(t, "pat", "achievement", true)
	press(tm, "c", "QOF", "enter", "r")
	waitView(t, tm, "Run a check of QOF2526 2026-03-31 for A81001")
	press(tm, "y")
	waitView(t, tm, "check run finished", "Check run 21 Apr 2026 10:00 by pat", "1 field differs")
}

func TestHelpAndTabs(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "home", false)
	press(tm, "?")
	waitView(t, tm, "shift+tab", "previous screen", "accept offer")
	ctrl(tm, tea.KeyTab)
	waitView(t, tm, "[2 Timetable]")
	tm.Send(tea.KeyMsg{Type: tea.KeyShiftTab})
	waitView(t, tm, "[1 Home]")
}

func TestUserChangesReshapeTheScreens(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "declare", false)
	u := w.user(t, "pat")
	if err := u.RemoveGrant(domain.Grant{Org: "A81001", Role: domain.RoleDeclarationManagement}); err != nil {
		t.Fatal(err)
	}
	tm.Send(session.UserChanged{User: u})
	v := waitView(t, tm, "[1 Home]")
	if strings.Contains(v, "Declaration") {
		t.Fatalf("the declaration screen is still offered without Declaration Management:\n%s", v)
	}
	off := *w.user(t, "pat")
	off.Disabled = true
	tm.Send(session.UserChanged{User: &off})
	waitView(t, tm, "your account has been disabled")
	press(tm, "x")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

func TestOpenTaskAndAnswerOffer(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "home", false)
	waitView(t, tm, "Answer offer: FLU2526 for A81001")
	press(tm, "a")
	waitView(t, tm, "accepted FLU2526 for A81001")
	p := read(t, w, func(tx *store.Tx) (*domain.Participation, error) { return tx.Participation("FLU2526", "A81001") })
	if p.State != domain.PartAccepted {
		t.Fatalf("participation is %s", p.State)
	}
	// The QOF declaration task opens the declaration screen on it.
	waitView(t, tm, "Declare QOF2526 31 Mar 2026 for A81001")
	selectRow(t, tm, "Your tasks", "Declare QOF2526")
	press(tm, "enter")
	waitView(t, tm, "[6 Declaration]", "QOF2526 31 Mar 2026", "You will declare")
}

// selectedLine is the index of the line marked with the cursor.
// selectRow presses down until the selected line (the one marked "> ")
// contains want, on a screen whose view shows title; it returns the view.
func selectRow(t *testing.T, tm *teatest.TestModel, title, want string) string {
	t.Helper()
	v := waitView(t, tm, title)
	for i := 0; !strings.Contains(strings.Split(v, "\n")[selectedLine(v)], want); i++ {
		if i > 15 {
			t.Fatalf("no row with %q to select:\n%s", want, v)
		}
		press(tm, "down")
		v = waitView(t, tm, title)
	}
	return v
}

func selectedLine(v string) int {
	for i, l := range strings.Split(v, "\n") {
		if strings.HasPrefix(l, "> ") {
			return i
		}
	}
	return 0
}

func TestMonitorControls(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "sue", "monitor", false)
	press(tm, "t")
	v := waitView(t, tm, "refused:")
	if !strings.Contains(v, "sue may not control extraction") {
		t.Fatalf("support is not refused the controls with the reason:\n%s", v)
	}
	tm = w.open(t, "admin", "monitor", false)
	press(tm, "t")
	waitView(t, tm, "no extraction scheduler runs in this process")

	tm = w.open(t, "admin", "monitor", true)
	selectFailedJob(t, tm)
	press(tm, "t")
	waitView(t, tm, "Why retry A81003")
	press(tm, "source fixed", "enter")
	waitView(t, tm, "retry queued for A81003")
	if j := w.job(t, "CHILDIMM2526 2026-03-31", "A81003"); j.State != domain.JobQueued {
		t.Fatalf("retried job is %s", j.State)
	}
}

// selectFailedJob puts the monitor's cursor on the seeded failed job
// (A81003's in CHILDIMM2526 2026-03-31).
func selectFailedJob(t *testing.T, tm *teatest.TestModel) {
	t.Helper()
	waitView(t, tm, "controls on", "A81003")
	selectRow(t, tm, "Extract monitor", "failed")
}

// job reads a practice's extraction job in a seeded collection.
func (w *world) job(t *testing.T, label, practice string) *domain.Job {
	t.Helper()
	id := w.coll(t, label)
	return read(t, w, func(tx *store.Tx) (*domain.Job, error) { return tx.Job(id, practice) })
}

func TestAdminKeysAndDisable(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "admin", "admin", false)
	selectRow(t, tm, "Administration", "> pat ")
	// Add a key by pasting an authorized_keys line.
	k := sshKey(t, "pat-laptop")
	press(tm, "k")
	waitView(t, tm, "Paste pat's public key")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k.Line + " pat@laptop\n"), Paste: true})
	press(tm, "enter")
	waitView(t, tm, "added key "+k.Fingerprint)
	if u := w.user(t, "pat"); len(u.Keys) != 2 {
		t.Fatalf("pat has %d keys", len(u.Keys))
	}
	// A bad line says what is wrong and adds nothing.
	press(tm, "k", "ssh-ed25519 not-a-key", "enter")
	waitView(t, tm, "public key", "key: ssh-ed25519 not-a-key")
	press(tm, "esc") // the prompt stays open on a bad line, text kept
	waitView(t, tm, "cancelled; nothing changed")
	if u := w.user(t, "pat"); len(u.Keys) != 2 {
		t.Fatalf("pat has %d keys after a bad line", len(u.Keys))
	}
	// Disabling asks first; Esc keeps the account.
	press(tm, "d")
	waitView(t, tm, "Disable pat (Pat Practice)?")
	press(tm, "esc")
	waitView(t, tm, "cancelled; nothing changed")
	if w.user(t, "pat").Disabled {
		t.Fatal("Esc disabled the account")
	}
	press(tm, "d", "y")
	waitView(t, tm, "disabled pat")
	if u := read(t, w, func(tx *store.Tx) (*domain.User, error) { return tx.User("pat") }); !u.Disabled {
		t.Fatal("pat is not disabled")
	}
}

// startQOFCorrection opens the admin's correction of QOF2526's payment
// parameters at the pounds-per-point prompt, emptied.
func (w *world) startQOFCorrection(t *testing.T) *teatest.TestModel {
	t.Helper()
	tm := w.open(t, "admin", "admin", false)
	press(tm, "s", "down", "down", "down")
	waitView(t, tm, "QOF2526 payment parameters")
	press(tm, "c")
	waitView(t, tm, "are in force from")
	press(tm, "enter") // keep the date
	waitView(t, tm, "Pounds per point")
	ctrl(tm, tea.KeyCtrlU)
	return tm
}

func TestAdminCorrectsPaymentParameters(t *testing.T) {
	w := newWorld(t)
	tm := w.startQOFCorrection(t)
	press(tm, "230.00", "enter")
	for i := 0; i < 5; i++ { // list size and four prevalences as they are
		press(tm, "enter")
	}
	waitView(t, tm, "Why the correction?")
	press(tm, "vendor figure superseded", "enter")
	waitView(t, tm, "£230.00 per point", "press y to confirm")
	press(tm, "y")
	waitView(t, tm, "QOF2526 corrected")
	p, _ := w.service(t, "QOF2526").LatestParams()
	if p.Version != 2 || p.PencePerPoint != 23000 || p.NationalAvgListSize != 9964 {
		t.Fatalf("corrected parameters are %+v", p)
	}
}

// TestEveryScreenFitsTheTerminal renders every screen of every role bundle
// at the smallest size the screens support and at a large one, with and
// without the full key help: each view is exactly the terminal's height and
// no line is wider than it.
func TestEveryScreenFitsTheTerminal(t *testing.T) {
	w := newWorld(t)
	for _, size := range [][2]int{{MinWidth, MinHeight}, {180, 50}} {
		for _, bu := range bundleUsers {
			ctx := w.context(t, bu.user, &fakeScheduler{st: w.st})
			ctx.Width, ctx.Height = size[0], size[1]
			var m tea.Model = New(ctx)
			for i, s := range m.(*Model).tabs {
				m, _ = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{rune('0' + (i+1)%10)}})
				for _, full := range []bool{false, true} {
					if full {
						m, _ = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'?'}})
					}
					v := m.View()
					lines := strings.Split(v, "\n")
					if len(lines) != size[1] {
						t.Errorf("%s %s at %dx%d (full help %v): %d lines", bu.user, s.Name(), size[0], size[1], full, len(lines))
					}
					for _, l := range lines {
						if lipgloss.Width(l) > size[0] {
							t.Errorf("%s %s at %dx%d: line wider than the terminal: %q", bu.user, s.Name(), size[0], size[1], l)
							break
						}
					}
					if !strings.Contains(v, "["+string(rune('0'+(i+1)%10))+" ") {
						t.Errorf("%s %s at %dx%d: the active tab is not marked:\n%s", bu.user, s.Name(), size[0], size[1], v)
					}
				}
				m, _ = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'?'}})
			}
		}
	}
}

func TestClosingNoticeShows(t *testing.T) {
	w := newWorld(t)
	tm := w.open(t, "pat", "timetable", false)
	tm.Send(session.Closing{Reason: "server shutting down", In: 10 * time.Second})
	waitView(t, tm, "! server shutting down: this session ends in 10s")
}

// TestScreensFollowOnlyTheirChanges: a stream of extraction progress
// redraws the monitor, not every practice user's home and audit screens.
func TestScreensFollowOnlyTheirChanges(t *testing.T) {
	w := newWorld(t)
	progress := session.Invalidate{Changes: []store.Change{{Kind: session.KindProgress, Collection: 1, Practice: "A81001"}}}
	decl := session.Invalidate{Changes: []store.Change{{Kind: "declaration", Collection: 1, Practice: "A81001"}}}
	other := session.Invalidate{Changes: []store.Change{{Kind: "declaration", Collection: 1, Practice: "A81002"}}}
	want := map[string][3]bool{ // progress, own declaration, another practice's declaration
		"home": {false, true, true}, "audit": {false, true, true}, "achievement": {false, true, false},
		// The timetable follows the declarations its user may see: they
		// decide whether a passed deadline is overdue.
		"declare": {false, true, false}, "timetable": {false, true, false},
	}
	for _, s := range newModel(w.context(t, "pat", nil)).tabs {
		s.Reload()
		exp, ok := want[s.Name()]
		if !ok {
			continue
		}
		got := [3]bool{s.Wants(progress), s.Wants(decl), s.Wants(other)}
		if got != exp {
			t.Errorf("%s wants (progress, own, other) = %v, want %v", s.Name(), got, exp)
		}
	}
	for _, s := range newModel(w.context(t, "admin", nil)).tabs {
		if s.Name() == "monitor" && !s.Wants(progress) {
			t.Error("the monitor ignores progress")
		}
	}
}
