package main

import (
	"fmt"
	"time"
)

// runClock is where a gpc process gets the time: the wall clock, or (with
// the clock setting) a clock that starts at a given instant when the process
// starts and then advances in real time. The demo uses the second so its
// deadlines, windows and countdowns mean the same on every run.
type runClock struct {
	start time.Time // the instant the clock shows when the process started
	base  time.Time // the real time the process started
}

// Now is the current time on this clock.
func (c *runClock) Now() time.Time {
	if c == nil || c.start.IsZero() {
		return time.Now()
	}
	return c.start.Add(time.Since(c.base))
}

// After waits real time: the clock advances at the real rate.
func (c *runClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// parseClock reads the clock setting: empty for the wall clock, otherwise
// an RFC 3339 instant or "YYYY-MM-DDTHH:MM" in England's time.
func parseClock(s string) (*runClock, error) {
	if s == "" {
		return &runClock{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		loc, lerr := time.LoadLocation("Europe/London")
		if lerr != nil {
			loc = time.UTC
		}
		t, err = time.ParseInLocation("2006-01-02T15:04", s, loc)
	}
	if err != nil {
		return nil, fmt.Errorf("want an instant like 2026-04-15T09:00 (England) or 2026-04-15T09:00:00+01:00")
	}
	return &runClock{start: t, base: time.Now()}, nil
}
