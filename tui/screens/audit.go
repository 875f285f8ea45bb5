package screens

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// Audit is the audit log, newest first, filtered by user, action and text.
// National viewers see every entry; everyone else the entries of the
// organisations they may view (a commissioner's include its practices').
type Audit struct {
	base
	modal
	entries []domain.AuditEntry
	user    string
	action  string
	text    string
	all     bool
	orgs    []string
	table   widgets.Table
	err     error
}

// AuditLimit is how many entries the screen reads at a time.
const AuditLimit = 200

// NewAudit makes the audit log screen.
func NewAudit(env *Env) *Audit {
	return &Audit{base: newBase(env), table: widgets.Table{
		Empty: "no audit entries match",
		Cols: []widgets.Column{{Title: "When", Width: 12}, {Title: "User", Width: 8}, {Title: "Action", Width: 28},
			{Title: "Org", Width: 6}, {Title: "Target"}},
	}}
}

func (a *Audit) Name() string    { return "audit" }
func (a *Audit) Title() string   { return "Audit" }
func (a *Audit) Short() string   { return "Audit" }
func (a *Audit) Available() bool { return a.env.CanAny(domain.ActViewAudit) }
func (a *Audit) Capturing() bool { return a.open() }

// Wants: every audited write may add an entry.
func (a *Audit) Wants(m session.Invalidate) bool { return m.Touches(auditedKinds...) }

func (a *Audit) Reload() {
	a.entries = nil
	orgs, ok, err := a.env.AuditScope()
	a.err = err
	if err == nil && !ok {
		a.err = a.env.WhyNot(domain.ActViewAudit)
	}
	if a.err != nil {
		a.table.SetRows(nil)
		return
	}
	a.all, a.orgs = orgs == nil, orgs
	f := store.AuditFilter{Orgs: orgs, User: a.user, Action: a.action, Text: a.text, Limit: AuditLimit}
	a.err = a.env.Store().View(func(tx *store.Tx) error {
		var err error
		a.entries, err = tx.AuditEntries(f)
		return err
	})
	labels := a.env.Labels()
	rows := make([][]string, 0, len(a.entries))
	for _, e := range a.entries {
		rows = append(rows, []string{widgets.ShortTime(e.At), e.User, e.Action, e.Org, TargetText(e.Target, labels)})
	}
	a.table.SetRows(rows)
}

func (a *Audit) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if a.promptTag != "" {
		tag, value, ok, done := a.promptUpdate(k)
		if done && ok {
			value = strings.TrimSpace(value)
			switch tag {
			case "user":
				a.user = value
			case "action":
				a.action = value
			case "text":
				a.text = value
			}
			a.table.Cursor = 0
			a.Reload()
		}
		return nil
	}
	if a.table.HandleKey(k) {
		return nil
	}
	switch k.String() {
	case "u":
		a.ask("user", "Show entries by user (empty for everyone)", "user: ", a.user, 32)
	case "a":
		a.ask("action", "Show actions starting with (e.g. declaration.)", "action: ", a.action, 40)
	case "/":
		a.ask("text", "Show entries whose target or change contains", "text: ", a.text, 80)
	case "esc":
		if a.user != "" || a.action != "" || a.text != "" {
			a.user, a.action, a.text = "", "", ""
			a.Reload()
		}
	}
	return nil
}

func (a *Audit) View(w, h int) string {
	st := a.env.St
	scope := "all organisations"
	if !a.all {
		scope = strings.Join(a.orgs, ", ")
	}
	var filters []string
	for _, f := range [][2]string{{"user", a.user}, {"action", a.action}, {"text", a.text}} {
		if f[1] != "" {
			filters = append(filters, fmt.Sprintf("%s=%q", f[0], f[1]))
		}
	}
	fl := "no filter"
	if len(filters) > 0 {
		fl = strings.Join(filters, " ")
	}
	head := section(st, "Audit log") + st.Faint.Render(fmt.Sprintf("  %s; %s; newest first, up to %d", scope, fl, AuditLimit))
	if a.err != nil {
		return a.view(st, lines(head, st.Mark(styles.Bad, a.err.Error())), w, h)
	}
	var detail []string
	if a.table.Cursor < len(a.entries) && len(a.entries) > 0 {
		e := a.entries[a.table.Cursor]
		detail = append(detail, fmt.Sprintf("#%d %s by %s: %s %s", e.Seq, widgets.TimeText(e.At), e.User, e.Action, e.Target))
		if e.Before != "" {
			detail = append(detail, widgets.Wrap("before: "+e.Before, w)...)
		}
		if e.After != "" {
			detail = append(detail, widgets.Wrap("after: "+e.After, w)...)
		}
		if len(detail) > 6 {
			detail = append(detail[:6], st.Faint.Render("..."))
		}
	}
	used := 1 + len(detail) + 1
	return a.view(st, lines(head, a.table.View(st, w, h-used), "", strings.Join(detail, "\n")), w, h)
}

func (a *Audit) Keys() help.KeyMap {
	if a.open() {
		return a.modal.keys()
	}
	return keys(bind("move", "up", "down"), bind("user filter", "u"), bind("action filter", "a"), bind("text filter", "/"), bind("clear filters", "esc"))
}
