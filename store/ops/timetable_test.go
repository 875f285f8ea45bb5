package ops

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/timetable"
	"gpcollections/store"
)

// ttStore is a store with an administrator, the shipped CHILDIMM2526 and
// QOF2526 services, a commissioner and one practice.
func ttStore(t *testing.T) (*store.Store, *domain.User) {
	t.Helper()
	s, err := store.Open(t.TempDir(), store.Options{NoSync: true,
		Clock: func() time.Time { return time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	admin, err := Bootstrap(s, "admin", "Admin", domain.PublicKey{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(admin, func(tx *store.Tx) error {
		for _, id := range []string{"CHILDIMM2526", "QOF2526"} {
			def, err := rulesets.Service(id)
			if err != nil {
				return err
			}
			if err := tx.PutService(def, 0); err != nil {
				return err
			}
		}
		if err := tx.PutOrg(&domain.Org{Code: "QWE", Kind: domain.OrgCommissioner, Name: "ICB"}); err != nil {
			return err
		}
		return tx.PutOrg(&domain.Org{Code: "A81001", Kind: domain.OrgPractice, Name: "Marsh Lane", Parent: "QWE"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, admin
}

func ttAudit(t *testing.T, s *store.Store, action string) []domain.AuditEntry {
	t.Helper()
	var es []domain.AuditEntry
	if err := s.View(func(tx *store.Tx) error {
		var err error
		es, err = tx.AuditEntries(store.AuditFilter{Action: action})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return es
}

func ttUser(t *testing.T, s *store.Store, admin *domain.User, name, bundle, org string, kind domain.OrgKind) *domain.User {
	t.Helper()
	u := bundleUser(t, name, bundle, org, kind)
	if err := AddUser(s, admin, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestGenerateTimetableIsAuditedAndSafeToRepeat(t *testing.T) {
	s, admin := ttStore(t)
	g, err := GenerateTimetable(s, admin, "CHILDIMM2526")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Added) != 12 || len(g.Present) != 0 || len(g.Moves) == 0 {
		t.Fatalf("generated %d, present %d, moves %d", len(g.Added), len(g.Present), len(g.Moves))
	}
	again, err := GenerateTimetable(s, admin, "CHILDIMM2526")
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Added) != 0 || len(again.Present) != 12 {
		t.Fatalf("second generate added %d", len(again.Added))
	}
	if es := ttAudit(t, s, "timetable.generate"); len(es) != 12 || !strings.Contains(es[0].After, "window") {
		t.Fatalf("%d audit entries", len(es))
	}
	list, err := Timetable(s, admin, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(list); i++ {
		if list[i].WindowStart < list[i-1].WindowStart {
			t.Fatal("timetable not in window order")
		}
	}
	// April's collection: the declaration deadline (Sat 24 May 2025) moved
	// over the spring bank holiday weekend.
	if c := list[0]; c.AchDate != domain.MustDate("2025-04-30") || c.DeclarationDeadline != domain.MustDate("2025-05-27") {
		t.Fatalf("first collection %+v", c)
	}
	if _, err := GenerateTimetable(s, admin, "NOPE2526"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown service: %v", err)
	}
}

func TestAddRescheduleCancelReopen(t *testing.T) {
	s, admin := ttStore(t)
	ch := NoDates()
	ch.Opens = domain.MustDate("2026-04-03") // Good Friday
	c, moves, err := AddCollection(s, admin, "QOF2526", domain.MustDate("2026-03-31"), ch, "year end")
	if err != nil {
		t.Fatal(err)
	}
	if c.WindowStart != domain.MustDate("2026-04-07") || len(moves) == 0 || moves[0].Why != "Good Friday, Saturday, Sunday, Easter Monday" {
		t.Fatalf("added %+v, moves %v", c, moves)
	}
	if _, _, err := AddCollection(s, admin, "QOF2526", domain.MustDate("2026-03-31"), NoDates(), ""); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second add: %v", err)
	}
	if _, _, err := AddCollection(s, admin, "QOF2526", domain.MustDate("2026-04-30"), NoDates(), ""); err == nil ||
		!strings.Contains(err.Error(), "outside the service period") {
		t.Fatalf("add outside the period: %v", err)
	}

	ch = NoDates()
	ch.Opens, ch.Closes = domain.MustDate("2026-04-01"), domain.MustDate("2026-04-10")
	c, _, err = Reschedule(s, admin, c.ID, ch, "supplier ready early")
	if err != nil {
		t.Fatal(err)
	}
	if c.WindowStart != domain.MustDate("2026-04-01") || c.WindowEnd != domain.MustDate("2026-04-10") || c.Status != domain.CollScheduled {
		t.Fatalf("rescheduled %+v", c)
	}
	es := ttAudit(t, s, "timetable.reschedule")
	if len(es) != 1 || !strings.Contains(es[0].Before, "window 2026-04-07..") || !strings.Contains(es[0].After, "window 2026-04-01..2026-04-10") ||
		!strings.Contains(es[0].After, "reason: supplier ready early") {
		t.Fatalf("reschedule audit %+v", es)
	}
	bad := NoDates()
	bad.DeclareBy = domain.MustDate("2026-04-02")
	if _, _, err := Reschedule(s, admin, c.ID, bad, ""); err == nil || !strings.Contains(err.Error(), "declaration deadline (2026-04-02) is before the window closes") {
		t.Fatalf("out of order: %v", err)
	}
	if _, _, err := Reschedule(s, admin, c.ID, NoDates(), ""); err == nil || !strings.Contains(err.Error(), "nothing to reschedule") {
		t.Fatalf("no change: %v", err)
	}

	if c, err = CancelCollection(s, admin, c.ID, "duplicate"); err != nil || c.Status != domain.CollCancelled {
		t.Fatalf("cancel: %v", err)
	}
	var te *domain.TransitionError
	if _, _, err := Reschedule(s, admin, c.ID, ch, ""); !errors.As(err, &te) || !strings.Contains(err.Error(), "reopen it first") {
		t.Fatalf("reschedule cancelled: %v", err)
	}
	if c, err = ReopenCollection(s, admin, c.ID, "needed after all"); err != nil || c.Status != domain.CollScheduled {
		t.Fatalf("reopen: %v", err)
	}
	if _, err := ReopenCollection(s, admin, c.ID, ""); !errors.As(err, &te) {
		t.Fatalf("reopen open: %v", err)
	}
	for _, a := range []string{"timetable.add", "collection.cancel", "collection.reopen"} {
		if es := ttAudit(t, s, a); len(es) != 1 || es[0].User != "admin" {
			t.Fatalf("%s audit: %+v", a, es)
		}
	}
}

func TestTimetableActionsFollowThePolicy(t *testing.T) {
	s, admin := ttStore(t)
	ann := ttUser(t, s, admin, "ann", "practice-staff", "A81001", domain.OrgPractice)
	support := ttUser(t, s, admin, "sue", "support", domain.NationalCode, domain.OrgNational)
	var denied *domain.Denied
	for _, u := range []*domain.User{ann, support} {
		if _, err := GenerateTimetable(s, u, "QOF2526"); !errors.As(err, &denied) {
			t.Fatalf("%s generating: %v", u.Name, err)
		}
	}
	c, _, err := AddCollection(s, admin, "QOF2526", domain.MustDate("2026-03-31"), NoDates(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CancelCollection(s, ann, c.ID, ""); !errors.As(err, &denied) {
		t.Fatalf("ann cancelling: %v", err)
	}
	if _, err := SetPaused(s, support, c.ID, true, ""); !errors.As(err, &denied) {
		t.Fatalf("support pausing: %v", err)
	}
	// Anyone signed in reads the timetable.
	if list, err := Timetable(s, ann, ""); err != nil || len(list) != 1 {
		t.Fatalf("ann reading: %v", err)
	}
	if es := ttAudit(t, s, "collection.cancel"); len(es) != 0 {
		t.Fatal("a refused action was audited as done")
	}
}

func TestLinkRelinkAndCheckSources(t *testing.T) {
	s, admin := ttStore(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "a81001")
	if _, err := LinkSource(s, admin, "A81001", src); err == nil || !strings.Contains(err.Error(), "cannot be linked") {
		t.Fatalf("missing directory: %v", err)
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LinkSource(s, admin, "A81001", src); err == nil || !strings.Contains(err.Error(), "no Patient.ndjson (required)") {
		t.Fatalf("no Patient file: %v", err)
	}
	os.WriteFile(filepath.Join(src, "Patient.ndjson"), []byte("{}\n"), 0o644)
	l, err := LinkSource(s, admin, "A81001", src)
	if err != nil {
		t.Fatal(err)
	}
	if !l.CheckOK || l.Dir != src || !strings.Contains(l.CheckNote, "1 resource files (Patient)") {
		t.Fatalf("link %+v", l)
	}
	if _, err := LinkSource(s, admin, "A81001", src); err == nil || !strings.Contains(err.Error(), "already linked") {
		t.Fatalf("same link twice: %v", err)
	}
	if _, err := LinkSource(s, admin, "QWE", src); err == nil || !strings.Contains(err.Error(), "only practices") {
		t.Fatalf("linking a commissioner: %v", err)
	}
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(src, moved); err != nil {
		t.Fatal(err)
	}
	l, err = CheckSource(s, admin, "A81001")
	if err == nil || l == nil || l.CheckOK || !strings.Contains(l.CheckNote, "no such file") {
		t.Fatalf("check of a moved source: %+v %v", l, err)
	}
	if l, err = LinkSource(s, admin, "A81001", moved); err != nil || l.Dir != moved {
		t.Fatalf("relink: %v", err)
	}
	if es := ttAudit(t, s, "source.relink"); len(es) != 1 || !strings.Contains(es[0].Before, src) || !strings.Contains(es[0].After, moved) {
		t.Fatalf("relink audit %+v", es)
	}
	if es := ttAudit(t, s, "source.check"); len(es) != 1 || !strings.Contains(es[0].After, "unusable") {
		t.Fatalf("check audit %+v", es)
	}
	ann := ttUser(t, s, admin, "ann", "practice-staff", "A81001", domain.OrgPractice)
	var denied *domain.Denied
	if _, err := LinkSource(s, ann, "A81001", moved); !errors.As(err, &denied) {
		t.Fatalf("practice user linking: %v", err)
	}
	if _, err := SourceLinks(s, ann, ""); !errors.As(err, &denied) {
		t.Fatalf("practice user listing sources: %v", err)
	}
	links, err := SourceLinks(s, admin, "")
	if err != nil || len(links) != 1 {
		t.Fatalf("links %v %v", links, err)
	}
}

// StepsOutstanding counts, per collection, the declarations a user may see
// that still await the step each deadline governs, so the timetable calls
// a passed deadline overdue only while its step is outstanding.
func TestStepsOutstandingFollowTheDeclarations(t *testing.T) {
	w := newWF(t)
	due := func(who string) StepsDue {
		t.Helper()
		m, err := StepsOutstanding(w.s, w.u(who))
		w.must(err)
		return m[w.qof.ID]
	}
	w.join("QOFT", "A81001")
	w.must(w.extract(w.qof, "A81001", 1, qofValues(200, 100, 90)...))
	for who, want := range map[string]StepsDue{"ann": {ToDeclare: 1}, "carl": {ToDeclare: 1}, "support": {ToDeclare: 1}, "bob": {}, "xav": {}, "req": {}} {
		if got := due(who); got != want {
			t.Errorf("calculated, seen by %s: %+v, want %+v", who, got, want)
		}
	}
	d := w.decl(w.qof, "A81001")
	w.must(Declare(w.s, w.u("ann"), w.qof.ID, "A81001", d.InputsHash))
	if got := due("carl"); got != (StepsDue{ToApprove: 1}) {
		t.Errorf("declared: %+v", got)
	}
	d = w.decl(w.qof, "A81001")
	w.must(Approve(w.s, w.u("carl"), w.qof.ID, "A81001", d.DeclaredHash))
	if got := due("carl"); got != (StepsDue{ToApprove: 1}) {
		t.Errorf("approved, awaiting the financial approval: %+v", got)
	}
	w.must(FinanceApprove(w.s, w.u("fin"), w.qof.ID, "A81001", d.DeclaredHash))
	if got := due("carl"); got != (StepsDue{}) {
		t.Errorf("financially approved: %+v", got)
	}
}

// A reschedule chosen looking at dates another session has since changed is
// refused in its own transaction, whatever the screen managed to notice,
// and changes nothing; from the current dates it goes ahead.
func TestRescheduleFromDatesMovedMeanwhileIsRefused(t *testing.T) {
	s, admin := ttStore(t)
	c, _, err := AddCollection(s, admin, "QOF2526", domain.MustDate("2026-03-31"), NoDates(), "")
	if err != nil {
		t.Fatal(err)
	}
	seen := timetable.DatesOf(c)
	other := NoDates()
	other.PayOn = c.PaymentDate.AddDays(-7)
	moved, _, err := Reschedule(s, admin, c.ID, other, "another administrator")
	if err != nil {
		t.Fatal(err)
	}
	mine := NoDates()
	mine.DeclareBy = c.DeclarationDeadline.AddDays(1)
	before := len(ttAudit(t, s, "timetable.reschedule"))
	if _, _, err := RescheduleFrom(s, admin, c.ID, &seen, mine, "mine"); !errors.Is(err, store.ErrConflict) ||
		!strings.Contains(err.Error(), "rescheduled by someone else") {
		t.Fatalf("a reschedule from stale dates: %v", err)
	}
	if n := len(ttAudit(t, s, "timetable.reschedule")); n != before {
		t.Fatalf("the refused reschedule was audited (%d entries, %d before)", n, before)
	}
	now := timetable.DatesOf(moved)
	got, _, err := RescheduleFrom(s, admin, c.ID, &now, mine, "mine")
	if err != nil {
		t.Fatal(err)
	}
	if got.PaymentDate != moved.PaymentDate || got.DeclarationDeadline == moved.DeclarationDeadline {
		t.Fatalf("from the current dates: %+v", got)
	}
}
