package widgets

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // times are shown in England's zone wherever gpc runs

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"gpcollections/domain"
	"gpcollections/tui/styles"
)

func itoa(n int) string { return strconv.Itoa(n) }

// London is the zone every time is shown in: deadlines are English dates.
var London = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC // unreachable: time/tzdata is linked in
	}
	return loc
}()

// DateText is a date as people write it: "24 Apr 2026".
func DateText(d domain.Date) string {
	if !d.Valid() {
		return "-"
	}
	y, m, day := d.Civil()
	return fmt.Sprintf("%d %s %d", day, m.String()[:3], y)
}

// TimeText is an instant in England: "21 Apr 2026 11:00".
func TimeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(London).Format("2 Jan 2006 15:04")
}

// ShortTime is an instant in England without the year: "21 Apr 11:00".
func ShortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(London).Format("2 Jan 15:04")
}

// Countdown words the time left until an inclusive deadline, seen from
// today: "3 days left", "due today", "overdue by 2 days".
func Countdown(today, deadline domain.Date) (string, styles.Tone) {
	if !deadline.Valid() {
		return "no deadline", styles.Muted
	}
	n := int(deadline) - int(today)
	switch {
	case n < 0:
		return "overdue by " + plural(-n, "day"), styles.Bad
	case n == 0:
		return "due today", styles.Warn
	case n <= 3:
		return plural(n, "day") + " left", styles.Warn
	default:
		return plural(n, "day") + " left", styles.OK
	}
}

// Deadline is "declare by 24 Apr 2026 — 3 days left" with its marker.
func Deadline(st *styles.Styles, verb string, today, deadline domain.Date) string {
	left, tone := Countdown(today, deadline)
	return fmt.Sprintf("%s by %s - %s", verb, DateText(deadline), st.Mark(tone, left))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// Plural is "1 item" / "3 items".
func Plural(n int, what string) string { return plural(n, what) }

// Percent formats a fraction as "85.7%" (one decimal, halves away from
// zero), "-" for nil.
func Percent(r *big.Rat) string {
	if r == nil {
		return "-"
	}
	v := new(big.Rat).Mul(r, big.NewRat(1000, 1)) // tenths of a percent
	return fmt.Sprintf("%s%%", tenths(roundRat(v)))
}

// roundRat rounds halves away from zero to an integer.
func roundRat(r *big.Rat) int64 {
	num, den := new(big.Int).Set(r.Num()), r.Denom()
	neg := num.Sign() < 0
	num.Abs(num)
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if m.Lsh(m, 1).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return q.Int64()
}

func tenths(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%d", sign, v/10, v%10)
}

// Basis is a fraction in hundredths of a percent (0..10000), for charts.
func Basis(r *big.Rat) int64 {
	if r == nil {
		return 0
	}
	return roundRat(new(big.Rat).Mul(r, big.NewRat(10000, 1)))
}

// Thresholds formats hundredths of a percent as "40-85%".
func Thresholds(lower, upper int) string {
	f := func(v int) string {
		if v%100 == 0 {
			return strconv.Itoa(v / 100)
		}
		return fmt.Sprintf("%d.%02d", v/100, v%100)
	}
	return f(lower) + "-" + f(upper) + "%"
}

// Bar is a progress bar drawn with '#' and '.', readable in any terminal:
// "[#####.....]".
func Bar(done, total int64, width int) string {
	if width < 3 {
		width = 3
	}
	inner := width - 2
	fill := 0
	if total > 0 {
		d := min(max(done, 0), total)
		fill = int(d * int64(inner) / total)
	}
	return "[" + strings.Repeat("#", fill) + strings.Repeat(".", inner-fill) + "]"
}

// ChartRow is one bar of a chart: a label, the value drawn and its text.
type ChartRow struct {
	Label string
	Value int64
	Text  string
	// Mark is drawn on the bar's scale at this value when > 0 (a
	// threshold).
	Marks []int64
}

// Chart draws horizontal bars scaled to max, with '|' at the marks:
//
//	2025-12-31 [########|.....|....]  62.0%
func Chart(rows []ChartRow, max64 int64, width int) string {
	labelW := 0
	textW := 0
	for _, r := range rows {
		labelW = max(labelW, lipgloss.Width(r.Label))
		textW = max(textW, lipgloss.Width(r.Text))
	}
	inner := width - labelW - textW - 5
	if inner < 5 {
		inner = 5
	}
	if max64 <= 0 {
		max64 = 1
		for _, r := range rows {
			max64 = max(max64, r.Value)
		}
	}
	var b strings.Builder
	for i, r := range rows {
		cells := make([]byte, inner)
		fill := int(min(max(r.Value, 0), max64) * int64(inner) / max64)
		for j := range cells {
			if j < fill {
				cells[j] = '#'
			} else {
				cells[j] = '.'
			}
		}
		for _, m := range r.Marks {
			if p := int(m * int64(inner) / max64); m > 0 && p > 0 && p < inner {
				cells[p] = '|'
			}
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s [%s] %s", Cell(r.Label, labelW, false), cells, Cell(r.Text, textW, true))
	}
	return b.String()
}

// Fit cuts s to at most h lines of at most w cells, padding with empty
// lines to exactly h, so a screen never scrolls the terminal.
func Fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = ansi.Truncate(l, w, "")
		}
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// Wrap breaks text into lines of at most w cells at spaces.
func Wrap(s string, w int) []string {
	if w < 10 {
		w = 10
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			switch {
			case line == "":
				line = word
			case lipgloss.Width(line)+1+lipgloss.Width(word) <= w:
				line += " " + word
			default:
				out = append(out, line)
				line = word
			}
		}
		out = append(out, line)
	}
	return out
}

// Int formats a count with thousands separators: "12,345".
func Int(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
