package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"gpcollections/domain"
)

// SchemaVersion is the layout this gpc writes. Open migrates older files
// forward, one step at a time, inside one transaction; a newer file is
// refused rather than misread.
const SchemaVersion = 2

// Buckets, one per aggregate, plus idx_* secondary indexes kept in the same
// transaction as the records they index.
const (
	bMeta          = "meta"
	bOrgs          = "orgs"
	bIdxOrgParent  = "idx_org_parent" // parent code | child code
	bUsers         = "users"
	bIdxUserKey    = "idx_user_key" // key fingerprint -> user name
	bServices      = "services"
	bCollections   = "collections"      // id -> collection
	bIdxCollByServ = "idx_coll_service" // service | ach date -> id
	bParticipation = "participation"    // service | practice
	bResults       = "results"          // collection id | practice -> current result
	bResultsHist   = "results_hist"     // collection id | practice | run -> superseded result
	bLayouts       = "layouts"          // layout id -> field list
	bIdxLayoutHash = "idx_layout_hash"  // layout hash -> layout id
	bManual        = "manual"           // collection id | practice
	bDeclarations  = "declarations"     // collection id | practice
	bIdxDeclState  = "idx_decl_state"   // state | collection id | practice
	bJobs          = "jobs"             // collection id | practice
	bChecks        = "checks"           // collection id | practice
	bSources       = "sources"          // practice -> linked source
	bPayRuns       = "payment_runs"     // run id -> run
	bPaid          = "paid"             // collection id | practice | component -> payment line
	bAspiration    = "aspiration"       // service | practice -> prior-year achievement
	bAudit         = "audit"            // seq -> entry
	bIdxAuditOrg   = "idx_audit_org"    // org | seq
	bVisits        = "visits"           // user name -> last sign-in (see visits.go)
)

// AllBuckets is every bucket of the current schema.
var AllBuckets = []string{
	bMeta, bOrgs, bIdxOrgParent, bUsers, bIdxUserKey, bServices, bCollections,
	bIdxCollByServ, bParticipation, bResults, bResultsHist, bLayouts, bIdxLayoutHash,
	bManual, bDeclarations, bIdxDeclState, bJobs, bChecks, bSources, bPayRuns, bPaid,
	bAudit, bIdxAuditOrg, bAspiration, bVisits,
}

var metaSchema = []byte("schema")

// migrations[v] upgrades a file at schema v to v+1.
var migrations = map[uint32]func(*bolt.Tx) error{
	1: migrateV1,
}

func readSchema(tx *bolt.Tx) uint32 {
	m := tx.Bucket([]byte(bMeta))
	if m == nil {
		return 0
	}
	v := m.Get(metaSchema)
	if len(v) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (s *Store) migrate() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		v := readSchema(tx)
		if v > SchemaVersion {
			return fmt.Errorf("%s has schema version %d, newer than this gpc understands (%d): upgrade gpc", s.path, v, SchemaVersion)
		}
		if v == 0 {
			if m := tx.Bucket([]byte(bMeta)); m != nil && m.Get(metaSchema) != nil {
				return fmt.Errorf("%s: schema version record is corrupt (%x)", s.path, m.Get(metaSchema))
			}
			v = SchemaVersion // a fresh file starts at the current layout
		}
		for ; v < SchemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("%s: migrating schema %d to %d: %w", s.path, v, v+1, err)
			}
		}
		for _, name := range AllBuckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		b := make([]byte, 4)
		binary.BigEndian.PutUint32(b, SchemaVersion)
		return tx.Bucket([]byte(bMeta)).Put(metaSchema, b)
	})
}

func (s *Store) checkSchemaReadable() error {
	return s.db.View(func(tx *bolt.Tx) error {
		v := readSchema(tx)
		if v == 0 || v > SchemaVersion {
			return fmt.Errorf("%s has schema version %d; this gpc reads %d", s.path, v, SchemaVersion)
		}
		if v < SchemaVersion {
			return fmt.Errorf("%s has the older schema version %d; open it read-write once (any gpc command with --data) to migrate", s.path, v)
		}
		return nil
	})
}

// Schema 1 (the first releases) kept one list size per practice
// ("listSize", "listSizeFrom") and grants as "role@ORG" strings. Schema 2
// keeps a dated list-size history and typed grants.
type orgV1 struct {
	Code         string `json:"code"`
	Kind         string `json:"kind"`
	Name         string `json:"name"`
	Parent       string `json:"parent"`
	ListSize     int64  `json:"listSize"`
	ListSizeFrom string `json:"listSizeFrom"`
}

type userV1 struct {
	Name     string             `json:"name"`
	FullName string             `json:"fullName"`
	Roles    []string           `json:"roles"`
	Keys     []domain.PublicKey `json:"keys"`
	Disabled bool               `json:"disabled"`
}

// rewrite replaces every JSON record of a bucket with what convert makes of
// its old payload, keeping each record's version. A record convert cannot
// read is reported as corrupt, naming bucket and key.
func rewrite(tx *bolt.Tx, bucket string, convert func(payload []byte) (any, error)) error {
	b := tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	type kv struct{ k, v []byte }
	var rows []kv // copied out, so the loop may rewrite them
	if err := b.ForEach(func(k, v []byte) error {
		rows = append(rows, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
		return nil
	}); err != nil {
		return err
	}
	for _, r := range rows {
		_, ver, payload, err := openEnvelope(r.v)
		var rec any
		if err == nil {
			rec, err = convert(payload)
		}
		if err != nil {
			return &CorruptError{Bucket: bucket, Key: string(r.k), Err: err}
		}
		if v, ok := rec.(Versioned); ok {
			v.SetVersion(ver)
		}
		out, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := b.Put(r.k, envelope(envJSON, ver, out)); err != nil {
			return err
		}
	}
	return nil
}

func migrateV1(tx *bolt.Tx) error {
	kinds := map[string]domain.OrgKind{}
	err := rewrite(tx, bOrgs, func(payload []byte) (any, error) {
		var o1 orgV1
		if err := json.Unmarshal(payload, &o1); err != nil {
			return nil, err
		}
		o := &domain.Org{Code: o1.Code, Kind: domain.OrgKind(o1.Kind), Name: o1.Name, Parent: o1.Parent}
		if o1.ListSizeFrom != "" {
			from, err := domain.ParseDate(o1.ListSizeFrom)
			if err != nil {
				return nil, err
			}
			o.SetListSize(from, o1.ListSize)
		}
		kinds[o.Code] = o.Kind
		return o, indexOrgParent(tx, o)
	})
	if err != nil {
		return err
	}
	return rewrite(tx, bUsers, func(payload []byte) (any, error) {
		var u1 userV1
		if err := json.Unmarshal(payload, &u1); err != nil {
			return nil, err
		}
		u := &domain.User{Name: u1.Name, FullName: u1.FullName, Keys: u1.Keys, Disabled: u1.Disabled}
		for _, s := range u1.Roles {
			role, org, ok := strings.Cut(s, "@")
			if !ok {
				return nil, fmt.Errorf("grant %q is not role@ORG", s)
			}
			kind, known := kinds[org]
			if !known {
				return nil, fmt.Errorf("grant %q names unknown organisation %s", s, org)
			}
			if err := u.AddGrant(domain.Grant{Org: org, OrgKind: kind, Role: domain.Role(role)}); err != nil {
				return nil, err
			}
		}
		return u, indexUserKeys(tx, nil, u)
	})
}
