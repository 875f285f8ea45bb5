package main

import (
	"bytes"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/store/ops"
)

func init() { register(exportCmd) }

func exportCmd() *cobra.Command {
	var service, date, status, out string
	cmd := &cobra.Command{
		Use:   "export --service ID --date YYYY-MM-DD [--status approved|all] [--out DIR]",
		Short: "Provide a collection's data: INDICATOR_VALUES CSV and an achievement and points CSV",
		Long: `Writes two files for the requesting organisation, for the practices taking part:
SERVICE_DATE_INDICATOR_VALUES.csv (QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,
FIELD_NAME,VALUE) and SERVICE_DATE_ACHIEVEMENT.csv (achievement % and points per
practice and indicator). --status approved (the default) gives what practices
declared and commissioners approved; --status all gives every practice's current
values. Allowed for View nationally or for the service's requesting organisation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := domain.ParseDate(date)
			if err != nil {
				return fmt.Errorf("--date: %w", err)
			}
			return withSession(cmd, func(ss *session) error {
				ex, err := ops.ExportCollection(ss.store, ss.actor, service, d, status)
				if err != nil {
					return err
				}
				var vals, ach bytes.Buffer
				if err := ops.WriteValuesCSV(&vals, ex.Values); err != nil {
					return err
				}
				if err := ops.WriteAchievementCSV(&ach, ex.Achievement); err != nil {
					return err
				}
				base := filepath.Join(out, fmt.Sprintf("%s_%s_", ex.Service, ex.AchDate))
				for _, f := range []struct {
					name string
					data []byte
				}{{base + "INDICATOR_VALUES.csv", vals.Bytes()}, {base + "ACHIEVEMENT.csv", ach.Bytes()}} {
					if err := writeFileAtomic(f.name, f.data); err != nil {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout(), "wrote", f.name)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s): %d practices, %d values\n", ex.Service, ex.AchDate, ex.Status, ex.Practices, len(ex.Values))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "service id (required)")
	cmd.Flags().StringVar(&date, "date", "", "achievement date (required)")
	cmd.Flags().StringVar(&status, "status", ops.ExportApproved, "approved or all")
	cmd.Flags().StringVar(&out, "out", ".", "directory to write the two files in")
	_ = cmd.MarkFlagRequired("service")
	_ = cmd.MarkFlagRequired("date")
	return cmd
}
