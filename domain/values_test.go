package domain

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestDateArithmetic(t *testing.T) {
	cases := []struct {
		from   string
		months int
		want   string
	}{
		{"2026-03-31", -12, "2025-03-31"},
		{"2024-02-29", -12, "2023-02-28"},
		{"2026-03-31", -1, "2026-02-28"},
		{"2026-01-31", 1, "2026-02-28"},
		{"2025-12-15", 1, "2026-01-15"},
		{"2026-03-31", -9, "2025-06-30"},
	}
	for _, c := range cases {
		if got := MustDate(c.from).AddMonths(c.months).String(); got != c.want {
			t.Errorf("%s %+d months = %s, want %s", c.from, c.months, got, c.want)
		}
	}
	for d := MustDate("1899-12-25"); d < MustDate("2101-01-05"); d += 17 {
		tm := d.Time()
		if DateFromTime(tm) != d || tm.Weekday() != d.Weekday() {
			t.Fatalf("round trip %s", d)
		}
	}
}

func TestAgeOnBirthday(t *testing.T) {
	birth := MustDate("2009-03-31")
	if a := birth.AgeOn(MustDate("2026-03-31")); a != 17 {
		t.Errorf("turning 17 on the day: age %d", a)
	}
	if a := birth.AgeOn(MustDate("2026-03-30")); a != 16 {
		t.Errorf("day before: age %d", a)
	}
	leap := MustDate("2008-02-29")
	if a := leap.AgeOn(MustDate("2025-02-28")); a != 16 {
		t.Errorf("leap-day birthday counts on 1 March in non-leap years: %d", a)
	}
}

func TestParseDateRejects(t *testing.T) {
	for _, s := range []string{"2026-02-30", "2026-13-01", "26-01-01", "2026/01/01", ""} {
		if _, err := ParseDate(s); err == nil || !strings.Contains(err.Error(), "date") {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestMoney(t *testing.T) {
	p, err := ParsePounds("£14,924.71")
	if err != nil || p != 1492471 || p.String() != "£14,924.71" || p.Plain() != "14924.71" {
		t.Fatalf("%v %v", p, err)
	}
	for _, bad := range []string{"1.234", "abc", "1.", ""} {
		if _, err := ParsePounds(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	cases := map[string]Pence{"0.005": 1, "0.004999": 0, "-0.005": -1, "10.125": 1013, "2.5": 250}
	for s, want := range cases {
		r, _ := new(big.Rat).SetString(s)
		if got := RoundPence(r); got != want {
			t.Errorf("round %s = %d, want %d", s, got, want)
		}
	}
	if (Pence(-300)).String() != "-£3.00" {
		t.Error(Pence(-300).String())
	}
}

func TestRatio(t *testing.T) {
	r, err := ParseRatio("2.1%")
	if err != nil || r.Rat().Cmp(big.NewRat(21, 1000)) != 0 {
		t.Fatalf("%v %v", r, err)
	}
	if _, err := ParseRatio("-1"); err == nil {
		t.Error("negative ratio accepted")
	}
}

func TestOrgValidation(t *testing.T) {
	bad := []Org{
		{Code: "A8100", Kind: OrgPractice, Name: "x", Parent: "QWE"},
		{Code: "a81001", Kind: OrgPractice, Name: "x", Parent: "QWE"},
		{Code: "A81001", Kind: OrgPractice, Name: "x"},
		{Code: "A81001", Kind: OrgPractice, Name: " ", Parent: "QWE"},
		{Code: "QW", Kind: OrgCommissioner, Name: "x"},
		{Code: "QWE", Kind: OrgCommissioner, Name: "x", Parent: "QXX"},
		{Code: "X27", Kind: OrgNational, Name: "x"},
	}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	o := Org{Code: "A81001", Kind: OrgPractice, Name: "Marsh Lane", Parent: "QWE"}
	o.SetListSize(MustDate("2026-01-01"), 16000)
	o.SetListSize(MustDate("2025-01-01"), 15000)
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if n, _ := o.ListSizeOn(MustDate("2025-06-30")); n != 15000 {
		t.Errorf("list size mid-2025 = %d", n)
	}
	if n, _ := o.ListSizeOn(MustDate("2026-03-31")); n != 16000 {
		t.Errorf("list size 2026 = %d", n)
	}
	if _, ok := o.ListSizeOn(MustDate("2024-12-31")); ok {
		t.Error("list size before the first record")
	}
}

func TestAuditHashCoversEveryField(t *testing.T) {
	e := AuditEntry{Seq: 3, At: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC), User: "ann", Action: "declare", Target: "declaration 1/A81001", Org: "A81001", Before: "calculated", After: "declared", Prev: "abc"}
	base := e.ComputeHash()
	mut := []func(*AuditEntry){
		func(x *AuditEntry) { x.Seq = 4 },
		func(x *AuditEntry) { x.At = x.At.Add(time.Nanosecond) },
		func(x *AuditEntry) { x.User = "anm" },
		func(x *AuditEntry) { x.Action = "declarf" },
		func(x *AuditEntry) { x.Target = "declaration 1/A81002" },
		func(x *AuditEntry) { x.Org = "A81002" },
		func(x *AuditEntry) { x.Before = "calculatee" },
		func(x *AuditEntry) { x.After = "" },
		func(x *AuditEntry) { x.Prev = "abd" },
	}
	for i, m := range mut {
		c := e
		m(&c)
		if c.ComputeHash() == base {
			t.Errorf("mutation %d does not change the hash", i)
		}
	}
}
