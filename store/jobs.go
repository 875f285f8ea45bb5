package store

import (
	"errors"
	"fmt"

	"gpcollections/domain"
)

// Job reads the extraction job of a practice for a collection.
func (tx *Tx) Job(coll uint64, practice string) (*domain.Job, error) {
	var j domain.Job
	if err := getJSON(tx.tx, bJobs, resultKey(coll, practice), &j); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("job for collection %d practice %s: %w", coll, practice, ErrNotFound)
		}
		return nil, err
	}
	return &j, nil
}

// Jobs lists a collection's jobs (coll 0: every job).
func (tx *Tx) Jobs(coll uint64) ([]*domain.Job, error) {
	var prefix []byte
	if coll != 0 {
		prefix = u64(coll)
	}
	var out []*domain.Job
	err := eachJSON(tx.tx, bJobs, prefix, func(_ []byte, j *domain.Job) error {
		out = append(out, j)
		return nil
	})
	return out, err
}

// PutJob writes a job at the version read (0 creates).
func (tx *Tx) PutJob(j *domain.Job) error {
	if err := putJSON(tx.tx, bJobs, resultKey(j.Collection, j.Practice), j); err != nil {
		return err
	}
	tx.Notify(Change{Kind: "job", Collection: j.Collection, Practice: j.Practice})
	return nil
}
