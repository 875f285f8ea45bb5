package ops

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
)

// payFixture: A81001 (£6,000.00) and A81002 financially approved for
// QOFT, A81001 for LDT (£4,200.00), and A81001's prior-year QOF
// achievement of £120,000.00 (aspiration 80%: £8,000.00 a month).
func payFixture(t *testing.T) *wf {
	w := newWF(t)
	d := w.declared()
	w.must(Approve(w.s, w.u("carl"), w.qof.ID, "A81001", d.DeclaredHash))
	w.must(FinanceApprove(w.s, w.u("fin"), w.qof.ID, "A81001", d.DeclaredHash))

	w.join("QOFT", "A81002")
	w.must(w.extract(w.qof, "A81002", 1, qofValues(100, 50, 30)...))
	_, err := SaveManual(w.s, w.u("bob"), w.qof.ID, "A81002", map[domain.FieldKey]string{key("QI1", "REGISTER"): "3"}, true, 0)
	w.must(err)
	d2 := w.decl(w.qof, "A81002")
	w.must(Declare(w.s, w.u("bob"), w.qof.ID, "A81002", d2.InputsHash))
	w.must(Approve(w.s, w.u("carl"), w.qof.ID, "A81002", ""))
	w.must(FinanceApprove(w.s, w.u("fin"), w.qof.ID, "A81002", ""))

	w.join("LDT", "A81001")
	w.must(w.extract(w.ld, "A81001", 1, fv("LDCHK", "COUNT", 30)))
	_, err = SaveManual(w.s, w.u("ann"), w.ld.ID, "A81001", map[domain.FieldKey]string{key("LDREG", "REGISTER"): "40"}, true, 0)
	w.must(err)
	w.must(FinanceApprove(w.s, w.u("fin"), w.ld.ID, "A81001", ""))

	w.must(SetAspirationPrior(w.s, w.u("admin"), "QOFT", "A81001", 12000000, "2024/25 unadjusted achievement"))
	return w
}

func (w *wf) run(period string) *PaymentRunResult {
	w.t.Helper()
	w.reach(period)
	r, err := RunPayments(w.s, w.u("admin"), period)
	w.must(err)
	return r
}

func csvOf(t *testing.T, r *domain.PaymentRun) string {
	t.Helper()
	var b bytes.Buffer
	if err := WritePaymentCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// paidItems lists every paid item as "key-ish text = amount".
func (w *wf) paidItems() map[string]domain.Pence {
	w.t.Helper()
	out := map[string]domain.Pence{}
	w.must(w.s.View(func(tx *store.Tx) error {
		items, err := tx.PaidWithPrefix(nil)
		for _, it := range items {
			l := it.Line
			k := fmt.Sprintf("%s %s %s %s", l.Practice, l.Service, l.Component, l.Month)
			if _, dup := out[k]; dup {
				w.t.Fatalf("%s paid twice", k)
			}
			out[k] = l.Amount
		}
		return err
	}))
	return out
}

func total(m map[string]domain.Pence) domain.Pence {
	var t domain.Pence
	for _, v := range m {
		t += v
	}
	return t
}

func TestPaymentRunsPayEachItemOnce(t *testing.T) {
	w := payFixture(t)
	// Monthly aspiration runs.
	r := w.run("2025-04")
	if len(r.Run.Lines) != 1 || r.Run.Lines[0].Component != domain.PayAspiration || r.Run.Lines[0].Amount != 800000 || r.Run.Lines[0].Month != "2025-04" {
		t.Fatalf("April 2025 run %+v", r.Run.Lines)
	}
	first := csvOf(t, r.Run)
	again := w.run("2025-04")
	if !again.Existing || csvOf(t, again.Run) != first {
		t.Fatal("re-running April 2025 did not reproduce its file from the record")
	}
	r = w.run("2025-05")
	if len(r.Run.Lines) != 1 || r.Run.Lines[0].Month != "2025-05" {
		t.Fatalf("May 2025 run %+v", r.Run.Lines)
	}
	// A missed stretch is caught up in one run: June 2025 .. March 2026.
	r = w.run("2026-03")
	if len(r.Run.Lines) != 10 {
		t.Fatalf("March 2026 run has %d lines, want 10 aspiration months", len(r.Run.Lines))
	}
	// Financially approved, but the collection pays on 2026-06-30: not yet.
	r = w.run("2026-05")
	if len(r.Run.Lines) != 0 {
		t.Fatalf("May 2026 paid %+v before the payment date", r.Run.Lines)
	}
	r = w.run("2026-06")
	got := map[string]domain.Pence{}
	for _, l := range r.Run.Lines {
		got[l.Practice+" "+l.Service+" "+string(l.Component)] = l.Amount
		if l.Declaration == "" || l.FinanceApprovedBy != "fin" || l.FinanceApprovedAt.IsZero() {
			t.Errorf("line %+v does not name the approvals it rests on", l)
		}
	}
	a2 := w.decl(w.qof, "A81002").Amount
	want := map[string]domain.Pence{
		"A81001 LDT item-of-service": 420000,
		"A81001 QOFT reconciliation": 600000 - 9600000, // achievement less 12 x £8,000.00: negative
		"A81002 QOFT achievement":    a2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("June 2026 run %v\nwant %v", got, want)
	}
	for _, l := range r.Run.Lines {
		if l.Component == domain.PayReconciliation && !strings.Contains(l.RestsOn, "less aspiration paid £96,000.00") {
			t.Errorf("reconciliation rests on %q", l.RestsOn)
		}
	}
	for _, c := range []*domain.Collection{w.qof, w.ld} {
		if d := w.decl(c, "A81001"); d.State != domain.DeclPaid {
			t.Fatalf("%s A81001 is %s after payment", c.Label(), d.State)
		}
	}
	june := csvOf(t, r.Run)
	if !strings.Contains(june, "A81001,QOFT,reconciliation,2026-03-31,,-9000000,") {
		t.Fatalf("CSV:\n%s", june)
	}
	// Repeats and later periods pay nothing again.
	before := w.paidItems()
	if again := w.run("2026-06"); !again.Existing || csvOf(t, again.Run) != june || again.Pending != 0 {
		t.Fatal("re-running June 2026 did not give the same file")
	}
	if r := w.run("2026-07"); len(r.Run.Lines) != 0 {
		t.Fatalf("July 2026 paid %+v again", r.Run.Lines)
	}
	if after := w.paidItems(); len(after) != len(before) || len(after) != 15 {
		t.Fatalf("paid items %d -> %d, want 15 (12 aspiration, 3 declarations)", len(before), len(after))
	}
	// After reconciliation the prior-year figure cannot change.
	wantErr(t, SetAspirationPrior(w.s, w.u("admin"), "QOFT", "A81001", 100, "late"), ErrLocked)
	// Payment runs are the national administrator's.
	var den *domain.Denied
	if _, err := RunPayments(w.s, w.u("fin"), "2026-08"); !errors.As(err, &den) {
		t.Fatalf("finance ran payments: %v", err)
	}
	_, err := RunPayments(w.s, w.u("admin"), "2026-13")
	wantErr(t, err, nil, "want a month as YYYY-MM")
}

func TestPaymentRunInterruptedHalfWayPaysNothingThenEverything(t *testing.T) {
	w := payFixture(t)
	t.Cleanup(func() { payLineHook = nil })
	payLineHook = func(i int) error {
		if i == 7 {
			return errors.New("power cut")
		}
		return nil
	}
	w.reach("2026-06")
	_, err := RunPayments(w.s, w.u("admin"), "2026-06")
	wantErr(t, err, nil, "power cut")
	if n := len(w.paidItems()); n != 0 {
		t.Fatalf("an interrupted run left %d items paid", n)
	}
	if d := w.decl(w.qof, "A81001"); d.State != domain.DeclFinanciallyApproved {
		t.Fatalf("an interrupted run left the declaration %s", d.State)
	}
	payLineHook = nil
	r := w.run("2026-06")
	if r.Existing || len(r.Run.Lines) != 15 {
		t.Fatalf("the run after the interruption: existing %v, %d lines", r.Existing, len(r.Run.Lines))
	}
	paid := w.paidItems()
	if len(paid) != 15 || total(paid) != r.Run.Total() {
		t.Fatalf("paid %d items totalling %s; the run says %s", len(paid), total(paid), r.Run.Total())
	}
}

// The run is killed (a real process exit) half way through its
// transaction, and in a second case after its commit but before its file
// was written. Nothing is paid twice and nothing is lost.
func TestPaymentRunKilledHalfWay(t *testing.T) {
	if dir := os.Getenv("GPC_PAYKILL_DIR"); dir != "" {
		payKillChild(dir, os.Getenv("GPC_PAYKILL_MODE"))
		return
	}
	for _, mode := range []string{"mid-transaction", "after-commit"} {
		t.Run(mode, func(t *testing.T) {
			w := payFixture(t)
			dir := w.s.Dir()
			w.must(w.s.Close())
			cmd := exec.Command(os.Args[0], "-test.run=^TestPaymentRunKilledHalfWay$")
			cmd.Env = append(os.Environ(), "GPC_PAYKILL_DIR="+dir, "GPC_PAYKILL_MODE="+mode)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 7 {
				t.Fatalf("child: want exit status 7, got %v\n%s", err, out)
			}
			s, err := store.Open(dir, store.Options{Clock: w.clock.now, NoSync: true})
			w.must(err)
			t.Cleanup(func() { s.Close() })
			w.s = s
			paid := w.paidItems()
			switch mode {
			case "mid-transaction":
				if len(paid) != 0 {
					t.Fatalf("killed mid-run: %d items paid", len(paid))
				}
			case "after-commit":
				if len(paid) != 15 {
					t.Fatalf("killed after commit: %d items paid, want 15", len(paid))
				}
			}
			r := w.run("2026-06")
			if r.Existing != (mode == "after-commit") || len(r.Run.Lines) != 15 {
				t.Fatalf("run after the kill: existing %v, %d lines", r.Existing, len(r.Run.Lines))
			}
			file := csvOf(t, r.Run)
			r2 := w.run("2026-06")
			if !r2.Existing || csvOf(t, r2.Run) != file {
				t.Fatal("the repeated run did not reproduce the file")
			}
			paid = w.paidItems()
			if len(paid) != 15 || total(paid) != r.Run.Total() {
				t.Fatalf("paid %d items totalling %s; the run says %s", len(paid), total(paid), r.Run.Total())
			}
			if got := strings.Count(file, "\n"); got != 16 {
				t.Fatalf("file has %d lines, want a header and 15", got)
			}
		})
	}
}

// payKillChild runs in the child process: the run of June 2026, killed
// with os.Exit(7) after 7 lines inside the transaction, or after commit.
func payKillChild(dir, mode string) {
	s, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	admin, err := Actor(s, "admin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if mode == "mid-transaction" {
		payLineHook = func(i int) error {
			if i == 7 {
				os.Exit(7)
			}
			return nil
		}
	}
	if _, err := RunPayments(s, admin, "2026-06"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(7) // after commit, before any file is written
}

func TestAspirationPriorRefusals(t *testing.T) {
	w := newWF(t)
	var den *domain.Denied
	if err := SetAspirationPrior(w.s, w.u("fin"), "QOFT", "A81001", 100, ""); !errors.As(err, &den) {
		t.Fatalf("finance set a prior: %v", err)
	}
	wantErr(t, SetAspirationPrior(w.s, w.u("admin"), "LDT", "A81001", 100, ""), nil, "item-of-service")
	wantErr(t, SetAspirationPrior(w.s, w.u("admin"), "QOFT", "QWE", 100, ""), nil, "not a practice")
	wantErr(t, SetAspirationPrior(w.s, w.u("admin"), "QOFT", "A81001", -1, ""), nil, "negative")
	w.must(SetAspirationPrior(w.s, w.u("admin"), "QOFT", "A81001", 100, "first"))
	w.must(SetAspirationPrior(w.s, w.u("admin"), "QOFT", "A81001", 200, "corrected"))
	var e []domain.AuditEntry
	w.must(w.s.View(func(tx *store.Tx) error {
		var err error
		e, err = tx.AuditEntries(store.AuditFilter{Action: "payments.aspiration"})
		return err
	}))
	if len(e) != 2 || e[0].Before != "prior £1.00" || !strings.Contains(e[0].After, "£2.00 corrected") {
		t.Fatalf("audit %+v", e)
	}
	// Not taking part: no aspiration is paid.
	r := w.run("2025-04")
	if len(r.Run.Lines) != 0 {
		t.Fatalf("aspiration paid to a practice not taking part: %+v", r.Run.Lines)
	}
	w.join("QOFT", "A81001")
	r = w.run("2025-05")
	if len(r.Run.Lines) != 2 || r.Run.Lines[0].Amount+r.Run.Lines[1].Amount != 2*13 {
		// 80% of £2.00 = £1.60 a year: 13p a month for months 1-11.
		t.Fatalf("aspiration lines %+v", r.Run.Lines)
	}
}

// A year whose achievement was paid in full (no prior-year figure was
// recorded in time) is settled: recording the figure afterwards is refused,
// and no aspiration advance is paid against a year already paid.
func TestNoAspirationAfterTheYearsAchievementWasPaid(t *testing.T) {
	w := newWF(t)
	w.financiallyApproved()
	r := w.run("2026-06")
	if len(r.Run.Lines) != 1 || r.Run.Lines[0].Component != domain.PayAchievement {
		t.Fatalf("June 2026 run %+v", r.Run.Lines)
	}
	wantErr(t, SetAspirationPrior(w.s, w.u("admin"), "QOFT", "A81001", 12000000, "late"), ErrLocked)
	// Even with a figure recorded behind the operation's back, the run pays
	// no advance against the paid year.
	w.must(w.s.Update(w.u("admin"), func(tx *store.Tx) error {
		return tx.PutAspiration(&domain.AspirationBase{Service: "QOFT", Practice: "A81001", Prior: 12000000, SetBy: "admin", SetAt: tx.Now()})
	}))
	if r := w.run("2026-07"); len(r.Run.Lines) != 0 {
		t.Fatalf("July 2026 paid %d aspiration lines against a year already paid: %+v", len(r.Run.Lines), r.Run.Lines)
	}
}

// reach moves the clock to the first morning of a payment period when it is
// still before it: a run may not pay a month that has not begun.
func (w *wf) reach(period string) {
	w.t.Helper()
	p, err := domain.ParsePeriod(period)
	w.must(err)
	y, m, d := p.First().Civil()
	if first := time.Date(y, m, d, 9, 0, 0, 0, london); w.clock.now().Before(first) {
		w.clock.set(first)
	}
}

func TestPaymentRunForAMonthNotBegunIsRefused(t *testing.T) {
	w := newWF(t)
	_, err := RunPayments(w.s, w.u("admin"), "2026-05")
	if err == nil || !strings.Contains(err.Error(), "payment period 2026-05 has not begun (today is 2026-04-10 in England)") {
		t.Fatalf("got %v", err)
	}
	if n := len(w.paidItems()); n != 0 {
		t.Fatalf("a refused run paid %d items", n)
	}
}

// A practice that takes part from part-way through the year is paid the
// aspiration months its participation covers, not the months before it
// joined (the year-end reconciliation nets what was paid either way).
func TestAspirationFromTheMonthParticipationStarts(t *testing.T) {
	w := newWF(t)
	w.must(SetAspirationPrior(w.s, w.u("admin"), "QOFT", "A81001", 1200000, "prior year"))
	if _, err := Offer(w.s, w.u("carl"), "QOFT", []string{"A81001"}, domain.MustDate("2025-10-15"), domain.NoDate); err != nil {
		t.Fatal(err)
	}
	w.must(Accept(w.s, w.u("ann"), "QOFT", "A81001"))
	r := w.run("2025-12")
	var months []string
	for _, l := range r.Run.Lines {
		if l.Component == domain.PayAspiration {
			months = append(months, l.Month)
		}
	}
	if strings.Join(months, ",") != "2025-10,2025-11,2025-12" {
		t.Fatalf("aspiration months paid %v, want October (when it joined) to December", months)
	}
}
