// Package manual parses and checks values typed by hand: the fields a
// service marks manual (a learning disability register size, quality
// improvement indicators) and automatic fields keyed in for a practice whose
// extract failed. It is pure; drafts, deadlines and audit live elsewhere.
//
// What a value may look like: a whole number of digits, surrounding spaces
// ignored, leading zeros allowed ("007" is 7). Refused, each with a message
// saying how to fix it: empty, a sign ("+5", "-5"), a decimal point ("12.5",
// "12.0"), and thousands separators ("1,234", "1 234"). Separators are
// refused rather than dropped because "1,5" would be one and a half in much
// of Europe; a count typed in plain digits cannot be misread.
package manual

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gpcollections/domain"
	"gpcollections/domain/calc"
)

// FieldError is a problem with one value, named by indicator and field:
// `DM020 NUMERATOR: "12.5" is not a whole number`.
type FieldError struct {
	Indicator string `json:"indicator"`
	Field     string `json:"field"`
	Msg       string `json:"message"`
}

func (e FieldError) Error() string { return e.Indicator + " " + e.Field + ": " + e.Msg }

// ParseValue reads one typed value for indicator's field.
func ParseValue(indicator, field, raw string) (int64, error) {
	fail := func(format string, a ...any) (int64, error) {
		return 0, FieldError{Indicator: indicator, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	t := strings.TrimSpace(raw)
	q := quote(t)
	if t == "" {
		return fail("a value is required: type a whole number, 0 or more")
	}
	body := t
	if t[0] == '+' || t[0] == '-' {
		body = t[1:]
	}
	digits := allDigits(body)
	switch {
	case t[0] == '-' && digits:
		return fail("%s is negative: a count cannot be below 0", q)
	case t[0] == '+' && digits:
		return fail("%s: type the number without a sign, e.g. %s", q, body)
	case t[0] == '+' || t[0] == '-':
		return fail("%s is not a whole number", q)
	}
	if whole, frac, ok := strings.Cut(t, "."); ok && allDigits(whole) && allDigits(frac) {
		if len(frac) == 3 { // "1.000" may be a thousand, written the European way
			return fail("%s: type the number in plain digits, without a point or separators", q)
		}
		if strings.Trim(frac, "0") == "" {
			return fail("%s: type a whole number without a decimal point, e.g. %s", q, trimZeros(whole))
		}
		return fail("%s is not a whole number", q)
	}
	if plain := strings.NewReplacer(",", "", " ", "", "\u00a0", "", "_", "", "'", "").Replace(t); plain != t && allDigits(plain) {
		return fail("%s: type the number without separators, e.g. %s", q, trimZeros(plain))
	}
	if !allDigits(t) {
		return fail("%s is not a whole number", q)
	}
	s := trimZeros(t)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v > calc.MaxCount {
		return fail("%s is too large: at most %d", q, calc.MaxCount)
	}
	return v, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// trimZeros drops leading zeros, keeping "0" for zero.
func trimZeros(s string) string {
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}

// quote shows what was typed, shortened so a pasted page stays readable.
func quote(s string) string {
	if r := []rune(s); len(r) > 24 {
		s = string(r[:24]) + "…"
	}
	return strconv.Quote(s)
}

// Validate checks a practice's values for a service as a set: every key is
// a field of the service, every value a count in range, a numerator not
// above its denominator, a denominator not above its register, and a count
// not above its cap (learning disability checks <= the register). values
// holds (indicator, field) -> value and should include the automatic values
// alongside the manual ones, since a check may span both. When a check spans
// a manual and an automatic value the error is put on the manual one, the
// one the person entering can change. Errors come in the service's
// indicator order; nil means valid.
func Validate(def *domain.ServiceDef, values map[[2]string]int64) []FieldError {
	var errs []FieldError
	add := func(at [2]string, format string, a ...any) {
		errs = append(errs, FieldError{Indicator: at[0], Field: at[1], Msg: fmt.Sprintf(format, a...)})
	}
	known := map[[2]string]bool{}
	for _, d := range def.Indicators {
		for _, f := range d.Fields() {
			k := [2]string{d.ID, f}
			known[k] = true
			if v, ok := values[k]; ok && (v < 0 || v > calc.MaxCount) {
				add(k, "%d is not between 0 and %d", v, calc.MaxCount)
			}
		}
	}
	var unknown [][2]string
	for k := range values {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	slices.SortFunc(unknown, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for _, k := range unknown {
		add(k, "not a field of service %s", def.ID)
	}
	manual := map[string]bool{}
	for _, d := range def.Indicators {
		manual[d.ID] = d.Entry == domain.EntryManual
	}
	// notAbove reports small > big, on the manual side where there is one.
	notAbove := func(small, big [2]string) {
		vs, ok1 := values[small]
		vb, ok2 := values[big]
		if !ok1 || !ok2 || vs <= vb || vs < 0 || vb < 0 {
			return
		}
		if manual[big[0]] && !manual[small[0]] {
			add(big, "%d is below %s %d: it must be at least that", vb, name(big[0], small), vs)
			return
		}
		add(small, "%d is above %s %d", vs, name(small[0], big), vb)
	}
	for _, d := range def.Indicators {
		key := func(id, f string) [2]string { return [2]string{id, f} }
		switch d.Kind {
		case domain.IndAchievement:
			notAbove(key(d.ID, domain.FieldNumerator), key(d.ID, domain.FieldDenominator))
			reg := key(d.ID, domain.FieldRegister)
			if _, own := values[reg]; !own && d.Register != "" {
				reg = key(d.Register, domain.FieldRegister)
			}
			notAbove(key(d.ID, domain.FieldDenominator), reg)
		case domain.IndCount:
			if capDef, ok := def.Indicator(d.CapIndicator); ok {
				notAbove(key(d.ID, domain.FieldCount), key(capDef.ID, capDef.Fields()[0]))
			}
		}
	}
	return errs
}

// name describes field k as seen from indicator from: "the denominator" for
// its own fields, "LD001 REGISTER" for another's.
func name(from string, k [2]string) string {
	if k[0] == from {
		return "the " + strings.ToLower(k[1])
	}
	return k[0] + " " + k[1]
}
