package widgets

import (
	"io"
	"math/big"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"gpcollections/domain"
	"gpcollections/tui/styles"
)

func ascii() *styles.Styles {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return styles.New(r)
}

func runes(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

func TestInputEditsAndShowsItsCursorWithoutColour(t *testing.T) {
	in := NewInput("n: ", "", 5)
	in.Focus()
	in.Update(runes("12"))
	in.Update(tea.KeyMsg{Type: tea.KeyLeft})
	in.Update(runes("9"))
	if in.Value() != "192" {
		t.Fatalf("insert at cursor: %q", in.Value())
	}
	in.Update(runes("3456")) // the limit keeps 5 characters
	if in.Value() != "19342" {
		t.Fatalf("limit: %q", in.Value())
	}
	in.Update(tea.KeyMsg{Type: tea.KeyEnd})
	in.Update(tea.KeyMsg{Type: tea.KeyBackspace})
	if v := in.View(ascii(), 40); v != "n: 1934_" {
		t.Fatalf("view %q", v)
	}
	in.Update(tea.KeyMsg{Type: tea.KeyCtrlU})
	if in.Value() != "" {
		t.Fatalf("ctrl+u: %q", in.Value())
	}
	in.SetValue("a\tb\nc")
	if in.Value() != "a bc" {
		t.Fatalf("pasted control characters kept: %q", in.Value())
	}
	if in.Update(tea.KeyMsg{Type: tea.KeyEnter}) {
		t.Fatal("enter is not an editing key")
	}
}

func TestTableDropsOptionalColumnsAndScrolls(t *testing.T) {
	tb := Table{Cols: []Column{{Title: "A", Width: 10}, {Title: "B", Width: 30, Optional: true}, {Title: "C"}}}
	var rows [][]string
	for i := 0; i < 30; i++ {
		rows = append(rows, []string{"a", "bbbb", "c"})
	}
	tb.SetRows(rows)
	st := ascii()
	if v := tb.View(st, 100, 10); !strings.Contains(v, "B") {
		t.Fatalf("wide: the optional column is dropped:\n%s", v)
	}
	if v := tb.View(st, 50, 10); strings.Contains(strings.Split(v, "\n")[0], "B") {
		t.Fatalf("narrow: the optional column stays:\n%s", v)
	}
	tb.Show(25)
	v := tb.View(st, 50, 10)
	if !strings.Contains(v, "rows 24-30 of 30") || !strings.Contains(v, "> a") {
		t.Fatalf("scrolled view:\n%s", v)
	}
	for _, l := range strings.Split(v, "\n") {
		if lipgloss.Width(l) > 50 {
			t.Fatalf("line wider than the table: %q", l)
		}
	}
}

// A table may ask more room for its flexible column than the default
// before it drops an optional one; ColumnWidth says what was kept.
func TestTableMinFlexDropsOptionalColumnsSooner(t *testing.T) {
	tb := Table{Cols: []Column{{Title: "A", Width: 29}, {Title: "B", Width: 12}, {Title: "Bar", Width: 14, Optional: true}, {Title: "Detail"}}}
	if w := tb.ColumnWidth(2, 80); w != 14 {
		t.Fatalf("default: the bar column is %d wide at 80", w)
	}
	tb.MinFlex = 34
	if w, d := tb.ColumnWidth(2, 80), tb.ColumnWidth(3, 80); w != 0 || d != 33 {
		t.Fatalf("MinFlex 34 at 80: bar %d, detail %d; want 0 and 33", w, d)
	}
	if w := tb.ColumnWidth(2, 100); w != 14 {
		t.Fatalf("MinFlex 34 at 100: the bar column is %d wide", w)
	}
}

func TestCountdownWords(t *testing.T) {
	today := domain.MustDate("2026-04-21")
	for _, c := range []struct {
		deadline string
		want     string
		tone     styles.Tone
	}{
		{"2026-04-24", "3 days left", styles.Warn},
		{"2026-04-22", "1 day left", styles.Warn},
		{"2026-04-21", "due today", styles.Warn},
		{"2026-04-20", "overdue by 1 day", styles.Bad},
		{"2026-05-21", "30 days left", styles.OK},
	} {
		got, tone := Countdown(today, domain.MustDate(c.deadline))
		if got != c.want || tone != c.tone {
			t.Errorf("%s: %q %v, want %q %v", c.deadline, got, tone, c.want, c.tone)
		}
	}
	if got := Deadline(ascii(), "declare", today, domain.MustDate("2026-04-24")); got != "declare by 24 Apr 2026 - ! 3 days left" {
		t.Errorf("deadline %q", got)
	}
}

func TestNumbersAndBars(t *testing.T) {
	if got := Percent(big.NewRat(2, 3)); got != "66.7%" {
		t.Errorf("2/3 = %s", got)
	}
	if got := Percent(big.NewRat(1, 2000)); got != "0.1%" { // 0.05% rounds half away from zero
		t.Errorf("1/2000 = %s", got)
	}
	if got := Int(-1234567); got != "-1,234,567" {
		t.Errorf("Int %s", got)
	}
	if got := Bar(1, 4, 10); got != "[##......]" {
		t.Errorf("bar %q", got)
	}
	if got := Bar(5, 0, 6); got != "[....]" {
		t.Errorf("bar of nothing %q", got)
	}
	if got := Thresholds(4550, 9000); got != "45.50-90%" {
		t.Errorf("thresholds %q", got)
	}
	c := Chart([]ChartRow{{Label: "a", Value: 5000, Text: "50%", Marks: []int64{2500}}}, 10000, 30)
	if c != "a [#####|####...........] 50%" {
		t.Errorf("chart %q", c)
	}
}

func TestFitIsExactlyTheSize(t *testing.T) {
	out := Fit("one\ntwo is too long for it\nthree\nfour", 8, 3)
	if out != "one\ntwo is t\nthree" {
		t.Fatalf("fit %q", out)
	}
	if out := Fit("x", 5, 3); out != "x\n\n" {
		t.Fatalf("padded %q", out)
	}
}

func TestConfirmTakesOnlyYes(t *testing.T) {
	var c Confirm
	c.Ask("t", "really?")
	for _, k := range []string{"x", "enter", " ", "q"} {
		if _, yes, done := c.Update(runes(k)); yes || done {
			t.Fatalf("%q answered the question", k)
		}
	}
	if _, yes, done := c.Update(tea.KeyMsg{Type: tea.KeyEsc}); yes || !done {
		t.Fatal("esc did not cancel")
	}
	c.Ask("t", "really?")
	if tag, yes, done := c.Update(runes("y")); !yes || !done || tag != "t" {
		t.Fatal("y did not confirm")
	}
}

func TestPickerNarrowsAndChooses(t *testing.T) {
	var p Picker
	p.Open("practice", "practice", []Item{{"A81001", "A81001 Riverside"}, {"A81002", "A81002 Hillview"}}, "")
	p.Update(runes("hill"))
	if key, ok, done := p.Update(tea.KeyMsg{Type: tea.KeyEnter}); !done || !ok || key != "A81002" {
		t.Fatalf("chose %q %v %v", key, ok, done)
	}
	p.Open("practice", "practice", []Item{{"A81001", "A81001 Riverside"}}, "")
	p.Update(runes("zzz"))
	if _, _, done := p.Update(tea.KeyMsg{Type: tea.KeyEnter}); done {
		t.Fatal("enter with nothing matching chose something")
	}
}
