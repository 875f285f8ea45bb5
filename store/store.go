// Package store keeps everything gpc knows in one bbolt file: organisations,
// users, services, the timetable, extract results, the workflow and the
// hash-chained audit ledger. One user action is one bbolt transaction, and
// the audit entry for it is written in that same transaction.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"gpcollections/domain"
)

// DBFile is the data file's name inside the data directory.
const DBFile = "gpc.db"

// lockFile describes the process holding the data file, so a second process
// can say who is in the way instead of just "timeout".
const lockFile = "gpc.lock"

var (
	// ErrInUse means another process holds the data file.
	ErrInUse = errors.New("data file in use")
	// ErrConflict means the record changed since it was read.
	ErrConflict = errors.New("changed by someone else since you read it")
	// ErrNotFound means no such record.
	ErrNotFound = errors.New("not found")
	// ErrExists means a record with that key already exists.
	ErrExists = errors.New("already exists")
)

// Options tune Open.
type Options struct {
	// Timeout bounds the wait for the file lock (default 1s).
	Timeout time.Duration
	// ReadOnly opens for reading (check, export from a copy).
	ReadOnly bool
	// Clock supplies "now" for audit entries and records (default time.Now).
	Clock func() time.Time
	// NoSync skips fsync on commit; only benchmarks and tests set it.
	NoSync bool
}

// Store is an open data directory.
type Store struct {
	db   *bolt.DB
	dir  string
	path string
	now  func() time.Time

	mu     sync.Mutex
	subs   map[int]func([]Change)
	nextID int

	layouts layoutCache
	memo    sync.Map // see Tx.Memo
}

// Change describes what a committed transaction touched, for live screens
// and recalculation. Subscribers re-read through their own role filter.
type Change struct {
	Kind       string // "declaration", "result", "collection", "job", "manual", ...
	Collection uint64
	Practice   string
	Service    string
}

// Open opens (creating if needed) the store in dir, migrating an older
// schema. A second process gets ErrInUse naming the file and its holder.
func Open(dir string, opt Options) (*Store, error) {
	if opt.Timeout == 0 {
		opt.Timeout = time.Second
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if !opt.ReadOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory %s: %w", dir, err)
		}
	}
	path := filepath.Join(dir, DBFile)
	if opt.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no gpc data in %s: %w (run gpc init first)", dir, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.Timeout, ReadOnly: opt.ReadOnly, NoSync: opt.NoSync})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is locked by another gpc process%s; stop it, or use the running server (ssh) instead", ErrInUse, path, holderInfo(dir))
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, dir: dir, path: path, now: opt.Clock, subs: map[int]func([]Change){}}
	if !opt.ReadOnly {
		if err := s.migrate(); err != nil {
			db.Close()
			return nil, err
		}
		writeHolder(dir)
	} else if err := s.checkSchemaReadable(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func writeHolder(dir string) {
	info := fmt.Sprintf("pid %d, %q, since %s\n", os.Getpid(), strings.Join(os.Args, " "), time.Now().UTC().Format(time.RFC3339))
	_ = os.WriteFile(filepath.Join(dir, lockFile), []byte(info), 0o600)
}

func holderInfo(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, lockFile))
	if err != nil || len(b) == 0 {
		return ""
	}
	line := strings.TrimSpace(string(b))
	if pid, _, ok := strings.Cut(strings.TrimPrefix(line, "pid "), ","); ok {
		if _, err := strconv.Atoi(pid); err == nil {
			return " (" + line + ")"
		}
	}
	return ""
}

// Close closes the data file; call it last on shutdown.
func (s *Store) Close() error {
	if !s.db.IsReadOnly() {
		_ = os.Remove(filepath.Join(s.dir, lockFile))
	}
	return s.db.Close()
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

// Path is the data file.
func (s *Store) Path() string { return s.path }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// DB exposes the bbolt handle to sibling packages that keep their own
// buckets (scheduler jobs); they must follow the same one-action-one-tx rule.
func (s *Store) DB() *bolt.DB { return s.db }

// Subscribe registers fn to receive the changes of every committed write
// transaction; the returned func unsubscribes. fn runs after the commit, on
// the committing goroutine, so it must be quick (send a message, no I/O).
func (s *Store) Subscribe(fn func([]Change)) func() {
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	s.subs[id] = fn
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}

func (s *Store) publish(ch []Change) {
	if len(ch) == 0 {
		return
	}
	s.mu.Lock()
	fns := make([]func([]Change), 0, len(s.subs))
	for _, f := range s.subs {
		fns = append(fns, f)
	}
	s.mu.Unlock()
	for _, f := range fns {
		f(ch)
	}
}

// Tx is one transaction: one user action, all or nothing, with its audit
// entries inside it.
type Tx struct {
	s       *Store
	tx      *bolt.Tx
	actor   *domain.User
	now     time.Time
	changes []Change
	// pendingLayouts are result layouts created in this transaction.
	pendingLayouts map[string]uint64
}

// Update runs fn in a write transaction on behalf of actor. If fn returns an
// error nothing is written, audit entries included.
func (s *Store) Update(actor *domain.User, fn func(*Tx) error) error {
	var changes []Change
	err := s.db.Update(func(btx *bolt.Tx) error {
		tx := &Tx{s: s, tx: btx, actor: actor, now: s.now()}
		if err := fn(tx); err != nil {
			return err
		}
		changes = tx.changes
		return nil
	})
	if err != nil {
		return err
	}
	s.publish(changes)
	return nil
}

// View runs fn in a read transaction. Values read are copied out; never keep
// a read transaction open across a render or slow work.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(btx *bolt.Tx) error {
		return fn(&Tx{s: s, tx: btx, now: s.now()})
	})
}

// Now is the transaction's time: one instant for everything it records.
func (tx *Tx) Now() time.Time { return tx.now }

// Actor is who the transaction acts for.
func (tx *Tx) Actor() *domain.User { return tx.actor }

// Bolt exposes the underlying transaction to sibling packages.
func (tx *Tx) Bolt() *bolt.Tx { return tx.tx }

// Notify queues a change to publish after commit.
func (tx *Tx) Notify(c Change) { tx.changes = append(tx.changes, c) }

func (tx *Tx) actorName() string {
	if tx.actor == nil {
		return "anonymous"
	}
	return tx.actor.Name
}
