package calc

import (
	"strings"
	"testing"

	"gpcollections/domain"
)

func TestReadValues(t *testing.T) {
	in := "\ufeffQUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE\r\n" +
		"QOF2526,A81001,2026-03-31,AF008,DENOMINATOR,100\r\n" +
		"\r\n" +
		"QOF2526,A81001,2026-03-31,AF008,NUMERATOR, 95 \r\n"
	rows, lines, err := ReadValues(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.IndicatorValue{
		{Service: "QOF2526", Practice: "A81001", AchDate: domain.MustDate("2026-03-31"), Indicator: "AF008", Field: "DENOMINATOR", Value: 100},
		{Service: "QOF2526", Practice: "A81001", AchDate: domain.MustDate("2026-03-31"), Indicator: "AF008", Field: "NUMERATOR", Value: 95},
	}
	if len(rows) != 2 || rows[0] != want[0] || rows[1] != want[1] || lines[0] != 2 || lines[1] != 4 {
		t.Errorf("rows %+v lines %v", rows, lines)
	}
}

func TestReadValuesErrorsNameTheLine(t *testing.T) {
	const h = "QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE\n"
	const ok = "QOF2526,A81001,2026-03-31,AF008,NUMERATOR,95\n"
	cases := []struct{ in, want string }{
		{"", "line 1: empty file"},
		{"SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE\n", `line 1: header column 1 is "SERVICE"`},
		{h + ok + "QOF2526,A81001,2026-02-30,AF008,NUMERATOR,95\n", "line 3: ACH_DATE: date \"2026-02-30\": not a real calendar date"},
		{h + ok + "QOF2526,A81001,2026-03-31,AF008,NUMERATOR,9.5\n", `line 3: VALUE "9.5" is not a whole number`},
		{h + ok + "QOF2526,A81001,2026-03-31,AF008,NUMERATOR\n", "line 3: wrong number of fields"},
		{h + "QOF2526,,2026-03-31,AF008,NUMERATOR,1\n", "line 2: ORG_CODE is empty"},
		{h + "QOF2526,A81001,2026-03-31,AF008,\"NUM\nERATOR,1\n", "line 3 (in the record from line 2): extraneous or missing \" in quoted-field"},
	}
	for _, tc := range cases {
		_, _, err := ReadValues(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzReadValues(f *testing.F) {
	f.Add("QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE\nQOF2526,A81001,2026-03-31,AF008,NUMERATOR,95\n")
	f.Add("QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE\n\"a\"\"\",b,2026-01-01,c,d,-1\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, lines, err := ReadValues(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %q does not name a line", err)
			}
			return
		}
		if len(rows) != len(lines) {
			t.Fatalf("%d rows, %d lines", len(rows), len(lines))
		}
		for i := 1; i < len(lines); i++ {
			if lines[i] <= lines[i-1] {
				t.Fatalf("lines not increasing: %v", lines)
			}
		}
	})
}
