package scheduler

import (
	"context"
	"errors"

	"gpcollections/domain"
	"gpcollections/store"
)

// The scheduler's writes (claiming a job, storing a practice's result,
// recording a failure) go through one committer goroutine that folds
// whatever is waiting into one transaction: while one commit waits for the
// disk, the next ones queue and then share a commit. Each request stays all
// or nothing: when one request's function fails, the transaction is rolled
// back, that request is committed on its own (so it gets its own answer) and
// the others are committed together again. This is bbolt's Batch, done here
// so the store's transaction wrapper (audit, notifications, result layouts)
// is used unchanged.

// maxGroup bounds one transaction's size, so a large backlog still commits
// in steps.
const maxGroup = 64

type commitReq struct {
	fn   func(*store.Tx) error
	done chan error
}

type committer struct {
	s    *store.Store
	reqs chan *commitReq
}

func newCommitter(s *store.Store) *committer {
	return &committer{s: s, reqs: make(chan *commitReq, maxGroup)}
}

// errCommitterStopped answers requests made after shutdown.
var errCommitterStopped = errors.New("the scheduler is stopping")

// submit queues fn to run in a transaction (shared with other requests);
// the channel receives its outcome once committed.
func (c *committer) submit(ctx context.Context, fn func(*store.Tx) error) <-chan error {
	r := &commitReq{fn: fn, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		r.done <- errCommitterStopped
	}
	return r.done
}

// do is submit and wait.
func (c *committer) do(ctx context.Context, fn func(*store.Tx) error) error {
	return <-c.submit(ctx, fn)
}

// run commits requests until ctx ends, then answers what is left.
func (c *committer) run(ctx context.Context) {
	for {
		var first *commitReq
		select {
		case first = <-c.reqs:
		case <-ctx.Done():
			for {
				select {
				case r := <-c.reqs:
					r.done <- errCommitterStopped
				default:
					return
				}
			}
		}
		group := []*commitReq{first}
	fill:
		for len(group) < maxGroup {
			select {
			case r := <-c.reqs:
				group = append(group, r)
			default:
				break fill
			}
		}
		c.commit(group)
	}
}

func (c *committer) commit(group []*commitReq) {
	for len(group) > 0 {
		failed := -1
		err := c.s.Update(domain.SystemUser, func(tx *store.Tx) error {
			for i, r := range group {
				if err := r.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 && len(group) > 1 {
			r := group[failed]
			group = append(group[:failed:failed], group[failed+1:]...)
			c.commit([]*commitReq{r})
			continue
		}
		for _, r := range group {
			r.done <- err
		}
		return
	}
}
