package ops

import (
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
)

func TestRecordVisitReturnsThePreviousOne(t *testing.T) {
	now := time.Date(2026, 4, 15, 9, 0, 0, 0, time.UTC)
	s, err := store.Open(t.TempDir(), store.Options{NoSync: true, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	admin, err := Bootstrap(s, "admin", "Admin", domain.PublicKey{})
	if err != nil {
		t.Fatal(err)
	}
	first := now
	prev, err := RecordVisit(s, admin)
	if err != nil || !prev.IsZero() {
		t.Fatalf("first visit: previous %v, %v; want none", prev, err)
	}
	now = now.Add(6 * 24 * time.Hour)
	if prev, err = RecordVisit(s, admin); err != nil || !prev.Equal(first) {
		t.Fatalf("second visit: previous %v, %v; want %v", prev, err, first)
	}
	var entries int
	if err := s.View(func(tx *store.Tx) error {
		es, err := tx.AuditEntries(store.AuditFilter{Action: "visit"})
		entries = len(es)
		return err
	}); err != nil || entries != 0 {
		t.Fatalf("visits are bookkeeping, not audited: %d entries, %v", entries, err)
	}
	if _, err := RecordVisit(s, domain.SystemUser); err == nil {
		t.Fatal("the scheduler recorded a visit")
	}
	off := *admin
	off.Disabled = true
	if _, err := RecordVisit(s, &off); err == nil {
		t.Fatal("a disabled account recorded a visit")
	}
}
