package tui

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	gossh "golang.org/x/crypto/ssh"

	"gpcollections/domain"
	"gpcollections/domain/rulesets"
	"gpcollections/keys"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/store/scheduler"
	"gpcollections/tui/session"
)

// The seeded world: one commissioner (QWE) with four practices, a second
// commissioner (QXX) with one, a requesting organisation, a user per role
// bundle, the shipped services with their timetables, and a year of work:
// childhood immunisations declared and paid monthly, a learning disability
// quarter entered by hand, QOF year-end extracted with declarations in
// several states, flu offered and declared, a failed and a running
// extraction, and a check run. The clock stops at Now.

// Now is the tests' clock: Tuesday 21 April 2026, 10:00 in England; the
// QOF year-end declaration deadline (24 April) is 3 days away.
var Now = time.Date(2026, 4, 21, 9, 0, 0, 0, time.UTC)

// testClock is a settable clock shared by the store and the session.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// bundleUsers names the seeded user holding each role bundle.
var bundleUsers = []struct{ bundle, user string }{
	{"practice-staff", "pat"},
	{"commissioner-approver", "cora"},
	{"commissioner-finance", "finn"},
	{"support", "sue"},
	{"admin", "admin"},
	{"requester", "rita"},
}

type userSpec struct {
	name, full, org string
	kind            domain.OrgKind
	bundle          string
	roles           []domain.Role
}

var seedUsers = []userSpec{
	{"pat", "Pat Practice", "A81001", domain.OrgPractice, "practice-staff", nil},
	{"pam", "Pam Partner", "A81002", domain.OrgPractice, "practice-staff", nil},
	{"meg", "Meg Meadow", "A81004", domain.OrgPractice, "practice-staff", nil},
	{"val", "Val Viewer", "A81001", domain.OrgPractice, "", []domain.Role{domain.RoleView}},
	{"cora", "Cora Commissioner", "QWE", domain.OrgCommissioner, "commissioner-approver", nil},
	{"finn", "Finn Finance", "QWE", domain.OrgCommissioner, "commissioner-finance", nil},
	{"otto", "Otto Other", "QXX", domain.OrgCommissioner, "commissioner-approver", nil},
	{"bea", "Bea Faraway", "B82001", domain.OrgPractice, "practice-staff", nil},
	{"sue", "Sue Support", domain.NationalCode, domain.OrgNational, "support", nil},
	{"rita", "Rita Requester", "NHSE", domain.OrgRequester, "requester", nil},
}

// sshKey makes a deterministic SSH key for a user, so fingerprints in the
// golden files never change.
func sshKey(t testing.TB, name string) domain.PublicKey {
	seed := sha256.Sum256([]byte("gpc test key " + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub, err := gossh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	line := string(gossh.MarshalAuthorizedKey(pub))
	k, err := keys.ParseAuthorizedKey(line[:len(line)-1]+" "+name+"@example", domain.MustDate("2025-03-01"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// world is a seeded store opened for one test.
type world struct {
	st    *store.Store
	clock *testClock
	colls map[string]uint64 // "QOF2526 2026-03-31" -> id
}

var (
	seedOnce sync.Once
	seedDir  string
	seedErr  error
	seedIDs  map[string]uint64
)

// newWorld copies the seeded store (built once per test binary) into a
// fresh directory and opens it with the clock at Now.
func newWorld(t testing.TB) *world {
	t.Helper()
	seedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gpc-tui-seed-")
		if err != nil {
			seedErr = err
			return
		}
		seedDir = dir
		seedIDs, seedErr = buildSeed(t, dir)
	})
	if seedErr != nil {
		t.Fatalf("seeding: %v", seedErr)
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(seedDir, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, store.DBFile), src, 0o600); err != nil {
		t.Fatal(err)
	}
	clk := &testClock{t: Now}
	st, err := store.Open(dir, store.Options{Clock: clk.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &world{st: st, clock: clk, colls: seedIDs}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if seedDir != "" {
		os.RemoveAll(seedDir)
	}
	os.Exit(code)
}

func (w *world) user(t testing.TB, name string) *domain.User {
	t.Helper()
	u, err := ops.Actor(w.st, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// read runs one read transaction for a test, failing the test on error.
func read[T any](t testing.TB, w *world, f func(*store.Tx) (T, error)) T {
	t.Helper()
	var v T
	if err := w.st.View(func(tx *store.Tx) error {
		var err error
		v, err = f(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func (w *world) coll(t testing.TB, label string) uint64 {
	t.Helper()
	id, ok := w.colls[label]
	if !ok {
		t.Fatalf("no seeded collection %q", label)
	}
	return id
}

// ascii is a renderer as an Ascii / NO_COLOR terminal gets.
func ascii() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	r.SetHasDarkBackground(true)
	return r
}

// context is the session a user gets, at the golden size.
func (w *world) context(t testing.TB, name string, sch session.Scheduler) session.Context {
	u := w.user(t, name)
	return session.Context{Store: w.st, User: u, Renderer: ascii(), Clock: w.clock.Now, Width: goldenW, Height: goldenH,
		Scheduler: sch, Remote: "test",
		ReloadUser: func() (*domain.User, error) { return ops.Actor(w.st, name) }}
}

// fakeScheduler stands in for the running scheduler: its controls are the
// scheduler's own store-level functions, its status is read from the store,
// and a check run compares the stored result with itself plus a known
// difference (the real one extracts the practice's source).
type fakeScheduler struct {
	st     *store.Store
	checks int
}

func (f *fakeScheduler) RunNow(u *domain.User, id uint64) (*domain.Collection, error) {
	return scheduler.RunNow(f.st, u, id)
}
func (f *fakeScheduler) Rerun(u *domain.User, id uint64, reason string) (*domain.Collection, error) {
	return scheduler.Rerun(f.st, u, id, reason)
}
func (f *fakeScheduler) Retry(u *domain.User, id uint64, practice, reason string) (*domain.Job, error) {
	return scheduler.Retry(f.st, u, id, practice, reason)
}
func (f *fakeScheduler) Pause(u *domain.User, id uint64, reason string) (*domain.Collection, error) {
	return ops.SetPaused(f.st, u, id, true, reason)
}
func (f *fakeScheduler) Resume(u *domain.User, id uint64, reason string) (*domain.Collection, error) {
	return ops.SetPaused(f.st, u, id, false, reason)
}
func (f *fakeScheduler) Cancel(u *domain.User, id uint64, reason string) (*domain.Collection, error) {
	return ops.CancelCollection(f.st, u, id, reason)
}
func (f *fakeScheduler) Status() (*scheduler.Status, error) { return scheduler.ReadStatus(f.st) }
func (f *fakeScheduler) Check(_ context.Context, u *domain.User, id uint64, practice string) (*domain.CheckRun, error) {
	f.checks++
	var cr *domain.CheckRun
	err := f.st.Update(u, func(tx *store.Tx) error {
		t, err := tx.TargetFor(practice)
		if err != nil {
			return err
		}
		if err := domain.Authorize(u, domain.ActRequestCheck, t); err != nil {
			return err
		}
		r, err := tx.Result(id, practice)
		if err != nil {
			return err
		}
		cur := append([]domain.FieldValue(nil), r.Values...)
		cur[0].Value += 7
		diffs, same := domain.CompareValues(r.Values, cur)
		cr = &domain.CheckRun{Collection: id, Practice: practice, RequestedBy: u.Name, At: tx.Now(),
			Against: fmt.Sprintf("extract run %d", r.Run), Run: r.Run, Patients: 5000, Same: same, Diffs: diffs}
		if err := tx.PutCheckRun(cr); err != nil {
			return err
		}
		return tx.Audit("check.run", fmt.Sprintf("check %d/%s", id, practice), practice, "", fmt.Sprintf("%d differ", len(diffs)))
	})
	return cr, err
}

// ---- building the seed ----

// seeder plans timed steps and runs them in time order, so the audit log
// reads as a year of work would.
type seeder struct {
	t     testing.TB
	st    *store.Store
	clk   *testClock
	users map[string]*domain.User
	colls map[string]*domain.Collection
	steps []step
	err   error
}

type step struct {
	at time.Time
	fn func()
}

func (s *seeder) must(err error) {
	if err != nil && s.err == nil {
		s.err = err
	}
}

// plan schedules fn at a time ("2006-01-02 15:04", UTC).
func (s *seeder) plan(when string, fn func()) { s.steps = append(s.steps, step{at(when), fn}) }

func buildSeed(t testing.TB, dir string) (map[string]uint64, error) {
	clk := &testClock{t: at("2025-03-01 09:00")}
	st, err := store.Open(dir, store.Options{Clock: clk.Now, NoSync: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	s := &seeder{t: t, st: st, clk: clk, users: map[string]*domain.User{}, colls: map[string]*domain.Collection{}}
	s.base()
	s.timetable()
	if s.err != nil {
		return nil, s.err
	}
	s.offers()
	s.childImms()
	s.learningDisability()
	s.qof()
	s.flu()
	s.closePast()
	s.checkRun()
	s.visits()
	sort.SliceStable(s.steps, func(i, j int) bool { return s.steps[i].at.Before(s.steps[j].at) })
	for _, st := range s.steps {
		if s.err != nil {
			break
		}
		s.clk.Set(st.at)
		st.fn()
	}
	if s.err != nil {
		return nil, s.err
	}
	ids := map[string]uint64{}
	for k, c := range s.colls {
		ids[k] = c.ID
	}
	return ids, nil
}

func (s *seeder) base() {
	admin, err := ops.Bootstrap(s.st, "admin", "Ada Admin", sshKey(s.t, "admin"))
	s.must(err)
	if err != nil {
		return
	}
	s.users["admin"] = admin
	list := func(n int64) []domain.ListSize {
		return []domain.ListSize{{From: domain.MustDate("2025-01-01"), Size: n}}
	}
	for _, o := range []*domain.Org{
		{Code: "QWE", Kind: domain.OrgCommissioner, Name: "NHS Example ICB"},
		{Code: "QXX", Kind: domain.OrgCommissioner, Name: "NHS Other ICB"},
		{Code: "NHSE", Kind: domain.OrgRequester, Name: "NHS England analytics"},
		{Code: "A81001", Kind: domain.OrgPractice, Name: "Riverside Surgery", Parent: "QWE", ListSizes: list(8200)},
		{Code: "A81002", Kind: domain.OrgPractice, Name: "Hillview Medical Centre", Parent: "QWE", ListSizes: list(12400)},
		{Code: "A81003", Kind: domain.OrgPractice, Name: "Oak Lane Practice", Parent: "QWE", ListSizes: list(5100)},
		{Code: "A81004", Kind: domain.OrgPractice, Name: "Meadow Health Centre", Parent: "QWE", ListSizes: list(9900)},
		{Code: "B82001", Kind: domain.OrgPractice, Name: "Far Away Surgery", Parent: "QXX", ListSizes: list(7000)},
	} {
		s.must(ops.AddOrg(s.st, admin, o))
	}
	for _, spec := range seedUsers {
		roles := spec.roles
		if spec.bundle != "" {
			b, err := domain.BundleByName(spec.bundle)
			s.must(err)
			roles = b.Roles
		}
		u := &domain.User{Name: spec.name, FullName: spec.full, Keys: []domain.PublicKey{sshKey(s.t, spec.name)}}
		for _, r := range roles {
			s.must(u.AddGrant(domain.Grant{Org: spec.org, OrgKind: spec.kind, Role: r}))
		}
		s.must(ops.AddUser(s.st, admin, u))
	}
	for _, spec := range seedUsers {
		u, err := ops.Actor(s.st, spec.name)
		s.must(err)
		s.users[spec.name] = u
	}
	for _, id := range []string{"QOF2526", "FLU2526", "LDHC2526", "CHILDIMM2526"} {
		def, err := rulesets.Service(id)
		s.must(err)
		s.must(s.st.Update(admin, func(tx *store.Tx) error { return tx.PutService(def, 0) }))
	}
}

func (s *seeder) timetable() {
	for _, id := range []string{"QOF2526", "FLU2526", "LDHC2526", "CHILDIMM2526"} {
		g, err := ops.GenerateTimetable(s.st, s.users["admin"], id)
		s.must(err)
		if g != nil {
			for _, c := range g.Added {
				s.colls[c.Label()] = c
			}
		}
	}
}

func (s *seeder) offers() {
	s.plan("2025-03-15 10:00", func() {
		for _, svc := range []string{"QOF2526", "CHILDIMM2526", "LDHC2526", "FLU2526"} {
			_, err := ops.Offer(s.st, s.users["cora"], svc, nil, domain.NoDate, domain.NoDate)
			s.must(err)
		}
		_, err := ops.Offer(s.st, s.users["otto"], "QOF2526", nil, domain.NoDate, domain.NoDate)
		s.must(err)
	})
	s.plan("2025-03-20 10:00", func() {
		s.must(ops.Accept(s.st, s.users["pat"], "LDHC2526", "A81001"))
		s.must(ops.Accept(s.st, s.users["pam"], "FLU2526", "A81002"))
		s.must(ops.Decline(s.st, s.users["meg"], "FLU2526", "A81004", "no capacity this winter"))
		// A81001's flu offer stays open: a task for pat.
	})
}

// extract stores a collection's results as the scheduler would: the
// collection extracted, one succeeded job and one result per practice, and
// the declarations recalculated, in one transaction.
func (s *seeder) extract(label string, values map[string][]domain.FieldValue) {
	c := s.colls[label]
	if c == nil {
		s.must(fmt.Errorf("no collection %s", label))
		return
	}
	s.must(s.st.Update(domain.SystemUser, func(tx *store.Tx) error {
		cur, err := tx.Collection(c.ID)
		if err != nil {
			return err
		}
		cur.Status, cur.Run = domain.CollExtracted, 1
		if err := tx.PutCollection(cur); err != nil {
			return err
		}
		ps := make([]string, 0, len(values))
		for p := range values {
			ps = append(ps, p)
		}
		sort.Strings(ps)
		for _, p := range ps {
			now := tx.Now()
			r := &domain.ExtractResult{Collection: c.ID, Practice: p, Run: 1, Values: values[p],
				RuleSetHash: "rules-" + c.Service, SourceHash: "source-" + p, Started: now.Add(-time.Minute), Finished: now}
			if err := tx.PutResult(r); err != nil {
				return err
			}
			if err := tx.PutJob(&domain.Job{Collection: c.ID, Practice: p, Run: 1, State: domain.JobSucceeded, Attempts: 1,
				Done: 4000, Total: 4000, QueuedAt: now.Add(-2 * time.Minute), StartedAt: now.Add(-time.Minute), FinishedAt: now}); err != nil {
				return err
			}
			if err := ops.Recalculate(tx, cur, p, "extract run 1"); err != nil {
				return err
			}
		}
		return nil
	}))
}

// hash is what the practice sees before declaring.
func (s *seeder) hash(u *domain.User, coll uint64, practice string) string {
	v, err := ops.ViewDeclaration(s.st, u, coll, practice)
	s.must(err)
	if v == nil {
		return ""
	}
	return v.Declaration.InputsHash
}

// declareThrough plans the declaration and, with more times given, the
// approval and the financial approval.
func (s *seeder) declareThrough(label, practice, declarer string, when ...string) {
	s.plan(when[0], func() {
		c, u := s.colls[label], s.users[declarer]
		s.must(ops.Declare(s.st, u, c.ID, practice, s.hash(u, c.ID, practice)))
	})
	if len(when) > 1 {
		s.plan(when[1], func() { s.must(ops.Approve(s.st, s.users["cora"], s.colls[label].ID, practice, "")) })
	}
	if len(when) > 2 {
		s.plan(when[2], func() { s.must(ops.FinanceApprove(s.st, s.users["finn"], s.colls[label].ID, practice, "")) })
	}
}

func counts(def *domain.ServiceDef, seed int64) []domain.FieldValue {
	var out []domain.FieldValue
	for i, d := range def.Indicators {
		if d.Entry == domain.EntryManual {
			continue
		}
		for _, f := range d.Fields() {
			out = append(out, domain.FieldValue{Indicator: d.ID, Field: f, Value: 20 + (seed*7+int64(i)*13)%40})
		}
	}
	return out
}

func (s *seeder) childImms() {
	def, err := rulesets.Service("CHILDIMM2526")
	s.must(err)
	for i, m := range []string{"2025-10-31", "2025-11-30", "2025-12-31", "2026-01-31", "2026-02-28"} {
		y, mo, _ := domain.MustDate(m).AddDays(1).Civil()
		day := func(n int) string { return fmt.Sprintf("%04d-%02d-%02d 10:00", y, int(mo), n) }
		label, vals := "CHILDIMM2526 "+m, counts(def, int64(i))
		s.plan(day(2), func() { s.extract(label, map[string][]domain.FieldValue{"A81001": vals}) })
		s.declareThrough(label, "A81001", "pat", day(12), day(20), day(26))
	}
	// March 2026 is extracting now: one practice running, one queued, one
	// failed after three attempts, one running again after a restart.
	s.plan("2026-04-21 08:30", func() {
		c := s.colls["CHILDIMM2526 2026-03-31"]
		start := at("2026-04-21 06:00")
		s.must(s.st.Update(domain.SystemUser, func(tx *store.Tx) error {
			cur, err := tx.Collection(c.ID)
			if err != nil {
				return err
			}
			cur.Status, cur.Run = domain.CollExtracting, 1
			if err := tx.PutCollection(cur); err != nil {
				return err
			}
			for _, j := range []*domain.Job{
				{Practice: "A81001", State: domain.JobRunning, Attempts: 1, Done: 1200, Total: 2000, StartedAt: start.Add(time.Hour)},
				{Practice: "A81002", State: domain.JobQueued},
				{Practice: "A81003", State: domain.JobFailed, Attempts: 3, Error: `source /srv/gpc/sources/A81003: Patient.ndjson line 12: birthDate "1975-13-01" is not a date`,
					StartedAt: start, FinishedAt: start.Add(2 * time.Hour), NextAttempt: at("2026-04-21 12:00")},
				{Practice: "A81004", State: domain.JobRunning, Attempts: 2, Done: 500, Total: 4000, StartedAt: start.Add(2 * time.Hour),
					Note: "attempt 1 was interrupted by a restart and resumed"},
			} {
				j.Collection, j.Run, j.QueuedAt = c.ID, 1, start
				if err := tx.PutJob(j); err != nil {
					return err
				}
			}
			return nil
		}))
	})
}

func (s *seeder) learningDisability() {
	// December quarter: extracted, the register entered by hand and
	// submitted, then declared and paid.
	s.plan("2026-01-02 11:00", func() {
		s.extract("LDHC2526 2025-12-31", map[string][]domain.FieldValue{"A81001": {{Indicator: "LDHC001", Field: domain.FieldCount, Value: 9}}})
	})
	s.plan("2026-01-05 11:00", func() {
		_, err := ops.SaveManual(s.st, s.users["pat"], s.colls["LDHC2526 2025-12-31"].ID, "A81001",
			map[domain.FieldKey]string{{Indicator: "LDREG", Field: domain.FieldRegister}: "40"}, true, 0)
		s.must(err)
	})
	s.declareThrough("LDHC2526 2025-12-31", "A81001", "pat", "2026-01-12 11:00", "2026-01-20 11:00", "2026-01-26 11:00")
	// March quarter: extracted; the register is still to be entered.
	s.plan("2026-04-02 10:00", func() {
		s.extract("LDHC2526 2026-03-31", map[string][]domain.FieldValue{"A81001": {{Indicator: "LDHC001", Field: domain.FieldCount, Value: 12}}})
	})
}

// qofValues are a practice's year-end values; p makes practices differ.
func qofValues(def *domain.ServiceDef, p int64) []domain.FieldValue {
	var out []domain.FieldValue
	for i, d := range def.Indicators {
		ii := int64(i)
		switch d.Kind {
		case domain.IndRegister:
			out = append(out, domain.FieldValue{Indicator: d.ID, Field: domain.FieldRegister, Value: 300 + 53*ii + 17*p})
		case domain.IndAchievement:
			reg := 200 + 37*ii + 11*p
			var exc int64
			var reasons []domain.FieldValue
			for j, r := range d.Reasons {
				v := (ii + int64(j) + p) % 5
				exc += v
				reasons = append(reasons, domain.FieldValue{Indicator: d.ID, Field: r, Value: v})
			}
			den := reg*9/10 - exc
			num := den * (50 + (ii*7+p*13)%45) / 100
			out = append(out, domain.FieldValue{Indicator: d.ID, Field: domain.FieldRegister, Value: reg},
				domain.FieldValue{Indicator: d.ID, Field: domain.FieldDenominator, Value: den},
				domain.FieldValue{Indicator: d.ID, Field: domain.FieldNumerator, Value: num})
			out = append(out, reasons...)
		}
	}
	return out
}

// DistinctB is a value only practice A81002's figures hold (its diabetes
// register), so a test can tell whether another practice's user saw it.
const DistinctB = 4242

func (s *seeder) qof() {
	def, err := rulesets.Service("QOF2526")
	s.must(err)
	b := qofValues(def, 2)
	for i := range b {
		if b[i].Indicator == "DM017" {
			b[i].Value = DistinctB
		}
	}
	label := "QOF2526 2026-03-31"
	s.plan("2026-04-02 06:00", func() {
		s.extract(label, map[string][]domain.FieldValue{
			"A81001": qofValues(def, 1), "A81002": b, "A81004": qofValues(def, 4), "B82001": qofValues(def, 5)})
		s.must(s.st.Update(domain.SystemUser, func(tx *store.Tx) error {
			return tx.PutJob(&domain.Job{Collection: s.colls[label].ID, Practice: "A81003", Run: 1, State: domain.JobFailed, Attempts: 3,
				Error: "source directory /srv/gpc/sources/A81003 is missing: link the practice's source and retry", QueuedAt: tx.Now(),
				StartedAt: tx.Now(), FinishedAt: tx.Now().Add(time.Minute)})
		}))
	})
	s.declareThrough(label, "A81002", "pam", "2026-04-16 10:00")
	s.declareThrough(label, "A81004", "meg", "2026-04-16 11:00", "2026-04-17 15:00")
	s.declareThrough(label, "B82001", "bea", "2026-04-16 12:00")
}

func (s *seeder) flu() {
	def, err := rulesets.Service("FLU2526")
	s.must(err)
	s.plan("2026-04-02 07:00", func() {
		s.extract("FLU2526 2026-03-31", map[string][]domain.FieldValue{"A81002": counts(def, 3)})
	})
	s.declareThrough("FLU2526 2026-03-31", "A81002", "pam", "2026-04-16 10:30")
}

// closePast closes every collection whose window ended before April 2026
// and that is still scheduled: a year on, they were extracted and done with.
func (s *seeder) closePast() {
	s.plan("2026-04-10 09:00", func() {
		s.must(s.st.Update(domain.SystemUser, func(tx *store.Tx) error {
			cs, err := tx.Collections("")
			if err != nil {
				return err
			}
			for _, c := range cs {
				if c.WindowEnd < domain.MustDate("2026-04-01") && c.Status != domain.CollClosed {
					c.Status, c.Run = domain.CollClosed, max(c.Run, 1)
					if err := tx.PutCollection(c); err != nil {
						return err
					}
				}
			}
			return nil
		}))
	})
}

func (s *seeder) checkRun() {
	// The practice's list size is corrected after the visit: its figures
	// change, which its users see on their next visit.
	s.plan("2026-04-18 10:00", func() {
		s.must(ops.SetListSize(s.st, s.users["admin"], "A81001", domain.MustDate("2026-01-01"), 8350))
	})
	s.plan("2026-04-19 10:00", func() {
		c := s.colls["QOF2526 2026-03-31"]
		s.must(s.st.Update(s.users["pat"], func(tx *store.Tx) error {
			r, err := tx.Result(c.ID, "A81001")
			if err != nil {
				return err
			}
			cur := append([]domain.FieldValue(nil), r.Values...)
			for i := range cur {
				switch {
				case cur[i].Indicator == "DM020" && cur[i].Field == domain.FieldNumerator:
					cur[i].Value += 3
				case cur[i].Indicator == "HYP008" && cur[i].Field == domain.FieldDenominator:
					cur[i].Value--
				}
			}
			diffs, same := domain.CompareValues(r.Values, cur)
			if err := tx.PutCheckRun(&domain.CheckRun{Collection: c.ID, Practice: "A81001", RequestedBy: "pat", At: tx.Now(),
				Against: "extract run 1", Run: 1, SourceHash: "source-A81001-now", RuleSetHash: r.RuleSetHash, Patients: 8123,
				Same: same, Diffs: diffs}); err != nil {
				return err
			}
			return tx.Audit("check.run", fmt.Sprintf("check %d/A81001", c.ID), "A81001", "", fmt.Sprintf("%d fields differ", len(diffs)))
		}))
	})
}

// visits: everyone but rita last signed in on 15 April, so their home
// screens list what changed since; rita's next visit is her first.
func (s *seeder) visits() {
	s.plan("2026-04-15 09:00", func() {
		for _, spec := range append([]userSpec{{name: "admin"}}, seedUsers...) {
			if spec.name == "rita" {
				continue
			}
			_, err := ops.RecordVisit(s.st, s.users[spec.name])
			s.must(err)
		}
	})
}
