package scheduler

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/synth"
	"gpcollections/store"
	"gpcollections/store/ops"
)

var (
	ach2526 = domain.MustDate("2026-03-31")
	april1  = time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
)

func TestChunkedEvaluationEqualsOneEvaluation(t *testing.T) {
	rs, err := rulesets.Load("QOF2526")
	if err != nil {
		t.Fatal(err)
	}
	b, err := synth.Batch(synth.Options{Practice: "A81001", Patients: 9000, Seed: 7, AchDate: ach2526})
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	got, err := evaluate(context.Background(), rs, b, ach2526, func() int { return 2 }, func(done, total int) {
		if total != 9000 {
			t.Errorf("total %d", total)
		}
		steps = append(steps, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := rs.Evaluate(b, ach2526)
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	nonzero := 0
	for i, w := range want {
		if got[i] != (domain.FieldValue{Indicator: w.Indicator, Field: w.Field, Value: w.Value}) {
			t.Fatalf("value %d: %+v, want %+v", i, got[i], w)
		}
		if w.Value != 0 {
			nonzero++
		}
	}
	if nonzero < len(want)/3 {
		t.Fatalf("only %d of %d values are non-zero: the comparison proves little", nonzero, len(want))
	}
	if len(steps) < 2 || steps[len(steps)-1] != 9000 || !sort.IntsAreSorted(steps) {
		t.Fatalf("progress steps %v", steps)
	}
	// An empty practice still has every row, all zero.
	empty, err := evaluate(context.Background(), rs, &clinical.Batch{Practice: "A81002"}, ach2526, func() int { return 1 }, nil)
	if err != nil || len(empty) != len(want) {
		t.Fatalf("empty practice: %d values, %v", len(empty), err)
	}
	// A cancelled evaluation stops.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := evaluate(ctx, rs, b, ach2526, func() int { return 1 }, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// A whole service year on a manual clock: every collection of four services
// (monthly, monthly from September, quarterly, annual) is extracted exactly
// once, on the day its window opens, in window order.
func TestWholeServiceYearOnTheClock(t *testing.T) {
	f := newFixture(t, april1)
	services := []string{"CHILDIMM2526", "FLU2526", "LDHC2526", "QOF2526"}
	for _, id := range services {
		f.addService(id)
	}
	var practices []string
	for i := 0; i < 3; i++ {
		practices = append(practices, f.addPractice(i, 300, ach2526, false, services...))
	}
	total := 0
	for _, id := range services {
		g, err := ops.GenerateTimetable(f.s, f.admin, id)
		if err != nil {
			t.Fatal(err)
		}
		total += len(g.Added)
	}
	if total != 12+7+4+1 {
		t.Fatalf("%d collections generated", total)
	}
	_, ch := f.start(Config{})
	f.runToIdle(ch, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))

	colls, err := ops.Timetable(f.s, f.admin, "")
	if err != nil {
		t.Fatal(err)
	}
	type started struct {
		at    time.Time
		open  domain.Date
		label string
	}
	var order []started
	for _, c := range colls {
		if c.Status != domain.CollExtracted || c.Run != 1 {
			t.Errorf("%s: %s run %d, want extracted run 1 (%s)", c.Label(), c.Status, c.Run, c.Note)
			continue
		}
		first := time.Time{}
		for _, p := range practices {
			r, hist := f.result(c.ID, p)
			if r == nil || r.Run != 1 || len(hist) != 0 {
				t.Fatalf("%s %s: result %+v, history %d", c.Label(), p, r, len(hist))
			}
			if d := domain.DateFromTime(r.Started.UTC()); d != c.WindowStart {
				t.Errorf("%s %s: extracted on %s, window opens %s", c.Label(), p, d, c.WindowStart)
			}
			if j := f.job(c.ID, p); j.State != domain.JobSucceeded || j.Attempts != 1 || j.Total != 300 {
				t.Errorf("%s %s: job %+v", c.Label(), p, j)
			}
			if first.IsZero() || r.Started.Before(first) {
				first = r.Started
			}
		}
		order = append(order, started{first, c.WindowStart, c.Label()})
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].at.Before(order[j].at) })
	for i := 1; i < len(order); i++ {
		if order[i].open < order[i-1].open {
			t.Errorf("%s (window %s) was extracted after %s (window %s)", order[i-1].label, order[i-1].open, order[i].label, order[i].open)
		}
	}
}

// Two "run now" requests at once start exactly one run.
func TestTwoRunNowRequestsStartOneRun(t *testing.T) {
	f := newFixture(t, april1)
	f.addService("QOF2526")
	for i := 0; i < 3; i++ {
		f.addPractice(i, 50, ach2526, false, "QOF2526")
	}
	c := f.collection("QOF2526", ach2526)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	gate := make(chan struct{})
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			_, errs[i] = RunNow(f.s, f.admin, c.ID)
		}()
	}
	close(gate)
	wg.Wait()
	var te *domain.TransitionError
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.As(err, &te) && te.Event == domain.EvStart && te.From == domain.CollExtracting:
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d run-now requests succeeded: %v", ok, errs)
	}
	got := f.coll(c.ID)
	if got.Status != domain.CollExtracting || got.Run != 1 {
		t.Fatalf("collection %s run %d", got.Status, got.Run)
	}
	var jobs []*domain.Job
	var starts int
	f.view(func(tx *store.Tx) error {
		var err error
		if jobs, err = tx.Jobs(c.ID); err != nil {
			return err
		}
		es, err := tx.AuditEntries(store.AuditFilter{Action: "collection.start"})
		starts = len(es)
		return err
	})
	if len(jobs) != 3 || starts != 1 {
		t.Fatalf("%d jobs, %d start audit entries", len(jobs), starts)
	}
	for _, j := range jobs {
		if j.State != domain.JobQueued || j.Run != 1 || j.Attempts != 0 {
			t.Fatalf("job %+v", j)
		}
	}
}

func TestRunNowIsRefusedToOthersAndWhenPaused(t *testing.T) {
	f := newFixture(t, april1)
	f.addService("QOF2526")
	c := f.collection("QOF2526", ach2526)
	practiceUser := &domain.User{Name: "ann"}
	if err := practiceUser.AddGrant(domain.Grant{Org: "QWE", OrgKind: domain.OrgCommissioner, Role: domain.RoleView}); err != nil {
		t.Fatal(err)
	}
	var denied *domain.Denied
	if _, err := RunNow(f.s, practiceUser, c.ID); !errors.As(err, &denied) {
		t.Fatalf("err = %v", err)
	}
	if _, err := ops.SetPaused(f.s, f.admin, c.ID, true, "supplier outage"); err != nil {
		t.Fatal(err)
	}
	if _, err := RunNow(f.s, f.admin, c.ID); err == nil || !strings.Contains(err.Error(), "is paused; resume it first") {
		t.Fatalf("err = %v", err)
	}
}

// A collection whose service has no participants completes at once with a
// note saying why.
func TestNoParticipantsCompletesWithANote(t *testing.T) {
	f := newFixture(t, april1)
	f.addService("LDHC2526")
	c := f.collection("LDHC2526", domain.MustDate("2025-06-30"))
	_, ch := f.start(Config{})
	f.clock.Set(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))
	waitEvent(t, ch, func(e Event) bool {
		return e.Kind == EvCollectionState && e.Collection == c.ID && e.State == string(domain.CollExtracted)
	})
	got := f.coll(c.ID)
	if got.Run != 1 || !strings.Contains(got.Note, "no practice takes part in LDHC2526") {
		t.Fatalf("collection %+v", got)
	}
}

// A window that closed while no scheduler ran is not extracted behind the
// administrators' backs: it is noted, once, with what to do.
func TestMissedWindowIsNotedNotRun(t *testing.T) {
	f := newFixture(t, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	f.addService("CHILDIMM2526")
	f.addPractice(0, 20, ach2526, false, "CHILDIMM2526")
	c := f.collection("CHILDIMM2526", domain.MustDate("2025-04-30")) // window 2025-05-01..09
	_, ch := f.start(Config{})
	e := waitEvent(t, ch, func(e Event) bool { return e.Kind == EvFault && e.Collection == c.ID })
	if !strings.Contains(e.Message, "closed without an extraction") || !strings.Contains(e.Message, "gpc collection run") {
		t.Fatalf("fault: %s", e.Message)
	}
	waitIdle(t, ch, f.clock.Now())
	got := f.coll(c.ID)
	if got.Status != domain.CollScheduled || !strings.HasPrefix(got.Note, missedPrefix) {
		t.Fatalf("collection %+v", got)
	}
	st, err := ReadStatus(f.s)
	if err != nil || len(st.Missed) != 1 || st.Missed[0].ID != c.ID {
		t.Fatalf("status %+v %v", st, err)
	}
}

func TestEventsNeverBlockOnASlowSubscriber(t *testing.T) {
	var h hub
	slow, cancelSlow := h.subscribe()
	defer cancelSlow()
	fast, cancelFast := h.subscribe()
	for i := 0; i < subBuffer+10; i++ {
		h.publish(Event{Kind: EvProgress, Done: i})
		<-fast
	}
	if len(slow) != subBuffer {
		t.Fatalf("slow subscriber holds %d events", len(slow))
	}
	for len(slow) > 0 {
		<-slow
	}
	h.publish(Event{Kind: EvJobState})
	if e := <-slow; e.Missed != 10 || e.Kind != EvJobState {
		t.Fatalf("after catching up: %+v", e)
	}
	cancelFast()
	cancelFast() // twice is harmless
	<-fast       // the event published above, then the close
	if _, open := <-fast; open {
		t.Fatal("cancelled subscription still open")
	}
	h.publish(Event{}) // publishing after a cancel is safe
}

func TestManualClockFiresInOrderAndNeverGoesBack(t *testing.T) {
	c := NewManualClock(april1)
	a := c.After(2 * time.Hour)
	b := c.After(time.Hour)
	now := c.After(0)
	if got := <-now; !got.Equal(april1) {
		t.Fatalf("After(0) = %s", got)
	}
	c.Advance(90 * time.Minute)
	select {
	case <-b:
	default:
		t.Fatal("1h timer did not fire at 1h30")
	}
	select {
	case <-a:
		t.Fatal("2h timer fired early")
	default:
	}
	c.Set(april1) // backwards: ignored
	if !c.Now().Equal(april1.Add(90 * time.Minute)) {
		t.Fatalf("clock went back to %s", c.Now())
	}
	c.Advance(time.Hour)
	<-a
}

func TestStatusFromTheStore(t *testing.T) {
	f := newFixture(t, april1)
	f.addService("CHILDIMM2526")
	g, err := ops.GenerateTimetable(f.s, f.admin, "CHILDIMM2526")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadStatus(f.s)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Upcoming) != upcomingShown || st.Upcoming[0].ID != g.Added[0].ID || len(st.Active) != 0 || st.Live {
		t.Fatalf("status %+v", st)
	}
	if !reflect.DeepEqual(st.Upcoming[0].WindowStart, g.Added[0].WindowStart) {
		t.Fatal("window")
	}
}
