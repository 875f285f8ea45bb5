package ops

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
)

func TestDeclareStoresTheSnapshotSeen(t *testing.T) {
	w := newWF(t)
	d := w.declared()
	if d.State != domain.DeclDeclared || d.DeclaredHash != d.InputsHash {
		t.Fatalf("declaration %+v", d)
	}
	want := "ACH1 DENOMINATOR=100, ACH1 NUMERATOR=90, ACH1 PCADEC=1, ACH1 REGISTER=200, QI1 REGISTER=12, REG1 REGISTER=200"
	if got := valuesText(d.Declared); got != want {
		t.Fatalf("declared values %s\nwant %s", got, want)
	}
	if d.Points != "30.00" || d.Amount != 600000 {
		t.Fatalf("declared %s points, %s", d.Points, d.Amount)
	}
	last := d.History[len(d.History)-1]
	if last.By != "ann" || last.Event != domain.EvDeclare {
		t.Fatalf("history %+v", last)
	}
	var entries []domain.AuditEntry
	w.must(w.s.View(func(tx *store.Tx) error {
		var err error
		entries, err = tx.AuditEntries(store.AuditFilter{Action: "declaration.declare"})
		return err
	}))
	if len(entries) != 1 || !strings.Contains(entries[0].After, "QI1 REGISTER=12") || entries[0].User != "ann" {
		t.Fatalf("audit %+v", entries)
	}
}

func TestEveryRefusalSaysWhy(t *testing.T) {
	w := newWF(t)
	d := w.declared()
	var den *domain.Denied
	// Wrong role: a practice approving; the commissioner's finance approving
	// before approval; a requester declaring.
	if err := Approve(w.s, w.u("ann"), w.qof.ID, "A81001", ""); !errors.As(err, &den) || !strings.Contains(err.Error(), "Approval Management") {
		t.Fatalf("practice approving its own declaration: %v", err)
	}
	wantErr(t, FinanceApprove(w.s, w.u("fin"), w.qof.ID, "A81001", ""), nil, "the commissioner has not approved yet")
	// Wrong organisation: another commissioner's approver; another practice.
	if err := Approve(w.s, w.u("xav"), w.qof.ID, "A81001", ""); !errors.As(err, &den) || den.Target.Org != "A81001" {
		t.Fatalf("another commissioner approving: %v", err)
	}
	if err := Declare(w.s, w.u("bob"), w.qof.ID, "A81001", d.InputsHash); !errors.As(err, &den) {
		t.Fatalf("another practice declaring: %v", err)
	}
	// The scheduler may never decide.
	if err := Approve(w.s, domain.SystemUser, w.qof.ID, "A81001", ""); !errors.As(err, &den) || !strings.Contains(err.Error(), "not the scheduler") {
		t.Fatalf("system approving: %v", err)
	}
	// A return needs a reason.
	wantErr(t, Return(w.s, w.u("carl"), w.qof.ID, "A81001", "  "), nil, "needs a reason")
	// Stale: an approver who saw other figures.
	wantErr(t, Approve(w.s, w.u("carl"), w.qof.ID, "A81001", "not-what-was-declared"), ErrStale)
	// Past the approval deadline (inclusive, in England).
	w.clock.set(time.Date(2026, 5, 15, 22, 59, 0, 0, time.UTC)) // 23:59 BST on the deadline
	w.must(Approve(w.s, w.u("carl"), w.qof.ID, "A81001", d.DeclaredHash))
	w.clock.set(time.Date(2026, 5, 15, 23, 0, 0, 0, time.UTC)) // 00:00 BST the day after
	wantErr(t, FinanceApprove(w.s, w.u("fin"), w.qof.ID, "A81001", ""), ErrDeadline, "approval deadline was 2026-05-15", "today is 2026-05-16")
	// Not taking part any more.
	w.clock.set(wfNow)
	w.must(Withdraw(w.s, w.u("carl"), "QOFT", "A81001", "closed"))
	wantErr(t, FinanceApprove(w.s, w.u("fin"), w.qof.ID, "A81001", ""), ErrNotParticipating)
}

func TestDeclareRefusals(t *testing.T) {
	w := newWF(t)
	w.join("QOFT", "A81001")
	w.must(w.extract(w.qof, "A81001", 1, qofValues(200, 100, 60)...))
	d := w.decl(w.qof, "A81001")
	// Stale: the screen showed other figures.
	err := Declare(w.s, w.u("ann"), w.qof.ID, "A81001", "old-hash")
	wantErr(t, err, ErrStale, "QOFT 2026-03-31, A81001", "figures changed since you looked")
	// Wrong role: View only.
	viewer := &domain.User{Name: "vic", Grants: []domain.Grant{{Org: "A81001", OrgKind: domain.OrgPractice, Role: domain.RoleView}}}
	var den *domain.Denied
	if err := Declare(w.s, viewer, w.qof.ID, "A81001", d.InputsHash); !errors.As(err, &den) || !strings.Contains(err.Error(), "Declaration Management") {
		t.Fatalf("View-only declaring: %v", err)
	}
	// Past the declaration deadline, named in the message.
	w.clock.set(time.Date(2026, 4, 24, 23, 30, 0, 0, time.UTC)) // 00:30 BST on the 25th
	wantErr(t, Declare(w.s, w.u("ann"), w.qof.ID, "A81001", d.InputsHash), ErrDeadline, "declaration deadline was 2026-04-24")
	// An administrator extends it (audited); the declaration is then in time.
	wantErr(t, ExtendDeadline(w.s, w.u("carl"), w.qof.ID, DeadlineDeclaration, domain.MustDate("2026-04-30"), "bank holiday"), nil, "Timetable Administration")
	wantErr(t, ExtendDeadline(w.s, w.u("admin"), w.qof.ID, DeadlineDeclaration, domain.MustDate("2026-04-20"), "oops"), nil, "not after the current one")
	wantErr(t, ExtendDeadline(w.s, w.u("admin"), w.qof.ID, DeadlineDeclaration, domain.MustDate("2026-05-20"), "long"), nil, "extend the approval deadline first")
	w.must(ExtendDeadline(w.s, w.u("admin"), w.qof.ID, DeadlineDeclaration, domain.MustDate("2026-04-30"), "system outage on the 24th"))
	w.must(Declare(w.s, w.u("ann"), w.qof.ID, "A81001", d.InputsHash))
	var e []domain.AuditEntry
	w.must(w.s.View(func(tx *store.Tx) error {
		var err error
		e, err = tx.AuditEntries(store.AuditFilter{Action: "collection.extend-deadline"})
		return err
	}))
	if len(e) != 1 || e[0].Before != "declaration deadline 2026-04-24" || !strings.Contains(e[0].After, "2026-04-30: system outage") {
		t.Fatalf("audit %+v", e)
	}
	// Declaring twice is refused by the transition table, with its reason.
	wantErr(t, Declare(w.s, w.u("ann"), w.qof.ID, "A81001", d.InputsHash), nil, "already declared and awaiting the commissioner")
}

func TestDeclareBringsALaggingDeclarationUpToDate(t *testing.T) {
	w := newWF(t)
	w.join("QOFT", "A81001")
	w.must(w.extract(w.qof, "A81001", 1, qofValues(200, 100, 60)...))
	d := w.decl(w.qof, "A81001")
	// The service definition changes behind the declaration's back (a
	// thresholds fix stored without recalculation).
	w.changeThresholdsBehindTheDeclarations(7000)
	err := Declare(w.s, w.u("ann"), w.qof.ID, "A81001", d.InputsHash)
	wantErr(t, err, ErrStale)
	now := w.decl(w.qof, "A81001")
	if now.InputsHash == d.InputsHash || now.Points != "13.33" {
		t.Fatalf("declaration not recalculated: %+v", now)
	}
	w.must(Declare(w.s, w.u("ann"), w.qof.ID, "A81001", now.InputsHash))
}

func TestNoDeclarationAndNoApprovalRequired(t *testing.T) {
	w := newWF(t)
	// LDT: no declaration, no approval; auto-accepted.
	w.join("LDT", "A81001")
	w.must(w.extract(w.ld, "A81001", 1, fv("LDCHK", "COUNT", 30)))
	d := w.decl(w.ld, "A81001")
	if d.State != domain.DeclApproved || d.Amount != 0 {
		t.Fatalf("state %s amount %s: want approved at once (cap LDREG not given: nothing payable)", d.State, d.Amount)
	}
	var steps []string
	for _, h := range d.History {
		steps = append(steps, fmt.Sprintf("%s by %s", h.Event, h.By))
	}
	if got := strings.Join(steps, ", "); got != "calculate by system, declare by system, approve by system" {
		t.Fatalf("history %s", got)
	}
	if !strings.Contains(d.History[1].Reason, "no declaration required") || !strings.Contains(d.History[2].Reason, "no approval required") {
		t.Fatalf("reasons %+v", d.History)
	}
	// A manual register caps the count: recalculated, declared and approved again.
	_, err := SaveManual(w.s, w.u("ann"), w.ld.ID, "A81001", map[domain.FieldKey]string{{Indicator: "LDREG", Field: "REGISTER"}: "40"}, true, 0)
	w.must(err)
	d = w.decl(w.ld, "A81001")
	if d.State != domain.DeclApproved || d.Amount != 30*14000 || len(d.Declared) != 2 {
		t.Fatalf("after manual register: %s %s %v", d.State, d.Amount, d.Declared)
	}
	// Finance still approves, by a person.
	w.must(FinanceApprove(w.s, w.u("fin"), w.ld.ID, "A81001", d.DeclaredHash))

	// A service with declaration but no approval: the practice's declaration approves it.
	w.must(w.s.Update(w.u("admin"), func(tx *store.Tx) error {
		def, ver, err := tx.ServiceVersion("QOFT")
		if err != nil {
			return err
		}
		def.ApprovalRequired = false
		return tx.PutService(def, ver)
	}))
	got := w.declared()
	if got.State != domain.DeclApproved || got.History[len(got.History)-1].By != domain.SystemUser.Name {
		t.Fatalf("no approval required: %+v", got)
	}
}

// Many approvers approving the same declaration at once through ops:
// exactly one approval lands; every other gets the reason.
func TestConcurrentDoubleApprovalThroughOps(t *testing.T) {
	w := newWF(t)
	d := w.declared()
	approvers := []*domain.User{w.u("carl"), bundleUser(t, "cath", "commissioner-approver", "QWE", domain.OrgCommissioner)}
	for round := 0; round < 25; round++ {
		if round > 0 {
			w.must(Return(w.s, w.u("carl"), w.qof.ID, "A81001", "round"))
			w.must(Declare(w.s, w.u("ann"), w.qof.ID, "A81001", d.InputsHash))
		}
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(u *domain.User) {
				defer wg.Done()
				<-start
				errs <- Approve(w.s, u, w.qof.ID, "A81001", d.InputsHash)
			}(approvers[i%2])
		}
		close(start)
		wg.Wait()
		close(errs)
		wins := 0
		for err := range errs {
			var te *domain.TransitionError
			switch {
			case err == nil:
				wins++
			case errors.As(err, &te) && te.Reason == "already approved":
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d approvals landed, want exactly 1", round, wins)
		}
		got := w.decl(w.qof, "A81001")
		approvals := 0
		for _, h := range got.History {
			if h.Event == domain.EvApprove {
				approvals++
			}
		}
		if got.State != domain.DeclApproved || approvals != round+1 {
			t.Fatalf("round %d: state %s with %d approvals in history", round, got.State, approvals)
		}
	}
}

// A declaration racing a new extract: either the declaration sees the new
// data (it is refused as stale and the practice sees why), or it lands
// first and the new data sends it back with the reason. Never a declaration
// of stale values left standing.
func TestDeclareRacingANewExtract(t *testing.T) {
	w := newWF(t)
	w.join("QOFT", "A81001")
	w.must(w.extract(w.qof, "A81001", 1, qofValues(200, 100, 50)...))
	outcomes := map[string]int{}
	for run := 2; run < 62; run++ {
		seen := w.decl(w.qof, "A81001").InputsHash
		var wg sync.WaitGroup
		var declErr, extErr error
		start := make(chan struct{})
		wg.Add(2)
		go func() { defer wg.Done(); <-start; declErr = Declare(w.s, w.u("ann"), w.qof.ID, "A81001", seen) }()
		go func() {
			defer wg.Done()
			<-start
			extErr = w.extract(w.qof, "A81001", run, qofValues(200, 100, int64(50+run%40))...)
		}()
		close(start)
		wg.Wait()
		w.must(extErr)
		d := w.decl(w.qof, "A81001")
		var current *Figures
		w.must(w.s.View(func(tx *store.Tx) error {
			var err error
			current, err = CurrentFigures(tx, w.qof, "A81001")
			return err
		}))
		if d.InputsHash != current.Hash {
			t.Fatalf("run %d: declaration figures lag behind the stored inputs", run)
		}
		if d.State == domain.DeclDeclared && d.DeclaredHash != current.Hash {
			t.Fatalf("run %d: a declaration of stale values is standing", run)
		}
		switch {
		case declErr == nil && d.State == domain.DeclCalculated && strings.Contains(d.Reason, "data changed after declaration"):
			outcomes["declared, then sent back"]++
		case errors.Is(declErr, ErrStale) && d.State == domain.DeclCalculated:
			outcomes["refused as stale"]++
		default:
			t.Fatalf("run %d: declare error %v, state %s, reason %q", run, declErr, d.State, d.Reason)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

func TestBulkApprovalItemByItemInOneTransaction(t *testing.T) {
	w := newWF(t)
	d := w.declared()
	w.join("QOFT", "A81002")
	w.must(w.extract(w.qof, "A81002", 1, qofValues(100, 50, 45)...))
	// B82001 belongs to QXX.
	_, err := Offer(w.s, w.u("xav"), "QOFT", []string{"B82001"}, domain.NoDate, domain.NoDate)
	w.must(err)
	refs := []DeclRef{
		{Collection: w.qof.ID, Practice: "A81001", Seen: d.DeclaredHash},
		{Collection: w.qof.ID, Practice: "A81002"}, // calculated, not declared
		{Collection: w.qof.ID, Practice: "B82001"}, // another commissioner's
		{Collection: 999, Practice: "A81001"},      // no such collection
	}
	res, err := ApproveMany(w.s, w.u("carl"), refs)
	w.must(err)
	if len(res) != 4 || res[0].Err != nil || res[0].State != domain.DeclApproved {
		t.Fatalf("results %+v", res)
	}
	for i, want := range []string{"", "the practice has not declared", "may not approve", "not found"} {
		if want != "" && (res[i].Err == nil || !strings.Contains(res[i].Error, want)) {
			t.Errorf("item %d (%s): %q, want it to say %q", i, res[i].Ref, res[i].Error, want)
		}
	}
	if w.decl(w.qof, "A81001").State != domain.DeclApproved {
		t.Fatal("the good item was not kept")
	}
	// Bulk return needs a reason; with one it returns each.
	_, err = ReturnMany(w.s, w.u("carl"), refs[:1], "")
	wantErr(t, err, nil, "needs a reason")
	res, err = ReturnMany(w.s, w.u("carl"), refs[:2], "QI1 looks wrong")
	w.must(err)
	if res[0].Err != nil || res[1].Err == nil {
		t.Fatalf("bulk return %+v", res)
	}
	if got := w.decl(w.qof, "A81001"); got.State != domain.DeclReturned || got.Reason != "QI1 looks wrong" {
		t.Fatalf("returned declaration %+v", got)
	}
}

func TestQueueScopedToTheApprover(t *testing.T) {
	w := newWF(t)
	w.declared()
	// B82001 under QXX declares too.
	_, err := Offer(w.s, w.u("xav"), "QOFT", []string{"B82001"}, domain.NoDate, domain.NoDate)
	w.must(err)
	w.must(Accept(w.s, bundleUser(t, "dot", "practice-staff", "B82001", domain.OrgPractice), "QOFT", "B82001"))
	w.must(w.extract(w.qof, "B82001", 1, qofValues(150, 80, 70)...))
	dot := bundleUser(t, "dot", "practice-staff", "B82001", domain.OrgPractice)
	w.must(Declare(w.s, dot, w.qof.ID, "B82001", w.decl(w.qof, "B82001").InputsHash))

	q, err := Queue(w.s, w.u("carl"), QueueFilter{})
	w.must(err)
	if len(q) != 1 || q[0].Ref.Practice != "A81001" || q[0].Status != "Awaiting Commissioning Organisation Approval" || q[0].DeclaredBy != "ann" {
		t.Fatalf("carl's queue %+v", q)
	}
	if !q[0].MoneyShown || q[0].Amount != 600000 || q[0].Ref.Seen == "" {
		t.Fatalf("queue item money / hash: %+v", q[0])
	}
	q, err = Queue(w.s, w.u("xav"), QueueFilter{})
	w.must(err)
	if len(q) != 1 || q[0].Ref.Practice != "B82001" {
		t.Fatalf("xav's queue %+v", q)
	}
	// Finance sees nothing until approval, then the approved one.
	q, _ = Queue(w.s, w.u("fin"), QueueFilter{})
	if len(q) != 0 {
		t.Fatalf("finance queue before approval %+v", q)
	}
	w.must(Approve(w.s, w.u("carl"), w.qof.ID, "A81001", ""))
	q, _ = Queue(w.s, w.u("fin"), QueueFilter{})
	if len(q) != 1 || q[0].State != domain.DeclApproved {
		t.Fatalf("finance queue %+v", q)
	}
	// Filters.
	q, _ = Queue(w.s, w.u("support"), QueueFilter{State: domain.DeclDeclared})
	if len(q) != 1 || q[0].Ref.Practice != "B82001" || q[0].MoneyShown {
		t.Fatalf("support's declared filter %+v", q)
	}
	q, _ = Queue(w.s, w.u("support"), QueueFilter{State: domain.DeclDeclared, Service: "LDT"})
	if len(q) != 0 {
		t.Fatalf("service filter %+v", q)
	}
}

func TestViewDeclarationHidesMoneyWithoutFinanceView(t *testing.T) {
	w := newWF(t)
	w.declared()
	viewer := &domain.User{Name: "vic", Grants: []domain.Grant{{Org: "A81001", OrgKind: domain.OrgPractice, Role: domain.RoleView}}}
	v, err := ViewDeclaration(w.s, viewer, w.qof.ID, "A81001")
	w.must(err)
	if v.MoneyShown || v.Declaration.Amount != 0 || v.Figures.Result.Pence != 0 || v.Declaration.Points != "30.00" {
		t.Fatalf("view for View role: money shown %v, amount %s", v.MoneyShown, v.Declaration.Amount)
	}
	for _, ind := range v.Figures.Result.Indicators {
		if ind.Pence != 0 {
			t.Fatalf("indicator %s pence shown", ind.ID)
		}
	}
	v, err = ViewDeclaration(w.s, w.u("ann"), w.qof.ID, "A81001")
	w.must(err)
	if !v.MoneyShown || v.Declaration.Amount != 600000 || v.Figures.Hash != v.Declaration.InputsHash {
		t.Fatalf("ann's view %+v", v)
	}
	_, err = ViewDeclaration(w.s, w.u("bob"), w.qof.ID, "A81001")
	var den *domain.Denied
	if !errors.As(err, &den) {
		t.Fatalf("bob viewed A81001: %v", err)
	}
}

// changeThresholdsBehindTheDeclarations stores a thresholds fix without
// recalculating (as a rule-set update does), so stored declarations lag.
func (w *wf) changeThresholdsBehindTheDeclarations(upper int) {
	w.t.Helper()
	w.must(w.s.Update(w.u("admin"), func(tx *store.Tx) error {
		def, ver, err := tx.ServiceVersion("QOFT")
		if err != nil {
			return err
		}
		def.Indicators[1].Upper = upper
		return tx.PutService(def, ver)
	}))
}

// An approver (or finance) never approves figures that are no longer what
// the inputs give: the declaration is brought up to date, sent back to the
// practice with the reason, and the decision refused as stale.
func TestApprovalOfALaggingDeclarationIsRefusedAndItGoesBack(t *testing.T) {
	w := newWF(t)
	d := w.declared()
	w.changeThresholdsBehindTheDeclarations(9500)
	wantErr(t, Approve(w.s, w.u("carl"), w.qof.ID, "A81001", d.DeclaredHash), ErrStale)
	now := w.decl(w.qof, "A81001")
	if now.State != domain.DeclCalculated || now.InputsHash == d.InputsHash || !strings.Contains(now.Reason, "data changed after declaration") {
		t.Fatalf("the lagging declaration was not sent back up to date: %+v", now)
	}

	// Approved, then the figures lag: finance is refused the same way, in bulk too.
	w.must(Declare(w.s, w.u("ann"), w.qof.ID, "A81001", now.InputsHash))
	now = w.decl(w.qof, "A81001")
	w.must(Approve(w.s, w.u("carl"), w.qof.ID, "A81001", now.DeclaredHash))
	w.changeThresholdsBehindTheDeclarations(9800)
	res, err := FinanceApproveMany(w.s, w.u("fin"), []DeclRef{{Collection: w.qof.ID, Practice: "A81001", Seen: now.DeclaredHash}})
	w.must(err)
	if len(res) != 1 || !errors.Is(res[0].Err, ErrStale) {
		t.Fatalf("finance approval of lagging figures: %+v", res)
	}
	if got := w.decl(w.qof, "A81001"); got.State != domain.DeclCalculated || got.InputsHash == now.InputsHash {
		t.Fatalf("after a refused finance approval the declaration is %+v", got)
	}
}

// The declared figures per indicator are known while the current figures
// are the declared ones, and not once a locked declaration's inputs moved
// on (it stands as approved with its totals).
func TestDeclaredFiguresPerIndicator(t *testing.T) {
	w := newWF(t)
	view := func() *DeclarationView {
		v, err := ViewDeclaration(w.s, w.u("ann"), w.qof.ID, "A81001")
		w.must(err)
		return v
	}
	d := w.financiallyApproved()
	f, ok := view().DeclaredFigures()
	if !ok || PointsText(f.Result) != d.Points || f.Result.Pence != d.Amount || len(f.Result.Indicators) == 0 {
		t.Fatalf("declared figures %v (ok %v), declaration %s points %s", f, ok, d.Points, d.Amount)
	}
	w.must(SetListSize(w.s, w.u("admin"), "A81001", domain.MustDate("2026-01-01"), 20000))
	if f, ok := view().DeclaredFigures(); ok {
		t.Fatalf("after the list size moved the locked declaration's figures, %s points are called declared", PointsText(f.Result))
	}
}
