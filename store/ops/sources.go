package ops

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/sources"
)

// Practice sources: each practice is linked to the FHIR bulk-data directory
// its clinical system exports to. Linking is extraction configuration, so it
// takes Extract Monitor; the directory is checked before it is linked, and a
// check can be repeated at any time, its outcome kept on the link.

// describeCheck summarises a source check for people.
func describeCheck(rep sources.CheckReport) string {
	var types []string
	for _, f := range rep.Files {
		types = append(types, f.ResourceType)
	}
	s := fmt.Sprintf("%d resource files (%s), %s", len(rep.Files), strings.Join(types, ", "), byteSize(rep.Bytes))
	if len(rep.Missing) > 0 {
		s += "; absent: " + strings.Join(rep.Missing, ", ")
	}
	if len(rep.Other) > 0 {
		s += "; ignored: " + strings.Join(rep.Other, ", ")
	}
	return s
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func linkSummary(l *domain.SourceLink) string {
	if l == nil {
		return ""
	}
	s := "dir " + l.Dir
	if !l.CheckedAt.IsZero() {
		ok := "unusable"
		if l.CheckOK {
			ok = "ok"
		}
		s += fmt.Sprintf("; checked %s: %s: %s", l.CheckedAt.UTC().Format("2006-01-02 15:04"), ok, l.CheckNote)
	}
	return s
}

// LinkSource links a practice to its source directory, or relinks it to a
// new one. The directory is checked first (outside the transaction: it is
// file-system work) and a directory that cannot be extracted is refused with
// what is wrong.
func LinkSource(s *store.Store, actor *domain.User, practice, dir string) (*domain.SourceLink, error) {
	if strings.TrimSpace(dir) == "" {
		return nil, fmt.Errorf("practice %s: no source directory given", practice)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("source directory %s: %w", dir, err)
	}
	// Refuse before touching the disk if the actor may not link at all.
	if err := domain.Authorize(actor, domain.ActControlExtraction, domain.TargetNational()); err != nil {
		return nil, err
	}
	rep, cerr := sources.Check(abs)
	if cerr != nil {
		return nil, fmt.Errorf("practice %s: source %s cannot be linked: %w", practice, abs, cerr)
	}
	var out *domain.SourceLink
	err = s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActControlExtraction, domain.TargetNational()); err != nil {
			return err
		}
		o, err := tx.Org(practice)
		if err != nil {
			return err
		}
		if o.Kind != domain.OrgPractice {
			return fmt.Errorf("%s is a %s; only practices have clinical-system sources", practice, o.Kind)
		}
		l := &domain.SourceLink{Practice: practice}
		old, err := tx.SourceLink(practice)
		action := "source.link"
		switch {
		case err == nil:
			if old.Dir == abs {
				return fmt.Errorf("practice %s is already linked to %s (use gpc source check to check it again)", practice, abs)
			}
			l.Version = old.Version
			action = "source.relink"
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		l.Dir, l.LinkedBy, l.LinkedAt = abs, actor.Name, tx.Now()
		l.CheckedAt, l.CheckOK, l.CheckNote = tx.Now(), true, describeCheck(rep)
		if err := tx.PutSourceLink(l); err != nil {
			return err
		}
		out = l
		return tx.Audit(action, "source "+practice, practice, linkSummary(old), linkSummary(l))
	})
	return out, err
}

// CheckSource checks a practice's linked source again and records the
// outcome on the link. A source that is unusable is recorded as such (the
// returned error says why) rather than refused: the point of a check is to
// find out.
func CheckSource(s *store.Store, actor *domain.User, practice string) (*domain.SourceLink, error) {
	if err := domain.Authorize(actor, domain.ActControlExtraction, domain.TargetNational()); err != nil {
		return nil, err
	}
	var dir string
	if err := s.View(func(tx *store.Tx) error {
		l, err := tx.SourceLink(practice)
		if err != nil {
			return fmt.Errorf("%w (link one with gpc source link --practice %s --dir DIR)", err, practice)
		}
		dir = l.Dir
		return nil
	}); err != nil {
		return nil, err
	}
	rep, cerr := sources.Check(dir)
	var out *domain.SourceLink
	err := s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActControlExtraction, domain.TargetNational()); err != nil {
			return err
		}
		l, err := tx.SourceLink(practice)
		if err != nil {
			return err
		}
		if l.Dir != dir {
			return fmt.Errorf("practice %s was relinked to %s while %s was being checked; check again", practice, l.Dir, dir)
		}
		before := linkSummary(l)
		l.CheckedAt, l.CheckOK, l.CheckNote = tx.Now(), cerr == nil, describeCheck(rep)
		if cerr != nil {
			l.CheckNote = cerr.Error()
		}
		if err := tx.PutSourceLink(l); err != nil {
			return err
		}
		out = l
		return tx.Audit("source.check", "source "+practice, practice, before, linkSummary(l))
	})
	if err != nil {
		return nil, err
	}
	if cerr != nil {
		return out, fmt.Errorf("practice %s: source %s: %w", practice, dir, cerr)
	}
	return out, nil
}

// SourceLinks lists the linked sources (all, or one practice's). Sources are
// extraction configuration, shown on the monitor.
func SourceLinks(s *store.Store, actor *domain.User, practice string) ([]*domain.SourceLink, error) {
	if err := domain.Authorize(actor, domain.ActViewMonitor, domain.TargetNational()); err != nil {
		return nil, err
	}
	var out []*domain.SourceLink
	err := s.View(func(tx *store.Tx) error {
		if practice != "" {
			l, err := tx.SourceLink(practice)
			if err != nil {
				return err
			}
			out = []*domain.SourceLink{l}
			return nil
		}
		var err error
		out, err = tx.SourceLinks()
		return err
	})
	return out, err
}
