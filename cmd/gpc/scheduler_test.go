package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/synth"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/store/sources"
)

// buildGPC builds the gpc binary into dir, so a test can kill it for real.
func buildGPC(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "gpc")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// schedData makes a data directory with QOF2526, n practices taking part,
// each with a generated source already in the compact cache, and the
// year-end collection, whose id it returns.
func schedData(t *testing.T, data string, n, patients int) ([]string, uint64) {
	t.Helper()
	s, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin, err := ops.Bootstrap(s, "admin", "Admin", domain.PublicKey{})
	if err != nil {
		t.Fatal(err)
	}
	def, err := rulesets.Service("QOF2526")
	if err != nil {
		t.Fatal(err)
	}
	practices := make([]string, n)
	for i := range practices {
		practices[i] = fmt.Sprintf("B8%04d", i)
	}
	err = s.Update(admin, func(tx *store.Tx) error {
		if err := tx.PutService(def, 0); err != nil {
			return err
		}
		if err := tx.PutOrg(&domain.Org{Code: "QWE", Kind: domain.OrgCommissioner, Name: "ICB"}); err != nil {
			return err
		}
		for _, p := range practices {
			if err := tx.PutOrg(&domain.Org{Code: p, Kind: domain.OrgPractice, Name: "Practice " + p, Parent: "QWE"}); err != nil {
				return err
			}
			if err := tx.PutParticipation(&domain.Participation{Service: def.ID, Practice: p, State: domain.PartAutoAccepted, From: domain.NoDate, To: domain.NoDate}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ach := domain.MustDate("2026-03-31")
	cache := filepath.Join(data, "sources-cache")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, p := range practices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			src := filepath.Join(filepath.Dir(data), "src", p)
			b, err := synth.Batch(synth.Options{Practice: p, Patients: patients, Seed: int64(i), AchDate: ach, FirstIndex: i * 1_000_000})
			if err == nil {
				err = os.MkdirAll(src, 0o755)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(src, "Patient.ndjson"), nil, 0o644)
			}
			if err == nil {
				_, err = sources.Save(cache, src, p, b)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range practices {
		if _, err := ops.LinkSource(s, admin, p, filepath.Join(filepath.Dir(data), "src", p)); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := ops.AddCollection(s, admin, def.ID, ach, ops.NoDates(), "")
	if err != nil {
		t.Fatal(err)
	}
	return practices, c.ID
}

type jobCounts map[domain.JobState]int

func readRun(t *testing.T, data string, id uint64) (*domain.Collection, []*domain.Job, map[string][]*domain.ExtractResult) {
	t.Helper()
	s, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var c *domain.Collection
	var jobs []*domain.Job
	results := map[string][]*domain.ExtractResult{}
	err = s.View(func(tx *store.Tx) error {
		var err error
		if c, err = tx.Collection(id); err != nil {
			return err
		}
		if jobs, err = tx.Jobs(id); err != nil {
			return err
		}
		rs, err := tx.Results(id)
		if err != nil {
			return err
		}
		for _, r := range rs {
			hist, err := tx.ResultHistory(id, r.Practice)
			if err != nil {
				return err
			}
			results[r.Practice] = append(hist, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, jobs, results
}

// The scheduler process is killed with SIGKILL in the middle of a
// collection, then started again: every practice ends with exactly one
// result for the run, no job is left running, attempts stay sane, and
// nothing half-written was ever in the store.
func TestSchedulerSurvivesKill9MidCollection(t *testing.T) {
	dir := t.TempDir()
	bin := buildGPC(t, dir)
	data := filepath.Join(dir, "data")
	practices, id := schedData(t, data, 24, 1500)
	if out, err := exec.Command(bin, "collection", "run", fmt.Sprint(id), "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("gpc collection run: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first := exec.CommandContext(ctx, bin, "scheduler", "run", "--data", data, "--workers", "1")
	stdout, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	first.Stderr = os.Stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it as the next practice starts after one has succeeded: one
	// result is committed and one attempt is (almost always) in flight.
	sc := bufio.NewScanner(stdout)
	var seen []string
	succeeded := false
	for sc.Scan() {
		seen = append(seen, sc.Text())
		succeeded = succeeded || strings.Contains(sc.Text(), " succeeded attempt 1")
		if succeeded && strings.Contains(sc.Text(), " running attempt 1") {
			if err := first.Process.Kill(); err != nil { // SIGKILL: no clean-up runs
				t.Fatal(err)
			}
			break
		}
	}
	_ = first.Wait()
	if !succeeded {
		t.Fatalf("the scheduler never reported a success before the kill:\n%s", strings.Join(seen, "\n"))
	}

	// What the killed process left: part of the run done, no result
	// without its job's success, the file consistent.
	c, jobs, results := readRun(t, data, id)
	counts := jobCounts{}
	running := ""
	for _, j := range jobs {
		counts[j.State]++
		if j.State == domain.JobRunning {
			running = j.Practice
		}
		if (j.State == domain.JobSucceeded) != (len(results[j.Practice]) == 1) {
			t.Fatalf("%s: job %s with %d results: a half-written practice", j.Practice, j.State, len(results[j.Practice]))
		}
	}
	t.Logf("at the kill: jobs %v, running %q", counts, running)
	if c.Status != domain.CollExtracting || counts[domain.JobSucceeded] == 0 || counts[domain.JobSucceeded] == len(practices) {
		t.Fatalf("the kill did not land mid-collection: %s, jobs %v", c.Status, counts)
	}
	if rep, err := store.Check(data, false); err != nil || !rep.OK() {
		t.Fatalf("data file after SIGKILL: %v %v", err, rep.Problems)
	}

	// Restart and let it finish.
	out, err := exec.CommandContext(ctx, bin, "scheduler", "run", "--data", data, "--until-done").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "done: nothing running") {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	c, jobs, results = readRun(t, data, id)
	if c.Status != domain.CollExtracted || c.Run != 1 || !strings.Contains(c.Note, "extracted 24 of 24 practices") {
		t.Fatalf("collection after restart: %s run %d: %s", c.Status, c.Run, c.Note)
	}
	if len(jobs) != len(practices) {
		t.Fatalf("%d jobs for %d practices", len(jobs), len(practices))
	}
	for _, j := range jobs {
		if j.State != domain.JobSucceeded || j.Attempts != 1 || j.Run != 1 || j.Total != 1500 || j.FinishedAt.Before(j.StartedAt) {
			t.Errorf("%s: job %+v", j.Practice, j)
		}
		if rs := results[j.Practice]; len(rs) != 1 || rs[0].Run != 1 {
			t.Errorf("%s: %d results", j.Practice, len(rs))
		}
		if j.Practice == running && !strings.Contains(j.Note, "attempt 1 interrupted") {
			t.Errorf("%s was running at the kill; its note: %q", j.Practice, j.Note)
		}
	}
	if rep, err := store.Check(data, false); err != nil || !rep.OK() {
		t.Fatalf("data file after restart: %v %v", err, rep.Problems)
	}
}

func TestTimetableCollectionAndSchedulerCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	practices, id := schedData(t, data, 2, 200)
	sid := fmt.Sprint(id)
	if out := mustGPC(t, "timetable", "generate", "--service", "QOF2526", "--data", data); !strings.Contains(out, "added 0 collections, 1 already on the timetable") {
		t.Fatalf("generate: %s", out)
	}
	out := mustGPC(t, "timetable", "reschedule", sid, "--opens", "2026-04-03", "--closes", "2026-04-14", "--reason", "Easter", "--data", data)
	if !strings.Contains(out, "window opens 2026-04-03 moved to 2026-04-07 (Good Friday, Saturday, Sunday, Easter Monday)") {
		t.Fatalf("reschedule: %s", out)
	}
	if _, err := gpc(t, "timetable", "reschedule", sid, "--opens", "2026-13-01", "--data", data); err == nil || !strings.Contains(err.Error(), "--opens: date \"2026-13-01\"") {
		t.Fatalf("bad date: %v", err)
	}
	if out := mustGPC(t, "timetable", "list", "--data", data); !strings.Contains(out, "2026-04-07..2026-04-14") {
		t.Fatalf("list: %s", out)
	}
	mustGPC(t, "collection", "run", sid, "--data", data)
	if _, err := gpc(t, "collection", "run", sid, "--data", data); err == nil || !strings.Contains(err.Error(), "the extraction is already running") {
		t.Fatalf("second run: %v", err)
	}
	if out := mustGPC(t, "scheduler", "run", "--until-done", "--data", data); !strings.Contains(out, "done: nothing running") {
		t.Fatalf("scheduler run: %s", out)
	}
	var cs struct {
		State     string `json:"state"`
		Succeeded int    `json:"succeeded"`
	}
	if err := json.Unmarshal([]byte(mustGPC(t, "collection", "show", sid, "--json", "--data", data)), &cs); err != nil || cs.State != "extracted" || cs.Succeeded != 2 {
		t.Fatalf("show: %+v %v", cs, err)
	}
	if out := mustGPC(t, "collection", "check", sid, "--practice", practices[0], "--data", data); !strings.Contains(out, "against extract run 1: 200 patients now") || !strings.Contains(out, " 0 differ") {
		t.Fatalf("check: %s", out)
	}
	if _, err := gpc(t, "collection", "retry", sid, "--practice", practices[0], "--data", data); err == nil || !strings.Contains(err.Error(), "only a failed or skipped one") {
		t.Fatalf("retry of a success: %v", err)
	}
	if out := mustGPC(t, "source", "list", "--data", data); !strings.Contains(out, practices[1]) {
		t.Fatalf("source list: %s", out)
	}
	if _, err := gpc(t, "scheduler", "status", "--json", "--data", data); err != nil {
		t.Fatal(err)
	}
	// While another process (here: an open store) holds the data file, the
	// commands say so instead of hanging.
	s, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := gpc(t, "timetable", "list", "--data", data); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("with the data file held: %v", err)
	}
}
