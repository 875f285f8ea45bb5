package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Rev is the optimistic-concurrency version every aggregate carries. A
// write names the version it read; the store refuses it if another write
// landed in between.
type Rev struct {
	Version uint64 `json:"version"`
}

// GetVersion returns the version read.
func (r *Rev) GetVersion() uint64 { return r.Version }

// SetVersion is used by the store after a write.
func (r *Rev) SetVersion(v uint64) { r.Version = v }

// Collection is one service at one achievement date on the timetable.
type Collection struct {
	Rev
	ID      uint64 `json:"id"`
	Service string `json:"service"`
	AchDate Date   `json:"achDate"`
	// WindowStart..WindowEnd is the extraction window (inclusive dates).
	WindowStart Date `json:"windowStart"`
	WindowEnd   Date `json:"windowEnd"`
	// Deadlines are inclusive: an action on the deadline date is in time.
	DeclarationDeadline Date  `json:"declarationDeadline"`
	ApprovalDeadline    Date  `json:"approvalDeadline"`
	PaymentDate         Date  `json:"paymentDate"`
	Status              State `json:"status"`
	// Run counts extraction runs; a re-run increments it.
	Run  int    `json:"run"`
	Note string `json:"note,omitempty"`
	// Paused holds the scheduler off this collection: no window opening,
	// no new attempts (running ones finish), until resumed.
	Paused bool `json:"paused,omitempty"`
}

// Label names the collection for people: "QOF2526 2026-03-31".
func (c *Collection) Label() string { return fmt.Sprintf("%s %s", c.Service, c.AchDate) }

// Validate checks dates line up.
func (c *Collection) Validate() error {
	switch {
	case !c.AchDate.Valid():
		return fmt.Errorf("collection %s: no achievement date", c.Service)
	case !c.WindowStart.Valid() || !c.WindowEnd.Valid() || c.WindowEnd < c.WindowStart:
		return fmt.Errorf("collection %s: extraction window %s..%s is not a period", c.Label(), c.WindowStart, c.WindowEnd)
	case c.WindowStart < c.AchDate:
		return fmt.Errorf("collection %s: extraction window opens %s, before the achievement date", c.Label(), c.WindowStart)
	case c.DeclarationDeadline < c.WindowEnd:
		return fmt.Errorf("collection %s: declaration deadline %s is before the extraction window ends (%s)", c.Label(), c.DeclarationDeadline, c.WindowEnd)
	case c.ApprovalDeadline < c.DeclarationDeadline:
		return fmt.Errorf("collection %s: approval deadline %s is before the declaration deadline %s", c.Label(), c.ApprovalDeadline, c.DeclarationDeadline)
	case c.PaymentDate < c.ApprovalDeadline:
		return fmt.Errorf("collection %s: payment date %s is before the approval deadline %s", c.Label(), c.PaymentDate, c.ApprovalDeadline)
	}
	return nil
}

// Change records one transition with who, when and why.
type Change struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Event  Event     `json:"event"`
	From   State     `json:"from"`
	To     State     `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// Participation is a practice's take-up of a service; History keeps every
// offer, answer and withdrawal.
type Participation struct {
	Rev
	Service  string   `json:"service"`
	Practice string   `json:"practice"`
	State    State    `json:"state"`
	From     Date     `json:"from"`
	To       Date     `json:"to"`
	History  []Change `json:"history"`
}

// FieldValue is one indicator field's value.
type FieldValue struct {
	Indicator string `json:"indicator"`
	Field     string `json:"field"`
	Value     int64  `json:"value"`
}

// FieldKey identifies an indicator field.
type FieldKey struct {
	Indicator string
	Field     string
}

func (k FieldKey) String() string { return k.Indicator + " " + k.Field }

// ExtractResult is one practice's values for one collection run, with the
// provenance that lets anyone reproduce it.
type ExtractResult struct {
	Rev
	Collection  uint64       `json:"collection"`
	Practice    string       `json:"practice"`
	Run         int          `json:"run"`
	Values      []FieldValue `json:"values"`
	RuleSetHash string       `json:"ruleSetHash"`
	SourceHash  string       `json:"sourceHash"`
	Started     time.Time    `json:"started"`
	Finished    time.Time    `json:"finished"`
}

// ManualState is the state of a manual entry form.
type ManualState string

const (
	ManualDraft     ManualState = "draft"
	ManualSubmitted ManualState = "submitted"
)

// ManualEntry holds typed-in values for one practice and collection.
type ManualEntry struct {
	Rev
	Collection uint64       `json:"collection"`
	Practice   string       `json:"practice"`
	State      ManualState  `json:"state"`
	Values     []FieldValue `json:"values"`
	UpdatedBy  string       `json:"updatedBy"`
	UpdatedAt  time.Time    `json:"updatedAt"`
}

// Declaration carries one practice's achievement for one collection from
// calculation to payment. Declared is the exact snapshot the practice saw and
// confirmed; InputsHash fingerprints the inputs it was calculated from.
type Declaration struct {
	Rev
	Collection   uint64       `json:"collection"`
	Practice     string       `json:"practice"`
	Service      string       `json:"service"`
	State        State        `json:"state"`
	InputsHash   string       `json:"inputsHash"`
	Declared     []FieldValue `json:"declared,omitempty"`
	DeclaredHash string       `json:"declaredHash,omitempty"`
	Points       string       `json:"points,omitempty"` // exact points as a decimal string, for display
	Amount       Pence        `json:"amount"`
	Reason       string       `json:"reason,omitempty"` // the last return / data-change reason
	History      []Change     `json:"history"`
}

// ValuesHash fingerprints a set of field values independent of order.
func ValuesHash(v []FieldValue) string {
	s := append([]FieldValue(nil), v...)
	sort.Slice(s, func(i, j int) bool {
		if s[i].Indicator != s[j].Indicator {
			return s[i].Indicator < s[j].Indicator
		}
		return s[i].Field < s[j].Field
	})
	h := sha256.New()
	for _, x := range s {
		h.Write([]byte(x.Indicator))
		h.Write([]byte{0})
		h.Write([]byte(x.Field))
		h.Write([]byte{0})
		h.Write([]byte(strconv.FormatInt(x.Value, 10)))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AuditEntry is one entry of the append-only, hash-chained audit ledger.
type AuditEntry struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	User   string    `json:"user"`
	Action string    `json:"action"`
	// Target names what was changed ("declaration 12/A81001"); Org is the
	// organisation it belongs to, for scoping who may read the entry.
	Target string `json:"target"`
	Org    string `json:"org,omitempty"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	Prev   string `json:"prev"`
	Hash   string `json:"hash"`
}

// ComputeHash is SHA-256 over the previous hash and every field but Hash,
// each length-prefixed so no two entries can collide by shifting text.
func (e *AuditEntry) ComputeHash() string {
	h := sha256.New()
	put := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	put(e.Prev)
	put(strconv.FormatUint(e.Seq, 10))
	put(e.At.UTC().Format(time.RFC3339Nano))
	put(e.User)
	put(e.Action)
	put(e.Target)
	put(e.Org)
	put(e.Before)
	put(e.After)
	return hex.EncodeToString(h.Sum(nil))
}

// JobState is the state of one practice's extraction for a collection run.
type JobState string

const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// Job is the scheduler's record of extracting one practice for one
// collection run. It lives in the store so a restart resumes it.
type Job struct {
	Rev
	Collection uint64    `json:"collection"`
	Practice   string    `json:"practice"`
	Run        int       `json:"run"`
	State      JobState  `json:"state"`
	Attempts   int       `json:"attempts"`
	Error      string    `json:"error,omitempty"`
	Done       int       `json:"done"`  // patients evaluated so far
	Total      int       `json:"total"` // patients in the source
	QueuedAt   time.Time `json:"queuedAt"`
	StartedAt  time.Time `json:"startedAt,omitempty"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`
	// NextAttempt is when a failed attempt may be retried.
	NextAttempt time.Time `json:"nextAttempt,omitempty"`
	// Note is what the last attempt noticed without failing (bad lines
	// skipped, an interrupted attempt resumed, why a practice was skipped).
	Note string `json:"note,omitempty"`
}
