package scheduler_test

import (
	"testing"

	"gpcollections/store/scheduler/collbench"
)

// BenchmarkCollection is a collection of 100 generated practices of 10,000
// patients (one million patients, sources already in compact form): the
// pure evaluator on the same batches, reading and evaluating them, and the
// whole scheduler end to end (queued to every result committed, fsync on).
// Compare the sub-benchmarks' ns/op; gpc bench collection prints the same
// as a table.
func BenchmarkCollection(b *testing.B) {
	practices, patients := 100, 10000
	if testing.Short() {
		practices, patients = 10, 2000
	}
	su, err := collbench.Prepare(collbench.Options{Dir: b.TempDir(), Practices: practices, Patients: patients})
	if err != nil {
		b.Fatal(err)
	}
	defer su.Close()
	b.Run("evaluate-only", func(b *testing.B) {
		batches, err := su.LoadAll()
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			d := su.EvaluateAll(batches)
			b.ReportMetric(float64(su.Patients())/d.Seconds(), "patients/s")
		}
	})
	b.Run("load-and-evaluate", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			d, err := su.LoadAndEvaluate()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(su.Patients())/d.Seconds(), "patients/s")
		}
	})
	b.Run("end-to-end", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r, err := su.EndToEnd()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(su.Patients())/r.Wall.Seconds(), "patients/s")
		}
	})
}
