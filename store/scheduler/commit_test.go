package scheduler

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"gpcollections/store"
)

// Several practices' commits share one transaction; one that fails is
// answered with its own error and leaves nothing, and the others still
// commit, each whole.
func TestSharedCommitKeepsEachRequestAllOrNothing(t *testing.T) {
	f := newFixture(t, time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))
	c := newCommitter(f.s)
	boom := errors.New("disk full for this practice")
	var done []<-chan error
	for i, fail := range []bool{false, true, false, true, false} {
		// Queued before the committer runs, so they share a transaction.
		done = append(done, c.submit(context.Background(), func(tx *store.Tx) error {
			if err := tx.Audit("test.commit", fmt.Sprintf("request %d part 1", i), "", "", ""); err != nil {
				return err
			}
			if fail {
				return boom
			}
			return tx.Audit("test.commit", fmt.Sprintf("request %d part 2", i), "", "", "")
		}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { c.run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	for i, ch := range done {
		err := <-ch
		if fail := i == 1 || i == 3; fail != errors.Is(err, boom) {
			t.Errorf("request %d answered %v", i, err)
		}
	}
	got := map[string]bool{}
	f.view(func(tx *store.Tx) error {
		es, err := tx.AuditEntries(store.AuditFilter{Action: "test.commit"})
		for _, e := range es {
			got[e.Target] = true
		}
		return err
	})
	for i := range 5 {
		for _, part := range []int{1, 2} {
			want := i != 1 && i != 3
			if k := fmt.Sprintf("request %d part %d", i, part); got[k] != want {
				t.Errorf("%s stored %v, want %v", k, got[k], want)
			}
		}
	}
}
