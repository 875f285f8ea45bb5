package scheduler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/store"
	"gpcollections/store/ops"
)

func practiceUser(t *testing.T, f *fixture, name, practice string) *domain.User {
	t.Helper()
	b, err := domain.BundleByName("practice-staff")
	if err != nil {
		t.Fatal(err)
	}
	u := &domain.User{Name: name, FullName: name}
	for _, r := range b.Roles {
		if err := u.AddGrant(domain.Grant{Org: practice, OrgKind: domain.OrgPractice, Role: r}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ops.AddUser(f.s, f.admin, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// One practice's source is missing, another's is corrupt: the others
// succeed, the two are retried with backoff, then fail with advice, and
// manual entry opens for them while the collection is still extracting.
func TestMissingAndCorruptSourcesRetryThenFailAndOpenManualEntry(t *testing.T) {
	start := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	f.addService("QOF2526")
	var ps []string
	for i := 0; i < 5; i++ {
		ps = append(ps, f.addPractice(i, 150, ach2526, true, "QOF2526"))
	}
	missing, corrupt, slow := ps[1], ps[2], ps[4]
	if err := os.RemoveAll(filepath.Join(f.dir, "src", missing)); err != nil {
		t.Fatal(err)
	}
	obs, err := os.OpenFile(filepath.Join(f.dir, "src", corrupt, "Observation.ndjson"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.WriteString("{\"resourceType\":\"Observation\",\"id\":\"broken\n"); err != nil {
		t.Fatal(err)
	}
	obs.Close()

	// The slow practice's load waits for the test, so the collection is
	// still extracting when the two others fail.
	release := make(chan struct{})
	deps := DefaultDeps(f.cache)
	realLoad := deps.Load
	deps.Load = func(dir, practice string, strict bool) (*clinical.Batch, SourceInfo, error) {
		if practice == slow {
			<-release
		}
		return realLoad(dir, practice, strict)
	}
	c := f.collection("QOF2526", ach2526)
	_, ch := f.start(Config{Strict: true, MaxAttempts: 3, Backoff: time.Minute, Deps: deps})

	failedAt := map[string]time.Time{}
	for attempt := 1; attempt <= 3; attempt++ {
		var latest time.Time
		for _, p := range []string{missing, corrupt} {
			state := "retry"
			if attempt == 3 {
				state = string(domain.JobFailed)
			}
			e := waitEvent(t, ch, func(e Event) bool {
				return e.Kind == EvJobState && e.Practice == p && e.Attempt == attempt && e.State == state
			})
			if attempt < 3 {
				// Backoff doubles: 1 minute after the first failure, 2 after the second.
				if want := f.clock.Now().Add(time.Minute << (attempt - 1)); !e.Next.Equal(want) {
					t.Errorf("%s attempt %d: retry at %s, want %s", p, attempt, e.Next, want)
				}
				if e.Next.After(latest) {
					latest = e.Next
				}
			} else {
				failedAt[p] = e.At
			}
		}
		if attempt < 3 {
			f.clock.Set(latest)
		}
	}

	for p, want := range map[string]string{
		missing: "the source directory or its Patient.ndjson is missing",
		corrupt: "unreadable NDJSON lines",
	} {
		j := f.job(c.ID, p)
		if j.State != domain.JobFailed || j.Attempts != 3 || !strings.Contains(j.Error, want) ||
			!strings.Contains(j.Error, "gpc collection retry") || !strings.Contains(j.Error, "Manual entry is open") {
			t.Errorf("%s: job %+v", p, j)
		}
		if r, _ := f.result(c.ID, p); r != nil {
			t.Errorf("%s: a failed practice has a result", p)
		}
	}
	if got := f.coll(c.ID); got.Status != domain.CollExtracting {
		t.Fatalf("collection %s while a practice is still running", got.Status)
	}
	// Manual entry: open for a failed practice, not yet for one that
	// succeeded while the collection is still extracting.
	form, err := ops.ManualFormFor(f.s, practiceUser(t, f, "mia", missing), c.ID, missing)
	if err != nil {
		t.Fatal(err)
	}
	if form.Closed != "" {
		t.Errorf("manual entry for the failed practice: %s", form.Closed)
	}
	form, err = ops.ManualFormFor(f.s, practiceUser(t, f, "ola", ps[0]), c.ID, ps[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(form.Closed, "opens after the automatic extract completes") {
		t.Errorf("manual entry for a practice that was extracted: %q", form.Closed)
	}

	close(release)
	waitEvent(t, ch, func(e Event) bool {
		return e.Kind == EvCollectionState && e.Collection == c.ID && e.State == string(domain.CollExtracted)
	})
	got := f.coll(c.ID)
	if !strings.Contains(got.Note, "extracted 3 of 5 practices; 2 failed, manual entry open: "+missing+", "+corrupt) {
		t.Fatalf("note: %s", got.Note)
	}
	for _, p := range []string{ps[0], ps[3], slow} {
		if j := f.job(c.ID, p); j.State != domain.JobSucceeded || j.Attempts != 1 {
			t.Errorf("%s: job %+v", p, j)
		}
	}
	st, err := ReadStatus(f.s)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Active) != 1 || st.Active[0].Failed != 2 || st.Active[0].Succeeded != 3 {
		t.Fatalf("admins see: %+v", st.Active)
	}
	var failures int
	f.view(func(tx *store.Tx) error {
		es, err := tx.AuditEntries(store.AuditFilter{Action: "extract.job"})
		for _, e := range es {
			if strings.Contains(e.After, "failed") {
				failures++
			}
		}
		return err
	})
	if failures != 2 {
		t.Fatalf("%d failures audited", failures)
	}
}

// By default a corrupt line is skipped and counted, and the practice is
// extracted with the count noted on its job.
func TestCorruptLinesAreSkippedAndCountedByDefault(t *testing.T) {
	f := newFixture(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	f.addService("QOF2526")
	p := f.addPractice(0, 100, ach2526, true, "QOF2526")
	obs, err := os.OpenFile(filepath.Join(f.dir, "src", p, "Observation.ndjson"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	obs.WriteString("not json at all\n{\"resourceType\":\"Observation\"}\n")
	obs.Close()
	c := f.collection("QOF2526", ach2526)
	_, ch := f.start(Config{})
	f.runToIdle(ch, f.clock.Now().Add(time.Hour))
	j := f.job(c.ID, p)
	if j.State != domain.JobSucceeded || !strings.Contains(j.Note, "2 unreadable NDJSON lines skipped") || !strings.Contains(j.Note, "Observation.ndjson:") {
		t.Fatalf("job %+v", j)
	}
}

// A commit that fails (a full disk) leaves nothing of the practice behind;
// the attempt is retried and the practice ends with one result.
func TestFailedCommitLeavesNothingAndIsRetried(t *testing.T) {
	f := newFixture(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	f.addService("QOF2526")
	a := f.addPractice(0, 80, ach2526, false, "QOF2526")
	b := f.addPractice(1, 80, ach2526, false, "QOF2526")
	c := f.collection("QOF2526", ach2526)
	// The disk is full for a's first attempt, however often its commit is
	// tried (a commit shared with others is retried on its own).
	_, ch := f.start(Config{BeforeCommit: func(tx *store.Tx, coll uint64, practice string) error {
		j, err := tx.Job(coll, practice)
		if err != nil {
			return err
		}
		if practice == a && j.Attempts == 1 {
			return errors.New("write gpc.db: no space left on device")
		}
		return nil
	}})
	e := waitEvent(t, ch, func(e Event) bool { return e.Kind == EvJobState && e.Practice == a && e.State == "retry" })
	if !strings.Contains(e.Message, "no space left on device") {
		t.Fatalf("retry event: %s", e.Message)
	}
	idle := waitIdle(t, ch, f.clock.Now())
	if r, _ := f.result(c.ID, a); r != nil {
		t.Fatal("a failed commit left a result")
	}
	var decl error
	var resultAudits int
	f.view(func(tx *store.Tx) error {
		_, decl = tx.Declaration(c.ID, a)
		es, err := tx.AuditEntries(store.AuditFilter{Action: "extract.result"})
		resultAudits = len(es)
		return err
	})
	if !errors.Is(decl, store.ErrNotFound) || resultAudits != 1 {
		t.Fatalf("after the failed commit: declaration %v, %d result audit entries (want only %s's)", decl, resultAudits, b)
	}
	f.advance(ch, idle, f.clock.Now().Add(time.Hour))
	r, hist := f.result(c.ID, a)
	if r == nil || r.Run != 1 || len(hist) != 0 {
		t.Fatalf("result %+v history %d", r, len(hist))
	}
	if j := f.job(c.ID, a); j.State != domain.JobSucceeded || j.Attempts != 2 {
		t.Fatalf("job %+v", j)
	}
	if got := f.coll(c.ID); got.Status != domain.CollExtracted {
		t.Fatalf("collection %s", got.Status)
	}
}

// Jobs a killed process left running are resumed: the interrupted attempt is
// not counted and the practice ends with exactly one result.
func TestJobsLeftRunningAreResumed(t *testing.T) {
	f := newFixture(t, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	f.addService("QOF2526")
	a := f.addPractice(0, 60, ach2526, false, "QOF2526")
	b := f.addPractice(1, 60, ach2526, false, "QOF2526")
	c, err := RunNow(f.s, f.admin, f.collection("QOF2526", ach2526).ID)
	if err != nil {
		t.Fatal(err)
	}
	// What a process killed mid-attempt leaves: the job claimed, running.
	f.update(func(tx *store.Tx) error {
		j, err := tx.Job(c.ID, a)
		if err != nil {
			return err
		}
		j.State, j.Attempts, j.StartedAt = domain.JobRunning, 1, tx.Now()
		return tx.PutJob(j)
	})
	_, ch := f.start(Config{})
	f.runToIdle(ch, f.clock.Now().Add(time.Hour))
	j := f.job(c.ID, a)
	if j.State != domain.JobSucceeded || j.Attempts != 1 || !strings.Contains(j.Note, "attempt 1 interrupted") {
		t.Fatalf("job %+v", j)
	}
	for _, p := range []string{a, b} {
		if r, hist := f.result(c.ID, p); r == nil || r.Run != 1 || len(hist) != 0 {
			t.Fatalf("%s: result %+v history %d", p, r, len(hist))
		}
	}
	var resumed bool
	f.view(func(tx *store.Tx) error {
		es, err := tx.AuditEntries(store.AuditFilter{Action: "extract.job"})
		for _, e := range es {
			resumed = resumed || (strings.Contains(e.Target, a) && strings.Contains(e.After, "interrupted"))
		}
		return err
	})
	if !resumed {
		t.Fatal("the interruption is not on the record")
	}
}

// A source that changes while it is read fails that attempt (the import
// notices and refuses a mixture); the retry extracts the source as it now
// is, and the result records that source's fingerprint.
func TestSourceChangingDuringExtractionIsRetried(t *testing.T) {
	f := newFixture(t, beforeYearEnd)
	f.addService("QOF2526")
	p := f.addPractice(0, 120, ach2526, true, "QOF2526")
	src := filepath.Join(f.dir, "src", p)
	deps := DefaultDeps(f.cache)
	realLoad := deps.Load
	changed := false
	deps.Load = func(dir, practice string, strict bool) (*clinical.Batch, SourceInfo, error) {
		if !changed {
			// The clinical system writes more while gpc reads: what
			// sources.Load reports when a file changes under it.
			changed = true
			f.writeSource(src, p, 150, 5, ach2526, true)
			return nil, SourceInfo{}, errors.New("source " + dir + " changed while it was being imported: import again")
		}
		return realLoad(dir, practice, strict)
	}
	c := f.collection("QOF2526", ach2526)
	_, ch := f.start(Config{Deps: deps})
	if _, err := RunNow(f.s, f.admin, c.ID); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, ch, func(e Event) bool { return e.Kind == EvJobState && e.State == "retry" })
	if !strings.Contains(e.Message, "changed while it was being imported") {
		t.Fatalf("retry: %s", e.Message)
	}
	f.advance(ch, waitIdle(t, ch, f.clock.Now()), f.clock.Now().Add(time.Hour))
	r, _ := f.result(c.ID, p)
	b, info, err := realLoad(src, p, false)
	if err != nil {
		t.Fatal(err)
	}
	b.Release()
	if r == nil || r.SourceHash != info.Fingerprint || f.job(c.ID, p).Total != 150 || f.job(c.ID, p).Attempts != 2 {
		t.Fatalf("result %+v, job %+v", r, f.job(c.ID, p))
	}
}

func TestAdviceSaysWhatToDo(t *testing.T) {
	c := &domain.Collection{ID: 7}
	cases := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("loading source /x: %w", os.ErrNotExist), "the source directory or its Patient.ndjson is missing"},
		{fmt.Errorf("loading source /x: %w", os.ErrPermission), "fix the directory's permissions"},
		{errors.New("source /x changed while it was being imported: import again"), "the source kept changing"},
		{errors.New("storing the result: write: no space left on device"), "check the data disk has free space"},
		{fmt.Errorf("%w to practice A81001: link it", errNoSource), "no source is linked to practice A81001: link it"},
	}
	for _, tc := range cases {
		got := advice(c, "A81001", 3, tc.err)
		if !strings.Contains(got, tc.want) || !strings.HasPrefix(got, "failed after 3 attempts: ") ||
			!strings.HasSuffix(got, "then retry it: gpc collection retry 7 --practice A81001. Manual entry is open for A81001 meanwhile.") {
			t.Errorf("%v: %s", tc.err, got)
		}
	}
}
