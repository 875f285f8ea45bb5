// Package tui is the root of gpc's terminal interface: one model per
// signed-in session that owns the tab bar (only the screens the policy lets
// this user use), the key help, resizing and the too-small screen, and
// routes the server's messages (live invalidations, user changes, closing)
// to the screens in package tui/screens.
package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"gpcollections/store/ops"
	"gpcollections/tui/screens"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// MinWidth and MinHeight are the smallest terminal the screens lay out in;
// below it a clear message says so instead of a garbled screen.
const (
	MinWidth  = 80
	MinHeight = 24
)

// Model is the root model of one session.
type Model struct {
	env    *screens.Env
	all    []screens.Screen
	tabs   []screens.Screen
	active int
	w, h   int
	help   help.Model
	dirty  map[string]bool
	// closing is the server's notice that the session is ending.
	closing string
	// signedOut is set when the account was disabled under the session.
	signedOut string
	// ver counts the messages that may have changed a screen; the frame
	// caches below are valid for one version (a key press the root handles
	// alone, like the help toggle, redraws without re-rendering the body).
	ver   uint64
	cache frameCache
	// tabGen counts rebuilds of the tab list.
	tabGen int
	// quitAsk is the question asked before quitting over unsaved work
	// ("" when none is open); quitting is set once the session quits.
	quitAsk  string
	quitting bool
}

// frameCache holds the parts of the last frame that are dear to render.
type frameCache struct {
	head, tabs, rule string
	headKey, tabsKey string
	body             string
	bodyKey          string
	// help holds the short and full key help of recent screens and states.
	help map[string]string
}

// New makes the root model for a signed-in person: the factory the SSH
// server and `gpc tui` use (session.Factory).
func New(ctx session.Context) tea.Model { return newModel(ctx) }

// Factory is New as a session.Factory.
var Factory session.Factory = New

func newModel(ctx session.Context) *Model {
	env := screens.NewEnv(ctx)
	m := &Model{env: env, w: ctx.Width, h: ctx.Height, help: env.St.Help(), dirty: map[string]bool{}}
	if m.w == 0 || m.h == 0 {
		m.w, m.h = MinWidth, MinHeight
	}
	m.all = []screens.Screen{
		screens.NewHome(env), screens.NewTimetable(env), screens.NewServices(env), screens.NewAchievement(env),
		screens.NewManual(env), screens.NewDeclare(env), screens.NewQueue(env), screens.NewMonitor(env),
		screens.NewAudit(env), screens.NewAdmin(env),
	}
	m.retab("")
	return m
}

// retab rebuilds the tab list for the current user, keeping the screen
// named keep in front if it is still available; every screen re-reads when
// next shown.
func (m *Model) retab(keep string) {
	m.tabGen++
	m.tabs = m.tabs[:0]
	for _, s := range m.all {
		if s.Available() {
			m.tabs = append(m.tabs, s)
		}
	}
	m.active = 0
	for i, s := range m.tabs {
		if s.Name() == keep {
			m.active = i
		}
		m.dirty[s.Name()] = true
	}
	m.show(m.active)
}

// show makes tab i the active one, re-reading it if it missed a change.
func (m *Model) show(i int) {
	if i < 0 || i >= len(m.tabs) {
		return
	}
	m.active = i
	s := m.tabs[i]
	if m.dirty[s.Name()] {
		delete(m.dirty, s.Name())
		s.Reload()
	}
}

func (m *Model) screen() screens.Screen {
	if m.active < len(m.tabs) {
		return m.tabs[m.active]
	}
	return nil
}

// visitMsg brings back when the user's previous session began.
type visitMsg struct {
	prev time.Time
	err  error
}

// Init records the visit (off the update loop: it is a write).
func (m *Model) Init() tea.Cmd {
	s, u := m.env.Store(), m.env.User
	return func() tea.Msg {
		prev, err := ops.RecordVisit(s, u)
		return visitMsg{prev: prev, err: err}
	}
}

var (
	keyQuit    = key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit"))
	keyHelp    = key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys"))
	keyNext    = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next screen"))
	keyPrev    = key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous screen"))
	keyNumbers = key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9", "0"), key.WithHelp("1-9,0", "go to screen"))
)

func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if !rootOnly(msg) {
		m.ver++
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		return m, nil
	case tea.KeyMsg:
		return m.keys(msg)
	case visitMsg:
		m.env.PrevVisit, m.env.VisitKnown = msg.prev, msg.err == nil
		m.invalidate("home")
		return m, nil
	case session.Invalidate:
		if msg.Touches("service") {
			m.env.ForgetServices()
		}
		for _, s := range m.tabs {
			if s.Wants(msg) {
				m.invalidate(s.Name())
			}
		}
		return m, nil
	case session.UserChanged:
		if msg.User == nil {
			return m, nil
		}
		m.env.SetUser(msg.User)
		if msg.User.Disabled {
			m.signedOut = "your account has been disabled; this session ends (press any key)"
		}
		name := ""
		if s := m.screen(); s != nil {
			name = s.Name()
		}
		m.retab(name)
		return m, nil
	case session.Closing:
		m.closing = msg.String()
		return m, nil
	case screens.Goto:
		for i, s := range m.tabs {
			if s.Name() != msg.Screen {
				continue
			}
			if f, ok := s.(screens.Focuser); ok && msg.Practice != "" {
				delete(m.dirty, s.Name())
				m.active = i
				f.Focus(msg.Collection, msg.Practice)
			} else {
				m.show(i)
			}
		}
		return m, nil
	case screens.Done:
		var cmds []tea.Cmd
		for _, s := range m.tabs {
			cmds = append(cmds, s.Update(msg))
		}
		return m, tea.Batch(cmds...)
	}
	if s := m.screen(); s != nil {
		return m, s.Update(msg)
	}
	return m, nil
}

// invalidate re-reads a screen now if it is showing, else when next shown.
func (m *Model) invalidate(name string) {
	if s := m.screen(); s != nil && s.Name() == name {
		s.Reload()
		return
	}
	m.dirty[name] = true
}

// keys handles a key message. Over SSH, keys typed quickly arrive in one
// read and Bubble Tea reports the printable ones together ("cQOF"); each is
// acted on as if typed alone, so a fast typist loses nothing. A paste stays
// whole: it is text for a field, not a run of commands.
func (m *Model) keys(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	if k.Type != tea.KeyRunes || len(k.Runes) < 2 || k.Paste {
		return m.key(k)
	}
	var cmds []tea.Cmd
	for _, r := range k.Runes {
		one := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: k.Alt}
		_, cmd := m.key(one)
		cmds = append(cmds, cmd)
		if m.quitting {
			break
		}
	}
	return m, tea.Sequence(cmds...)
}

func (m *Model) key(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	if k.String() == "ctrl+c" || m.signedOut != "" {
		return m, m.quit()
	}
	if m.quitAsk != "" {
		m.quitAsk = ""
		if k.String() == "y" {
			return m, m.quit()
		}
		return m, nil
	}
	if m.tooSmall() {
		if k.String() == "q" {
			return m, m.quitOrAsk()
		}
		return m, nil
	}
	s := m.screen()
	if s != nil && s.Capturing() {
		return m, s.Update(k)
	}
	switch {
	case key.Matches(k, keyQuit):
		return m, m.quitOrAsk()
	case key.Matches(k, keyHelp):
		m.help.ShowAll = !m.help.ShowAll
		return m, nil
	case key.Matches(k, keyNext):
		if len(m.tabs) > 0 {
			m.show((m.active + 1) % len(m.tabs))
		}
		return m, nil
	case key.Matches(k, keyPrev):
		if len(m.tabs) > 0 {
			m.show((m.active + len(m.tabs) - 1) % len(m.tabs))
		}
		return m, nil
	case key.Matches(k, keyNumbers):
		n := int(k.Runes[0] - '0')
		if n == 0 {
			n = 10
		}
		m.show(n - 1)
		return m, nil
	}
	if s != nil {
		return m, s.Update(k)
	}
	return m, nil
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	return tea.Quit
}

// quitOrAsk quits, unless a screen holds work not saved: then it asks
// first, naming the screen and the work, because q is a key away from
// what is being typed and the work exists nowhere else.
func (m *Model) quitOrAsk() tea.Cmd {
	var what []string
	for _, s := range m.tabs {
		if u, ok := s.(screens.Unsaved); ok {
			if w := u.Unsaved(); w != "" {
				what = append(what, s.Title()+": "+w)
			}
		}
	}
	if len(what) == 0 {
		return m.quit()
	}
	m.quitAsk = "Quit? " + strings.Join(what, "; ") + ". They are lost if you quit now."
	return nil
}

func (m *Model) tooSmall() bool { return m.w < MinWidth || m.h < MinHeight }

// rootOnly reports messages that change nothing a screen shows (the frame
// cache's key covers the terminal size).
func rootOnly(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg, session.Closing:
		return true
	case tea.KeyMsg:
		return msg.String() == "?"
	}
	return false
}

// View renders the whole terminal: title, tabs, the screen, its status
// line and key help, always exactly the terminal's size.
func (m *Model) View() string {
	st := m.env.St
	if m.tooSmall() {
		msg := lines2(
			st.Mark(styles.Warn, fmt.Sprintf("terminal too small: need %dx%d, have %dx%d", MinWidth, MinHeight, m.w, m.h)),
			"Make the window larger, or press q to quit.")
		if m.quitAsk != "" {
			msg = lines2(msg, st.Mark(styles.Warn, m.quitAsk+" press y to quit, any other key to stay"))
		}
		return widgets.Fit(msg, max(m.w, 1), max(m.h, 1))
	}
	if m.signedOut != "" {
		return widgets.Fit(st.Mark(styles.Bad, m.signedOut), m.w, m.h)
	}
	s := m.screen()
	c := &m.cache
	today := m.env.Now().In(widgets.London).Format("Mon 2 Jan 2006")
	if k := fmt.Sprint(m.w, m.env.User.Name, today); k != c.headKey {
		title := st.Title.Render("gpc") + " " + st.Heading.Render("GP Collections")
		right := st.Faint.Render(m.env.User.Name + "  " + today)
		gap := m.w - lipgloss.Width(title) - lipgloss.Width(right)
		c.head, c.headKey = title+strings.Repeat(" ", max(1, gap))+right, k
		c.rule = st.Rule.Render(strings.Repeat("-", m.w))
	}
	if k := fmt.Sprint(m.w, m.active, m.tabGen); k != c.tabsKey {
		c.tabs, c.tabsKey = m.tabBar(), k
	}

	var note screens.Note
	var km help.KeyMap = globalKeys{}
	if s != nil {
		note = s.Status()
		km = combined{s.Keys()}
		if s.Capturing() {
			km = capturing{s.Keys()}
		}
	}
	status := ""
	switch {
	case m.quitAsk != "":
		status = st.Mark(styles.Warn, m.quitAsk+" press y to quit, any other key to stay")
		km = quitKeys{}
	case m.closing != "":
		status = st.Mark(styles.Warn, m.closing)
	case note.Text != "":
		status = note.Text
		if styles.Symbol(note.Tone) != "" && !strings.HasPrefix(note.Text, styles.Symbol(note.Tone)+" ") {
			status = st.Mark(note.Tone, note.Text)
		} else {
			status = st.Tone(note.Tone, note.Text)
		}
	}
	statusLines := strings.Split(strings.Join(widgets.Wrap(status, m.w), "\n"), "\n")
	if len(statusLines) > 3 {
		statusLines = statusLines[:3]
	}
	// The body is laid out above the short help; the full help ('?') is
	// drawn over the body's last lines rather than re-laying it out.
	foot := strings.Join(statusLines, "\n") + "\n" + m.helpView(km, false)
	bodyH := m.h - 3 - (strings.Count(foot, "\n") + 1)
	if k := fmt.Sprint(m.active, m.w, bodyH, m.ver, today); k != c.bodyKey {
		body := ""
		if s != nil && bodyH > 0 {
			body = s.View(m.w, bodyH)
		}
		c.body, c.bodyKey = widgets.Fit(body, m.w, max(bodyH, 0)), k
	}
	body := c.body
	if m.help.ShowAll {
		full := strings.Join(statusLines, "\n") + "\n" + m.helpView(km, true)
		cover := strings.Count(full, "\n") - strings.Count(foot, "\n")
		foot = full
		if keep := bodyH - cover; keep < bodyH {
			body = widgets.Fit(body, m.w, max(keep, 0))
			bodyH = max(keep, 0)
		}
	}
	footH := m.h - 3 - bodyH
	frame := c.head + "\n" + c.tabs + "\n" + c.rule + "\n"
	if bodyH > 0 {
		frame += body + "\n"
	}
	return frame + widgets.Fit(foot, m.w, footH)
}

// helpView renders the short or full key help, remembering recent ones
// (a key press that changes nothing else redraws without re-rendering).
func (m *Model) helpView(km help.KeyMap, all bool) string {
	k := helpKey(km, all, m.w)
	if v, ok := m.cache.help[k]; ok {
		return v
	}
	if len(m.cache.help) > 8 || m.cache.help == nil {
		m.cache.help = map[string]string{}
	}
	h := m.help
	h.Width, h.ShowAll = m.w, all
	v := h.View(km)
	m.cache.help[k] = v
	return v
}

// helpKey identifies a key help's content without rendering it.
func helpKey(km help.KeyMap, all bool, w int) string {
	var b strings.Builder
	fmt.Fprint(&b, all, w)
	add := func(k key.Binding) {
		if k.Enabled() {
			b.WriteString("|" + k.Help().Key + ":" + k.Help().Desc)
		}
	}
	if all {
		for _, col := range km.FullHelp() {
			b.WriteString("/")
			for _, k := range col {
				add(k)
			}
		}
	} else {
		for _, k := range km.ShortHelp() {
			add(k)
		}
	}
	return b.String()
}

func lines2(a, b string) string { return a + "\n" + b }

// tabBar lists the screens by number, the active one bracketed (so it
// shows without colour). It shortens labels to fit.
func (m *Model) tabBar() string {
	st := m.env.St
	render := func(short, numbersOnly bool) string {
		parts := make([]string, len(m.tabs))
		for i, s := range m.tabs {
			label := s.Title()
			if short {
				label = s.Short()
			}
			n := fmt.Sprint((i + 1) % 10)
			text := n + " " + label
			if numbersOnly && i != m.active {
				text = n
			}
			if i == m.active {
				parts[i] = st.TabActive.Render("[" + text + "]")
			} else {
				parts[i] = st.TabIdle.Render(" " + text + " ")
			}
		}
		return strings.Join(parts, "")
	}
	bar := render(false, false)
	if lipgloss.Width(bar) > m.w {
		bar = render(true, false)
	}
	if lipgloss.Width(bar) > m.w {
		bar = render(true, true)
	}
	return bar
}

// globalKeys are the root's keys, shown after every screen's.
type globalKeys struct{}

func (globalKeys) ShortHelp() []key.Binding {
	return []key.Binding{keyNumbers, keyHelp, keyQuit}
}

func (globalKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{keyNumbers, keyNext, keyPrev, keyHelp, keyQuit}}
}

// combined is a screen's keys followed by the root's.
type combined struct{ screen help.KeyMap }

func (c combined) ShortHelp() []key.Binding {
	return append(append([]key.Binding(nil), c.screen.ShortHelp()...), globalKeys{}.ShortHelp()...)
}

func (c combined) FullHelp() [][]key.Binding {
	return append(append([][]key.Binding(nil), c.screen.FullHelp()...), globalKeys{}.FullHelp()...)
}

// quitKeys is the help while the quit question is open.
type quitKeys struct{}

var (
	keyQuitYes  = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "quit"))
	keyQuitStay = key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "stay"))
)

func (quitKeys) ShortHelp() []key.Binding  { return []key.Binding{keyQuitYes, keyQuitStay} }
func (quitKeys) FullHelp() [][]key.Binding { return [][]key.Binding{{keyQuitYes, keyQuitStay}} }

// capturing is the help while a screen takes every key: only ctrl+c is
// the root's then.
type capturing struct{ screen help.KeyMap }

var keyAbort = key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit"))

func (c capturing) ShortHelp() []key.Binding {
	return append(append([]key.Binding(nil), c.screen.ShortHelp()...), keyAbort)
}

func (c capturing) FullHelp() [][]key.Binding {
	return append(append([][]key.Binding(nil), c.screen.FullHelp()...), []key.Binding{keyAbort})
}
