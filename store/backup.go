package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the live store to w while it keeps
// serving (bbolt's read transaction sees one snapshot).
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// BackupToFile writes a backup atomically: to a temporary file beside the
// target, synced, then renamed, so a crash never leaves half a backup.
func (s *Store) BackupToFile(path string) (int64, error) {
	return writeAtomic(path, func(w io.Writer) (int64, error) { return s.Backup(w) })
}

func writeAtomic(path string, fn func(io.Writer) (int64, error)) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gpc-backup-*")
	if err != nil {
		return 0, fmt.Errorf("backup to %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	n, err := fn(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return 0, fmt.Errorf("backup to %s: %w", path, err)
	}
	return n, nil
}

// Restore replaces the store in dir with the backup at from. The backup is
// checked first (it opens, its schema is readable, its audit chain holds);
// the current file, if any, is kept beside it as gpc.db.before-restore-TIME.
// It refuses while another process holds the data directory.
func Restore(dir, from string, now time.Time) (kept string, err error) {
	rep, err := Check(from, true)
	if err != nil {
		return "", fmt.Errorf("backup %s is not usable: %w", from, err)
	}
	if !rep.OK() {
		return "", fmt.Errorf("backup %s is not usable: %s", from, rep.FirstProblem())
	}
	// Take the lock on the current file so no server is running on it.
	path := filepath.Join(dir, DBFile)
	if _, statErr := os.Stat(path); statErr == nil {
		cur, err := Open(dir, Options{})
		if err != nil {
			return "", err
		}
		kept = path + ".before-restore-" + now.UTC().Format("20060102T150405Z")
		if err := os.Link(path, kept); err != nil {
			cur.Close()
			return "", fmt.Errorf("keep the current data file: %w", err)
		}
		cur.Close()
	} else if !errors.Is(statErr, os.ErrNotExist) {
		return "", statErr
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	src, err := os.Open(from)
	if err != nil {
		return "", err
	}
	defer src.Close()
	if _, err := writeAtomic(path, func(w io.Writer) (int64, error) { return io.Copy(w, src) }); err != nil {
		return "", err
	}
	return kept, nil
}
