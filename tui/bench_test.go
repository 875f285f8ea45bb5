package tui

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// BenchmarkKeyToView is the work of one key press on the home screen: the
// update (toggling the key help) and the full view it redraws.
func BenchmarkKeyToView(b *testing.B) {
	w := newWorld(b)
	var m tea.Model = New(w.context(b, "pat", nil))
	help := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'?'}}
	b.ReportAllocs()
	for b.Loop() {
		m, _ = m.Update(help)
		_ = m.View()
	}
}

// BenchmarkNewSession is a session's start: the root model with its home
// screen read, and the first view.
func BenchmarkNewSession(b *testing.B) {
	w := newWorld(b)
	ctx := w.context(b, "pat", nil)
	b.ReportAllocs()
	for b.Loop() {
		_ = New(ctx).View()
	}
}

// BenchmarkCursorMove is a key that changes the body: moving down and up
// the achievement table, which redraws the table and the indicator's
// detail.
func BenchmarkCursorMove(b *testing.B) {
	w := newWorld(b)
	var m tea.Model = New(w.context(b, "pat", nil))
	for _, r := range "4c" {
		m, _ = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	for _, r := range "QOF" {
		m, _ = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	m, _ = m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	keys := []tea.KeyMsg{{Type: tea.KeyDown}, {Type: tea.KeyUp}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m, _ = m.Update(keys[i%2])
		_ = m.View()
		i++
	}
}
