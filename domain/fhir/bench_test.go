package fhir

import (
	"sync"
	"testing"
)

var (
	benchOnce   sync.Once
	benchData   memSource
	benchEvents int
)

// benchSrc is the 10,000-patient fixture, made once per test binary.
func benchSrc(b *testing.B) (memSource, int) {
	benchOnce.Do(func() {
		pats := fixturePatients(10_000, 50, 42)
		for _, p := range pats {
			benchEvents += len(p.Events)
		}
		benchData = writeSource(b, pats)
	})
	return benchData, benchEvents
}

// BenchmarkRead imports a realistic 10,000-patient practice (about 50 coded
// events each, mixed resource types) from memory.
func BenchmarkRead(b *testing.B) {
	src, events := benchSrc(b)
	b.SetBytes(src.size())
	b.ReportAllocs()
	for b.Loop() {
		bt, _, err := Read(src.open, Options{Practice: "A81001"})
		if err != nil {
			b.Fatal(err)
		}
		if len(bt.Events) != events {
			b.Fatalf("%d events, want %d", len(bt.Events), events)
		}
	}
	b.ReportMetric(float64(events), "events")
}
