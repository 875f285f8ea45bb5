package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
)

// workflowData builds a data directory directly through the store: the
// national admin, a commissioner QWE with a practice A81001, users for each
// side, a hand-built points service WFT and its year-end collection, already
// extracted for A81001 (the scheduler's part).
func workflowData(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	s, err := store.Open(data, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin, err := ops.Bootstrap(s, "admin", "Administrator", domain.PublicKey{})
	if err != nil {
		t.Fatal(err)
	}
	user := func(name, bundle, org string, kind domain.OrgKind) *domain.User {
		b, _ := domain.BundleByName(bundle)
		u := &domain.User{Name: name, FullName: name}
		for _, r := range b.Roles {
			_ = u.AddGrant(domain.Grant{Org: org, OrgKind: kind, Role: r})
		}
		return u
	}
	svc := &domain.ServiceDef{ID: "WFT", Name: "Workflow test", Year: "2025/26",
		Start: domain.MustDate("2025-04-01"), End: domain.MustDate("2026-03-31"), Frequency: domain.Annual,
		Kind: domain.KindPoints, DeclarationRequired: true, ApprovalRequired: true, RequestedBy: "NHSE01",
		Indicators: []domain.IndicatorDef{
			{ID: "REG1", Kind: domain.IndRegister, Entry: domain.EntryAutomatic},
			{ID: "ACH1", Kind: domain.IndAchievement, Entry: domain.EntryAutomatic, Points: 20, Lower: 4000, Upper: 8000, Register: "REG1", PrevalenceBased: true},
			{ID: "QI1", Kind: domain.IndRegister, Entry: domain.EntryManual, Points: 10},
		},
		Payment: []domain.PaymentParams{{Version: 1, EffectiveFrom: domain.MustDate("2025-04-01"), PencePerPoint: 20000,
			NationalAvgListSize: 10000, NationalPrevalence: map[string]domain.Ratio{"REG1": {Num: 2, Den: 100}},
			AspirationShare: domain.Ratio{Num: 4, Den: 5}, ListSizeDate: "01-01"}},
	}
	coll := &domain.Collection{Service: "WFT", AchDate: domain.MustDate("2026-03-31"), Status: domain.CollExtracted, Run: 1,
		WindowStart: domain.MustDate("2026-04-01"), WindowEnd: domain.MustDate("2026-04-07"),
		DeclarationDeadline: domain.MustDate("2099-04-24"), ApprovalDeadline: domain.MustDate("2099-05-15"),
		PaymentDate: domain.MustDate("2099-12-31")}
	err = s.Update(admin, func(tx *store.Tx) error {
		for _, o := range []*domain.Org{
			{Code: "QWE", Kind: domain.OrgCommissioner, Name: "South West London ICB"},
			{Code: "NHSE01", Kind: domain.OrgRequester, Name: "NHS England analysts"},
			{Code: "A81001", Kind: domain.OrgPractice, Name: "Marsh Lane", Parent: "QWE",
				ListSizes: []domain.ListSize{{From: domain.MustDate("2026-01-01"), Size: 10000}}},
		} {
			if err := tx.PutOrg(o); err != nil {
				return err
			}
		}
		for _, u := range []*domain.User{user("ann", "practice-staff", "A81001", domain.OrgPractice),
			user("carl", "commissioner-approver", "QWE", domain.OrgCommissioner),
			user("fin", "commissioner-finance", "QWE", domain.OrgCommissioner),
			user("req", "requester", "NHSE01", domain.OrgRequester)} {
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
		if err := tx.PutService(svc, 0); err != nil {
			return err
		}
		return tx.AddCollection(coll)
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// extractInto stores a result as the scheduler would.
func extractInto(t *testing.T, data string, run int, num int64) {
	t.Helper()
	s, err := store.Open(data, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(domain.SystemUser, func(tx *store.Tx) error {
		c, err := tx.CollectionFor("WFT", domain.MustDate("2026-03-31"))
		if err != nil {
			return err
		}
		vals := []domain.FieldValue{{Indicator: "REG1", Field: "REGISTER", Value: 200}, {Indicator: "ACH1", Field: "REGISTER", Value: 200},
			{Indicator: "ACH1", Field: "DENOMINATOR", Value: 100}, {Indicator: "ACH1", Field: "NUMERATOR", Value: num}}
		if err := tx.PutResult(&domain.ExtractResult{Collection: c.ID, Practice: "A81001", Run: run, Values: vals, Started: time.Now(), Finished: time.Now()}); err != nil {
			return err
		}
		return ops.Recalculate(tx, c, "A81001", "extract run")
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWorkflowCommandsEndToEnd(t *testing.T) {
	data := workflowData(t)
	run := func(as string, args ...string) string {
		t.Helper()
		return mustGPC(t, append(args, "--data", data, "--as", as)...)
	}
	coll := []string{"--service", "WFT", "--date", "2026-03-31"}

	if out := run("carl", "offer", "--service", "WFT"); !strings.Contains(out, "A81001: offered") {
		t.Fatalf("offer: %s", out)
	}
	run("ann", "accept", "--service", "WFT", "--practice", "A81001")
	extractInto(t, data, 1, 90)

	// Manual entry: a bad value is refused naming the field, then a good one.
	out, err := gpc(t, append(append([]string{"manual", "set"}, coll...), "--practice", "A81001", "QI1:REGISTER=1.5", "--submit", "--data", data, "--as", "ann")...)
	if err == nil || !strings.Contains(out, "QI1 REGISTER") || !strings.Contains(err.Error(), "nothing was saved") {
		t.Fatalf("bad manual value: %v\n%s", err, out)
	}
	if out := run("ann", append(append([]string{"manual", "set"}, coll...), "--practice", "A81001", "QI1:REGISTER=12", "--submit")...); !strings.Contains(out, "manual entry submitted") {
		t.Fatalf("manual set: %s", out)
	}

	// Declare without a hash: the figures and their hash, nothing declared.
	out, err = gpc(t, append(append([]string{"declare"}, coll...), "--practice", "A81001", "--data", data, "--as", "ann")...)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 3 || !strings.Contains(out, "total 30.00 points, £6,000.00") {
		t.Fatalf("declare preview: %v\n%s", err, out)
	}
	hash := regexp.MustCompile(`hash ([0-9a-f]{64})`).FindStringSubmatch(out)
	if hash == nil {
		t.Fatalf("no hash in %s", out)
	}
	// A stale hash is refused.
	_, err = gpc(t, append(append([]string{"declare"}, coll...), "--practice", "A81001", "--hash", strings.Repeat("0", 64), "--data", data, "--as", "ann")...)
	if err == nil || !strings.Contains(err.Error(), "stale declaration") {
		t.Fatalf("stale declare: %v", err)
	}
	run("ann", append(append([]string{"declare"}, coll...), "--practice", "A81001", "--hash", hash[1])...)

	out = run("carl", "queue", "--json")
	var q []ops.QueueItem
	if err := json.Unmarshal([]byte(out), &q); err != nil || len(q) != 1 || q[0].Ref.Practice != "A81001" || q[0].Amount != 600000 {
		t.Fatalf("queue: %v %s", err, out)
	}
	if out := run("fin", "queue"); strings.Contains(out, "A81001") {
		t.Fatalf("finance queue before approval: %s", out)
	}
	// Approving without a hash shows the declaration and its declared hash
	// and decides nothing; with the hash it approves what was shown.
	decide := func(user, verb string) {
		t.Helper()
		out, err := gpc(t, append(append([]string{verb}, coll...), "--practice", "A81001", "--data", data, "--as", user)...)
		if !errors.As(err, &ee) || ee.code != 3 || !strings.Contains(out, "total 30.00 points, £6,000.00") || !strings.Contains(err.Error(), "nothing decided") {
			t.Fatalf("%s preview: %v\n%s", verb, err, out)
		}
		h := regexp.MustCompile(`declared hash ([0-9a-f]{64})`).FindStringSubmatch(out)
		if h == nil {
			t.Fatalf("no declared hash in %s", out)
		}
		if _, err := gpc(t, append(append([]string{verb}, coll...), "--practice", "A81001", "--hash", strings.Repeat("0", 64), "--data", data, "--as", user)...); err == nil || !strings.Contains(err.Error(), "stale") {
			t.Fatalf("%s with a hash not shown: %v", verb, err)
		}
		if out := run(user, append(append([]string{verb}, coll...), "--practice", "A81001", "--hash", h[1])...); !strings.Contains(out, verb+" done") {
			t.Fatalf("%s: %s", verb, out)
		}
	}
	decide("carl", "approve")
	decide("fin", "finance-approve")
	_, err = gpc(t, append(append([]string{"return"}, coll...), "--practice", "A81001", "--reason", "late doubt", "--data", data, "--as", "fin")...)
	if err == nil || !strings.Contains(err.Error(), "after financial approval nothing can be amended") {
		t.Fatalf("return after finance approval: %v", err)
	}
	run("admin", append(append([]string{"deadline", "extend"}, coll...), "--which", "approval", "--to", "2099-06-01", "--reason", "outage")...)

	// Payments: aspiration base, a run, the same run again.
	run("admin", "payments", "aspiration", "--service", "WFT", "--practice", "A81001", "--prior", "12000.00")
	file := filepath.Join(t.TempDir(), "june.csv")
	t.Setenv("GPC_CLOCK", "2099-12-01T09:00") // a run may not pay a month that has not begun
	out = run("admin", "payments", "run", "--period", "2099-12", "--out", file)
	if !strings.Contains(out, "paid 13 lines") {
		t.Fatalf("payments run: %s", out)
	}
	first, _ := os.ReadFile(file)
	if !strings.Contains(string(first), "A81001,WFT,reconciliation,2026-03-31,,-360000,1/A81001,carl,") {
		t.Fatalf("payment file:\n%s", first)
	}
	os.Remove(file)
	out = run("admin", "payments", "run", "--period", "2099-12", "--out", file)
	again, _ := os.ReadFile(file)
	if !strings.Contains(out, "already run") || string(again) != string(first) {
		t.Fatalf("repeated run: %s\n%s", out, again)
	}
	if out := run("admin", "payments", "list"); !strings.Contains(out, "2099-12") {
		t.Fatalf("payments list: %s", out)
	}

	// Export for the requesting organisation.
	dir := t.TempDir()
	run("req", "export", "--service", "WFT", "--date", "2026-03-31", "--out", dir)
	vals, err := os.ReadFile(filepath.Join(dir, "WFT_2026-03-31_INDICATOR_VALUES.csv"))
	if err != nil || !strings.HasPrefix(string(vals), "QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE\nWFT,A81001,2026-03-31,ACH1,DENOMINATOR,100\n") {
		t.Fatalf("values file: %v\n%s", err, vals)
	}
	ach, err := os.ReadFile(filepath.Join(dir, "WFT_2026-03-31_ACHIEVEMENT.csv"))
	if err != nil || !strings.Contains(string(ach), "WFT,A81001,2026-03-31,ACH1,200,100,90,90.00,20.00,20,paid") {
		t.Fatalf("achievement file: %v\n%s", err, ach)
	}
	// The whole ledger is intact.
	if rep, err := store.Check(data, false); err != nil || !rep.OK() {
		t.Fatalf("check: %+v %v", rep, err)
	}
}
