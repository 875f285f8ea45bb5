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
