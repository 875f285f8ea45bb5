package screens

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/domain/calc"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// CheckTimeout bounds a check run asked for from the screen.
const CheckTimeout = 10 * time.Minute

// Achievement is the achievement review: per indicator the register,
// denominator, numerator and each exception reason, achievement, points,
// pounds (Finance View only), the patients needed, a chart of the year's
// collections and the latest check against the clinical system.
type Achievement struct {
	base
	modal
	chooser
	dv     *ops.DeclarationView
	series map[string][]widgets.ChartRow
	check  *domain.CheckRun
	table  widgets.Table
	err    error
}

// NewAchievement makes the achievement review screen.
func NewAchievement(env *Env) *Achievement {
	return &Achievement{base: newBase(env), table: widgets.Table{Empty: "no indicators"}}
}

func (a *Achievement) Name() string    { return "achievement" }
func (a *Achievement) Title() string   { return "Achievement" }
func (a *Achievement) Short() string   { return "Ach" }
func (a *Achievement) Available() bool { return a.env.AnyPractice(domain.ActViewValues) }
func (a *Achievement) Capturing() bool { return a.open() }

func (a *Achievement) Wants(m session.Invalidate) bool {
	return m.Touches("declaration", "result", "manual", "check", "service", "collection", "participation") && m.TouchesPractice(a.practice)
}

// Focus opens the screen on a collection and practice.
func (a *Achievement) Focus(coll uint64, practice string) {
	a.practice, a.coll = practice, coll
	a.Reload()
}

// declaredColls lists the collections for which the practice has figures.
func declaredColls(env *Env, practice string) ([]*domain.Collection, error) {
	var out []*domain.Collection
	err := env.Store().View(func(tx *store.Tx) error {
		cs, err := tx.Collections("")
		if err != nil {
			return err
		}
		for _, c := range cs {
			if _, err := tx.Declaration(c.ID, practice); err == nil {
				out = append(out, c)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	return out, err
}

func (a *Achievement) Reload() {
	a.dv, a.check, a.series, a.err = nil, nil, nil, nil
	if a.err = a.refresh(a.env, domain.ActViewValues, declaredColls); a.err != nil {
		return
	}
	c := a.collection()
	if c == nil {
		a.fill()
		return
	}
	s, u := a.env.Store(), a.env.User
	if a.dv, a.err = ops.ViewDeclaration(s, u, c.ID, a.practice); a.err != nil {
		a.fill()
		return
	}
	// The year's chart: every collection of the same service with figures.
	a.series = map[string][]widgets.ChartRow{}
	var same []*domain.Collection
	for _, x := range a.colls {
		if x.Service == c.Service {
			same = append(same, x)
		}
	}
	sort.Slice(same, func(i, j int) bool { return same[i].AchDate < same[j].AchDate })
	for _, x := range same {
		v, err := ops.ViewDeclaration(s, u, x.ID, a.practice)
		if err != nil || v.Figures == nil {
			continue
		}
		for _, r := range v.Figures.Result.Indicators {
			a.series[r.ID] = append(a.series[r.ID], chartRow(v.Figures.Service, x, r))
		}
	}
	a.err = s.View(func(tx *store.Tx) error {
		cr, err := tx.CheckRun(c.ID, a.practice)
		if err == nil {
			a.check = cr
			return nil
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	a.fill()
}

// chartRow is one collection's bar for an indicator: achievement for
// achievement indicators (with the thresholds marked), the count or
// register otherwise.
func chartRow(svc *domain.ServiceDef, c *domain.Collection, r calc.IndicatorResult) widgets.ChartRow {
	row := widgets.ChartRow{Label: widgets.DateText(c.AchDate)}
	switch r.Kind {
	case domain.IndAchievement:
		row.Value, row.Text = widgets.Basis(r.Achievement), widgets.Percent(r.Achievement)
		if d, ok := svc.Indicator(r.ID); ok {
			row.Marks = []int64{int64(d.Lower), int64(d.Upper)}
		}
	case domain.IndCount:
		row.Value, row.Text = r.Count, widgets.Int(r.Count)
	default:
		row.Value, row.Text = r.Register, widgets.Int(r.Register)
	}
	return row
}

func needed(n int64) string {
	if n == calc.NotApplicable {
		return "-"
	}
	return widgets.Int(n)
}

func (a *Achievement) points() bool {
	return a.dv != nil && a.dv.Figures != nil && a.dv.Figures.Service.Kind == domain.KindPoints
}

func (a *Achievement) fill() {
	money := a.dv != nil && a.dv.MoneyShown
	if a.points() {
		a.table.Cols = []widgets.Column{{Title: "Indicator", Width: 9}, {Title: "Register", Width: 8, Right: true},
			{Title: "Denom", Width: 6, Right: true}, {Title: "Numer", Width: 6, Right: true}, {Title: "Except", Width: 6, Right: true, Optional: true},
			{Title: "Achieved", Width: 8, Right: true}, {Title: "Points", Width: 9, Right: true}}
		if money {
			a.table.Cols = append(a.table.Cols, widgets.Column{Title: "Pounds", Width: 10, Right: true})
		}
		a.table.Cols = append(a.table.Cols, widgets.Column{Title: "Need +1", Width: 7, Right: true}, widgets.Column{Title: "Need top", Width: 8, Right: true, Optional: true})
	} else {
		a.table.Cols = []widgets.Column{{Title: "Indicator", Width: 9}, {Title: "Kind", Width: 11}, {Title: "Count", Width: 8, Right: true},
			{Title: "Payable", Width: 8, Right: true}, {Title: "Fee", Width: 8, Right: true}}
		if money {
			a.table.Cols = append(a.table.Cols, widgets.Column{Title: "Pounds", Width: 11, Right: true})
		}
		a.table.Cols = append(a.table.Cols, widgets.Column{Title: "Notes"})
	}
	if a.dv == nil || a.dv.Figures == nil {
		a.table.SetRows(nil)
		return
	}
	var rows [][]string
	for _, r := range a.dv.Figures.Result.Indicators {
		var row []string
		if a.points() {
			var exc int64
			for _, x := range r.Reasons {
				exc += x.Value
			}
			reg, den, num, ex, ach, pts := widgets.Int(r.Register), "-", "-", "-", "-", "-"
			if r.Kind == domain.IndAchievement {
				den, num, ex, ach = widgets.Int(r.Denominator), widgets.Int(r.Numerator), widgets.Int(exc), widgets.Percent(r.Achievement)
			}
			if r.PointsMax > 0 {
				pts = calc.Decimal(r.Points, 2) + "/" + fmt.Sprint(r.PointsMax)
			}
			row = []string{r.ID, reg, den, num, ex, ach, pts}
			if money {
				row = append(row, a.pounds(r))
			}
			row = append(row, needed(r.NeededNextPoint), needed(r.NeededUpper))
		} else {
			count, pay, fee := widgets.Int(r.Count), "-", "-"
			if r.Kind == domain.IndRegister {
				count = widgets.Int(r.Register)
			}
			for _, m := range r.Missing {
				if strings.HasPrefix(m, r.ID+" ") {
					count = a.env.St.Mark(styles.Warn, "missing")
				}
			}
			if r.Kind == domain.IndCount {
				pay = widgets.Int(r.Payable)
				if r.Capped {
					pay += " capped"
				}
				fee = r.Fee.String()
				if !money {
					fee = "-"
				}
			}
			row = []string{r.ID, string(r.Kind), count, pay, fee}
			if money {
				row = append(row, a.pounds(r))
			}
			row = append(row, strings.Join(append(append([]string(nil), r.Missing...), r.Notes...), "; "))
		}
		rows = append(rows, row)
	}
	a.table.SetRows(rows)
}

func (a *Achievement) pounds(r calc.IndicatorResult) string {
	if r.Unpriced != "" {
		return a.env.St.Mark(styles.Warn, "unpriced")
	}
	return r.Pence.String()
}

func (a *Achievement) selected() (calc.IndicatorResult, bool) {
	if a.dv == nil || a.dv.Figures == nil || a.table.Cursor >= len(a.dv.Figures.Result.Indicators) {
		return calc.IndicatorResult{}, false
	}
	return a.dv.Figures.Result.Indicators[a.table.Cursor], true
}

func (a *Achievement) Update(msg tea.Msg) tea.Cmd {
	if d, ok := a.mine(msg); ok {
		a.report(d)
		a.Reload()
		return nil
	}
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if a.confirm.Active() {
		if _, yes, done := a.confirm.Update(k); done && yes {
			return a.requestCheck()
		} else if done {
			a.say(styles.Muted, "no check run requested")
		}
		return nil
	}
	if handled, changed := a.pickerKey(&a.modal, k); handled {
		if changed {
			a.table.Cursor = 0
			a.clear()
			a.Reload()
		}
		return nil
	}
	if a.table.HandleKey(k) {
		return nil
	}
	switch k.String() {
	case "r":
		c := a.collection()
		if c == nil {
			return nil
		}
		if err := a.env.Why(domain.ActRequestCheck, a.practice); err != nil {
			a.fail(err)
			return nil
		}
		if a.env.Ctx.Scheduler == nil {
			a.say(styles.Warn, "check runs need the extraction scheduler, which does not run in this process (use gpc serve)")
			return nil
		}
		a.confirm.Ask("check", fmt.Sprintf("Run a check of %s for %s against the clinical system now? It extracts the practice's current data and compares; nothing collected changes.", c.Label(), a.practice))
	}
	return nil
}

func (a *Achievement) requestCheck() tea.Cmd {
	runner := a.env.Ctx.Scheduler
	c := a.collection()
	if runner == nil || c == nil {
		return nil
	}
	u, id, practice := a.env.User, c.ID, a.practice
	a.say(styles.Info, "check run requested; extracting "+practice+" now...")
	return a.env.Run(a.id, "check", func() (string, any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), CheckTimeout)
		defer cancel()
		cr, err := runner.Check(ctx, u, id, practice)
		if err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("check run finished: %d fields agree, %d differ", cr.Same, len(cr.Diffs)), nil, nil
	})
}

// checkLines describes the latest check run.
func (a *Achievement) checkLines(w int) []string {
	st := a.env.St
	if a.check == nil {
		return []string{st.Faint.Render("No check run yet against the clinical system.")}
	}
	cr := a.check
	tone, what := styles.OK, "all "+widgets.Plural(cr.Same, "field")+" agree"
	if len(cr.Diffs) > 0 {
		tone, what = styles.Warn, fmt.Sprintf("%s differ%s, %d agree", widgets.Plural(len(cr.Diffs), "field"), map[bool]string{true: "s", false: ""}[len(cr.Diffs) == 1], cr.Same)
	}
	out := []string{fmt.Sprintf("Check run %s by %s against %s: %s", widgets.TimeText(cr.At), cr.RequestedBy, cr.Against, st.Mark(tone, what))}
	var diffs []string
	for _, d := range cr.Diffs {
		col, cur := "none", "none"
		if d.HasCollected {
			col = widgets.Int(d.Collected)
		}
		if d.HasCurrent {
			cur = widgets.Int(d.Current)
		}
		s := fmt.Sprintf("%s %s collected %s, now %s", d.Indicator, d.Field, col, cur)
		if d.HasCollected && d.HasCurrent {
			s += fmt.Sprintf(" (%+d)", d.Current-d.Collected)
		}
		diffs = append(diffs, s)
	}
	if len(diffs) > 0 {
		out = append(out, widgets.Wrap("  "+strings.Join(diffs, "; "), w)...)
	}
	if cr.Note != "" {
		out = append(out, st.Faint.Render("  note: "+cr.Note))
	}
	return out
}

func (a *Achievement) View(w, h int) string {
	st := a.env.St
	head := lines(section(st, "Achievement review")+st.Faint.Render("  p practice, c collection"), a.line(st))
	if a.err != nil {
		return a.view2(lines(head, st.Mark(styles.Bad, a.err.Error())), w, h)
	}
	if a.dv == nil {
		return a.view2(lines(head, st.Faint.Render("no figures yet: nothing has been extracted or entered for this practice")), w, h)
	}
	v := a.dv
	status := DeclStatus(st, v.Declaration.State) + "  " + DeclDeadline(st, v.Declaration.State, a.env.Today(), v.Collection.DeclarationDeadline)
	if v.Figures == nil {
		return a.view2(lines(head, status, st.Mark(styles.Info, "the declaration is locked as approved; its inputs have changed since and are not shown as current")), w, h)
	}
	f := v.Figures
	sum := fmt.Sprintf("points %s of %d", ops.PointsText(f.Result), f.Result.PointsMax)
	if f.Service.Kind == domain.KindItemOfService {
		sum = "item of service"
	}
	if v.MoneyShown {
		sum += "  |  " + f.Result.Pence.String()
		if len(f.Result.Unpriced) > 0 {
			sum += " " + st.Mark(styles.Warn, fmt.Sprintf("%d unpriced", len(f.Result.Unpriced)))
		}
	} else {
		sum += "  |  " + st.Faint.Render("pounds hidden: needs Finance View")
	}
	if f.ListSizeKnown {
		sum += "  |  list size " + widgets.Int(f.ListSize)
	} else {
		sum += "  |  " + st.Mark(styles.Warn, "no list size on "+widgets.DateText(f.ListSizeDate))
	}
	src := "extract"
	switch {
	case !f.HasExtract && f.ManualUsed:
		src = "manual entry"
	case f.ManualUsed:
		src = "extract + manual entry"
	case !f.HasExtract:
		src = "nothing collected yet"
	}
	sum += "  |  from " + src
	var detail []string
	if r, ok := a.selected(); ok {
		def, _ := f.Service.Indicator(r.ID)
		detail = append(detail, widgets.Cell(st.Heading.Render(r.ID)+" "+def.Description, w, false))
		if len(r.Reasons) > 0 {
			var rs []string
			for _, x := range r.Reasons {
				rs = append(rs, fmt.Sprintf("%s %s", x.Name, widgets.Int(x.Value)))
			}
			detail = append(detail, widgets.Wrap("exceptions: "+strings.Join(rs, ", "), w)...)
		}
		if r.Kind == domain.IndAchievement && def.Upper > 0 {
			detail = append(detail, fmt.Sprintf("thresholds %s; patients needed: %s for the next point, %s to reach the upper threshold",
				widgets.Thresholds(def.Lower, def.Upper), needed(r.NeededNextPoint), needed(r.NeededUpper)))
		}
		var warn []string
		warn = append(warn, r.Missing...)
		warn = append(warn, r.Notes...)
		if r.Unpriced != "" && v.MoneyShown {
			warn = append(warn, "unpriced: "+r.Unpriced)
		}
		if len(warn) > 0 {
			detail = append(detail, st.Mark(styles.Warn, strings.Join(warn, "; ")))
		}
		if rows := a.series[r.ID]; len(rows) > 0 {
			max, legend := int64(0), ""
			if r.Kind == domain.IndAchievement {
				max, legend = 10000, " (0-100%, | marks the thresholds)"
			}
			detail = append(detail, st.Heading.Render("This year's collections")+st.Faint.Render(legend))
			detail = append(detail, strings.Split(widgets.Chart(lastN(rows, 6), max, min(w, 70)), "\n")...)
		}
	}
	detail = append(detail, a.checkLines(w)...)
	top := lines(head, status, sum)
	if v.Declaration.Reason != "" {
		top = lines(top, st.Faint.Render("last change: "+v.Declaration.Reason))
	}
	used := strings.Count(top, "\n") + 1 + len(detail) + 1
	th := max(6, h-used)
	return a.view2(lines(top, a.table.View(st, w, th), strings.Join(detail, "\n")), w, h)
}

func lastN(rows []widgets.ChartRow, n int) []widgets.ChartRow {
	if len(rows) > n {
		return rows[len(rows)-n:]
	}
	return rows
}

// view2 lays the modal over the body.
func (a *Achievement) view2(body string, w, h int) string { return a.view(a.env.St, body, w, h) }

func (a *Achievement) Keys() help.KeyMap {
	if a.open() {
		return a.modal.keys()
	}
	r := bind("request check run", "r")
	r.SetEnabled(a.practice != "" && a.env.Can(domain.ActRequestCheck, a.practice))
	return keys(bind("indicator", "up", "down"), bind("practice", "p"), bind("collection", "c"), r)
}

// DeclStatus is a declaration's status as users know it, with its marker.
func DeclStatus(st *styles.Styles, s domain.State) string {
	return st.Mark(declTone(s), domain.DeclarationTitle(s))
}

// DeclDeadline counts down to the declaration deadline while the
// declaration awaits the practice; once declared (or further) the deadline
// is only a date, never "overdue".
func DeclDeadline(st *styles.Styles, s domain.State, today, deadline domain.Date) string {
	return stepDeadline(st, "declare", "declaration", s == domain.DeclCalculated || s == domain.DeclReturned, today, deadline)
}

// stepDeadline counts down to a deadline ("declare by 24 Apr 2026 - 3 days
// left", or overdue) while the step it governs is outstanding; otherwise
// it is only a date ("declaration deadline was 24 Apr 2026").
func stepDeadline(st *styles.Styles, verb, step string, outstanding bool, today, deadline domain.Date) string {
	if outstanding {
		return widgets.Deadline(st, verb, today, deadline)
	}
	if deadline.Valid() && deadline < today {
		return st.Faint.Render(step + " deadline was " + widgets.DateText(deadline))
	}
	return st.Faint.Render(step + " deadline " + widgets.DateText(deadline))
}

// declTone is what a declaration's state means for the person looking.
func declTone(s domain.State) styles.Tone {
	tone := styles.Plain
	switch s {
	case domain.DeclCalculated:
		tone = styles.Warn
	case domain.DeclDeclared:
		tone = styles.Info
	case domain.DeclApproved, domain.DeclFinanciallyApproved, domain.DeclPaid:
		tone = styles.OK
	case domain.DeclReturned:
		tone = styles.Bad
	}
	return tone
}
