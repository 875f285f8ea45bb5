package scheduler

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/store/sources"
)

// beforeYearEnd is a time before the QOF year-end window opens, so that
// tests decide when it runs.
var beforeYearEnd = time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)

func (f *fixture) declaration(coll uint64, practice string) *domain.Declaration {
	f.t.Helper()
	var d *domain.Declaration
	f.view(func(tx *store.Tx) error {
		var err error
		d, err = tx.Declaration(coll, practice)
		return err
	})
	return d
}

// extractAll runs a collection now and waits until the scheduler is idle.
func (f *fixture) extractAll(ch <-chan Event, id uint64) {
	f.t.Helper()
	if _, err := RunNow(f.s, f.admin, id); err != nil {
		f.t.Fatal(err)
	}
	waitEvent(f.t, ch, func(e Event) bool {
		return e.Kind == EvCollectionState && e.Collection == id && e.State == string(domain.CollExtracted)
	})
}

// A re-run replaces each practice's result (the previous run kept in
// history), sends a changed declaration back to awaiting declaration with
// reason "re-extracted", and leaves a financially approved one alone.
func TestRerunReplacesResultsKeepsHistoryAndRevertsDeclarations(t *testing.T) {
	f := newFixture(t, beforeYearEnd)
	f.addService("QOF2526")
	a := f.addPractice(0, 200, ach2526, false, "QOF2526")
	b := f.addPractice(1, 200, ach2526, false, "QOF2526")
	l := f.addPractice(2, 200, ach2526, false, "QOF2526")
	c := f.collection("QOF2526", ach2526)
	_, ch := f.start(Config{})
	f.extractAll(ch, c.ID)
	first, _ := f.result(c.ID, a)

	ann := practiceUser(t, f, "ann", a)
	d := f.declaration(c.ID, a)
	if err := ops.Declare(f.s, ann, c.ID, a, d.InputsHash); err != nil {
		t.Fatal(err)
	}
	if d := f.declaration(c.ID, a); d.State != domain.DeclDeclared {
		t.Fatalf("declaration %s", d.State)
	}
	// l's declaration is financially approved: nothing may change it.
	f.update(func(tx *store.Tx) error {
		d, err := tx.Declaration(c.ID, l)
		if err != nil {
			return err
		}
		d.State = domain.DeclFinanciallyApproved
		return tx.PutDeclaration(d)
	})
	// a's clinical system now holds different records.
	f.writeSource(filepath.Join(f.dir, "src", a), a, 260, 99, ach2526, false)

	if _, err := Rerun(f.s, f.admin, c.ID, "supplier fix"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, func(e Event) bool {
		return e.Kind == EvCollectionState && e.Collection == c.ID && e.State == string(domain.CollExtracted)
	})
	if got := f.coll(c.ID); got.Run != 2 || !strings.Contains(got.Note, "extracted 2 of 3 practices; 1 skipped") {
		t.Fatalf("collection run %d: %s", got.Run, got.Note)
	}
	for _, p := range []string{a, b} {
		r, hist := f.result(c.ID, p)
		if r == nil || r.Run != 2 || len(hist) != 1 || hist[0].Run != 1 {
			t.Fatalf("%s: result %+v, history %d", p, r, len(hist))
		}
	}
	if r, _ := f.result(c.ID, a); r.SourceHash == first.SourceHash || domain.ValuesHash(r.Values) == domain.ValuesHash(first.Values) {
		t.Fatal("the re-run did not extract the changed source")
	}
	if d := f.declaration(c.ID, a); d.State != domain.DeclCalculated || !strings.Contains(d.Reason, "re-extracted") {
		t.Fatalf("declaration after re-run: %s %q", d.State, d.Reason)
	}
	if r, hist := f.result(c.ID, l); r.Run != 1 || len(hist) != 0 {
		t.Fatalf("locked practice re-extracted: run %d", r.Run)
	}
	if j := f.job(c.ID, l); j.State != domain.JobCancelled || j.Note != lockedNote {
		t.Fatalf("locked practice's job %+v", j)
	}
	// A re-run of a running collection is refused by its transition.
	if _, err := Rerun(f.s, f.admin, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	var te *domain.TransitionError
	if _, err := Rerun(f.s, f.admin, c.ID, ""); !errors.As(err, &te) {
		t.Fatalf("second re-run: %v", err)
	}
}

func TestPauseHoldsTheWindowAndTheJobsUntilResumed(t *testing.T) {
	f := newFixture(t, time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC))
	f.addService("LDHC2526")
	p := f.addPractice(0, 40, ach2526, false, "LDHC2526")
	c := f.collection("LDHC2526", domain.MustDate("2025-06-30"))
	sc, ch := f.start(Config{})
	if _, err := sc.Pause(f.admin, c.ID, "supplier outage"); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Pause(f.admin, c.ID, ""); err == nil {
		t.Fatal("paused twice")
	}
	// The window opens on 1 July; paused, nothing happens.
	waitEvent(t, ch, func(e Event) bool { return e.Kind == EvIdle && e.Next.IsZero() })
	f.clock.Set(time.Date(2025, 7, 2, 0, 0, 0, 0, time.UTC))
	sc.Kick()
	e := waitIdle(t, ch, f.clock.Now())
	if got := f.coll(c.ID); got.Status != domain.CollScheduled || !e.Next.IsZero() {
		t.Fatalf("paused collection %s; next %s", got.Status, e.Next)
	}
	if _, err := sc.Resume(f.admin, c.ID, "supplier back"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, func(e Event) bool {
		return e.Kind == EvCollectionState && e.Collection == c.ID && e.State == string(domain.CollExtracted)
	})
	// Paused while extracting: queued jobs wait.
	if _, err := sc.Pause(f.admin, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Rerun(f.admin, c.ID, ""); err == nil || !strings.Contains(err.Error(), "paused") {
		t.Fatalf("re-run while paused: %v", err)
	}
	if _, err := sc.Resume(f.admin, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Rerun(f.admin, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Pause(f.admin, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, ch, f.clock.Now())
	if got := f.coll(c.ID); got.Status != domain.CollExtracting || f.job(c.ID, p).State != domain.JobQueued {
		// The job may have been claimed before the pause landed; then it
		// finished, which is also what pause promises.
		if f.job(c.ID, p).State != domain.JobSucceeded {
			t.Fatalf("paused: collection %s, job %s", got.Status, f.job(c.ID, p).State)
		}
	}
	if _, err := sc.Resume(f.admin, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, func(e Event) bool {
		return e.Kind == EvCollectionState && e.Collection == c.ID && e.Run == 2 && e.State == string(domain.CollExtracted)
	})
	if r, hist := f.result(c.ID, p); r.Run != 2 || len(hist) != 1 {
		t.Fatalf("result run %d, history %d", r.Run, len(hist))
	}
}

func TestCancelReopenAndRetry(t *testing.T) {
	f := newFixture(t, beforeYearEnd)
	f.addService("QOF2526")
	a := f.addPractice(0, 40, ach2526, false, "QOF2526")
	c := f.collection("QOF2526", ach2526)
	if _, err := RunNow(f.s, f.admin, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.CancelCollection(f.s, f.admin, c.ID, "wrong rules"); err != nil {
		t.Fatal(err)
	}
	if j := f.job(c.ID, a); j.State != domain.JobCancelled {
		t.Fatalf("job after cancel: %s", j.State)
	}
	sc, ch := f.start(Config{MaxAttempts: 1})
	waitIdle(t, ch, f.clock.Now())
	if r, _ := f.result(c.ID, a); r != nil {
		t.Fatal("a cancelled collection was extracted")
	}
	if _, err := ops.ReopenCollection(f.s, f.admin, c.ID, "rules fixed"); err != nil {
		t.Fatal(err)
	}
	// A practice that was never linked fails with what to do.
	b := practiceCode(9)
	f.update(func(tx *store.Tx) error {
		if err := tx.PutOrg(&domain.Org{Code: b, Kind: domain.OrgPractice, Name: "Unlinked", Parent: "QWE"}); err != nil {
			return err
		}
		return tx.PutParticipation(&domain.Participation{Service: "QOF2526", Practice: b, State: domain.PartAutoAccepted, From: domain.NoDate, To: domain.NoDate})
	})
	f.extractAll(ch, c.ID)
	if got := f.coll(c.ID); got.Run != 2 {
		t.Fatalf("run %d after reopen", got.Run)
	}
	j := f.job(c.ID, b)
	if j.State != domain.JobFailed || !strings.Contains(j.Error, "no source is linked to practice "+b+": link its clinical system's export with gpc source link") {
		t.Fatalf("unlinked practice: %+v", j)
	}
	if _, err := sc.Retry(f.admin, c.ID, a, ""); err == nil {
		t.Fatal("retried a practice that succeeded")
	}
	// Link it, retry it: it is extracted into the same run.
	f.writeSource(filepath.Join(f.dir, "src", b), b, 30, 9, ach2526, false)
	if _, err := ops.LinkSource(f.s, f.admin, b, filepath.Join(f.dir, "src", b)); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Retry(f.admin, c.ID, b, "linked"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, func(e Event) bool {
		return e.Kind == EvJobState && e.Practice == b && e.State == string(domain.JobSucceeded)
	})
	j = f.job(c.ID, b)
	if r, _ := f.result(c.ID, b); r == nil || r.Run != 2 || j.Attempts != 1 || !strings.HasPrefix(j.Note, "retry requested by admin") {
		t.Fatalf("after retry: result %+v job %+v", r, j)
	}
	if got := f.coll(c.ID); got.Status != domain.CollExtracted {
		t.Fatalf("collection %s", got.Status)
	}
}

// A check run extracts the practice's current source and shows how it
// differs from what was collected, replacing nothing.
func TestCheckRunComparesWithoutReplacing(t *testing.T) {
	f := newFixture(t, beforeYearEnd)
	f.addService("QOF2526")
	a := f.addPractice(0, 300, ach2526, false, "QOF2526")
	b := f.addPractice(1, 50, ach2526, false, "QOF2526")
	c := f.collection("QOF2526", ach2526)
	ann := practiceUser(t, f, "ann", a)
	deps := DefaultDeps(f.cache)
	if _, err := RunCheck(context.Background(), f.s, deps, false, ann, c.ID, a); err == nil || !strings.Contains(err.Error(), "nothing has been collected") {
		t.Fatalf("check before extraction: %v", err)
	}
	_, ch := f.start(Config{})
	f.extractAll(ch, c.ID)
	before, _ := f.result(c.ID, a)
	// The sources were read from their mapped caches, given back after
	// evaluation.
	waitUnmapped(t)

	// Unchanged source: everything agrees.
	cr, err := RunCheck(context.Background(), f.s, deps, false, ann, c.ID, a)
	if err != nil {
		t.Fatal(err)
	}
	if sources.Mapped() != 0 {
		t.Error("the check left its source mapped")
	}
	if len(cr.Diffs) != 0 || cr.Same != len(before.Values) || cr.Against != "extract run 1" {
		t.Fatalf("check of the same source: %+v", cr)
	}
	// The practice has since recorded more.
	f.writeSource(filepath.Join(f.dir, "src", a), a, 340, 0, ach2526, false)
	cr, err = RunCheck(context.Background(), f.s, deps, false, ann, c.ID, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.Diffs) == 0 || cr.Patients != 340 || cr.Same+len(cr.Diffs) != len(before.Values) {
		t.Fatalf("check of a changed source: %d diffs, %d same, %d patients", len(cr.Diffs), cr.Same, cr.Patients)
	}
	for _, d := range cr.Diffs {
		if !d.HasCollected || !d.HasCurrent || d.Collected == d.Current {
			t.Fatalf("diff %+v", d)
		}
	}
	after, hist := f.result(c.ID, a)
	if after.Version != before.Version || len(hist) != 0 {
		t.Fatal("a check replaced the collected result")
	}
	var stored *domain.CheckRun
	var audits int
	f.view(func(tx *store.Tx) error {
		var err error
		if stored, err = tx.CheckRun(c.ID, a); err != nil {
			return err
		}
		es, err := tx.AuditEntries(store.AuditFilter{Action: "extract.check"})
		audits = len(es)
		return err
	})
	if stored.RequestedBy != "ann" || len(stored.Diffs) != len(cr.Diffs) || audits != 2 {
		t.Fatalf("stored check %+v, %d audit entries", stored, audits)
	}
	// Another practice's user may not check a's data.
	var denied *domain.Denied
	if _, err := RunCheck(context.Background(), f.s, deps, false, practiceUser(t, f, "bob", b), c.ID, a); !errors.As(err, &denied) {
		t.Fatalf("bob checking a: %v", err)
	}
}
