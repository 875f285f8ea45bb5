package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Every stored value is an envelope: a magic byte, the record format, the
// aggregate version (big-endian uint64), then the payload. Keeping the
// version outside the payload lets a write check for conflicts without
// decoding, and the format byte lets a newer gpc read older records.
const (
	envMagic   = 'g'
	envJSON    = 1 // payload is JSON
	envBinary  = 2 // payload is a package-specific binary form
	envHeadLen = 10
)

// CorruptError names the record that could not be read.
type CorruptError struct {
	Bucket string
	Key    string
	Err    error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt value in bucket %s at key %s: %v", e.Bucket, e.Key, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

func envelope(format byte, version uint64, payload []byte) []byte {
	b := make([]byte, envHeadLen+len(payload))
	b[0] = envMagic
	b[1] = format
	binary.BigEndian.PutUint64(b[2:10], version)
	copy(b[envHeadLen:], payload)
	return b
}

// openEnvelope splits a stored value; it never panics on any input.
func openEnvelope(v []byte) (format byte, version uint64, payload []byte, err error) {
	if len(v) < envHeadLen {
		return 0, 0, nil, fmt.Errorf("value of %d bytes is shorter than the %d-byte header", len(v), envHeadLen)
	}
	if v[0] != envMagic {
		return 0, 0, nil, fmt.Errorf("bad magic byte 0x%02x", v[0])
	}
	if v[1] != envJSON && v[1] != envBinary {
		return 0, 0, nil, fmt.Errorf("record format %d is unknown to this gpc", v[1])
	}
	return v[1], binary.BigEndian.Uint64(v[2:10]), v[envHeadLen:], nil
}

// Versioned is an aggregate carrying an optimistic-concurrency version.
type Versioned interface {
	GetVersion() uint64
	SetVersion(uint64)
}

// DecodeJSON reads an envelope holding JSON into v, setting its version.
// Exported for the fuzz test and sibling packages.
func DecodeJSON(raw []byte, v Versioned) error {
	format, ver, payload, err := openEnvelope(raw)
	if err != nil {
		return err
	}
	if format != envJSON {
		return fmt.Errorf("record format %d is not JSON", format)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return err
	}
	v.SetVersion(ver)
	return nil
}

// getJSON reads key from bucket into v; ErrNotFound when absent.
func getJSON(tx *bolt.Tx, bucket string, key []byte, v Versioned) error {
	b := tx.Bucket([]byte(bucket))
	if b == nil {
		return fmt.Errorf("bucket %s missing: %w", bucket, ErrNotFound)
	}
	raw := b.Get(key)
	if raw == nil {
		return ErrNotFound
	}
	if err := DecodeJSON(raw, v); err != nil {
		return &CorruptError{Bucket: bucket, Key: printableKey(key), Err: err}
	}
	return nil
}

// putJSON writes v at key if the stored version still equals v's version
// (0 = must not exist yet), then bumps v's version. This is the optimistic
// concurrency check: of two writers who read the same version, one wins.
func putJSON(tx *bolt.Tx, bucket string, key []byte, v Versioned) error {
	b := tx.Bucket([]byte(bucket))
	if b == nil {
		return fmt.Errorf("bucket %s missing", bucket)
	}
	want := v.GetVersion()
	if raw := b.Get(key); raw != nil {
		_, cur, _, err := openEnvelope(raw)
		if err != nil {
			return &CorruptError{Bucket: bucket, Key: printableKey(key), Err: err}
		}
		if want == 0 {
			return fmt.Errorf("%s %s: %w", bucket, printableKey(key), ErrExists)
		}
		if cur != want {
			return fmt.Errorf("%s %s (you read version %d, it is now %d): %w", bucket, printableKey(key), want, cur, ErrConflict)
		}
	} else if want != 0 {
		return fmt.Errorf("%s %s: %w", bucket, printableKey(key), ErrNotFound)
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := b.Put(key, envelope(envJSON, want+1, payload)); err != nil {
		return err
	}
	v.SetVersion(want + 1)
	return nil
}

// eachJSON decodes every value of a bucket (optionally under a key prefix).
func eachJSON[T any, P interface {
	*T
	Versioned
}](tx *bolt.Tx, bucket string, prefix []byte, fn func(key []byte, v P) error) error {
	b := tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, raw := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, raw = c.Next() {
		var v T
		p := P(&v)
		if err := DecodeJSON(raw, p); err != nil {
			return &CorruptError{Bucket: bucket, Key: printableKey(k), Err: err}
		}
		if err := fn(k, p); err != nil {
			return err
		}
	}
	return nil
}

func hasPrefix(k, p []byte) bool {
	return len(k) >= len(p) && string(k[:len(p)]) == string(p)
}

// u64 encodes an id as 8 big-endian bytes so keys sort numerically.
func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// key joins fixed-width parts into a composite key.
func key(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// printableKey renders a key for error messages: ids as numbers, codes as text.
func printableKey(k []byte) string {
	out := ""
	for len(k) > 0 {
		if len(k) >= 8 && k[0] == 0 {
			out += fmt.Sprintf("%d/", binary.BigEndian.Uint64(k[:8]))
			k = k[8:]
			continue
		}
		printable := true
		for _, c := range k {
			if c < 0x20 || c > 0x7e {
				printable = false
				break
			}
		}
		if printable {
			out += string(k)
		} else {
			out += fmt.Sprintf("%x", k)
		}
		break
	}
	if len(out) > 0 && out[len(out)-1] == '/' {
		out = out[:len(out)-1]
	}
	return out
}
