package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/calc"
	"gpcollections/domain/timetable"
	"gpcollections/store"
	"gpcollections/store/ops"
)

// Env is what a command runs with: the store, the signed-in user (bound by
// the SSH server to the key that actually signed) and where output goes.
type Env struct {
	Store          *store.Store
	User           *domain.User
	KeyFingerprint string
	Now            func() time.Time
	Out, Err       io.Writer
}

// Run splits, parses and runs one raw command line and returns its exit
// status; messages go to env.Err.
func Run(env Env, raw string) int {
	words, err := Split(raw)
	if err != nil {
		return env.fail(err)
	}
	if len(words) == 0 {
		fmt.Fprint(env.Err, "gpc: no command given and no terminal to show the interface on.\n\n"+Usage)
		return StatusUsage
	}
	c, err := Parse(words)
	if err != nil {
		return env.fail(err)
	}
	return Exec(env, c)
}

// Exec runs a parsed command.
func Exec(env Env, c Command) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	var err error
	switch c.Name {
	case "help":
		_, err = io.WriteString(env.Out, Usage)
	case "whoami":
		err = env.whoami(c)
	case "timetable":
		err = env.timetable(c)
	case "achievement":
		err = env.achievement(c)
	case "queue":
		err = env.queue(c)
	case "export":
		err = env.export(c)
	case "backup":
		_, err = ops.Backup(env.Store, env.User, env.Out)
	case "timetable add", "timetable reschedule", "timetable cancel", "timetable reopen":
		err = env.changeTimetable(c)
	case "payments run":
		err = env.runPayments(c)
	default:
		err = usagef("unknown command %q", clip(c.Name))
	}
	if err != nil {
		return env.fail(err)
	}
	return StatusOK
}

// Status maps an error to its exit status.
func Status(err error) int {
	var ue *UsageError
	var de *domain.Denied
	switch {
	case err == nil:
		return StatusOK
	case errors.As(err, &ue):
		return StatusUsage
	case errors.As(err, &de):
		return StatusRefused
	}
	return StatusFailed
}

func (env Env) fail(err error) int {
	st := Status(err)
	fmt.Fprintf(env.Err, "gpc: %v\n", err)
	if st == StatusUsage {
		fmt.Fprint(env.Err, "\n"+Usage)
	}
	return st
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WhoAmI is whoami's JSON.
type WhoAmI struct {
	User     string         `json:"user"`
	FullName string         `json:"fullName"`
	Key      string         `json:"key,omitempty"`
	Grants   []domain.Grant `json:"grants"`
}

func (env Env) whoami(c Command) error {
	u := env.User
	w := WhoAmI{User: u.Name, FullName: u.FullName, Key: env.KeyFingerprint, Grants: append([]domain.Grant{}, u.Grants...)}
	if c.JSON {
		return writeJSON(env.Out, w)
	}
	fmt.Fprintf(env.Out, "%s (%s)\n", u.Name, u.FullName)
	if env.KeyFingerprint != "" {
		fmt.Fprintf(env.Out, "signed in with key %s\n", env.KeyFingerprint)
	}
	if len(u.Grants) == 0 {
		fmt.Fprintln(env.Out, "no roles")
		return nil
	}
	tw := tabwriter.NewWriter(env.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORGANISATION\tKIND\tROLE")
	for _, g := range u.Grants {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Org, g.OrgKind, g.Role.Title())
	}
	return tw.Flush()
}

// TimetableRow is one collection in timetable's JSON.
type TimetableRow struct {
	ID                  uint64       `json:"id"`
	Service             string       `json:"service"`
	AchDate             domain.Date  `json:"achDate"`
	WindowStart         domain.Date  `json:"windowStart"`
	WindowEnd           domain.Date  `json:"windowEnd"`
	DeclarationDeadline domain.Date  `json:"declarationDeadline"`
	ApprovalDeadline    domain.Date  `json:"approvalDeadline"`
	PaymentDate         domain.Date  `json:"paymentDate"`
	Status              domain.State `json:"status"`
	Run                 int          `json:"run"`
}

func (env Env) timetable(c Command) error {
	cs, err := ops.Timetable(env.Store, env.User, c.Service)
	if err != nil {
		return err
	}
	if c.Service != "" && len(cs) == 0 {
		// Say so when the service itself is unknown, not just empty.
		if err := env.Store.View(func(tx *store.Tx) error { _, err := tx.Service(c.Service); return err }); err != nil {
			return err
		}
	}
	rows := []TimetableRow{}
	for _, x := range cs {
		if c.Status != "" && x.Status != domain.State(c.Status) {
			continue
		}
		rows = append(rows, TimetableRow{ID: x.ID, Service: x.Service, AchDate: x.AchDate, WindowStart: x.WindowStart,
			WindowEnd: x.WindowEnd, DeclarationDeadline: x.DeclarationDeadline, ApprovalDeadline: x.ApprovalDeadline,
			PaymentDate: x.PaymentDate, Status: x.Status, Run: x.Run})
	}
	if c.JSON {
		return writeJSON(env.Out, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(env.Out, "no collections")
		return nil
	}
	tw := tabwriter.NewWriter(env.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSERVICE\tACHIEVEMENT DATE\tEXTRACTION WINDOW\tDECLARE BY\tAPPROVE BY\tPAYMENT\tSTATUS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s..%s\t%s\t%s\t%s\t%s\n", r.ID, r.Service, r.AchDate, r.WindowStart, r.WindowEnd,
			r.DeclarationDeadline, r.ApprovalDeadline, r.PaymentDate, r.Status)
	}
	return tw.Flush()
}

func (env Env) achievement(c Command) error {
	a, err := ReadAchievement(env.Store, env.User, c.Service, c.Date, c.Practice)
	if err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(env.Out, a)
	}
	fmt.Fprintf(env.Out, "%s (%s) for %s, achievement date %s\n", a.Service, a.ServiceName, a.Practice, a.AchDate)
	fmt.Fprintf(env.Out, "collection %d: %s, extraction run %d; list size %d\n", a.Collection, a.CollectionStatus, a.Run, a.ListSize)
	if a.Declaration != nil {
		fmt.Fprintf(env.Out, "declaration: %s\n", a.Declaration.Title)
	} else {
		fmt.Fprintln(env.Out, "declaration: none yet")
	}
	tw := newTable(env.Out)
	if itemOfService(a) {
		return env.itemTable(tw, a)
	}
	head := "INDICATOR\tREGISTER\tDENOM\tNUMER\tACHIEVED\tPOINTS\t"
	if a.Pence != nil {
		head += "PAYMENT\t"
	}
	fmt.Fprintln(tw, head+"NEEDED NEXT\tNEEDED MAX\t")
	for _, r := range a.Indicators {
		line := fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%s/%d\t", r.ID, r.Register, dash(r.Kind != domain.IndRegister, r.Denominator),
			dash(r.Kind != domain.IndRegister, r.Numerator), orDash(r.Achievement, "%"), r.Points, r.PointsMax)
		if a.Pence != nil {
			line += r.Payment + "\t"
		}
		line += needed(r.NeededNextPoint) + "\t" + needed(r.NeededUpper) + "\t"
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	total := fmt.Sprintf("total: %s of %d points", a.Points, a.PointsMax)
	if a.Pence != nil {
		total += ", " + domain.Pence(*a.Pence).String()
	}
	fmt.Fprintln(env.Out, total)
	printMissing(env.Out, a)
	return nil
}

// itemOfService reports an item-of-service result: counts and fees, no
// points, so the points table would only show dashes.
func itemOfService(a *Achievement) bool {
	for _, r := range a.Indicators {
		if r.Kind == domain.IndCount {
			return true
		}
	}
	return false
}

// itemTable prints an item-of-service result: each count or register value
// and, with Finance View, what it pays.
func (env Env) itemTable(tw *tabwriter.Writer, a *Achievement) error {
	head := "INDICATOR\tKIND\tVALUE\t"
	if a.Pence != nil {
		head += "PAYMENT\t"
	}
	fmt.Fprintln(tw, head)
	for _, r := range a.Indicators {
		v := r.Register
		if r.Kind == domain.IndCount {
			v = r.Count
		}
		line := fmt.Sprintf("%s\t%s\t%d\t", r.ID, r.Kind, v)
		if a.Pence != nil {
			line += r.Payment + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if a.Pence != nil {
		fmt.Fprintf(env.Out, "total: %s\n", domain.Pence(*a.Pence))
	}
	printMissing(env.Out, a)
	return nil
}

func dash(show bool, n int64) string {
	if !show {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func orDash(s, suffix string) string {
	if s == "" {
		return "-"
	}
	return s + suffix
}

func needed(n int64) string {
	if n == calc.NotApplicable {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func (env Env) queue(c Command) error {
	items, err := ops.Queue(env.Store, env.User, ops.QueueFilter{})
	if err != nil {
		return err
	}
	if c.JSON {
		if items == nil {
			items = []ops.QueueItem{}
		}
		return writeJSON(env.Out, items)
	}
	if len(items) == 0 {
		fmt.Fprintln(env.Out, "nothing is waiting for your approval")
		return nil
	}
	tw := tabwriter.NewWriter(env.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COLLECTION\tPRACTICE\tSTATUS\tPOINTS\tAMOUNT\tDECLARED BY\tAPPROVE BY")
	for _, it := range items {
		amount := "-"
		if it.MoneyShown {
			amount = it.Amount.String()
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t%s\t%s\n", it.Label, it.Ref.Practice, it.PracticeName, it.Status, it.Points, amount, it.DeclaredBy, it.Deadline)
	}
	return tw.Flush()
}

// ExportJSON is export's JSON: the INDICATOR_VALUES rows and the
// achievement rows of ops.ExportCollection.
type ExportJSON struct {
	Service     string                  `json:"service"`
	AchDate     domain.Date             `json:"achDate"`
	Status      string                  `json:"status"`
	Practices   int                     `json:"practices"`
	Values      []domain.IndicatorValue `json:"values"`
	Achievement []ops.AchievementRow    `json:"achievement"`
}

func (env Env) export(c Command) error {
	ex, err := ops.ExportCollection(env.Store, env.User, c.Service, c.Date, c.Status)
	if err != nil {
		return err
	}
	if c.JSON {
		j := ExportJSON{Service: ex.Service, AchDate: ex.AchDate, Status: ex.Status, Practices: ex.Practices,
			Values: ex.Values, Achievement: ex.Achievement}
		if j.Values == nil {
			j.Values = []domain.IndicatorValue{}
		}
		if j.Achievement == nil {
			j.Achievement = []ops.AchievementRow{}
		}
		return writeJSON(env.Out, j)
	}
	return ops.WriteValuesCSV(env.Out, ex.Values)
}

// printMissing lists the fields an indicator still lacks (a manual value not
// yet entered).
func printMissing(w io.Writer, a *Achievement) {
	for _, r := range a.Indicators {
		if len(r.Missing) > 0 {
			fmt.Fprintf(w, "%s: missing %s\n", r.ID, strings.Join(r.Missing, ", "))
		}
	}
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
}

// CollectionChange is the JSON of a timetable change.
type CollectionChange struct {
	Action     string             `json:"action"`
	Collection *domain.Collection `json:"collection"`
	// Moves are the dates the timetable moved off weekends and bank holidays.
	Moves []string `json:"moves,omitempty"`
}

// changeTimetable adds, reschedules, cancels or reopens a collection, each
// one audited transaction through the same ops as the command line.
func (env Env) changeTimetable(c Command) error {
	var (
		col   *domain.Collection
		moves []timetable.Move
		err   error
		done  string
	)
	switch c.Name {
	case "timetable add":
		col, moves, err = ops.AddCollection(env.Store, env.User, c.Service, c.Date, c.Dates, c.Reason)
		done = "added"
	case "timetable reschedule":
		col, moves, err = ops.Reschedule(env.Store, env.User, c.ID, c.Dates, c.Reason)
		done = "rescheduled"
	case "timetable cancel":
		col, err = ops.CancelCollection(env.Store, env.User, c.ID, c.Reason)
		done = "cancelled"
	case "timetable reopen":
		col, err = ops.ReopenCollection(env.Store, env.User, c.ID, c.Reason)
		done = "reopened"
	}
	if err != nil {
		return err
	}
	if c.JSON {
		out := CollectionChange{Action: done, Collection: col}
		for _, m := range moves {
			out.Moves = append(out.Moves, m.String())
		}
		return writeJSON(env.Out, out)
	}
	_, err = io.WriteString(env.Out, ops.DescribeChange(done, col, moves))
	return err
}

// PaymentRunJSON is payments run's JSON: the run as recorded and what the
// call did.
type PaymentRunJSON struct {
	Run      *domain.PaymentRun `json:"run"`
	Total    domain.Pence       `json:"total"`
	Existing bool               `json:"existing"`
	Pending  int                `json:"pending"`
}

// runPayments makes (or reads back) a period's run. The instruction CSV
// goes to stdout, so that "ssh -T HOST payments run --period P > file"
// captures exactly the file the command line would write; the summary goes
// to stderr.
func (env Env) runPayments(c Command) error {
	res, err := ops.RunPayments(env.Store, env.User, c.Period)
	if err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(env.Out, PaymentRunJSON{Run: res.Run, Total: res.Run.Total(), Existing: res.Existing, Pending: res.Pending})
	}
	if err := ops.WritePaymentCSV(env.Out, res.Run); err != nil {
		return err
	}
	fmt.Fprintln(env.Err, res.Describe())
	return nil
}
