package sshserver

import (
	"context"
	"testing"
	"time"

	"gpcollections/tui/internal/fixture"
	"gpcollections/tui/sshserver/sshbench"
)

// BenchmarkSignInToFirstFrame: one session from TCP connect to the first
// frame of the (placeholder) screen, server and client in this process.
// gpc bench ssh measures the same with many sessions and a baseline.
func BenchmarkSignInToFirstFrame(b *testing.B) {
	d := fixture.New(b)
	ts := start(b, d, nil)
	o := sshbench.Options{Addr: ts.addr, Signer: d.Signers["pat"], Sessions: 1, Timeout: 10 * time.Second}
	for b.Loop() {
		r := sshbench.Open(context.Background(), o)
		if r.Failed > 0 {
			b.Fatal(r.Err)
		}
		r.Close()
	}
}

// BenchmarkKeyToRedraw reports the time from a key press to the redraw
// (key_ms); each iteration also waits 20ms for the frame to settle.
func BenchmarkKeyToRedraw(b *testing.B) {
	d := fixture.New(b)
	ts := start(b, d, nil)
	o := sshbench.Options{Addr: ts.addr, Signer: d.Signers["pat"], Sessions: 1, Presses: 1, Timeout: 10 * time.Second}
	r := sshbench.Open(context.Background(), o)
	defer r.Close()
	for b.Loop() {
		r.Press(context.Background(), o)
	}
	if r.Failed > 0 {
		b.Fatal(r.Err)
	}
	b.ReportMetric(float64(sshbench.Percentile(r.Redraw, 50).Microseconds())/1000, "p50_key_ms")
	b.ReportMetric(float64(sshbench.Percentile(r.Redraw, 99).Microseconds())/1000, "p99_key_ms")
}
