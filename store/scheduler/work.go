package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/fhir"
	"gpcollections/store"
	"gpcollections/store/ops"
)

// work is one worker: it takes runnable jobs until the scheduler stops.
// An attempt's result is handed to the committer and the worker moves on,
// so the next practice's claim can share the result's commit.
func (sc *Scheduler) work(ctx context.Context) {
	for {
		k, ok := sc.take(ctx)
		if !ok {
			return
		}
		sc.attempt(ctx, k)
	}
}

func (sc *Scheduler) take(ctx context.Context) (jobKey, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for len(sc.queue) == 0 && !sc.stopping && ctx.Err() == nil {
		sc.cond.Wait()
	}
	if sc.stopping || ctx.Err() != nil {
		return jobKey{}, false
	}
	k := sc.queue[0]
	sc.queue = sc.queue[1:]
	return k, true
}

// finish ends an attempt's hold on its job. The loop looks again unless
// the attempt succeeded while other jobs are still queued: then there is
// nothing new for it to see (no run can have completed, no retry is due),
// and a collection of many practices does not cost a scan per practice.
func (sc *Scheduler) finish(k jobKey, succeeded bool) {
	sc.mu.Lock()
	delete(sc.inflight, k)
	delete(sc.progress, k)
	quiet := succeeded && len(sc.queue) > 0
	sc.mu.Unlock()
	if !quiet {
		sc.Kick()
	}
}

// holdFor keeps a job out of the queue for a backoff period after the store
// could not record something about it.
func (sc *Scheduler) holdFor(k jobKey) {
	sc.mu.Lock()
	sc.hold[k] = sc.cfg.Clock.Now().Add(sc.cfg.Backoff)
	sc.mu.Unlock()
}

// claimed is what an attempt knows about its job.
type claimed struct {
	job      domain.Job
	coll     domain.Collection
	dir      string
	linkErr  error
	rulesFor string // the registered service's rule-set hash
	rules    string // the hash of the rules the attempt evaluated
}

// errNoSource is the fault of a practice with no linked source.
var errNoSource = errors.New("no source is linked")

// readJob reads a job and its collection.
func readJob(tx *store.Tx, k jobKey) (*domain.Collection, *domain.Job, error) {
	c, err := tx.Collection(k.coll)
	if err != nil {
		return nil, nil, err
	}
	j, err := tx.Job(k.coll, k.practice)
	return c, j, err
}

// claimable reports whether a job may start an attempt now. Callers pass
// the scheduler's clock, the one the loop queued the job by, so the two
// never disagree about whether a retry is due.
func claimable(c *domain.Collection, j *domain.Job, now time.Time) bool {
	return j.State == domain.JobQueued && j.Run == c.Run && !c.Paused && !j.NextAttempt.After(now) &&
		(c.Status == domain.CollExtracting || c.Status == domain.CollExtracted)
}

// prepare reads what an attempt needs, without writing.
func (sc *Scheduler) prepare(k jobKey) (claimed, bool, error) {
	var cl claimed
	ok := false
	err := sc.s.View(func(tx *store.Tx) error {
		c, j, err := readJob(tx, k)
		if err != nil {
			return err
		}
		if !claimable(c, j, sc.cfg.Clock.Now()) {
			return nil // changed since it was queued; the loop will look again
		}
		cl = claimed{job: *j, coll: *c}
		cl.job.Attempts++
		if def, err := tx.Service(c.Service); err == nil {
			cl.rulesFor = def.RuleSetHash
		}
		l, err := tx.SourceLink(k.practice)
		switch {
		case err == nil:
			cl.dir = l.Dir
		case errors.Is(err, store.ErrNotFound):
			cl.linkErr = fmt.Errorf("%w to practice %s: link its clinical system's export with gpc source link --practice %s --dir DIR", errNoSource, k.practice, k.practice)
		default:
			return err
		}
		ok = true
		return nil
	})
	return cl, ok, err
}

// attempt runs one attempt of a job: claim it (the claim commits while the
// source loads), evaluate, then hand the result to the committer.
func (sc *Scheduler) attempt(ctx context.Context, k jobKey) {
	cl, ok, err := sc.prepare(k)
	if err != nil {
		sc.emit(Event{Kind: EvFault, Collection: k.coll, Practice: k.practice, Message: "starting an attempt: " + err.Error()})
		sc.holdFor(k)
	}
	if !ok {
		sc.finish(k, false)
		return
	}
	// The claim runs on the committer while this goroutine loads the
	// source, so it writes only its own variables.
	skip := false
	var claimedJob domain.Job
	var claimedColl domain.Collection
	claim := sc.com.submit(ctx, func(tx *store.Tx) error {
		skip = false
		c, j, err := readJob(tx, k)
		if err != nil {
			return err
		}
		if !claimable(c, j, sc.cfg.Clock.Now()) || j.Attempts != cl.job.Attempts-1 || c.Run != cl.coll.Run {
			skip = true
			return nil
		}
		j.State, j.StartedAt, j.Error = domain.JobRunning, tx.Now(), ""
		j.Attempts++
		j.Done, j.Total = 0, 0
		if err := tx.PutJob(j); err != nil {
			return err
		}
		claimedJob, claimedColl = *j, *c
		return nil
	})

	sc.busy.Add(1)
	defer sc.busy.Add(-1)
	b, info, werr := sc.loadSource(&cl)
	if b != nil {
		// The batch may be a mapped cache file: given back once this
		// attempt's evaluation is over, whichever way it ends.
		defer b.Release()
	}
	if err := <-claim; skip || err != nil {
		if err != nil && !errors.Is(err, errCommitterStopped) {
			sc.emit(Event{Kind: EvFault, Collection: k.coll, Practice: k.practice, Message: "starting an attempt: " + err.Error()})
			sc.holdFor(k)
		}
		sc.finish(k, false)
		return
	}
	cl.job, cl.coll = claimedJob, claimedColl
	c, j := &cl.coll, &cl.job
	sc.emit(Event{Kind: EvJobState, Collection: c.ID, Label: c.Label(), Practice: k.practice, Run: j.Run, State: string(domain.JobRunning), Attempt: j.Attempts})

	var values []domain.FieldValue
	if werr == nil {
		values, werr = sc.evaluate(ctx, &cl, b)
	}
	if ctx.Err() != nil {
		// Stopping: the attempt leaves nothing behind and runs again later.
		err := sc.com.do(context.Background(), func(tx *store.Tx) error {
			return requeueInterrupted(tx, k, "the scheduler was stopped")
		})
		if err != nil {
			sc.emit(Event{Kind: EvFault, Collection: c.ID, Practice: k.practice, Message: "re-queueing an interrupted attempt: " + err.Error()})
		}
		sc.finish(k, false)
		return
	}
	if werr != nil {
		sc.fail(&cl, werr)
		sc.finish(k, false)
		return
	}
	patients := len(b.Patients)
	done := sc.submitResult(&cl, values, info, patients)
	sc.pending.Add(1)
	go func() {
		defer sc.pending.Done()
		err := done()
		if err != nil {
			sc.fail(&cl, err)
		}
		sc.finish(k, err == nil)
	}()
}

// loadSource loads the practice's source, checking the rules exist and
// match the registered service first; nothing is stored.
func (sc *Scheduler) loadSource(cl *claimed) (*clinical.Batch, SourceInfo, error) {
	c, j := &cl.coll, &cl.job
	if cl.linkErr != nil {
		return nil, SourceInfo{}, cl.linkErr
	}
	rs, err := sc.cfg.Deps.RuleSet(c.Service)
	if err != nil {
		return nil, SourceInfo{}, fmt.Errorf("rules for service %s: %w", c.Service, err)
	}
	if cl.rulesFor != "" && cl.rulesFor != rs.Hash {
		return nil, SourceInfo{}, fmt.Errorf("the rules for %s (%.12s) differ from those the registered service was defined with (%.12s): register the service again so its indicators match the rules", c.Service, rs.Hash, cl.rulesFor)
	}
	cl.rules = rs.Hash
	b, info, err := sc.cfg.Deps.Load(cl.dir, j.Practice, sc.cfg.Strict)
	if err != nil {
		return nil, info, fmt.Errorf("loading source %s: %w", cl.dir, err)
	}
	return b, info, nil
}

// evaluate runs the rules over the batch, publishing progress.
func (sc *Scheduler) evaluate(ctx context.Context, cl *claimed, b *clinical.Batch) ([]domain.FieldValue, error) {
	c, j := &cl.coll, &cl.job
	rs, err := sc.cfg.Deps.RuleSet(c.Service)
	if err != nil {
		return nil, err
	}
	key := jobKey{c.ID, j.Practice}
	last := time.Time{}
	return evaluate(ctx, rs, b, c.AchDate, func() int { return cores(int(sc.busy.Load())) }, func(done, total int) {
		sc.mu.Lock()
		sc.progress[key] = [2]int{done, total}
		sc.mu.Unlock()
		// Progress events at most every 100ms per job, and always the last.
		if now := time.Now(); done == total || now.Sub(last) >= 100*time.Millisecond {
			last = now
			sc.emit(Event{Kind: EvProgress, Collection: c.ID, Label: c.Label(), Practice: j.Practice, Run: j.Run, Attempt: j.Attempts, Done: done, Total: total})
		}
	})
}

// submitResult hands the committer one transaction that stores a practice's
// result, recalculates its declaration and marks the job succeeded. The
// returned function waits for the outcome, publishes it and returns the
// error of a failed commit.
func (sc *Scheduler) submitResult(cl *claimed, values []domain.FieldValue, info SourceInfo, patients int) func() error {
	k := jobKey{cl.coll.ID, cl.job.Practice}
	var stale, locked bool
	var job domain.Job
	note := info.note()
	done := sc.com.submit(context.Background(), func(tx *store.Tx) error {
		stale, locked = false, false
		c, j, err := readJob(tx, k)
		if err != nil {
			return err
		}
		if j.State != domain.JobRunning || j.Run != cl.job.Run || j.Attempts != cl.job.Attempts || c.Run != j.Run ||
			(c.Status != domain.CollExtracting && c.Status != domain.CollExtracted) {
			stale = true // cancelled or re-run meanwhile: this attempt's work is not wanted
			return nil
		}
		isLocked, err := ops.Locked(tx, c.ID, k.practice)
		if err != nil {
			return err
		}
		if isLocked {
			locked = true
			j.State, j.FinishedAt, j.Note = domain.JobCancelled, tx.Now(), lockedNote
			job = *j
			return tx.PutJob(j)
		}
		r := &domain.ExtractResult{Collection: c.ID, Practice: k.practice, Run: c.Run, Values: values,
			RuleSetHash: cl.rules, SourceHash: info.Fingerprint, Started: j.StartedAt, Finished: tx.Now()}
		if err := tx.PutResult(r); err != nil {
			return err
		}
		reason := "extracted"
		if c.Run > 1 {
			reason = "re-extracted"
		}
		if err := ops.Recalculate(tx, c, k.practice, reason); err != nil {
			return err
		}
		if sc.cfg.BeforeCommit != nil {
			if err := sc.cfg.BeforeCommit(tx, c.ID, k.practice); err != nil {
				return err
			}
		}
		j.State, j.FinishedAt, j.Error, j.Note = domain.JobSucceeded, tx.Now(), "", joinNotes(keptNote(j.Note), note)
		j.Done, j.Total, j.NextAttempt = patients, patients, time.Time{}
		if err := tx.PutJob(j); err != nil {
			return err
		}
		job = *j
		after := fmt.Sprintf("run %d succeeded on attempt %d: %d patients, %d values", j.Run, j.Attempts, patients, len(values))
		if j.Note != "" {
			after += "; " + j.Note
		}
		return tx.Audit("extract.job", fmt.Sprintf("job %d/%s", c.ID, k.practice), k.practice, "", after)
	})
	return func() error {
		if err := <-done; err != nil {
			return fmt.Errorf("storing the result: %w", err)
		}
		sc.resultEvent(cl, stale, locked, &job, patients, note)
		return nil
	}
}

func (sc *Scheduler) resultEvent(cl *claimed, stale, locked bool, job *domain.Job, patients int, note string) {
	k := jobKey{cl.coll.ID, cl.job.Practice}
	c := &cl.coll
	switch {
	case stale:
		sc.emit(Event{Kind: EvJobState, Collection: c.ID, Label: c.Label(), Practice: k.practice, Run: cl.job.Run, Attempt: cl.job.Attempts,
			State: "discarded", Message: "the collection was cancelled or re-run during the attempt; its result was not stored"})
	case locked:
		sc.emit(Event{Kind: EvJobState, Collection: c.ID, Label: c.Label(), Practice: k.practice, Run: job.Run, Attempt: job.Attempts, State: string(job.State), Message: job.Note})
	default:
		sc.emit(Event{Kind: EvJobState, Collection: c.ID, Label: c.Label(), Practice: k.practice, Run: job.Run, Attempt: job.Attempts,
			State: string(job.State), Done: patients, Total: patients, Message: note})
	}
}

// keptNote is the part of a job's note that stays with it through the run:
// that an attempt was interrupted, or that someone asked for a retry.
func keptNote(n string) string {
	if strings.Contains(n, "interrupted") || strings.HasPrefix(n, "retry requested") {
		return n
	}
	return ""
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// fail records a failed attempt: a retry after backoff, or after the last
// attempt, a failed job with advice (manual entry then opens for it).
func (sc *Scheduler) fail(cl *claimed, werr error) {
	k := jobKey{cl.coll.ID, cl.job.Practice}
	c := &cl.coll
	var job domain.Job
	stale := false
	err := sc.com.do(context.Background(), func(tx *store.Tx) error {
		stale = false
		j, err := tx.Job(k.coll, k.practice)
		if err != nil {
			return err
		}
		if j.State != domain.JobRunning || j.Run != cl.job.Run || j.Attempts != cl.job.Attempts {
			stale = true
			return nil
		}
		before := jobText(j)
		switch {
		case errors.Is(werr, ops.ErrLocked):
			j.State, j.FinishedAt, j.Note = domain.JobCancelled, tx.Now(), lockedNote+": "+werr.Error()
		case j.Attempts >= sc.cfg.MaxAttempts:
			j.State, j.FinishedAt = domain.JobFailed, tx.Now()
			j.Error = advice(c, k.practice, j.Attempts, werr)
			j.NextAttempt = time.Time{}
		default:
			j.State, j.Error = domain.JobQueued, werr.Error()
			j.NextAttempt = sc.cfg.Clock.Now().Add(sc.cfg.Backoff << (j.Attempts - 1))
		}
		if err := tx.PutJob(j); err != nil {
			return err
		}
		job = *j
		if j.State == domain.JobQueued {
			return nil // a retry is routine; the job record shows it
		}
		return tx.Audit("extract.job", fmt.Sprintf("job %d/%s", c.ID, k.practice), k.practice, before, jobText(j))
	})
	if err != nil {
		// The job stays running in the store; the loop resumes it after
		// the hold, once the store accepts writes again.
		sc.emit(Event{Kind: EvFault, Collection: c.ID, Label: c.Label(), Practice: k.practice,
			Message: fmt.Sprintf("recording the failure (%v) failed: %v", werr, err)})
		sc.holdFor(k)
		return
	}
	if stale {
		return
	}
	ev := Event{Kind: EvJobState, Collection: c.ID, Label: c.Label(), Practice: k.practice, Run: job.Run, Attempt: job.Attempts, State: string(job.State)}
	switch job.State {
	case domain.JobQueued:
		ev.State, ev.Next = "retry", job.NextAttempt
		ev.Message = fmt.Sprintf("attempt %d of %d failed: %v; retrying at %s", job.Attempts, sc.cfg.MaxAttempts, werr, job.NextAttempt.Format(time.RFC3339))
		sc.emit(ev)
	case domain.JobFailed:
		ev.Message = job.Error
		sc.emit(ev)
		sc.emit(Event{Kind: EvFault, Collection: c.ID, Label: c.Label(), Practice: k.practice, Run: job.Run, Attempt: job.Attempts, Message: job.Error})
	default:
		ev.Message = job.Note
		sc.emit(ev)
	}
}

// advice turns a final failure into a message an administrator can act on.
func advice(c *domain.Collection, practice string, attempts int, err error) string {
	var le fhir.LineError
	var hint string
	msg := err.Error()
	switch {
	case errors.Is(err, errNoSource):
		// The message already says what to do.
	case errors.Is(err, fs.ErrNotExist):
		hint = fmt.Sprintf("the source directory or its Patient.ndjson is missing: check the clinical system's export (gpc source check --practice %s) and relink it if it moved", practice)
	case errors.Is(err, fs.ErrPermission):
		hint = "gpc may not read the source: fix the directory's permissions"
	case errors.As(err, &le):
		hint = "the source has unreadable NDJSON lines: ask the clinical system supplier for a fresh export (or extract without strict mode, which skips and counts bad lines)"
	case strings.Contains(msg, "changed while"):
		hint = "the source kept changing while it was read: make sure the clinical system's export has finished"
	case strings.HasPrefix(msg, "storing the result"):
		hint = "the data file could not be written: check the data disk has free space and is writable"
	}
	s := fmt.Sprintf("failed after %d attempts: %s", attempts, msg)
	if hint != "" {
		s += "; " + hint
	}
	return s + fmt.Sprintf("; then retry it: gpc collection retry %d --practice %s. Manual entry is open for %s meanwhile.", c.ID, practice, practice)
}
