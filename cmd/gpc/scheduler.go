package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/store/scheduler"
	"gpcollections/store/scheduler/collbench"
)

func init() { register(schedulerCmd) }

func schedulerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "The extraction scheduler: status, or run it in the foreground",
		Long: `The extraction scheduler opens each collection's window on time and extracts
every participating practice. It normally runs inside gpc serve; gpc scheduler
run runs it alone in the foreground (no SSH).` + inUseNote,
	}
	cmd.AddCommand(schedStatusCmd(), schedRunCmd())
	return cmd
}

func schedStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "What is extracting, what failed, what was missed and what comes next",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				st, err := scheduler.ViewStatus(ss.store, ss.actor)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), st)
				}
				writeStatus(cmd.OutOrStdout(), st)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeStatus(out io.Writer, st *scheduler.Status) {
	if len(st.Active) == 0 {
		fmt.Fprintln(out, "nothing extracting")
	}
	for i := range st.Active {
		writeCollectionStatus(out, &st.Active[i], st.Active[i].Failed > 0)
	}
	for _, m := range st.Missed {
		fmt.Fprintf(out, "MISSED collection %d %s: %s\n", m.ID, m.Label, m.Note)
	}
	if len(st.Upcoming) > 0 {
		fmt.Fprintln(out, "next windows:")
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, u := range st.Upcoming {
			fmt.Fprintf(w, "  %d\t%s\topens %s\tcloses %s\n", u.ID, u.Label, u.WindowStart, u.WindowEnd)
		}
		w.Flush()
	}
	for _, f := range st.Faults {
		fmt.Fprintln(out, "fault:", f)
	}
}

func schedRunCmd() *cobra.Command {
	var untilDone, progress bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the scheduler in the foreground, printing what it does, until interrupted",
		Long: `Runs the extraction scheduler without the SSH server, printing one line per
event. Interrupt (Ctrl-C, SIGTERM) stops it cleanly: running attempts are put
back in the queue and resume at the next start. A kill -9 is safe too: jobs
left running are resumed at the next start, and no half-written result is ever
visible.

--until-done exits once nothing is running and no practice is waiting for a
retry (paused collections aside): run what is due, then stop.` + inUseNote,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				// Running the scheduler is controlling extraction.
				if err := domain.Authorize(ss.actor, domain.ActControlExtraction, domain.TargetNational()); err != nil {
					return err
				}
				cfg := schedulerConfig(ss.cfg)
				sched := scheduler.New(ss.store, cfg)
				events, unsubscribe := sched.Subscribe()
				defer unsubscribe()
				ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				if err := sched.Start(); err != nil {
					return err
				}
				defer sched.Stop()
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "%s scheduler started on %s: %d workers, %d attempts per practice, first retry after %s\n",
					time.Now().UTC().Format(time.RFC3339), ss.store.Path(), cfg.Workers, cfg.MaxAttempts, cfg.Backoff)
				return followEvents(ctx, out, sched, events, untilDone, progress)
			})
		},
	}
	cmd.Flags().BoolVar(&untilDone, "until-done", false, "exit once nothing is running or waiting for a retry")
	cmd.Flags().BoolVar(&progress, "progress", false, "print progress events too")
	addConfigFlags(cmd, "workers", "retries", "retry_backoff", "sources_cache", "strict", "clock")
	return cmd
}

// followEvents prints events until ctx ends or, with untilDone, the work is
// done.
func followEvents(ctx context.Context, out io.Writer, sched *scheduler.Scheduler, events <-chan scheduler.Event, untilDone, progress bool) error {
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(out, "%s stopping\n", time.Now().UTC().Format(time.RFC3339))
			return nil
		case e, ok := <-events:
			if !ok {
				return nil
			}
			if e.Kind == scheduler.EvProgress && !progress {
				continue
			}
			if e.Kind != scheduler.EvIdle {
				fmt.Fprintln(out, e)
				continue
			}
			if !untilDone {
				fmt.Fprintln(out, e)
				continue
			}
			st, err := sched.Status()
			if err != nil {
				return err
			}
			waiting := 0
			for _, c := range st.Active {
				if !c.Paused {
					waiting += c.Queued + c.Running
				}
			}
			if waiting == 0 {
				fmt.Fprintf(out, "%s done: nothing running or waiting for a retry\n", time.Now().UTC().Format(time.RFC3339))
				return nil
			}
		}
	}
}

func init() { benchChildren = append(benchChildren, benchCollectionCmd) }

func benchCollectionCmd() *cobra.Command {
	var practices, patients, workers, runs int
	var service, date, dir string
	var noSync bool
	cmd := &cobra.Command{
		Use:   "collection",
		Short: "A whole collection through the scheduler and store, against the pure evaluator on the same batches",
		Long: `Generates practices straight into the compact source cache (not timed), then
times, on the same batches: the pure evaluator (batches in memory, practices in
turn, all cores), reading the compact sources and evaluating them (no
scheduler, no store), and the scheduler end to end (from the collection's jobs
queued to every practice's result, recalculation and job committed). Each is
the best of --runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ach, err := domain.ParseDate(date)
			if err != nil {
				return fmt.Errorf("--date: %w", err)
			}
			if practices < 1 || patients < 1 || runs < 1 {
				return fmt.Errorf("--practices, --patients and --runs must be at least 1")
			}
			work, err := os.MkdirTemp(dir, "gpc-bench-collection-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(work)
			out := cmd.OutOrStdout()
			su, err := collbench.Prepare(collbench.Options{Dir: work, Practices: practices, Patients: patients, Service: service,
				AchDate: ach, Workers: workers, NoSync: noSync,
				Log: func(f string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), f+"\n", a...) }})
			if err != nil {
				return err
			}
			defer su.Close()
			best := func(f func() (time.Duration, error)) (time.Duration, error) {
				var b time.Duration
				for i := 0; i < runs; i++ {
					d, err := f()
					if err != nil {
						return 0, err
					}
					if i == 0 || d < b {
						b = d
					}
				}
				return b, nil
			}
			batches, err := su.LoadAll()
			if err != nil {
				return err
			}
			eval, _ := best(func() (time.Duration, error) { return su.EvaluateAll(batches), nil })
			batches = nil
			loadEval, err := best(su.LoadAndEvaluate)
			if err != nil {
				return err
			}
			e2e, err := best(func() (time.Duration, error) { r, err := su.EndToEnd(); return r.Wall, err })
			if err != nil {
				return err
			}
			if workers < 1 {
				workers = runtime.NumCPU()
			}
			sync := "fsync on every commit"
			if noSync {
				sync = "no fsync"
			}
			fmt.Fprintf(out, "gpc bench collection: %d practices x %d patients (%d), %s %s, %d cores, %d workers, %s, best of %d\n",
				practices, patients, su.Patients(), service, ach, runtime.NumCPU(), workers, sync, runs)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "stage\twall\tpatients/s\tvs evaluate\tvs read+evaluate\t")
			for _, r := range []struct {
				name string
				d    time.Duration
			}{{"evaluate (in memory)", eval}, {"read compact + evaluate", loadEval}, {"scheduler end to end", e2e}} {
				fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.2fx\t%.2fx\t\n", r.name, r.d.Round(time.Millisecond),
					float64(su.Patients())/r.d.Seconds(), r.d.Seconds()/eval.Seconds(), r.d.Seconds()/loadEval.Seconds())
			}
			tw.Flush()
			fmt.Fprintln(out, "end to end = queued to every result, recalculation and job committed; it reads each practice's compact")
			fmt.Fprintln(out, "source like the middle row, so the scheduling and storage cost is the end-to-end row against that one.")
			return nil
		},
	}
	cmd.Flags().IntVar(&practices, "practices", 100, "practices in the collection")
	cmd.Flags().IntVar(&patients, "patients", 10000, "patients per practice")
	cmd.Flags().IntVar(&workers, "workers", 0, "scheduler workers (default: cores)")
	cmd.Flags().IntVar(&runs, "runs", 3, "runs of each stage; the best is shown")
	cmd.Flags().StringVar(&service, "service", "QOF2526", "shipped service")
	cmd.Flags().StringVar(&date, "date", "2026-03-31", "achievement date")
	cmd.Flags().StringVar(&dir, "dir", "", "where to put the temporary store and sources (default: the system temp directory)")
	cmd.Flags().BoolVar(&noSync, "no-sync", false, "skip fsync on commit")
	return cmd
}
