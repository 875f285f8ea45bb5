package ops

import (
	"fmt"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/rulesets"
	"gpcollections/store"
)

// servicesValues makes plausible extract values for every field of a
// service for practice number p: registers below the list size,
// denominators within registers, numerators within denominators.
func serviceValues(svc *domain.ServiceDef, p int) []domain.FieldValue {
	var out []domain.FieldValue
	for i, d := range svc.Indicators {
		reg := int64(200 + (p*37+i*11)%900)
		den := reg - int64((p+i)%50)
		num := den * int64(40+(p*7+i*13)%61) / 100
		for _, f := range d.Fields() {
			v := int64((p + i) % 5)
			switch f {
			case domain.FieldRegister:
				v = reg
			case domain.FieldDenominator:
				v = den
			case domain.FieldNumerator:
				v = num
			case domain.FieldCount:
				v = num
			}
			out = append(out, domain.FieldValue{Indicator: d.ID, Field: f, Value: v})
		}
	}
	return out
}

// nationalQOF builds a store with n practices taking part in the shipped
// QOF 2025/26 set, each with a stored extract result and a calculated
// declaration.
func nationalQOF(tb testing.TB, n int) (*store.Store, *domain.Collection, *domain.User) {
	tb.Helper()
	svc, err := rulesets.Service("QOF2526")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := store.Open(tb.TempDir(), store.Options{Clock: func() time.Time { return wfNow }, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	admin := &domain.User{Name: "admin"}
	b, _ := domain.BundleByName("admin")
	for _, r := range b.Roles {
		_ = admin.AddGrant(domain.Grant{Org: domain.NationalCode, OrgKind: domain.OrgNational, Role: r})
	}
	var coll *domain.Collection
	err = s.Update(admin, func(tx *store.Tx) error {
		for _, o := range []*domain.Org{{Code: domain.NationalCode, Kind: domain.OrgNational, Name: "GP Collections"},
			{Code: "QWE", Kind: domain.OrgCommissioner, Name: "ICB"}} {
			if err := tx.PutOrg(o); err != nil {
				return err
			}
		}
		if err := tx.PutUser(admin); err != nil {
			return err
		}
		if err := tx.PutService(svc, 0); err != nil {
			return err
		}
		coll = wfCollection("QOF2526")
		if err := tx.AddCollection(coll); err != nil {
			return err
		}
		for p := 0; p < n; p++ {
			code := fmt.Sprintf("A%05d", p)
			o := &domain.Org{Code: code, Kind: domain.OrgPractice, Name: code, Parent: "QWE",
				ListSizes: []domain.ListSize{{From: domain.MustDate("2025-01-01"), Size: int64(4000 + (p*97)%16000)}}}
			if err := tx.PutOrg(o); err != nil {
				return err
			}
			if err := tx.PutParticipation(&domain.Participation{Service: svc.ID, Practice: code, State: domain.PartAutoAccepted, From: svc.Start, To: svc.End}); err != nil {
				return err
			}
			r := &domain.ExtractResult{Collection: coll.ID, Practice: code, Run: 1, Values: serviceValues(svc, p), Started: wfNow, Finished: wfNow}
			if err := tx.PutResult(r); err != nil {
				return err
			}
			if err := Recalculate(tx, coll, code, "extract run 1"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return s, coll, admin
}

// The shipped QOF set through the whole path: extract, recalculation,
// declaration, a parameter correction, approval.
func TestRealQOFSetThroughTheWorkflow(t *testing.T) {
	s, coll, admin := nationalQOF(t, 3)
	ann := bundleUser(t, "ann", "practice-staff", "A00001", domain.OrgPractice)
	carl := bundleUser(t, "carl", "commissioner-approver", "QWE", domain.OrgCommissioner)
	var d *domain.Declaration
	read := func() {
		if err := s.View(func(tx *store.Tx) error {
			var err error
			d, err = tx.Declaration(coll.ID, "A00001")
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	read()
	if d.State != domain.DeclCalculated || d.Amount <= 0 || d.Points == "0.00" {
		t.Fatalf("QOF declaration %+v", d)
	}
	if err := Declare(s, ann, coll.ID, "A00001", d.InputsHash); err != nil {
		t.Fatal(err)
	}
	p, _ := func() (domain.PaymentParams, bool) { svc, _ := rulesets.Service("QOF2526"); return svc.LatestParams() }()
	p.PencePerPoint = 22000
	sum, err := CorrectPaymentParams(s, admin, "QOF2526", p, "corrected £ per point")
	if err != nil || sum.Changed != 3 {
		t.Fatalf("correction: %+v %v", sum, err)
	}
	read()
	if d.State != domain.DeclCalculated || d.Reason == "" {
		t.Fatalf("after correction %+v", d)
	}
	if err := Declare(s, ann, coll.ID, "A00001", d.InputsHash); err != nil {
		t.Fatal(err)
	}
	if err := Approve(s, carl, coll.ID, "A00001", ""); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRecalculateNationalQOF recalculates a national collection (6,300
// practices x the shipped QOF set) from stored values in one transaction:
// "unchanged" reads, calculates and compares every practice; "changed"
// (a payment-parameter correction) also rewrites and audits every
// declaration.
func BenchmarkRecalculateNationalQOF(b *testing.B) {
	s, _, admin := nationalQOF(b, 6300)
	b.Run("unchanged", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var sum RecalcSummary
			err := s.Update(admin, func(tx *store.Tx) error {
				var err error
				sum, err = RecalculateServiceTx(tx, "QOF2526", "bench")
				return err
			})
			if err != nil || sum.Unchanged != 6300 {
				b.Fatalf("%+v %v", sum, err)
			}
		}
	})
	b.Run("changed", func(b *testing.B) {
		svc, _ := rulesets.Service("QOF2526")
		p, _ := svc.LatestParams()
		for i := 0; i < b.N; i++ {
			p.PencePerPoint = domain.Pence(22000 + i%2*100 + i)
			sum, err := CorrectPaymentParams(s, admin, "QOF2526", p, "bench")
			if err != nil || sum.Changed != 6300 {
				b.Fatalf("%+v %v", sum, err)
			}
		}
	})
}

// BenchmarkStepsOutstandingNational counts the open declarations of a
// national QOF collection (6,300 calculated declarations) as the timetable
// does on every reload, for the administrator (all of them) and for a
// practice user (one).
func BenchmarkStepsOutstandingNational(b *testing.B) {
	s, coll, admin := nationalQOF(b, 6300)
	ann := bundleUser(b, "ann", "practice-staff", "A00001", domain.OrgPractice)
	for _, u := range []struct {
		name string
		u    *domain.User
		want int
	}{{"admin", admin, 6300}, {"practice", ann, 1}} {
		b.Run(u.name, func(b *testing.B) {
			for b.Loop() {
				m, err := StepsOutstanding(s, u.u)
				if err != nil {
					b.Fatal(err)
				}
				if m[coll.ID].ToDeclare != u.want {
					b.Fatalf("%d to declare, want %d", m[coll.ID].ToDeclare, u.want)
				}
			}
		})
	}
}
