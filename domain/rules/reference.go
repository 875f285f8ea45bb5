package rules

import (
	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

// The reference evaluator: deliberately plain. Fields are computed one at
// a time by scanning all of a patient's events, values live in maps keyed
// by name, conditions are interpreted straight from the parsed rules. It is
// slow and obviously correct, and the property tests require the fast
// evaluator to agree with it on generated practices. Explain uses it too,
// with a trace of every rule it ran.

// refValue is a field's value for one patient.
type refValue struct {
	present bool
	date    domain.Date
	v1, v2  float64
	has1    bool // v1 was recorded (an event may carry no value)
	has2    bool
	count   int
	code    clinical.Code
	age     int
}

// refPatient is one patient as the reference evaluator sees them.
type refPatient struct {
	birth  domain.Date
	sex    clinical.Sex
	reg    domain.Date
	age    int
	fields map[string]refValue
	on     map[string]bool
}

// traceStep records one rule run, for Explain.
type traceStep struct {
	list    string
	section string
	rule    *Rule
	result  bool
	action  Action
}

type refEnv struct {
	rs      *RuleSet
	anchors map[Anchor]domain.Date
	pped    domain.Date
	trace   *[]traceStep
}

// EvaluateReference is the reference evaluator's Evaluate: same output,
// computed the simple way, one patient at a time.
func (rs *RuleSet) EvaluateReference(b *clinical.Batch, ach domain.Date) []domain.IndicatorValue {
	env := &refEnv{rs: rs, anchors: serviceAnchors(&rs.Service, ach), pped: ach}
	counts := map[string]map[string]int64{}
	for _, l := range rs.Lists {
		counts[l.Def.ID] = map[string]int64{}
	}
	for i := range b.Patients {
		rp, ok := env.patient(b, i)
		if !ok {
			continue
		}
		env.runLists(rp, counts)
	}
	var flat []int64
	for _, l := range rs.Lists {
		if l.Manual() {
			continue
		}
		for _, f := range l.Def.Fields() {
			flat = append(flat, counts[l.Def.ID][f])
		}
	}
	return rs.rows(b.Practice, ach, flat)
}

// patient builds a patient's fields, or reports them out of the population.
func (env *refEnv) patient(b *clinical.Batch, i int) (*refPatient, bool) {
	pr := b.Patients[i]
	reg, ok := InPopulation(pr.Death, b.PatientRegs(i), b.Practice, env.pped)
	if !ok {
		return nil, false
	}
	rp := &refPatient{birth: pr.Birth, sex: pr.Sex, reg: reg.Start, age: pr.Birth.AgeOn(env.pped),
		fields: map[string]refValue{}, on: map[string]bool{}}
	events := b.PatientEvents(i)
	for _, f := range env.rs.Fields {
		rp.fields[f.Name] = env.field(f, rp, b, events)
	}
	return rp, true
}

// dateOf evaluates a date expression; false when it rests on an absent field.
func (env *refEnv) dateOf(d DateExpr, rp *refPatient) (domain.Date, bool) {
	var base domain.Date
	switch d.Anchor {
	case AnchorLiteral:
		base = d.Lit
	case AnchorDOB:
		base = rp.birth
	case AnchorREG:
		base = rp.reg
	case AnchorField:
		v := rp.fields[env.rs.Fields[d.Field].Name]
		if !v.present {
			return domain.NoDate, false
		}
		base = v.date
	default:
		base = env.anchors[d.Anchor]
	}
	return applyOffsets(base, d.Offsets), true
}

// inWindow reports whether day is inside the field's window: on or before
// the PPED and every bound satisfied.
func (env *refEnv) inWindow(f *Field, day domain.Date, rp *refPatient) bool {
	if day > env.pped {
		return false
	}
	for _, b := range f.Window {
		x, _ := env.dateOf(b.Expr, rp)
		switch b.Op {
		case After:
			if !(day > x) {
				return false
			}
		case OnOrAfter:
			if !(day >= x) {
				return false
			}
		case Before:
			if !(day < x) {
				return false
			}
		case OnOrBefore:
			if !(day <= x) {
				return false
			}
		}
	}
	return true
}

func (env *refEnv) inClusters(f *Field, code clinical.Code) bool {
	for _, cl := range f.Clusters {
		if env.rs.Clusters.Contains(cl, code) {
			return true
		}
	}
	return false
}

func (env *refEnv) field(f *Field, rp *refPatient, b *clinical.Batch, events []clinical.EventRow) refValue {
	if f.Kind == FieldAge {
		on, _ := env.dateOf(f.AgeOn, rp)
		return refValue{present: true, age: rp.birth.AgeOn(on)}
	}
	// Collect the matching events in record order (date, then source order).
	var match []clinical.EventRow
	for _, e := range events {
		if env.inClusters(f, b.Codes[e.Code]) && env.inWindow(f, e.Date, rp) {
			match = append(match, e)
		}
	}
	if len(match) == 0 {
		return refValue{}
	}
	switch f.Kind {
	case FieldFirst:
		e := match[0]
		return refValue{present: true, date: e.Date, v1: float64(e.V1), v2: float64(e.V2),
			has1: e.NVal >= 1, has2: e.NVal >= 2, count: 1, code: b.Codes[e.Code]}
	case FieldLast:
		e := match[len(match)-1]
		v := refValue{present: true, date: e.Date, v1: float64(e.V1), v2: float64(e.V2),
			has1: e.NVal >= 1, has2: e.NVal >= 2, count: 1, code: b.Codes[e.Code]}
		if f.Lowest {
			// the lowest of each value among the readings on the latest
			// date that have that value
			v.has1, v.has2 = false, false
			for _, o := range match {
				if o.Date != e.Date {
					continue
				}
				if o.NVal >= 1 && (!v.has1 || float64(o.V1) < v.v1) {
					v.v1, v.has1 = float64(o.V1), true
				}
				if o.NVal >= 2 && (!v.has2 || float64(o.V2) < v.v2) {
					v.v2, v.has2 = float64(o.V2), true
				}
			}
		}
		return v
	}
	// count: every match, or with spacing only those at least Spaced days
	// after the previously counted one.
	v := refValue{present: true, date: match[0].Date, count: 1}
	last := match[0].Date
	for _, e := range match[1:] {
		if f.Spaced == 0 || int(e.Date-last) >= f.Spaced {
			v.count++
			last = e.Date
		}
	}
	return v
}

// runLists runs registers (in dependency order) then indicators.
func (env *refEnv) runLists(rp *refPatient, counts map[string]map[string]int64) {
	rs := env.rs
	var order []*List
	for _, i := range rs.regOrder {
		order = append(order, rs.Lists[i])
	}
	for _, l := range rs.Lists {
		if l.Kind != ListRegister {
			order = append(order, l)
		}
	}
	for _, l := range order {
		if l.Manual() {
			continue
		}
		if l.Reg >= 0 && !rp.on[rs.Lists[l.Reg].Def.ID] {
			continue
		}
		c := counts[l.Def.ID]
		switch l.Kind {
		case ListRegister:
			if env.runRules(l.Def.ID, "register", l.Rules, rp).Kind == ActSelect {
				rp.on[l.Def.ID] = true
				c[domain.FieldRegister]++
			}
		case ListAchievement:
			c[domain.FieldRegister]++
			a := env.runRules(l.Def.ID, "denominator", l.Denom, rp)
			if a.Kind == ActReject {
				if a.Reason != "" {
					c[a.Reason]++
				}
				continue
			}
			c[domain.FieldDenominator]++
			if env.runRules(l.Def.ID, "numerator", l.Numer, rp).Kind == ActSelect {
				c[domain.FieldNumerator]++
			}
		case ListCount:
			if env.runRules(l.Def.ID, "count", l.Rules, rp).Kind == ActSelect {
				if l.CountField >= 0 {
					c[domain.FieldCount] += int64(rp.fields[rs.Fields[l.CountField].Name].count)
				} else {
					c[domain.FieldCount]++
				}
			}
		}
	}
}

func (env *refEnv) runRules(list, section string, rules []Rule, rp *refPatient) Action {
	for i := range rules {
		r := &rules[i]
		ok := env.cond(r.Cond, rp)
		a := r.IfFalse
		if ok {
			a = r.IfTrue
		}
		if env.trace != nil {
			*env.trace = append(*env.trace, traceStep{list: list, section: section, rule: r, result: ok, action: a})
		}
		if a.Kind != ActNext {
			return a
		}
	}
	return Action{Kind: ActReject}
}

func (env *refEnv) cond(x *Expr, rp *refPatient) bool {
	switch x.Op {
	case OpAnd:
		return env.cond(x.L, rp) && env.cond(x.R, rp)
	case OpOr:
		return env.cond(x.L, rp) || env.cond(x.R, rp)
	case OpNot:
		return !env.cond(x.L, rp)
	case OpTrue:
		return true
	case OpPresent:
		return rp.fields[env.rs.Fields[x.Field].Name].present
	case OpOnReg:
		return rp.on[env.rs.Lists[x.Reg].Def.ID]
	case OpCodeIn:
		v := rp.fields[env.rs.Fields[x.Field].Name]
		if !v.present {
			return false
		}
		for _, cl := range x.Clusters {
			if env.rs.Clusters.Contains(cl, v.code) {
				return true
			}
		}
		return false
	case OpCmp:
		if opdType(x.A) == "date" {
			a, ok1 := env.dateOf(x.A.Date, rp)
			b, ok2 := env.dateOf(x.B.Date, rp)
			return ok1 && ok2 && compare(x.Cmp, float64(a), float64(b))
		}
		a, ok1 := env.number(x.A, rp)
		b, ok2 := env.number(x.B, rp)
		return ok1 && ok2 && compare(x.Cmp, a, b)
	}
	return false
}

// number reads a numeric (or sex) operand; false when its field is absent.
func (env *refEnv) number(o Operand, rp *refPatient) (float64, bool) {
	switch o.Kind {
	case OpdNumber:
		return o.Num, true
	case OpdSex:
		return float64(rp.sex), true
	case OpdSexLit:
		return float64(o.Sex), true
	case OpdAge:
		if o.Field < 0 {
			return float64(rp.age), true
		}
		return float64(rp.fields[env.rs.Fields[o.Field].Name].age), true
	}
	v := rp.fields[env.rs.Fields[o.Field].Name]
	if !v.present {
		return 0, false
	}
	switch o.Kind {
	case OpdValue:
		return v.v1, v.has1
	case OpdValue2:
		return v.v2, v.has2
	}
	return float64(v.count), true
}
