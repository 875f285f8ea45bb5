package ops

import (
	"errors"
	"strings"
	"testing"

	"gpcollections/domain"
	"gpcollections/store"
)

func (w *wf) part(service, practice string) *domain.Participation {
	w.t.Helper()
	var p *domain.Participation
	w.must(w.s.View(func(tx *store.Tx) error {
		var err error
		p, err = tx.Participation(service, practice)
		return err
	}))
	return p
}

func (w *wf) participating(service, practice string) bool {
	w.t.Helper()
	var ok bool
	w.must(w.s.View(func(tx *store.Tx) error {
		var err error
		ok, err = Participating(tx, service, practice)
		return err
	}))
	return ok
}

func TestOfferToAllOfTheCommissionersPractices(t *testing.T) {
	w := newWF(t)
	out, err := Offer(w.s, w.u("carl"), "QOFT", nil, domain.NoDate, domain.NoDate)
	w.must(err)
	if len(out) != 2 || out[0].Practice != "A81001" || out[1].Practice != "A81002" {
		t.Fatalf("offered %+v, want QWE's two practices only", out)
	}
	if p := w.part("QOFT", "B82001"); p.State != domain.PartNotOffered {
		t.Fatalf("another commissioner's practice was offered: %s", p.State)
	}
	p := w.part("QOFT", "A81001")
	if p.State != domain.PartOffered || p.From.String() != "2025-04-01" || p.To.String() != "2026-03-31" {
		t.Fatalf("participation %+v", p)
	}
	if w.participating("QOFT", "A81001") {
		t.Fatal("an open offer counts as participation")
	}
	// Offering again skips both with the reason; nothing offered is an error.
	_, err = Offer(w.s, w.u("carl"), "QOFT", nil, domain.NoDate, domain.NoDate)
	wantErr(t, err, nil, "nothing offered", "A81001: the offer is already open")
}

func TestOfferDatesInsideTheService(t *testing.T) {
	w := newWF(t)
	for _, c := range []struct{ from, to string }{
		{"2025-03-31", "2026-03-31"}, {"2025-04-01", "2026-04-01"}, {"2025-10-01", "2025-09-30"},
	} {
		_, err := Offer(w.s, w.u("carl"), "QOFT", []string{"A81001"}, domain.MustDate(c.from), domain.MustDate(c.to))
		wantErr(t, err, nil, "must lie inside the service's 2025-04-01 to 2026-03-31")
	}
	_, err := Offer(w.s, w.u("carl"), "QOFT", []string{"A81001"}, domain.MustDate("2025-10-01"), domain.MustDate("2026-03-31"))
	w.must(err)
	if p := w.part("QOFT", "A81001"); p.From.String() != "2025-10-01" {
		t.Fatalf("from %s", p.From)
	}
}

func TestOfferRefusedForAnotherCommissionersPractice(t *testing.T) {
	w := newWF(t)
	_, err := Offer(w.s, w.u("xav"), "QOFT", []string{"B82001", "A81001"}, domain.NoDate, domain.NoDate)
	var den *domain.Denied
	if !errors.As(err, &den) || den.Action != domain.ActMakeOffer || den.Target.Org != "A81001" {
		t.Fatalf("want a refusal for A81001, got %v", err)
	}
	if w.part("QOFT", "B82001").State != domain.PartNotOffered {
		t.Fatal("a refused offer left B82001 offered: an offer is all or nothing")
	}
	// A practice user cannot offer at all.
	_, err = Offer(w.s, w.u("ann"), "QOFT", nil, domain.NoDate, domain.NoDate)
	wantErr(t, err, nil, "Commissioning Management")
}

func TestAcceptDeclineWithdrawKeepHistory(t *testing.T) {
	w := newWF(t)
	_, err := Offer(w.s, w.u("carl"), "QOFT", nil, domain.NoDate, domain.NoDate)
	w.must(err)
	// Wrong organisation, wrong role.
	var den *domain.Denied
	if err := Accept(w.s, w.u("bob"), "QOFT", "A81001"); !errors.As(err, &den) {
		t.Fatalf("bob accepted for A81001: %v", err)
	}
	if err := Accept(w.s, w.u("carl"), "QOFT", "A81001"); !errors.As(err, &den) {
		t.Fatalf("the commissioner accepted for the practice: %v", err)
	}
	w.must(Accept(w.s, w.u("ann"), "QOFT", "A81001"))
	w.must(Decline(w.s, w.u("bob"), "QOFT", "A81002", "too small"))
	if !w.participating("QOFT", "A81001") || w.participating("QOFT", "A81002") {
		t.Fatal("participation after accept / decline")
	}
	wantErr(t, Accept(w.s, w.u("bob"), "QOFT", "A81002"), nil, "the practice declined; the commissioner must offer again")
	wantErr(t, Withdraw(w.s, w.u("carl"), "QOFT", "A81001", ""), nil, "needs a reason")
	w.must(Withdraw(w.s, w.u("carl"), "QOFT", "A81001", "practice merged"))
	if w.participating("QOFT", "A81001") {
		t.Fatal("withdrawn practice still participates")
	}
	_, err = Offer(w.s, w.u("carl"), "QOFT", []string{"A81001"}, domain.NoDate, domain.NoDate)
	w.must(err)
	w.must(Accept(w.s, w.u("ann"), "QOFT", "A81001"))
	p := w.part("QOFT", "A81001")
	var evs []string
	for _, h := range p.History {
		evs = append(evs, string(h.Event)+" by "+h.By)
	}
	want := "offer by carl, accept by ann, withdraw by carl, offer by carl, accept by ann"
	if strings.Join(evs, ", ") != want {
		t.Fatalf("history %q, want %q", strings.Join(evs, ", "), want)
	}
	if p.History[2].Reason != "practice merged" {
		t.Fatalf("withdrawal reason %q", p.History[2].Reason)
	}
}

func TestAutoAcceptedServiceAcceptedOnThePracticesBehalf(t *testing.T) {
	w := newWF(t)
	out, err := Offer(w.s, w.u("carl"), "LDT", []string{"A81001"}, domain.NoDate, domain.NoDate)
	w.must(err)
	if out[0].State != domain.PartAutoAccepted || !w.participating("LDT", "A81001") {
		t.Fatalf("auto-accept: %+v", out)
	}
	h := w.part("LDT", "A81001").History
	if len(h) != 1 || h[0].By != domain.SystemUser.Name || h[0].Event != domain.EvAutoAccept || !strings.Contains(h[0].Reason, "offered by carl") {
		t.Fatalf("history %+v", h)
	}
}

func TestJoiningLateCalculatesStoredData(t *testing.T) {
	w := newWF(t)
	// The extract landed before the practice accepted: no declaration yet.
	_, err := Offer(w.s, w.u("carl"), "QOFT", []string{"A81001"}, domain.NoDate, domain.NoDate)
	w.must(err)
	w.must(w.extract(w.qof, "A81001", 1, qofValues(200, 100, 60)...))
	err = w.s.View(func(tx *store.Tx) error { _, err := tx.Declaration(w.qof.ID, "A81001"); return err })
	wantErr(t, err, store.ErrNotFound)
	w.must(Accept(w.s, w.u("ann"), "QOFT", "A81001"))
	if d := w.decl(w.qof, "A81001"); d.Points != "10.00" {
		t.Fatalf("points %s after accepting", d.Points)
	}
}

func TestParticipationsScopedByPolicy(t *testing.T) {
	w := newWF(t)
	_, err := Offer(w.s, w.u("carl"), "QOFT", nil, domain.NoDate, domain.NoDate)
	w.must(err)
	_, err = Offer(w.s, w.u("xav"), "QOFT", nil, domain.NoDate, domain.NoDate)
	w.must(err)
	for who, want := range map[string]int{"ann": 1, "carl": 2, "xav": 1, "support": 3, "req": 0} {
		got, err := Participations(w.s, w.u(who), "QOFT", "")
		w.must(err)
		if len(got) != want {
			t.Errorf("%s sees %d participations, want %d", who, len(got), want)
		}
	}
}

// A practice that withdrew after its declaration was financially approved
// can join the service again even though its figures have moved since (a
// new list size): the approved declaration stands exactly as approved.
func TestRejoiningLeavesALockedDeclarationAsApproved(t *testing.T) {
	w := newWF(t)
	locked := w.financiallyApproved()
	w.must(Withdraw(w.s, w.u("carl"), "QOFT", "A81001", "practice merged"))
	w.must(SetListSize(w.s, w.u("admin"), "A81001", domain.MustDate("2026-01-01"), 12000))
	_, err := Offer(w.s, w.u("carl"), "QOFT", []string{"A81001"}, domain.NoDate, domain.NoDate)
	w.must(err)
	w.must(Accept(w.s, w.u("ann"), "QOFT", "A81001"))
	if !w.participating("QOFT", "A81001") {
		t.Fatal("the practice could not join again")
	}
	if now := w.decl(w.qof, "A81001"); now.State != domain.DeclFinanciallyApproved || now.InputsHash != locked.InputsHash || now.Amount != locked.Amount {
		t.Fatalf("the financially approved declaration changed on joining again: %+v", now)
	}
}
