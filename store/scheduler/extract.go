package scheduler

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/rules"
	"gpcollections/domain/rulesets"
	"gpcollections/store/sources"
)

// SourceInfo is what loading a practice's source found.
type SourceInfo struct {
	// Fingerprint identifies the exact source content extracted; it is
	// recorded with the result as provenance.
	Fingerprint string
	// Bad counts NDJSON lines skipped as unreadable (never in strict mode,
	// which fails instead); BadLines names the first few ("file:line: why").
	Bad      int
	BadLines []string
	// Skipped counts resources that say they did not happen
	// (entered-in-error, not-done).
	Skipped int
}

// Deps are the scheduler's ways of reaching sources and rules; the server
// uses DefaultDeps, tests substitute faults.
type Deps struct {
	// Load returns a practice's records from its source directory. The
	// scheduler calls the batch's Release when it is done with it.
	Load func(dir, practice string, strict bool) (*clinical.Batch, SourceInfo, error)
	// RuleSet returns the loaded rules of a service.
	RuleSet func(service string) (*rules.RuleSet, error)
}

// DefaultDeps loads sources through the compact cache in cacheDir and rules
// from the rule sets shipped in the binary.
func DefaultDeps(cacheDir string) Deps {
	return Deps{
		Load: func(dir, practice string, strict bool) (*clinical.Batch, SourceInfo, error) {
			b, info, err := sources.Load(cacheDir, dir, practice, strict)
			if err != nil {
				return nil, SourceInfo{}, err
			}
			si := SourceInfo{Fingerprint: info.Fingerprint, Bad: info.Stats.Bad, Skipped: info.Stats.Skipped}
			for _, le := range info.Stats.Errors {
				si.BadLines = append(si.BadLines, fmt.Sprintf("%s:%d: %s", le.File, le.Line, le.Msg))
			}
			return b, si, nil
		},
		RuleSet: rulesets.Load,
	}
}

// note describes what loading noticed without failing, for the job record.
func (si SourceInfo) note() string {
	if si.Bad == 0 {
		return ""
	}
	lines := si.BadLines
	if len(lines) > 3 {
		lines = lines[:3]
	}
	return fmt.Sprintf("%d unreadable NDJSON lines skipped (first: %s); fix the export or extract strictly to refuse such sources",
		si.Bad, strings.Join(lines, "; "))
}

// progressChunks is how many progress steps an evaluation reports at most;
// minChunk keeps each step big enough that per-step set-up stays negligible.
const (
	progressChunks = 16
	minChunk       = 4096
)

// evaluate runs a service's rules over a batch in patient chunks, reporting
// progress after each. The counts are sums over patients, so evaluating
// chunks and adding the rows gives the same values as one evaluation (the
// tests check this). par tells how many cores one chunk may use now.
func evaluate(ctx context.Context, rs *rules.RuleSet, b *clinical.Batch, ach domain.Date, par func() int,
	progress func(done, total int)) ([]domain.FieldValue, error) {
	n := len(b.Patients)
	size := max(minChunk, (n+progressChunks-1)/progressChunks)
	var sum []domain.IndicatorValue
	// The first part's rows are the sum's start: every row, all zero for
	// an empty practice (evaluated once, with no patients).
	for lo := 0; lo < n || sum == nil; lo += size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sub := *b
		sub.Patients = b.Patients[lo:min(lo+size, n)]
		rows := rs.EvaluateWorkers(&sub, ach, par())
		if sum == nil {
			sum = rows
		} else if err := addRows(sum, rows); err != nil {
			return nil, err
		}
		if progress != nil && n > 0 {
			progress(min(lo+size, n), n)
		}
	}
	out := make([]domain.FieldValue, len(sum))
	for i, r := range sum {
		out[i] = domain.FieldValue{Indicator: r.Indicator, Field: r.Field, Value: r.Value}
	}
	return out, nil
}

// addRows adds one part's counts to the sum of the parts before.
func addRows(sum, rows []domain.IndicatorValue) error {
	if len(rows) != len(sum) {
		return fmt.Errorf("evaluator returned %d rows for one part of the practice and %d for another", len(rows), len(sum))
	}
	for i := range rows {
		if rows[i].Indicator != sum[i].Indicator || rows[i].Field != sum[i].Field {
			return fmt.Errorf("evaluator rows out of step: %s %s vs %s %s", rows[i].Indicator, rows[i].Field, sum[i].Indicator, sum[i].Field)
		}
		sum[i].Value += rows[i].Value
	}
	return nil
}

// cores is how many evaluation goroutines one attempt may use when busy
// attempts share the machine.
func cores(busy int) int {
	return max(1, runtime.GOMAXPROCS(0)/max(1, busy))
}
