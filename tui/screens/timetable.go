package screens

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/store/ops"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// Timetable lists every collection with its extraction window and
// deadlines, narrowed by a text filter whose words must each match the
// service, the status or a date ("QOF extracted 2026-04"). Timetable
// administrators and extract monitors can also cancel, reopen, pause and
// resume a collection from here; timetable administrators add and
// reschedule collections and run payments (timetable_admin.go).
type Timetable struct {
	base
	modal
	all   []*domain.Collection
	shown []*domain.Collection
	// steps count the declarations the user may see that await each
	// collection's steps: a deadline is overdue only while its step is.
	steps map[uint64]ops.StepsDue
	// seesDeclarations: the user may see some practice's declarations, so
	// steps are known; a requester's are not.
	seesDeclarations bool
	filter           widgets.Input
	filtering        bool
	table            widgets.Table
	err              error
	pending          string // reason typed for the action awaiting confirmation
	// aimed is the collection a cancel, reopen or pause was asked about:
	// the answer acts on it even if the rows moved under the cursor
	// meanwhile (another session added a collection, say).
	aimed  *domain.Collection
	placed bool // the cursor has been put on the first current collection

	wiz    wizard
	plan   datePlan           // the date prompts' starting point
	target *domain.Collection // the collection being rescheduled
	change *timetableChange   // the addition or reschedule awaiting confirmation
	period string             // the payment month awaiting confirmation
	paid   *ops.PaymentRunResult
	// focus is a collection to put the cursor on at the next reload (one
	// just added).
	focus uint64
}

// NewTimetable makes the timetable screen.
func NewTimetable(env *Env) *Timetable {
	t := &Timetable{base: newBase(env)}
	t.filter = widgets.NewInput("filter: ", "words matching service, status or date", 60)
	t.table = widgets.Table{Empty: "no collection matches the filter", Cols: []widgets.Column{
		{Title: "Service", Width: 12}, {Title: "Achieved", Width: 11}, {Title: "Status", Width: 13},
		{Title: "Window", Width: 14, Optional: true}, {Title: "Declare", Width: 7}, {Title: "Approve", Width: 7, Optional: true}, {Title: "Next"},
	}}
	return t
}

func (t *Timetable) Name() string    { return "timetable" }
func (t *Timetable) Title() string   { return "Timetable" }
func (t *Timetable) Short() string   { return "Times" }
func (t *Timetable) Available() bool { return t.env.CanAny(domain.ActViewTimetable) }
func (t *Timetable) Capturing() bool { return t.filtering || t.open() || t.wiz.active() }

// Wants: collections, and the declarations the user may see, whose steps
// decide whether a passed deadline is overdue.
func (t *Timetable) Wants(m session.Invalidate) bool {
	if m.Touches("collection") {
		return true
	}
	for _, c := range m.Changes {
		if c.Kind == "declaration" && (c.Practice == "" || t.env.Can(domain.ActViewValues, c.Practice)) {
			return true
		}
	}
	return false
}

// canManage: cancelling is a timetable and an extraction decision.
func (t *Timetable) canManage() bool {
	return t.env.CanAny(domain.ActManageTimetable) || t.env.CanAny(domain.ActControlExtraction)
}

func (t *Timetable) Reload() {
	t.all, t.err = ops.Timetable(t.env.Store(), t.env.User, "")
	if t.err == nil {
		t.steps, t.err = ops.StepsOutstanding(t.env.Store(), t.env.User)
		t.seesDeclarations = t.env.AnyPractice(domain.ActViewValues)
	}
	t.apply()
	if t.focus != 0 {
		for i, c := range t.shown {
			if c.ID == t.focus {
				t.table.Show(i)
				t.placed = true
			}
		}
		t.focus = 0
	}
	t.staleReschedule()
	if !t.placed && len(t.shown) > 0 {
		// Open on what is current rather than last year's closed collections.
		t.placed = true
		for i, c := range t.shown {
			if c.Status != domain.CollClosed && c.Status != domain.CollCancelled {
				t.table.Show(i)
				break
			}
		}
	}
}

// CollStatus is a collection's status with its marker.
func CollStatus(st *styles.Styles, c *domain.Collection) string {
	tone, s := collTone(c)
	if c.Paused {
		s += " (paused)"
	}
	return st.Mark(tone, s)
}

// CollStatusShort is CollStatus for a narrow column: a paused collection
// is "paused", the word that matters while the scheduler holds off it
// (its state shows beside it, in the detail).
func CollStatusShort(st *styles.Styles, c *domain.Collection) string {
	tone, s := collTone(c)
	if c.Paused {
		s = "paused"
	}
	return st.Mark(tone, s)
}

// collTone is a collection's status word and tone.
func collTone(c *domain.Collection) (styles.Tone, string) {
	tone := styles.Plain
	switch c.Status {
	case domain.CollScheduled:
		tone = styles.Muted
	case domain.CollExtracting:
		tone = styles.Info
	case domain.CollExtracted:
		tone = styles.OK
	case domain.CollClosed:
		tone = styles.Muted
	case domain.CollCancelled:
		tone = styles.Bad
	}
	if c.Paused {
		tone = styles.Warn
	}
	return tone, string(c.Status)
}

func shortDate(d domain.Date) string {
	if !d.Valid() {
		return "-"
	}
	_, m, day := d.Civil()
	return fmt.Sprintf("%d %s", day, m.String()[:3])
}

// next words what happens next for a collection, seen from today.
func (t *Timetable) next(c *domain.Collection) string {
	st, today := t.env.St, t.env.Today()
	switch c.Status {
	case domain.CollScheduled:
		if today < c.WindowStart {
			left, _ := widgets.Countdown(today, c.WindowStart)
			return st.Mark(styles.Muted, "window opens, "+left)
		}
		return st.Mark(styles.Warn, "window open, waiting to run")
	case domain.CollExtracting:
		return st.Mark(styles.Info, "extracting now")
	case domain.CollExtracted:
		// The first step still outstanding, overdue or not; then payment.
		declare, approve := t.outstanding(c)
		switch {
		case declare:
			return stepDue(st, "declare", today, c.DeclarationDeadline)
		case approve:
			return stepDue(st, "approve", today, c.ApprovalDeadline)
		}
		return st.Mark(styles.Muted, "payment "+shortDate(c.PaymentDate))
	}
	return ""
}

// stepDue is an outstanding step for the Next column: "declare: 3 days
// left", or "declare overdue" (the detail below the table counts the days).
func stepDue(st *styles.Styles, verb string, today, deadline domain.Date) string {
	left, tone := widgets.Countdown(today, deadline)
	if deadline.Valid() && deadline < today {
		return st.Mark(tone, verb+" overdue")
	}
	return st.Mark(tone, verb+": "+left)
}

// matches reports whether every word of the filter matches c.
func matches(c *domain.Collection, words []string) bool {
	for _, w := range words {
		ok := strings.HasPrefix(strings.ToLower(c.Service), w) || strings.HasPrefix(string(c.Status), w) ||
			(w == "paused" && c.Paused)
		for _, d := range []domain.Date{c.AchDate, c.WindowStart, c.WindowEnd, c.DeclarationDeadline, c.ApprovalDeadline, c.PaymentDate} {
			ok = ok || strings.Contains(d.String(), w) || strings.Contains(strings.ToLower(widgets.DateText(d)), w)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (t *Timetable) apply() {
	words := strings.Fields(strings.ToLower(t.filter.Value()))
	t.shown = t.shown[:0]
	rows := [][]string{}
	st := t.env.St
	for _, c := range t.all {
		if !matches(c, words) {
			continue
		}
		t.shown = append(t.shown, c)
		rows = append(rows, []string{c.Service, widgets.DateText(c.AchDate), CollStatusShort(st, c),
			shortDate(c.WindowStart) + " - " + shortDate(c.WindowEnd), shortDate(c.DeclarationDeadline),
			shortDate(c.ApprovalDeadline), t.next(c)})
	}
	t.table.SetRows(rows)
}

func (t *Timetable) selected() *domain.Collection {
	if t.table.Cursor < len(t.shown) && len(t.shown) > 0 {
		return t.shown[t.table.Cursor]
	}
	return nil
}

func (t *Timetable) Update(msg tea.Msg) tea.Cmd {
	if d, ok := t.mine(msg); ok {
		t.report(d)
		switch v := d.Data.(type) {
		case uint64:
			t.focus = v
		case *ops.PaymentRunResult:
			t.paid = v
		}
		t.Reload()
		return nil
	}
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case t.filtering:
		switch k.String() {
		case "enter":
			t.filtering = false
			t.filter.Blur()
		case "esc":
			t.filtering = false
			t.filter.Blur()
			t.filter.SetValue("")
			t.apply()
		default:
			if t.filter.Update(k) {
				t.apply()
			}
		}
		return nil
	case t.confirm.Active():
		tag, yes, done := t.confirm.Update(k)
		if done && yes {
			return t.act(tag)
		}
		if done {
			t.change = nil
			t.say(styles.Muted, "cancelled; nothing changed")
		}
		return nil
	case t.wiz.active():
		if tag, ans, finished := t.wiz.update(&t.base, &t.modal, k); finished {
			return t.finish(tag, ans)
		}
		return nil
	case t.promptTag != "":
		tag, value, ok, done := t.promptUpdate(k)
		if !done {
			return nil
		}
		if !ok {
			t.say(styles.Muted, "cancelled; nothing changed")
			return nil
		}
		if strings.TrimSpace(value) == "" {
			t.say(styles.Bad, "x a reason is required; nothing changed")
			return nil
		}
		t.pending = value
		c := t.aimed
		if c == nil {
			return nil
		}
		switch tag {
		case "cancel":
			t.confirm.Ask("cancel", fmt.Sprintf("Cancel collection %s? Its queued and running extraction jobs stop. Reason: %s", c.Label(), value))
		default:
			return t.act(tag)
		}
		return nil
	}
	if t.table.HandleKey(k) {
		return nil
	}
	c := t.selected()
	switch k.String() {
	case "/":
		t.filtering = true
		t.filter.Focus()
	case "esc":
		t.paid = nil
		if t.filter.Value() != "" {
			t.filter.SetValue("")
			t.apply()
		}
	case "n", "r", "$":
		t.adminKey(k.String(), c)
	case "x", "o", "p":
		if c == nil {
			return nil
		}
		if !t.canManage() {
			t.fail(t.env.WhyNot(domain.ActManageTimetable))
			return nil
		}
		t.aimed = c
		switch k.String() {
		case "x":
			t.ask("cancel", "Why cancel "+c.Label()+"?", "reason: ", "", 200)
		case "o":
			t.ask("reopen", "Why reopen "+c.Label()+"?", "reason: ", "", 200)
		case "p":
			verb := "pause"
			if c.Paused {
				verb = "resume"
			}
			t.ask("pause", "Why "+verb+" "+c.Label()+"?", "reason: ", "", 200)
		}
	}
	return nil
}

// act runs the chosen timetable action on the selected collection.
func (t *Timetable) act(tag string) tea.Cmd {
	switch tag {
	case "add", "reschedule", "pay":
		return t.actAdmin(tag)
	}
	c := t.aimed
	if c == nil {
		return nil
	}
	s, u, reason, id := t.env.Store(), t.env.User, t.pending, c.ID
	label, paused := c.Label(), c.Paused
	return t.env.Run(t.id, tag, func() (string, any, error) {
		switch tag {
		case "cancel":
			_, err := ops.CancelCollection(s, u, id, reason)
			return "cancelled " + label, nil, err
		case "reopen":
			_, err := ops.ReopenCollection(s, u, id, reason)
			return "reopened " + label, nil, err
		default:
			_, err := ops.SetPaused(s, u, id, !paused, reason)
			if paused {
				return "resumed " + label, nil, err
			}
			return "paused " + label, nil, err
		}
	})
}

func (t *Timetable) View(w, h int) string {
	st := t.env.St
	head := section(st, "Timetable") + st.Faint.Render(fmt.Sprintf("  %d of %s, today %s", len(t.shown), widgets.Plural(len(t.all), "collection"), widgets.DateText(t.env.Today())))
	if t.err != nil {
		return lines(head, st.Mark(styles.Bad, t.err.Error()))
	}
	filter := ""
	if t.filtering || t.filter.Value() != "" {
		filter = t.filter.View(st, w)
	}
	detail := ""
	if t.paid != nil {
		detail = t.paidView(st, w)
	} else if c := t.selected(); c != nil {
		detail = lines(
			st.Heading.Render(c.Label())+fmt.Sprintf("  run %d  ", c.Run)+CollStatus(st, c),
			fmt.Sprintf("extraction window %s to %s; payment %s",
				widgets.DateText(c.WindowStart), widgets.DateText(c.WindowEnd), widgets.DateText(c.PaymentDate)),
			strings.Join(widgets.Wrap(t.deadlines(c), w), "\n"),
			strings.Join(widgets.Wrap(c.Note, w), "\n"))
	}
	dl := strings.Count(detail, "\n") + 1
	fl := 0
	if filter != "" {
		fl = 1
	}
	body := lines(head, filter, t.table.View(st, w, h-2-fl-dl-1), "", detail)
	return t.view(st, body, w, h)
}

// outstanding says whether a collection's declaration and approval steps
// are still to be done, as far as the user can see: before the extract
// both are; after it, while a declaration the user may see awaits them.
// A closed or cancelled collection has none. A user who may see no
// declarations at all (a requester) is shown each step until its
// deadline, and never told it is overdue: that is not known to them.
func (t *Timetable) outstanding(c *domain.Collection) (declare, approve bool) {
	switch c.Status {
	case domain.CollClosed, domain.CollCancelled:
		return false, false
	case domain.CollExtracted:
		if !t.seesDeclarations {
			today := t.env.Today()
			return today <= c.DeclarationDeadline, today <= c.ApprovalDeadline
		}
		n := t.steps[c.ID]
		return n.ToDeclare > 0, n.ToApprove > 0
	}
	return true, true
}

// deadlines counts down to (or calls overdue) a collection's deadlines
// whose steps are outstanding, and dates the others.
func (t *Timetable) deadlines(c *domain.Collection) string {
	st, today := t.env.St, t.env.Today()
	declare, approve := t.outstanding(c)
	n := t.steps[c.ID]
	d := stepDeadline(st, "declare", "declaration", declare, today, c.DeclarationDeadline)
	if declare && n.ToDeclare > 0 {
		d += fmt.Sprintf(" (%d to declare)", n.ToDeclare)
	}
	a := stepDeadline(st, "approve", "approval", approve, today, c.ApprovalDeadline)
	if approve && n.ToApprove > 0 {
		a += fmt.Sprintf(" (%d to approve)", n.ToApprove)
	}
	return d + "; " + a
}

func (t *Timetable) Keys() help.KeyMap {
	if t.open() {
		return t.modal.keys()
	}
	if t.filtering {
		return keys(bindAs("type", "filter words", "a"), bind("keep filter", "enter"), bind("clear filter", "esc"))
	}
	manage := t.canManage()
	x, o, p := bind("cancel collection", "x"), bind("reopen", "o"), bind("pause/resume", "p")
	x.SetEnabled(manage)
	o.SetEnabled(manage)
	p.SetEnabled(manage)
	// Adding, rescheduling and paying are national decisions: offered only
	// to whom the policy allows them (ops checks again).
	u := t.env.User
	n, r, pay := bind("add collection", "n"), bind("reschedule", "r"), bind("run payments", "$")
	n.SetEnabled(domain.Can(u, domain.ActManageTimetable, domain.TargetNational()))
	r.SetEnabled(n.Enabled())
	pay.SetEnabled(domain.Can(u, domain.ActRunPayments, domain.TargetNational()))
	return keys(bind("move", "up", "down"), bind("filter", "/"), bind("clear filter", "esc"), n, r, x, o, p, pay)
}
