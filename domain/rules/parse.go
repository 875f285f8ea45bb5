package rules

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gpcollections/domain"
)

// ErrorList is every problem found in a rule directory, each naming its
// file and line; rule checks report them all at once.
type ErrorList []error

func (e ErrorList) Error() string {
	var b strings.Builder
	for i, err := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

const maxErrors = 50

// parser holds the state of loading one rule directory.
type parser struct {
	rs       *RuleSet
	errs     ErrorList
	fieldIdx map[string]int
	listIdx  map[string]int
	pending  []pendingRule
	service  *Pos
	payments map[int]Pos
	refs     []ref
}

// pendingRule is a rule whose condition is parsed once every field and
// register of the directory is known (files may refer to each other).
type pendingRule struct {
	list    int
	section string // "rules", "denominator", "numerator"
	line    logicalLine
	file    string
}

func (p *parser) errorf(pos Pos, format string, args ...any) {
	if len(p.errs) < maxErrors {
		p.errs = append(p.errs, fmt.Errorf("%s: %s", pos, fmt.Sprintf(format, args...)))
	}
}

// cursor walks the tokens of one logical line.
type cursor struct {
	toks []token
	i    int
	pos  Pos
}

var errSyntax = errors.New("syntax")

func (c *cursor) peek() (token, bool) {
	if c.i < len(c.toks) {
		return c.toks[c.i], true
	}
	return token{}, false
}

func (c *cursor) next() (token, bool) {
	t, ok := c.peek()
	if ok {
		c.i++
	}
	return t, ok
}

func (c *cursor) done() bool { return c.i >= len(c.toks) }

// is reports whether the next token is the word or operator w.
func (c *cursor) is(w string) bool {
	t, ok := c.peek()
	return ok && (t.kind == tIdent || t.kind == tOp) && t.text == w
}

func (c *cursor) accept(w string) bool {
	if c.is(w) {
		c.i++
		return true
	}
	return false
}

func (c *cursor) line() int {
	if t, ok := c.peek(); ok {
		return t.line
	}
	if len(c.toks) > 0 {
		return c.toks[len(c.toks)-1].line
	}
	return c.pos.Line
}

func (c *cursor) here() Pos { return Pos{File: c.pos.File, Line: c.line()} }

// fail builds a positioned error.
func (c *cursor) fail(format string, args ...any) error {
	return fmt.Errorf("%s: %s", c.here(), fmt.Sprintf(format, args...))
}

func (c *cursor) expect(w string) error {
	if !c.accept(w) {
		return c.fail("expected %q%s", w, c.found())
	}
	return nil
}

func (c *cursor) found() string {
	if t, ok := c.peek(); ok {
		return fmt.Sprintf(", found %s", t)
	}
	return ", found end of line"
}

func (c *cursor) ident() (string, error) {
	t, ok := c.next()
	if !ok || t.kind != tIdent {
		c.i--
		if !ok {
			c.i++
		}
		return "", c.fail("expected a name%s", c.found())
	}
	return t.text, nil
}

func (c *cursor) str() (string, error) {
	t, ok := c.peek()
	if !ok || t.kind != tString {
		return "", c.fail("expected a quoted string%s", c.found())
	}
	c.i++
	return t.text, nil
}

func (c *cursor) integer() (int, error) {
	t, ok := c.peek()
	if !ok || t.kind != tNumber {
		return 0, c.fail("expected a whole number%s", c.found())
	}
	n, err := strconv.Atoi(t.text)
	if err != nil {
		return 0, c.fail("%q is not a whole number", t.text)
	}
	c.i++
	return n, nil
}

func (c *cursor) end() error {
	if !c.done() {
		t, _ := c.peek()
		return c.fail("unexpected %s at end of statement", t)
	}
	return nil
}

// optString reads an optional trailing quoted note.
func (c *cursor) optString() string {
	if t, ok := c.peek(); ok && t.kind == tString {
		c.i++
		return t.text
	}
	return ""
}

// block kinds while parsing a file
const (
	blkNone = iota
	blkService
	blkPayment
	blkList
)

// parseFile runs the first pass over one file: metadata, payment blocks,
// fields, and the skeleton of every register and indicator.
func (p *parser) parseFile(file string, lines []logicalLine) {
	blk := blkNone
	var blkPos Pos
	var pay *domain.PaymentParams
	var payNotes []string
	list := -1
	section := ""
	for _, ll := range lines {
		c := &cursor{toks: ll.toks, pos: Pos{file, ll.line}}
		pos := Pos{file, ll.line}
		kw := ""
		if t, _ := c.peek(); t.kind == tIdent {
			kw = t.text
		}
		var err error
		switch {
		case kw == "end":
			c.next()
			err = c.end()
			switch blk {
			case blkNone:
				err = fmt.Errorf("%s: \"end\" without a block to close", pos)
			case blkPayment:
				if len(payNotes) > 0 {
					pay.Note = strings.Join(payNotes, "; ")
				}
				p.rs.Service.Payment = append(p.rs.Service.Payment, *pay)
				pay = nil
			}
			blk, list, section, payNotes = blkNone, -1, "", nil
		case blk == blkNone:
			switch kw {
			case "service":
				if p.service != nil {
					err = fmt.Errorf("%s: a second service block (the first is at %s)", pos, p.service)
					break
				}
				p.service = &pos
				c.next()
				p.rs.Service.ID, err = c.ident()
				if err == nil {
					err = c.end()
				}
				blk, blkPos = blkService, pos
			case "payment":
				c.next()
				pay, err = p.paymentHeader(c)
				blk, blkPos = blkPayment, pos
				if pay == nil {
					pay = &domain.PaymentParams{}
				}
			case "field":
				err = p.parseField(c, ll.text)
			case "register", "indicator":
				list, err = p.listHeader(c)
				blk, blkPos, section = blkList, pos, ""
			default:
				err = c.fail("expected service, payment, field, register or indicator%s", c.found())
			}
		case blk == blkService:
			err = p.serviceAttr(c)
		case blk == blkPayment:
			err = p.paymentAttr(c, pay, &payNotes)
		case blk == blkList:
			if list < 0 {
				break // header failed; skip the body quietly
			}
			switch kw {
			case "rule":
				if section == "" {
					if p.rs.Lists[list].Kind == ListAchievement {
						err = c.fail("a rule before \"denominator\" or \"numerator\"")
						break
					}
					section = "rules"
				}
				p.pending = append(p.pending, pendingRule{list: list, section: section, line: ll, file: file})
			case "denominator", "numerator":
				c.next()
				if err = c.end(); err != nil {
					break
				}
				if p.rs.Lists[list].Kind != ListAchievement {
					err = fmt.Errorf("%s: %q only belongs in an achievement indicator", pos, kw)
					break
				}
				if kw == "denominator" && section != "" || kw == "numerator" && section != "denominator" {
					err = fmt.Errorf("%s: %q out of order (denominator rules, then numerator rules)", pos, kw)
				}
				section = kw
			default:
				if section != "" {
					err = c.fail("expected a rule or \"end\" after the rules start%s", c.found())
					break
				}
				err = p.listAttr(c, list)
			}
		}
		if err != nil {
			p.errs = append(p.errs, err)
			if len(p.errs) >= maxErrors {
				return
			}
		}
	}
	if blk != blkNone {
		p.errorf(blkPos, "block not closed with \"end\"")
	}
}

func (p *parser) serviceAttr(c *cursor) error {
	s := &p.rs.Service
	kw, err := c.ident()
	if err != nil {
		return err
	}
	switch kw {
	case "name":
		s.Name, err = c.str()
	case "year":
		s.Year, err = c.str()
	case "source":
		s.Source, err = c.str()
	case "requested-by", "requested_by":
		s.RequestedBy, err = c.str()
	case "prior-year", "prior_year":
		s.PriorYear, err = c.ident()
	case "period":
		if s.Start, err = p.literalDate(c); err == nil {
			if err = c.expect("to"); err == nil {
				s.End, err = p.literalDate(c)
			}
		}
	case "frequency":
		var f string
		if f, err = c.ident(); err == nil {
			s.Frequency = domain.Frequency(f)
		}
	case "kind":
		var k string
		if k, err = c.ident(); err == nil {
			s.Kind = domain.ServiceKind(k)
		}
	case "declaration":
		s.DeclarationRequired, err = p.required(c)
	case "approval":
		s.ApprovalRequired, err = p.required(c)
	case "auto-accept", "auto_accept":
		s.AutoAccept, err = p.yesNo(c)
	default:
		return fmt.Errorf("%s: unknown service attribute %q", c.pos, kw)
	}
	if err != nil {
		return err
	}
	return c.end()
}

// paymentHeader reads "payment VERSION effective DATE".
func (p *parser) paymentHeader(c *cursor) (*domain.PaymentParams, error) {
	v, err := c.integer()
	if err != nil {
		return nil, err
	}
	if err := c.expect("effective"); err != nil {
		return nil, err
	}
	d, err := p.literalDate(c)
	if err != nil {
		return nil, err
	}
	if prev, dup := p.payments[v]; dup {
		return nil, fmt.Errorf("%s: payment version %d already defined at %s", c.pos, v, prev)
	}
	p.payments[v] = c.pos
	return &domain.PaymentParams{Version: v, EffectiveFrom: d}, c.end()
}

// paymentAttr reads one payment figure. A figure may be followed by the
// word UNVERIFIED and a quoted origin, which is kept in the parameters'
// note so that screens and payment files can show it.
func (p *parser) paymentAttr(c *cursor, pay *domain.PaymentParams, notes *[]string) error {
	kw, err := c.ident()
	if err != nil {
		return err
	}
	label := kw
	switch kw {
	case "pence-per-point":
		var n int
		n, err = c.integer()
		pay.PencePerPoint = domain.Pence(n)
	case "national-list-size":
		var n int
		n, err = c.integer()
		pay.NationalAvgListSize = int64(n)
	case "national-prevalence":
		var id string
		if id, err = c.ident(); err != nil {
			return err
		}
		var r domain.Ratio
		if r, err = p.ratio(c); err == nil {
			if pay.NationalPrevalence == nil {
				pay.NationalPrevalence = map[string]domain.Ratio{}
			}
			pay.NationalPrevalence[id] = r
		}
		label += " " + id
	case "fee":
		var id string
		if id, err = c.ident(); err != nil {
			return err
		}
		var amt domain.Pence
		if amt, err = p.pounds(c); err == nil {
			if pay.Fees == nil {
				pay.Fees = map[string]domain.Pence{}
			}
			pay.Fees[id] = amt
		}
		label += " " + id
	case "aspiration-share":
		pay.AspirationShare, err = p.ratio(c)
	case "list-size-date":
		var s string
		s, err = c.str()
		pay.ListSizeDate = s
	case "factor-decimals":
		pay.FactorDecimals, err = c.integer()
	case "source":
		pay.Source, err = c.str()
		return p.endOr(c, err)
	case "note":
		var s string
		if s, err = c.str(); err == nil {
			*notes = append(*notes, s)
		}
		return p.endOr(c, err)
	default:
		return fmt.Errorf("%s: unknown payment attribute %q", c.pos, kw)
	}
	if err != nil {
		return err
	}
	flag := ""
	if c.accept("UNVERIFIED") {
		flag = "UNVERIFIED "
	}
	if s := c.optString(); s != "" || flag != "" {
		*notes = append(*notes, strings.TrimSpace(flag+label+": "+s))
	}
	return c.end()
}

func (p *parser) endOr(c *cursor, err error) error {
	if err != nil {
		return err
	}
	return c.end()
}

func (p *parser) ratio(c *cursor) (domain.Ratio, error) {
	t, ok := c.next()
	if !ok || (t.kind != tPercent && t.kind != tNumber) {
		return domain.Ratio{}, c.fail("expected a percentage like 2.1%% or a decimal")
	}
	s := t.text
	if t.kind == tPercent {
		s += "%"
	}
	r, err := domain.ParseRatio(s)
	if err != nil {
		return r, fmt.Errorf("%s: %v", c.here(), err)
	}
	return r, nil
}

func (p *parser) pounds(c *cursor) (domain.Pence, error) {
	t, ok := c.next()
	if !ok || t.kind != tNumber {
		return 0, c.fail("expected an amount in pounds like 12.06")
	}
	v, err := domain.ParsePounds(t.text)
	if err != nil {
		return 0, fmt.Errorf("%s: %v", c.here(), err)
	}
	return v, nil
}

func (p *parser) literalDate(c *cursor) (domain.Date, error) {
	t, ok := c.next()
	if !ok || t.kind != tDate {
		c.i--
		if !ok {
			c.i++
		}
		return domain.NoDate, c.fail("expected a date YYYY-MM-DD%s", c.found())
	}
	d, err := domain.ParseDate(t.text)
	if err != nil {
		return domain.NoDate, fmt.Errorf("%s: %v", c.here(), err)
	}
	return d, nil
}

func (p *parser) required(c *cursor) (bool, error) {
	w, err := c.ident()
	if err != nil {
		return false, err
	}
	switch w {
	case "required":
		return true, nil
	case "not-required", "not_required":
		return false, nil
	case "not":
		return false, c.expect("required")
	}
	return false, fmt.Errorf("%s: want \"required\" or \"not required\", found %q", c.pos, w)
}

func (p *parser) yesNo(c *cursor) (bool, error) {
	w, err := c.ident()
	if err != nil {
		return false, err
	}
	switch w {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("%s: want yes or no, found %q", c.pos, w)
}

// parseField reads
//
//	field NAME = (first|last|count|exists) CLUSTER{, CLUSTER} [lowest] [spaced Nd] [WINDOW]
//	field NAME = age on DATE
func (p *parser) parseField(c *cursor, text string) error {
	c.next()
	pos := c.here()
	name, err := c.ident()
	if err != nil {
		return err
	}
	if err := p.checkName(name, pos); err != nil {
		return err
	}
	if err := c.expect("="); err != nil {
		return err
	}
	f := &Field{Name: name, Pos: pos, text: text}
	kw, err := c.ident()
	if err != nil {
		return err
	}
	switch kw {
	case "first":
		f.Kind = FieldFirst
	case "last":
		f.Kind = FieldLast
	case "count", "exists":
		f.Kind = FieldCount
	case "age":
		f.Kind = FieldAge
		if err := c.expect("on"); err != nil {
			return err
		}
		if f.AgeOn, err = p.dateExpr(c, false); err != nil {
			return err
		}
		if f.AgeOn.Anchor == AnchorDOB {
			return fmt.Errorf("%s: an age on a date relative to the birth date is a constant", pos)
		}
	default:
		return fmt.Errorf("%s: unknown field kind %q (want first, last, count, exists or age)", pos, kw)
	}
	if f.Kind != FieldAge {
		for {
			cl, err := c.ident()
			if err != nil {
				return err
			}
			if !p.rs.Clusters.Has(cl) {
				return fmt.Errorf("%s: unknown cluster %s in field %s", c.here(), cl, name)
			}
			f.Clusters = append(f.Clusters, cl)
			if !c.accept(",") {
				break
			}
		}
		for !c.done() {
			switch {
			case c.accept("lowest"):
				if f.Kind != FieldLast {
					return fmt.Errorf("%s: \"lowest\" only applies to a last field", c.here())
				}
				f.Lowest = true
			case c.accept("spaced"):
				t, ok := c.next()
				if !ok || t.kind != tDuration || t.text[len(t.text)-1] != 'd' {
					return c.fail("expected a number of days like 7d after \"spaced\"")
				}
				if f.Kind != FieldCount {
					return fmt.Errorf("%s: \"spaced\" only applies to a count field", c.here())
				}
				f.Spaced, _ = strconv.Atoi(t.text[:len(t.text)-1])
			default:
				w, err := p.window(c)
				if err != nil {
					return err
				}
				f.Window = w
			}
		}
	}
	if err := c.end(); err != nil {
		return err
	}
	p.fieldIdx[name] = len(p.rs.Fields)
	p.rs.Fields = append(p.rs.Fields, f)
	return nil
}

// reserved names cannot be redefined as fields or indicators.
var reserved = map[string]bool{
	"AGE": true, "SEX": true, "DOB": true, "REG": true, "PPED": true, "PSD": true, "SSD": true, "SED": true,
	"and": true, "or": true, "not": true, "on": true, "in": true, "true": true,
	"male": true, "female": true, "other": true, "unknown": true,
}

func (p *parser) checkName(name string, pos Pos) error {
	if reserved[name] {
		return fmt.Errorf("%s: %s is a reserved name", pos, name)
	}
	if i, ok := p.fieldIdx[name]; ok {
		return fmt.Errorf("%s: field %s already defined at %s", pos, name, p.rs.Fields[i].Pos)
	}
	if i, ok := p.listIdx[name]; ok {
		return fmt.Errorf("%s: %s is already an indicator at %s", pos, name, p.rs.Lists[i].Pos)
	}
	return nil
}

// window reads bound clauses joined by "and":
// after X, on or after X, before X, on or before X.
func (p *parser) window(c *cursor) ([]Bound, error) {
	var out []Bound
	for {
		var op BoundOp
		switch {
		case c.accept("after"):
			op = After
		case c.accept("before"):
			op = Before
		case c.is("on"):
			c.next()
			if err := c.expect("or"); err != nil {
				return nil, err
			}
			switch {
			case c.accept("after"):
				op = OnOrAfter
			case c.accept("before"):
				op = OnOrBefore
			default:
				return nil, c.fail("expected \"after\" or \"before\"%s", c.found())
			}
		default:
			return nil, c.fail("expected a window (after, before, on or after, on or before)%s", c.found())
		}
		d, err := p.dateExpr(c, false)
		if err != nil {
			return nil, err
		}
		out = append(out, Bound{Op: op, Expr: d})
		if !c.accept("and") {
			return out, nil
		}
	}
}

// dateExpr reads ANCHOR{(+|-)DURATION}; with fields allowed, also
// FIELD.date as an anchor (rule conditions only: windows must be known
// before a patient's events are read, so they cannot depend on fields).
func (p *parser) dateExpr(c *cursor, fields bool) (DateExpr, error) {
	var d DateExpr
	t, ok := c.next()
	if !ok {
		return d, c.fail("expected a date%s", c.found())
	}
	switch {
	case t.kind == tDate:
		v, err := domain.ParseDate(t.text)
		if err != nil {
			return d, fmt.Errorf("%s: %v", c.here(), err)
		}
		d.Anchor, d.Lit = AnchorLiteral, v
	case t.kind == tIdent && anchorNames[t.text] != 0:
		d.Anchor = anchorNames[t.text]
	case t.kind == tIdent && fields:
		i, ok := p.fieldIdx[t.text]
		if !ok {
			return d, fmt.Errorf("%s: unknown field %s", c.here(), t.text)
		}
		if err := c.expect("."); err != nil {
			return d, err
		}
		if err := c.expect("date"); err != nil {
			return d, err
		}
		if p.rs.Fields[i].Kind == FieldAge {
			return d, fmt.Errorf("%s: %s is an age, it has no date", c.here(), t.text)
		}
		d.Anchor, d.Field = AnchorField, i
	default:
		c.i--
		return d, c.fail("expected PPED, PSD, SSD, SED, DOB, REG or a date%s", c.found())
	}
	for c.is("+") || c.is("-") {
		sign := 1
		if t, _ := c.next(); t.text == "-" {
			sign = -1
		}
		t, ok := c.next()
		if !ok || t.kind != tDuration {
			return d, c.fail("expected a duration like 12m, 9m, 7d or 5y")
		}
		n, err := strconv.Atoi(t.text[:len(t.text)-1])
		if err != nil || n > 200*366 {
			return d, c.fail("duration %q out of range", t.text)
		}
		d.Offsets = append(d.Offsets, Offset{N: sign * n, Unit: t.text[len(t.text)-1]})
	}
	return d, nil
}

// listHeader reads "register ID "description"" or "indicator ID "description"".
func (p *parser) listHeader(c *cursor) (int, error) {
	kw, _ := c.next()
	pos := c.here()
	id, err := c.ident()
	if err != nil {
		return -1, err
	}
	if err := p.checkName(id, pos); err != nil {
		return -1, err
	}
	desc, err := c.str()
	if err != nil {
		return -1, err
	}
	if err := c.end(); err != nil {
		return -1, err
	}
	l := &List{Pos: pos, Reg: -1, CountField: -1}
	l.Def = domain.IndicatorDef{ID: id, Description: desc, Entry: domain.EntryAutomatic}
	if kw.text == "register" {
		l.Kind, l.Def.Kind = ListRegister, domain.IndRegister
	} else {
		l.Kind, l.Def.Kind = ListAchievement, domain.IndAchievement
	}
	p.listIdx[id] = len(p.rs.Lists)
	p.rs.Lists = append(p.rs.Lists, l)
	return len(p.rs.Lists) - 1, nil
}

// ref is a "register X" or "cap X" reference, checked once all files are read.
type ref struct {
	from, to string
	pos      Pos
	what     string
}

func (p *parser) listAttr(c *cursor, li int) error {
	l := p.rs.Lists[li]
	d := &l.Def
	kw, err := c.ident()
	if err != nil {
		return err
	}
	switch kw {
	case "group":
		d.Group, err = c.str()
	case "domain":
		d.Domain, err = c.str()
	case "source":
		d.Source, err = c.str()
	case "note":
		var s string
		if s, err = c.str(); err == nil {
			if d.Note != "" {
				d.Note += " "
			}
			d.Note += s
		}
	case "points":
		d.Points, err = c.integer()
	case "thresholds":
		if c.accept("missing") {
			msg := "Thresholds missing from the facts table (qof-indicators.csv); not guessed."
			if s := c.optString(); s != "" {
				msg = s
			}
			d.Note = strings.TrimSpace(d.Note + " " + msg)
			break
		}
		var lo, hi int
		if lo, err = p.hundredths(c); err == nil {
			hi, err = p.hundredths(c)
		}
		d.Lower, d.Upper = lo, hi
	case "kind":
		var k string
		if k, err = c.ident(); err != nil {
			return err
		}
		switch k {
		case "achievement":
			l.Kind, d.Kind = ListAchievement, domain.IndAchievement
		case "count":
			l.Kind, d.Kind = ListCount, domain.IndCount
		default:
			return fmt.Errorf("%s: indicator kind %q: want achievement or count (registers use a register block)", c.pos, k)
		}
	case "entry":
		var e string
		if e, err = c.ident(); err == nil {
			switch domain.EntryMethod(e) {
			case domain.EntryManual, domain.EntryAutomatic:
				d.Entry = domain.EntryMethod(e)
			default:
				err = fmt.Errorf("%s: entry %q: want manual or automatic", c.pos, e)
			}
		}
	case "register":
		d.Register, err = c.ident()
		if err == nil {
			p.refs = append(p.refs, ref{from: d.ID, to: d.Register, pos: c.pos, what: "register"})
		}
	case "cap":
		d.CapIndicator, err = c.ident()
		if err == nil {
			p.refs = append(p.refs, ref{from: d.ID, to: d.CapIndicator, pos: c.pos, what: "cap"})
		}
	case "prevalence-based":
		d.PrevalenceBased, err = p.yesNo(c)
	case "count":
		var f string
		if f, err = c.ident(); err != nil {
			return err
		}
		i, ok := p.fieldIdx[f]
		if !ok {
			return fmt.Errorf("%s: unknown field %s", c.pos, f)
		}
		if p.rs.Fields[i].Kind != FieldCount {
			return fmt.Errorf("%s: \"count %s\": %s is not a count field", c.pos, f, f)
		}
		l.CountField = i
	default:
		return fmt.Errorf("%s: unknown indicator attribute %q", c.pos, kw)
	}
	if err != nil {
		return err
	}
	return c.end()
}

// hundredths reads a percentage as hundredths of a percent: 35% -> 3500.
func (p *parser) hundredths(c *cursor) (int, error) {
	t, ok := c.next()
	if !ok || t.kind != tPercent {
		return 0, c.fail("expected a percentage like 40%%")
	}
	v, err := strconv.ParseFloat(t.text, 64)
	if err != nil || v < 0 || v > 100 {
		return 0, c.fail("percentage %s%% out of range", t.text)
	}
	h := math.Round(v * 100)
	if math.Abs(h-v*100) > 1e-6 {
		return 0, c.fail("percentage %s%% has more than two decimals", t.text)
	}
	return int(h), nil
}

// parseRule reads "rule N if COND then ACTION else ACTION".
func (p *parser) parseRule(pr pendingRule) (Rule, error) {
	c := &cursor{toks: pr.line.toks, pos: Pos{pr.file, pr.line.line}}
	r := Rule{Pos: c.pos, text: pr.line.text}
	c.next() // "rule"
	n, err := c.integer()
	if err != nil {
		return r, err
	}
	r.N = n
	if err := c.expect("if"); err != nil {
		return r, err
	}
	if r.Cond, err = p.orExpr(c); err != nil {
		return r, err
	}
	if err := c.expect("then"); err != nil {
		return r, err
	}
	if r.IfTrue, err = p.action(c); err != nil {
		return r, err
	}
	if err := c.expect("else"); err != nil {
		return r, err
	}
	if r.IfFalse, err = p.action(c); err != nil {
		return r, err
	}
	return r, c.end()
}

func (p *parser) action(c *cursor) (Action, error) {
	w, err := c.ident()
	if err != nil {
		return Action{}, err
	}
	switch w {
	case "next":
		return Action{Kind: ActNext, reason: -1}, nil
	case "select":
		return Action{Kind: ActSelect, reason: -1}, nil
	case "reject":
		a := Action{Kind: ActReject, reason: -1}
		if t, ok := c.peek(); ok && t.kind == tIdent && t.text != "else" {
			c.next()
			a.Reason = t.text
		}
		return a, nil
	}
	return Action{}, fmt.Errorf("%s: action %q: want select, reject or next", c.here(), w)
}

func (p *parser) orExpr(c *cursor) (*Expr, error) { return p.binary(c, "or", OpOr, p.andExpr) }

func (p *parser) andExpr(c *cursor) (*Expr, error) { return p.binary(c, "and", OpAnd, p.unary) }

// binary parses operands joined by a left-associative word operator.
func (p *parser) binary(c *cursor, word string, op ExprOp, operand func(*cursor) (*Expr, error)) (*Expr, error) {
	l, err := operand(c)
	if err != nil {
		return nil, err
	}
	for c.accept(word) {
		r, err := operand(c)
		if err != nil {
			return nil, err
		}
		l = &Expr{Op: op, L: l, R: r}
	}
	return l, nil
}

func (p *parser) unary(c *cursor) (*Expr, error) {
	if c.accept("not") {
		x, err := p.unary(c)
		if err != nil {
			return nil, err
		}
		return &Expr{Op: OpNot, L: x}, nil
	}
	if c.accept("(") {
		x, err := p.orExpr(c)
		if err != nil {
			return nil, err
		}
		return x, c.expect(")")
	}
	if c.accept("true") {
		return &Expr{Op: OpTrue}, nil
	}
	if c.accept("on") {
		pos := c.here()
		id, err := c.ident()
		if err != nil {
			return nil, err
		}
		i, ok := p.listIdx[id]
		if !ok || p.rs.Lists[i].Kind != ListRegister {
			return nil, fmt.Errorf("%s: unknown register %s", pos, id)
		}
		return &Expr{Op: OpOnReg, Reg: i}, nil
	}
	// A bare field name (not followed by an operator or ".") is presence.
	if t, ok := c.peek(); ok && t.kind == tIdent {
		if fi, isField := p.fieldIdx[t.text]; isField {
			nxt := c.i + 1
			bare := nxt >= len(c.toks) || c.toks[nxt].kind == tIdent || c.toks[nxt].text == ")"
			if bare {
				c.next()
				if p.rs.Fields[fi].Kind == FieldAge {
					return nil, fmt.Errorf("%s: %s is an age; compare it with a number", c.here(), t.text)
				}
				return &Expr{Op: OpPresent, Field: fi}, nil
			}
			if nxt+1 < len(c.toks) && c.toks[nxt].text == "." && c.toks[nxt+1].text == "code" {
				c.i += 3
				if p.rs.Fields[fi].Kind == FieldAge || p.rs.Fields[fi].Kind == FieldCount {
					return nil, fmt.Errorf("%s: %s.code: only first and last fields keep a code", c.here(), t.text)
				}
				if err := c.expect("in"); err != nil {
					return nil, err
				}
				x := &Expr{Op: OpCodeIn, Field: fi}
				for {
					cl, err := c.ident()
					if err != nil {
						return nil, err
					}
					if !p.rs.Clusters.Has(cl) {
						return nil, fmt.Errorf("%s: unknown cluster %s", c.here(), cl)
					}
					x.Clusters = append(x.Clusters, cl)
					if !c.accept(",") {
						break
					}
				}
				return x, nil
			}
		}
	}
	a, err := p.operand(c)
	if err != nil {
		return nil, err
	}
	t, ok := c.next()
	var op CmpOp
	if ok && t.kind == tOp {
		for k, v := range cmpText {
			if v == t.text {
				op = k
			}
		}
	}
	if op == 0 {
		if ok {
			c.i--
		}
		return nil, c.fail("expected a comparison (<, <=, >, >=, =, !=)%s", c.found())
	}
	b, err := p.operand(c)
	if err != nil {
		return nil, err
	}
	if err := checkTypes(a, b, op); err != nil {
		return nil, fmt.Errorf("%s: %v", c.here(), err)
	}
	return &Expr{Op: OpCmp, Cmp: op, A: a, B: b}, nil
}

func opdType(o Operand) string {
	switch o.Kind {
	case OpdDate:
		return "date"
	case OpdSex, OpdSexLit:
		return "sex"
	}
	return "number"
}

func checkTypes(a, b Operand, op CmpOp) error {
	ta, tb := opdType(a), opdType(b)
	if ta != tb {
		return fmt.Errorf("cannot compare a %s with a %s", ta, tb)
	}
	if ta == "sex" && op != CmpEQ && op != CmpNE {
		return fmt.Errorf("sex compares only with = or !=")
	}
	return nil
}

var sexNames = map[string]uint8{"unknown": 0, "male": 1, "female": 2, "other": 3}

func (p *parser) operand(c *cursor) (Operand, error) {
	t, ok := c.peek()
	if !ok {
		return Operand{}, c.fail("expected a value%s", c.found())
	}
	switch t.kind {
	case tNumber:
		c.next()
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return Operand{}, c.fail("bad number %q", t.text)
		}
		return Operand{Kind: OpdNumber, Num: v, Field: -1}, nil
	case tDate:
		d, err := p.dateExpr(c, true)
		return Operand{Kind: OpdDate, Date: d, Field: -1}, err
	case tIdent:
		if t.text == "AGE" {
			c.next()
			return Operand{Kind: OpdAge, Field: -1}, nil
		}
		if t.text == "SEX" {
			c.next()
			return Operand{Kind: OpdSex, Field: -1}, nil
		}
		if s, ok := sexNames[t.text]; ok {
			c.next()
			return Operand{Kind: OpdSexLit, Sex: s, Field: -1}, nil
		}
		if anchorNames[t.text] != 0 {
			d, err := p.dateExpr(c, true)
			return Operand{Kind: OpdDate, Date: d, Field: -1}, err
		}
		fi, ok := p.fieldIdx[t.text]
		if !ok {
			return Operand{}, fmt.Errorf("%s: unknown field %s", c.here(), t.text)
		}
		f := p.rs.Fields[fi]
		if f.Kind == FieldAge {
			c.next()
			return Operand{Kind: OpdAge, Field: fi}, nil
		}
		if c.i+2 >= len(c.toks) || c.toks[c.i+1].text != "." {
			return Operand{}, fmt.Errorf("%s: %s needs a property: .date, .value, .value2 or .count", c.here(), t.text)
		}
		prop := c.toks[c.i+2].text
		switch prop {
		case "date":
			d, err := p.dateExpr(c, true)
			return Operand{Kind: OpdDate, Date: d, Field: fi}, err
		case "value", "value2":
			if f.Kind == FieldCount {
				return Operand{}, fmt.Errorf("%s: %s is a count field; it has .count and .date, not .%s", c.here(), f.Name, prop)
			}
			c.i += 3
			k := OpdValue
			if prop == "value2" {
				k = OpdValue2
			}
			return Operand{Kind: k, Field: fi}, nil
		case "count":
			if f.Kind != FieldCount {
				return Operand{}, fmt.Errorf("%s: %s is a %s field; only count fields have .count", c.here(), f.Name, f.Kind)
			}
			c.i += 3
			return Operand{Kind: OpdCount, Field: fi}, nil
		}
		return Operand{}, fmt.Errorf("%s: unknown property .%s of %s (want date, value, value2, count)", c.here(), prop, f.Name)
	}
	return Operand{}, c.fail("expected a value%s", c.found())
}

// resolveRules runs the second pass: rule conditions, actions, numbering,
// reasons and the fall-off-the-end check.
func (p *parser) resolveRules() {
	for _, pr := range p.pending {
		l := p.rs.Lists[pr.list]
		r, err := p.parseRule(pr)
		if err != nil {
			p.errs = append(p.errs, err)
			continue
		}
		switch pr.section {
		case "rules":
			l.Rules = append(l.Rules, r)
		case "denominator":
			l.Denom = append(l.Denom, r)
		case "numerator":
			l.Numer = append(l.Numer, r)
		}
	}
	for _, l := range p.rs.Lists {
		p.checkList(l)
	}
}

func (p *parser) checkList(l *List) {
	if l.Manual() {
		if len(l.Rules)+len(l.Denom)+len(l.Numer) > 0 {
			p.errorf(l.Pos, "%s is entered manually and cannot have rules", l.Def.ID)
		}
		return
	}
	if l.Kind == ListAchievement && len(l.Rules) > 0 {
		p.errorf(l.Pos, "%s: achievement indicator rules must sit under \"denominator\" and \"numerator\"", l.Def.ID)
	}
	reasons := map[string]Pos{}
	check := func(name string, rules []Rule, allowReasons bool) {
		if len(rules) == 0 {
			p.errorf(l.Pos, "%s has no %s rules", l.Def.ID, name)
			return
		}
		for i := range rules {
			r := &rules[i]
			if r.N != i+1 {
				p.errorf(r.Pos, "%s %s: rule numbered %d, expected %d", l.Def.ID, name, r.N, i+1)
			}
			for _, a := range []*Action{&r.IfTrue, &r.IfFalse} {
				if a.Kind != ActReject || a.Reason == "" {
					continue
				}
				if !allowReasons {
					p.errorf(r.Pos, "%s %s rule %d: reject %s: only denominator rejects carry a reason", l.Def.ID, name, r.N, a.Reason)
					continue
				}
				if prev, dup := reasons[a.Reason]; dup && prev != r.Pos {
					p.errorf(r.Pos, "%s: reason %s used twice (also at %s)", l.Def.ID, a.Reason, prev)
					continue
				}
				if _, seen := reasons[a.Reason]; !seen {
					reasons[a.Reason] = r.Pos
					l.Def.Reasons = append(l.Def.Reasons, a.Reason)
				}
				for k, rn := range l.Def.Reasons {
					if rn == a.Reason {
						a.reason = k
					}
				}
				if a.Reason == domain.FieldRegister || a.Reason == domain.FieldDenominator || a.Reason == domain.FieldNumerator || a.Reason == domain.FieldCount {
					p.errorf(r.Pos, "%s: reason name %s clashes with an output field", l.Def.ID, a.Reason)
				}
			}
			if r.IfTrue.Kind == ActReject && r.IfTrue.Reason != "" && r.IfTrue.Reason == r.IfFalse.Reason {
				p.errorf(r.Pos, "%s: reason %s used twice in rule %d", l.Def.ID, r.IfTrue.Reason, r.N)
			}
		}
		last := rules[len(rules)-1]
		if last.IfTrue.Kind == ActNext || last.IfFalse.Kind == ActNext {
			p.errorf(last.Pos, "%s %s: the last rule (%d) says \"next\", so a patient can fall off the end of the list", l.Def.ID, name, last.N)
		}
	}
	switch l.Kind {
	case ListRegister:
		check("register", l.Rules, false)
	case ListCount:
		check("count", l.Rules, false)
	case ListAchievement:
		check("denominator", l.Denom, true)
		check("numerator", l.Numer, false)
	}
}

// checkRefs resolves register and cap references and register cycles.
func (p *parser) checkRefs() {
	for _, r := range p.refs {
		i, ok := p.listIdx[r.to]
		if !ok {
			p.errorf(r.pos, "%s: unknown %s %s", r.from, map[string]string{"register": "register", "cap": "indicator"}[r.what], r.to)
			continue
		}
		if r.what == "register" {
			if p.rs.Lists[i].Kind != ListRegister {
				p.errorf(r.pos, "%s: %s is not a register", r.from, r.to)
				continue
			}
			p.rs.Lists[p.listIdx[r.from]].Reg = i
		}
	}
	// Registers may refer to other registers ("on X"); the evaluator runs
	// them in dependency order, so a cycle is an error.
	order, cyc := p.registerOrder()
	if cyc != "" {
		p.errorf(p.rs.Lists[p.listIdx[cyc]].Pos, "register %s refers to itself through \"on\" conditions", cyc)
	}
	p.rs.regOrder = order
}

func exprRegs(x *Expr, out map[int]bool) {
	walkExpr(x, func(e *Expr) {
		if e.Op == OpOnReg {
			out[e.Reg] = true
		}
	})
}

// registerOrder sorts registers so every register comes after those its
// rules refer to; it returns a register on a cycle if there is one.
func (p *parser) registerOrder() ([]int, string) {
	deps := map[int][]int{}
	var regs []int
	for i, l := range p.rs.Lists {
		if l.Kind != ListRegister {
			continue
		}
		regs = append(regs, i)
		m := map[int]bool{}
		for _, r := range l.Rules {
			exprRegs(r.Cond, m)
		}
		for d := range m {
			deps[i] = append(deps[i], d)
		}
		sort.Ints(deps[i])
	}
	state := map[int]int{} // 1 visiting, 2 done
	var order []int
	cycle := ""
	var visit func(int)
	visit = func(i int) {
		if state[i] == 2 || cycle != "" {
			return
		}
		if state[i] == 1 {
			cycle = p.rs.Lists[i].Def.ID
			return
		}
		state[i] = 1
		for _, d := range deps[i] {
			visit(d)
		}
		state[i] = 2
		order = append(order, i)
	}
	for _, i := range regs {
		visit(i)
	}
	return order, cycle
}
