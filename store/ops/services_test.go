package ops

import (
	"strings"
	"testing"

	"gpcollections/domain"
	"gpcollections/store"
)

func TestInstallServiceKeepsParameterCorrections(t *testing.T) {
	w := newWF(t)
	admin := w.u("admin")
	def := qofService()
	def.ID = "QOFNEW"
	def.RuleSetHash = "rules-v1"
	if installed, err := InstallService(w.s, admin, def); err != nil || !installed {
		t.Fatalf("first install: %v %v", installed, err)
	}
	// An administrator corrects the payment parameters (version 2).
	p2 := def.Payment[0]
	p2.Version, p2.PencePerPoint = 2, 21000
	if _, err := CorrectPaymentParams(w.s, admin, "QOFNEW", p2, "corrected £/point"); err != nil {
		t.Fatal(err)
	}
	// Re-installing the same rule set changes nothing.
	if installed, err := InstallService(w.s, admin, def); err != nil || installed {
		t.Fatalf("same rules: %v %v", installed, err)
	}
	// A new rule-set version replaces indicators but keeps the correction.
	def2 := qofService()
	def2.ID, def2.RuleSetHash = "QOFNEW", "rules-v2"
	def2.Indicators[1].Points = 25
	if installed, err := InstallService(w.s, admin, def2); err != nil || !installed {
		t.Fatalf("update: %v %v", installed, err)
	}
	got, err := Service(w.s, w.u("ann"), "QOFNEW")
	if err != nil {
		t.Fatal(err)
	}
	if ind, _ := got.Indicator("ACH1"); ind.Points != 25 || got.RuleSetHash != "rules-v2" {
		t.Errorf("indicators not updated: %+v", ind)
	}
	if p, _ := got.LatestParams(); p.Version != 2 || p.PencePerPoint != 21000 {
		t.Errorf("correction lost: %+v", p)
	}
	// Only services administrators may install.
	if _, err := InstallService(w.s, w.u("ann"), def2); err == nil {
		t.Error("a practice user installed a service")
	}
	var n int
	_ = w.s.View(func(tx *store.Tx) error {
		all, _ := tx.Services()
		n = len(all)
		return nil
	})
	svcs, err := Services(w.s, w.u("req"))
	if err != nil || len(svcs) != n {
		t.Fatalf("service information for a requester: %d of %d, %v", len(svcs), n, err)
	}
}

// A rule-set update that changes what a declaration is worth sends it back
// to awaiting declaration with the reason; after financial approval the
// update is refused.
func TestServiceUpdateRecalculatesDeclarations(t *testing.T) {
	w := newWF(t)
	d := w.declared()
	def := qofService()
	def.RuleSetHash = "rules-v2"
	def.Indicators[1].Points = 30 // ACH1 worth more
	if _, err := InstallService(w.s, w.u("admin"), def); err != nil {
		t.Fatal(err)
	}
	after := w.decl(w.qof, "A81001")
	if after.State != domain.DeclCalculated || !strings.Contains(after.Reason, "service definition updated") || after.Amount <= d.Amount {
		t.Fatalf("after the update: %s %q %s (was %s)", after.State, after.Reason, after.Amount, d.Amount)
	}

	w2 := newWF(t)
	w2.financiallyApproved()
	def2 := qofService()
	def2.RuleSetHash = "rules-v2"
	def2.Indicators[1].Points = 30
	_, err := InstallService(w2.s, w2.u("admin"), def2)
	wantErr(t, err, ErrLocked)
	if got, _ := Service(w2.s, w2.u("admin"), "QOFT"); got.RuleSetHash == "rules-v2" {
		t.Fatal("a refused update was stored")
	}
}
