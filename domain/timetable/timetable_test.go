package timetable

import (
	"strings"
	"testing"

	"gpcollections/domain"
)

func englandCal(t *testing.T) *Calendar {
	t.Helper()
	c, err := England()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func d(s string) domain.Date { return domain.MustDate(s) }

func TestEnglandCalendarHasEightHolidaysEachYear(t *testing.T) {
	c := englandCal(t)
	if got := c.Years(); len(got) != 3 || got[0] != 2025 || got[2] != 2027 {
		t.Fatalf("covered years %v, want 2025..2027", got)
	}
	per := map[int]int{}
	for day := range c.holidays {
		y, _, _ := day.Civil()
		per[y]++
	}
	for y, n := range per {
		if n != 8 {
			t.Errorf("%d has %d bank holidays, want 8", y, n)
		}
	}
}

func TestWorkingDayMoves(t *testing.T) {
	c := englandCal(t)
	cases := []struct {
		name       string
		from       string
		next, prev string
	}{
		{"an ordinary Tuesday stays", "2026-06-30", "2026-06-30", "2026-06-30"},
		{"Saturday", "2025-11-01", "2025-11-03", "2025-10-31"},
		{"Christmas Day then Boxing Day then a weekend", "2025-12-25", "2025-12-29", "2025-12-24"},
		{"substitute Boxing Day 2026", "2026-12-26", "2026-12-29", "2026-12-24"},
		{"Easter: Good Friday to Easter Monday", "2026-04-03", "2026-04-07", "2026-04-02"},
		{"New Year's Day 2027 is a Friday", "2027-01-01", "2027-01-04", "2026-12-31"},
	}
	for _, tc := range cases {
		next, err := c.Next(d(tc.from))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		prev, err := c.Prev(d(tc.from))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if next != d(tc.next) || prev != d(tc.prev) {
			t.Errorf("%s: %s next %s prev %s, want %s and %s", tc.name, tc.from, next, prev, tc.next, tc.prev)
		}
	}
}

func TestUncoveredYearIsRefusedNotGuessed(t *testing.T) {
	c := englandCal(t)
	_, err := c.Next(d("2028-12-25"))
	if err == nil || !strings.Contains(err.Error(), "bank holidays of 2028 are not in the holiday file") {
		t.Fatalf("err = %v", err)
	}
	// A move that crosses into an uncovered year is refused as well.
	if _, err := c.Next(d("2027-12-31")); err != nil {
		t.Fatalf("2027-12-31 is a Friday and a working day: %v", err)
	}
	if _, err := c.Next(d("2027-12-28")); err != nil {
		t.Fatal(err)
	}
}

func TestParseHolidaysErrorsNameTheLine(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"no header", "2025-01-01,New Year\n", `h.csv:1: want the header "date,name"`},
		{"bad date", "date,name\n# c\n2025-02-30,Nope\n", "h.csv:3: date \"2025-02-30\": not a real calendar date"},
		{"weekend", "date,name\n2025-12-27,Saturday thing\n", "h.csv:2: 2025-12-27 (Saturday thing) is a Saturday"},
		{"twice", "date,name\n2025-12-25,Christmas\n2025-12-25,Again\n", "h.csv:3: 2025-12-25 is listed twice"},
		{"no name", "date,name\n2025-12-25,\n", "h.csv:2: want DATE,NAME"},
		{"empty", "# nothing\n", "h.csv: empty"},
	}
	for _, tc := range cases {
		_, err := ParseHolidays("h.csv", strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestMonthDay(t *testing.T) {
	cases := []struct {
		ach  string
		md   MonthDay
		want string
	}{
		{"2025-04-30", MonthDay{1, 9}, "2025-05-09"},
		{"2025-04-30", MonthDay{1, 0}, "2025-05-31"},
		{"2026-01-31", MonthDay{1, 31}, "2026-02-28"}, // clamps
		{"2026-03-31", MonthDay{3, 0}, "2026-06-30"},
		{"2025-12-31", MonthDay{2, 0}, "2026-02-28"},
	}
	for _, tc := range cases {
		if got := tc.md.From(d(tc.ach)); got != d(tc.want) {
			t.Errorf("%+v from %s = %s, want %s", tc.md, tc.ach, got, tc.want)
		}
	}
}

func service(freq domain.Frequency, start, end string) *domain.ServiceDef {
	return &domain.ServiceDef{ID: "SVC2526", Name: "test", Start: d(start), End: d(end), Frequency: freq, Kind: domain.KindPoints}
}

func TestPlanAppliesTimingAndTheMovingRule(t *testing.T) {
	c := englandCal(t)
	cases := []struct {
		name                              string
		freq                              domain.Frequency
		ach                               string
		opens, closes, declare, appr, pay string
		moves                             []string
	}{
		{"monthly, spring bank holiday weekend pushes the declaration deadline", domain.Monthly, "2025-04-30",
			"2025-05-01", "2025-05-09", "2025-05-27", "2025-06-02", "2025-06-30",
			[]string{"declaration deadline 2025-05-24 moved to 2025-05-27 (Saturday, Sunday, Spring bank holiday)",
				"approval deadline 2025-05-31 moved to 2025-06-02 (Saturday, Sunday)"}},
		{"monthly December: New Year's Day window, payment on a Saturday moves back", domain.Monthly, "2025-12-31",
			"2026-01-02", "2026-01-09", "2026-01-26", "2026-02-02", "2026-02-27",
			[]string{"window opens 2026-01-01 moved to 2026-01-02 (New Year's Day)",
				"declaration deadline 2026-01-24 moved to 2026-01-26 (Saturday, Sunday)",
				"approval deadline 2026-01-31 moved to 2026-02-02 (Saturday, Sunday)",
				"payment date 2026-02-28 moved to 2026-02-27 (Saturday)"}},
		{"monthly: window opening on a Saturday", domain.Monthly, "2025-10-31",
			"2025-11-03", "2025-11-10", "2025-11-24", "2025-12-01", "2025-12-31",
			[]string{"window opens 2025-11-01 moved to 2025-11-03 (Saturday, Sunday)",
				"window closes 2025-11-09 moved to 2025-11-10 (Sunday)",
				"approval deadline 2025-11-30 moved to 2025-12-01 (Sunday)"}},
		{"payment on a Sunday moves back over the weekend", domain.Monthly, "2025-06-30",
			"2025-07-01", "2025-07-09", "2025-07-24", "2025-07-31", "2025-08-29",
			[]string{"payment date 2025-08-31 moved to 2025-08-29 (Saturday, Sunday)"}},
		{"QOF year end: extracted from 1 April, paid by the end of June", domain.Annual, "2026-03-31",
			"2026-04-01", "2026-04-09", "2026-04-24", "2026-06-01", "2026-06-30",
			[]string{"approval deadline 2026-05-31 moved to 2026-06-01 (Sunday)"}},
		{"quarterly December quarter", domain.Quarterly, "2025-12-31",
			"2026-01-02", "2026-01-09", "2026-01-26", "2026-02-02", "2026-02-27", nil},
		{"Easter 2027 inside the window", domain.Monthly, "2027-02-28",
			"2027-03-01", "2027-03-09", "2027-03-24", "2027-03-31", "2027-04-30", nil},
		{"Easter 2027 on the day after the achievement date", domain.Annual, "2027-03-28",
			"2027-03-30", "2027-04-09", "2027-04-26", "2027-06-01", "2027-06-30",
			[]string{"window opens 2027-03-29 moved to 2027-03-30 (Easter Monday)",
				"declaration deadline 2027-04-24 moved to 2027-04-26 (Saturday, Sunday)",
				"approval deadline 2027-05-31 moved to 2027-06-01 (Spring bank holiday)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			def := service(tc.freq, "2025-01-01", "2027-12-31")
			s, err := Plan(def, d(tc.ach), c)
			if err != nil {
				t.Fatal(err)
			}
			want := Dates{d(tc.opens), d(tc.closes), d(tc.declare), d(tc.appr), d(tc.pay)}
			if s.Dates != want {
				t.Errorf("dates %+v\nwant  %+v", s.Dates, want)
			}
			if tc.moves != nil {
				var got []string
				for _, m := range s.Moves {
					got = append(got, m.String())
				}
				if strings.Join(got, "\n") != strings.Join(tc.moves, "\n") {
					t.Errorf("moves:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.moves, "\n"))
				}
			}
			for _, x := range []domain.Date{s.Opens, s.Closes, s.DeclareBy, s.ApproveBy, s.PayOn} {
				if !c.Working(x) {
					t.Errorf("%s is not a working day (%s)", x, c.Why(x))
				}
			}
			coll := s.Collection(def.ID)
			if err := coll.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAchievementDates(t *testing.T) {
	cases := []struct {
		name  string
		def   *domain.ServiceDef
		first string
		last  string
		n     int
	}{
		{"monthly service year", service(domain.Monthly, "2025-04-01", "2026-03-31"), "2025-04-30", "2026-03-31", 12},
		{"monthly from September (flu)", service(domain.Monthly, "2025-09-01", "2026-03-31"), "2025-09-30", "2026-03-31", 7},
		{"quarterly service year", service(domain.Quarterly, "2025-04-01", "2026-03-31"), "2025-06-30", "2026-03-31", 4},
		{"annual year end", service(domain.Annual, "2025-04-01", "2026-03-31"), "2026-03-31", "2026-03-31", 1},
		{"monthly ending mid-month collects the last part", service(domain.Monthly, "2025-04-01", "2025-06-15"), "2025-04-30", "2025-06-15", 3},
		{"quarterly ending in February", service(domain.Quarterly, "2025-04-01", "2026-02-28"), "2025-06-30", "2026-02-28", 4},
	}
	for _, tc := range cases {
		got, err := AchievementDates(tc.def)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != tc.n || got[0] != d(tc.first) || got[len(got)-1] != d(tc.last) {
			t.Errorf("%s: %v", tc.name, got)
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Errorf("%s: not in order: %v", tc.name, got)
			}
		}
	}
}

func TestGenerateWholeYearAndRefusals(t *testing.T) {
	c := englandCal(t)
	slots, err := Generate(service(domain.Monthly, "2025-04-01", "2026-03-31"), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(slots) != 12 {
		t.Fatalf("%d slots", len(slots))
	}
	for i, s := range slots {
		if i > 0 && s.Opens <= slots[i-1].Opens {
			t.Errorf("window %s opens before or with the previous one %s", s.Opens, slots[i-1].Opens)
		}
	}
	// A service in a year without holiday data is refused with the reason.
	_, err = Generate(service(domain.Annual, "2027-04-01", "2028-03-31"), c)
	if err == nil || !strings.Contains(err.Error(), "service SVC2526, achievement date 2028-03-31: window opens: date 2028-04-01: the bank holidays of 2028") {
		t.Fatalf("err = %v", err)
	}
	// An achievement date outside the period.
	if _, err := Plan(service(domain.Monthly, "2025-04-01", "2026-03-31"), d("2026-04-30"), c); err == nil ||
		!strings.Contains(err.Error(), "outside the service period") {
		t.Fatalf("err = %v", err)
	}
}

func TestSettleRefusesOutOfOrderDates(t *testing.T) {
	c := englandCal(t)
	_, _, err := Settle(Dates{Opens: d("2025-05-01"), Closes: d("2025-05-09"), DeclareBy: d("2025-05-08"),
		ApproveBy: d("2025-05-30"), PayOn: d("2025-06-30")}, c)
	if err == nil || !strings.Contains(err.Error(), "the declaration deadline (2025-05-08) is before the window closes (2025-05-09)") {
		t.Fatalf("err = %v", err)
	}
	// Moving can create disorder: a payment date on a Saturday moves back
	// before an approval deadline on that same Saturday, which moves forward.
	_, _, err = Settle(Dates{Opens: d("2025-05-01"), Closes: d("2025-05-09"), DeclareBy: d("2025-05-23"),
		ApproveBy: d("2025-06-28"), PayOn: d("2025-06-28")}, c)
	if err == nil || !strings.Contains(err.Error(), "payment date (2025-06-27) is before the approval deadline (2025-06-30)") {
		t.Fatalf("err = %v", err)
	}
}
