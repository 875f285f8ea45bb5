package screens

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/domain/calc"
	"gpcollections/store/ops"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// Declare shows exactly what a practice will declare (every value, the
// points and the amount) and declares it on confirmation. The confirmation
// sends the fingerprint of the figures shown, so figures that changed in
// the meantime are refused by the workflow rather than declared unseen.
type Declare struct {
	base
	modal
	chooser
	dv    *ops.DeclarationView
	hash  string // the fingerprint of the figures on screen
	table widgets.Table
	err   error
}

// NewDeclare makes the declaration screen.
func NewDeclare(env *Env) *Declare {
	return &Declare{base: newBase(env), table: widgets.Table{Empty: "no values"}}
}

func (d *Declare) Name() string    { return "declare" }
func (d *Declare) Title() string   { return "Declaration" }
func (d *Declare) Short() string   { return "Declare" }
func (d *Declare) Available() bool { return d.env.AnyPractice(domain.ActDeclare) }
func (d *Declare) Capturing() bool { return d.open() }

func (d *Declare) Wants(m session.Invalidate) bool {
	return m.Touches("declaration", "result", "manual", "service", "collection", "participation") && m.TouchesPractice(d.practice)
}

// Focus opens the declaration of a collection and practice.
func (d *Declare) Focus(coll uint64, practice string) {
	d.practice, d.coll = practice, coll
	d.Reload()
}

func (d *Declare) Reload() {
	before := d.hash
	d.dv, d.err, d.hash = nil, nil, ""
	if d.err = d.refresh(d.env, domain.ActDeclare, declaredColls); d.err != nil {
		return
	}
	if c := d.collection(); c != nil {
		d.dv, d.err = ops.ViewDeclaration(d.env.Store(), d.env.User, c.ID, d.practice)
	}
	if d.dv != nil {
		d.hash = d.dv.Declaration.InputsHash
		if d.dv.Figures != nil {
			d.hash = d.dv.Figures.Hash
		}
	}
	if d.confirm.Active() && d.hash != before {
		d.confirm.Cancel()
		d.say(styles.Warn, "the figures changed while you were confirming; review them again before declaring")
	}
	d.fill()
}

// declarable reports whether the practice's declaration awaits its
// declaration (as opposed to having been declared already).
func (d *Declare) declarable() bool {
	return d.dv != nil && (d.dv.Declaration.State == domain.DeclCalculated || d.dv.Declaration.State == domain.DeclReturned)
}

// values are what the table lists: the current figures while the
// declaration awaits the practice, the declared snapshot afterwards.
func (d *Declare) values() []domain.FieldValue {
	if d.dv == nil {
		return nil
	}
	if d.declarable() && d.dv.Figures != nil {
		return d.dv.Figures.Values
	}
	return d.dv.Declaration.Declared
}

// shownFigures are the calculation behind the rows: the current figures
// while the declaration awaits the practice, the declared ones afterwards
// (nil when those are no longer known per indicator).
func (d *Declare) shownFigures() *ops.Figures {
	if d.dv == nil {
		return nil
	}
	if d.declarable() {
		return d.dv.Figures
	}
	f, _ := d.dv.DeclaredFigures()
	return f
}

func (d *Declare) fill() {
	money := d.dv != nil && d.dv.MoneyShown
	d.table.Cols = []widgets.Column{{Title: "Indicator", Width: 9}, {Title: "Field", Width: 14}, {Title: "Value", Width: 9, Right: true}, {Title: "Points", Width: 11, Right: true}}
	if money {
		d.table.Cols = append(d.table.Cols, widgets.Column{Title: "Pounds", Width: 11, Right: true})
	}
	results := map[string]calc.IndicatorResult{}
	if f := d.shownFigures(); f != nil {
		for _, r := range f.Result.Indicators {
			results[r.ID] = r
		}
	}
	var rows [][]string
	last := ""
	for _, v := range d.values() {
		pts, pounds := "", ""
		if r, ok := results[v.Indicator]; ok && v.Indicator != last {
			if r.PointsMax > 0 {
				pts = calc.Decimal(r.Points, 2) + "/" + fmt.Sprint(r.PointsMax)
			}
			pounds = r.Pence.String()
			if r.Unpriced != "" {
				pounds = "unpriced"
			}
		}
		ind := v.Indicator
		if ind == last {
			ind = ""
		}
		last = v.Indicator
		row := []string{ind, v.Field, widgets.Int(v.Value), pts}
		if money {
			row = append(row, pounds)
		}
		rows = append(rows, row)
	}
	d.table.SetRows(rows)
}

func (d *Declare) totals() string {
	v := d.dv
	decl := v.Declaration
	n := len(d.values())
	points, amount := decl.Points, decl.Amount
	if d.declarable() && v.Figures != nil {
		points, amount = ops.PointsText(v.Figures.Result), v.Figures.Result.Pence
	}
	s := widgets.Plural(n, "value")
	if points != "" && v.Figures != nil && v.Figures.Service.Kind == domain.KindPoints {
		s += ", " + points + " points"
	}
	if v.MoneyShown {
		s += ", " + amount.String()
	}
	return s
}

func (d *Declare) Update(msg tea.Msg) tea.Cmd {
	if r, ok := d.mine(msg); ok {
		d.report(r)
		d.Reload()
		return nil
	}
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if d.confirm.Active() {
		if _, yes, done := d.confirm.Update(k); done && yes {
			return d.declare()
		} else if done {
			d.say(styles.Muted, "not declared")
		}
		return nil
	}
	if handled, changed := d.pickerKey(&d.modal, k); handled {
		if changed {
			d.table.Cursor = 0
			d.clear()
			d.Reload()
		}
		return nil
	}
	if d.table.HandleKey(k) {
		return nil
	}
	switch k.String() {
	case "d":
		if d.dv == nil {
			return nil
		}
		if err := d.env.Why(domain.ActDeclare, d.practice); err != nil {
			d.fail(err)
			return nil
		}
		if !d.declarable() {
			// Let the workflow say why (already declared, approved, locked).
			_, err := domain.DeclarationMachine.Fire(d.dv.Declaration.State, domain.EvDeclare)
			d.fail(fmt.Errorf("%s, %s: %w", d.dv.Collection.Label(), d.practice, err))
			return nil
		}
		d.confirm.Ask("declare", fmt.Sprintf("Declare %s for %s exactly as shown: %s (figures ref %.8s)?",
			d.dv.Collection.Label(), d.practice, d.totals(), d.hash))
	}
	return nil
}

func (d *Declare) declare() tea.Cmd {
	s, u, id, practice, hash := d.env.Store(), d.env.User, d.coll, d.practice, d.hash
	return d.env.Run(d.id, "declare", func() (string, any, error) {
		err := ops.Declare(s, u, id, practice, hash)
		return "declared; it now awaits the commissioner", nil, err
	})
}

func (d *Declare) View(w, h int) string {
	st := d.env.St
	head := lines(section(st, "Declaration")+st.Faint.Render("  p practice, c collection"), d.line(st))
	if d.err != nil {
		return d.view(st, lines(head, st.Mark(styles.Bad, d.err.Error())), w, h)
	}
	if d.dv == nil {
		return d.view(st, lines(head, st.Faint.Render("nothing to declare yet: no figures have been calculated for this practice")), w, h)
	}
	v := d.dv
	decl := v.Declaration
	status := DeclStatus(st, decl.State) + "  " + DeclDeadline(st, decl.State, d.env.Today(), v.Collection.DeclarationDeadline)
	var info []string
	if decl.Reason != "" && decl.State != domain.DeclDeclared {
		tone := styles.Muted
		if decl.State == domain.DeclReturned {
			tone = styles.Bad
		}
		info = append(info, widgets.Wrap(st.Mark(tone, "last change: "+decl.Reason), w)...)
	}
	what := "You will declare: " + d.totals() + fmt.Sprintf("  (figures ref %.8s)", d.hash)
	if !d.declarable() {
		what = "Declared: " + d.totals()
		if ch, ok := lastDeclared(decl); ok {
			what += " by " + ch.By + " on " + widgets.TimeText(ch.At)
		}
	}
	if !v.MoneyShown {
		what += st.Faint.Render("  (pounds hidden: needs Finance View)")
	}
	if !d.declarable() && d.shownFigures() == nil && len(decl.Declared) > 0 {
		info = append(info, widgets.Wrap(st.Mark(styles.Muted, "the inputs have changed since this was declared, so points and pounds per indicator are not shown; the totals above are as declared"), w)...)
	}
	if d.declarable() && v.Figures != nil && len(v.Figures.Result.Unpriced) > 0 {
		info = append(info, widgets.Wrap(st.Mark(styles.Warn, "unpriced: "+strings.Join(v.Figures.Result.Unpriced, ", ")+" (a payment parameter is missing; they are not paid until it is set)"), w)...)
	}
	top := lines(head, status, strings.Join(info, "\n"), st.Heading.Render(what))
	used := strings.Count(top, "\n") + 1
	return d.view(st, lines(top, d.table.View(st, w, h-used)), w, h)
}

func lastDeclared(decl *domain.Declaration) (domain.Change, bool) {
	for i := len(decl.History) - 1; i >= 0; i-- {
		if decl.History[i].Event == domain.EvDeclare {
			return decl.History[i], true
		}
	}
	return domain.Change{}, false
}

func (d *Declare) Keys() help.KeyMap {
	if d.open() {
		return d.modal.keys()
	}
	dk := bind("declare", "d")
	dk.SetEnabled(d.declarable() && d.env.Can(domain.ActDeclare, d.practice))
	return keys(bind("scroll", "up", "down"), dk, bind("practice", "p"), bind("collection", "c"))
}
