package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
)

// The control actions. Each checks the policy and is one audited
// transaction; they change only the store, so the command line can use them
// with no scheduler running, and a running scheduler picks the change up at
// once (it listens to the store). Two people pressing "run now" together
// start one run: the collection's transition allows it once.

const lockedNote = "not re-extracted: the declaration is financially approved and nothing can be amended"

// startRun moves a collection into extraction (ev: EvStart or EvRerun) with
// a new run number and queues one job per participating practice, in the
// caller's transaction. A run with nothing to extract completes at once,
// saying why.
func startRun(tx *store.Tx, actor *domain.User, c *domain.Collection, ev domain.Event, reason string) (int, error) {
	if err := domain.Authorize(actor, domain.ActControlExtraction, domain.TargetNational()); err != nil {
		return 0, err
	}
	before := collText(c)
	to, err := domain.CollectionMachine.Fire(c.Status, ev)
	if err != nil {
		return 0, fmt.Errorf("collection %d (%s): %w", c.ID, c.Label(), err)
	}
	if c.Paused {
		return 0, fmt.Errorf("collection %d (%s) is paused; resume it first", c.ID, c.Label())
	}
	c.Status, c.Note = to, ""
	c.Run++
	parts, err := tx.Participations(c.Service)
	if err != nil {
		return 0, err
	}
	now := tx.Now()
	queued, locked := 0, 0
	for _, p := range parts {
		ok, err := ops.Participating(tx, c.Service, p.Practice)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		j := &domain.Job{Collection: c.ID, Practice: p.Practice, Run: c.Run, State: domain.JobQueued, QueuedAt: now}
		if old, err := tx.Job(c.ID, p.Practice); err == nil {
			j.Version = old.Version
		} else if !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
		if ev == domain.EvRerun {
			isLocked, err := ops.Locked(tx, c.ID, p.Practice)
			if err != nil {
				return 0, err
			}
			if isLocked {
				j.State, j.FinishedAt, j.Note = domain.JobCancelled, now, lockedNote
				locked++
			}
		}
		if j.State == domain.JobQueued {
			queued++
		}
		if err := tx.PutJob(j); err != nil {
			return 0, err
		}
	}
	if err := tx.PutCollection(c); err != nil {
		return 0, err
	}
	action := "collection.start"
	if ev == domain.EvRerun {
		action = "collection.rerun"
	}
	after := fmt.Sprintf("%s; %d practices queued", collText(c), queued)
	if locked > 0 {
		after += fmt.Sprintf(", %d locked (financially approved) not re-extracted", locked)
	}
	if reason != "" {
		after += "; reason: " + reason
	}
	if err := tx.Audit(action, fmt.Sprintf("collection %d", c.ID), domain.NationalCode, before, after); err != nil {
		return 0, err
	}
	if queued == 0 {
		note := fmt.Sprintf("no practice takes part in %s, so there was nothing to extract; offer the service (or check participation), then re-run", c.Service)
		if locked > 0 {
			note = fmt.Sprintf("every participating practice's declaration is financially approved; nothing was re-extracted (%d practices)", locked)
		}
		if err := complete(tx, c, note); err != nil {
			return 0, err
		}
	}
	return queued, nil
}

// RunNow starts a scheduled collection's extraction now, whatever its
// window says.
func RunNow(s *store.Store, actor *domain.User, id uint64) (*domain.Collection, error) {
	var out *domain.Collection
	err := s.Update(actor, func(tx *store.Tx) error {
		c, err := tx.Collection(id)
		if err != nil {
			return err
		}
		if _, err := startRun(tx, actor, c, domain.EvStart, "run now by "+actor.Name); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// Rerun extracts an extracted collection again as a new run. Each practice's
// new result replaces its current one atomically (the previous run is kept
// in history) and its declaration goes back to awaiting declaration if the
// figures changed. Practices whose declaration is financially approved are
// not re-extracted.
func Rerun(s *store.Store, actor *domain.User, id uint64, reason string) (*domain.Collection, error) {
	var out *domain.Collection
	err := s.Update(actor, func(tx *store.Tx) error {
		c, err := tx.Collection(id)
		if err != nil {
			return err
		}
		if _, err := startRun(tx, actor, c, domain.EvRerun, reason); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// Retry queues a failed (or skipped) practice's extraction again with a
// fresh set of attempts, in the collection's current run.
func Retry(s *store.Store, actor *domain.User, id uint64, practice, reason string) (*domain.Job, error) {
	var out *domain.Job
	err := s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActControlExtraction, domain.TargetNational()); err != nil {
			return err
		}
		c, err := tx.Collection(id)
		if err != nil {
			return err
		}
		if c.Status != domain.CollExtracting && c.Status != domain.CollExtracted {
			return fmt.Errorf("collection %d (%s) is %s; only an extracting or extracted collection's practices can be retried", c.ID, c.Label(), c.Status)
		}
		j, err := tx.Job(id, practice)
		if err != nil {
			return err
		}
		if j.Run != c.Run {
			return fmt.Errorf("practice %s has no job in run %d of collection %d (%s)", practice, c.Run, c.ID, c.Label())
		}
		if j.State != domain.JobFailed && j.State != domain.JobCancelled {
			return fmt.Errorf("practice %s's extraction for %s is %s; only a failed or skipped one can be retried", practice, c.Label(), j.State)
		}
		before := jobText(j)
		was := j.Error
		if was == "" {
			was = j.Note
		}
		j.State, j.Attempts, j.Error = domain.JobQueued, 0, ""
		j.Done, j.Total = 0, 0
		j.NextAttempt, j.QueuedAt, j.FinishedAt = time.Time{}, tx.Now(), time.Time{}
		j.Note = fmt.Sprintf("retry requested by %s (was: %s)", actor.Name, was)
		if err := tx.PutJob(j); err != nil {
			return err
		}
		tx.Notify(store.Change{Kind: jobQueuedChange, Collection: id, Practice: practice})
		out = j
		after := jobText(j)
		if reason != "" {
			after += "; reason: " + reason
		}
		return tx.Audit("extract.retry", fmt.Sprintf("job %d/%s", id, practice), practice, before, after)
	})
	return out, err
}

func jobText(j *domain.Job) string {
	s := fmt.Sprintf("run %d %s, attempt %d", j.Run, j.State, j.Attempts)
	if j.Error != "" {
		s += ": " + j.Error
	}
	if j.Note != "" {
		s += " (" + j.Note + ")"
	}
	return s
}

// RunNow starts a collection now (see the package function).
func (sc *Scheduler) RunNow(actor *domain.User, id uint64) (*domain.Collection, error) {
	c, err := RunNow(sc.s, actor, id)
	sc.Kick()
	return c, err
}

// Rerun re-extracts a collection as a new run.
func (sc *Scheduler) Rerun(actor *domain.User, id uint64, reason string) (*domain.Collection, error) {
	c, err := Rerun(sc.s, actor, id, reason)
	sc.Kick()
	return c, err
}

// Retry queues one practice again.
func (sc *Scheduler) Retry(actor *domain.User, id uint64, practice, reason string) (*domain.Job, error) {
	j, err := Retry(sc.s, actor, id, practice, reason)
	sc.Kick()
	return j, err
}

// Pause holds the scheduler off a collection.
func (sc *Scheduler) Pause(actor *domain.User, id uint64, reason string) (*domain.Collection, error) {
	c, err := ops.SetPaused(sc.s, actor, id, true, reason)
	sc.Kick()
	return c, err
}

// Resume lets the scheduler work on a paused collection again.
func (sc *Scheduler) Resume(actor *domain.User, id uint64, reason string) (*domain.Collection, error) {
	c, err := ops.SetPaused(sc.s, actor, id, false, reason)
	sc.Kick()
	return c, err
}

// Cancel cancels a collection and its unfinished jobs.
func (sc *Scheduler) Cancel(actor *domain.User, id uint64, reason string) (*domain.Collection, error) {
	c, err := ops.CancelCollection(sc.s, actor, id, reason)
	sc.Kick()
	return c, err
}

// Check runs a check of a practice's current source against what was
// collected (see the package function RunCheck).
func (sc *Scheduler) Check(ctx context.Context, actor *domain.User, id uint64, practice string) (*domain.CheckRun, error) {
	return RunCheck(ctx, sc.s, sc.cfg.Deps, sc.cfg.Strict, actor, id, practice)
}
