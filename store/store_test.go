package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"gpcollections/domain"
)

var t0 = time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)

func admin() *domain.User {
	u := &domain.User{Name: "root", FullName: "Root"}
	b, _ := domain.BundleByName("admin")
	for _, r := range b.Roles {
		_ = u.AddGrant(domain.Grant{Org: domain.NationalCode, OrgKind: domain.OrgNational, Role: r})
	}
	return u
}

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{Clock: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testService() *domain.ServiceDef {
	return &domain.ServiceDef{ID: "QOF2526", Name: "QOF 2025/26", Year: "2025/26",
		Start: domain.MustDate("2025-04-01"), End: domain.MustDate("2026-03-31"),
		Frequency: domain.Annual, Kind: domain.KindPoints, DeclarationRequired: true, ApprovalRequired: true,
		Indicators: []domain.IndicatorDef{
			{ID: "AF001", Kind: domain.IndRegister, Entry: domain.EntryAutomatic},
			{ID: "AF008", Kind: domain.IndAchievement, Entry: domain.EntryAutomatic, Points: 12, Lower: 7000, Upper: 9500, Register: "AF001", PrevalenceBased: true, Reasons: []string{"PCADEC"}},
		},
		Payment: []domain.PaymentParams{{Version: 1, EffectiveFrom: domain.MustDate("2025-04-01"), PencePerPoint: 22549, NationalAvgListSize: 9964}},
	}
}

// seed creates the national org, one commissioner, two practices, a service
// and a collection.
func seed(t testing.TB, s *Store) *domain.Collection {
	t.Helper()
	var coll *domain.Collection
	err := s.Update(admin(), func(tx *Tx) error {
		for _, o := range []*domain.Org{
			{Code: domain.NationalCode, Kind: domain.OrgNational, Name: "GP Collections"},
			{Code: "QWE", Kind: domain.OrgCommissioner, Name: "South West London ICB"},
			{Code: "A81001", Kind: domain.OrgPractice, Name: "Marsh Lane", Parent: "QWE"},
			{Code: "A81002", Kind: domain.OrgPractice, Name: "Hill Road", Parent: "QWE"},
		} {
			if err := tx.PutOrg(o); err != nil {
				return err
			}
		}
		if err := tx.PutService(testService(), 0); err != nil {
			return err
		}
		coll = &domain.Collection{Service: "QOF2526", AchDate: domain.MustDate("2026-03-31"),
			WindowStart: domain.MustDate("2026-04-01"), WindowEnd: domain.MustDate("2026-04-07"),
			DeclarationDeadline: domain.MustDate("2026-04-24"), ApprovalDeadline: domain.MustDate("2026-05-15"), PaymentDate: domain.MustDate("2026-06-30")}
		return tx.AddCollection(coll)
	})
	if err != nil {
		t.Fatal(err)
	}
	return coll
}

func TestRoundTripEveryAggregate(t *testing.T) {
	s := openTest(t, t.TempDir())
	coll := seed(t, s)
	ann := &domain.User{Name: "ann", FullName: "Ann Smith",
		Grants: []domain.Grant{{Org: "A81001", OrgKind: domain.OrgPractice, Role: domain.RoleView}},
		Keys:   []domain.PublicKey{{Fingerprint: "SHA256:abc", Line: "ssh-ed25519 AAAA ann", Added: domain.MustDate("2026-04-01")}}}
	res := &domain.ExtractResult{Collection: coll.ID, Practice: "A81001", Run: 1, RuleSetHash: "r1", SourceHash: "s1",
		Started: t0, Finished: t0.Add(time.Second),
		Values: []domain.FieldValue{fv("AF001", "REGISTER", 120), fv("AF008", "DENOMINATOR", 100), fv("AF008", "NUMERATOR", -1), fv("AF008", "PCADEC", 1<<40)}}
	part := &domain.Participation{Service: "QOF2526", Practice: "A81001", State: domain.PartAccepted,
		History: []domain.Change{{At: t0, By: "ann", Event: domain.EvAccept, From: domain.PartOffered, To: domain.PartAccepted}}}
	man := &domain.ManualEntry{Collection: coll.ID, Practice: "A81001", State: domain.ManualDraft, Values: []domain.FieldValue{fv("LD001", "REGISTER", 12)}, UpdatedBy: "ann", UpdatedAt: t0}
	decl := &domain.Declaration{Collection: coll.ID, Practice: "A81001", Service: "QOF2526", State: domain.DeclDeclared, Amount: 1492471, Declared: res.Values}
	err := s.Update(admin(), func(tx *Tx) error {
		for _, f := range []func() error{
			func() error { return tx.PutUser(ann) },
			func() error { return tx.PutResult(res) },
			func() error { return tx.PutParticipation(part) },
			func() error { return tx.PutManualEntry(man) },
			func() error { return tx.PutDeclaration(decl) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *Tx) error {
		u, err := tx.UserByKey("SHA256:abc")
		if err != nil || u.FullName != "Ann Smith" || u.Version != 1 || len(u.Grants) != 1 {
			t.Errorf("user = %+v, %v", u, err)
		}
		o, _ := tx.Org("A81002")
		if o.Parent != "QWE" || o.Version != 1 {
			t.Errorf("org = %+v", o)
		}
		sv, err := tx.Service("QOF2526")
		if err != nil || len(sv.Indicators) != 2 || sv.Payment[0].PencePerPoint != 22549 {
			t.Errorf("service = %+v %v", sv, err)
		}
		c, err := tx.CollectionFor("QOF2526", domain.MustDate("2026-03-31"))
		if err != nil || c.ID != coll.ID || c.Status != domain.CollScheduled || c.DeclarationDeadline != coll.DeclarationDeadline {
			t.Errorf("collection = %+v %v", c, err)
		}
		r, err := tx.Result(coll.ID, "A81001")
		if err != nil || fmt.Sprint(r.Values) != fmt.Sprint(res.Values) || r.RuleSetHash != "r1" || !r.Finished.Equal(res.Finished) {
			t.Errorf("result = %+v %v", r, err)
		}
		p, _ := tx.Participation("QOF2526", "A81001")
		if p.State != domain.PartAccepted || len(p.History) != 1 {
			t.Errorf("participation = %+v", p)
		}
		if p2, _ := tx.Participation("QOF2526", "A81002"); p2.State != domain.PartNotOffered || p2.Version != 0 {
			t.Errorf("never offered = %+v", p2)
		}
		m, _ := tx.ManualEntry(coll.ID, "A81001")
		if m.Version != 1 || m.Values[0].Value != 12 {
			t.Errorf("manual = %+v", m)
		}
		q, err := tx.DeclarationsIn(domain.DeclDeclared)
		if err != nil || len(q) != 1 || q[0].Amount != 1492471 {
			t.Errorf("queue = %+v %v", q, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestResultRerunKeepsHistory(t *testing.T) {
	s := openTest(t, t.TempDir())
	coll := seed(t, s)
	put := func(run int, v int64) error {
		return s.Update(domain.SystemUser, func(tx *Tx) error {
			return tx.PutResult(&domain.ExtractResult{Collection: coll.ID, Practice: "A81001", Run: run,
				Values: []domain.FieldValue{fv("AF001", "REGISTER", v)}})
		})
	}
	if err := put(1, 10); err != nil {
		t.Fatal(err)
	}
	if err := put(1, 11); !errors.Is(err, ErrExists) {
		t.Fatalf("second result for the same run: %v", err)
	}
	if err := put(2, 12); err != nil {
		t.Fatal(err)
	}
	_ = s.View(func(tx *Tx) error {
		cur, _ := tx.Result(coll.ID, "A81001")
		hist, _ := tx.ResultHistory(coll.ID, "A81001")
		if cur.Run != 2 || cur.Values[0].Value != 12 || len(hist) != 1 || hist[0].Values[0].Value != 10 || hist[0].Practice != "A81001" {
			t.Errorf("current %+v history %+v", cur, hist)
		}
		all, _ := tx.Results(coll.ID)
		if len(all) != 1 {
			t.Errorf("results = %d", len(all))
		}
		return nil
	})
}

func TestStaleWriteConflicts(t *testing.T) {
	s := openTest(t, t.TempDir())
	seed(t, s)
	var a, b *domain.Org
	_ = s.View(func(tx *Tx) error {
		a, _ = tx.Org("A81001")
		b, _ = tx.Org("A81001")
		return nil
	})
	a.Name = "first"
	b.Name = "second"
	if err := s.Update(admin(), func(tx *Tx) error { return tx.PutOrg(a) }); err != nil {
		t.Fatal(err)
	}
	err := s.Update(admin(), func(tx *Tx) error { return tx.PutOrg(b) })
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "version 1") {
		t.Fatalf("stale write: %v", err)
	}
}

// Two approvers approving the same declaration at once: each read the same
// version; exactly one approval lands, the other gets a conflict.
func TestConcurrentDoubleApproval(t *testing.T) {
	s := openTest(t, t.TempDir())
	coll := seed(t, s)
	for round := 0; round < 20; round++ {
		practice := "A81001"
		err := s.Update(admin(), func(tx *Tx) error {
			d, err := tx.Declaration(coll.ID, practice)
			if errors.Is(err, ErrNotFound) {
				d = &domain.Declaration{Collection: coll.ID, Practice: practice, Service: "QOF2526"}
			} else if err != nil {
				return err
			}
			d.State = domain.DeclDeclared
			return tx.PutDeclaration(d)
		})
		if err != nil {
			t.Fatal(err)
		}
		var seen *domain.Declaration
		_ = s.View(func(tx *Tx) error { seen, _ = tx.Declaration(coll.ID, practice); return nil })
		const approvers = 8
		var wg sync.WaitGroup
		results := make(chan error, approvers)
		start := make(chan struct{})
		for i := 0; i < approvers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				mine := *seen
				<-start
				results <- s.Update(admin(), func(tx *Tx) error {
					next, err := domain.DeclarationMachine.Fire(mine.State, domain.EvApprove)
					if err != nil {
						return err
					}
					mine.State = next
					return tx.PutDeclaration(&mine)
				})
			}(i)
		}
		close(start)
		wg.Wait()
		close(results)
		wins := 0
		for err := range results {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrConflict):
				t.Fatalf("unexpected error %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d approvals landed, want exactly 1", round, wins)
		}
		_ = s.View(func(tx *Tx) error {
			q, _ := tx.DeclarationsIn(domain.DeclDeclared)
			a, _ := tx.DeclarationsIn(domain.DeclApproved)
			if len(q) != 0 || len(a) != 1 {
				t.Fatalf("state index: %d declared, %d approved", len(q), len(a))
			}
			return nil
		})
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	s := openTest(t, t.TempDir())
	seed(t, s)
	before, _ := s.VerifyLedger()
	cases := []struct {
		name string
		fn   func(tx *Tx) error
		want string
	}{
		{"unknown commissioner", func(tx *Tx) error {
			return tx.PutOrg(&domain.Org{Code: "B82001", Kind: domain.OrgPractice, Name: "x", Parent: "QZZ"})
		}, "organisation QZZ: not found"},
		{"malformed ODS", func(tx *Tx) error {
			return tx.PutOrg(&domain.Org{Code: "B8200", Kind: domain.OrgPractice, Name: "x", Parent: "QWE"})
		}, "ODS practice code"},
		{"duplicate user", func(tx *Tx) error {
			if err := tx.PutUser(&domain.User{Name: "zed"}); err != nil {
				return err
			}
			return tx.PutUser(&domain.User{Name: "zed"})
		}, "already exists"},
		{"role the organisation kind cannot hold", func(tx *Tx) error {
			return tx.PutUser(&domain.User{Name: "kim", Grants: []domain.Grant{{Org: "A81001", OrgKind: domain.OrgPractice, Role: domain.RoleApprovalManagement}}})
		}, "cannot be held for a practice"},
		{"grant naming the wrong kind", func(tx *Tx) error {
			return tx.PutUser(&domain.User{Name: "kim", Grants: []domain.Grant{{Org: "QWE", OrgKind: domain.OrgRequester, Role: domain.RoleView}}})
		}, "QWE is a commissioner, not a requester"},
		{"grant on unknown org", func(tx *Tx) error {
			return tx.PutUser(&domain.User{Name: "kim", Grants: []domain.Grant{{Org: "A99999", OrgKind: domain.OrgPractice, Role: domain.RoleView}}})
		}, "organisation A99999: not found"},
		{"duplicate collection", func(tx *Tx) error {
			return tx.AddCollection(&domain.Collection{Service: "QOF2526", AchDate: domain.MustDate("2026-03-31"),
				WindowStart: domain.MustDate("2026-04-01"), WindowEnd: domain.MustDate("2026-04-07"),
				DeclarationDeadline: domain.MustDate("2026-04-24"), ApprovalDeadline: domain.MustDate("2026-05-15"), PaymentDate: domain.MustDate("2026-06-30")})
		}, "already exists"},
	}
	for _, c := range cases {
		err := s.Update(admin(), c.fn)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	after, _ := s.VerifyLedger()
	if after != before {
		t.Errorf("refused actions wrote %d audit entries", after-before)
	}
	_ = s.View(func(tx *Tx) error {
		if _, err := tx.User("zed"); err == nil {
			t.Error("half of a failed action was kept")
		}
		return nil
	})
}

func TestCorruptValueNamed(t *testing.T) {
	s := openTest(t, t.TempDir())
	seed(t, s)
	_ = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bOrgs)).Put([]byte("A81002"), []byte("g\x01garbage")) })
	err := s.View(func(tx *Tx) error { _, err := tx.Org("A81002"); return err })
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Bucket != bOrgs || ce.Key != "A81002" {
		t.Fatalf("got %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	_ = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bMeta)).Put(metaSchema, []byte{0, 0, 0, 99})
	})
	s.Close()
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("got %v", err)
	}
}

func TestBackupRestoreIdentical(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	seed(t, s)
	backup := filepath.Join(t.TempDir(), "b.db")
	if _, err := s.BackupToFile(backup); err != nil {
		t.Fatal(err)
	}
	want := dump(t, s)
	s.Close()
	target := t.TempDir()
	if _, err := Restore(target, backup, t0); err != nil {
		t.Fatal(err)
	}
	r := openTest(t, target)
	if got := dump(t, r); got != want {
		t.Fatalf("restored data differs")
	}
	// Restoring over existing data keeps the old file beside it.
	r.Close()
	kept, err := Restore(target, backup, t0)
	if err != nil || kept == "" {
		t.Fatalf("kept %q, %v", kept, err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreRefusesBrokenBackup(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.db")
	_ = os.WriteFile(bad, []byte("not a database"), 0o600)
	if _, err := Restore(t.TempDir(), bad, t0); err == nil {
		t.Fatal("restored a file that is not a gpc store")
	}
}

func dump(t *testing.T, s *Store) string {
	var b strings.Builder
	_ = s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			fmt.Fprintf(&b, "[%s] seq %d\n", name, bk.Sequence())
			return bk.ForEach(func(k, v []byte) error { fmt.Fprintf(&b, "%x=%x\n", k, v); return nil })
		})
	})
	return b.String()
}

// Flipping one byte inside a ledger entry on disk makes the check fail and
// name that entry.
func TestLedgerTamperDetected(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	seed(t, s)
	err := s.Update(admin(), func(tx *Tx) error { return tx.Audit("note", "tamper-target-marker", "", "", "original text") })
	if err != nil {
		t.Fatal(err)
	}
	n, _ := s.VerifyLedger()
	s.Close()
	if rep, err := Check(dir, false); err != nil || !rep.OK() {
		t.Fatalf("clean store fails check: %v %v", err, rep)
	}
	path := filepath.Join(dir, DBFile)
	raw, _ := os.ReadFile(path)
	i := bytes.Index(raw, []byte("original text"))
	if i < 0 {
		t.Fatal("entry not found on disk")
	}
	raw[i] ^= 0x01
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("audit ledger entry %d: hash mismatch", n)
	if rep.OK() || !strings.Contains(rep.FirstProblem(), want) {
		t.Fatalf("check after tamper: %v; want %q", rep.Problems, want)
	}
}

// A second process on the same data directory fails fast with a clear
// message naming the file, instead of hanging.
func TestSecondProcessFailsFast(t *testing.T) {
	if dir := os.Getenv("GPC_TEST_SECOND_OPEN"); dir != "" {
		_, err := Open(dir, Options{Timeout: 200 * time.Millisecond})
		fmt.Println("ERR:", err)
		return
	}
	dir := t.TempDir()
	s := openTest(t, dir)
	_ = s
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondProcessFailsFast$")
	cmd.Env = append(os.Environ(), "GPC_TEST_SECOND_OPEN="+dir)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("second process hung")
	}
	msg := string(out)
	if !strings.Contains(msg, "locked by another gpc process") || !strings.Contains(msg, filepath.Join(dir, DBFile)) || !strings.Contains(msg, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("message does not name the file and holder: %s", msg)
	}
}

func TestAuditScopedByOrg(t *testing.T) {
	s := openTest(t, t.TempDir())
	seed(t, s)
	_ = s.Update(admin(), func(tx *Tx) error {
		_ = tx.Audit("declaration.declare", "declaration 1/A81001", "A81001", "calculated", "declared")
		return tx.Audit("declaration.declare", "declaration 1/A81002", "A81002", "calculated", "declared")
	})
	_ = s.View(func(tx *Tx) error {
		mine, _ := tx.AuditEntries(AuditFilter{Orgs: []string{"A81001"}})
		for _, e := range mine {
			if e.Org != "A81001" {
				t.Errorf("scoped listing leaked %+v", e)
			}
		}
		if len(mine) < 2 { // the org.put and the declaration
			t.Errorf("scoped listing = %d entries", len(mine))
		}
		all, _ := tx.AuditEntries(AuditFilter{Action: "declaration."})
		if len(all) != 2 || all[0].Seq < all[1].Seq {
			t.Errorf("filtered listing = %+v", all)
		}
		return nil
	})
}

func FuzzDecodeStoredValue(f *testing.F) {
	f.Add(envelope(envJSON, 3, []byte(`{"code":"A81001","kind":"practice"}`)))
	f.Add(envelope(envBinary, 1, encodeResult(&domain.ExtractResult{Run: 2, RuleSetHash: "x", Values: []domain.FieldValue{fv("A", "B", 5)}}, 1)))
	f.Add([]byte{})
	f.Add([]byte("g\x02\x00\x00\x00\x00\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	layout := func(id uint64) ([]domain.FieldKey, error) {
		if id == 1 {
			return []domain.FieldKey{{Indicator: "A", Field: "B"}}, nil
		}
		return nil, errors.New("no layout")
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var o domain.Org
		_ = DecodeJSON(raw, &o)
		if format, _, payload, err := openEnvelope(raw); err == nil && format == envBinary {
			_, _ = DecodeResultPayload(payload, layout)
		}
		_ = printableKey(raw)
	})
}

func fv(ind, field string, v int64) domain.FieldValue {
	return domain.FieldValue{Indicator: ind, Field: field, Value: v}
}
