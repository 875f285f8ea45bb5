package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
)

func init() { register(timetableCmd) }

// inUseNote is appended to the help of commands that open the data file.
const inUseNote = `
While gpc serve (or gpc scheduler run) holds the data file, this command
cannot open it and says so (data file in use); use the running server's SSH
commands then.`

func timetableCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "timetable",
		Short: "The collections timetable: list, generate, add, reschedule, cancel, reopen",
		Long: `The collections timetable. Each collection is one service at one achievement
date, with its extraction window and the deadlines that follow it.

Dates that fall on a weekend or an England bank holiday move: the window and
the declaration and approval deadlines to the next working day, the payment
date back to the previous one. Every move is printed.` + inUseNote,
	}
	cmd.AddCommand(ttListCmd(), ttGenerateCmd(), ttAddCmd(), ttRescheduleCmd(), ttCancelCmd(), ttReopenCmd())
	return cmd
}

func ttListCmd() *cobra.Command {
	var service string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--service ID]",
		Short: "List collections in window order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				list, err := ops.Timetable(ss.store, ss.actor, service)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), list)
				}
				return writeTimetable(cmd.OutOrStdout(), list)
			})
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "only this service")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeTimetable(out io.Writer, list []*domain.Collection) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSERVICE\tACH DATE\tSTATUS\tRUN\tWINDOW\tDECLARE BY\tAPPROVE BY\tPAY ON\tNOTE")
	for _, c := range list {
		status := string(c.Status)
		if c.Paused {
			status += " (paused)"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s..%s\t%s\t%s\t%s\t%s\n", c.ID, c.Service, c.AchDate, status, c.Run,
			c.WindowStart, c.WindowEnd, c.DeclarationDeadline, c.ApprovalDeadline, c.PaymentDate, c.Note)
	}
	return w.Flush()
}

func ttGenerateCmd() *cobra.Command {
	var service string
	var all bool
	cmd := &cobra.Command{
		Use:   "generate --service ID | --all",
		Short: "Put every collection of a service's timetable on it (those already there are left alone)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (service == "") == !all {
				return fmt.Errorf("name a --service, or --all for every registered service")
			}
			return withSession(cmd, func(ss *session) error {
				ids := []string{service}
				if all {
					ids = nil
					err := ss.store.View(func(tx *store.Tx) error {
						defs, err := tx.Services()
						for _, d := range defs {
							ids = append(ids, d.ID)
						}
						return err
					})
					if err != nil {
						return err
					}
					if len(ids) == 0 {
						return fmt.Errorf("no services are registered (gpc service install)")
					}
				}
				out := cmd.OutOrStdout()
				for _, id := range ids {
					g, err := ops.GenerateTimetable(ss.store, ss.actor, id)
					if err != nil {
						return err
					}
					fmt.Fprintf(out, "%s: added %d collections, %d already on the timetable\n", id, len(g.Added), len(g.Present))
					io.WriteString(out, ops.DescribeMoves(g.Moves))
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "service id, e.g. QOF2526")
	cmd.Flags().BoolVar(&all, "all", false, "every registered service")
	return cmd
}

// dateFlags are the optional date overrides of add and reschedule.
type dateFlags struct{ ops.DateFlags }

func (f *dateFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Opens, "opens", "", "window opens (YYYY-MM-DD)")
	cmd.Flags().StringVar(&f.Closes, "closes", "", "window closes")
	cmd.Flags().StringVar(&f.DeclareBy, "declare-by", "", "declaration deadline")
	cmd.Flags().StringVar(&f.ApproveBy, "approve-by", "", "approval deadline")
	cmd.Flags().StringVar(&f.PayOn, "pay-on", "", "payment date")
}

func parseID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("collection id %q: want a number as gpc timetable list shows it", s)
	}
	return id, nil
}

// withCollectionID reads the collection id argument, then opens a session.
func withCollectionID(cmd *cobra.Command, args []string, fn func(ss *session, id uint64) error) error {
	id, err := parseID(args[0])
	if err != nil {
		return err
	}
	return withSession(cmd, func(ss *session) error { return fn(ss, id) })
}

func ttAddCmd() *cobra.Command {
	var service, ach, reason string
	var df dateFlags
	cmd := &cobra.Command{
		Use:   "add --service ID --ach DATE",
		Short: "Add one collection (the service's default dates unless given)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := domain.ParseDate(ach)
			if err != nil {
				return fmt.Errorf("--ach: %w", err)
			}
			ch, err := df.Change()
			if err != nil {
				return err
			}
			return withSession(cmd, func(ss *session) error {
				c, moves, err := ops.AddCollection(ss.store, ss.actor, service, d, ch, reason)
				if err != nil {
					return err
				}
				_, err = io.WriteString(cmd.OutOrStdout(), ops.DescribeChange("added", c, moves))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "service id")
	cmd.Flags().StringVar(&ach, "ach", "", "achievement date (YYYY-MM-DD)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (audited)")
	df.add(cmd)
	return cmd
}

func ttRescheduleCmd() *cobra.Command {
	var reason string
	var df dateFlags
	cmd := &cobra.Command{
		Use:   "reschedule ID [--opens DATE] [--closes DATE] [--declare-by DATE] [--approve-by DATE] [--pay-on DATE]",
		Short: "Move a scheduled collection's window or deadlines",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch, err := df.Change()
			if err != nil {
				return err
			}
			return withCollectionID(cmd, args, func(ss *session, id uint64) error {
				c, moves, err := ops.Reschedule(ss.store, ss.actor, id, ch, reason)
				if err != nil {
					return err
				}
				_, err = io.WriteString(cmd.OutOrStdout(), ops.DescribeChange("rescheduled", c, moves))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (audited)")
	df.add(cmd)
	return cmd
}

// collectionAction is a command that changes one collection by id.
func collectionAction(use, short, done string, act func(ss *session, id uint64, reason string) (*domain.Collection, error)) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withCollectionID(cmd, args, func(ss *session, id uint64) error {
				c, err := act(ss, id, reason)
				if err != nil {
					return err
				}
				_, err = io.WriteString(cmd.OutOrStdout(), ops.DescribeChange(done, c, nil))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (audited)")
	return cmd
}

func ttCancelCmd() *cobra.Command {
	return collectionAction("cancel ID", "Cancel a scheduled or extracting collection (its unfinished jobs too)", "cancelled",
		func(ss *session, id uint64, reason string) (*domain.Collection, error) {
			return ops.CancelCollection(ss.store, ss.actor, id, reason)
		})
}

func ttReopenCmd() *cobra.Command {
	return collectionAction("reopen ID", "Reopen a cancelled (back to scheduled) or closed (back to extracted) collection", "reopened",
		func(ss *session, id uint64, reason string) (*domain.Collection, error) {
			return ops.ReopenCollection(ss.store, ss.actor, id, reason)
		})
}
