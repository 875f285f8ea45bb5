package screens

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// Home lists the signed-in user's tasks with their deadlines, counted down
// from today, and what changed in their organisations since their previous
// visit.
type Home struct {
	base
	modal
	tasks   []task
	changes []domain.AuditEntry
	labels  map[uint64]string
	scoped  bool
	table   widgets.Table
	err     error
	// aimed is the offer a question was asked about: tasks come and go
	// live, so the answer must not take whatever task is under the cursor.
	aimed *task
}

// task is one thing the user should do.
type task struct {
	kind     string // offer, declare, manual, approve, finance, failed
	text     string
	due      domain.Date
	verb     string // "declare", "approve", ... for the countdown
	dueText  string // said instead of a countdown when there is no deadline
	jump     Goto
	service  string
	practice string
}

var taskOrder = map[string]int{"declare": 0, "manual": 1, "offer": 2, "approve": 3, "finance": 4, "failed": 5}

// NewHome makes the home screen.
func NewHome(env *Env) *Home {
	return &Home{base: newBase(env), table: widgets.Table{
		Empty: "nothing to do: no offers, declarations, entries or approvals await you",
		Cols:  []widgets.Column{{Title: "Task"}, {Title: "Deadline", Width: 40}},
	}}
}

func (h *Home) Name() string    { return "home" }
func (h *Home) Title() string   { return "Home" }
func (h *Home) Short() string   { return "Home" }
func (h *Home) Available() bool { return true }
func (h *Home) Capturing() bool { return h.open() }

// Wants: tasks and the changes list follow audited writes; failed jobs
// matter only to those who can retry them (progress is not a task).
func (h *Home) Wants(m session.Invalidate) bool {
	return m.Touches(auditedKinds...) ||
		(m.Touches("job") && domain.Can(h.env.User, domain.ActControlExtraction, domain.TargetNational()))
}

func (h *Home) Reload() {
	h.tasks, h.err = nil, nil
	for _, step := range []func() error{h.offers, h.declarations, h.manual, h.approvals, h.failures} {
		if err := step(); err != nil {
			h.err = err
			break
		}
	}
	sort.SliceStable(h.tasks, func(i, j int) bool {
		a, b := h.tasks[i], h.tasks[j]
		if a.due != b.due {
			return a.due < b.due
		}
		if taskOrder[a.kind] != taskOrder[b.kind] {
			return taskOrder[a.kind] < taskOrder[b.kind]
		}
		return a.text < b.text
	})
	st, today := h.env.St, h.env.Today()
	rows := make([][]string, 0, len(h.tasks))
	for _, t := range h.tasks {
		due := st.Faint.Render("no deadline")
		if t.dueText != "" {
			due = st.Faint.Render(t.dueText)
		}
		if t.due.Valid() {
			due = widgets.Deadline(st, t.verb, today, t.due)
		}
		rows = append(rows, []string{t.text, due})
	}
	h.table.SetRows(rows)
	h.loadChanges()
}

// offers: open offers the user may answer.
func (h *Home) offers() error {
	if !h.env.CanAny(domain.ActAcceptOffer) {
		return nil
	}
	ps, err := ops.Participations(h.env.Store(), h.env.User, "", "")
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.State != domain.PartOffered || !h.env.Can(domain.ActAcceptOffer, p.Practice) {
			continue
		}
		h.tasks = append(h.tasks, task{kind: "offer", due: domain.NoDate, service: p.Service, practice: p.Practice,
			dueText: fmt.Sprintf("service runs %s to %s", widgets.DateText(p.From), widgets.DateText(p.To)),
			text:    fmt.Sprintf("Answer offer: %s for %s (a accept, x decline)", p.Service, p.Practice)})
	}
	return nil
}

// declarations: figures awaiting the practice's declaration.
func (h *Home) declarations() error {
	ps, err := h.env.Practices(domain.ActDeclare)
	if err != nil || len(ps) == 0 {
		return err
	}
	mine := map[string]bool{}
	for _, p := range ps {
		mine[p.Code] = true
	}
	return h.env.Store().View(func(tx *store.Tx) error {
		for _, state := range []domain.State{domain.DeclCalculated, domain.DeclReturned} {
			ds, err := tx.DeclarationsIn(state)
			if err != nil {
				return err
			}
			for _, d := range ds {
				if !mine[d.Practice] {
					continue
				}
				if ok, err := ops.Participating(tx, d.Service, d.Practice); err != nil {
					return err
				} else if !ok {
					continue
				}
				c, err := tx.Collection(d.Collection)
				if err != nil {
					return err
				}
				text := fmt.Sprintf("Declare %s %s for %s", c.Service, widgets.DateText(c.AchDate), d.Practice)
				if state == domain.DeclReturned {
					text = fmt.Sprintf("Declare again %s %s for %s: returned (%s)", c.Service, widgets.DateText(c.AchDate), d.Practice, d.Reason)
				}
				h.tasks = append(h.tasks, task{kind: "declare", verb: "declare", due: c.DeclarationDeadline, text: text,
					jump: Goto{Screen: "declare", Collection: c.ID, Practice: d.Practice}})
			}
		}
		return nil
	})
}

// manual: open manual entry forms of the user's own practices (a
// commissioner may enter on a practice's behalf, but it is not their task).
func (h *Home) manual() error {
	for _, g := range h.env.User.Grants {
		if g.OrgKind != domain.OrgPractice || g.Role != domain.RoleAchievementEntry {
			continue
		}
		cs, err := manualColls(h.env, g.Org)
		if err != nil {
			return err
		}
		for _, c := range cs {
			f, err := ops.ManualFormFor(h.env.Store(), h.env.User, c.ID, g.Org)
			if err != nil {
				return err
			}
			if f.Closed != "" || f.Entry.State == domain.ManualSubmitted || len(f.Fields) == 0 {
				continue
			}
			state := "not started"
			if f.Entry.Version > 0 {
				state = "draft saved"
			}
			h.tasks = append(h.tasks, task{kind: "manual", verb: "enter", due: f.Deadline,
				text: fmt.Sprintf("Enter manual values: %s %s for %s (%s)", c.Service, widgets.DateText(c.AchDate), g.Org, state),
				jump: Goto{Screen: "manual", Collection: c.ID, Practice: g.Org}})
		}
	}
	return nil
}

// approvals: the queue awaiting the user, grouped by collection.
func (h *Home) approvals() error {
	if !h.env.CanAny(domain.ActApprove) && !h.env.CanAny(domain.ActFinanceApprove) {
		return nil
	}
	items, err := ops.Queue(h.env.Store(), h.env.User, ops.QueueFilter{})
	if err != nil {
		return err
	}
	type group struct {
		label string
		state domain.State
		due   domain.Date
		n     int
		coll  uint64
	}
	groups := map[string]*group{}
	var order []string
	for _, it := range items {
		k := fmt.Sprintf("%s|%s", it.Label, it.State)
		g := groups[k]
		if g == nil {
			g = &group{label: it.Service + " " + widgets.DateText(it.AchDate), state: it.State, due: it.Deadline, coll: it.Ref.Collection}
			groups[k] = g
			order = append(order, k)
		}
		g.n++
	}
	for _, k := range order {
		g := groups[k]
		kind, verb := "approve", "Approve"
		if g.state == domain.DeclApproved {
			kind, verb = "finance", "Finance-approve"
		}
		h.tasks = append(h.tasks, task{kind: kind, verb: "approve", due: g.due,
			text: fmt.Sprintf("%s %s: %s", verb, widgets.Plural(g.n, "declaration"), g.label),
			jump: Goto{Screen: "queue", Collection: g.coll}})
	}
	return nil
}

// failures: failed extractions, for those who can retry them.
func (h *Home) failures() error {
	if !domain.Can(h.env.User, domain.ActControlExtraction, domain.TargetNational()) {
		return nil
	}
	return h.env.Store().View(func(tx *store.Tx) error {
		jobs, err := tx.Jobs(0)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.State != domain.JobFailed {
				continue
			}
			c, err := tx.Collection(j.Collection)
			if err != nil {
				return err
			}
			h.tasks = append(h.tasks, task{kind: "failed", verb: "fix", due: c.DeclarationDeadline,
				text: fmt.Sprintf("Failed extraction: %s %s for %s (see the monitor)", c.Service, widgets.DateText(c.AchDate), j.Practice),
				jump: Goto{Screen: "monitor", Collection: c.ID, Practice: j.Practice}})
		}
		return nil
	})
}

// HomeChanges is how many changes since the last visit home reads.
const HomeChanges = 50

func (h *Home) loadChanges() {
	h.changes, h.scoped = nil, false
	if !h.env.VisitKnown || h.env.PrevVisit.IsZero() {
		return
	}
	orgs, ok, err := h.env.AuditScope()
	if err != nil || !ok {
		return
	}
	h.scoped = true
	f := store.AuditFilter{Orgs: orgs, Since: h.env.PrevVisit, Limit: HomeChanges}
	var all []domain.AuditEntry
	_ = h.env.Store().View(func(tx *store.Tx) error {
		var err error
		all, err = tx.AuditEntries(f)
		return err
	})
	if len(all) > 0 {
		h.labels = h.env.Labels()
	}
	// What others changed: the user knows what they did themselves.
	for _, e := range all {
		if e.User != h.env.User.Name {
			h.changes = append(h.changes, e)
		}
	}
}

func (h *Home) current() *task {
	if h.table.Cursor < len(h.tasks) && len(h.tasks) > 0 {
		return &h.tasks[h.table.Cursor]
	}
	return nil
}

func (h *Home) Update(msg tea.Msg) tea.Cmd {
	if d, ok := h.mine(msg); ok {
		h.report(d)
		h.Reload()
		return nil
	}
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if h.confirm.Active() {
		tag, yes, done := h.confirm.Update(k)
		if done && yes {
			return h.answer(tag)
		}
		if done {
			h.say(styles.Muted, "offer left open")
		}
		return nil
	}
	if h.table.HandleKey(k) {
		return nil
	}
	t := h.current()
	switch k.String() {
	case "enter":
		if t != nil && t.jump.Screen != "" {
			j := t.jump
			return func() tea.Msg { return j }
		}
	case "a", "x":
		if t == nil || t.kind != "offer" {
			h.say(styles.Muted, "choose an offer to answer")
			return nil
		}
		if err := h.env.Why(domain.ActAcceptOffer, t.practice); err != nil {
			h.fail(err)
			return nil
		}
		aimed := *t
		h.aimed = &aimed
		if k.String() == "a" {
			return h.answer("accept")
		}
		h.confirm.Ask("decline", fmt.Sprintf("Decline the offer of %s for %s? The commissioner must offer it again to take part.", t.service, t.practice))
	}
	return nil
}

func (h *Home) answer(tag string) tea.Cmd {
	t := h.aimed
	if t == nil {
		return nil
	}
	s, u, svc, practice := h.env.Store(), h.env.User, t.service, t.practice
	return h.env.Run(h.id, tag, func() (string, any, error) {
		if tag == "accept" {
			return fmt.Sprintf("accepted %s for %s", svc, practice), nil, ops.Accept(s, u, svc, practice)
		}
		return fmt.Sprintf("declined %s for %s", svc, practice), nil, ops.Decline(s, u, svc, practice, "")
	})
}

// whoText says who is signed in and for which organisations.
func whoText(u *domain.User) string {
	var parts []string
	for _, org := range u.Orgs() {
		parts = append(parts, orgRoles(u, org)+" for "+org)
	}
	if len(parts) == 0 {
		return u.FullName + " (" + u.Name + "), no roles"
	}
	return u.FullName + " (" + u.Name + "): " + strings.Join(parts, "; ")
}

func (h *Home) View(w, ht int) string {
	st := h.env.St
	head := lines(section(st, "Home")+"  "+whoText(h.env.User),
		st.Heading.Render(fmt.Sprintf("Your tasks (%d)", len(h.tasks)))+st.Faint.Render("  enter opens the task"))
	if h.err != nil {
		head = lines(head, st.Mark(styles.Bad, h.err.Error()))
	}
	var ch []string
	switch {
	case !h.env.VisitKnown:
	case h.env.PrevVisit.IsZero():
		ch = append(ch, st.Heading.Render("Welcome")+": this is your first visit, so there is nothing to compare with yet.")
	case !h.scoped:
		ch = append(ch, st.Faint.Render("Changes since your last visit are shown to users with View for their organisation."))
	default:
		ch = append(ch, st.Heading.Render(fmt.Sprintf("Since your last visit on %s: %s by others", widgets.TimeText(h.env.PrevVisit), widgets.Plural(len(h.changes), "change"))))
		for _, e := range h.changes {
			ch = append(ch, fmt.Sprintf("  %s  %-8s %-26s %s", widgets.ShortTime(e.At), e.User, e.Action, TargetText(e.Target, h.labels)))
		}
	}
	room := ht - (strings.Count(head, "\n") + 1) - 1
	tableH := min(len(h.tasks)+3, max(4, room/2))
	if len(h.tasks) == 0 {
		tableH = 3
	}
	if len(ch) > room-tableH {
		keep := max(1, room-tableH-1)
		if keep < len(ch) {
			more := len(ch) - keep
			ch = append(ch[:keep], st.Faint.Render(fmt.Sprintf("  ... and %d more in the audit log", more)))
		}
	}
	return h.view(st, lines(head, h.table.View(st, w, tableH), "", strings.Join(ch, "\n")), w, ht)
}

func (h *Home) Keys() help.KeyMap {
	if h.open() {
		return h.modal.keys()
	}
	a, x := bind("accept offer", "a"), bind("decline offer", "x")
	offers := h.env.CanAny(domain.ActAcceptOffer)
	a.SetEnabled(offers)
	x.SetEnabled(offers)
	return keys(bind("move", "up", "down"), bind("open task", "enter"), a, x)
}
