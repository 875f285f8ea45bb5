package rules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

// Explain shows, for one patient (by id or NHS number), which rule of each
// register and indicator selected or rejected them and the field values
// the deciding conditions read. It is how a practice checks an extract
// against its clinical system; the text goes to the caller, never a store.
func (rs *RuleSet) Explain(b *clinical.Batch, ach domain.Date, patientID string) (string, error) {
	idx := -1
	for i := range b.Patients {
		if b.Patients[i].ID == patientID || (b.Patients[i].NHSNumber != "" && b.Patients[i].NHSNumber == patientID) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return "", fmt.Errorf("patient %q is not in the source for practice %s", patientID, b.Practice)
	}
	pr := b.Patients[idx]
	var sb strings.Builder
	fmt.Fprintf(&sb, "Patient %s", pr.ID)
	if pr.NHSNumber != "" {
		fmt.Fprintf(&sb, " (NHS number %s)", pr.NHSNumber)
	}
	fmt.Fprintf(&sb, ", %s, born %s, age %d on %s\n", pr.Sex, pr.Birth, pr.Birth.AgeOn(ach), ach)
	fmt.Fprintf(&sb, "Service %s at practice %s, achievement date %s (period from %s), rules %s\n",
		rs.Service.ID, b.Practice, ach, PeriodStart(&rs.Service, ach), shortHash(rs.Hash))
	trace := []traceStep{}
	env := &refEnv{rs: rs, anchors: serviceAnchors(&rs.Service, ach), pped: ach, trace: &trace}
	rp, ok := env.patient(b, idx)
	if !ok {
		switch {
		case pr.Death.Valid() && pr.Death < ach:
			fmt.Fprintf(&sb, "Not in the extract population: died %s, before the achievement date.\n", pr.Death)
		default:
			fmt.Fprintf(&sb, "Not in the extract population: not registered at %s on %s.\n", b.Practice, ach)
			for _, r := range b.PatientRegs(idx) {
				end := "open"
				if r.End.Valid() {
					end = r.End.String()
				}
				fmt.Fprintf(&sb, "  registration at %s from %s to %s\n", orDash(r.Practice), r.Start, end)
			}
		}
		return sb.String(), nil
	}
	fmt.Fprintf(&sb, "In the extract population: registered since %s.\n", rp.reg)
	counts := map[string]map[string]int64{}
	for _, l := range rs.Lists {
		counts[l.Def.ID] = map[string]int64{}
	}
	env.runLists(rp, counts)

	byList := map[string][]traceStep{}
	for _, s := range trace {
		byList[s.list] = append(byList[s.list], s)
	}
	for _, l := range rs.Lists {
		id := l.Def.ID
		sb.WriteString("\n")
		if l.Manual() {
			fmt.Fprintf(&sb, "%s: entered manually by the practice; not extracted.\n", id)
			continue
		}
		steps := byList[id]
		if len(steps) == 0 && l.Reg >= 0 {
			fmt.Fprintf(&sb, "%s: not on register %s, so not considered.\n", id, rs.Lists[l.Reg].Def.ID)
			continue
		}
		fmt.Fprintf(&sb, "%s: %s\n", id, outcome(l, counts[id]))
		for _, s := range steps {
			fmt.Fprintf(&sb, "  %s rule %d: %s -> %s\n", s.section, s.rule.N, strings.ToUpper(strconv.FormatBool(s.result)), s.action)
			fmt.Fprintf(&sb, "    %s\n", s.rule.text)
			for _, line := range rs.explainFields(s.rule.Cond, rp) {
				fmt.Fprintf(&sb, "      %s\n", line)
			}
		}
	}
	return sb.String(), nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func outcome(l *List, c map[string]int64) string {
	switch l.Kind {
	case ListRegister:
		if c[domain.FieldRegister] > 0 {
			return "ON the register"
		}
		return "not on the register"
	case ListCount:
		if c[domain.FieldCount] > 0 {
			return fmt.Sprintf("counted (%d)", c[domain.FieldCount])
		}
		return "not counted"
	}
	if c[domain.FieldNumerator] > 0 {
		return "in the denominator and the NUMERATOR"
	}
	if c[domain.FieldDenominator] > 0 {
		return "in the denominator, not the numerator"
	}
	for _, r := range l.Def.Reasons {
		if c[r] > 0 {
			return "excluded, reason " + r
		}
	}
	return "not in the denominator"
}

// explainFields lists the values of every field and built-in a condition reads.
func (rs *RuleSet) explainFields(x *Expr, rp *refPatient) []string {
	names := map[string]bool{}
	valued := map[string]bool{} // fields whose values the condition reads
	opd := func(o Operand) {
		switch o.Kind {
		case OpdAge:
			if o.Field < 0 {
				names["AGE"] = true
			} else {
				names[rs.Fields[o.Field].Name] = true
			}
		case OpdSex:
			names["SEX"] = true
		case OpdValue, OpdValue2:
			names[rs.Fields[o.Field].Name] = true
			valued[rs.Fields[o.Field].Name] = true
		case OpdCount:
			names[rs.Fields[o.Field].Name] = true
		case OpdDate:
			switch o.Date.Anchor {
			case AnchorField:
				names[rs.Fields[o.Date.Field].Name] = true
			case AnchorDOB:
				names["DOB"] = true
			case AnchorREG:
				names["REG"] = true
			}
		}
	}
	walkExpr(x, func(x *Expr) {
		switch x.Op {
		case OpPresent, OpCodeIn:
			names[rs.Fields[x.Field].Name] = true
		case OpOnReg:
			names["on "+rs.Lists[x.Reg].Def.ID] = true
		case OpCmp:
			opd(x.A)
			opd(x.B)
		}
	})
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		switch {
		case k == "AGE":
			out = append(out, fmt.Sprintf("AGE = %d", rp.age))
		case k == "SEX":
			out = append(out, fmt.Sprintf("SEX = %s", rp.sex))
		case k == "DOB":
			out = append(out, fmt.Sprintf("DOB = %s", rp.birth))
		case k == "REG":
			out = append(out, fmt.Sprintf("REG = %s", rp.reg))
		case strings.HasPrefix(k, "on "):
			out = append(out, fmt.Sprintf("%s = %v", k, rp.on[strings.TrimPrefix(k, "on ")]))
		default:
			f, _ := rs.Field(k)
			out = append(out, fmt.Sprintf("%s = %s    [%s]", k, describe(f, rp.fields[k], valued[k]), f.text))
		}
	}
	return out
}

// describe shows a field's value; valued says the condition reads its
// values, so a missing one is worth saying.
func describe(f *Field, v refValue, valued bool) string {
	if f.Kind == FieldAge {
		return strconv.Itoa(v.age)
	}
	if !v.present {
		return "absent"
	}
	switch f.Kind {
	case FieldCount:
		return fmt.Sprintf("%d (first %s)", v.count, v.date)
	}
	s := fmt.Sprintf("%s code %d", v.date, v.code)
	num := func(has bool, x float64) string {
		if !has {
			return "none"
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	switch {
	case v.has1 || v.has2:
		s += " value " + num(v.has1, v.v1)
		if v.has2 {
			s += "/" + num(v.has2, v.v2)
		}
	case valued:
		s += " no value"
	}
	return s
}
