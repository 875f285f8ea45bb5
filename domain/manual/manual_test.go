package manual

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/calc"
)

func TestParseValue(t *testing.T) {
	cases := []struct {
		raw     string
		want    int64
		wantErr string // the whole message, so users see exactly this
	}{
		{"12", 12, ""},
		{"  12\t", 12, ""},
		{"0", 0, ""},
		{"007", 7, ""},
		{"000", 0, ""},
		{"1000000000", calc.MaxCount, ""},
		{"", 0, `DM020 NUMERATOR: a value is required: type a whole number, 0 or more`},
		{"   ", 0, `DM020 NUMERATOR: a value is required: type a whole number, 0 or more`},
		{"12.5", 0, `DM020 NUMERATOR: "12.5" is not a whole number`},
		{"12.0", 0, `DM020 NUMERATOR: "12.0": type a whole number without a decimal point, e.g. 12`},
		{"1.000", 0, `DM020 NUMERATOR: "1.000": type the number in plain digits, without a point or separators`},
		{"12.", 0, `DM020 NUMERATOR: "12." is not a whole number`},
		{".5", 0, `DM020 NUMERATOR: ".5" is not a whole number`},
		{"-3", 0, `DM020 NUMERATOR: "-3" is negative: a count cannot be below 0`},
		{"-0", 0, `DM020 NUMERATOR: "-0" is negative: a count cannot be below 0`},
		{"+5", 0, `DM020 NUMERATOR: "+5": type the number without a sign, e.g. 5`},
		{"+", 0, `DM020 NUMERATOR: "+" is not a whole number`},
		{"1,234", 0, `DM020 NUMERATOR: "1,234": type the number without separators, e.g. 1234`},
		{"1 234", 0, `DM020 NUMERATOR: "1 234": type the number without separators, e.g. 1234`},
		{"12a", 0, `DM020 NUMERATOR: "12a" is not a whole number`},
		{"1e3", 0, `DM020 NUMERATOR: "1e3" is not a whole number`},
		{"0x10", 0, `DM020 NUMERATOR: "0x10" is not a whole number`},
		{"١٢", 0, `DM020 NUMERATOR: "١٢" is not a whole number`}, // Arabic-Indic digits
		{"1000000001", 0, `DM020 NUMERATOR: "1000000001" is too large: at most 1000000000`},
		{"99999999999999999999999", 0, `DM020 NUMERATOR: "99999999999999999999999" is too large: at most 1000000000`},
		{strings.Repeat("x", 100), 0, `DM020 NUMERATOR: "xxxxxxxxxxxxxxxxxxxxxxxx…" is not a whole number`},
	}
	for _, tc := range cases {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := ParseValue("DM020", "NUMERATOR", tc.raw)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %d, %v; want %d", got, err, tc.want)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error %v\nwant  %s", err, tc.wantErr)
			}
			var fe FieldError
			if !errors.As(err, &fe) || fe.Indicator != "DM020" || fe.Field != "NUMERATOR" {
				t.Errorf("error %#v should name the indicator and field", err)
			}
		})
	}
}

func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"12", " 0 ", "007", "-1", "+1", "1,000", "12.5", "1e9", "", "\u00a01\u00a0", "9223372036854775808", "1000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := ParseValue("LD001", "REGISTER", raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "LD001 REGISTER: ") {
				t.Fatalf("error %q does not name the field", err)
			}
			return
		}
		if v < 0 || v > calc.MaxCount {
			t.Fatalf("%q accepted as %d", raw, v)
		}
		s := strconv.FormatInt(v, 10)
		if back, err := ParseValue("LD001", "REGISTER", s); err != nil || back != v {
			t.Fatalf("%q -> %d -> %q -> %d, %v", raw, v, s, back, err)
		}
		// Accepted input is the canonical digits up to spaces and leading zeros.
		if trimZeros(strings.TrimSpace(raw)) != s {
			t.Fatalf("%q accepted as %d", raw, v)
		}
	})
}

func ldService() *domain.ServiceDef {
	return &domain.ServiceDef{ID: "LDHC2526", Kind: domain.KindItemOfService, Indicators: []domain.IndicatorDef{
		{ID: "LD001", Kind: domain.IndRegister, Entry: domain.EntryManual},
		{ID: "LDHC001", Kind: domain.IndCount, Entry: domain.EntryAutomatic, CapIndicator: "LD001"},
		{ID: "QI001", Kind: domain.IndAchievement, Entry: domain.EntryManual},
		{ID: "DM020", Kind: domain.IndAchievement, Entry: domain.EntryAutomatic, Register: "LD001"},
	}}
}

func TestValidate(t *testing.T) {
	type kv = map[[2]string]int64
	cases := []struct {
		name   string
		values kv
		want   []string
	}{
		{"consistent", kv{{"LD001", "REGISTER"}: 25, {"LDHC001", "COUNT"}: 25, {"QI001", "DENOMINATOR"}: 10, {"QI001", "NUMERATOR"}: 10}, nil},
		{"empty", kv{}, nil},
		{"numerator above denominator", kv{{"QI001", "DENOMINATOR"}: 10, {"QI001", "NUMERATOR"}: 12},
			[]string{"QI001 NUMERATOR: 12 is above the denominator 10"}},
		{"denominator above own register", kv{{"QI001", "REGISTER"}: 9, {"QI001", "DENOMINATOR"}: 10},
			[]string{"QI001 DENOMINATOR: 10 is above the register 9"}},
		// DM020 has no REGISTER of its own here: its register indicator counts,
		// and LD001 is the manual side, so the message is put there.
		{"denominator above the register it draws on", kv{{"LD001", "REGISTER"}: 5, {"DM020", "DENOMINATOR"}: 8},
			[]string{"LD001 REGISTER: 5 is below DM020 DENOMINATOR 8: it must be at least that"}},
		{"checks above the manual register", kv{{"LD001", "REGISTER"}: 25, {"LDHC001", "COUNT"}: 31},
			[]string{"LD001 REGISTER: 25 is below LDHC001 COUNT 31: it must be at least that"}},
		{"cap not entered yet is not an error", kv{{"LDHC001", "COUNT"}: 31}, nil},
		{"negative", kv{{"LD001", "REGISTER"}: -1}, []string{"LD001 REGISTER: -1 is not between 0 and 1000000000"}},
		{"unknown fields, sorted", kv{{"XX001", "COUNT"}: 1, {"LD001", "COUNT"}: 1},
			[]string{"LD001 COUNT: not a field of service LDHC2526", "XX001 COUNT: not a field of service LDHC2526"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range Validate(ldService(), tc.values) {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// Both sides automatic (a failed extract keyed in): the error stays on the
// count, the figure that is too big.
func TestValidateBlamesTheCountWhenNeitherSideIsManual(t *testing.T) {
	svc := ldService()
	svc.Indicators[0].Entry = domain.EntryAutomatic
	errs := Validate(svc, map[[2]string]int64{{"LD001", "REGISTER"}: 2, {"LDHC001", "COUNT"}: 3})
	if len(errs) != 1 || errs[0].Error() != "LDHC001 COUNT: 3 is above LD001 REGISTER 2" {
		t.Errorf("got %v", errs)
	}
}

func TestValidateOrderIsStable(t *testing.T) {
	values := map[[2]string]int64{{"QI001", "NUMERATOR"}: -2, {"LD001", "REGISTER"}: -1, {"QI001", "DENOMINATOR"}: -3}
	want := []string{
		"LD001 REGISTER: -1 is not between 0 and 1000000000",
		"QI001 DENOMINATOR: -3 is not between 0 and 1000000000",
		"QI001 NUMERATOR: -2 is not between 0 and 1000000000",
	}
	for range 20 { // map order varies run to run; the errors must not
		var got []string
		for _, e := range Validate(ldService(), values) {
			got = append(got, e.Error())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
