package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CheckReport is what gpc check found.
type CheckReport struct {
	Path         string
	Schema       uint32
	Records      map[string]int
	AuditEntries int
	Problems     []string
}

// OK reports a clean check.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

// FirstProblem is the first problem found, or "".
func (r *CheckReport) FirstProblem() string {
	if len(r.Problems) == 0 {
		return ""
	}
	return r.Problems[0]
}

// envelopeBuckets hold enveloped records; the rest are indexes or meta.
var envelopeBuckets = []string{bOrgs, bUsers, bServices, bCollections, bParticipation,
	bResults, bResultsHist, bLayouts, bManual, bDeclarations, bJobs, bChecks, bSources,
	bPayRuns, bPaid, bAudit, bAspiration, bVisits}

// Check inspects a data directory (or, with isFile, a data file such as a
// backup) read-only: bbolt's own page consistency check, the schema version,
// every stored record's envelope, and the whole audit chain. The error is for
// not being able to look at all; what is wrong inside is in Problems.
func Check(path string, isFile bool) (*CheckReport, error) {
	if !isFile {
		path = filepath.Join(path, DBFile)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no data file: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is held by a running gpc process%s; check a backup instead (gpc backup, then gpc check --file)", ErrInUse, path, holderInfo(filepath.Dir(path)))
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	rep := &CheckReport{Path: path, Records: map[string]int{}}
	err = db.View(func(tx *bolt.Tx) error {
		for cerr := range tx.Check() {
			rep.Problems = append(rep.Problems, "bbolt: "+cerr.Error())
		}
		rep.Schema = readSchema(tx)
		if rep.Schema == 0 || rep.Schema > SchemaVersion {
			rep.Problems = append(rep.Problems, fmt.Sprintf("schema version %d is not one this gpc reads (1..%d)", rep.Schema, SchemaVersion))
			return nil
		}
		for _, name := range envelopeBuckets {
			b := tx.Bucket([]byte(name))
			if b == nil {
				if rep.Schema == SchemaVersion {
					rep.Problems = append(rep.Problems, "bucket "+name+" is missing")
				}
				continue
			}
			_ = b.ForEach(func(k, v []byte) error {
				rep.Records[name]++
				if _, _, _, err := openEnvelope(v); err != nil {
					rep.Problems = append(rep.Problems, (&CorruptError{Bucket: name, Key: printableKey(k), Err: err}).Error())
				}
				return nil
			})
		}
		n, lerr := verifyLedger(tx)
		rep.AuditEntries = n
		if lerr != nil {
			rep.Problems = append(rep.Problems, lerr.Error())
		}
		return nil
	})
	return rep, err
}
