package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"gpcollections/domain"
)

// Extract results are the bulk of the data (a national collection is about
// 3.5 million values), so they are not JSON: the list of (indicator, field)
// names is stored once as a layout, and each practice's result holds only
// its layout id and the values as varints, in layout order.

type layoutCache struct {
	mu     sync.RWMutex
	byHash map[string]uint64
	byID   map[uint64][]domain.FieldKey
}

func (c *layoutCache) get(id uint64) ([]domain.FieldKey, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	l, ok := c.byID[id]
	return l, ok
}

func (c *layoutCache) id(hash string) (uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.byHash[hash]
	return id, ok
}

func (c *layoutCache) put(hash string, id uint64, l []domain.FieldKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byHash == nil {
		c.byHash = map[string]uint64{}
		c.byID = map[uint64][]domain.FieldKey{}
	}
	c.byHash[hash] = id
	c.byID[id] = l
}

func layoutHash(l []domain.FieldKey) string {
	h := sha256.New()
	for _, k := range l {
		h.Write([]byte(k.Indicator))
		h.Write([]byte{0})
		h.Write([]byte(k.Field))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// layoutID finds or creates the layout for these keys in this transaction.
// The cache learns a new layout only when the transaction commits.
func (tx *Tx) layoutID(l []domain.FieldKey) (uint64, error) {
	hash := layoutHash(l)
	if id, ok := tx.s.layouts.id(hash); ok {
		return id, nil
	}
	if id, ok := tx.pendingLayouts[hash]; ok {
		return id, nil
	}
	idx := tx.tx.Bucket([]byte(bIdxLayoutHash))
	if v := idx.Get([]byte(hash)); len(v) == 8 {
		id := binary.BigEndian.Uint64(v)
		l, err := tx.layout(id)
		if err != nil {
			return 0, err
		}
		// A committed layout: safe to cache now.
		tx.s.layouts.put(hash, id, l)
		return id, nil
	}
	b := tx.tx.Bucket([]byte(bLayouts))
	id, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	payload, err := json.Marshal(l)
	if err != nil {
		return 0, err
	}
	if err := b.Put(u64(id), envelope(envJSON, 1, payload)); err != nil {
		return 0, err
	}
	if err := idx.Put([]byte(hash), u64(id)); err != nil {
		return 0, err
	}
	cp := append([]domain.FieldKey(nil), l...)
	if tx.pendingLayouts == nil {
		tx.pendingLayouts = map[string]uint64{}
	}
	tx.pendingLayouts[hash] = id
	tx.tx.OnCommit(func() { tx.s.layouts.put(hash, id, cp) })
	return id, nil
}

func (tx *Tx) layout(id uint64) ([]domain.FieldKey, error) {
	if l, ok := tx.s.layouts.get(id); ok {
		return l, nil
	}
	raw := tx.tx.Bucket([]byte(bLayouts)).Get(u64(id))
	if raw == nil {
		return nil, &CorruptError{Bucket: bLayouts, Key: fmt.Sprint(id), Err: errors.New("layout missing")}
	}
	_, _, payload, err := openEnvelope(raw)
	if err != nil {
		return nil, &CorruptError{Bucket: bLayouts, Key: fmt.Sprint(id), Err: err}
	}
	var l []domain.FieldKey
	if err := json.Unmarshal(payload, &l); err != nil {
		return nil, &CorruptError{Bucket: bLayouts, Key: fmt.Sprint(id), Err: err}
	}
	if !tx.tx.Writable() {
		tx.s.layouts.put(layoutHash(l), id, l)
	}
	return l, nil
}

// encodeResult packs a result; the layout gives the field order.
func encodeResult(r *domain.ExtractResult, layoutID uint64) []byte {
	b := make([]byte, 0, 64+len(r.RuleSetHash)+len(r.SourceHash)+3*len(r.Values))
	b = binary.AppendUvarint(b, uint64(r.Run))
	b = binary.AppendUvarint(b, layoutID)
	b = appendString(b, r.RuleSetHash)
	b = appendString(b, r.SourceHash)
	b = binary.AppendVarint(b, timeNanos(r.Started))
	b = binary.AppendVarint(b, timeNanos(r.Finished))
	b = binary.AppendUvarint(b, uint64(len(r.Values)))
	for _, v := range r.Values {
		b = binary.AppendVarint(b, v.Value)
	}
	return b
}

func timeNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nanosTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// resultReader decodes without ever panicking or over-allocating on bad input.
type resultReader struct {
	b   []byte
	err error
}

func (r *resultReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *resultReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *resultReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("string of %d bytes overruns the record", n)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// DecodeResultPayload decodes a result payload given a layout lookup.
// Exported for the fuzz test.
func DecodeResultPayload(p []byte, layout func(uint64) ([]domain.FieldKey, error)) (*domain.ExtractResult, error) {
	rd := &resultReader{b: p}
	r := &domain.ExtractResult{}
	r.Run = int(rd.uvarint())
	lid := rd.uvarint()
	r.RuleSetHash = rd.str()
	r.SourceHash = rd.str()
	r.Started = nanosTime(rd.varint())
	r.Finished = nanosTime(rd.varint())
	n := rd.uvarint()
	if rd.err != nil {
		return nil, rd.err
	}
	if n > uint64(len(rd.b)) { // each value takes at least one byte
		return nil, fmt.Errorf("%d values cannot fit in %d bytes", n, len(rd.b))
	}
	l, err := layout(lid)
	if err != nil {
		return nil, err
	}
	if uint64(len(l)) != n {
		return nil, fmt.Errorf("record has %d values but its layout %d has %d fields", n, lid, len(l))
	}
	r.Values = make([]domain.FieldValue, n)
	for i := range r.Values {
		r.Values[i] = domain.FieldValue{Indicator: l[i].Indicator, Field: l[i].Field, Value: rd.varint()}
	}
	if rd.err != nil {
		return nil, rd.err
	}
	if len(rd.b) != 0 {
		return nil, fmt.Errorf("%d unexpected bytes after the values", len(rd.b))
	}
	return r, nil
}

func resultKey(coll uint64, practice string) []byte {
	return key(u64(coll), []byte(practice))
}

// PutResult stores a practice's result for a collection run. The current
// result, if from an earlier run, moves to history in the same transaction,
// so readers see either the old run or the new one, never a mixture. A result
// for the same run replaces nothing: it is refused as a duplicate.
func (tx *Tx) PutResult(r *domain.ExtractResult) error {
	if r.Collection == 0 || r.Practice == "" {
		return fmt.Errorf("result without collection or practice")
	}
	k := resultKey(r.Collection, r.Practice)
	b := tx.tx.Bucket([]byte(bResults))
	var cur uint64
	if raw := b.Get(k); raw != nil {
		old, ver, err := tx.decodeResult(k, raw, 0)
		if err != nil {
			return err
		}
		if old.Run == r.Run {
			return fmt.Errorf("result for collection %d practice %s run %d: %w", r.Collection, r.Practice, r.Run, ErrExists)
		}
		if old.Run > r.Run {
			return fmt.Errorf("result for collection %d practice %s: run %d is older than the stored run %d", r.Collection, r.Practice, r.Run, old.Run)
		}
		hk := key(k, u64(uint64(old.Run)))
		if err := tx.tx.Bucket([]byte(bResultsHist)).Put(hk, append([]byte(nil), raw...)); err != nil {
			return err
		}
		cur = ver
	}
	l := make([]domain.FieldKey, len(r.Values))
	for i, v := range r.Values {
		l[i] = domain.FieldKey{Indicator: v.Indicator, Field: v.Field}
	}
	lid, err := tx.layoutID(l)
	if err != nil {
		return err
	}
	if err := b.Put(k, envelope(envBinary, cur+1, encodeResult(r, lid))); err != nil {
		return err
	}
	r.Version = cur + 1
	tx.Notify(Change{Kind: "result", Collection: r.Collection, Practice: r.Practice})
	return tx.Audit("extract.result", fmt.Sprintf("result %d/%s run %d", r.Collection, r.Practice, r.Run), r.Practice,
		"", fmt.Sprintf("%d values, rules %.12s, source %.12s, values %.12s", len(r.Values), r.RuleSetHash, r.SourceHash, domain.ValuesHash(r.Values)))
}

// decodeResult decodes a stored result; trailer is the length of anything
// after the practice code in the key (8 for history keys, which end in the run).
func (tx *Tx) decodeResult(k, raw []byte, trailer int) (*domain.ExtractResult, uint64, error) {
	format, ver, payload, err := openEnvelope(raw)
	if err == nil && format != envBinary {
		err = fmt.Errorf("record format %d is not a result", format)
	}
	var r *domain.ExtractResult
	if err == nil {
		r, err = DecodeResultPayload(payload, tx.layout)
	}
	if err == nil && len(k) < 8+trailer {
		err = fmt.Errorf("key too short")
	}
	if err != nil {
		return nil, 0, &CorruptError{Bucket: bResults, Key: printableKey(k), Err: err}
	}
	r.Collection = binary.BigEndian.Uint64(k[:8])
	r.Practice = string(k[8 : len(k)-trailer])
	r.Version = ver
	return r, ver, nil
}

// Result reads a practice's current result for a collection.
func (tx *Tx) Result(coll uint64, practice string) (*domain.ExtractResult, error) {
	k := resultKey(coll, practice)
	raw := tx.tx.Bucket([]byte(bResults)).Get(k)
	if raw == nil {
		return nil, fmt.Errorf("result for collection %d practice %s: %w", coll, practice, ErrNotFound)
	}
	r, _, err := tx.decodeResult(k, raw, 0)
	return r, err
}

// Results lists every practice's current result for a collection.
func (tx *Tx) Results(coll uint64) ([]*domain.ExtractResult, error) {
	var out []*domain.ExtractResult
	prefix := u64(coll)
	c := tx.tx.Bucket([]byte(bResults)).Cursor()
	for k, raw := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, raw = c.Next() {
		r, _, err := tx.decodeResult(k, raw, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ResultHistory lists a practice's superseded results, oldest run first.
func (tx *Tx) ResultHistory(coll uint64, practice string) ([]*domain.ExtractResult, error) {
	var out []*domain.ExtractResult
	prefix := resultKey(coll, practice)
	c := tx.tx.Bucket([]byte(bResultsHist)).Cursor()
	for k, raw := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, raw = c.Next() {
		if len(k) != len(prefix)+8 {
			continue
		}
		r, _, err := tx.decodeResult(k, raw, 8)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
