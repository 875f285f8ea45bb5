package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"gpcollections/domain"
)

// metaHead holds the last ledger entry's sequence and hash, so a truncated
// ledger (entries deleted from the end) is caught as well as an edited one.
var metaHead = []byte("ledger_head")

// Audit appends one entry to the ledger in this transaction, chained to the
// previous entry by SHA-256. It is the only writer of the audit bucket.
func (tx *Tx) Audit(action, target, org, before, after string) error {
	b := tx.tx.Bucket([]byte(bAudit))
	if b == nil {
		return fmt.Errorf("audit bucket missing")
	}
	prev := ""
	if head := tx.tx.Bucket([]byte(bMeta)).Get(metaHead); len(head) > 8 {
		prev = string(head[8:])
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	e := domain.AuditEntry{Seq: seq, At: tx.now.UTC(), User: tx.actorName(), Action: action,
		Target: target, Org: org, Before: before, After: after, Prev: prev}
	e.Hash = e.ComputeHash()
	payload, err := json.Marshal(&e)
	if err != nil {
		return err
	}
	if err := b.Put(u64(seq), envelope(envJSON, 1, payload)); err != nil {
		return err
	}
	if org != "" {
		if err := tx.tx.Bucket([]byte(bIdxAuditOrg)).Put(key([]byte(org+"|"), u64(seq)), nil); err != nil {
			return err
		}
	}
	head := append(u64(seq), e.Hash...)
	return tx.tx.Bucket([]byte(bMeta)).Put(metaHead, head)
}

// AuditFilter narrows an audit listing. Zero fields match everything.
type AuditFilter struct {
	Orgs   []string // entries of these organisations only (nil = all)
	User   string
	Action string // prefix, e.g. "declaration."
	Text   string // substring of target, before or after
	Since  time.Time
	Limit  int // newest first; 0 = 200
}

// AuditEntries lists ledger entries newest first.
func (tx *Tx) AuditEntries(f AuditFilter) ([]domain.AuditEntry, error) {
	if f.Limit == 0 {
		f.Limit = 200
	}
	b := tx.tx.Bucket([]byte(bAudit))
	var out []domain.AuditEntry
	match := func(e *domain.AuditEntry) bool {
		if f.User != "" && e.User != f.User {
			return false
		}
		if f.Action != "" && !strings.HasPrefix(e.Action, f.Action) {
			return false
		}
		if f.Text != "" && !strings.Contains(e.Target+" "+e.Before+" "+e.After, f.Text) {
			return false
		}
		return f.Since.IsZero() || !e.At.Before(f.Since)
	}
	decode := func(k, raw []byte) (*domain.AuditEntry, error) {
		_, _, payload, err := openEnvelope(raw)
		if err != nil {
			return nil, &CorruptError{Bucket: bAudit, Key: printableKey(k), Err: err}
		}
		var e domain.AuditEntry
		if err := json.Unmarshal(payload, &e); err != nil {
			return nil, &CorruptError{Bucket: bAudit, Key: printableKey(k), Err: err}
		}
		return &e, nil
	}
	if f.Orgs == nil {
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < f.Limit; k, v = c.Prev() {
			e, err := decode(k, v)
			if err != nil {
				return nil, err
			}
			if match(e) {
				out = append(out, *e)
			}
		}
		return out, nil
	}
	// Scoped: walk each organisation's index, then merge newest first.
	var seqs []uint64
	idx := tx.tx.Bucket([]byte(bIdxAuditOrg))
	for _, org := range f.Orgs {
		prefix := []byte(org + "|")
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
			seqs = append(seqs, binary.BigEndian.Uint64(k[len(prefix):]))
		}
	}
	sortDesc(seqs)
	for _, seq := range seqs {
		if len(out) >= f.Limit {
			break
		}
		k := u64(seq)
		e, err := decode(k, b.Get(k))
		if err != nil {
			return nil, err
		}
		if match(e) {
			out = append(out, *e)
		}
	}
	return out, nil
}

func sortDesc(s []uint64) { sort.Slice(s, func(i, j int) bool { return s[i] > s[j] }) }

// LedgerError names the first entry whose chain is broken.
type LedgerError struct {
	Seq    uint64
	Reason string
}

func (e *LedgerError) Error() string {
	return fmt.Sprintf("audit ledger entry %d: %s", e.Seq, e.Reason)
}

// verifyLedger walks the whole chain: every entry decodes, its sequence
// matches its key, its Prev is the previous hash and its Hash recomputes,
// and the last one matches the recorded head. Returns the entry count.
func verifyLedger(tx *bolt.Tx) (int, error) {
	b := tx.Bucket([]byte(bAudit))
	if b == nil {
		return 0, &LedgerError{0, "audit bucket missing"}
	}
	prev := ""
	var last uint64
	n := 0
	c := b.Cursor()
	for k, raw := c.First(); k != nil; k, raw = c.Next() {
		if len(k) != 8 {
			return n, &LedgerError{0, fmt.Sprintf("key %x is not an 8-byte sequence", k)}
		}
		seq := binary.BigEndian.Uint64(k)
		_, _, payload, err := openEnvelope(raw)
		if err != nil {
			return n, &LedgerError{seq, "unreadable: " + err.Error()}
		}
		var e domain.AuditEntry
		if err := json.Unmarshal(payload, &e); err != nil {
			return n, &LedgerError{seq, "unreadable: " + err.Error()}
		}
		switch {
		case e.Seq != seq:
			return n, &LedgerError{seq, fmt.Sprintf("stored under %d but says %d", seq, e.Seq)}
		case seq != last+1:
			return n, &LedgerError{seq, fmt.Sprintf("follows entry %d: entries are missing", last)}
		case e.Prev != prev:
			return n, &LedgerError{seq, "does not chain to the previous entry's hash"}
		case e.ComputeHash() != e.Hash:
			return n, &LedgerError{seq, "hash mismatch: the entry was altered after it was written"}
		}
		prev, last = e.Hash, seq
		n++
	}
	head := tx.Bucket([]byte(bMeta)).Get(metaHead)
	if n == 0 && head == nil {
		return 0, nil
	}
	if len(head) < 8 || binary.BigEndian.Uint64(head[:8]) != last || string(head[8:]) != prev {
		return n, &LedgerError{last, "the ledger head records a different last entry: entries were removed or replaced"}
	}
	return n, nil
}

// VerifyLedger checks the whole audit chain.
func (s *Store) VerifyLedger() (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = verifyLedger(tx)
		return err
	})
	return n, err
}
