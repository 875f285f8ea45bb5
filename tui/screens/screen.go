package screens

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// Screen is one tab of the interface.
type Screen interface {
	// Name is the screen's stable id ("home", "queue").
	Name() string
	// Title is its tab label; Short a shorter one for narrow terminals.
	Title() string
	Short() string
	// Available reports whether the signed-in user may use the screen at
	// all (the policy allows its reading action somewhere).
	Available() bool
	// Reload re-reads what the screen shows, through the policy. Reads are
	// short transactions, copied out; nothing is held across a render.
	Reload()
	// Wants reports whether a change concerns what the screen shows.
	Wants(session.Invalidate) bool
	// Update handles a message; keys arrive here only when the root does not
	// own them.
	Update(tea.Msg) tea.Cmd
	// View renders the body in w x h cells.
	View(w, h int) string
	// Keys is the key help.
	Keys() help.KeyMap
	// Capturing is true while the screen takes every key (typing into a
	// field, a picker, a confirmation): the root's keys (q, digits, tab)
	// then go to the screen.
	Capturing() bool
	// Status is the screen's one-line message.
	Status() Note
}

// Unsaved is a screen that may hold work typed but not saved; the root
// asks before quitting while it does.
type Unsaved interface {
	// Unsaved describes the work not saved, "" when there is none.
	Unsaved() string
}

// Focuser is a screen that can be opened on a collection and practice.
type Focuser interface {
	Focus(collection uint64, practice string)
}

// base holds what every screen has.
type base struct {
	env  *Env
	id   int
	note Note
}

func newBase(env *Env) base { return base{env: env, id: env.newID()} }

func (b *base) Status() Note { return b.note }

func (b *base) say(t styles.Tone, text string) { b.note = Note{Text: text, Tone: t} }

func (b *base) fail(err error) { b.note = Refusal(err) }

func (b *base) clear() { b.note = Note{} }

// report shows how an action the screen started ended.
func (b *base) report(d Done) {
	if d.Err != nil {
		b.fail(d.Err)
	} else {
		b.say(styles.OK, d.Text)
	}
}

// mine reports whether a Done message answers this screen.
func (b *base) mine(msg tea.Msg) (Done, bool) {
	d, ok := msg.(Done)
	return d, ok && d.Screen == b.id
}

// keyMap is a help.KeyMap from a list of bindings.
type keyMap struct {
	short []key.Binding
	full  [][]key.Binding
}

func (k keyMap) ShortHelp() []key.Binding  { return k.short }
func (k keyMap) FullHelp() [][]key.Binding { return k.full }

// bind makes a binding shown in help as k: desc.
func bind(desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(keys[0], desc))
}

// bindAs is bind with a help label different from the first key.
func bindAs(label, desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(label, desc))
}

// keys builds a key map: short holds the most useful bindings; full
// groups them all in columns of at most five.
func keys(all ...key.Binding) keyMap {
	var on []key.Binding
	for _, b := range all {
		if b.Enabled() {
			on = append(on, b)
		}
	}
	var full [][]key.Binding
	for i := 0; i < len(on); i += 5 {
		full = append(full, on[i:min(i+5, len(on))])
	}
	short := on
	if len(short) > 6 {
		short = short[:6]
	}
	return keyMap{short: short, full: full}
}

// modalKeys is the help while a picker, prompt or confirmation is open.
var (
	pickerKeys  = keys(bindAs("type", "narrow", "a"), bind("move", "up", "down"), bind("choose", "enter"), bind("cancel", "esc"))
	promptKeys  = keys(bindAs("type", "text", "a"), bind("accept", "enter"), bind("cancel", "esc"))
	confirmKeys = keys(bind("confirm", "y"), bindAs("n/esc", "cancel", "n", "esc"))
)

// modal bundles the picker, prompt and confirmation a screen may open.
type modal struct {
	picker  widgets.Picker
	confirm widgets.Confirm
	prompt  widgets.Input
	// promptTag says what the open prompt asks for ("" when none).
	promptTag string
	promptMsg string
}

func (m *modal) open() bool {
	return m.picker.Active() || m.confirm.Active() || m.promptTag != ""
}

func (m *modal) ask(tag, question, label, value string, limit int) {
	m.promptTag, m.promptMsg = tag, question
	m.prompt = widgets.NewInput(label, "", limit)
	m.prompt.SetValue(value)
	m.prompt.Focus()
}

// promptUpdate handles a key for an open prompt: done when it closes, ok
// when accepted (enter) rather than cancelled (esc).
func (m *modal) promptUpdate(msg tea.KeyMsg) (tag, value string, ok, done bool) {
	switch msg.String() {
	case "esc":
		tag = m.promptTag
		m.promptTag = ""
		return tag, "", false, true
	case "enter":
		tag = m.promptTag
		m.promptTag = ""
		return tag, m.prompt.Value(), true, true
	}
	m.prompt.Update(msg)
	return m.promptTag, "", false, false
}

func (m *modal) keys() help.KeyMap {
	switch {
	case m.confirm.Active():
		return confirmKeys
	case m.picker.Active():
		return pickerKeys
	}
	return promptKeys
}

// view renders the open modal in place of (picker) or under (prompt,
// confirmation) the body.
func (m *modal) view(st *styles.Styles, body string, w, h int) string {
	switch {
	case m.picker.Active():
		return m.picker.View(st, w, h)
	case m.confirm.Active():
		c := m.confirm.View(st, w)
		return bottom(body, c, h)
	case m.promptTag != "":
		// A long question wraps rather than losing its end (the dates a
		// prompt accepts, say).
		p := st.Heading.Render(strings.Join(widgets.Wrap(m.promptMsg, w), "\n")) + "\n" + m.prompt.View(st, w) + "\n" + st.Faint.Render("enter to accept, esc to cancel")
		return bottom(body, p, h)
	}
	return body
}

// bottom puts extra under body, cutting body so both fit in h lines.
func bottom(body, extra string, h int) string {
	el := strings.Count(extra, "\n") + 1
	bl := strings.Split(body, "\n")
	keep := h - el - 1
	if keep < 0 {
		keep = 0
	}
	if len(bl) > keep {
		bl = bl[:keep]
	}
	return strings.Join(bl, "\n") + "\n\n" + extra
}

// section is a bold heading line.
func section(st *styles.Styles, s string) string { return st.Heading.Render(s) }

// lines joins non-empty parts with newlines.
func lines(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n")
}

// keyBinding names the bindings a screen enables or disables together.
type keyBinding = key.Binding
