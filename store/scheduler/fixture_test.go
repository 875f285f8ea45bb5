package scheduler

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/fhir"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/synth"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/store/sources"
)

// fixture is a store with services, practices and their sources, driven by
// a manual clock.
type fixture struct {
	t     *testing.T
	s     *store.Store
	clock *ManualClock
	admin *domain.User
	dir   string
	cache string
}

func newFixture(t *testing.T, start time.Time) *fixture {
	t.Helper()
	dir := t.TempDir()
	clock := NewManualClock(start)
	s, err := store.Open(filepath.Join(dir, "data"), store.Options{Clock: clock.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	admin, err := ops.Bootstrap(s, "admin", "Admin", domain.PublicKey{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, s: s, clock: clock, admin: admin, dir: dir, cache: filepath.Join(dir, "cache")}
	f.update(func(tx *store.Tx) error {
		return tx.PutOrg(&domain.Org{Code: "QWE", Kind: domain.OrgCommissioner, Name: "Test ICB"})
	})
	return f
}

func (f *fixture) update(fn func(tx *store.Tx) error) {
	f.t.Helper()
	if err := f.s.Update(f.admin, fn); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) view(fn func(tx *store.Tx) error) {
	f.t.Helper()
	if err := f.s.View(fn); err != nil {
		f.t.Fatal(err)
	}
}

// addService registers a shipped service.
func (f *fixture) addService(id string) *domain.ServiceDef {
	f.t.Helper()
	def, err := rulesets.Service(id)
	if err != nil {
		f.t.Fatal(err)
	}
	f.update(func(tx *store.Tx) error { return tx.PutService(def, 0) })
	return def
}

func practiceCode(i int) string { return fmt.Sprintf("A8%04d", 1000+i) }

// addPractice registers a practice taking part in the services, with a
// generated source of n patients: real NDJSON files when ndjson is set,
// otherwise the batch saved straight into the source cache.
func (f *fixture) addPractice(i, n int, ach domain.Date, ndjson bool, services ...string) string {
	f.t.Helper()
	code := practiceCode(i)
	f.update(func(tx *store.Tx) error {
		if err := tx.PutOrg(&domain.Org{Code: code, Kind: domain.OrgPractice, Name: "Practice " + code, Parent: "QWE",
			ListSizes: []domain.ListSize{{From: domain.MustDate("2025-01-01"), Size: int64(n)}}}); err != nil {
			return err
		}
		for _, svc := range services {
			if err := tx.PutParticipation(&domain.Participation{Service: svc, Practice: code, State: domain.PartAutoAccepted,
				From: domain.NoDate, To: domain.NoDate}); err != nil {
				return err
			}
		}
		return nil
	})
	src := filepath.Join(f.dir, "src", code)
	f.writeSource(src, code, n, int64(i), ach, ndjson)
	if _, err := ops.LinkSource(f.s, f.admin, code, src); err != nil {
		f.t.Fatal(err)
	}
	return code
}

// writeSource (re)writes a practice's source.
func (f *fixture) writeSource(src, code string, n int, seed int64, ach domain.Date, ndjson bool) {
	f.t.Helper()
	opt := synth.Options{Practice: code, Patients: n, Seed: seed, AchDate: ach, FirstIndex: int(seed) * 1_000_000}
	if err := os.MkdirAll(src, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if !ndjson {
		b, err := synth.Batch(opt)
		if err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "Patient.ndjson"), nil, 0o644); err != nil {
			f.t.Fatal(err)
		}
		if _, err := sources.Save(f.cache, src, code, b); err != nil {
			f.t.Fatal(err)
		}
		return
	}
	files := map[string]*os.File{}
	w := fhir.NewWriter(func(rt string) (io.Writer, error) {
		fh, err := os.Create(filepath.Join(src, rt+".ndjson"))
		files[rt] = fh
		return fh, err
	})
	err := synth.Each(opt, func(p clinical.Patient) error { return w.Write(p) })
	if err == nil {
		err = w.Close()
	}
	for _, fh := range files {
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		f.t.Fatal(err)
	}
}

// collection adds one collection of a service at ach (default dates).
func (f *fixture) collection(service string, ach domain.Date) *domain.Collection {
	f.t.Helper()
	c, _, err := ops.AddCollection(f.s, f.admin, service, ach, ops.NoDates(), "test")
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// start starts a scheduler with the fixture's clock; Stop is registered.
func (f *fixture) start(cfg Config) (*Scheduler, <-chan Event) {
	f.t.Helper()
	cfg.Clock = f.clock
	cfg.Location = time.UTC
	cfg.CacheDir = f.cache
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Minute
	}
	sc := New(f.s, cfg)
	ch, cancel := sc.Subscribe()
	if err := sc.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { sc.Stop(); cancel() })
	return sc, ch
}

// waitIdle waits for the scheduler to report idle at or after the clock's
// current time, returning the event (its Next says what is due next).
func waitIdle(t *testing.T, ch <-chan Event, since time.Time) Event {
	t.Helper()
	return waitEvent(t, ch, func(e Event) bool { return e.Kind == EvIdle && !e.At.Before(since) })
}

func waitEvent(t *testing.T, ch <-chan Event, match func(Event) bool) Event {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatal("event channel closed")
			}
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatal("timed out waiting for a scheduler event")
		}
	}
}

// runToIdle advances the manual clock from wake-up to wake-up until the
// scheduler is idle with nothing due before until.
func (f *fixture) runToIdle(ch <-chan Event, until time.Time) {
	f.t.Helper()
	f.advance(ch, waitIdle(f.t, ch, f.clock.Now()), until)
}

// advance goes on from an idle event already received.
func (f *fixture) advance(ch <-chan Event, e Event, until time.Time) {
	f.t.Helper()
	for !e.Next.IsZero() && e.Next.Before(until) {
		f.clock.Set(e.Next)
		e = waitIdle(f.t, ch, e.Next)
	}
}

func (f *fixture) job(coll uint64, practice string) *domain.Job {
	f.t.Helper()
	var j *domain.Job
	f.view(func(tx *store.Tx) error {
		var err error
		j, err = tx.Job(coll, practice)
		return err
	})
	return j
}

func (f *fixture) coll(id uint64) *domain.Collection {
	f.t.Helper()
	var c *domain.Collection
	f.view(func(tx *store.Tx) error {
		var err error
		c, err = tx.Collection(id)
		return err
	})
	return c
}

func (f *fixture) result(coll uint64, practice string) (*domain.ExtractResult, []*domain.ExtractResult) {
	f.t.Helper()
	var r *domain.ExtractResult
	var hist []*domain.ExtractResult
	f.view(func(tx *store.Tx) error {
		var err error
		r, err = tx.Result(coll, practice)
		if errors.Is(err, store.ErrNotFound) {
			r, err = nil, nil
		}
		if err != nil {
			return err
		}
		hist, err = tx.ResultHistory(coll, practice)
		return err
	})
	return r, hist
}
