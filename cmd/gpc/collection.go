package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/store/ops"
	"gpcollections/store/scheduler"
)

func init() {
	register(collectionCmd)
	register(sourceCmd)
}

func collectionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collection",
		Short: "Control a collection's extraction: run, rerun, pause, resume, cancel, retry, check, show",
		Long: `Control a collection's extraction. These change the store; the scheduler
(gpc serve, or gpc scheduler run) does the extracting and picks the change
up as soon as it can see it.` + inUseNote,
	}
	run := collectionAction("run ID", "Start a scheduled collection's extraction now, whatever its window says", "started",
		func(ss *session, id uint64, _ string) (*domain.Collection, error) {
			return scheduler.RunNow(ss.store, ss.actor, id)
		})
	rerun := collectionAction("rerun ID", "Extract an extracted collection again as a new run (results replaced, the old kept in history)", "re-running",
		func(ss *session, id uint64, reason string) (*domain.Collection, error) {
			return scheduler.Rerun(ss.store, ss.actor, id, reason)
		})
	pause := collectionAction("pause ID", "Hold the scheduler off a collection (running attempts finish)", "paused",
		func(ss *session, id uint64, reason string) (*domain.Collection, error) {
			return ops.SetPaused(ss.store, ss.actor, id, true, reason)
		})
	resume := collectionAction("resume ID", "Let the scheduler work on a paused collection again", "resumed",
		func(ss *session, id uint64, reason string) (*domain.Collection, error) {
			return ops.SetPaused(ss.store, ss.actor, id, false, reason)
		})
	cancel := collectionAction("cancel ID", "Cancel a collection and its unfinished jobs", "cancelled",
		func(ss *session, id uint64, reason string) (*domain.Collection, error) {
			return ops.CancelCollection(ss.store, ss.actor, id, reason)
		})
	cmd.AddCommand(run, rerun, pause, resume, cancel, collRetryCmd(), collCheckCmd(), collShowCmd())
	return cmd
}

func collRetryCmd() *cobra.Command {
	var practice, reason string
	cmd := &cobra.Command{
		Use:   "retry ID --practice CODE",
		Short: "Queue a failed practice's extraction again with fresh attempts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if practice == "" {
				return fmt.Errorf("--practice CODE is required")
			}
			return withCollectionID(cmd, args, func(ss *session, id uint64) error {
				j, err := scheduler.Retry(ss.store, ss.actor, id, practice, reason)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "queued %s for collection %d run %d again\n", j.Practice, j.Collection, j.Run)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&practice, "practice", "", "practice code")
	cmd.Flags().StringVar(&reason, "reason", "", "why (audited)")
	return cmd
}

func collCheckCmd() *cobra.Command {
	var practice string
	var asJSON, strict bool
	cmd := &cobra.Command{
		Use:   "check ID --practice CODE",
		Short: "Check a practice's collected values against its clinical system now (replaces nothing)",
		Long: `Extracts the practice's current source for the collection's achievement date
and compares it field by field with what was collected. Nothing collected is
replaced; the check is kept as the practice's latest for the collection.
Exits 3 when there are differences.` + inUseNote,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if practice == "" {
				return fmt.Errorf("--practice CODE is required")
			}
			return withCollectionID(cmd, args, func(ss *session, id uint64) error {
				cr, err := scheduler.RunCheck(cmd.Context(), ss.store, scheduler.DefaultDeps(ss.cfg.SourcesCache), strict, ss.actor, id, practice)
				if err != nil {
					return err
				}
				if asJSON {
					if err := writeJSON(cmd.OutOrStdout(), cr); err != nil {
						return err
					}
				} else {
					writeCheck(cmd.OutOrStdout(), cr)
				}
				if len(cr.Diffs) > 0 {
					return &exitError{code: 3, err: fmt.Errorf("%d fields differ from the collected values", len(cr.Diffs))}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&practice, "practice", "", "practice code")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&strict, "strict", false, "refuse a source with unreadable NDJSON lines instead of skipping them")
	return cmd
}

func writeCheck(out io.Writer, cr *domain.CheckRun) {
	fmt.Fprintf(out, "check of %s for collection %d against %s: %d patients now, %d fields agree, %d differ\n",
		cr.Practice, cr.Collection, cr.Against, cr.Patients, cr.Same, len(cr.Diffs))
	if cr.Note != "" {
		fmt.Fprintln(out, "note:", cr.Note)
	}
	if len(cr.Diffs) == 0 {
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "INDICATOR\tFIELD\tCOLLECTED\tNOW\tCHANGE\t")
	show := func(v int64, ok bool) string {
		if !ok {
			return "-"
		}
		return fmt.Sprint(v)
	}
	for _, d := range cr.Diffs {
		change := ""
		if d.HasCollected && d.HasCurrent {
			change = fmt.Sprintf("%+d", d.Current-d.Collected)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t\n", d.Indicator, d.Field, show(d.Collected, d.HasCollected), show(d.Current, d.HasCurrent), change)
	}
	w.Flush()
}

func collShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a collection and every practice's job in its current run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCollectionID(cmd, args, func(ss *session, id uint64) error {
				cs, err := scheduler.ViewCollection(ss.store, ss.actor, id)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), cs)
				}
				writeCollectionStatus(cmd.OutOrStdout(), cs, true)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeCollectionStatus(out io.Writer, cs *scheduler.CollectionStatus, jobs bool) {
	state := string(cs.State)
	if cs.Paused {
		state += " (paused)"
	}
	fmt.Fprintf(out, "collection %d %s: %s, run %d, window %s..%s; jobs: %d queued, %d running, %d succeeded, %d failed, %d skipped",
		cs.ID, cs.Label, state, cs.Run, cs.WindowStart, cs.WindowEnd, cs.Queued, cs.Running, cs.Succeeded, cs.Failed, cs.Cancelled)
	if cs.Total > 0 {
		fmt.Fprintf(out, "; %d of %d patients", cs.Done, cs.Total)
	}
	fmt.Fprintln(out)
	if cs.Note != "" {
		fmt.Fprintf(out, "  note: %s\n", cs.Note)
	}
	if !jobs || len(cs.Jobs) == 0 {
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  PRACTICE\tSTATE\tATTEMPTS\tPATIENTS\tNEXT ATTEMPT\tMESSAGE")
	for _, j := range cs.Jobs {
		next := ""
		if j.State == domain.JobQueued && !j.NextAttempt.IsZero() {
			next = j.NextAttempt.Format(time.DateTime)
		}
		msg := j.Error
		if msg == "" {
			msg = j.Note
		}
		fmt.Fprintf(w, "  %s\t%s\t%d\t%d/%d\t%s\t%s\n", j.Practice, j.State, j.Attempts, j.Done, j.Total, next, msg)
	}
	w.Flush()
}

func sourceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "source",
		Short: "Practice sources: link a practice to its FHIR bulk-data export, check it, list them",
		Long: `Each practice is linked to the directory its clinical system exports FHIR
bulk data (NDJSON, one file per resource type) to. The scheduler extracts from
there.` + inUseNote,
	}
	var practice, dir string
	link := &cobra.Command{
		Use:   "link --practice CODE --dir DIR",
		Short: "Link (or relink) a practice to its source directory, after checking it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if practice == "" || dir == "" {
				return fmt.Errorf("--practice CODE and --dir DIR are required")
			}
			return withSession(cmd, func(ss *session) error {
				l, err := ops.LinkSource(ss.store, ss.actor, practice, dir)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "linked %s to %s: %s\n", l.Practice, l.Dir, l.CheckNote)
				return nil
			})
		},
	}
	link.Flags().StringVar(&practice, "practice", "", "practice code")
	link.Flags().StringVar(&dir, "dir", "", "source directory")
	check := &cobra.Command{
		Use:   "check --practice CODE",
		Short: "Check a practice's linked source again (exits 2 when it is unusable)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if practice == "" {
				return fmt.Errorf("--practice CODE is required")
			}
			return withSession(cmd, func(ss *session) error {
				l, err := ops.CheckSource(ss.store, ss.actor, practice)
				if l == nil {
					return err
				}
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s: ok: %s\n", l.Practice, l.Dir, l.CheckNote)
				return nil
			})
		},
	}
	check.Flags().StringVar(&practice, "practice", "", "practice code")
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the linked sources and their last check",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				links, err := ops.SourceLinks(ss.store, ss.actor, "")
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), links)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "PRACTICE\tDIR\tCHECKED\tOK\tNOTE")
				for _, l := range links {
					fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", l.Practice, l.Dir, l.CheckedAt.Format(time.DateTime), l.CheckOK, l.CheckNote)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(link, check, list)
	return cmd
}
