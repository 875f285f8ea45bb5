package store

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"gpcollections/domain"
)

// v1Fixture is a data file as the first release (schema 1) wrote it. It is
// checked in; TestWriteV1Fixture regenerates it when GPC_WRITE_V1_FIXTURE=1.
const v1Fixture = "testdata/schema-v1.db"

func TestWriteV1Fixture(t *testing.T) {
	if os.Getenv("GPC_WRITE_V1_FIXTURE") != "1" {
		t.Skip("set GPC_WRITE_V1_FIXTURE=1 to regenerate " + v1Fixture)
	}
	_ = os.Remove(v1Fixture)
	db, err := bolt.Open(v1Fixture, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2025, 2, 1, 9, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket([]byte("meta"))
		orgs, _ := tx.CreateBucket([]byte("orgs"))
		users, _ := tx.CreateBucket([]byte("users"))
		audit, _ := tx.CreateBucket([]byte("audit"))
		sv := make([]byte, 4)
		binary.BigEndian.PutUint32(sv, 1)
		if err := meta.Put([]byte("schema"), sv); err != nil {
			return err
		}
		put := func(b *bolt.Bucket, k string, v any) {
			p, _ := json.Marshal(v)
			if err := b.Put([]byte(k), envelope(envJSON, 1, p)); err != nil {
				t.Fatal(err)
			}
		}
		put(orgs, "X26", orgV1{Code: "X26", Kind: "national", Name: "GP Collections"})
		put(orgs, "QWE", orgV1{Code: "QWE", Kind: "commissioner", Name: "NHS South West London ICB"})
		put(orgs, "A81001", orgV1{Code: "A81001", Kind: "practice", Name: "Marsh Lane Surgery", Parent: "QWE", ListSize: 9120, ListSizeFrom: "2025-01-01"})
		put(users, "ann", userV1{Name: "ann", FullName: "Ann Practice", Roles: []string{"view@A81001", "declaration-management@A81001"},
			Keys: []domain.PublicKey{{Fingerprint: "SHA256:v1fixturekey", Line: "ssh-ed25519 AAAA v1", Added: domain.MustDate("2025-01-15")}}})
		put(users, "root", userV1{Name: "root", FullName: "Admin", Roles: []string{"timetable-administration@X26"}})
		prev := ""
		for i, a := range []string{"org.put", "org.put", "org.put", "user.put", "user.put"} {
			seq, _ := audit.NextSequence()
			e := domain.AuditEntry{Seq: seq, At: at.Add(time.Duration(i) * time.Minute), User: "root", Action: a, Target: "fixture", Prev: prev}
			e.Hash = e.ComputeHash()
			p, _ := json.Marshal(&e)
			if err := audit.Put(u64(seq), envelope(envJSON, 1, p)); err != nil {
				return err
			}
			prev = e.Hash
			if err := meta.Put(metaHead, append(u64(seq), e.Hash...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrationFromV1Fixture(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile(v1Fixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, DBFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	// A read-only open refuses to misread the old layout.
	if _, err := Open(dir, Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a schema-1 file succeeded")
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(func(tx *Tx) error {
		p, err := tx.Org("A81001")
		if err != nil {
			return err
		}
		if n, ok := p.ListSizeOn(domain.MustDate("2025-06-30")); !ok || n != 9120 {
			t.Errorf("migrated list size = %d, %v", n, ok)
		}
		ann, err := tx.User("ann")
		if err != nil {
			return err
		}
		if !ann.Holds(domain.RoleDeclarationManagement, "A81001") || ann.Grants[0].OrgKind != domain.OrgPractice {
			t.Errorf("migrated grants = %+v", ann.Grants)
		}
		byKey, err := tx.UserByKey("SHA256:v1fixturekey")
		if err != nil || byKey.Name != "ann" {
			t.Errorf("key index not built by the migration: %v %v", byKey, err)
		}
		kids, _ := tx.PracticesOf("QWE")
		if len(kids) != 1 || kids[0] != "A81001" {
			t.Errorf("parent index = %v", kids)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.VerifyLedger(); err != nil || n != 5 {
		t.Fatalf("ledger after migration: %d entries, %v", n, err)
	}
}

// A record the migration cannot read stops it with the record named, and the
// file stays at the old schema: nothing is half-migrated.
func TestMigrationStopsAtACorruptRecord(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile(v1Fixture)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, DBFile)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error {
		p, _ := json.Marshal(userV1{Name: "zed", Roles: []string{"view@NOWHERE"}})
		return tx.Bucket([]byte("users")).Put([]byte("zed"), envelope(envJSON, 1, p))
	})
	db.Close()
	_, err = Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "bucket users at key zed") || !strings.Contains(err.Error(), "unknown organisation NOWHERE") {
		t.Fatalf("got %v", err)
	}
	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v := readSchema(tx); v != 1 {
			t.Errorf("schema after a failed migration = %d, want 1", v)
		}
		return nil
	})
}
