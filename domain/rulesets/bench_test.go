package rulesets_test

import (
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/synth"
)

var benchBatch *clinical.Batch

func practice10k(b *testing.B) *clinical.Batch {
	if benchBatch == nil {
		var err error
		benchBatch, err = synth.Batch(synth.Options{Practice: "A81001", Patients: 10000, Seed: 1, AchDate: domain.MustDate("2026-03-31")})
		if err != nil {
			b.Fatal(err)
		}
	}
	return benchBatch
}

func benchEval(b *testing.B, workers int) {
	rs, _ := rulesets.Load("QOF2526")
	batch := practice10k(b)
	ach := domain.MustDate("2026-03-31")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs.EvaluateWorkers(batch, ach, workers)
	}
	b.ReportMetric(float64(len(batch.Patients))*float64(b.N)/b.Elapsed().Seconds(), "patients/s")
}

// BenchmarkEvaluateQOF: the full QOF set on a practice of 10,000, all cores.
func BenchmarkEvaluateQOF(b *testing.B) { benchEval(b, 0) }

// BenchmarkEvaluateQOFOneWorker: the same on one core.
func BenchmarkEvaluateQOFOneWorker(b *testing.B) { benchEval(b, 1) }

// BenchmarkReferenceQOF: the simple evaluator, for scale.
func BenchmarkReferenceQOF(b *testing.B) {
	rs, _ := rulesets.Load("QOF2526")
	batch := practice10k(b)
	ach := domain.MustDate("2026-03-31")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs.EvaluateReference(batch, ach)
	}
}
