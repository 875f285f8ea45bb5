package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/fhir"
	"gpcollections/domain/rules"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/synth"
	"gpcollections/store/sources"
)

// Extraction wiring: generate a synthetic source, extract a service from a
// source, check a rule directory. The work lives in domain/fhir,
// domain/rules and domain/synth; this file only opens files and prints.

func init() {
	register(generateCmd)
	register(extractCmd)
	register(rulesCmd)
}

func generateCmd() *cobra.Command {
	var practice, out, date, clusterFile string
	var patients int
	var seed int64
	cmd := &cobra.Command{
		Use:   "generate --practice CODE --patients N --seed S --out DIR",
		Short: "Write a synthetic practice as a FHIR NDJSON source directory",
		Long: "Generates a synthetic practice, deterministic from the seed (same seed, byte-identical files),\n" +
			"and writes one NDJSON file per FHIR resource type into DIR.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if patients < 0 {
				return fmt.Errorf("--patients %d: want a positive number", patients)
			}
			ach, err := domain.ParseDate(date)
			if err != nil {
				return fmt.Errorf("--date: %v", err)
			}
			opt := synth.Options{Practice: practice, Patients: patients, Seed: seed, AchDate: ach}
			if clusterFile != "" {
				f, err := os.Open(clusterFile)
				if err != nil {
					return fmt.Errorf("--clusters: %w", err)
				}
				opt.Clusters, err = rules.ParseClusters(clusterFile, f)
				f.Close()
				if err != nil {
					return err
				}
			}
			n, err := writeSource(out, opt)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d patients of practice %s to %s (%s)\n", patients, practice, out, humanBytes(n))
			return nil
		},
	}
	cmd.Flags().StringVar(&practice, "practice", "A81001", "practice ODS code")
	cmd.Flags().IntVar(&patients, "patients", 10000, "number of patients")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().StringVar(&out, "out", "", "output directory (created)")
	cmd.Flags().StringVar(&date, "date", "2026-03-31", "records run up to about this date")
	cmd.Flags().StringVar(&clusterFile, "clusters", "", "cluster file to pick codes from (default: the shipped sample; a deployment's release has codes the sample lacks, e.g. learning disability health checks)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// writeSource generates a practice into dir and returns the bytes written.
func writeSource(dir string, opt synth.Options) (int64, error) {
	return sources.WriteDir(dir, func(write func(clinical.Patient) error) error { return synth.Each(opt, write) })
}

// readSource imports a source directory; without a practice code it takes
// the practice most patients are registered with.
func readSource(dir, practice string, strict bool) (*clinical.Batch, fhir.Stats, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fhir.Stats{}, fmt.Errorf("--source %s: not a directory", dir)
	}
	b, stats, err := fhir.Read(sources.DirOpener(dir), fhir.Options{Practice: practice, Strict: strict})
	if err != nil {
		return nil, stats, err
	}
	if b.Practice == "" {
		b.Practice = commonPractice(b)
		if b.Practice == "" {
			return nil, stats, fmt.Errorf("--source %s: no registrations name a practice; give --practice", dir)
		}
	}
	return b, stats, nil
}

func commonPractice(b *clinical.Batch) string {
	n := map[string]int{}
	for _, r := range b.Regs {
		if r.Practice != "" && !r.End.Valid() {
			n[r.Practice]++
		}
	}
	best := ""
	for p, c := range n {
		if c > n[best] || (c == n[best] && p < best) {
			best = p
		}
	}
	return best
}

// loadRules takes a rule directory from disk or a shipped rule set.
func loadRules(dir, service string) (*rules.RuleSet, error) {
	if dir == "" {
		return rulesets.Load(service)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	rs, err := rules.Load(os.DirFS(filepath.Dir(abs)), filepath.Base(abs))
	if err != nil {
		return nil, err
	}
	if service != "" && rs.Service.ID != service {
		return nil, fmt.Errorf("rule directory %s holds service %s, not %s", dir, rs.Service.ID, service)
	}
	return rs, nil
}

// warnEmptyClusters says which clusters the rules use have no codes in the
// loaded cluster file (the shipped file is a sample): the rules stay valid,
// but the counts that depend on them will be 0 until the release is loaded.
func warnEmptyClusters(w io.Writer, rs *rules.RuleSet) {
	for _, e := range rs.EmptyClusters() {
		fmt.Fprintf(w, "warning: %s\n", e)
	}
}

func extractCmd() *cobra.Command {
	var source, service, date, format, explain, practice, rulesDir string
	var strict bool
	cmd := &cobra.Command{
		Use:   "extract --source DIR --service QOF2526 --date 2026-03-31",
		Short: "Extract a service's aggregate counts from a practice's FHIR source",
		Long: "Reads a FHIR NDJSON source directory, runs the service's rules at the achievement date and prints\n" +
			"INDICATOR_VALUES rows (CSV or JSON). --explain ID prints, for one patient, which rule of each\n" +
			"indicator selected or rejected them and the field values that decided it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ach, err := domain.ParseDate(date)
			if err != nil {
				return fmt.Errorf("--date: %v", err)
			}
			if format != "csv" && format != "json" {
				return fmt.Errorf("--format %q: want csv or json", format)
			}
			rs, err := loadRules(rulesDir, service)
			if err != nil {
				return err
			}
			b, stats, err := readSource(source, practice, strict)
			if err != nil {
				return err
			}
			reportBad(cmd.ErrOrStderr(), stats)
			warnEmptyClusters(cmd.ErrOrStderr(), rs)
			if explain != "" {
				txt, err := rs.Explain(b, ach, explain)
				if err != nil {
					return err
				}
				_, err = io.WriteString(cmd.OutOrStdout(), txt)
				return err
			}
			return writeRows(cmd.OutOrStdout(), format, rs.Evaluate(b, ach))
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "FHIR NDJSON source directory")
	f.StringVar(&service, "service", "QOF2526", "service id ("+joinIDs()+")")
	f.StringVar(&date, "date", "2026-03-31", "achievement date (payment period end date)")
	f.StringVar(&format, "format", "csv", "csv or json")
	f.StringVar(&explain, "explain", "", "explain one patient (id or NHS number) instead of printing counts")
	f.BoolVar(&strict, "strict", false, "stop at the first bad line instead of skipping it")
	f.StringVar(&practice, "practice", "", "practice ODS code (default: the practice most patients are registered with)")
	f.StringVar(&rulesDir, "rules", "", "rule directory to use instead of the shipped rule set")
	_ = cmd.MarkFlagRequired("source")
	return cmd
}

func joinIDs() string {
	s := ""
	for i, id := range rulesets.IDs() {
		if i > 0 {
			s += ", "
		}
		s += id
	}
	return s
}

// reportBad tells stderr how many lines were skipped, and the first few.
func reportBad(w io.Writer, st fhir.Stats) {
	fmt.Fprintf(w, "imported %d patients, %d events from %s; %d bad lines skipped\n", st.Patients, st.Events, humanBytes(st.Bytes), st.Bad)
	for i, e := range st.Errors {
		if i == 5 {
			fmt.Fprintf(w, "  ... %d more\n", st.Bad-5)
			break
		}
		fmt.Fprintf(w, "  %v\n", e)
	}
}

// rowHeader is the INDICATOR_VALUES CSV header.
var rowHeader = []string{"QUALITY_SERVICE", "ORG_CODE", "ACH_DATE", "IND_CODE", "FIELD_NAME", "VALUE"}

func writeRows(w io.Writer, format string, rows []domain.IndicatorValue) error {
	if format == "json" {
		if rows == nil {
			rows = []domain.IndicatorValue{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(rowHeader)
	for _, r := range rows {
		_ = cw.Write([]string{r.Service, r.Practice, r.AchDate.String(), r.Indicator, r.Field, strconv.FormatInt(r.Value, 10)})
	}
	cw.Flush()
	return cw.Error()
}

func rulesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "Rule files: check, list the shipped sets"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check DIR",
		Short: "Validate a rule directory (exit status 2 with file:line errors)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := loadRules(args[0], "")
			if err != nil {
				var el rules.ErrorList
				if errors.As(err, &el) {
					for _, e := range el {
						fmt.Fprintln(cmd.OutOrStdout(), e)
					}
					return &exitError{code: 2, err: fmt.Errorf("%s: %d problem(s)", args[0], len(el))}
				}
				return &exitError{code: 2, err: err}
			}
			var regs, ach, counts, manual int
			for _, l := range rs.Lists {
				switch {
				case l.Manual():
					manual++
				case l.Kind == rules.ListRegister:
					regs++
				case l.Kind == rules.ListAchievement:
					ach++
				default:
					counts++
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: service %s, %d registers, %d achievement, %d count, %d manual indicators, %d fields, %d clusters; sha256 %s\n",
				args[0], rs.Service.ID, regs, ach, counts, manual, len(rs.Fields), len(rs.Clusters.Names()), rs.Hash)
			warnEmptyClusters(cmd.OutOrStdout(), rs)
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the shipped rule sets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ids := rulesets.IDs()
			sort.Strings(ids)
			for _, id := range ids {
				rs, err := rulesets.Load(id)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-13s %-45s %-9s %2d indicators  sha256 %s\n", id, rs.Service.Name, rs.Service.Frequency, len(rs.Service.Indicators), rs.Hash[:12])
			}
			return nil
		},
	})
	return cmd
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
