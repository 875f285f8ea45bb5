package widgets

import (
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"gpcollections/tui/styles"
)

// Column is one table column. A row of a single cell spans every column. Width 0 makes the column flexible: it takes
// the width the fixed columns leave.
type Column struct {
	Title string
	Width int
	Right bool
	// Optional columns are dropped, rightmost first, when the terminal is
	// too narrow to give the flexible columns their minimum.
	Optional bool
}

// minFlex is the narrowest a flexible column is squeezed to before
// optional columns are dropped.
const minFlex = 16

// Table is a scrolling table with a cursor row. The cursor row is marked
// with ">" as well as highlighted, so it shows without colour.
type Table struct {
	Cols []Column
	Rows [][]string
	// Cursor is the selected row.
	Cursor int
	// NoCursor shows the table without a selected row.
	NoCursor bool
	// Empty is shown instead of rows when there are none.
	Empty string
	// MinFlex, when set, is the narrowest the flexible columns are
	// squeezed to before optional columns are dropped (default minFlex):
	// a column whose text matters more than its neighbours' asks for more.
	MinFlex int
	off     int

	// The laid-out header and rows for one width, reused until the rows
	// or the width change (moving the cursor re-lays nothing).
	head   string
	lines  []string
	laidW  int
	laidOK bool
}

// SetRows replaces the rows (and takes any change to Cols), keeping the
// cursor in range.
func (t *Table) SetRows(rows [][]string) {
	t.Rows = rows
	t.laidOK = false
	t.clamp()
}

func (t *Table) clamp() {
	if t.Cursor >= len(t.Rows) {
		t.Cursor = len(t.Rows) - 1
	}
	if t.Cursor < 0 {
		t.Cursor = 0
	}
}

// Show puts the cursor on row i and scrolls it to the top of the view.
func (t *Table) Show(i int) {
	t.Cursor, t.off = i, i
	t.clamp()
}

// Move moves the cursor by delta rows.
func (t *Table) Move(delta int) {
	t.Cursor += delta
	t.clamp()
}

// HandleKey moves the cursor for the navigation keys (arrows, page up and
// down, home and end) and reports whether the key was one of them. Letters
// are left to the screens, whose commands they are.
func (t *Table) HandleKey(msg tea.KeyMsg) bool {
	switch msg.String() {
	case "up":
		t.Move(-1)
	case "down":
		t.Move(1)
	case "pgup":
		t.Move(-10)
	case "pgdown":
		t.Move(10)
	case "home":
		t.Cursor = 0
	case "end":
		t.Cursor = len(t.Rows) - 1
		t.clamp()
	default:
		return false
	}
	return true
}

// widths resolves the column widths for a total width; 0 marks a column
// dropped for want of room.
func (t *Table) widths(total int) []int {
	shown := make([]bool, len(t.Cols))
	for i := range shown {
		shown[i] = true
	}
	var w []int
	for {
		w = make([]int, len(t.Cols))
		fixed, flex, n := 0, 0, 0
		for i, c := range t.Cols {
			if !shown[i] {
				continue
			}
			n++
			if c.Width > 0 {
				w[i] = c.Width
				fixed += c.Width
			} else {
				flex++
			}
		}
		gaps := 2 + 2*(n-1) // gutter, then two spaces between columns
		rest := total - fixed - gaps
		least := minFlex
		if t.MinFlex > 0 {
			least = t.MinFlex
		}
		if rest >= flex*least || !dropOne(t.Cols, shown) {
			for i, c := range t.Cols {
				if shown[i] && c.Width == 0 {
					w[i] = max(6, rest/max(flex, 1))
				}
			}
			return w
		}
	}
}

// ColumnWidth is column i's width in a table width cells wide; 0 when the
// column is dropped for want of room.
func (t *Table) ColumnWidth(i, width int) int {
	ws := t.widths(width)
	if i < 0 || i >= len(ws) {
		return 0
	}
	return ws[i]
}

// dropOne hides the rightmost optional column still shown.
func dropOne(cols []Column, shown []bool) bool {
	for i := len(cols) - 1; i >= 0; i-- {
		if cols[i].Optional && shown[i] {
			shown[i] = false
			return true
		}
	}
	return false
}

// join lays out the shown cells of a row.
func join(cells []string, ws []int) string {
	var parts []string
	for i, c := range cells {
		if ws[i] > 0 {
			parts = append(parts, c)
		}
	}
	return strings.TrimRight(strings.Join(parts, "  "), " ")
}

// Cell pads or truncates s (which may carry styling) to width w.
func Cell(s string, w int, right bool) string {
	if lipgloss.Width(s) > w {
		if w <= 3 {
			return ansi.Truncate(s, w, "")
		}
		s = ansi.Truncate(s, w, "...")
	}
	pad := strings.Repeat(" ", w-lipgloss.Width(s))
	if right {
		return pad + s
	}
	return s + pad
}

// layout renders the header and every row for a width.
func (t *Table) layout(st *styles.Styles, width int) {
	if t.laidOK && t.laidW == width {
		return
	}
	ws := t.widths(width)
	head := make([]string, len(t.Cols))
	rule := -2
	for i, c := range t.Cols {
		head[i] = Cell(c.Title, ws[i], c.Right)
		if ws[i] > 0 {
			rule += ws[i] + 2
		}
	}
	t.head = "  " + st.Heading.Render(join(head, ws)) + "\n" + "  " + st.Rule.Render(strings.Repeat("-", min(rule, width-2)))
	t.lines = make([]string, len(t.Rows))
	for r, row := range t.Rows {
		if len(row) == 1 && len(t.Cols) > 1 {
			// A single cell spans the row (a section heading).
			t.lines[r] = strings.TrimRight(Cell(row[0], width-2, false), " ")
			continue
		}
		cells := make([]string, len(t.Cols))
		for i := range t.Cols {
			v := ""
			if i < len(row) {
				v = row[i]
			}
			cells[i] = Cell(v, ws[i], t.Cols[i].Right)
		}
		t.lines[r] = join(cells, ws)
	}
	t.laidW, t.laidOK = width, true
}

// View renders the header, a rule and as many rows as fit in h lines,
// scrolled to keep the cursor in view.
func (t *Table) View(st *styles.Styles, width, h int) string {
	t.layout(st, width)
	var b strings.Builder
	b.WriteString(t.head)
	rows := h - 2
	if len(t.Rows) == 0 {
		if t.Empty != "" && rows > 0 {
			b.WriteString("\n  " + st.Faint.Render(t.Empty))
		}
		return b.String()
	}
	if rows < 1 {
		return b.String()
	}
	more := len(t.Rows) > rows
	if more {
		rows-- // keep a line for "rows x-y of n"
	}
	if t.Cursor < t.off {
		t.off = t.Cursor
	}
	if t.Cursor >= t.off+rows {
		t.off = t.Cursor - rows + 1
	}
	if t.off > len(t.Rows)-rows {
		t.off = max(0, len(t.Rows)-rows)
	}
	end := min(len(t.Rows), t.off+rows)
	for r := t.off; r < end; r++ {
		line := t.lines[r]
		if !t.NoCursor && r == t.Cursor {
			b.WriteString("\n" + st.Bold.Render(">") + " " + st.Selected.Render(line))
		} else {
			b.WriteString("\n  " + line)
		}
	}
	if more {
		b.WriteString("\n  " + st.Faint.Render(rangeText(t.off+1, end, len(t.Rows))))
	}
	return b.String()
}

func rangeText(from, to, n int) string {
	return "rows " + itoa(from) + "-" + itoa(to) + " of " + itoa(n) + " (up/down, pgup/pgdown)"
}
