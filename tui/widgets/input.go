// Package widgets holds the small building blocks the screens share: a
// one-line text input, a scrolling table, a filterable picker, a yes/no
// confirmation, progress bars and charts that read without colour, and the
// date and countdown wording. Every widget renders with the session's styles
// and is deterministic: no timers, no blinking, no wall clock.
package widgets

import (
	"strings"
	"unicode"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"gpcollections/tui/styles"
)

// Input is a one-line text input. It is written here rather than taken from
// bubbles/textinput so that its cursor stays visible in an Ascii terminal
// ("_" at the end of the text) and so that it never blinks (a blinking
// cursor redraws every session twice a second).
type Input struct {
	Prompt      string
	Placeholder string
	// Limit caps the length in characters (0: no limit).
	Limit int

	value   []rune
	pos     int
	focused bool
}

// NewInput makes an input.
func NewInput(prompt, placeholder string, limit int) Input {
	return Input{Prompt: prompt, Placeholder: placeholder, Limit: limit}
}

// SetValue replaces the text and puts the cursor at its end.
func (in *Input) SetValue(s string) {
	in.value = []rune(clean(s))
	if in.Limit > 0 && len(in.value) > in.Limit {
		in.value = in.value[:in.Limit]
	}
	in.pos = len(in.value)
}

// Value is the text typed.
func (in *Input) Value() string { return string(in.value) }

// Focus gives the input the keyboard.
func (in *Input) Focus() { in.focused = true }

// Blur takes the keyboard away.
func (in *Input) Blur() { in.focused = false }

// Focused reports whether the input has the keyboard.
func (in *Input) Focused() bool { return in.focused }

// clean drops control characters (a pasted line may carry a newline).
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// Update edits the text for one key. It reports whether the key was an
// editing key (so the caller does not treat it as a command).
func (in *Input) Update(msg tea.KeyMsg) bool {
	switch msg.Type {
	case tea.KeyRunes, tea.KeySpace:
		r := []rune(clean(string(msg.Runes)))
		if msg.Type == tea.KeySpace {
			r = []rune{' '}
		}
		if in.Limit > 0 && len(in.value)+len(r) > in.Limit {
			r = r[:max(0, in.Limit-len(in.value))]
		}
		v := make([]rune, 0, len(in.value)+len(r))
		v = append(v, in.value[:in.pos]...)
		v = append(v, r...)
		v = append(v, in.value[in.pos:]...)
		in.value, in.pos = v, in.pos+len(r)
	case tea.KeyBackspace:
		if in.pos > 0 {
			in.value = append(in.value[:in.pos-1], in.value[in.pos:]...)
			in.pos--
		}
	case tea.KeyDelete:
		if in.pos < len(in.value) {
			in.value = append(in.value[:in.pos], in.value[in.pos+1:]...)
		}
	case tea.KeyLeft:
		in.pos = max(0, in.pos-1)
	case tea.KeyRight:
		in.pos = min(len(in.value), in.pos+1)
	case tea.KeyHome, tea.KeyCtrlA:
		in.pos = 0
	case tea.KeyEnd, tea.KeyCtrlE:
		in.pos = len(in.value)
	case tea.KeyCtrlU:
		in.value, in.pos = append([]rune(nil), in.value[in.pos:]...), 0
	case tea.KeyCtrlK:
		in.value = in.value[:in.pos]
	case tea.KeyCtrlW:
		i := in.pos
		for i > 0 && in.value[i-1] == ' ' {
			i--
		}
		for i > 0 && in.value[i-1] != ' ' {
			i--
		}
		in.value, in.pos = append(in.value[:i], in.value[in.pos:]...), i
	default:
		return false
	}
	return true
}

// View renders the prompt and text within width, scrolled so the cursor
// shows.
func (in *Input) View(st *styles.Styles, width int) string {
	prompt := st.Bold.Render(in.Prompt)
	room := width - lipgloss.Width(in.Prompt) - 1
	if room < 4 {
		room = 4
	}
	if len(in.value) == 0 && !in.focused && in.Placeholder != "" {
		return prompt + st.Faint.Render(in.Placeholder)
	}
	start := 0
	if in.pos >= room {
		start = in.pos - room + 1
	}
	end := min(len(in.value), start+room)
	var b strings.Builder
	b.WriteString(prompt)
	if start > 0 {
		b.WriteString("<")
		start++
	}
	b.WriteString(string(in.value[start:min(in.pos, end)]))
	if in.focused {
		if in.pos < len(in.value) {
			b.WriteString(st.Selected.Render(string(in.value[in.pos])))
			if in.pos+1 < end {
				b.WriteString(string(in.value[in.pos+1 : end]))
			}
		} else {
			b.WriteString("_")
		}
	} else if in.pos < end {
		b.WriteString(string(in.value[in.pos:end]))
	}
	if end < len(in.value) {
		b.WriteString(">")
	}
	if len(in.value) == 0 && in.Placeholder != "" {
		b.WriteString(" " + st.Faint.Render(in.Placeholder))
	}
	return b.String()
}
