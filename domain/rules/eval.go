package rules

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

// The fast evaluator. A rule set compiles once into a program: fields
// become small accumulators, conditions a flat array of nodes. Each
// Evaluate call then builds a plan for the batch and achievement date
// (windows resolved to day numbers, a table from the batch's code index to
// the fields that code feeds) and runs every patient in ONE pass over their
// events, with per-worker counters merged at the end. Nothing is allocated
// per patient; the result does not depend on goroutine scheduling because
// the counters are sums.

type program struct {
	rs     *RuleSet
	fields []cfield
	nodes  []cnode
	opds   []copd
	dexprs []DateExpr
	lists  []clist
	order  []int
	// codeFields maps a concept to the fields whose clusters hold it.
	codeFields map[clinical.Code][]uint16
	// codeIn holds, per OpCodeIn node, the concepts of its clusters.
	codeIn    []map[clinical.Code]bool
	nCounters int
}

type dynBound struct {
	op   BoundOp
	expr int32 // index into dexprs
}

type cfield struct {
	kind   FieldKind
	lowest bool
	spaced int32
	static []Bound    // bounds fixed for an achievement date
	dyn    []dynBound // bounds on the birth or registration date
	ageOn  int32      // dexpr index for age fields
}

type cnode struct {
	op       ExprOp
	cmp      CmpOp
	typ      uint8 // 0 number, 1 date, 2 sex
	l, r     int32 // child nodes, or operand indexes for comparisons
	field    int32
	reg      int32
	codeInIx int32
}

type copd struct {
	kind  OperandKind
	num   float64
	field int32
	dexpr int32
	sex   uint8
}

type caction struct {
	kind   ActionKind
	reason int32
}

type crule struct {
	cond int32
	t, f caction
}

type clist struct {
	kind       ListKind
	manual     bool
	reg        int32
	rules      []crule
	denom      []crule
	numer      []crule
	countField int32
	base       int // first counter
}

func (rs *RuleSet) program() *program {
	rs.once.Do(func() { rs.prog = compile(rs) })
	return rs.prog
}

func compile(rs *RuleSet) *program {
	p := &program{rs: rs, codeFields: map[clinical.Code][]uint16{}}
	dexpr := func(d DateExpr) int32 {
		p.dexprs = append(p.dexprs, d)
		return int32(len(p.dexprs) - 1)
	}
	for fi, f := range rs.Fields {
		cf := cfield{kind: f.Kind, lowest: f.Lowest, spaced: int32(f.Spaced), ageOn: -1}
		for _, b := range f.Window {
			if b.Expr.PatientSpecific() {
				cf.dyn = append(cf.dyn, dynBound{op: b.Op, expr: dexpr(b.Expr)})
			} else {
				cf.static = append(cf.static, b)
			}
		}
		if f.Kind == FieldAge {
			cf.ageOn = dexpr(f.AgeOn)
		}
		seen := map[clinical.Code]bool{}
		for _, cl := range f.Clusters {
			for _, code := range rs.Clusters.Codes(cl) {
				if !seen[code] {
					seen[code] = true
					p.codeFields[code] = append(p.codeFields[code], uint16(fi))
				}
			}
		}
		p.fields = append(p.fields, cf)
	}
	var node func(x *Expr) int32
	opd := func(o Operand) int32 {
		c := copd{kind: o.Kind, num: o.Num, field: int32(o.Field), dexpr: -1, sex: o.Sex}
		if o.Kind == OpdDate {
			c.dexpr = dexpr(o.Date)
		}
		p.opds = append(p.opds, c)
		return int32(len(p.opds) - 1)
	}
	node = func(x *Expr) int32 {
		n := cnode{op: x.Op, field: int32(x.Field), reg: int32(x.Reg), codeInIx: -1}
		switch x.Op {
		case OpAnd, OpOr:
			n.l, n.r = node(x.L), node(x.R)
		case OpNot:
			n.l = node(x.L)
		case OpCodeIn:
			set := map[clinical.Code]bool{}
			for _, cl := range x.Clusters {
				for _, code := range rs.Clusters.Codes(cl) {
					set[code] = true
				}
			}
			p.codeIn = append(p.codeIn, set)
			n.codeInIx = int32(len(p.codeIn) - 1)
		case OpCmp:
			n.cmp = x.Cmp
			switch opdType(x.A) {
			case "date":
				n.typ = 1
			case "sex":
				n.typ = 2
			}
			n.l, n.r = opd(x.A), opd(x.B)
		}
		p.nodes = append(p.nodes, n)
		return int32(len(p.nodes) - 1)
	}
	crules := func(rules []Rule) []crule {
		out := make([]crule, len(rules))
		for i, r := range rules {
			out[i] = crule{cond: node(r.Cond),
				t: caction{kind: r.IfTrue.Kind, reason: int32(r.IfTrue.reason)},
				f: caction{kind: r.IfFalse.Kind, reason: int32(r.IfFalse.reason)}}
		}
		return out
	}
	for _, l := range rs.Lists {
		cl := clist{kind: l.Kind, manual: l.Manual(), reg: int32(l.Reg), countField: int32(l.CountField), base: p.nCounters}
		cl.rules, cl.denom, cl.numer = crules(l.Rules), crules(l.Denom), crules(l.Numer)
		if !cl.manual {
			p.nCounters += len(fieldsOf(l))
		}
		p.lists = append(p.lists, cl)
	}
	p.order = append(p.order, rs.regOrder...)
	for i, l := range rs.Lists {
		if l.Kind != ListRegister {
			p.order = append(p.order, i)
		}
	}
	return p
}

// fieldsOf lists the output fields of a list, in counter order.
func fieldsOf(l *List) []string { return l.Def.Fields() }

// plan is a program bound to one batch and achievement date.
type plan struct {
	p       *program
	b       *clinical.Batch
	pped    domain.Date
	py, pm  int
	pd      int
	lo, hi  []int32 // static window per field
	dynamic []bool
	dstatic []int32 // static date expressions; math.MinInt32 when patient-specific
	// codeOff/codeIDs flatten batch code index -> field ids
	codeOff []uint32
	codeIDs []uint16
	codeIn  [][]uint64 // per OpCodeIn node, a bitset over batch code indexes
}

const (
	minDay = math.MinInt32 + 1
	maxDay = math.MaxInt32
)

func (p *program) plan(b *clinical.Batch, ach domain.Date) *plan {
	anch := serviceAnchors(&p.rs.Service, ach)
	pl := &plan{p: p, b: b, pped: ach}
	y, m, d := ach.Civil()
	pl.py, pl.pm, pl.pd = y, int(m), d
	pl.dstatic = make([]int32, len(p.dexprs))
	for i, de := range p.dexprs {
		pl.dstatic[i] = math.MinInt32
		switch de.Anchor {
		case AnchorLiteral:
			pl.dstatic[i] = int32(applyOffsets(de.Lit, de.Offsets))
		case AnchorPPED, AnchorPSD, AnchorSSD, AnchorSED:
			pl.dstatic[i] = int32(applyOffsets(anch[de.Anchor], de.Offsets))
		}
	}
	pl.lo = make([]int32, len(p.fields))
	pl.hi = make([]int32, len(p.fields))
	pl.dynamic = make([]bool, len(p.fields))
	for i, f := range p.fields {
		lo, hi := int32(minDay), int32(ach)
		for _, bd := range f.static {
			var v domain.Date
			if bd.Expr.Anchor == AnchorLiteral {
				v = applyOffsets(bd.Expr.Lit, bd.Expr.Offsets)
			} else {
				v = applyOffsets(anch[bd.Expr.Anchor], bd.Expr.Offsets)
			}
			lo, hi = tighten(lo, hi, bd.Op, int32(v))
		}
		pl.lo[i], pl.hi[i] = lo, hi
		pl.dynamic[i] = len(f.dyn) > 0
	}
	pl.codeOff = make([]uint32, len(b.Codes)+1)
	for ci, code := range b.Codes {
		pl.codeIDs = append(pl.codeIDs, p.codeFields[code]...)
		pl.codeOff[ci+1] = uint32(len(pl.codeIDs))
	}
	pl.codeIn = make([][]uint64, len(p.codeIn))
	for k, set := range p.codeIn {
		bits := make([]uint64, (len(b.Codes)+63)/64+1)
		for ci, code := range b.Codes {
			if set[code] {
				bits[ci>>6] |= 1 << (ci & 63)
			}
		}
		pl.codeIn[k] = bits
	}
	return pl
}

// tighten narrows [lo, hi] by one window bound.
func tighten(lo, hi int32, op BoundOp, v int32) (int32, int32) {
	switch op {
	case After:
		if v+1 > lo {
			lo = v + 1
		}
	case OnOrAfter:
		if v > lo {
			lo = v
		}
	case Before:
		if v-1 < hi {
			hi = v - 1
		}
	case OnOrBefore:
		if v < hi {
			hi = v
		}
	}
	return lo, hi
}

// fstate is one field's accumulator for the current patient; it is valid
// only when gen equals the worker's patient generation, so nothing needs
// clearing between patients.
type fstate struct {
	gen   uint32
	date  int32 // first or last date (count fields: first counted)
	last  int32 // count fields: last counted date (for spacing)
	count int32
	v1    float32
	v2    float32
	code  uint32
	vals  uint8 // valueBits: which of v1, v2 the event(s) recorded
}

// valueBits says which values an event carries: bit 0 V1, bit 1 V2. A
// value the source did not record is absent, never 0.
func valueBits(nval uint8) uint8 {
	switch {
	case nval >= 2:
		return 3
	case nval == 1:
		return 1
	}
	return 0
}

type worker struct {
	pl     *plan
	gen    uint32
	f      []fstate
	wgen   []uint32 // dynamic windows computed for this generation
	wlo    []int32
	whi    []int32
	dgen   []uint32 // patient-specific date expressions cached
	dval   []int32
	on     []bool
	dob    domain.Date
	reg    domain.Date
	age    int
	sex    clinical.Sex
	counts []int64
}

func newWorker(pl *plan) *worker {
	p := pl.p
	return &worker{
		pl: pl, f: make([]fstate, len(p.fields)),
		wgen: make([]uint32, len(p.fields)), wlo: make([]int32, len(p.fields)), whi: make([]int32, len(p.fields)),
		dgen: make([]uint32, len(p.dexprs)), dval: make([]int32, len(p.dexprs)),
		on: make([]bool, len(p.lists)), counts: make([]int64, p.nCounters),
	}
}

// ageOn is AgeOn with the target date already split into its parts.
func ageOn(birth domain.Date, y, m, d int) int {
	by, bm, bd := birth.Civil()
	age := y - by
	if m < int(bm) || (m == int(bm) && d < bd) {
		age--
	}
	return age
}

func (w *worker) patient(i int) {
	pl := w.pl
	b := pl.b
	pr := &b.Patients[i]
	reg, ok := InPopulation(pr.Death, b.Regs[pr.RegStart:pr.RegEnd], b.Practice, pl.pped)
	if !ok {
		return
	}
	w.gen++
	if w.gen == 0 { // wrapped: clear so stale states cannot match
		for k := range w.f {
			w.f[k].gen = 0
		}
		clear(w.wgen)
		clear(w.dgen)
		w.gen = 1
	}
	w.dob, w.reg, w.sex = pr.Birth, reg.Start, pr.Sex
	w.age = ageOn(pr.Birth, pl.py, pl.pm, pl.pd)
	gen := w.gen
	pped := int32(pl.pped)
	fields := pl.p.fields
	for _, e := range b.Events[pr.EvStart:pr.EvEnd] {
		day := int32(e.Date)
		if day > pped {
			break // sorted by date: nothing later can count
		}
		for _, fid := range pl.codeIDs[pl.codeOff[e.Code]:pl.codeOff[e.Code+1]] {
			lo, hi := pl.lo[fid], pl.hi[fid]
			if pl.dynamic[fid] {
				lo, hi = w.window(int(fid))
			}
			if day < lo || day > hi {
				continue
			}
			s := &w.f[fid]
			f := &fields[fid]
			if s.gen != gen {
				*s = fstate{gen: gen, date: day, last: day, count: 1, v1: e.V1, v2: e.V2, code: e.Code, vals: valueBits(e.NVal)}
				continue
			}
			switch f.kind {
			case FieldLast:
				if f.lowest && day == s.date {
					// the lowest of each value among the readings that have it
					vb := valueBits(e.NVal)
					if vb&1 != 0 && (s.vals&1 == 0 || e.V1 < s.v1) {
						s.v1 = e.V1
					}
					if vb&2 != 0 && (s.vals&2 == 0 || e.V2 < s.v2) {
						s.v2 = e.V2
					}
					s.vals |= vb
				} else {
					s.v1, s.v2, s.vals = e.V1, e.V2, valueBits(e.NVal)
				}
				s.date, s.code = day, e.Code
			case FieldCount:
				if f.spaced == 0 || day >= s.last+f.spaced {
					s.count++
					s.last = day
				}
			}
		}
	}
	p := pl.p
	for _, li := range p.order {
		l := &p.lists[li]
		w.on[li] = false
		if l.manual {
			continue
		}
		if l.reg >= 0 && !w.on[l.reg] {
			continue
		}
		switch l.kind {
		case ListRegister:
			if a := w.run(l.rules); a.kind == ActSelect {
				w.on[li] = true
				w.counts[l.base]++
			}
		case ListAchievement:
			w.counts[l.base]++
			a := w.run(l.denom)
			if a.kind == ActReject {
				if a.reason >= 0 {
					w.counts[l.base+3+int(a.reason)]++
				}
				continue
			}
			w.counts[l.base+1]++
			if w.run(l.numer).kind == ActSelect {
				w.counts[l.base+2]++
			}
		case ListCount:
			if w.run(l.rules).kind == ActSelect {
				if l.countField >= 0 {
					s := &w.f[l.countField]
					if s.gen == gen {
						w.counts[l.base] += int64(s.count)
					}
				} else {
					w.counts[l.base]++
				}
			}
		}
	}
}

// window resolves a field's window for the current patient when it
// depends on the birth or registration date.
func (w *worker) window(fid int) (int32, int32) {
	if w.wgen[fid] == w.gen {
		return w.wlo[fid], w.whi[fid]
	}
	lo, hi := w.pl.lo[fid], w.pl.hi[fid]
	for _, d := range w.pl.p.fields[fid].dyn {
		v, _ := w.date(d.expr)
		lo, hi = tighten(lo, hi, d.op, v)
	}
	w.wgen[fid], w.wlo[fid], w.whi[fid] = w.gen, lo, hi
	return lo, hi
}

func (w *worker) run(rules []crule) caction {
	for i := range rules {
		r := &rules[i]
		a := r.f
		if w.eval(r.cond) {
			a = r.t
		}
		if a.kind != ActNext {
			return a
		}
	}
	return caction{kind: ActReject, reason: -1} // unreachable: validated
}

func (w *worker) present(fid int32) bool {
	s := &w.f[fid]
	return s.gen == w.gen && s.count > 0
}

func (w *worker) eval(n int32) bool {
	nd := &w.pl.p.nodes[n]
	switch nd.op {
	case OpAnd:
		return w.eval(nd.l) && w.eval(nd.r)
	case OpOr:
		return w.eval(nd.l) || w.eval(nd.r)
	case OpNot:
		return !w.eval(nd.l)
	case OpTrue:
		return true
	case OpPresent:
		return w.present(nd.field)
	case OpOnReg:
		return w.on[nd.reg]
	case OpCodeIn:
		if !w.present(nd.field) {
			return false
		}
		c := w.f[nd.field].code
		return w.pl.codeIn[nd.codeInIx][c>>6]&(1<<(c&63)) != 0
	case OpCmp:
		switch nd.typ {
		case 1:
			a, ok1 := w.date(w.pl.p.opds[nd.l].dexpr)
			b, ok2 := w.date(w.pl.p.opds[nd.r].dexpr)
			if !ok1 || !ok2 {
				return false
			}
			return compare(nd.cmp, int64(a), int64(b))
		case 2:
			return compare(nd.cmp, int64(w.sexOf(nd.l)), int64(w.sexOf(nd.r)))
		}
		a, ok1 := w.num(nd.l)
		b, ok2 := w.num(nd.r)
		if !ok1 || !ok2 {
			return false
		}
		return compare(nd.cmp, a, b)
	}
	return false
}

func (w *worker) sexOf(o int32) uint8 {
	od := &w.pl.p.opds[o]
	if od.kind == OpdSex {
		return uint8(w.sex)
	}
	return od.sex
}

func (w *worker) num(o int32) (float64, bool) {
	od := &w.pl.p.opds[o]
	switch od.kind {
	case OpdNumber:
		return od.num, true
	case OpdAge:
		if od.field < 0 {
			return float64(w.age), true
		}
		on, _ := w.date(w.pl.p.fields[od.field].ageOn)
		return float64(w.dob.AgeOn(domain.Date(on))), true
	case OpdValue, OpdValue2, OpdCount:
		if !w.present(od.field) {
			return 0, false
		}
		s := &w.f[od.field]
		switch od.kind {
		case OpdValue:
			return float64(s.v1), s.vals&1 != 0
		case OpdValue2:
			return float64(s.v2), s.vals&2 != 0
		}
		return float64(s.count), true
	}
	return 0, false
}

// date evaluates a date expression for the current patient.
func (w *worker) date(ix int32) (int32, bool) {
	if v := w.pl.dstatic[ix]; v != math.MinInt32 {
		return v, true
	}
	de := &w.pl.p.dexprs[ix]
	switch de.Anchor {
	case AnchorField:
		if !w.present(int32(de.Field)) {
			return 0, false
		}
		d := domain.Date(w.f[de.Field].date)
		if len(de.Offsets) > 0 {
			d = applyOffsets(d, de.Offsets)
		}
		return int32(d), true
	}
	if w.dgen[ix] == w.gen {
		return w.dval[ix], true
	}
	base := w.dob
	if de.Anchor == AnchorREG {
		base = w.reg
	}
	v := int32(applyOffsets(base, de.Offsets))
	w.dgen[ix], w.dval[ix] = w.gen, v
	return v, true
}

// compare applies a comparison operator; both evaluators use it.
func compare[T int64 | float64](op CmpOp, a, b T) bool {
	switch op {
	case CmpLT:
		return a < b
	case CmpLE:
		return a <= b
	case CmpGT:
		return a > b
	case CmpGE:
		return a >= b
	case CmpEQ:
		return a == b
	case CmpNE:
		return a != b
	}
	return false
}

// Evaluate computes every automatic indicator of the service for the
// batch's practice at achievement date ach, in parallel across patients
// (GOMAXPROCS workers). Rows are sorted with domain.SortValues; every
// reason field is present, zero included.
func (rs *RuleSet) Evaluate(b *clinical.Batch, ach domain.Date) []domain.IndicatorValue {
	return rs.EvaluateWorkers(b, ach, runtime.GOMAXPROCS(0))
}

// EvaluateWorkers is Evaluate with a chosen number of workers.
func (rs *RuleSet) EvaluateWorkers(b *clinical.Batch, ach domain.Date, workers int) []domain.IndicatorValue {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return rs.rows(b.Practice, ach, rs.countsFast(b, ach, workers))
}

const chunk = 2048

func (rs *RuleSet) countsFast(b *clinical.Batch, ach domain.Date, workers int) []int64 {
	p := rs.program()
	pl := p.plan(b, ach)
	n := len(b.Patients)
	nchunks := (n + chunk - 1) / chunk
	if workers < 1 {
		workers = 1
	}
	if workers > nchunks {
		workers = nchunks
	}
	total := make([]int64, p.nCounters)
	if workers <= 1 {
		w := newWorker(pl)
		for i := 0; i < n; i++ {
			w.patient(i)
		}
		return w.counts
	}
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(pl)
			for {
				c := int(next.Add(1) - 1)
				if c >= nchunks {
					break
				}
				end := min((c+1)*chunk, n)
				for i := c * chunk; i < end; i++ {
					w.patient(i)
				}
			}
			mu.Lock()
			for i, v := range w.counts {
				total[i] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total
}

// rows turns counters into INDICATOR_VALUES rows.
func (rs *RuleSet) rows(practice string, ach domain.Date, counts []int64) []domain.IndicatorValue {
	var out []domain.IndicatorValue
	base := 0
	for _, l := range rs.Lists {
		if l.Manual() {
			continue
		}
		for k, f := range fieldsOf(l) {
			out = append(out, domain.IndicatorValue{
				Service: rs.Service.ID, Practice: practice, AchDate: ach,
				Indicator: l.Def.ID, Field: f, Value: counts[base+k],
			})
		}
		base += len(fieldsOf(l))
	}
	domain.SortValues(out)
	return out
}
