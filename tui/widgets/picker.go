package widgets

import (
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/tui/styles"
)

// Item is one choice in a picker.
type Item struct {
	Key   string
	Label string
}

// Picker chooses one item from a list narrowed by typing: up/down move,
// enter chooses, esc cancels. It is how a screen switches practice or
// collection when there are too many to cycle through.
type Picker struct {
	Title  string
	items  []Item
	shown  []int
	filter Input
	table  Table
	active bool
	tag    string
}

// Open shows the picker with the cursor on current (an item key). tag says
// what is being picked, for the caller.
func (p *Picker) Open(tag, title string, items []Item, current string) {
	p.tag, p.Title, p.items, p.active = tag, title, items, true
	p.filter = NewInput("filter: ", "type to narrow", 40)
	p.filter.Focus()
	p.table = Table{Cols: []Column{{Title: title}}, Empty: "nothing matches"}
	p.refilter()
	for i, ix := range p.shown {
		if p.items[ix].Key == current {
			p.table.Cursor = i
		}
	}
}

// Active reports whether the picker is showing.
func (p *Picker) Active() bool { return p.active }

// Tag is what the open picker picks.
func (p *Picker) Tag() string { return p.tag }

func (p *Picker) refilter() {
	q := strings.ToLower(strings.TrimSpace(p.filter.Value()))
	p.shown = p.shown[:0]
	rows := [][]string{}
	for i, it := range p.items {
		if q == "" || strings.Contains(strings.ToLower(it.Label), q) || strings.Contains(strings.ToLower(it.Key), q) {
			p.shown = append(p.shown, i)
			rows = append(rows, []string{it.Label})
		}
	}
	p.table.SetRows(rows)
}

// Update handles a key. When the picker closes it returns done with the
// chosen key, or ok false when cancelled.
func (p *Picker) Update(msg tea.KeyMsg) (key string, ok, done bool) {
	switch msg.String() {
	case "esc":
		p.active = false
		return "", false, true
	case "enter":
		if len(p.shown) == 0 {
			return "", false, false
		}
		p.active = false
		return p.items[p.shown[p.table.Cursor]].Key, true, true
	case "up", "down", "pgup", "pgdown":
		p.table.HandleKey(msg)
		return "", false, false
	}
	if p.filter.Update(msg) {
		p.refilter()
	}
	return "", false, false
}

// View renders the picker.
func (p *Picker) View(st *styles.Styles, w, h int) string {
	var b strings.Builder
	b.WriteString(st.Heading.Render("Choose "+p.Title) + st.Faint.Render("  (type to narrow, up/down, enter to choose, esc to cancel)") + "\n")
	b.WriteString(p.filter.View(st, w) + "\n")
	b.WriteString(p.table.View(st, w, h-2))
	return b.String()
}

// Keys is the picker's key help.
func (p *Picker) Keys() []string {
	return []string{"type", "narrow", "enter", "choose", "esc", "cancel"}
}

// Confirm asks a yes/no question. Only 'y' confirms; 'n' or esc cancels, and
// every other key is ignored, so a stray key never confirms and Esc never
// does anything but cancel.
type Confirm struct {
	text   string
	tag    string
	active bool
}

// Ask opens the question; tag says what is being confirmed.
func (c *Confirm) Ask(tag, text string) { c.tag, c.text, c.active = tag, text, true }

// Active reports whether a question is open.
func (c *Confirm) Active() bool { return c.active }

// Cancel closes the question without an answer.
func (c *Confirm) Cancel() { c.active = false }

// Update answers the question. done is true once answered; yes says how.
func (c *Confirm) Update(msg tea.KeyMsg) (tag string, yes, done bool) {
	switch msg.String() {
	case "y", "Y":
		c.active = false
		return c.tag, true, true
	case "n", "N", "esc":
		c.active = false
		return c.tag, false, true
	}
	return c.tag, false, false
}

// View renders the question.
func (c *Confirm) View(st *styles.Styles, w int) string {
	lines := Wrap(c.text, w-2)
	out := make([]string, 0, len(lines)+1)
	for i, l := range lines {
		if i == 0 {
			out = append(out, st.Mark(styles.Warn, l))
		} else {
			out = append(out, st.Tone(styles.Warn, "  "+l))
		}
	}
	out = append(out, st.Bold.Render("  press y to confirm, n or esc to cancel"))
	return strings.Join(out, "\n")
}
