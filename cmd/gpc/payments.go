package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/store/ops"
)

func init() { register(paymentsCmd) }

func paymentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "payments", Short: "Payment runs and aspiration figures"}

	var period, out string
	run := &cobra.Command{
		Use:   "run --period YYYY-MM [--out FILE]",
		Short: "Pay what is payable in a period and write the payment instruction CSV",
		Long: `Pays every financially approved declaration whose collection's payment date falls
in or before the period, and the QOF aspiration months due, and writes the payment
instructions as CSV (default DATA/payments/payments-YYYY-MM.csv; --out - for
standard output). Everything is recorded as paid in one step before the file is
written from that record: running a period again writes the same file again and
pays nothing twice, even after an interruption.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				res, err := ops.RunPayments(ss.store, ss.actor, period)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if err := ops.WritePaymentCSV(&buf, res.Run); err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if out == "-" {
					_, err := w.Write(buf.Bytes())
					return err
				}
				path := out
				if path == "" {
					path = filepath.Join(ss.cfg.Data, "payments", "payments-"+res.Run.Period+".csv")
				}
				if err := writeFileAtomic(path, buf.Bytes()); err != nil {
					return err
				}
				first, rest, _ := strings.Cut(res.Describe(), "\n")
				fmt.Fprintf(w, "%s -> %s\n", first, path)
				if rest != "" {
					fmt.Fprintln(w, rest)
				}
				return nil
			})
		},
	}
	run.Flags().StringVar(&period, "period", "", "payment month YYYY-MM (required)")
	run.Flags().StringVar(&out, "out", "", "CSV file to write (default DATA/payments/payments-PERIOD.csv; - for stdout)")
	_ = run.MarkFlagRequired("period")

	var service, practice, prior, note string
	asp := &cobra.Command{
		Use:   "aspiration --service ID --practice CODE --prior POUNDS",
		Short: "Record a practice's prior-year unadjusted achievement payment, the base of its monthly aspiration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := domain.ParsePounds(prior)
			if err != nil {
				return fmt.Errorf("--prior: %w", err)
			}
			return withSession(cmd, func(ss *session) error {
				if err := ops.SetAspirationPrior(ss.store, ss.actor, service, practice, p, note); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: prior-year achievement %s recorded\n", service, practice, p)
				return nil
			})
		},
	}
	asp.Flags().StringVar(&service, "service", "", "service id (required)")
	asp.Flags().StringVar(&practice, "practice", "", "practice code (required)")
	asp.Flags().StringVar(&prior, "prior", "", "prior-year unadjusted achievement in pounds, e.g. 123456.78 (required)")
	asp.Flags().StringVar(&note, "note", "", "where the figure comes from")
	for _, f := range []string{"service", "practice", "prior"} {
		_ = asp.MarkFlagRequired(f)
	}

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the payment runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				runs, err := ops.PaymentRuns(ss.store, ss.actor)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), runs)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RUN\tPERIOD\tAT\tBY\tLINES\tTOTAL")
				for _, r := range runs {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.Period, r.At.UTC().Format("2006-01-02 15:04"), r.By, len(r.Lines), r.Total())
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(run, asp, list)
	return cmd
}

// writeFileAtomic writes a file through a temporary file and a rename, so a
// reader (or a crash) never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, bytes.NewReader(data)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
