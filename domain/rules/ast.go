// Package rules holds the extraction rule language: a small, line-oriented,
// declarative format mirroring NHS Digital's published business-rule tables
// (clusters, named per-patient fields, ordered Select / Reject / Next rule
// lists), its loader and validator, a fast compiled evaluator, a deliberately
// simple reference evaluator used to cross-check it, and Explain, which shows
// for one patient why each indicator selected or rejected them.
//
// The language is described in README.md beside this file.
package rules

import (
	"fmt"

	"gpcollections/domain"
)

// Pos is a place in a rule file, for error messages.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// FieldKind is how a field summarises a patient's events.
type FieldKind uint8

const (
	// FieldFirst keeps the earliest matching event (date and values).
	FieldFirst FieldKind = iota + 1
	// FieldLast keeps the latest matching event; with Lowest, the lowest
	// values recorded on that latest date (the published BP rule).
	FieldLast
	// FieldCount counts matching events; with Spaced > 0 only events at
	// least that many days after the previous counted one (invitations).
	FieldCount
	// FieldAge is the patient's age in whole years on a date.
	FieldAge
)

func (k FieldKind) String() string {
	switch k {
	case FieldFirst:
		return "first"
	case FieldLast:
		return "last"
	case FieldCount:
		return "count"
	case FieldAge:
		return "age"
	}
	return "?"
}

// Anchor is the base of a date expression.
type Anchor uint8

const (
	AnchorPPED    Anchor = iota + 1 // achievement (payment period end) date
	AnchorPSD                       // start of the collection period holding the PPED
	AnchorSSD                       // service start date
	AnchorSED                       // service end date
	AnchorDOB                       // the patient's date of birth
	AnchorREG                       // start of the patient's current registration
	AnchorLiteral                   // a fixed calendar date
	AnchorField                     // the date of another field
)

var anchorNames = map[string]Anchor{
	"PPED": AnchorPPED, "PSD": AnchorPSD, "SSD": AnchorSSD, "SED": AnchorSED,
	"DOB": AnchorDOB, "REG": AnchorREG,
}

// Offset is a signed number of days, weeks, months or years.
type Offset struct {
	N    int
	Unit byte // 'd', 'w', 'm', 'y'
}

// DateExpr is an anchor moved by zero or more offsets: PPED-12m, DOB+8m.
type DateExpr struct {
	Anchor  Anchor
	Lit     domain.Date
	Field   int // index into RuleSet.Fields for AnchorField
	Offsets []Offset
}

// PatientSpecific reports whether the value differs between patients.
func (d DateExpr) PatientSpecific() bool {
	return d.Anchor == AnchorDOB || d.Anchor == AnchorREG || d.Anchor == AnchorField
}

// BoundOp is one side of a window.
type BoundOp uint8

const (
	After      BoundOp = iota + 1 // date > X
	OnOrAfter                     // date >= X
	Before                        // date < X
	OnOrBefore                    // date <= X
)

// Bound is one window clause, e.g. "after PPED-12m".
type Bound struct {
	Op   BoundOp
	Expr DateExpr
}

// Field is a named per-patient value computed from the patient's events.
// Every event field is implicitly limited to events on or before the PPED.
type Field struct {
	Name     string
	Kind     FieldKind
	Clusters []string
	Window   []Bound
	Lowest   bool
	Spaced   int      // days, for count fields
	AgeOn    DateExpr // for age fields
	Pos      Pos
	text     string // the definition as written, for Explain
}

// ActionKind is what a rule does when its condition is true or false.
type ActionKind uint8

const (
	ActNext ActionKind = iota + 1
	ActSelect
	ActReject
)

// Action is Select, Reject (with an optional reason field) or Next rule.
type Action struct {
	Kind   ActionKind
	Reason string
	reason int // index into the indicator's reasons, -1 for a silent reject
}

func (a Action) String() string {
	switch a.Kind {
	case ActNext:
		return "next"
	case ActSelect:
		return "select"
	case ActReject:
		if a.Reason != "" {
			return "reject " + a.Reason
		}
		return "reject"
	}
	return "?"
}

// Rule is one numbered line of a rule list.
type Rule struct {
	N       int
	Cond    *Expr
	IfTrue  Action
	IfFalse Action
	Pos     Pos
	text    string
}

// ExprOp is a node type in a rule condition.
type ExprOp uint8

const (
	OpAnd ExprOp = iota + 1
	OpOr
	OpNot
	OpTrue
	OpPresent // a field has a value (an event was found, a count > 0)
	OpOnReg   // the patient is on a register
	OpCodeIn  // the code of a field's event is in one of some clusters
	OpCmp     // comparison of two operands
)

// CmpOp is a comparison operator.
type CmpOp uint8

const (
	CmpLT CmpOp = iota + 1
	CmpLE
	CmpGT
	CmpGE
	CmpEQ
	CmpNE
)

var cmpText = map[CmpOp]string{CmpLT: "<", CmpLE: "<=", CmpGT: ">", CmpGE: ">=", CmpEQ: "=", CmpNE: "!="}

func (c CmpOp) String() string { return cmpText[c] }

// OperandKind says what an operand reads.
type OperandKind uint8

const (
	OpdNumber OperandKind = iota + 1 // a literal number
	OpdValue                         // FIELD.value (V1)
	OpdValue2                        // FIELD.value2 (V2)
	OpdCount                         // FIELD.count
	OpdAge                           // AGE (on the PPED) or an age field
	OpdDate                          // a date expression (incl. FIELD.date)
	OpdSex                           // SEX
	OpdSexLit                        // male / female / other / unknown
)

// Operand is one side of a comparison.
type Operand struct {
	Kind  OperandKind
	Num   float64
	Field int // field index, -1 for the built-in AGE
	Date  DateExpr
	Sex   uint8
}

// Expr is a rule condition node.
type Expr struct {
	Op       ExprOp
	L, R     *Expr
	Field    int      // OpPresent, OpCodeIn
	Clusters []string // OpCodeIn
	Reg      int      // OpOnReg: index into RuleSet.Lists
	Cmp      CmpOp
	A, B     Operand
}

// walkExpr calls f on every node of a condition, parents first.
func walkExpr(e *Expr, f func(*Expr)) {
	if e == nil {
		return
	}
	f(e)
	walkExpr(e.L, f)
	walkExpr(e.R, f)
}

// ListKind is what a rule list produces.
type ListKind uint8

const (
	ListRegister ListKind = iota + 1
	ListAchievement
	ListCount
)

// List is a register or indicator with its rule lists.
type List struct {
	Def   domain.IndicatorDef
	Kind  ListKind
	Reg   int    // index of the register it draws from, -1 for none
	Rules []Rule // register and count lists
	Denom []Rule // achievement lists
	Numer []Rule
	// CountField, when >= 0, makes a count indicator add that field's
	// count for each selected patient instead of 1 (doses, not patients).
	CountField int
	Pos        Pos
}

// Manual reports an indicator typed in by practices: no rules, no output.
func (l *List) Manual() bool { return l.Def.Entry == domain.EntryManual }
