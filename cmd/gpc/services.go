package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/domain/rulesets"
	"gpcollections/store/ops"
)

func init() {
	seedServices = ops.InstallShipped
	register(serviceCmd)
}

func serviceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "service", Short: "Quality services: what each collects and how it pays"}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List installed services",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				svcs, err := ops.Services(ss.store, ss.actor)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), svcs)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "SERVICE\tNAME\tPERIOD\tFREQUENCY\tINDICATORS\tDECLARATION\tAPPROVAL")
				for _, s := range svcs {
					fmt.Fprintf(w, "%s\t%s\t%s..%s\t%s\t%d\t%s\t%s\n", s.ID, s.Name, s.Start, s.End, s.Frequency, len(s.Indicators),
						required(s.DeclarationRequired), required(s.ApprovalRequired))
				}
				return w.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a service's indicators, thresholds, points, fees and entry methods",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, func(ss *session) error {
				s, err := ops.Service(ss.store, ss.actor, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), s)
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "%s  %s (%s), %s..%s, %s, %s\n", s.ID, s.Name, s.Year, s.Start, s.End, s.Frequency, s.Kind)
				p, _ := s.LatestParams()
				if s.Kind == domain.KindPoints {
					fmt.Fprintf(out, "payment parameters v%d from %s: %s per point, national average list %d\n", p.Version, p.EffectiveFrom, p.PencePerPoint, p.NationalAvgListSize)
				} else {
					fmt.Fprintf(out, "payment parameters v%d from %s: a fee per counted item\n", p.Version, p.EffectiveFrom)
				}
				w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "INDICATOR\tKIND\tENTRY\tPOINTS\tTHRESHOLDS\tFEE\tDESCRIPTION")
				for _, d := range s.Indicators {
					th, fee := "", ""
					if d.Upper > 0 {
						th = fmt.Sprintf("%d%%-%d%%", d.Lower/100, d.Upper/100)
					}
					if f, ok := p.Fees[d.ID]; ok {
						fee = f.String()
					}
					desc := d.Description
					if len(desc) > 70 {
						desc = desc[:67] + "..."
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.Kind, d.Entry, d.Points, th, fee, strings.TrimSpace(desc))
				}
				return w.Flush()
			})
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	install := &cobra.Command{
		Use:   "install",
		Short: "Install or update the shipped services (keeps payment-parameter corrections)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				if err := ops.InstallShipped(ss.store, ss.actor); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "installed %s\n", strings.Join(rulesets.IDs(), ", "))
				return nil
			})
		},
	}
	cmd.AddCommand(list, show, install)
	return cmd
}

func required(b bool) string {
	if b {
		return "required"
	}
	return "not required"
}
