package domain

import (
	"fmt"
	"time"
)

// Date is a civil calendar date held as days since 1970-01-01. Achievement
// dates, windows and deadlines are dates, not instants: the published rules
// speak of "the 12 months up to and including the PPED", never of hours.
// Integer days also make the evaluator's window tests one comparison.
type Date int32

// NoDate marks an absent date (no death date, open registration).
const NoDate Date = -1 << 31

// DateOf builds a date from its parts; out-of-range days normalise like time.Date.
func DateOf(y int, m time.Month, d int) Date {
	return dateFromDays(daysFromCivil(y, int(m), d))
}

func dateFromDays(n int64) Date { return Date(n) }

// ParseDate reads YYYY-MM-DD and rejects anything else, naming the input.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return NoDate, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	y, ok1 := atoiN(s[0:4])
	m, ok2 := atoiN(s[5:7])
	d, ok3 := atoiN(s[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return NoDate, fmt.Errorf("date %q: not a real calendar date", s)
	}
	return DateOf(y, time.Month(m), d), nil
}

// MustDate is ParseDate for literals in tests and tables; it panics on a typo.
func MustDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func atoiN(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Civil returns year, month, day.
func (d Date) Civil() (int, time.Month, int) {
	y, m, dd := civilFromDays(int64(d))
	return y, time.Month(m), dd
}

// Valid reports whether d is a real date rather than NoDate.
func (d Date) Valid() bool { return d != NoDate }

func (d Date) String() string {
	if d == NoDate {
		return ""
	}
	y, m, dd := d.Civil()
	return fmt.Sprintf("%04d-%02d-%02d", y, int(m), dd)
}

// Time is midnight UTC at the start of the date.
func (d Date) Time() time.Time {
	y, m, dd := d.Civil()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}

// DateFromTime takes the civil date of t in t's own location.
func DateFromTime(t time.Time) Date {
	y, m, d := t.Date()
	return DateOf(y, m, d)
}

// AddDays moves by n days.
func (d Date) AddDays(n int) Date { return d + Date(n) }

// AddMonths moves by n calendar months, clamping to the month's last day
// (2024-02-29 minus 12 months is 2023-02-28), which is how "12 months before
// the PPED" reads for a month-end date.
func (d Date) AddMonths(n int) Date {
	y, m, dd := d.Civil()
	total := y*12 + int(m) - 1 + n
	ny := total / 12
	if total < 0 && total%12 != 0 {
		ny-- // floor division for years before 0
	}
	nm := total - ny*12 + 1
	if last := daysIn(ny, nm); dd > last {
		dd = last
	}
	return DateOf(ny, time.Month(nm), dd)
}

// AddYears moves by n years with the same month-end clamping.
func (d Date) AddYears(n int) Date { return d.AddMonths(12 * n) }

// Weekday of the date.
func (d Date) Weekday() time.Weekday { return time.Weekday((int64(d)%7 + 7 + 4) % 7) }

// MonthEnd is the last day of d's month.
func (d Date) MonthEnd() Date {
	y, m, _ := d.Civil()
	return DateOf(y, m, daysIn(y, int(m)))
}

// AgeOn is the age in whole years on date on of someone born on d: the
// birthday counts on the day itself (turning 17 on the PPED is 17).
func (d Date) AgeOn(on Date) int {
	by, bm, bd := d.Civil()
	y, m, dd := on.Civil()
	age := y - by
	if m < bm || (m == bm && dd < bd) {
		age--
	}
	return age
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil and civilFromDays are Howard Hinnant's public-domain
// proleptic Gregorian algorithms, written out here from their description.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func civilFromDays(z int64) (int, int, int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

// MarshalText writes YYYY-MM-DD (empty for NoDate), so JSON and CSV agree.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD; empty means NoDate.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = NoDate
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
