package timetable

import (
	"bufio"
	_ "embed" // the England bank holiday data file
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"gpcollections/domain"
)

// Calendar knows which days are working days: Monday to Friday, except the
// bank holidays of the years it covers. Holidays are data (a CSV file), never
// code, so next year's dates are an edit, not a release.
type Calendar struct {
	holidays map[domain.Date]string
	years    map[int]bool
}

// ParseHolidays reads a holiday file: a "date,name" header, then one row per
// holiday (YYYY-MM-DD, name). Blank lines and lines starting with '#' are
// ignored. Every year that has a row is covered, and taken to be complete.
// name is used in error messages ("england-bank-holidays.csv:12: ...").
func ParseHolidays(name string, r io.Reader) (*Calendar, error) {
	c := &Calendar{holidays: map[domain.Date]string{}, years: map[int]bool{}}
	sc := bufio.NewScanner(r)
	header := false
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if !header {
			if text != "date,name" {
				return nil, fmt.Errorf("%s:%d: want the header %q, found %q", name, line, "date,name", text)
			}
			header = true
			continue
		}
		ds, hname, ok := strings.Cut(text, ",")
		hname = strings.TrimSpace(hname)
		if !ok || hname == "" {
			return nil, fmt.Errorf("%s:%d: want DATE,NAME, found %q", name, line, text)
		}
		d, err := domain.ParseDate(strings.TrimSpace(ds))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if prev, dup := c.holidays[d]; dup {
			return nil, fmt.Errorf("%s:%d: %s is listed twice (%s and %s)", name, line, d, prev, hname)
		}
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			return nil, fmt.Errorf("%s:%d: %s (%s) is a %s; list the substitute weekday instead", name, line, d, hname, wd)
		}
		c.holidays[d] = hname
		y, _, _ := d.Civil()
		c.years[y] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !header {
		return nil, fmt.Errorf("%s: empty: want a %q header and holiday rows", name, "date,name")
	}
	return c, nil
}

//go:embed england-bank-holidays.csv
var englandCSV string

// EnglandFile is the name of the embedded holiday file.
const EnglandFile = "england-bank-holidays.csv"

var (
	englandOnce sync.Once
	england     *Calendar
	englandErr  error
)

// England is the calendar of England's bank holidays shipped with gpc.
func England() (*Calendar, error) {
	englandOnce.Do(func() { england, englandErr = ParseHolidays(EnglandFile, strings.NewReader(englandCSV)) })
	return england, englandErr
}

// Covers reports whether the calendar knows the bank holidays of d's year.
func (c *Calendar) Covers(d domain.Date) bool {
	y, _, _ := d.Civil()
	return c.years[y]
}

// Years lists the covered years in order.
func (c *Calendar) Years() []int {
	var ys []int
	for y := range c.years {
		ys = append(ys, y)
	}
	sort.Ints(ys)
	return ys
}

// Holiday names the bank holiday on d, if any.
func (c *Calendar) Holiday(d domain.Date) (string, bool) {
	n, ok := c.holidays[d]
	return n, ok
}

// Working reports whether d is a working day: a weekday that is not a bank
// holiday. It does not check coverage; Place does.
func (c *Calendar) Working(d domain.Date) bool {
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	_, hol := c.holidays[d]
	return !hol
}

// Why says why d is not a working day ("Saturday", "Christmas Day"), or "".
func (c *Calendar) Why(d domain.Date) string {
	if n, ok := c.holidays[d]; ok {
		return n
	}
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return wd.String()
	}
	return ""
}

// maxSkip bounds a move: no run of non-working days in England is longer
// than four (Christmas on a Friday: Fri, Sat, Sun, Mon), so ten is ample and
// guarantees termination on any data.
const maxSkip = 10

// Next is the first working day on or after d.
func (c *Calendar) Next(d domain.Date) (domain.Date, error) { return c.step(d, 1) }

// Prev is the last working day on or before d.
func (c *Calendar) Prev(d domain.Date) (domain.Date, error) { return c.step(d, -1) }

func (c *Calendar) step(d domain.Date, dir int) (domain.Date, error) {
	for i := 0; i <= maxSkip; i++ {
		x := d.AddDays(dir * i)
		if !c.Covers(x) {
			y, _, _ := x.Civil()
			return d, fmt.Errorf("date %s: the bank holidays of %d are not in the holiday file (it covers %s); add them", d, y, yearList(c.Years()))
		}
		if c.Working(x) {
			return x, nil
		}
	}
	return d, fmt.Errorf("date %s: no working day within %d days; the holiday file lists too many days", d, maxSkip)
}

func yearList(ys []int) string {
	if len(ys) == 0 {
		return "no years"
	}
	s := make([]string, len(ys))
	for i, y := range ys {
		s[i] = fmt.Sprint(y)
	}
	return strings.Join(s, ", ")
}
