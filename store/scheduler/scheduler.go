// Package scheduler runs extractions from the collections timetable inside
// the server process. When a collection's window opens it starts a run: one
// job per participating practice, kept in the store. Workers (as many as the
// machine has cores, by default) load each practice's source, evaluate the
// service's rules and commit the result, its recalculation and the job's
// success in one transaction, so a result is either wholly there or not at
// all. A failing practice is retried with exponential backoff and, after the
// last attempt, marked failed with a message saying what to do; manual entry
// then opens for it. After a crash, jobs left running are resumed; every
// practice ends with exactly one result per run.
//
// Time comes from a Clock, so tests drive a year in milliseconds. Progress
// and state changes are published as Events; delivery never blocks, so a
// slow subscriber cannot stall extraction.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
)

// Config tunes a scheduler; zero values take the defaults.
type Config struct {
	// Workers is how many practices are extracted at once (default: the
	// number of cores).
	Workers int
	// MaxAttempts is how many attempts a practice gets before it is marked
	// failed (default 3).
	MaxAttempts int
	// Backoff is the wait before the first retry; each further retry waits
	// twice as long (default 30s).
	Backoff time.Duration
	// Strict refuses a source with any unreadable NDJSON line. By default
	// such lines are skipped, counted and noted on the job, so one bad line
	// does not cost a practice its extract.
	Strict bool
	// Clock supplies time (default: the wall clock).
	Clock Clock
	// Location decides which calendar day it is (default Europe/London,
	// or the local zone where that is not known).
	Location *time.Location
	// Deps reach sources and rules (default DefaultDeps(CacheDir)).
	Deps Deps
	// CacheDir holds the compact source caches (with the default Deps).
	CacheDir string
	// BeforeCommit, when set, runs inside each practice's result
	// transaction just before it commits; an error fails that commit as a
	// storage error would. It is how tests inject a full disk.
	BeforeCommit func(tx *store.Tx, coll uint64, practice string) error
}

func (c *Config) defaults() {
	if c.Workers < 1 {
		c.Workers = runtime.NumCPU()
	}
	if c.MaxAttempts < 1 {
		c.MaxAttempts = 3
	}
	if c.Backoff <= 0 {
		c.Backoff = 30 * time.Second
	}
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.Location == nil {
		if loc, err := time.LoadLocation("Europe/London"); err == nil {
			c.Location = loc
		} else {
			c.Location = time.Local
		}
	}
	if c.Deps.Load == nil || c.Deps.RuleSet == nil {
		d := DefaultDeps(c.CacheDir)
		if c.Deps.Load == nil {
			c.Deps.Load = d.Load
		}
		if c.Deps.RuleSet == nil {
			c.Deps.RuleSet = d.RuleSet
		}
	}
}

// jobKey names one practice's job for a collection.
type jobKey struct {
	coll     uint64
	practice string
}

// Scheduler runs extractions. Create it with New, then Start it; Stop ends
// it. The control functions (RunNow, Rerun, Pause, ...) also work without a
// running scheduler: they change the store, and a scheduler notices.
type Scheduler struct {
	s   *store.Store
	cfg Config
	hub hub
	com *committer

	kick chan struct{}

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []jobKey
	inflight map[jobKey]bool
	active   map[uint64]bool // collections that may have unfinished jobs
	hold     map[jobKey]time.Time
	progress map[jobKey][2]int
	known    map[uint64]string // last seen collection state, for events
	faults   []Event
	next     time.Time
	running  bool
	stopping bool

	busy atomic.Int32

	cancelWork, cancelCommit, cancelLoop context.CancelFunc
	// pending counts results handed to the committer whose outcome is
	// not yet recorded; Stop waits for them before stopping the committer.
	workers, pending, loopDone, commitDone sync.WaitGroup
	unsub                                  func()
}

// New prepares a scheduler on an open store.
func New(s *store.Store, cfg Config) *Scheduler {
	cfg.defaults()
	sc := &Scheduler{s: s, cfg: cfg, com: newCommitter(s), kick: make(chan struct{}, 1),
		inflight: map[jobKey]bool{}, active: map[uint64]bool{}, hold: map[jobKey]time.Time{},
		progress: map[jobKey][2]int{}, known: map[uint64]string{}}
	sc.cond = sync.NewCond(&sc.mu)
	return sc
}

// Subscribe returns a channel of events and a function that ends the
// subscription (and closes the channel).
func (sc *Scheduler) Subscribe() (<-chan Event, func()) { return sc.hub.subscribe() }

func (sc *Scheduler) emit(e Event) {
	if e.At.IsZero() {
		e.At = sc.cfg.Clock.Now()
	}
	if e.Kind == EvFault {
		sc.mu.Lock()
		sc.faults = append(sc.faults, e)
		if len(sc.faults) > maxFaults {
			sc.faults = sc.faults[len(sc.faults)-maxFaults:]
		}
		sc.mu.Unlock()
	}
	sc.hub.publish(e)
}

// maxFaults is how many recent faults Status keeps.
const maxFaults = 50

// Kick asks the scheduler to look at the store again now.
func (sc *Scheduler) Kick() {
	select {
	case sc.kick <- struct{}{}:
	default:
	}
}

// Start recovers jobs an earlier process left running, then starts the
// scheduling loop, the committer and the workers. It returns at once.
func (sc *Scheduler) Start() error {
	sc.mu.Lock()
	if sc.running {
		sc.mu.Unlock()
		return errors.New("the scheduler is already running")
	}
	sc.running = true
	sc.mu.Unlock()

	if err := sc.recover(); err != nil {
		sc.mu.Lock()
		sc.running = false
		sc.mu.Unlock()
		return err
	}
	sc.unsub = sc.s.Subscribe(sc.onChange)

	var comCtx, workCtx, loopCtx context.Context
	comCtx, sc.cancelCommit = context.WithCancel(context.Background())
	workCtx, sc.cancelWork = context.WithCancel(context.Background())
	loopCtx, sc.cancelLoop = context.WithCancel(context.Background())
	sc.commitDone.Add(1)
	go func() { defer sc.commitDone.Done(); sc.com.run(comCtx) }()
	for i := 0; i < sc.cfg.Workers; i++ {
		sc.workers.Add(1)
		go func() { defer sc.workers.Done(); sc.work(workCtx) }()
	}
	sc.loopDone.Add(1)
	go func() { defer sc.loopDone.Done(); sc.loop(loopCtx) }()
	return nil
}

// Stop ends the scheduler: running attempts stop at their next step and
// their jobs go back to the queue (nothing of an unfinished attempt is ever
// stored), then the loop and the committer end. Safe to call twice.
func (sc *Scheduler) Stop() {
	sc.mu.Lock()
	if !sc.running || sc.stopping {
		sc.mu.Unlock()
		return
	}
	sc.stopping = true
	sc.cond.Broadcast()
	sc.mu.Unlock()
	sc.cancelLoop()
	sc.loopDone.Wait()
	sc.cancelWork()
	sc.workers.Wait()
	sc.pending.Wait()
	sc.cancelCommit()
	sc.commitDone.Wait()
	if sc.unsub != nil {
		sc.unsub()
	}
	sc.mu.Lock()
	sc.running, sc.stopping = false, false
	sc.queue, sc.inflight = nil, map[jobKey]bool{}
	sc.mu.Unlock()
}

// jobQueuedChange is the store change that tells a scheduler a job was
// queued by someone else (a retry).
const jobQueuedChange = "job-queued"

// onChange hears every committed store change; it only notes and kicks.
func (sc *Scheduler) onChange(chs []store.Change) {
	kick := false
	for _, c := range chs {
		switch c.Kind {
		case "job":
			// Most job changes are the scheduler's own, and its workers
			// kick when it matters; a job queued by someone else comes
			// with a "job-queued" change.
			sc.mu.Lock()
			sc.active[c.Collection] = true
			sc.mu.Unlock()
		case jobQueuedChange, "collection", "participation", "source", "service":
			kick = true
		}
	}
	if kick {
		sc.Kick()
	}
}

// recover re-queues jobs a previous process left running: their attempt
// never committed, so nothing of it is visible, and it simply runs again.
// The interrupted attempt is not counted against the practice's retries.
func (sc *Scheduler) recover() error {
	var orphans []jobKey
	err := sc.s.View(func(tx *store.Tx) error {
		jobs, err := tx.Jobs(0)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.State == domain.JobRunning || j.State == domain.JobQueued {
				sc.active[j.Collection] = true
			}
			if j.State == domain.JobRunning {
				orphans = append(orphans, jobKey{j.Collection, j.Practice})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scheduler start: reading jobs: %w", err)
	}
	if len(orphans) == 0 {
		return nil
	}
	return sc.s.Update(domain.SystemUser, func(tx *store.Tx) error {
		for _, k := range orphans {
			if err := requeueInterrupted(tx, k, "gpc stopped before it finished"); err != nil {
				return err
			}
		}
		return nil
	})
}

// requeueInterrupted puts a running job back in the queue.
func requeueInterrupted(tx *store.Tx, k jobKey, why string) error {
	j, err := tx.Job(k.coll, k.practice)
	if err != nil {
		return err
	}
	if j.State != domain.JobRunning {
		return nil
	}
	j.Note = fmt.Sprintf("attempt %d interrupted (%s) and resumed; interrupted attempts do not count", j.Attempts, why)
	j.State = domain.JobQueued
	j.Attempts--
	j.Done, j.Total = 0, 0
	j.NextAttempt = time.Time{} // due at once
	return tx.PutJob(j)
}

// loop does what is due, then sleeps until the next thing is due or the
// store changes.
func (sc *Scheduler) loop(ctx context.Context) {
	for {
		at := sc.cfg.Clock.Now()
		next, idle := sc.tick(ctx)
		if ctx.Err() != nil {
			return
		}
		sc.mu.Lock()
		sc.next = next
		sc.mu.Unlock()
		var timer <-chan time.Time
		if !next.IsZero() {
			timer = sc.cfg.Clock.After(next.Sub(sc.cfg.Clock.Now()))
		}
		if idle {
			sc.emit(Event{Kind: EvIdle, At: at, Next: next})
		}
		select {
		case <-ctx.Done():
			return
		case <-sc.kick:
		case <-timer:
		}
	}
}

// dayStart is midnight at the start of d in the scheduler's zone.
func (sc *Scheduler) dayStart(d domain.Date) time.Time {
	y, m, dd := d.Civil()
	return time.Date(y, m, dd, 0, 0, 0, 0, sc.cfg.Location)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// tick does one pass: opens windows that are due, notes missed windows,
// resumes orphaned jobs, queues runnable jobs and completes finished runs.
// It returns when it next needs to run and whether nothing is in flight.
func (sc *Scheduler) tick(ctx context.Context) (next time.Time, idle bool) {
	now := sc.cfg.Clock.Now()
	today := domain.DateFromTime(now.In(sc.cfg.Location))
	var colls []*domain.Collection
	jobs := map[uint64][]*domain.Job{}
	// Idle means the snapshot below is the whole truth: nothing was in
	// flight when it was taken and this pass changed nothing.
	wrote := false
	sc.mu.Lock()
	busy := len(sc.queue) > 0 || len(sc.inflight) > 0
	active := make([]uint64, 0, len(sc.active))
	for id := range sc.active {
		active = append(active, id)
	}
	sc.mu.Unlock()
	err := sc.s.View(func(tx *store.Tx) error {
		var err error
		if colls, err = tx.Collections(""); err != nil {
			return err
		}
		for _, c := range colls {
			if c.Status == domain.CollExtracting {
				active = append(active, c.ID)
			}
		}
		for _, id := range active {
			if _, done := jobs[id]; done {
				continue
			}
			if jobs[id], err = tx.Jobs(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		sc.emit(Event{Kind: EvFault, Message: "reading the timetable: " + err.Error()})
		return now.Add(sc.cfg.Backoff), true
	}
	ops.SortCollections(colls)
	byID := map[uint64]*domain.Collection{}
	for _, c := range colls {
		byID[c.ID] = c
		sc.observe(c)
	}

	for _, c := range colls {
		if c.Status != domain.CollScheduled || c.Paused {
			continue
		}
		switch {
		case c.WindowStart > today:
			next = earliest(next, sc.dayStart(c.WindowStart))
		case today <= c.WindowEnd:
			wrote = true
			if err := sc.startDue(c); err != nil {
				sc.emit(Event{Kind: EvFault, Collection: c.ID, Label: c.Label(), Message: err.Error()})
			}
		case !strings.HasPrefix(c.Note, missedPrefix):
			wrote = true
			sc.noteMissed(c)
		}
	}

	var orphans []jobKey
	var runnable []jobKey
	sc.mu.Lock()
	for _, id := range sortedIDs(jobs, byID) {
		c := byID[id]
		unfinished := 0
		for _, j := range jobs[id] {
			if c == nil || j.Run != c.Run || (j.State != domain.JobQueued && j.State != domain.JobRunning) {
				continue
			}
			unfinished++
			k := jobKey{j.Collection, j.Practice}
			if sc.inflight[k] {
				continue
			}
			if j.State == domain.JobRunning {
				orphans = append(orphans, k)
				continue
			}
			if c.Paused || (c.Status != domain.CollExtracting && c.Status != domain.CollExtracted) {
				continue
			}
			due := j.NextAttempt
			if h, ok := sc.hold[k]; ok && h.After(due) {
				due = h
			}
			if due.After(now) {
				next = earliest(next, due)
				continue
			}
			delete(sc.hold, k)
			runnable = append(runnable, k)
		}
		if unfinished == 0 {
			delete(sc.active, id)
		}
	}
	for _, k := range runnable {
		sc.inflight[k] = true
		sc.queue = append(sc.queue, k)
	}
	if len(runnable) > 0 {
		sc.cond.Broadcast()
	}
	sc.mu.Unlock()

	if len(orphans) > 0 {
		wrote = true
		err := sc.com.do(ctx, func(tx *store.Tx) error {
			sc.mu.Lock()
			defer sc.mu.Unlock()
			for _, k := range orphans {
				if sc.inflight[k] {
					continue
				}
				if err := requeueInterrupted(tx, k, "its worker stopped before recording the outcome"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			sc.emit(Event{Kind: EvFault, Message: "resuming interrupted jobs: " + err.Error()})
			next = earliest(next, now.Add(sc.cfg.Backoff))
		}
	}

	for _, id := range sortedIDs(jobs, byID) {
		c := byID[id]
		if c == nil || c.Status != domain.CollExtracting || !allEnded(c, jobs[id]) {
			continue
		}
		wrote = true
		if err := sc.completeIfDone(c.ID); err != nil {
			sc.emit(Event{Kind: EvFault, Collection: c.ID, Label: c.Label(), Message: "completing the collection: " + err.Error()})
		}
	}

	return next, !busy && !wrote && len(runnable) == 0
}

// allEnded reports whether every job of the collection's current run has
// ended, as far as a snapshot shows (completeIfDone checks again).
func allEnded(c *domain.Collection, jobs []*domain.Job) bool {
	for _, j := range jobs {
		if j.Run == c.Run && (j.State == domain.JobQueued || j.State == domain.JobRunning) {
			return false
		}
	}
	return true
}

func sortedIDs(jobs map[uint64][]*domain.Job, byID map[uint64]*domain.Collection) []uint64 {
	ids := make([]uint64, 0, len(jobs))
	for id := range jobs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := byID[ids[i]], byID[ids[j]]
		if a != nil && b != nil && a.WindowStart != b.WindowStart {
			return a.WindowStart < b.WindowStart
		}
		return ids[i] < ids[j]
	})
	return ids
}

// observe publishes a collection's state when it differs from the last seen.
func (sc *Scheduler) observe(c *domain.Collection) {
	state := string(c.Status)
	if c.Paused {
		state += " (paused)"
	}
	sc.mu.Lock()
	prev, seen := sc.known[c.ID]
	sc.known[c.ID] = state
	sc.mu.Unlock()
	if seen && prev != state {
		sc.emit(Event{Kind: EvCollectionState, Collection: c.ID, Label: c.Label(), Run: c.Run, State: state, Message: c.Note})
	}
}

const missedPrefix = "missed:"

// noteMissed records, once, that a window closed with no extraction.
func (sc *Scheduler) noteMissed(c *domain.Collection) {
	msg := fmt.Sprintf("%s the extraction window %s..%s closed without an extraction (no scheduler was running); run it now with gpc collection run %d, or reschedule it",
		missedPrefix, c.WindowStart, c.WindowEnd, c.ID)
	err := sc.s.Update(domain.SystemUser, func(tx *store.Tx) error {
		cur, err := tx.Collection(c.ID)
		if err != nil {
			return err
		}
		if cur.Status != domain.CollScheduled || strings.HasPrefix(cur.Note, missedPrefix) {
			return nil
		}
		before := cur.Note
		cur.Note = msg
		if err := tx.PutCollection(cur); err != nil {
			return err
		}
		return tx.Audit("collection.missed", fmt.Sprintf("collection %d", c.ID), domain.NationalCode, before, msg)
	})
	if err != nil {
		msg = "recording a missed window: " + err.Error()
	}
	sc.emit(Event{Kind: EvFault, Collection: c.ID, Label: c.Label(), Message: msg})
}

// startDue opens a collection's window: the scheduler's own run.
func (sc *Scheduler) startDue(c *domain.Collection) error {
	return sc.s.Update(domain.SystemUser, func(tx *store.Tx) error {
		cur, err := tx.Collection(c.ID)
		if err != nil {
			return err
		}
		if cur.Status != domain.CollScheduled || cur.Paused {
			return nil // someone got there first, or paused it meanwhile
		}
		_, err = startRun(tx, domain.SystemUser, cur, domain.EvStart, "window opened")
		return err
	})
}

// completeIfDone completes an extracting collection whose jobs have all
// ended, summarising the outcome on it.
func (sc *Scheduler) completeIfDone(id uint64) error {
	return sc.s.Update(domain.SystemUser, func(tx *store.Tx) error {
		c, err := tx.Collection(id)
		if err != nil {
			return err
		}
		if c.Status != domain.CollExtracting {
			return nil
		}
		jobs, err := tx.Jobs(id)
		if err != nil {
			return err
		}
		var ok, skipped int
		var failed []string
		for _, j := range jobs {
			if j.Run != c.Run {
				continue
			}
			switch j.State {
			case domain.JobQueued, domain.JobRunning:
				return nil
			case domain.JobSucceeded:
				ok++
			case domain.JobFailed:
				failed = append(failed, j.Practice)
			case domain.JobCancelled:
				skipped++
			}
		}
		return complete(tx, c, runSummary(ok, failed, skipped))
	})
}

func runSummary(ok int, failed []string, skipped int) string {
	s := fmt.Sprintf("run extracted %d of %d practices", ok, ok+len(failed)+skipped)
	if len(failed) > 0 {
		sort.Strings(failed)
		s += fmt.Sprintf("; %d failed, manual entry open: %s", len(failed), strings.Join(failed, ", "))
	}
	if skipped > 0 {
		s += fmt.Sprintf("; %d skipped", skipped)
	}
	return s
}

// complete fires EvComplete with a note.
func complete(tx *store.Tx, c *domain.Collection, note string) error {
	before := collText(c)
	to, err := domain.CollectionMachine.Fire(c.Status, domain.EvComplete)
	if err != nil {
		return err
	}
	c.Status, c.Note = to, note
	if err := tx.PutCollection(c); err != nil {
		return err
	}
	return tx.Audit("collection.complete", fmt.Sprintf("collection %d", c.ID), domain.NationalCode, before, collText(c))
}

func collText(c *domain.Collection) string {
	s := fmt.Sprintf("%s %s run %d", c.Label(), c.Status, c.Run)
	if c.Paused {
		s += " paused"
	}
	if c.Note != "" {
		s += ": " + c.Note
	}
	return s
}
