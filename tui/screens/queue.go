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

// queueStates is the status filter's cycle; "" is "awaiting me".
var queueStates = []domain.State{"", domain.DeclDeclared, domain.DeclApproved, domain.DeclReturned,
	domain.DeclFinanciallyApproved, domain.DeclPaid, domain.DeclCalculated}

// Queue is the commissioners' approval queue: filter by status and service,
// select several, approve (in bulk), return with a reason, and give the
// financial approval.
type Queue struct {
	base
	modal
	items    []ops.QueueItem
	sel      map[string]bool
	state    int
	service  string
	services []string
	kinds    map[string]domain.ServiceKind
	table    widgets.Table
	results  []ops.BulkResult
	reason   string
	// pending are the declarations the open question (reason prompt or
	// confirmation) names: the answer acts on them and nothing else.
	pending []ops.DeclRef
	// pendingText names them as the question did.
	pendingText string
	err         error
}

// NewQueue makes the approval queue screen.
func NewQueue(env *Env) *Queue {
	return &Queue{base: newBase(env), sel: map[string]bool{}, table: widgets.Table{
		Empty: "nothing in the queue with this filter",
		Cols: []widgets.Column{{Title: "Sel", Width: 3}, {Title: "Collection", Width: 19}, {Title: "Practice", Width: 16},
			{Title: "Status", Width: 14}, {Title: "Points", Width: 7, Right: true, Optional: true}, {Title: "Pounds", Width: 11, Right: true, Optional: true},
			{Title: "Approve by"}},
	}}
}

func (q *Queue) Name() string  { return "queue" }
func (q *Queue) Title() string { return "Approvals" }
func (q *Queue) Short() string { return "Queue" }
func (q *Queue) Available() bool {
	return q.env.CanAny(domain.ActApprove) || q.env.CanAny(domain.ActFinanceApprove) || q.env.CanAny(domain.ActReturn)
}
func (q *Queue) Capturing() bool { return q.open() }

func (q *Queue) Wants(m session.Invalidate) bool {
	return m.Touches("declaration", "collection", "participation", "service")
}

func (q *Queue) Reload() {
	f := ops.QueueFilter{State: queueStates[q.state], Service: q.service}
	q.items, q.err = ops.Queue(q.env.Store(), q.env.User, f)
	if q.services == nil {
		q.kinds = map[string]domain.ServiceKind{}
		svcs, _ := q.env.Services()
		for _, s := range svcs {
			q.services = append(q.services, s.ID)
			q.kinds[s.ID] = s.Kind
		}
	}
	keep := map[string]bool{}
	for _, it := range q.items {
		if q.sel[it.Ref.String()] {
			keep[it.Ref.String()] = true
		}
	}
	q.sel = keep
	q.dropStaleQuestion()
	q.fill()
}

// dropStaleQuestion closes an open question whose declarations left the
// queue meanwhile (decided in another session): the answer would be about
// something other than what was asked.
func (q *Queue) dropStaleQuestion() {
	if !q.open() || len(q.pending) == 0 {
		return
	}
	in := map[string]bool{}
	for _, it := range q.items {
		in[it.Ref.String()] = true
	}
	gone := 0
	for _, r := range q.pending {
		if !in[r.String()] {
			gone++
		}
	}
	if gone == 0 {
		return
	}
	what := q.pendingText
	if len(q.pending) > 1 {
		what = fmt.Sprintf("%d of the %s", gone, q.pendingText)
	}
	q.confirm.Cancel()
	q.promptTag, q.pending = "", nil
	q.say(styles.Warn, fmt.Sprintf("the queue changed while you were confirming: %s no longer awaits you (decided in another session); nothing was done, choose again", what))
}

// stateWord is a declaration's state id with its marker, for narrow
// columns; the long one is shortened so the word survives the column.
func stateWord(st *styles.Styles, s domain.State) string {
	w := string(s)
	if s == domain.DeclFinanciallyApproved {
		w = "fin approved"
	}
	return st.Mark(declTone(s), w)
}

// awaitsApproval: the approval deadline governs a declaration awaiting the
// commissioner's approval or the financial approval.
func awaitsApproval(s domain.State) bool { return s == domain.DeclDeclared || s == domain.DeclApproved }

func (q *Queue) fill() {
	st, today := q.env.St, q.env.Today()
	rows := make([][]string, 0, len(q.items))
	for _, it := range q.items {
		box := "[ ]"
		if q.sel[it.Ref.String()] {
			box = "[x]"
		}
		money := st.Faint.Render("hidden")
		if it.MoneyShown {
			money = it.Amount.String()
		}
		// The approval deadline counts down while the declaration awaits an
		// approval; a returned or settled one shows only the date.
		left, tone := widgets.Countdown(today, it.Deadline)
		left = strings.TrimSuffix(left, " left")
		due := shortDate(it.Deadline)
		if awaitsApproval(it.State) {
			due += " " + st.Mark(tone, left)
		}
		points := it.Points
		if q.kinds[it.Service] == domain.KindItemOfService {
			points = "-" // item of service pays per item, not points
		}
		rows = append(rows, []string{box, it.Service + " " + widgets.DateText(it.AchDate), it.Ref.Practice + " " + it.PracticeName,
			stateWord(st, it.State), points, money, due})
	}
	q.table.SetRows(rows)
}

func (q *Queue) current() *ops.QueueItem {
	if q.table.Cursor < len(q.items) && len(q.items) > 0 {
		return &q.items[q.table.Cursor]
	}
	return nil
}

// targets are the selected items, or the current one when none is
// selected.
func (q *Queue) targets() []ops.DeclRef {
	var refs []ops.DeclRef
	for _, it := range q.items {
		if q.sel[it.Ref.String()] {
			refs = append(refs, it.Ref)
		}
	}
	if len(refs) == 0 {
		if it := q.current(); it != nil {
			refs = append(refs, it.Ref)
		}
	}
	return refs
}

// item is the queue's item for a declaration, nil when it is not listed.
func (q *Queue) item(r ops.DeclRef) *ops.QueueItem {
	for i := range q.items {
		if it := &q.items[i]; it.Ref.Collection == r.Collection && it.Ref.Practice == r.Practice {
			return it
		}
	}
	return nil
}

// refsText names the declarations a decision is about.
func (q *Queue) refsText(refs []ops.DeclRef) string {
	if len(refs) == 1 {
		if it := q.item(refs[0]); it != nil {
			return "the declaration of " + it.Label + " for " + it.Ref.Practice
		}
		return "the declaration " + refs[0].String()
	}
	return widgets.Plural(len(refs), "declaration")
}

// amountText is what the declarations a decision is about come to, exact
// to the penny: ", £1,234.56" for one, ", £2,469.12 in total" for several;
// it says the amount is hidden when the user may not see any of them.
func (q *Queue) amountText(refs []ops.DeclRef) string {
	var total domain.Pence
	for _, r := range refs {
		it := q.item(r)
		if it == nil {
			return ""
		}
		if !it.MoneyShown {
			return " (amount hidden: needs Finance View)"
		}
		total += it.Amount
	}
	if len(refs) == 1 {
		return ", " + total.String()
	}
	return ", " + total.String() + " in total"
}

func (q *Queue) Update(msg tea.Msg) tea.Cmd {
	if d, ok := q.mine(msg); ok {
		q.done(d)
		return nil
	}
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case q.confirm.Active():
		tag, yes, done := q.confirm.Update(k)
		if done && yes {
			refs := q.pending
			q.pending = nil
			return q.decide(tag, refs)
		}
		if done {
			q.pending = nil
			q.say(styles.Muted, "cancelled; nothing changed")
		}
		return nil
	case q.promptTag != "":
		_, value, ok, done := q.promptUpdate(k)
		if !done {
			return nil
		}
		if !ok {
			q.pending = nil
			q.say(styles.Muted, "cancelled; nothing returned")
			return nil
		}
		if strings.TrimSpace(value) == "" {
			q.pending = nil
			q.say(styles.Bad, "x returning needs a reason; the practice sees it. Nothing returned")
			return nil
		}
		q.reason = strings.TrimSpace(value)
		q.confirm.Ask("return", fmt.Sprintf("Return %s to the practice with the reason %q?", q.refsText(q.pending), q.reason))
		return nil
	}
	if q.table.HandleKey(k) {
		return nil
	}
	switch k.String() {
	case " ", "space", "x":
		if it := q.current(); it != nil {
			key := it.Ref.String()
			if q.sel[key] {
				delete(q.sel, key)
			} else {
				q.sel[key] = true
			}
			q.fill()
			q.table.Move(1)
		}
	case "A":
		if len(q.sel) == len(q.items) {
			q.sel = map[string]bool{}
		} else {
			for _, it := range q.items {
				q.sel[it.Ref.String()] = true
			}
		}
		q.fill()
	case "s":
		q.state = (q.state + 1) % len(queueStates)
		q.sel = map[string]bool{}
		q.Reload()
	case "v":
		q.service = nextOf(q.services, q.service)
		q.sel = map[string]bool{}
		q.Reload()
	case "enter":
		if it := q.current(); it != nil {
			return func() tea.Msg {
				return Goto{Screen: "achievement", Collection: it.Ref.Collection, Practice: it.Ref.Practice}
			}
		}
	case "a", "f", "r":
		refs := q.targets()
		if len(refs) == 0 {
			q.say(styles.Muted, "nothing in the queue to decide on with this filter")
			return nil
		}
		act := map[string]domain.Action{"a": domain.ActApprove, "f": domain.ActFinanceApprove, "r": domain.ActReturn}[k.String()]
		if err := q.env.Why(act, refs[0].Practice); err != nil {
			q.fail(err)
			return nil
		}
		q.clear()
		q.pending, q.pendingText = refs, q.refsText(refs)
		switch k.String() {
		case "a":
			if len(refs) == 1 {
				q.pending = nil
				return q.decide("approve", refs)
			}
			q.confirm.Ask("approve", fmt.Sprintf("Approve %s in bulk? Each is checked on its own; refusals are listed.", q.refsText(refs)))
		case "f":
			q.confirm.Ask("finance", fmt.Sprintf("Give the financial approval to %s%s? After it nothing can be amended.", q.refsText(refs), q.amountText(refs)))
		case "r":
			q.ask("return", "Why return "+q.refsText(refs)+"? The practice sees the reason.", "reason: ", "", 300)
		}
	}
	return nil
}

// nextOf cycles "" -> list[0] -> ... -> "".
func nextOf(list []string, cur string) string {
	if cur == "" {
		if len(list) > 0 {
			return list[0]
		}
		return ""
	}
	for i, x := range list {
		if x == cur && i+1 < len(list) {
			return list[i+1]
		}
	}
	return ""
}

func (q *Queue) decide(tag string, refs []ops.DeclRef) tea.Cmd {
	s, u, reason := q.env.Store(), q.env.User, q.reason
	return q.env.Run(q.id, tag, func() (string, any, error) {
		var res []ops.BulkResult
		var err error
		switch tag {
		case "approve":
			res, err = ops.ApproveMany(s, u, refs)
		case "finance":
			res, err = ops.FinanceApproveMany(s, u, refs)
		default:
			res, err = ops.ReturnMany(s, u, refs, reason)
		}
		return tag, res, err
	})
}

var doneVerb = map[string]string{"approve": "approved", "finance": "financially approved", "return": "returned"}

func (q *Queue) done(d Done) {
	q.results = nil
	if d.Err != nil {
		q.fail(d.Err)
		q.Reload()
		return
	}
	res, _ := d.Data.([]ops.BulkResult)
	q.results = res
	ok, refused := 0, 0
	for _, r := range res {
		if r.Err != nil {
			refused++
		} else {
			ok++
			delete(q.sel, r.Ref.String())
		}
	}
	text := fmt.Sprintf("%s %d", doneVerb[d.Tag], ok)
	switch {
	case refused > 0 && ok == 0 && len(res) == 1:
		q.fail(res[0].Err)
	case refused > 0:
		q.say(styles.Warn, fmt.Sprintf("%s, refused %d (reasons below)", text, refused))
	default:
		q.say(styles.OK, text)
	}
	q.Reload()
}

func (q *Queue) View(w, h int) string {
	st := q.env.St
	filter := "awaiting you"
	if s := queueStates[q.state]; s != "" {
		filter = string(s)
	}
	svc := "all services"
	if q.service != "" {
		svc = q.service
	}
	head := section(st, "Approval queue") + st.Faint.Render(fmt.Sprintf("  status: %s (s)  service: %s (v)  %s, %d selected", filter, svc, widgets.Plural(len(q.items), "item"), len(q.sel)))
	if q.err != nil {
		return q.view(st, lines(head, st.Mark(styles.Bad, q.err.Error())), w, h)
	}
	var detail []string
	if it := q.current(); it != nil {
		// The table cuts long practice names; the detail gives the whole one.
		who := it.Ref.Practice
		if it.PracticeName != "" {
			who += " " + it.PracticeName
		}
		d := fmt.Sprintf("%s %s: %s", it.Label, who, it.Status)
		if q.kinds[it.Service] == domain.KindPoints {
			d += ", " + it.Points + " points"
		}
		if it.MoneyShown {
			d += ", " + it.Amount.String()
		}
		if it.DeclaredBy != "" {
			d += fmt.Sprintf("; declared by %s on %s", it.DeclaredBy, widgets.TimeText(it.DeclaredAt))
		}
		detail = append(detail, widgets.Wrap(d, w)...)
		detail = append(detail, stepDeadline(st, "approve", "approval", awaitsApproval(it.State), q.env.Today(), it.Deadline))
		if it.Reason != "" {
			detail = append(detail, st.Mark(styles.Info, "reason: "+it.Reason))
		}
	}
	for _, r := range q.results {
		if r.Err != nil {
			detail = append(detail, widgets.Wrap(st.Mark(styles.Bad, r.Ref.String()+": "+r.Error), w)...)
		}
	}
	if len(detail) > 8 {
		detail = detail[:8]
	}
	used := 1 + len(detail) + 1
	return q.view(st, lines(head, q.table.View(st, w, h-used), strings.Join(detail, "\n")), w, h)
}

func (q *Queue) Keys() help.KeyMap {
	if q.open() {
		return q.modal.keys()
	}
	a, f, r := bind("approve", "a"), bind("finance approve", "f"), bind("return", "r")
	a.SetEnabled(q.env.CanAny(domain.ActApprove))
	f.SetEnabled(q.env.CanAny(domain.ActFinanceApprove))
	r.SetEnabled(q.env.CanAny(domain.ActReturn))
	return keys(bind("move", "up", "down"), bindAs("space", "select", " "), a, f, r, bind("status filter", "s"),
		bind("service filter", "v"), bind("select all", "A"), bind("view figures", "enter"))
}
