package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// At 80x24 the extract monitor's Detail column is narrow: what it says
// must still be read whole (progress counts, attempts, how many failed),
// and what does not fit is said in full under the table for the selected
// row. Failure is marked in ASCII, never by colour alone.
func TestMonitorDetailReadableAt80x24(t *testing.T) {
	w := newWorld(t)
	ctx := w.context(t, "admin", &fakeScheduler{st: w.st})
	ctx.Width, ctx.Height = MinWidth, MinHeight
	var m tea.Model = New(ctx)
	for i, s := range m.(*Model).tabs {
		if s.Name() == "monitor" {
			m, _ = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{rune('0' + (i+1)%10)}})
		}
	}
	v := m.View()
	row := func(start string) string {
		for _, l := range strings.Split(v, "\n") {
			if strings.HasPrefix(strings.TrimLeft(l, "> "), start) {
				return l
			}
		}
		t.Fatalf("no row %q:\n%s", start, v)
		return ""
	}
	for start, want := range map[string]string{
		"CHILDIMM2526 2026-03-31 run 1": "0/4 done, 2 running, x 1 failed",
		"A81001":                        "1,200/2,000 patients",
		"A81004":                        "500/4,000 patients, attempt 2",
	} {
		if l := row(start); !strings.Contains(l, want) {
			t.Errorf("at 80 columns the %s row does not read %q:\n%s", start, want, l)
		}
	}
	if l := row("A81003"); !strings.Contains(l, "x failed") || !strings.Contains(l, "  x ") {
		t.Errorf("the failed job is not marked x in its state and detail:\n%s", l)
	}
	// The selected collection's detail, in full, under the table.
	for _, want := range []string{"CHILDIMM2526 2026-03-31 run 1: extracting", "0 of 4 practices done, 2 running, x 1 failed",
		"1,700 of 6,000 patients"} {
		if !strings.Contains(strings.Join(strings.Fields(v), " "), want) {
			t.Errorf("the detail area does not say %q:\n%s", want, v)
		}
	}
	for _, l := range strings.Split(v, "\n") {
		if strings.Contains(l, "practic...") || strings.Contains(l, "pa...") {
			t.Errorf("a progress detail is cut: %q", l)
		}
	}
}
