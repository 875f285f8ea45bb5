// Package collbench measures a whole collection end to end: from its jobs
// being queued to every practice's result committed, through the real
// scheduler and store, against the pure evaluator on the same batches. It
// backs both go test -bench (store/scheduler) and gpc bench collection.
package collbench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/rules"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/synth"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/store/scheduler"
	"gpcollections/store/sources"
)

// Options choose the collection.
type Options struct {
	Dir       string // working directory; the store, sources and caches go here
	Practices int
	Patients  int // per practice
	Service   string
	AchDate   domain.Date
	Workers   int  // scheduler workers (default: cores)
	NoSync    bool // skip fsync on commit (default: commits are durable, as in production)
	Log       func(format string, args ...any)
}

// Setup is a prepared collection: a store with the practices taking part,
// their sources in the compact cache, linked, and the collection scheduled.
type Setup struct {
	opt       Options
	s         *store.Store
	admin     *domain.User
	rs        *rules.RuleSet
	coll      uint64
	cache     string
	practices []string
	dirs      []string
	patients  int
}

func (o *Options) defaults() {
	if o.Service == "" {
		o.Service = "QOF2526"
	}
	if !o.AchDate.Valid() || o.AchDate == 0 {
		o.AchDate = domain.MustDate("2026-03-31")
	}
	if o.Workers < 1 {
		o.Workers = runtime.NumCPU()
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
}

// Prepare generates the practices (in parallel, straight into compact form,
// not timed) and builds the store.
func Prepare(opt Options) (*Setup, error) {
	opt.defaults()
	rs, err := rulesets.Load(opt.Service)
	if err != nil {
		return nil, err
	}
	su := &Setup{opt: opt, rs: rs, cache: filepath.Join(opt.Dir, "cache")}
	su.s, err = store.Open(filepath.Join(opt.Dir, "data"), store.Options{NoSync: opt.NoSync})
	if err != nil {
		return nil, err
	}
	if su.admin, err = ops.Bootstrap(su.s, "admin", "Admin", domain.PublicKey{}); err != nil {
		su.Close()
		return nil, err
	}
	def, err := rulesets.Service(opt.Service)
	if err != nil {
		su.Close()
		return nil, err
	}
	for i := 0; i < opt.Practices; i++ {
		su.practices = append(su.practices, fmt.Sprintf("C%05d", 10000+i))
		su.dirs = append(su.dirs, filepath.Join(opt.Dir, "src", su.practices[i]))
	}
	err = su.s.Update(su.admin, func(tx *store.Tx) error {
		if err := tx.PutService(def, 0); err != nil {
			return err
		}
		if err := tx.PutOrg(&domain.Org{Code: "QWE", Kind: domain.OrgCommissioner, Name: "Bench ICB"}); err != nil {
			return err
		}
		for _, p := range su.practices {
			if err := tx.PutOrg(&domain.Org{Code: p, Kind: domain.OrgPractice, Name: "Practice " + p, Parent: "QWE",
				ListSizes: []domain.ListSize{{From: opt.AchDate.AddYears(-1), Size: int64(opt.Patients)}}}); err != nil {
				return err
			}
			if err := tx.PutParticipation(&domain.Participation{Service: def.ID, Practice: p, State: domain.PartAutoAccepted,
				From: domain.NoDate, To: domain.NoDate}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		su.Close()
		return nil, err
	}
	opt.Log("generating %d practices of %d patients into the source cache", opt.Practices, opt.Patients)
	if err := su.generate(); err != nil {
		su.Close()
		return nil, err
	}
	for i, p := range su.practices {
		if _, err := ops.LinkSource(su.s, su.admin, p, su.dirs[i]); err != nil {
			su.Close()
			return nil, err
		}
	}
	c, _, err := ops.AddCollection(su.s, su.admin, def.ID, opt.AchDate, ops.NoDates(), "benchmark")
	if err != nil {
		su.Close()
		return nil, err
	}
	su.coll = c.ID
	su.patients = opt.Practices * opt.Patients
	return su, nil
}

func (su *Setup) generate() error {
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, len(su.practices))
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs <- su.generateOne(i)
			}
		}()
	}
	for i := range su.practices {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (su *Setup) generateOne(i int) error {
	p, dir := su.practices[i], su.dirs[i]
	b, err := synth.Batch(synth.Options{Practice: p, Patients: su.opt.Patients, Seed: int64(i), AchDate: su.opt.AchDate, FirstIndex: i * 1_000_000})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// An empty Patient file makes the directory a linkable source; the
	// cache Save writes holds the records.
	if err := os.WriteFile(filepath.Join(dir, "Patient.ndjson"), nil, 0o644); err != nil {
		return err
	}
	_, err = sources.Save(su.cache, dir, p, b)
	return err
}

// Patients is the collection's total number of patients.
func (su *Setup) Patients() int { return su.patients }

// load reads a practice's batch from the compact cache: a view of the
// mapped cache file, released by the caller.
func (su *Setup) load(i int) (*clinical.Batch, error) {
	b, _, err := sources.Load(su.cache, su.dirs[i], su.practices[i], false)
	return b, err
}

// LoadAll reads every practice's batch from the compact cache into memory
// of its own (all of them held at once, for EvaluateAll): the pure
// evaluator's input, as the extraction benchmark has it.
func (su *Setup) LoadAll() ([]*clinical.Batch, error) {
	out := make([]*clinical.Batch, len(su.practices))
	for i := range su.practices {
		b, err := su.load(i)
		if err != nil {
			return nil, err
		}
		data, err := b.MarshalBinary()
		b.Release()
		if err == nil {
			out[i], err = clinical.UnmarshalBatch(data)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EvaluateAll is the pure evaluator over batches already in memory,
// practices in turn, each on all cores: the extraction benchmark's rate.
func (su *Setup) EvaluateAll(batches []*clinical.Batch) time.Duration {
	t0 := time.Now()
	for _, b := range batches {
		su.rs.Evaluate(b, su.opt.AchDate)
	}
	return time.Since(t0)
}

// LoadAndEvaluate times reading each compact batch and evaluating it,
// practices in turn: the extraction work with no scheduler and no store.
func (su *Setup) LoadAndEvaluate() (time.Duration, error) {
	runtime.GC()
	t0 := time.Now()
	for i := range su.practices {
		b, err := su.load(i)
		if err != nil {
			return 0, err
		}
		su.rs.Evaluate(b, su.opt.AchDate)
		b.Release()
	}
	return time.Since(t0), nil
}

// Run is one end-to-end measurement.
type Run struct {
	Wall    time.Duration
	Run     int
	Results int
}

// EndToEnd starts a scheduler, queues the collection (a first run, or a
// re-run after the first) and times until every practice's result is
// committed and the collection has completed.
func (su *Setup) EndToEnd() (Run, error) {
	sched := scheduler.New(su.s, scheduler.Config{Workers: su.opt.Workers, CacheDir: su.cache})
	events, cancel := sched.Subscribe()
	defer cancel()
	runtime.GC()
	// The collection is queued before the scheduler starts, so that its
	// (past) window is never reported as missed; the start is timed.
	t0 := time.Now()
	var c *domain.Collection
	var err error
	if c, err = scheduler.RunNow(su.s, su.admin, su.coll); err != nil {
		if c, err = scheduler.Rerun(su.s, su.admin, su.coll, "benchmark"); err != nil {
			return Run{}, err
		}
	}
	run := c.Run
	if err := sched.Start(); err != nil {
		return Run{}, err
	}
	defer sched.Stop()
	timeout := time.After(30 * time.Minute)
	for {
		select {
		case e := <-events:
			if e.Kind == scheduler.EvCollectionState && e.Collection == su.coll && e.Run == run && e.State == string(domain.CollExtracted) {
				wall := time.Since(t0)
				return su.verify(run, wall)
			}
			if e.Kind == scheduler.EvFault || (e.Kind == scheduler.EvJobState && e.State == string(domain.JobFailed)) {
				return Run{}, fmt.Errorf("benchmark run failed: %s", e)
			}
		case <-timeout:
			return Run{}, fmt.Errorf("benchmark run did not complete in 30 minutes")
		}
	}
}

func (su *Setup) verify(run int, wall time.Duration) (Run, error) {
	r := Run{Wall: wall, Run: run}
	err := su.s.View(func(tx *store.Tx) error {
		rs, err := tx.Results(su.coll)
		for _, x := range rs {
			if x.Run == run {
				r.Results++
			}
		}
		return err
	})
	if err == nil && r.Results != len(su.practices) {
		err = fmt.Errorf("run %d has %d results for %d practices", run, r.Results, len(su.practices))
	}
	return r, err
}

// Close closes the store.
func (su *Setup) Close() error {
	if su.s == nil {
		return nil
	}
	return su.s.Close()
}
