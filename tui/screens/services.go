package screens

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// Services is the service information screen: what each service collects
// and how it pays, indicator by indicator, so a practice knows in advance
// what it must enter by hand.
type Services struct {
	base
	svcs  []*domain.ServiceDef
	cur   int
	table widgets.Table
	err   error
}

// NewServices makes the service information screen.
func NewServices(env *Env) *Services {
	return &Services{base: newBase(env), table: widgets.Table{Cols: []widgets.Column{
		{Title: "Indicator", Width: 9}, {Title: "Kind", Width: 11, Optional: true}, {Title: "Entry", Width: 8},
		{Title: "Points", Width: 6, Right: true}, {Title: "Thresholds", Width: 10}, {Title: "Fee", Width: 7, Right: true},
		{Title: "What it counts"},
	}}}
}

func (s *Services) Name() string    { return "services" }
func (s *Services) Title() string   { return "Services" }
func (s *Services) Short() string   { return "Svc" }
func (s *Services) Available() bool { return s.env.CanAny(domain.ActViewServiceInfo) }
func (s *Services) Capturing() bool { return false }

func (s *Services) Wants(m session.Invalidate) bool { return m.Touches("service") }

func (s *Services) Reload() {
	s.svcs, s.err = nil, domain.Authorize(s.env.User, domain.ActViewServiceInfo, domain.TargetNational())
	if s.err != nil {
		return
	}
	s.svcs, s.err = s.env.Services()
	if s.cur >= len(s.svcs) {
		s.cur = 0
	}
	s.fill()
}

func (s *Services) svc() *domain.ServiceDef {
	if s.cur < len(s.svcs) {
		return s.svcs[s.cur]
	}
	return nil
}

// EntryMark words an indicator's entry method, marking manual ones.
func EntryMark(st *styles.Styles, e domain.EntryMethod) string {
	if e == domain.EntryManual {
		return st.Mark(styles.Warn, "manual")
	}
	return st.Mark(styles.Muted, "auto")
}

func (s *Services) fill() {
	d := s.svc()
	if d == nil {
		s.table.SetRows(nil)
		return
	}
	p, _ := d.LatestParams()
	rows := make([][]string, 0, len(d.Indicators))
	for _, ind := range d.Indicators {
		points, thr, fee := "-", "-", "-"
		if ind.Points > 0 {
			points = fmt.Sprint(ind.Points)
		}
		if ind.Upper > 0 {
			thr = widgets.Thresholds(ind.Lower, ind.Upper)
		}
		if f, ok := p.Fees[ind.ID]; ok {
			fee = f.String()
		}
		rows = append(rows, []string{ind.ID, string(ind.Kind), EntryMark(s.env.St, ind.Entry), points, thr, fee, ind.Description})
	}
	s.table.SetRows(rows)
}

func (s *Services) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok || s.table.HandleKey(k) {
		return nil
	}
	switch k.String() {
	case "left", "h", "[":
		if len(s.svcs) > 0 {
			s.cur = (s.cur + len(s.svcs) - 1) % len(s.svcs)
			s.table.Cursor = 0
			s.fill()
		}
	case "right", "l", "]":
		if len(s.svcs) > 0 {
			s.cur = (s.cur + 1) % len(s.svcs)
			s.table.Cursor = 0
			s.fill()
		}
	}
	return nil
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// ParamsText describes a service's payment parameters in words.
func ParamsText(d *domain.ServiceDef, p domain.PaymentParams) string {
	var parts []string
	if p.PencePerPoint > 0 {
		parts = append(parts, p.PencePerPoint.String()+" per point")
	}
	if p.NationalAvgListSize > 0 {
		parts = append(parts, "national average list size "+widgets.Int(p.NationalAvgListSize))
	}
	if len(p.NationalPrevalence) > 0 {
		ids := make([]string, 0, len(p.NationalPrevalence))
		for id := range p.NationalPrevalence {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var prev []string
		for _, id := range ids {
			prev = append(prev, id+" "+p.NationalPrevalence[id].Percent(2))
		}
		parts = append(parts, "national prevalence "+strings.Join(prev, ", "))
	}
	if !p.AspirationShare.IsZero() {
		parts = append(parts, "aspiration "+p.AspirationShare.Percent(0)+" of the prior year")
	}
	if len(p.Fees) > 0 && d.Kind == domain.KindItemOfService {
		parts = append(parts, "fees per item as listed")
	}
	if p.ListSizeDate != "" {
		parts = append(parts, "list size on "+p.ListSizeDate+" (MM-DD)")
	}
	return fmt.Sprintf("v%d from %s: %s", p.Version, widgets.DateText(p.EffectiveFrom), strings.Join(parts, "; "))
}

func (s *Services) View(w, h int) string {
	st := s.env.St
	if s.err != nil {
		return lines(section(st, "Service information"), st.Mark(styles.Bad, s.err.Error()))
	}
	d := s.svc()
	if d == nil {
		return lines(section(st, "Service information"), st.Faint.Render("no services are defined yet"))
	}
	head := st.Title.Render(d.ID) + "  " + st.Heading.Render(d.Name) + st.Faint.Render(fmt.Sprintf("   (service %d of %d; left/right to switch)", s.cur+1, len(s.svcs)))
	how := "pays points on a threshold scale"
	if d.Kind == domain.KindItemOfService {
		how = "pays a fee per item counted"
	}
	facts := fmt.Sprintf("%s to %s, collected %s, %s; %s, %s%s", widgets.DateText(d.Start), widgets.DateText(d.End), d.Frequency, how,
		yesNo(d.DeclarationRequired, "declaration required", "no declaration required"),
		yesNo(d.ApprovalRequired, "approval required", "no approval required"),
		yesNo(d.AutoAccept, ", accepted automatically", ", offered by commissioners"))
	if d.RequestedBy != "" {
		facts += "; requested by " + d.RequestedBy
	}
	pay := st.Faint.Render("no payment parameters yet")
	if p, ok := d.LatestParams(); ok {
		pay = "Payment " + ParamsText(d, p)
	}
	var manual []string
	for _, f := range d.ManualFields() {
		manual = append(manual, f[0]+" "+f[1])
	}
	entry := st.Mark(styles.OK, "every value is extracted automatically; nothing to enter by hand (unless your extract fails)")
	if len(manual) > 0 {
		entry = st.Mark(styles.Warn, "you enter by hand: "+strings.Join(manual, ", ")+" (after the automatic extract, by the declaration deadline)")
	}
	var detail []string
	if s.table.Cursor < len(d.Indicators) {
		ind := d.Indicators[s.table.Cursor]
		detail = append(detail, st.Heading.Render(ind.ID)+" "+ind.Description)
		facts := []string{"fields " + strings.Join(ind.Fields(), ", ")}
		if ind.Register != "" {
			facts = append(facts, "register "+ind.Register)
		}
		if ind.PrevalenceBased {
			facts = append(facts, "paid by prevalence")
		}
		if ind.CapIndicator != "" {
			facts = append(facts, "capped by "+ind.CapIndicator)
		}
		detail = append(detail, strings.Join(facts, "; "))
		if ind.Note != "" {
			detail = append(detail, st.Faint.Render("note: "+ind.Note))
		}
	}
	var dl []string
	for _, l := range detail {
		dl = append(dl, widgets.Wrap(l, w)...)
	}
	if len(dl) > 5 {
		dl = dl[:5]
	}
	top := lines(head, strings.Join(widgets.Wrap(facts, w), "\n"), strings.Join(widgets.Wrap(pay, w), "\n"), entry)
	used := strings.Count(top, "\n") + 1 + len(dl) + 2
	return lines(top, "", s.table.View(st, w, h-used), "", strings.Join(dl, "\n"))
}

func (s *Services) Keys() help.KeyMap {
	return keys(bind("indicator", "up", "down"), bindAs("left/right", "service", "left", "right", "h", "l"))
}
