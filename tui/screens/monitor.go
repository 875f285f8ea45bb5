package screens

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/store/scheduler"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// Monitor is the extract monitor: live progress per collection and
// practice, failures with their errors, what was missed and what comes
// next, and (for extract monitors, when a scheduler runs in this process)
// run now, re-run, retry, pause, resume and cancel. Support staff see it
// read-only.
type Monitor struct {
	base
	modal
	status *scheduler.Status
	rows   []monRow
	table  widgets.Table
	err    error
	reason string
	// aimed is the row a question was asked about (a copy: reloads during
	// an extraction replace the rows every few seconds); the answer acts
	// on it, not on whatever is under the cursor by then.
	aimed *monRow
	// narrow: the terminal leaves no room for the progress bars, so the
	// Detail column says the counts in short and the selected
	// collection's detail is said in full under the table.
	narrow bool
}

// monRow is a section heading, a collection, or one practice's job.
type monRow struct {
	heading string
	c       *scheduler.CollectionStatus
	job     *scheduler.JobStatus
}

// NewMonitor makes the extract monitor.
func NewMonitor(env *Env) *Monitor {
	// The Detail column says what the bars draw and more (counts,
	// attempts, failures), so at 80 columns it keeps the room and the bars
	// go.
	return &Monitor{base: newBase(env), table: widgets.Table{
		Empty: "nothing is extracting, failed or due", MinFlex: 34,
		Cols: []widgets.Column{{Title: "Collection / practice", Width: 29}, {Title: "State", Width: 12},
			{Title: "Progress", Width: 14, Optional: true}, {Title: "Detail"}},
	}}
}

func (m *Monitor) Name() string    { return "monitor" }
func (m *Monitor) Title() string   { return "Extract monitor" }
func (m *Monitor) Short() string   { return "Monitor" }
func (m *Monitor) Available() bool { return m.env.CanAny(domain.ActViewMonitor) }
func (m *Monitor) Capturing() bool { return m.open() }

func (m *Monitor) Wants(inv session.Invalidate) bool {
	return inv.Touches("job", "collection", session.KindProgress, session.KindFault, session.KindIdle)
}

// controls says why the extraction controls are not offered (nil: they
// are): the policy first, then whether a scheduler runs here.
func (m *Monitor) controls() error {
	if err := domain.Authorize(m.env.User, domain.ActControlExtraction, domain.TargetNational()); err != nil {
		return err
	}
	if m.env.Ctx.Scheduler == nil {
		return fmt.Errorf("no extraction scheduler runs in this process (a local terminal); the controls work in a session of gpc serve")
	}
	return nil
}

func (m *Monitor) Reload() {
	m.rows, m.status = nil, nil
	m.err = domain.Authorize(m.env.User, domain.ActViewMonitor, domain.TargetNational())
	if m.err == nil {
		if sch := m.env.Ctx.Scheduler; sch != nil {
			m.status, m.err = sch.Status()
		} else {
			m.status, m.err = scheduler.ReadStatus(m.env.Store())
		}
	}
	if m.err != nil {
		m.table.SetRows(nil)
		return
	}
	add := func(title string, cs []scheduler.CollectionStatus, jobs bool) {
		if len(cs) == 0 {
			return
		}
		m.rows = append(m.rows, monRow{heading: title})
		for i := range cs {
			c := &cs[i]
			m.rows = append(m.rows, monRow{c: c})
			if !jobs {
				continue
			}
			for j := range c.Jobs {
				m.rows = append(m.rows, monRow{c: c, job: &c.Jobs[j]})
			}
		}
	}
	add("Extracting, paused or with failures", m.status.Active, true)
	add("Missed: the window closed with no extraction", m.status.Missed, false)
	add("Next windows", m.status.Upcoming, false)
	if m.table.Cursor == 0 && len(m.rows) > 1 && m.rows[0].heading != "" {
		m.table.Cursor = 1 // start on the first collection, not its heading
	}
	m.fill()
}

// JobState is a job's state with its marker.
func JobState(st *styles.Styles, s domain.JobState) string {
	tone := map[domain.JobState]styles.Tone{domain.JobQueued: styles.Muted, domain.JobRunning: styles.Info,
		domain.JobSucceeded: styles.OK, domain.JobFailed: styles.Bad, domain.JobCancelled: styles.Muted}[s]
	return st.Mark(tone, string(s))
}

func collState(st *styles.Styles, c *scheduler.CollectionStatus) string {
	return CollStatusShort(st, &domain.Collection{Status: c.State, Paused: c.Paused})
}

func (m *Monitor) fill() {
	st, today := m.env.St, m.env.Today()
	rows := make([][]string, 0, len(m.rows))
	for _, r := range m.rows {
		switch {
		case r.heading != "":
			rows = append(rows, []string{st.Heading.Render(r.heading)})
		case r.job == nil:
			c := r.c
			detail := collDetail(st, c, today, m.narrow)
			if c.Paused {
				// The State column says only "paused": say what was paused.
				detail = strings.TrimSuffix(string(c.State)+": "+detail, ": ")
			}
			if c.Note != "" && len(c.Jobs) == 0 {
				detail += " " + st.Faint.Render(c.Note)
			}
			bar := ""
			if len(c.Jobs) > 0 {
				bar = widgets.Bar(int64(c.Done), int64(c.Total), 14)
			}
			rows = append(rows, []string{fmt.Sprintf("%s run %d", c.Label, c.Run), collState(st, c), bar, detail})
		default:
			j := r.job
			detail := fmt.Sprintf("%s/%s patients", widgets.Int(int64(j.Done)), widgets.Int(int64(j.Total)))
			if j.Total == 0 {
				detail = "not started"
			}
			if j.Attempts > 1 {
				detail += fmt.Sprintf(", attempt %d", j.Attempts)
			}
			if j.State == domain.JobFailed {
				detail = st.Mark(styles.Bad, j.Error)
			}
			rows = append(rows, []string{"  " + j.Practice, JobState(st, j.State), widgets.Bar(int64(j.Done), int64(j.Total), 14), detail})
		}
	}
	m.table.SetRows(rows)
}

// collDetail says how a collection's extraction stands: practices done,
// running and failed, or when its window opens. Short is for a narrow
// Detail column ("0/4 done" for "0 of 4 practices done").
func collDetail(st *styles.Styles, c *scheduler.CollectionStatus, today domain.Date, short bool) string {
	detail := ""
	switch {
	case len(c.Jobs) > 0:
		detail = fmt.Sprintf("%d of %d practices done", c.Succeeded, len(c.Jobs))
		if short {
			detail = fmt.Sprintf("%d/%d done", c.Succeeded, len(c.Jobs))
		}
		if c.Running > 0 {
			detail += fmt.Sprintf(", %d running", c.Running)
		}
		if c.Failed > 0 {
			detail += ", " + st.Mark(styles.Bad, fmt.Sprintf("%d failed", c.Failed))
		}
	case c.State == domain.CollScheduled:
		left, _ := widgets.Countdown(today, c.WindowStart)
		detail = fmt.Sprintf("window %s to %s (%s)", shortDate(c.WindowStart), shortDate(c.WindowEnd), strings.TrimSuffix(left, " left"))
		if today >= c.WindowStart {
			detail = fmt.Sprintf("window %s to %s", shortDate(c.WindowStart), shortDate(c.WindowEnd))
		}
	}
	return detail
}

// collLines is a collection's detail in full, for under the table when
// its row is cut.
func (m *Monitor) collLines(c *scheduler.CollectionStatus, w int) []string {
	st := m.env.St
	state := string(c.State)
	if c.Paused {
		state += " (paused)"
	}
	d := fmt.Sprintf("%s run %d: %s", c.Label, c.Run, state)
	if more := collDetail(st, c, m.env.Today(), false); more != "" {
		d += "; " + more
	}
	if c.Total > 0 {
		d += fmt.Sprintf("; %s of %s patients", widgets.Int(int64(c.Done)), widgets.Int(int64(c.Total)))
	}
	out := widgets.Wrap(d, w)
	if c.Note != "" {
		out = append(out, widgets.Wrap(st.Faint.Render("note: "+c.Note), w)...)
	}
	return out
}

func (m *Monitor) current() *monRow {
	if m.table.Cursor < len(m.rows) && len(m.rows) > 0 {
		return &m.rows[m.table.Cursor]
	}
	return nil
}

func (m *Monitor) Update(msg tea.Msg) tea.Cmd {
	if d, ok := m.mine(msg); ok {
		m.report(d)
		m.Reload()
		return nil
	}
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case m.confirm.Active():
		tag, yes, done := m.confirm.Update(k)
		if done && yes {
			return m.act(tag)
		}
		if done {
			m.say(styles.Muted, "cancelled; nothing changed")
		}
		return nil
	case m.promptTag != "":
		tag, value, ok, done := m.promptUpdate(k)
		if !done {
			return nil
		}
		if !ok || strings.TrimSpace(value) == "" {
			m.say(styles.Muted, "cancelled (a reason is required); nothing changed")
			return nil
		}
		m.reason = strings.TrimSpace(value)
		if r := m.aimed; tag == "cancel" && r != nil && r.c != nil {
			m.confirm.Ask("cancel", fmt.Sprintf("Cancel %s? Its queued and running jobs stop. Reason: %s", r.c.Label, m.reason))
			return nil
		}
		if r := m.aimed; tag == "rerun" && r != nil && r.c != nil {
			m.confirm.Ask("rerun", fmt.Sprintf("Re-run %s? Every practice is extracted again and open declarations follow the new figures. Reason: %s", r.c.Label, m.reason))
			return nil
		}
		return m.act(tag)
	}
	if m.table.HandleKey(k) {
		return nil
	}
	r := m.current()
	key := k.String()
	if key != "n" && key != "t" && key != "p" && key != "x" {
		return nil
	}
	if err := m.controls(); err != nil {
		m.fail(err)
		return nil
	}
	if r == nil || r.c == nil {
		m.say(styles.Muted, "choose a collection or practice first")
		return nil
	}
	aimed := *r
	m.aimed = &aimed
	c := r.c
	switch key {
	case "n":
		switch c.State {
		case domain.CollScheduled:
			m.confirm.Ask("run", fmt.Sprintf("Start %s now, whatever its window says?", c.Label))
		case domain.CollExtracted:
			m.ask("rerun", "Why re-run "+c.Label+"?", "reason: ", "", 200)
		default:
			m.say(styles.Muted, c.Label+" is "+string(c.State)+"; only a scheduled or extracted collection can be run")
		}
	case "t":
		if r.job == nil || r.job.State != domain.JobFailed {
			m.say(styles.Muted, "choose a failed practice to retry")
			return nil
		}
		m.ask("retry", "Why retry "+r.job.Practice+" in "+c.Label+"?", "reason: ", "", 200)
	case "p":
		verb := "pause"
		if c.Paused {
			verb = "resume"
		}
		m.ask(verb, "Why "+verb+" "+c.Label+"?", "reason: ", "", 200)
	case "x":
		m.ask("cancel", "Why cancel "+c.Label+"?", "reason: ", "", 200)
	}
	return nil
}

func (m *Monitor) act(tag string) tea.Cmd {
	sch, u, r, reason := m.env.Ctx.Scheduler, m.env.User, m.aimed, m.reason
	if sch == nil || r == nil || r.c == nil {
		return nil
	}
	coll, label, practice := r.c.ID, r.c.Label, ""
	if r.job != nil {
		practice = r.job.Practice
	}
	return m.env.Run(m.id, tag, func() (string, any, error) {
		var err error
		switch tag {
		case "run":
			_, err = sch.RunNow(u, coll)
			return "started " + label, nil, err
		case "rerun":
			_, err = sch.Rerun(u, coll, reason)
			return "re-run started for " + label, nil, err
		case "retry":
			_, err = sch.Retry(u, coll, practice, reason)
			return "retry queued for " + practice + " in " + label, nil, err
		case "pause":
			_, err = sch.Pause(u, coll, reason)
			return "paused " + label, nil, err
		case "resume":
			_, err = sch.Resume(u, coll, reason)
			return "resumed " + label, nil, err
		default:
			_, err = sch.Cancel(u, coll, reason)
			return "cancelled " + label, nil, err
		}
	})
}

func (m *Monitor) View(w, h int) string {
	st := m.env.St
	mode := st.Faint.Render("  read only")
	if err := m.controls(); err == nil {
		mode = "  " + st.Mark(styles.OK, "controls on")
	} else if domain.Can(m.env.User, domain.ActControlExtraction, domain.TargetNational()) {
		mode = "  " + st.Mark(styles.Muted, "controls unavailable: no scheduler in this process")
	}
	if m.status != nil {
		if m.status.Live {
			mode += st.Faint.Render(fmt.Sprintf("  workers %d, busy %d", m.status.Workers, m.status.Busy))
		} else {
			mode += st.Faint.Render("  (from the store; no live scheduler)")
		}
	}
	head := section(st, "Extract monitor") + mode
	if m.err != nil {
		return m.view(st, lines(head, st.Mark(styles.Bad, m.err.Error())), w, h)
	}
	if narrow := m.table.ColumnWidth(2, w) == 0; narrow != m.narrow {
		m.narrow = narrow
		m.fill()
	}
	var detail []string
	if r := m.current(); m.narrow && r != nil && r.c != nil && r.job == nil {
		detail = m.collLines(r.c, w)
	}
	if r := m.current(); r != nil && r.job != nil {
		j := r.job
		d := fmt.Sprintf("%s %s: %s, attempt %d", r.c.Label, j.Practice, j.State, j.Attempts)
		if !j.StartedAt.IsZero() {
			d += ", started " + widgets.TimeText(j.StartedAt)
		}
		if !j.FinishedAt.IsZero() {
			d += ", finished " + widgets.TimeText(j.FinishedAt)
		}
		detail = append(detail, widgets.Wrap(d, w)...)
		if j.Error != "" {
			detail = append(detail, widgets.Wrap(st.Mark(styles.Bad, "error: "+j.Error), w)...)
		}
		if !j.NextAttempt.IsZero() && j.State != domain.JobSucceeded {
			detail = append(detail, "next automatic attempt "+widgets.TimeText(j.NextAttempt))
		}
		if j.Note != "" {
			detail = append(detail, widgets.Wrap(st.Faint.Render("note: "+j.Note), w)...)
		}
	} else if m.status != nil && len(m.status.Faults) > 0 && len(detail) < 3 {
		// The newest three faults, under a collection's detail when it has
		// one (so at most 7 lines, as a job's detail).
		top := len(detail) + 4
		detail = append(detail, st.Heading.Render("Recent faults"))
		for i := len(m.status.Faults) - 1; i >= 0 && len(detail) < top; i-- {
			f := m.status.Faults[i]
			detail = append(detail, widgets.Cell(st.Mark(styles.Bad, widgets.ShortTime(f.At)+" "+f.Label+" "+f.Practice+": "+f.Message), w, false))
		}
	}
	used := 1 + len(detail) + 1
	return m.view(st, lines(head, m.table.View(st, w, h-used), "", strings.Join(detail, "\n")), w, h)
}

func (m *Monitor) Keys() help.KeyMap {
	if m.open() {
		return m.modal.keys()
	}
	on := m.controls() == nil
	n, t, p, x := bind("run now / re-run", "n"), bind("retry failed", "t"), bind("pause/resume", "p"), bind("cancel collection", "x")
	for _, b := range []*keyBinding{&n, &t, &p, &x} {
		b.SetEnabled(on)
	}
	return keys(bind("move", "up", "down"), n, t, p, x)
}
