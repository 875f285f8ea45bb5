package ops

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
)

// wfClock is the injectable clock of the workflow tests.
type wfClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *wfClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *wfClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// wf is a store with two commissioners, three practices, users of every
// role bundle, a points service (QOFT) and an item-of-service service
// (LDT), one collection of each, already extracted.
type wf struct {
	t     *testing.T
	s     *store.Store
	clock *wfClock
	users map[string]*domain.User
	qof   *domain.Collection
	ld    *domain.Collection
}

// Ten on 10 April 2026 (BST), between the extract and the declaration deadline.
var wfNow = time.Date(2026, 4, 10, 9, 0, 0, 0, time.UTC)

func qofService() *domain.ServiceDef {
	return &domain.ServiceDef{ID: "QOFT", Name: "QOF test", Year: "2025/26",
		Start: domain.MustDate("2025-04-01"), End: domain.MustDate("2026-03-31"),
		Frequency: domain.Annual, Kind: domain.KindPoints, DeclarationRequired: true, ApprovalRequired: true,
		RequestedBy: "NHSE01",
		Indicators: []domain.IndicatorDef{
			{ID: "REG1", Kind: domain.IndRegister, Entry: domain.EntryAutomatic},
			{ID: "ACH1", Kind: domain.IndAchievement, Entry: domain.EntryAutomatic, Points: 20, Lower: 4000, Upper: 8000,
				Register: "REG1", PrevalenceBased: true, Reasons: []string{"PCADEC"}},
			{ID: "QI1", Kind: domain.IndRegister, Entry: domain.EntryManual, Points: 10},
		},
		Payment: []domain.PaymentParams{{Version: 1, EffectiveFrom: domain.MustDate("2025-04-01"), PencePerPoint: 20000,
			NationalAvgListSize: 10000, NationalPrevalence: map[string]domain.Ratio{"REG1": {Num: 2, Den: 100}},
			AspirationShare: domain.Ratio{Num: 4, Den: 5}, ListSizeDate: "01-01"}},
	}
}

func ldService() *domain.ServiceDef {
	return &domain.ServiceDef{ID: "LDT", Name: "LD checks test", Year: "2025/26",
		Start: domain.MustDate("2025-04-01"), End: domain.MustDate("2026-03-31"),
		Frequency: domain.Annual, Kind: domain.KindItemOfService, AutoAccept: true,
		Indicators: []domain.IndicatorDef{
			{ID: "LDREG", Kind: domain.IndRegister, Entry: domain.EntryManual},
			{ID: "LDCHK", Kind: domain.IndCount, Entry: domain.EntryAutomatic, CapIndicator: "LDREG"},
		},
		Payment: []domain.PaymentParams{{Version: 1, EffectiveFrom: domain.MustDate("2025-04-01"), Fees: map[string]domain.Pence{"LDCHK": 14000}}},
	}
}

func bundleUser(t testing.TB, name, bundle, org string, kind domain.OrgKind) *domain.User {
	t.Helper()
	b, err := domain.BundleByName(bundle)
	if err != nil {
		t.Fatal(err)
	}
	u := &domain.User{Name: name, FullName: name}
	for _, r := range b.Roles {
		if err := u.AddGrant(domain.Grant{Org: org, OrgKind: kind, Role: r}); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func newWF(t *testing.T) *wf {
	t.Helper()
	clock := &wfClock{t: wfNow}
	s, err := store.Open(t.TempDir(), store.Options{Clock: clock.now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w := &wf{t: t, s: s, clock: clock, users: map[string]*domain.User{
		"admin":   bundleUser(t, "admin", "admin", domain.NationalCode, domain.OrgNational),
		"support": bundleUser(t, "support", "support", domain.NationalCode, domain.OrgNational),
		"ann":     bundleUser(t, "ann", "practice-staff", "A81001", domain.OrgPractice),
		"bob":     bundleUser(t, "bob", "practice-staff", "A81002", domain.OrgPractice),
		"carl":    bundleUser(t, "carl", "commissioner-approver", "QWE", domain.OrgCommissioner),
		"fin":     bundleUser(t, "fin", "commissioner-finance", "QWE", domain.OrgCommissioner),
		"xav":     bundleUser(t, "xav", "commissioner-approver", "QXX", domain.OrgCommissioner),
		"req":     bundleUser(t, "req", "requester", "NHSE01", domain.OrgRequester),
		"other":   bundleUser(t, "other", "requester", "DHSC01", domain.OrgRequester),
	}}
	jan := domain.MustDate("2026-01-01")
	err = s.Update(w.users["admin"], func(tx *store.Tx) error {
		for _, o := range []*domain.Org{
			{Code: domain.NationalCode, Kind: domain.OrgNational, Name: "GP Collections"},
			{Code: "QWE", Kind: domain.OrgCommissioner, Name: "South West London ICB"},
			{Code: "QXX", Kind: domain.OrgCommissioner, Name: "Kent ICB"},
			{Code: "NHSE01", Kind: domain.OrgRequester, Name: "NHS England analysts"},
			{Code: "DHSC01", Kind: domain.OrgRequester, Name: "Department of Health"},
			{Code: "A81001", Kind: domain.OrgPractice, Name: "Marsh Lane", Parent: "QWE", ListSizes: []domain.ListSize{{From: jan, Size: 10000}}},
			{Code: "A81002", Kind: domain.OrgPractice, Name: "Hill Road", Parent: "QWE", ListSizes: []domain.ListSize{{From: jan, Size: 5000}}},
			{Code: "B82001", Kind: domain.OrgPractice, Name: "Dover Street", Parent: "QXX", ListSizes: []domain.ListSize{{From: jan, Size: 8000}}},
		} {
			if err := tx.PutOrg(o); err != nil {
				return err
			}
		}
		for _, svc := range []*domain.ServiceDef{qofService(), ldService()} {
			if err := tx.PutService(svc, 0); err != nil {
				return err
			}
		}
		for _, u := range w.users {
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
		w.qof = wfCollection("QOFT")
		w.ld = wfCollection("LDT")
		if err := tx.AddCollection(w.qof); err != nil {
			return err
		}
		return tx.AddCollection(w.ld)
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func wfCollection(svc string) *domain.Collection {
	return &domain.Collection{Service: svc, AchDate: domain.MustDate("2026-03-31"), Status: domain.CollExtracted, Run: 1,
		WindowStart: domain.MustDate("2026-04-01"), WindowEnd: domain.MustDate("2026-04-07"),
		DeclarationDeadline: domain.MustDate("2026-04-24"), ApprovalDeadline: domain.MustDate("2026-05-15"),
		PaymentDate: domain.MustDate("2026-06-30")}
}

func (w *wf) u(name string) *domain.User { return w.users[name] }

// join offers a service to QWE's practices (carl) and has A81001 accept (ann).
func (w *wf) join(service string, practices ...string) {
	w.t.Helper()
	if _, err := Offer(w.s, w.u("carl"), service, practices, domain.NoDate, domain.NoDate); err != nil {
		w.t.Fatal(err)
	}
	for _, p := range practices {
		var part *domain.Participation
		_ = w.s.View(func(tx *store.Tx) error { part, _ = tx.Participation(service, p); return nil })
		if part.State == domain.PartOffered {
			who := map[string]string{"A81001": "ann", "A81002": "bob"}[p]
			if err := Accept(w.s, w.u(who), service, p); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

// extract stores a result as the scheduler does: PutResult then Recalculate
// in one transaction, as the system.
func (w *wf) extract(c *domain.Collection, practice string, run int, vals ...domain.FieldValue) error {
	return w.s.Update(domain.SystemUser, func(tx *store.Tx) error {
		r := &domain.ExtractResult{Collection: c.ID, Practice: practice, Run: run, Values: vals,
			RuleSetHash: "rules", SourceHash: "source", Started: tx.Now(), Finished: tx.Now()}
		if err := tx.PutResult(r); err != nil {
			return err
		}
		return Recalculate(tx, c, practice, "extract run "+strconv.Itoa(run))
	})
}

func fv(ind, field string, v int64) domain.FieldValue {
	return domain.FieldValue{Indicator: ind, Field: field, Value: v}
}

// qofValues are extract values: register reg, ACH1 num/den.
func qofValues(reg, den, num int64) []domain.FieldValue {
	return []domain.FieldValue{fv("REG1", "REGISTER", reg), fv("ACH1", "REGISTER", reg), fv("ACH1", "DENOMINATOR", den),
		fv("ACH1", "NUMERATOR", num), fv("ACH1", "PCADEC", 1)}
}

func (w *wf) decl(c *domain.Collection, practice string) *domain.Declaration {
	w.t.Helper()
	var d *domain.Declaration
	err := w.s.View(func(tx *store.Tx) error {
		var err error
		d, err = tx.Declaration(c.ID, practice)
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

func (w *wf) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func wantErr(t *testing.T, err error, target error, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error (%v), got none", target)
	}
	if target != nil && !errors.Is(err, target) {
		t.Fatalf("error %q: want it to be %v", err, target)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Fatalf("error %q: want it to mention %q", err, c)
		}
	}
}

// declared takes A81001's QOFT declaration to Declared with full ACH1 and QI1.
func (w *wf) declared() *domain.Declaration {
	w.t.Helper()
	w.join("QOFT", "A81001")
	w.must(w.extract(w.qof, "A81001", 1, qofValues(200, 100, 90)...))
	_, err := SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", map[domain.FieldKey]string{{Indicator: "QI1", Field: "REGISTER"}: "12"}, true, 0)
	w.must(err)
	d := w.decl(w.qof, "A81001")
	w.must(Declare(w.s, w.u("ann"), w.qof.ID, "A81001", d.InputsHash))
	return w.decl(w.qof, "A81001")
}

// financiallyApproved takes A81001's QOFT declaration through approval and
// financial approval: nothing about it may change after.
func (w *wf) financiallyApproved() *domain.Declaration {
	w.t.Helper()
	d := w.declared()
	w.must(Approve(w.s, w.u("carl"), w.qof.ID, "A81001", d.DeclaredHash))
	w.must(FinanceApprove(w.s, w.u("fin"), w.qof.ID, "A81001", d.DeclaredHash))
	return w.decl(w.qof, "A81001")
}

func TestRecalculateCreatesDeclarationWithFigures(t *testing.T) {
	w := newWF(t)
	w.join("QOFT", "A81001")
	w.must(w.extract(w.qof, "A81001", 1, qofValues(200, 100, 60)...))
	d := w.decl(w.qof, "A81001")
	if d.State != domain.DeclCalculated || d.Service != "QOFT" {
		t.Fatalf("declaration %+v", d)
	}
	// ACH1: 60% between 40% and 80% = 10 of 20 points; QI1 not entered: 0.
	// Pounds: 10 points x 200.00 x (register 200 / (10000 x 2%)) = 2,000.00.
	if d.Points != "10.00" || d.Amount != 200000 {
		t.Fatalf("points %s amount %s, want 10.00 and £2,000.00", d.Points, d.Amount)
	}
	if len(d.History) != 1 || d.History[0].By != domain.SystemUser.Name || d.History[0].Reason != "extract run 1" {
		t.Fatalf("history %+v", d.History)
	}
	// The same values again change nothing (no new history, same version).
	w.must(w.extract(w.qof, "A81001", 2, qofValues(200, 100, 60)...))
	if again := w.decl(w.qof, "A81001"); again.Version != d.Version {
		t.Fatalf("identical re-run rewrote the declaration: version %d -> %d", d.Version, again.Version)
	}
}

func TestNonParticipatingPracticeNotCalculated(t *testing.T) {
	w := newWF(t)
	w.must(w.extract(w.qof, "A81002", 1, qofValues(10, 10, 5)...))
	err := w.s.View(func(tx *store.Tx) error { _, err := tx.Declaration(w.qof.ID, "A81002"); return err })
	wantErr(t, err, store.ErrNotFound)
}

func TestDataChangeAfterDeclarationRevertsWithReason(t *testing.T) {
	for _, state := range []domain.State{domain.DeclDeclared, domain.DeclApproved, domain.DeclReturned} {
		t.Run(string(state), func(t *testing.T) {
			w := newWF(t)
			d := w.declared()
			switch state {
			case domain.DeclApproved:
				w.must(Approve(w.s, w.u("carl"), w.qof.ID, "A81001", d.DeclaredHash))
			case domain.DeclReturned:
				w.must(Return(w.s, w.u("carl"), w.qof.ID, "A81001", "check QI1"))
			}
			if got := w.decl(w.qof, "A81001").State; got != state {
				t.Fatalf("set-up state %s, want %s", got, state)
			}
			w.must(w.extract(w.qof, "A81001", 2, qofValues(200, 100, 95)...))
			after := w.decl(w.qof, "A81001")
			if after.State != domain.DeclCalculated {
				t.Fatalf("state after a new extract: %s, want calculated", after.State)
			}
			if !strings.Contains(after.Reason, "data changed after declaration") || !strings.Contains(after.Reason, "extract run 2") {
				t.Fatalf("reason %q", after.Reason)
			}
			last := after.History[len(after.History)-1]
			if last.Event != domain.EvDataChanged || last.From != state || last.Reason != after.Reason {
				t.Fatalf("last history %+v", last)
			}
			if after.Declared != nil || after.DeclaredHash != "" {
				t.Fatal("the stale declared snapshot was left standing")
			}
			// The practice declares again what it now sees.
			w.must(Declare(w.s, w.u("ann"), w.qof.ID, "A81001", after.InputsHash))
		})
	}
}

func TestAfterFinancialApprovalNothingChanges(t *testing.T) {
	w := newWF(t)
	locked := w.financiallyApproved()

	// A new extract with other values: refused, the result not stored.
	err := w.extract(w.qof, "A81001", 2, qofValues(200, 100, 10)...)
	wantErr(t, err, ErrLocked, "Financially Approved", "extract run 2")
	var lk *LockedError
	if !errors.As(err, &lk) || lk.Practice != "A81001" {
		t.Fatalf("want a *LockedError naming the practice, got %v", err)
	}
	err = w.s.View(func(tx *store.Tx) error {
		r, err := tx.Result(w.qof.ID, "A81001")
		if err == nil && r.Run != 1 {
			t.Fatalf("result run %d stored", r.Run)
		}
		ok, err := Locked(tx, w.qof.ID, "A81001")
		if !ok {
			t.Fatal("Locked says the financially approved declaration is not locked")
		}
		return err
	})
	w.must(err)
	// A manual correction: refused.
	_, err = SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", map[domain.FieldKey]string{{Indicator: "QI1", Field: "REGISTER"}: "13"}, true, 1)
	wantErr(t, err, ErrLocked)
	// A return: refused by the transition table.
	wantErr(t, Return(w.s, w.u("fin"), w.qof.ID, "A81001", "second thoughts"), nil, "after financial approval nothing can be amended")
	// A payment-parameter correction that would change it: refused, the
	// service unchanged.
	p := qofService().Payment[0]
	p.PencePerPoint = 30000
	_, err = CorrectPaymentParams(w.s, w.u("admin"), "QOFT", p, "wrong £ per point")
	wantErr(t, err, nil, "after financial approval nothing can be amended", "QOFT 2026-03-31 A81001")
	_, err = RecalculateService(w.s, w.u("admin"), "QOFT", "check")
	w.must(err) // nothing would change: allowed
	var svc *domain.ServiceDef
	_ = w.s.View(func(tx *store.Tx) error { svc, _ = tx.Service("QOFT"); return nil })
	if len(svc.Payment) != 1 {
		t.Fatalf("refused correction was kept: %d parameter versions", len(svc.Payment))
	}
	// A correction effective after the achievement date leaves it alone.
	p.EffectiveFrom = domain.MustDate("2026-04-01")
	w.must(func() error {
		_, err := CorrectPaymentParams(w.s, w.u("admin"), "QOFT", p, "from next year")
		return err
	}())
	// A list size change is recorded, and the locked declaration stands.
	w.must(SetListSize(w.s, w.u("admin"), "A81001", domain.MustDate("2026-01-01"), 20000))
	if now := w.decl(w.qof, "A81001"); now.Version != locked.Version || now.Amount != locked.Amount || now.State != domain.DeclFinanciallyApproved {
		t.Fatalf("financially approved declaration changed: %+v", now)
	}
}

func TestListSizeChangeRecalculatesOpenDeclarations(t *testing.T) {
	w := newWF(t)
	d := w.declared()
	// QI1 (10 points, not prevalence-based) is paid by CPI: list 10000 of
	// national 10000 gives 10 x 200.00; ACH1 full 20 points prevalence-based
	// 20 x 200.00 x 200/(10000 x 2%) = 4,000.00.
	if d.Amount != 600000 {
		t.Fatalf("amount %s, want £6,000.00", d.Amount)
	}
	// A list size from after the service's list size date changes nothing.
	w.must(SetListSize(w.s, w.u("admin"), "A81001", domain.MustDate("2026-02-01"), 20000))
	if got := w.decl(w.qof, "A81001"); got.State != domain.DeclDeclared || got.Version != d.Version {
		t.Fatalf("a list size after 1 January changed the declaration: %+v", got)
	}
	w.must(SetListSize(w.s, w.u("admin"), "A81001", domain.MustDate("2026-01-01"), 15000))
	got := w.decl(w.qof, "A81001")
	if got.State != domain.DeclCalculated || got.Amount != 700000 || !strings.Contains(got.Reason, "list size 15000") {
		t.Fatalf("after the list size change: state %s amount %s reason %q", got.State, got.Amount, got.Reason)
	}
}

func TestListSizeDateWithinServiceYear(t *testing.T) {
	svc := qofService()
	c := wfCollection("QOFT")
	for md, want := range map[string]string{"01-01": "2026-01-01", "04-01": "2025-04-01", "": "2026-03-31", "10-31": "2025-10-31"} {
		p := svc.Payment[0]
		p.ListSizeDate = md
		got, err := listSizeDate(svc, p, c)
		if err != nil || got.String() != want {
			t.Errorf("list size date %q: %s, %v; want %s", md, got, err, want)
		}
	}
	for _, bad := range []string{"13-01", "1-1", "Jan 1", "02-30x"} {
		p := svc.Payment[0]
		p.ListSizeDate = bad
		if _, err := listSizeDate(svc, p, c); err == nil || !strings.Contains(err.Error(), "QOFT") {
			t.Errorf("list size date %q: want an error naming the service, got %v", bad, err)
		}
	}
}

func TestCorrectPaymentParamsRecalculatesAtOnce(t *testing.T) {
	w := newWF(t)
	d := w.declared()
	p := qofService().Payment[0]
	p.PencePerPoint = 22549
	sum, err := CorrectPaymentParams(w.s, w.u("admin"), "QOFT", p, "vendor figure was wrong")
	w.must(err)
	if sum.Changed != 1 {
		t.Fatalf("summary %+v", sum)
	}
	got := w.decl(w.qof, "A81001")
	if got.State != domain.DeclCalculated || got.Amount == d.Amount || !strings.Contains(got.Reason, "vendor figure was wrong") {
		t.Fatalf("after correction: %+v", got)
	}
	_, err = CorrectPaymentParams(w.s, w.u("carl"), "QOFT", p, "x")
	var den *domain.Denied
	if !errors.As(err, &den) {
		t.Fatalf("a commissioner corrected payment parameters: %v", err)
	}
}

// Two stores in one process may hold the same service at the same record
// version with different definitions: each calculates with its own.
func TestCalculatorsAreNotSharedBetweenStores(t *testing.T) {
	points := func(w *wf, upper int) string {
		w.t.Helper()
		w.join("QOFT", "A81001")
		w.changeThresholdsBehindTheDeclarations(upper)
		w.must(w.extract(w.qof, "A81001", 1, qofValues(200, 100, 60)...))
		return w.decl(w.qof, "A81001").Points
	}
	if got := points(newWF(t), 9500); got != "7.27" {
		t.Fatalf("first store: %s points, want 7.27", got)
	}
	if got := points(newWF(t), 7000); got != "13.33" {
		t.Fatalf("second store: %s points, want 13.33 (the first store's calculator answered?)", got)
	}
}

// A correction written looking at parameter version 1 is refused once
// another correction (version 2) came first, and changes nothing; written
// from version 2 it goes ahead as version 3.
func TestCorrectionFromAStaleVersionIsRefused(t *testing.T) {
	w := newWF(t)
	w.declared()
	p := qofService().Payment[0]
	p.PencePerPoint = 22549
	if _, err := CorrectPaymentParams(w.s, w.u("admin"), "QOFT", p, "first"); err != nil {
		t.Fatal(err)
	}
	before := w.decl(w.qof, "A81001")
	p.PencePerPoint = 20000
	_, err := CorrectPaymentParamsFrom(w.s, w.u("admin"), "QOFT", 1, p, "second, from the old figures")
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "corrected by someone else") {
		t.Fatalf("a correction from a stale version: %v", err)
	}
	if got := w.decl(w.qof, "A81001"); got.Amount != before.Amount || got.Version != before.Version {
		t.Fatalf("the refused correction changed the declaration: %+v", got)
	}
	if _, err := CorrectPaymentParamsFrom(w.s, w.u("admin"), "QOFT", 2, p, "second"); err != nil {
		t.Fatal(err)
	}
	var svc *domain.ServiceDef
	w.must(w.s.View(func(tx *store.Tx) error { var err error; svc, err = tx.Service("QOFT"); return err }))
	if latest, _ := svc.LatestParams(); latest.Version != 3 || latest.PencePerPoint != 20000 {
		t.Fatalf("latest parameters %+v", latest)
	}
}
