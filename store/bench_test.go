package store

import (
	"fmt"
	"testing"
	"time"

	"gpcollections/domain"
)

// nationalResults builds one national collection's results: 6,300 practices
// x 70 indicators x 8 fields.
func nationalResults(coll uint64, practices int) []*domain.ExtractResult {
	fields := []string{"REGISTER", "DENOMINATOR", "NUMERATOR", "PCADEC", "PCAPU", "REG_DAT", "DIAG_DAT", "INVITE"}
	out := make([]*domain.ExtractResult, practices)
	for p := range out {
		r := &domain.ExtractResult{Collection: coll, Practice: fmt.Sprintf("A%05d", p), Run: 1,
			RuleSetHash: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			SourceHash:  "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
			Started:     t0, Finished: t0.Add(time.Second)}
		r.Values = make([]domain.FieldValue, 0, 70*len(fields))
		for i := 0; i < 70; i++ {
			for j, f := range fields {
				r.Values = append(r.Values, domain.FieldValue{Indicator: fmt.Sprintf("IND%03d", i), Field: f, Value: int64((p*31 + i*7 + j*1013) % 2400)})
			}
		}
		out[p] = r
	}
	return out
}

// BenchmarkCommitNationalCollection commits 6,300 practices' results (about
// 3.5 million values) in one transaction, with their audit entries, synced.
func BenchmarkCommitNationalCollection(b *testing.B) {
	results := nationalResults(1, 6300)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := openTest(b, b.TempDir())
		coll := seed(b, s)
		for _, r := range results {
			r.Collection = coll.ID
		}
		b.StartTimer()
		err := s.Update(domain.SystemUser, func(tx *Tx) error {
			for _, r := range results {
				if err := tx.PutResult(r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
	}
	b.ReportMetric(float64(6300*70*8), "values/op")
}

// BenchmarkReadPracticeResult reads one practice's values back.
func BenchmarkReadPracticeResult(b *testing.B) {
	s := openTest(b, b.TempDir())
	coll := seed(b, s)
	results := nationalResults(coll.ID, 6300)
	err := s.Update(domain.SystemUser, func(tx *Tx) error {
		for _, r := range results {
			if err := tx.PutResult(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := s.View(func(tx *Tx) error {
			r, err := tx.Result(coll.ID, fmt.Sprintf("A%05d", i%6300))
			if err == nil && len(r.Values) != 560 {
				err = fmt.Errorf("got %d values", len(r.Values))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
