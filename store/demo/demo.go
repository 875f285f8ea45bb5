// Package demo seeds a realistic demonstration data directory: one
// commissioner, five practices with generated clinical records of different
// sizes, QOF 2025/26, seasonal flu and learning disability health checks on
// a timetable, and a year of work done through the same operations people
// use (offers, extractions by the scheduler, manual entries, declarations,
// approvals, payment runs). It walks a manual clock through the service year
// so every record and audit entry carries the time it would have had, and
// stops at the demo's "today" with collections complete, one due to extract
// as soon as a server starts, one rescheduled, and declarations in every
// state.
package demo

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/synth"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/store/scheduler"
	"gpcollections/store/sources"
)

// Today is the demo's "today": inside the year-end extraction window, a
// fortnight before the QOF declaration deadline.
const Today = "2026-04-08T09:00"

// Marker is the file that says a data directory holds a seeded demo.
const Marker = "demo.json"

// KeysDir holds the demo users' SSH keys.
const KeysDir = "demo-keys"

var london = mustLondon()

func mustLondon() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return loc
}

// TodayTime is Today as an instant.
func TodayTime() time.Time {
	t, _ := time.ParseInLocation("2006-01-02T15:04", Today, london)
	return t
}

// Practice is one demo practice.
type Practice struct {
	Code, Name string
	Patients   int
	User       string // its practice manager's user name
	FullName   string
}

// Practices are the demo practices, of different sizes. A81005 takes part
// in QOF only, and its source becomes unreadable before the year-end
// extract, so the extract monitor shows a failure and manual entry opens.
var Practices = []Practice{
	{"A81001", "Marsh Lane Surgery", 6000, "ann", "Ann Okafor"},
	{"A81002", "Hill Road Medical Centre", 3500, "pat", "Pat Nowak"},
	{"A81003", "Riverside Practice", 2000, "raj", "Raj Mehta"},
	{"A81004", "Church Street Surgery", 1000, "lee", "Lee Chambers"},
	{"A81005", "Station Road Health Centre", 1500, "kim", "Kim Adeyemi"},
}

// User is a demo user and where their key is.
type User struct {
	Name     string `json:"name"`
	FullName string `json:"fullName"`
	Bundle   string `json:"bundle"`
	Org      string `json:"org"`
	Key      string `json:"key"` // private key path, relative to the data directory
}

// Manifest is what the marker file records.
type Manifest struct {
	Today string `json:"today"`
	Users []User `json:"users"`
}

// Exists reports whether dir holds a seeded demo.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, Marker))
	return err == nil
}

// Load reads a seeded demo's manifest.
func Load(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, Marker))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, Marker), err)
	}
	return &m, nil
}

// people are the non-practice demo users: one per remaining role bundle.
var people = []User{
	{Name: "admin", FullName: "Alex Admin", Bundle: "admin", Org: domain.NationalCode},
	{Name: "cara", FullName: "Cara Quinn", Bundle: "commissioner-approver", Org: "QWE"},
	{Name: "finn", FullName: "Finn Osei", Bundle: "commissioner-finance", Org: "QWE"},
	{Name: "sam", FullName: "Sam Support", Bundle: "support", Org: domain.NationalCode},
	{Name: "rita", FullName: "Rita Data", Bundle: "requester", Org: "X24"},
}

// seeder carries the state of one seeding run.
type seeder struct {
	dir   string
	scale float64
	log   io.Writer
	clk   *scheduler.ManualClock
	s     *store.Store
	sched *scheduler.Scheduler
	users map[string]*domain.User
	colls map[string]*domain.Collection // "SERVICE YYYY-MM-DD"
}

// Seed builds the demo in dir, which must not hold gpc data yet. Scale
// multiplies the practices' sizes (1 for the demo; tests use less).
func Seed(dir string, log io.Writer, scale float64) (*Manifest, error) {
	if scale <= 0 || scale > 10 {
		return nil, fmt.Errorf("demo scale %g: want more than 0 and at most 10", scale)
	}
	if _, err := os.Stat(filepath.Join(dir, store.DBFile)); err == nil {
		return nil, fmt.Errorf("%s already holds gpc data; use another directory for the demo", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	start := time.Date(2025, 3, 20, 9, 0, 0, 0, london)
	sd := &seeder{dir: dir, log: log, scale: scale, clk: scheduler.NewManualClock(start),
		users: map[string]*domain.User{}, colls: map[string]*domain.Collection{}}
	// Seeding writes thousands of records: skip fsync per commit (the file
	// is synced when the store closes) and the demo is rebuilt if anything
	// goes wrong, by deleting the directory.
	s, err := store.Open(dir, store.Options{Clock: sd.clk.Now, NoSync: true})
	if err != nil {
		return nil, err
	}
	sd.s = s
	man, err := sd.run()
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(man, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, Marker), b, 0o600); err != nil {
		return nil, err
	}
	return man, nil
}

func (sd *seeder) logf(format string, a ...any) {
	if sd.log != nil {
		fmt.Fprintf(sd.log, "demo: "+format+"\n", a...)
	}
}

func (sd *seeder) run() (*Manifest, error) {
	man := &Manifest{Today: Today}
	if err := sd.organisations(); err != nil {
		return nil, err
	}
	users, err := sd.people()
	if err != nil {
		return nil, err
	}
	man.Users = users
	if err := sd.sources(); err != nil {
		return nil, err
	}
	if err := sd.timetable(); err != nil {
		return nil, err
	}
	if err := sd.offers(); err != nil {
		return nil, err
	}
	sd.sched = scheduler.New(sd.s, scheduler.Config{Clock: sd.clk, Workers: 2, MaxAttempts: 3,
		Backoff: time.Minute, CacheDir: filepath.Join(sd.dir, "sources-cache")})
	if err := sd.sched.Start(); err != nil {
		return nil, err
	}
	err = sd.year()
	sd.sched.Stop()
	if err != nil {
		return nil, err
	}
	// The flu collection for March opens to the server's scheduler: the
	// first `gpc serve` extracts it while people watch the monitor.
	admin := sd.users["admin"]
	if _, err := ops.SetPaused(sd.s, admin, sd.coll("FLU2526", "2026-03-31").ID, false,
		"demo: released for extraction when the server starts"); err != nil {
		return nil, err
	}
	return man, nil
}

func (sd *seeder) organisations() error {
	_, pub, err := sd.newKey("admin")
	if err != nil {
		return err
	}
	k, err := parseKey(pub, sd.today())
	if err != nil {
		return err
	}
	admin, err := ops.Bootstrap(sd.s, "admin", "Alex Admin", k)
	if err != nil {
		return err
	}
	sd.users["admin"] = admin
	if err := ops.InstallShipped(sd.s, admin); err != nil {
		return err
	}
	orgs := []*domain.Org{
		{Code: "QWE", Kind: domain.OrgCommissioner, Name: "NHS South West London ICB"},
		{Code: "X24", Kind: domain.OrgRequester, Name: "NHS England"},
	}
	for _, p := range Practices {
		orgs = append(orgs, &domain.Org{Code: p.Code, Kind: domain.OrgPractice, Name: p.Name, Parent: "QWE"})
	}
	for _, o := range orgs {
		if err := ops.AddOrg(sd.s, admin, o); err != nil {
			return err
		}
	}
	return nil
}

// people creates the users, each with a fresh key pair under demo-keys.
func (sd *seeder) people() ([]User, error) {
	var out []User
	all := append([]User(nil), people...)
	for _, p := range Practices {
		all = append(all, User{Name: p.User, FullName: p.FullName, Bundle: "practice-staff", Org: p.Code})
	}
	for _, u := range all {
		keyPath, pub, err := sd.keyFor(u.Name)
		if err != nil {
			return nil, err
		}
		u.Key = keyPath
		out = append(out, u)
		if u.Name == "admin" {
			continue // created by Bootstrap
		}
		k, err := parseKey(pub, sd.today())
		if err != nil {
			return nil, err
		}
		b, err := domain.BundleByName(u.Bundle)
		if err != nil {
			return nil, err
		}
		du := &domain.User{Name: u.Name, FullName: u.FullName, Keys: []domain.PublicKey{k}}
		kind := b.Kind
		for _, r := range b.Roles {
			if err := du.AddGrant(domain.Grant{Org: u.Org, OrgKind: kind, Role: r}); err != nil {
				return nil, err
			}
		}
		if err := ops.AddUser(sd.s, sd.users["admin"], du); err != nil {
			return nil, err
		}
		sd.users[u.Name] = du
	}
	return out, nil
}

// keyFor returns the key pair made for name (the admin's was made first).
func (sd *seeder) keyFor(name string) (string, []byte, error) {
	rel := filepath.Join(KeysDir, name)
	if pub, err := os.ReadFile(filepath.Join(sd.dir, rel+".pub")); err == nil {
		return rel, pub, nil
	}
	return sd.newKey(name)
}

// newKey writes an ed25519 key pair in OpenSSH format, private key 0600.
func (sd *seeder) newKey(name string) (string, []byte, error) {
	dir := filepath.Join(sd.dir, KeysDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	pubKey, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	block, err := gossh.MarshalPrivateKey(priv, "gpc demo "+name)
	if err != nil {
		return "", nil, err
	}
	sshPub, err := gossh.NewPublicKey(pubKey)
	if err != nil {
		return "", nil, err
	}
	rel := filepath.Join(KeysDir, name)
	if err := os.WriteFile(filepath.Join(sd.dir, rel), pem.EncodeToMemory(block), 0o600); err != nil {
		return "", nil, err
	}
	line := []byte(strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub))) + " gpc-demo-" + name + "\n")
	if err := os.WriteFile(filepath.Join(sd.dir, rel+".pub"), line, 0o644); err != nil {
		return "", nil, err
	}
	return rel, line, nil
}

func parseKey(line []byte, added domain.Date) (domain.PublicKey, error) {
	pk, comment, _, _, err := gossh.ParseAuthorizedKey(line)
	if err != nil {
		return domain.PublicKey{}, err
	}
	return domain.PublicKey{Fingerprint: gossh.FingerprintSHA256(pk),
		Line: string(line[:len(line)-1]), Comment: comment, Added: added}, nil
}

func (sd *seeder) today() domain.Date { return ops.LondonDate(sd.clk.Now()) }

// sources generates each practice's clinical records as a FHIR bulk-data
// directory, links it, and records list sizes from who is registered.
func (sd *seeder) sources() error {
	admin := sd.users["admin"]
	for i, p := range Practices {
		dir := filepath.Join(sd.dir, "sources", p.Code)
		n := int(float64(p.Patients)*sd.scale + 0.5)
		if n < 20 {
			n = 20
		}
		opt := synth.Options{Practice: p.Code, Patients: n, Seed: int64(1000 + i),
			AchDate: domain.MustDate("2026-04-08"), FirstIndex: i * 100000}
		lists, err := writeSource(dir, opt)
		if err != nil {
			return fmt.Errorf("practice %s: %w", p.Code, err)
		}
		sd.logf("generated %s %s: %d patients", p.Code, p.Name, n)
		if _, err := ops.LinkSource(sd.s, admin, p.Code, dir); err != nil {
			return err
		}
		for _, d := range []string{"2025-01-01", "2026-01-01"} {
			if err := ops.SetListSize(sd.s, admin, p.Code, domain.MustDate(d), lists[d]); err != nil {
				return err
			}
		}
		// Prior-year (2024/25) QOF achievement, for aspiration payments:
		// about £12.50 a registered patient, varying by practice.
		prior := domain.Pence(lists["2025-01-01"] * int64(1150+100*i))
		if err := ops.SetAspirationPrior(sd.s, admin, "QOF2526", p.Code, prior, "2024/25 unadjusted QOF achievement (demo figure)"); err != nil {
			return err
		}
	}
	return nil
}

// writeSource writes the NDJSON files and counts who is registered on the
// two list-size dates.
func writeSource(dir string, opt synth.Options) (map[string]int64, error) {
	lists := map[string]int64{"2025-01-01": 0, "2026-01-01": 0}
	_, err := sources.WriteDir(dir, func(write func(clinical.Patient) error) error {
		return synth.Each(opt, func(p clinical.Patient) error {
			for d := range lists {
				if registeredOn(p, opt.Practice, domain.MustDate(d)) {
					lists[d]++
				}
			}
			return write(p)
		})
	})
	return lists, err
}

func registeredOn(p clinical.Patient, practice string, d domain.Date) bool {
	if p.Death.Valid() && p.Death < d {
		return false
	}
	for _, r := range p.Regs {
		if r.Practice == practice && r.Start <= d && (!r.End.Valid() || r.End >= d) {
			return true
		}
	}
	return false
}

func (sd *seeder) timetable() error {
	admin := sd.users["admin"]
	for _, svc := range []string{"QOF2526", "FLU2526", "LDHC2526"} {
		g, err := ops.GenerateTimetable(sd.s, admin, svc)
		if err != nil {
			return err
		}
		for _, c := range g.Added {
			sd.colls[c.Service+" "+c.AchDate.String()] = c
		}
	}
	// Held back for the live server: the March flu extract.
	if _, err := ops.SetPaused(sd.s, admin, sd.coll("FLU2526", "2026-03-31").ID, true,
		"demo: held for the server's first run"); err != nil {
		return err
	}
	// Rescheduled: the fourth-quarter learning disability extract moves
	// after Easter while two practices' systems are upgraded.
	ld := sd.coll("LDHC2526", "2026-03-31")
	ch := ops.NoDates()
	ch.Opens, ch.Closes = domain.MustDate("2026-04-20"), domain.MustDate("2026-04-28")
	ch.DeclareBy, ch.ApproveBy, ch.PayOn = domain.MustDate("2026-05-11"), domain.MustDate("2026-05-29"), domain.MustDate("2026-06-30")
	if _, _, err := ops.Reschedule(sd.s, admin, ld.ID, ch, "clinical system upgrades at two practices over Easter"); err != nil {
		return err
	}
	// A payment-parameter correction: national prevalences the shipped
	// rule set lacks (demo figures), as a new version.
	def, err := ops.Service(sd.s, admin, "QOF2526")
	if err != nil {
		return err
	}
	p, _ := def.LatestParams()
	p.Version++
	p.NationalPrevalence = copyPrev(p.NationalPrevalence)
	for reg, pct := range map[string]string{"STIA001": "1.8%", "COPD015": "1.9%", "MH001": "0.95%"} {
		r, err := domain.ParseRatio(pct)
		if err != nil {
			return err
		}
		p.NationalPrevalence[reg] = r
	}
	p.Note = "demo: national prevalences for stroke/TIA, COPD and mental health added (demo figures, not published ones)"
	if _, err := ops.CorrectPaymentParams(sd.s, admin, "QOF2526", p, "add the missing national prevalences (demo figures)"); err != nil {
		return err
	}
	return nil
}

func copyPrev(m map[string]domain.Ratio) map[string]domain.Ratio {
	out := map[string]domain.Ratio{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (sd *seeder) coll(service, ach string) *domain.Collection {
	c, ok := sd.colls[service+" "+ach]
	if !ok {
		panic("demo: no collection " + service + " " + ach)
	}
	return c
}

func (sd *seeder) offers() error {
	cara := sd.users["cara"]
	svcStart := domain.NoDate
	if _, err := ops.Offer(sd.s, cara, "QOF2526", nil, svcStart, domain.NoDate); err != nil {
		return err
	}
	four := []string{"A81001", "A81002", "A81003", "A81004"}
	for _, svc := range []string{"FLU2526", "LDHC2526"} {
		if _, err := ops.Offer(sd.s, cara, svc, four, svcStart, domain.NoDate); err != nil {
			return err
		}
	}
	sd.clk.Set(time.Date(2025, 3, 24, 10, 0, 0, 0, london))
	for _, p := range Practices[:4] {
		u := sd.users[p.User]
		if err := ops.Accept(sd.s, u, "FLU2526", p.Code); err != nil {
			return err
		}
		if p.Code == "A81003" {
			if err := ops.Decline(sd.s, u, "LDHC2526", p.Code, "our learning disability checks run through the primary care network hub"); err != nil {
				return err
			}
			continue
		}
		if err := ops.Accept(sd.s, u, "LDHC2526", p.Code); err != nil {
			return err
		}
	}
	return nil
}

// step is one dated thing that happens in the demo year.
type step struct {
	at   time.Time
	what string
	do   func() error
}

// year plays the service year in date order up to the demo's today.
func (sd *seeder) year() error {
	var steps []step
	add := func(at time.Time, what string, do func() error) { steps = append(steps, step{at, what, do}) }
	at := func(d domain.Date, hour int) time.Time {
		y, m, dd := d.Civil()
		return time.Date(y, m, dd, hour, 0, 0, 0, london)
	}
	today := TodayTime()
	var colls []*domain.Collection
	for _, c := range sd.colls {
		colls = append(colls, c)
	}
	sort.Slice(colls, func(i, j int) bool {
		return colls[i].WindowStart < colls[j].WindowStart || (colls[i].WindowStart == colls[j].WindowStart && colls[i].ID < colls[j].ID)
	})
	for _, c := range colls {
		c := c
		if c.Service == "FLU2526" && c.AchDate == domain.MustDate("2026-03-31") || c.Service == "LDHC2526" && c.AchDate == domain.MustDate("2026-03-31") {
			continue // held for the server / rescheduled
		}
		add(at(c.WindowStart, 6), "extract "+c.Label(), func() error { return sd.awaitExtracted(c.ID) })
		if c.Service == "QOF2526" {
			sd.yearEnd(c, add, at)
			continue
		}
		if c.Service == "LDHC2526" {
			add(at(c.WindowEnd.AddDays(1), 10), "LD registers "+c.Label(), func() error { return sd.ldRegisters(c) })
		}
		add(at(c.WindowEnd.AddDays(2), 11), "declare "+c.Label(), func() error { return sd.declareAll(c, nil) })
		approveAt := at(c.DeclarationDeadline.AddDays(2), 14)
		if c.Service == "LDHC2526" && c.AchDate == domain.MustDate("2025-12-31") {
			add(approveAt, "approve "+c.Label(), func() error {
				return sd.decide(c, map[string]string{"A81004": "LD register size 3 is far below last quarter's figure: please check it against your register and declare again"}, nil)
			})
		} else {
			add(approveAt, "approve "+c.Label(), func() error { return sd.decide(c, nil, nil) })
		}
		add(at(c.ApprovalDeadline, 15), "finance "+c.Label(), func() error { return sd.financeAll(c) })
	}
	// Monthly payment runs at each month end up to today.
	for m := domain.MustDate("2025-04-30"); m.Time().Before(today); m = m.AddDays(1).AddMonths(1).MonthEnd() {
		m := m
		period := m.String()[:7]
		add(at(m, 18), "payments "+period, func() error {
			_, err := ops.RunPayments(sd.s, sd.users["admin"], period)
			return err
		})
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })
	for _, st := range steps {
		if !st.at.Before(today) {
			continue
		}
		sd.clk.Set(st.at)
		sd.sched.Kick()
		if err := st.do(); err != nil {
			return fmt.Errorf("%s on %s: %w", st.what, st.at.Format("2006-01-02 15:04"), err)
		}
	}
	sd.clk.Set(today)
	sd.logf("seeded the service year up to %s", today.Format("2 January 2006 15:04"))
	return nil
}

// yearEnd scripts the QOF year end: Station Road's source becomes unreadable
// just before the extract (its job fails after retries and manual entry
// opens); Marsh Lane codes late readings after the extract and runs a check;
// the others declare, and the commissioner returns one and approves another.
func (sd *seeder) yearEnd(c *domain.Collection, add func(time.Time, string, func() error), at func(domain.Date, int) time.Time) {
	add(at(c.WindowStart, 5), "break A81005's source", func() error {
		return os.Rename(filepath.Join(sd.dir, "sources", "A81005", "Patient.ndjson"),
			filepath.Join(sd.dir, "sources", "A81005", "Patient.ndjson.moved-by-system-upgrade"))
	})
	add(at(c.WindowStart.AddDays(1), 10), "declare "+c.Label(), func() error {
		return sd.declareAll(c, map[string]bool{"A81002": true, "A81003": true, "A81004": true})
	})
	add(at(c.WindowStart.AddDays(5), 16), "late coding at A81001", func() error { return lateReadings(filepath.Join(sd.dir, "sources", "A81001")) })
	add(at(c.WindowStart.AddDays(6), 9), "check run A81001", func() error {
		_, err := sd.sched.Check(context.Background(), sd.users["ann"], c.ID, "A81001")
		return err
	})
	add(at(c.WindowStart.AddDays(6), 14), "decide "+c.Label(), func() error {
		// Hill Road's declaration is left awaiting the approver.
		return sd.decide(c, map[string]string{"A81003": "CHD015 numerator is well below your in-year position: please run a check against your clinical system and declare again"},
			map[string]bool{"A81004": true})
	})
}

// awaitExtracted waits until the scheduler has finished the collection,
// moving the clock past retry back-offs.
func (sd *seeder) awaitExtracted(id uint64) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		var c *domain.Collection
		if err := sd.s.View(func(tx *store.Tx) error {
			var err error
			c, err = tx.Collection(id)
			return err
		}); err != nil {
			return err
		}
		switch c.Status {
		case domain.CollExtracted, domain.CollClosed:
			return nil
		case domain.CollCancelled:
			return fmt.Errorf("collection %s was cancelled", c.Label())
		}
		time.Sleep(20 * time.Millisecond)
		if sd.retryWaiting(id) {
			sd.clk.Advance(time.Minute)
		}
		sd.sched.Kick()
	}
	return fmt.Errorf("collection %d did not finish extracting", id)
}

// retryWaiting reports whether a job of the collection waits for a retry.
func (sd *seeder) retryWaiting(id uint64) bool {
	waiting := false
	_ = sd.s.View(func(tx *store.Tx) error {
		jobs, err := tx.Jobs(id)
		for _, j := range jobs {
			if j.State == domain.JobQueued && j.NextAttempt.After(sd.clk.Now()) {
				waiting = true
			}
		}
		return err
	})
	return waiting
}

// ldRegisters: each participating practice types in its LD register size.
func (sd *seeder) ldRegisters(c *domain.Collection) error {
	sizes := map[string]int{"A81001": 38, "A81002": 21, "A81004": 9}
	if c.AchDate == domain.MustDate("2025-12-31") {
		sizes["A81004"] = 3 // a typing slip the commissioner will query
	}
	for code, n := range sizes {
		u := sd.users[practiceUser(code)]
		form, err := ops.ManualFormFor(sd.s, u, c.ID, code)
		if err != nil {
			return err
		}
		if form.Closed != "" {
			return errors.New(form.Closed)
		}
		vals := map[domain.FieldKey]string{{Indicator: "LDREG", Field: domain.FieldRegister}: fmt.Sprint(n)}
		if _, err := ops.SaveManual(sd.s, u, c.ID, code, vals, true, form.Entry.Version); err != nil {
			return err
		}
	}
	return nil
}

func practiceUser(code string) string {
	for _, p := range Practices {
		if p.Code == code {
			return p.User
		}
	}
	return ""
}

// declareAll: each practice with a calculated declaration declares what it
// sees (only those in only, when given).
func (sd *seeder) declareAll(c *domain.Collection, only map[string]bool) error {
	decls, err := sd.declarations(c.ID)
	if err != nil {
		return err
	}
	for _, d := range decls {
		if only != nil && !only[d.Practice] || d.State != domain.DeclCalculated {
			continue
		}
		if err := ops.Declare(sd.s, sd.users[practiceUser(d.Practice)], c.ID, d.Practice, d.InputsHash); err != nil {
			return err
		}
	}
	return nil
}

// decide: the approver returns the named practices with their reasons and
// approves the rest of what awaits approval (only those in approve, when
// given).
func (sd *seeder) decide(c *domain.Collection, returns map[string]string, approve map[string]bool) error {
	decls, err := sd.declarations(c.ID)
	if err != nil {
		return err
	}
	cara := sd.users["cara"]
	var refs []ops.DeclRef
	for _, d := range decls {
		if d.State != domain.DeclDeclared {
			continue
		}
		if reason, ok := returns[d.Practice]; ok {
			if err := ops.Return(sd.s, cara, c.ID, d.Practice, reason); err != nil {
				return err
			}
			continue
		}
		if approve != nil && !approve[d.Practice] {
			continue
		}
		refs = append(refs, ops.DeclRef{Collection: c.ID, Practice: d.Practice, Seen: d.DeclaredHash})
	}
	return bulk(ops.ApproveMany(sd.s, cara, refs))
}

func (sd *seeder) financeAll(c *domain.Collection) error {
	decls, err := sd.declarations(c.ID)
	if err != nil {
		return err
	}
	var refs []ops.DeclRef
	for _, d := range decls {
		if d.State == domain.DeclApproved {
			refs = append(refs, ops.DeclRef{Collection: c.ID, Practice: d.Practice, Seen: d.DeclaredHash})
		}
	}
	return bulk(ops.FinanceApproveMany(sd.s, sd.users["finn"], refs))
}

func bulk(res []ops.BulkResult, err error) error {
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("%s: %w", r.Ref, r.Err)
		}
	}
	return nil
}

func (sd *seeder) declarations(coll uint64) ([]*domain.Declaration, error) {
	var out []*domain.Declaration
	err := sd.s.View(func(tx *store.Tx) error {
		var err error
		out, err = tx.Declarations(coll)
		return err
	})
	return out, err
}

// lateReadings appends blood pressure readings coded after the extract to a
// practice's source, so a check run against the clinical system shows a
// difference from the collected values.
func lateReadings(dir string) error {
	path := filepath.Join(dir, "Patient.ndjson")
	pf, err := os.Open(path)
	if err != nil {
		return err
	}
	defer pf.Close()
	var ids []string
	sc := bufio.NewScanner(pf)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() && len(ids) < 400 {
		var p struct {
			ID        string `json:"id"`
			BirthDate string `json:"birthDate"`
		}
		if json.Unmarshal(sc.Bytes(), &p) == nil && p.BirthDate < "1975" {
			ids = append(ids, p.ID)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "Observation.ndjson"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i, id := range ids {
		if i%5 != 0 {
			continue
		}
		fmt.Fprintf(w, `{"resourceType":"Observation","id":"late-%s","status":"final","subject":{"reference":"Patient/%s"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"75367002","display":"Blood pressure"}]},"effectiveDateTime":"2026-03-30","component":[{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271649006"}]},"valueQuantity":{"value":128,"unit":"mm[Hg]"}},{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271650006"}]},"valueQuantity":{"value":78,"unit":"mm[Hg]"}}]}`+"\n", id, id)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
