package scheduler

import (
	"sort"
	"strings"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
)

// JobStatus is one practice's extraction in a collection's current run.
type JobStatus struct {
	Practice    string          `json:"practice"`
	State       domain.JobState `json:"state"`
	Attempts    int             `json:"attempts"`
	Done        int             `json:"done"`
	Total       int             `json:"total"`
	Error       string          `json:"error,omitempty"`
	Note        string          `json:"note,omitempty"`
	StartedAt   time.Time       `json:"startedAt,omitempty"`
	FinishedAt  time.Time       `json:"finishedAt,omitempty"`
	NextAttempt time.Time       `json:"nextAttempt,omitempty"`
}

// CollectionStatus is a collection as the extract monitor shows it.
type CollectionStatus struct {
	ID          uint64       `json:"id"`
	Label       string       `json:"label"`
	Service     string       `json:"service"`
	AchDate     domain.Date  `json:"achDate"`
	State       domain.State `json:"state"`
	Paused      bool         `json:"paused,omitempty"`
	Run         int          `json:"run"`
	WindowStart domain.Date  `json:"windowStart"`
	WindowEnd   domain.Date  `json:"windowEnd"`
	Note        string       `json:"note,omitempty"`
	Queued      int          `json:"queued"`
	Running     int          `json:"running"`
	Succeeded   int          `json:"succeeded"`
	Failed      int          `json:"failed"`
	Cancelled   int          `json:"cancelled"`
	// Done and Total count patients over the run's jobs (running attempts
	// live, when read from a running scheduler).
	Done  int         `json:"done"`
	Total int         `json:"total"`
	Jobs  []JobStatus `json:"jobs,omitempty"`
}

// Status is the scheduler's state: what is extracting, what failed, what
// comes next.
type Status struct {
	At time.Time `json:"at"`
	// Live is true when read from a running scheduler (with live progress
	// and recent faults); false when read from the store alone.
	Live    bool      `json:"live"`
	Workers int       `json:"workers,omitempty"`
	Busy    int       `json:"busy,omitempty"`
	Next    time.Time `json:"next,omitempty"`
	// Active: extracting, paused, or with failed or unfinished jobs.
	Active []CollectionStatus `json:"active"`
	// Missed: scheduled collections whose window closed with no extraction.
	Missed []CollectionStatus `json:"missed,omitempty"`
	// Upcoming: the next scheduled windows.
	Upcoming []CollectionStatus `json:"upcoming"`
	Faults   []Event            `json:"faults,omitempty"`
}

// upcomingShown is how many scheduled collections Status lists.
const upcomingShown = 5

// ReadStatus reads the scheduler's state from the store alone (no scheduler
// need be running).
func ReadStatus(s *store.Store) (*Status, error) {
	st := &Status{At: s.Now()}
	err := s.View(func(tx *store.Tx) error {
		colls, err := tx.Collections("")
		if err != nil {
			return err
		}
		ops.SortCollections(colls)
		for _, c := range colls {
			cs := collStatus(c)
			switch c.Status {
			case domain.CollScheduled:
				switch {
				case strings.HasPrefix(c.Note, missedPrefix):
					st.Missed = append(st.Missed, cs)
				case c.Paused:
					st.Active = append(st.Active, cs)
				case len(st.Upcoming) < upcomingShown:
					st.Upcoming = append(st.Upcoming, cs)
				}
				continue
			case domain.CollCancelled, domain.CollClosed:
				continue
			}
			jobs, err := tx.Jobs(c.ID)
			if err != nil {
				return err
			}
			for _, j := range jobs {
				if j.Run != c.Run {
					continue
				}
				cs.Jobs = append(cs.Jobs, jobStatus(j))
			}
			cs.count()
			if c.Status == domain.CollExtracting || c.Paused || cs.Failed > 0 || cs.Queued > 0 || cs.Running > 0 {
				st.Active = append(st.Active, cs)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (cs *CollectionStatus) count() {
	cs.Queued, cs.Running, cs.Succeeded, cs.Failed, cs.Cancelled, cs.Done, cs.Total = 0, 0, 0, 0, 0, 0, 0
	for _, j := range cs.Jobs {
		switch j.State {
		case domain.JobQueued:
			cs.Queued++
		case domain.JobRunning:
			cs.Running++
		case domain.JobSucceeded:
			cs.Succeeded++
		case domain.JobFailed:
			cs.Failed++
		case domain.JobCancelled:
			cs.Cancelled++
		}
		cs.Done += j.Done
		cs.Total += j.Total
	}
	sort.Slice(cs.Jobs, func(i, j int) bool { return cs.Jobs[i].Practice < cs.Jobs[j].Practice })
}

// Status is ReadStatus with the running scheduler's live progress, next
// wake-up and recent faults.
func (sc *Scheduler) Status() (*Status, error) {
	st, err := ReadStatus(sc.s)
	if err != nil {
		return nil, err
	}
	st.At = sc.cfg.Clock.Now()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	st.Live = sc.running
	st.Workers = sc.cfg.Workers
	st.Busy = int(sc.busy.Load())
	st.Next = sc.next
	st.Faults = append([]Event(nil), sc.faults...)
	for i := range st.Active {
		cs := &st.Active[i]
		for k := range cs.Jobs {
			j := &cs.Jobs[k]
			if p, ok := sc.progress[jobKey{cs.ID, j.Practice}]; ok && j.State == domain.JobRunning {
				j.Done, j.Total = p[0], p[1]
			}
		}
		cs.count()
	}
	return st, nil
}

// ViewStatus is ReadStatus for a person: the monitor is for those the policy
// lets view it.
func ViewStatus(s *store.Store, actor *domain.User) (*Status, error) {
	if err := domain.Authorize(actor, domain.ActViewMonitor, domain.TargetNational()); err != nil {
		return nil, err
	}
	return ReadStatus(s)
}

// ViewCollection is one collection with every job of its current run.
func ViewCollection(s *store.Store, actor *domain.User, id uint64) (*CollectionStatus, error) {
	if err := domain.Authorize(actor, domain.ActViewMonitor, domain.TargetNational()); err != nil {
		return nil, err
	}
	var cs *CollectionStatus
	err := s.View(func(tx *store.Tx) error {
		c, err := tx.Collection(id)
		if err != nil {
			return err
		}
		v := collStatus(c)
		cs = &v
		jobs, err := tx.Jobs(id)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.Run == c.Run {
				cs.Jobs = append(cs.Jobs, jobStatus(j))
			}
		}
		cs.count()
		return nil
	})
	return cs, err
}

func jobStatus(j *domain.Job) JobStatus {
	return JobStatus{Practice: j.Practice, State: j.State, Attempts: j.Attempts, Done: j.Done, Total: j.Total,
		Error: j.Error, Note: j.Note, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, NextAttempt: j.NextAttempt}
}

func collStatus(c *domain.Collection) CollectionStatus {
	return CollectionStatus{ID: c.ID, Label: c.Label(), Service: c.Service, AchDate: c.AchDate, State: c.Status,
		Paused: c.Paused, Run: c.Run, WindowStart: c.WindowStart, WindowEnd: c.WindowEnd, Note: c.Note}
}
