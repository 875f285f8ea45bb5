package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/domain/calc"
	"gpcollections/domain/rulesets"
)

// serviceByID finds a service definition by id: the embedded rule sets,
// behind a variable so tests can supply a hand-built service.
var serviceByID = rulesets.Service

type calcFlags struct {
	values, service, format, org string
	listSize                     int64
	paramsVersion                int
}

func init() {
	register(func() *cobra.Command {
		var f calcFlags
		cmd := &cobra.Command{
			Use:   "calc --values FILE --service ID --list-size N",
			Short: "What-if calculator: achievement, points, pounds and patients needed from INDICATOR_VALUES rows",
			Long: `Reads INDICATOR_VALUES rows (the CSV gpc extract writes: QUALITY_SERVICE,ORG_CODE,
ACH_DATE,IND_CODE,FIELD_NAME,VALUE) for one practice and prints, per indicator,
achievement, points, pounds and the extra numerator patients needed for the next
point and for the upper threshold, then the totals. Edit the file and run again
to ask "what if".`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return runCalc(cmd.OutOrStdout(), f) },
		}
		fl := cmd.Flags()
		fl.StringVar(&f.values, "values", "", "INDICATOR_VALUES CSV file (required)")
		fl.StringVar(&f.service, "service", "", "service id, e.g. QOF2526 (required)")
		fl.Int64Var(&f.listSize, "list-size", 0, "the practice's list size on the service's list size date (required)")
		fl.StringVar(&f.format, "format", "text", "output format: text or json")
		fl.IntVar(&f.paramsVersion, "params-version", 0, "payment parameters version (default: the one in force on the achievement date)")
		fl.StringVar(&f.org, "org", "", "practice ORG_CODE, when the file holds several")
		for _, name := range []string{"values", "service", "list-size"} {
			_ = cmd.MarkFlagRequired(name)
		}
		return cmd
	})
}

func runCalc(w io.Writer, f calcFlags) error {
	if f.format != "text" && f.format != "json" {
		return fmt.Errorf("--format %q: want text or json", f.format)
	}
	if f.listSize < 0 {
		return fmt.Errorf("--list-size %d: want the practice's list size, 0 or more", f.listSize)
	}
	svc, err := serviceByID(f.service)
	if err != nil {
		return err
	}
	file, err := os.Open(f.values)
	if err != nil {
		return err
	}
	defer file.Close()
	rows, lines, err := calc.ReadValues(file)
	if err != nil {
		return fmt.Errorf("%s %w", f.values, err)
	}
	rows, lines, err = onePractice(rows, lines, f.org)
	if err != nil {
		return fmt.Errorf("%s: %w", f.values, err)
	}
	params, err := paramsFor(svc, f.paramsVersion, rows[0].AchDate)
	if err != nil {
		return err
	}
	c, err := calc.New(svc, params)
	if err != nil {
		return err
	}
	res, err := c.Practice(f.listSize, rows)
	var re *calc.RowError
	if errors.As(err, &re) {
		return fmt.Errorf("%s line %d: %w", f.values, lines[re.Index], err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.values, err)
	}
	head := calcHead{Service: svc, Practice: rows[0].Practice, AchDate: rows[0].AchDate, Params: params}
	if f.format == "json" {
		return writeCalcJSON(w, head, res)
	}
	return writeCalcText(w, head, res)
}

// onePractice keeps the rows of the chosen practice, or of the only one.
func onePractice(rows []domain.IndicatorValue, lines []int, org string) ([]domain.IndicatorValue, []int, error) {
	var orgs []string
	var keepRows []domain.IndicatorValue
	var keepLines []int
	for i, r := range rows {
		if !slices.Contains(orgs, r.Practice) {
			orgs = append(orgs, r.Practice)
		}
		if org == "" || r.Practice == org {
			keepRows, keepLines = append(keepRows, r), append(keepLines, lines[i])
		}
	}
	switch {
	case len(rows) == 0:
		return nil, nil, fmt.Errorf("no rows after the header")
	case org == "" && len(orgs) > 1:
		return nil, nil, fmt.Errorf("rows for %d practices (%s): choose one with --org", len(orgs), strings.Join(orgs, ", "))
	case len(keepRows) == 0:
		return nil, nil, fmt.Errorf("no rows for --org %s (practices in the file: %s)", org, strings.Join(orgs, ", "))
	}
	return keepRows, keepLines, nil
}

// paramsFor picks the payment parameters: the version asked for, or the one
// in force on the achievement date.
func paramsFor(svc *domain.ServiceDef, version int, on domain.Date) (domain.PaymentParams, error) {
	var have []string
	for _, p := range svc.Payment {
		if version != 0 && p.Version == version {
			return p, nil
		}
		have = append(have, fmt.Sprintf("%d (from %s)", p.Version, p.EffectiveFrom))
	}
	if version != 0 {
		return domain.PaymentParams{}, fmt.Errorf("service %s has no payment parameters version %d (versions: %s)", svc.ID, version, strings.Join(have, ", "))
	}
	p, ok := svc.ParamsOn(on)
	if !ok {
		return domain.PaymentParams{}, fmt.Errorf("service %s has no payment parameters in force on %s (versions: %s)", svc.ID, on, strings.Join(have, ", "))
	}
	return p, nil
}

type calcHead struct {
	Service  *domain.ServiceDef
	Practice string
	AchDate  domain.Date
	Params   domain.PaymentParams
}

func writeCalcText(w io.Writer, h calcHead, res calc.Result) error {
	p := h.Params
	fmt.Fprintf(w, "%s · practice %s · achievement date %s · list size %s\n", res.Service, h.Practice, h.AchDate, groupInt(res.ListSize))
	fmt.Fprintf(w, "payment parameters version %d", p.Version)
	if p.PencePerPoint > 0 {
		fmt.Fprintf(w, ": %s a point, national average list size %s", p.PencePerPoint, groupInt(p.NationalAvgListSize))
	}
	if p.FactorDecimals > 0 {
		fmt.Fprintf(w, ", CPI and prevalence factor rounded to %d decimals", p.FactorDecimals)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	// Numbers align right; the ids are padded so they still read left-aligned.
	idw := len("INDICATOR")
	for _, r := range res.Indicators {
		idw = max(idw, len(r.ID))
	}
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tACHIEVEMENT\tNUM/DEN\tPOINTS\tPOUNDS\tNEXT POINT\tUPPER\t\n", idw, "INDICATOR")
	for _, r := range res.Indicators {
		// show prints a value, or "-" when the file does not give it.
		show := func(field string, v int64) string {
			if slices.Contains(r.Missing, r.ID+" "+field) {
				return "-"
			}
			return strconv.FormatInt(v, 10)
		}
		ach, frac, pts, pounds := "", "", "", ""
		switch r.Kind {
		case domain.IndAchievement:
			ach = pct(r.Achievement)
			frac = show(domain.FieldNumerator, r.Numerator) + "/" + show(domain.FieldDenominator, r.Denominator)
		case domain.IndRegister:
			frac = "register " + show(domain.FieldRegister, r.Register)
		case domain.IndCount:
			frac = "count " + show(domain.FieldCount, r.Count)
			if r.Capped {
				frac += fmt.Sprintf(", paid %d", r.Payable)
			}
		}
		if r.PointsMax > 0 {
			pts = calc.Decimal(r.Points, 2) + " of " + strconv.Itoa(r.PointsMax)
		}
		if r.PointsMax > 0 || r.Kind == domain.IndCount {
			pounds = r.Pence.String()
		}
		if r.Unpriced != "" {
			pounds = "unpriced"
		}
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", idw, r.ID, ach, frac, pts, pounds, needed(r.NeededNextPoint), needed(r.NeededUpper))
	}
	fmt.Fprintf(tw, "%-*s\t\t\t%s of %d\t%s\t\t\t\n", idw, "TOTAL", calc.Decimal(res.Points, 2), res.PointsMax, res.Pence)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(line, " ")) // tabwriter pads empty trailing cells
	}
	// Missing fields: indicators with no values at all in one line, then the
	// gaps that change the figures. Missing reason counts change nothing and
	// are listed only in the JSON.
	var notes, empty []string
	for _, r := range res.Indicators {
		d, _ := h.Service.Indicator(r.ID)
		if len(r.Missing) >= len(d.Fields()) && !slices.ContainsFunc(r.Missing, func(m string) bool { return !strings.HasPrefix(m, r.ID+" ") }) {
			empty = append(empty, r.ID)
			continue
		}
		var gaps []string
		for _, m := range r.Missing {
			id, field, _ := strings.Cut(m, " ")
			switch {
			case id != r.ID:
				gaps = append(gaps, m)
			case field == domain.FieldRegister || field == domain.FieldDenominator || field == domain.FieldNumerator || field == domain.FieldCount:
				gaps = append(gaps, field)
			}
		}
		if len(gaps) > 0 {
			notes = append(notes, fmt.Sprintf("%s: missing %s", r.ID, strings.Join(gaps, ", ")))
		}
		for _, n := range r.Notes {
			notes = append(notes, r.ID+": "+n)
		}
		if r.Unpriced != "" {
			notes = append(notes, r.ID+": not priced: "+r.Unpriced+"; the total leaves it out")
		}
	}
	if len(empty) > 0 {
		notes = append(notes, "no values given for "+strings.Join(empty, ", "))
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
	_, err := fmt.Fprintln(w, "\nNEXT POINT and UPPER: extra numerator patients (denominator unchanged) to reach the next whole point and the upper threshold.")
	return err
}

func pct(x *big.Rat) string {
	if x == nil {
		return "-"
	}
	return calc.Percent(x, 2) + "%"
}

func needed(n int64) string {
	switch {
	case n == calc.NotApplicable:
		return ""
	case n == 0:
		return "0"
	}
	return "+" + strconv.FormatInt(n, 10)
}

// groupInt formats a non-negative count with thousands separators.
func groupInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// calcJSON is the --format json shape. Exact figures are strings (decimal or
// a fraction) so no reader parses money or points through a float.
type calcJSON struct {
	Service         string          `json:"service"`
	Practice        string          `json:"practice"`
	AchievementDate string          `json:"achievementDate"`
	ListSize        int64           `json:"listSize"`
	ParamsVersion   int             `json:"paramsVersion"`
	Indicators      []indicatorJSON `json:"indicators"`
	Totals          totalsJSON      `json:"totals"`
}

type indicatorJSON struct {
	ID               string            `json:"id"`
	Kind             string            `json:"kind"`
	Register         int64             `json:"register"`
	Denominator      int64             `json:"denominator"`
	Numerator        int64             `json:"numerator"`
	Count            int64             `json:"count"`
	Reasons          []calc.FieldValue `json:"reasons,omitempty"`
	AchievementPct   *string           `json:"achievementPercent"`
	Points           string            `json:"points"`
	PointsExact      string            `json:"pointsExact"`
	PointsMax        int               `json:"pointsMax"`
	CPI              *string           `json:"cpi,omitempty"`
	PrevalencePct    *string           `json:"prevalencePercent,omitempty"`
	PrevalenceFactor *string           `json:"prevalenceFactor,omitempty"`
	Fee              domain.Pence      `json:"feePence,omitempty"`
	Payable          int64             `json:"payable,omitempty"`
	Capped           bool              `json:"capped,omitempty"`
	Pence            domain.Pence      `json:"pence"`
	Pounds           string            `json:"pounds"`
	NeededNextPoint  *int64            `json:"neededNextPoint"`
	NeededUpper      *int64            `json:"neededUpper"`
	Missing          []string          `json:"missing,omitempty"`
	Notes            []string          `json:"notes,omitempty"`
	Unpriced         string            `json:"unpriced,omitempty"`
}

type totalsJSON struct {
	Points      string       `json:"points"`
	PointsExact string       `json:"pointsExact"`
	PointsMax   int          `json:"pointsMax"`
	Pence       domain.Pence `json:"pence"`
	Pounds      string       `json:"pounds"`
	Unpriced    []string     `json:"unpriced,omitempty"`
}

func writeCalcJSON(w io.Writer, h calcHead, res calc.Result) error {
	out := calcJSON{
		Service: res.Service, Practice: h.Practice, AchievementDate: h.AchDate.String(),
		ListSize: res.ListSize, ParamsVersion: res.ParamsVersion,
		Indicators: make([]indicatorJSON, 0, len(res.Indicators)),
		Totals: totalsJSON{
			Points: calc.Decimal(res.Points, 2), PointsExact: res.Points.RatString(), PointsMax: res.PointsMax,
			Pence: res.Pence, Pounds: res.Pence.Plain(), Unpriced: res.Unpriced,
		},
	}
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	num := func(n int64) *int64 {
		if n == calc.NotApplicable {
			return nil
		}
		return &n
	}
	for _, r := range res.Indicators {
		out.Indicators = append(out.Indicators, indicatorJSON{
			ID: r.ID, Kind: string(r.Kind), Register: r.Register, Denominator: r.Denominator,
			Numerator: r.Numerator, Count: r.Count, Reasons: r.Reasons,
			AchievementPct: str(calc.Percent(r.Achievement, 2)),
			Points:         calc.Decimal(r.Points, 2), PointsExact: r.Points.RatString(), PointsMax: r.PointsMax,
			CPI: str(calc.Decimal(r.CPI, 4)), PrevalencePct: str(calc.Percent(r.Prevalence, 2)),
			PrevalenceFactor: str(calc.Decimal(r.PrevalenceFactor, 4)),
			Fee:              r.Fee, Payable: r.Payable, Capped: r.Capped,
			Pence: r.Pence, Pounds: r.Pence.Plain(),
			NeededNextPoint: num(r.NeededNextPoint), NeededUpper: num(r.NeededUpper),
			Missing: r.Missing, Notes: r.Notes, Unpriced: r.Unpriced,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
