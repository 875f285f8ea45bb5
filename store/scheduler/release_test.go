package scheduler

import (
	"fmt"
	"os"
	"testing"
	"time"

	"gpcollections/store/sources"
)

// TestMain fails the run if any attempt or check left a practice's cache
// file mapped: every loaded batch is released once evaluated.
func TestMain(m *testing.M) {
	code := m.Run()
	if n := sources.Mapped(); n != 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "%d source cache files left mapped after the tests\n", n)
		code = 1
	}
	os.Exit(code)
}

// waitUnmapped waits for the attempts that finished to give back their
// sources (an attempt releases its batch as it returns, which may be just
// after its result is committed).
func waitUnmapped(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); sources.Mapped() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d source cache files still mapped after the attempts finished", sources.Mapped())
		}
		time.Sleep(time.Millisecond)
	}
}
