// Package calc turns one practice's INDICATOR_VALUES rows into achievement,
// points, pounds and "patients needed" for a service, and splits QOF
// aspiration payments. It is pure: values, list size and parameters in,
// results out.
//
// Formulas (thresholds are hundredths of a percent, 4000 = 40%):
//
//	achievement       a = numerator / denominator (none when the denominator is 0)
//	points            0 when a <= lower, max when a >= upper,
//	                  max × (a − lower) / (upper − lower) between
//	CPI               practice list size / national average list size
//	prevalence        register / practice list size
//	prevalence factor practice prevalence / national prevalence
//	pounds            points × £ per point × CPI, × prevalence factor when prevalence-based
//	item of service   fee × count, the count capped by the cap indicator's value
//
// Where the formulas leave a choice:
//   - lower == upper is a step: full points at or above the threshold;
//     thresholds both 0 with points > 0 mean "missing from the rule set" and
//     earn nothing, with a note, rather than a guess;
//   - the prevalence comes from the REGISTER of the indicator named in
//     Register (or the indicator's own REGISTER when none is named), and the
//     national prevalence is looked up under that same id;
//   - a register indicator with points earns them in full once its size is
//     given (the indicator is "establishes and maintains a register");
//   - an item-of-service count is capped by the first field of its cap
//     indicator (REGISTER, or COUNT); with the cap not yet given nothing is
//     payable, rather than paying uncapped;
//   - a missing payment parameter (a national prevalence not yet published)
//     leaves the indicators that need it unpriced and flagged, not the whole
//     service refused.
//
// Money has one documented rounding point and rule: every figure above is
// an exact fraction, and each indicator's payment is rounded once to whole
// pence with domain.RoundPence (half away from zero). A practice's total is
// the sum of its rounded indicator payments, so a total always equals the
// sum of the lines shown. The only other rounding is opt-in data:
// PaymentParams.FactorDecimals > 0 rounds CPI and the prevalence factor to
// that many decimals (same rule) before multiplying, as published worked
// examples quote them.
//
// A consequence of the exact formula worth knowing: for a prevalence-based
// indicator the list size cancels (CPI × factor = register / (national
// average list size × national prevalence)), so its payment follows the
// register, not the list size.
package calc

import (
	"fmt"
	"math/big"
	"strings"

	"gpcollections/domain"
)

// NotApplicable marks a "patients needed" figure that does not apply: no
// denominator, no points at stake, no thresholds, or not an achievement
// indicator.
const NotApplicable = -1

// MaxCount bounds every count and list size accepted (a billion patients);
// it keeps the integer arithmetic exact with room to spare.
const MaxCount = 1_000_000_000

// maxPoints bounds one indicator's points.
const maxPoints = 1000

// FieldValue is one named value, e.g. an exception reason count.
type FieldValue struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

// IndicatorResult is one indicator's achievement and payment for a practice.
// The *big.Rat fields are read-only and may be shared between indicators.
type IndicatorResult struct {
	ID   string
	Kind domain.IndicatorKind
	// The values as extracted or entered; 0 when absent (see Missing).
	Register, Denominator, Numerator, Count int64
	// Reasons are the present reason fields in the rule's order.
	Reasons []FieldValue
	// Achievement is numerator/denominator, nil when there is no denominator.
	Achievement *big.Rat
	// Points earned, exact (never nil); PointsMax is the indicator's maximum.
	Points    *big.Rat
	PointsMax int
	// PrevalenceBased indicators multiply by PrevalenceFactor. Prevalence
	// (register / list size) and PrevalenceFactor are nil when they do not
	// apply or cannot be computed (no register value, zero list size).
	PrevalenceBased  bool
	Prevalence       *big.Rat
	PrevalenceFactor *big.Rat // as multiplied: rounded when FactorDecimals > 0
	// CPI as multiplied; nil for indicators that earn no points.
	CPI *big.Rat
	// Item of service: fee per item, the count actually paid after the cap,
	// and whether the cap bit.
	Fee     domain.Pence
	Payable int64
	Capped  bool
	// Pence is the payment, rounded once.
	Pence domain.Pence
	// NeededNextPoint and NeededUpper are the extra numerator patients (the
	// denominator held fixed) that reach the next whole point and the upper
	// threshold; see patientsNeeded. NotApplicable when they do not apply.
	NeededNextPoint, NeededUpper int64
	// Missing names the fields ("IND FIELD") the calculation looked for and
	// did not find, e.g. a manual field not yet entered.
	Missing []string
	// Notes explain a zero that is not an achievement of zero.
	Notes []string
	// Unpriced, when not empty, names the payment parameter that is missing
	// (a national prevalence, a fee): the points or count stand, Pence is 0
	// and is not a payment. A payment run must refuse such a result.
	Unpriced string
}

// Result is one practice's calculation for one service and date.
type Result struct {
	Service       string
	ListSize      int64
	ParamsVersion int
	Indicators    []IndicatorResult // in the service's order
	// Points is the sum of the indicators' exact points.
	Points    *big.Rat
	PointsMax int
	// Pence is the sum of the indicators' rounded payments.
	Pence domain.Pence
	// Unpriced lists the indicators whose payment could not be priced (see
	// IndicatorResult.Unpriced); Pence leaves them out.
	Unpriced []string
}

// Input is everything one calculation needs: the rows of one practice at
// one achievement date.
type Input struct {
	Service  *domain.ServiceDef
	Params   domain.PaymentParams
	ListSize int64
	Values   []domain.IndicatorValue
}

// Calculate is New followed by Practice, for a single calculation.
func Calculate(in Input) (Result, error) {
	c, err := New(in.Service, in.Params)
	if err != nil {
		return Result{}, err
	}
	return c.Practice(in.ListSize, in.Values)
}

// RowError is a problem with one input row; Index is its position in the
// values slice so a caller can name the file line.
type RowError struct {
	Index int
	Row   domain.IndicatorValue
	Msg   string
}

func (e *RowError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Row.Indicator, e.Row.Field, e.Msg)
}

// Calculator holds a service and its payment parameters, checked once, for
// any number of practices. It is safe for concurrent use.
type Calculator struct {
	svc    *domain.ServiceDef
	params domain.PaymentParams
	index  map[string]int
	ind    []prepared
	nslots int
}

// prepared is an indicator with its references resolved to positions.
type prepared struct {
	def    domain.IndicatorDef
	fields []string
	base   int // first value slot
	// prevReg is the indicator whose REGISTER gives the prevalence (-1 none).
	prevReg int
	natPrev domain.Ratio
	// capOf is the indicator whose first field caps this count (-1 none).
	capOf int
	fee   domain.Pence
	// unpriced says which payment parameter is missing, so the indicator's
	// points (or count) stand but its payment cannot be priced.
	unpriced string
}

// slot finds a field's value slot, -1 when the indicator has no such field.
func (p *prepared) slot(field string) int {
	for i, f := range p.fields {
		if f == field {
			return p.base + i
		}
	}
	return -1
}

// New checks the service and parameters together: references must resolve
// and every figure be in range, so a practice calculation can only fail on
// its own values. A parameter that is absent (a national prevalence not yet
// published, a fee) is not an error: the indicators that need it are
// calculated but left unpriced (IndicatorResult.Unpriced).
func New(svc *domain.ServiceDef, params domain.PaymentParams) (*Calculator, error) {
	if svc == nil {
		return nil, fmt.Errorf("calc: no service definition")
	}
	where := fmt.Sprintf("service %s payment parameters version %d", svc.ID, params.Version)
	if params.FactorDecimals < 0 || params.FactorDecimals > 6 {
		return nil, fmt.Errorf("%s: factor decimals %d, want 0 to 6", where, params.FactorDecimals)
	}
	c := &Calculator{svc: svc, params: params, index: make(map[string]int, len(svc.Indicators))}
	for i, d := range svc.Indicators {
		if _, dup := c.index[d.ID]; dup {
			return nil, fmt.Errorf("service %s: indicator %s defined twice", svc.ID, d.ID)
		}
		c.index[d.ID] = i
	}
	c.ind = make([]prepared, len(svc.Indicators))
	for i, d := range svc.Indicators {
		p := prepared{def: d, fields: d.Fields(), base: c.nslots, prevReg: -1, capOf: -1}
		c.nslots += len(p.fields)
		switch d.Kind {
		case domain.IndRegister, domain.IndAchievement, domain.IndCount:
		default:
			return nil, fmt.Errorf("service %s: indicator %s has kind %q, want register, achievement or count", svc.ID, d.ID, d.Kind)
		}
		if d.Points < 0 || d.Points > maxPoints {
			return nil, fmt.Errorf("service %s: indicator %s has %d points, want 0 to %d", svc.ID, d.ID, d.Points, maxPoints)
		}
		if d.Lower < 0 || d.Upper > 10000 || d.Lower > d.Upper {
			return nil, fmt.Errorf("service %s: indicator %s thresholds %d..%d (hundredths of %%) are not 0 <= lower <= upper <= 10000", svc.ID, d.ID, d.Lower, d.Upper)
		}
		if d.Points > 0 && d.Kind != domain.IndCount {
			switch {
			case params.PencePerPoint < 0 || params.PencePerPoint > MaxCount:
				return nil, fmt.Errorf("%s: pence per point %d, want 1 to %d", where, params.PencePerPoint, MaxCount)
			case params.NationalAvgListSize < 0 || params.NationalAvgListSize > MaxCount:
				return nil, fmt.Errorf("%s: national average list size %d, want 1 to %d", where, params.NationalAvgListSize, MaxCount)
			case params.PencePerPoint == 0:
				p.unpriced = fmt.Sprintf("no pence per point in payment parameters version %d", params.Version)
			case params.NationalAvgListSize == 0:
				p.unpriced = fmt.Sprintf("no national average list size in payment parameters version %d", params.Version)
			}
			if d.PrevalenceBased {
				regID := d.Register
				if regID == "" {
					regID = d.ID
				}
				r, ok := c.index[regID]
				if !ok || svc.Indicators[r].Kind == domain.IndCount {
					return nil, fmt.Errorf("service %s: indicator %s draws its prevalence from %s, which is not a register or achievement indicator of the service", svc.ID, d.ID, regID)
				}
				p.prevReg = r
				np, ok := params.NationalPrevalence[regID]
				switch {
				case !ok || np.Num == 0:
					if p.unpriced == "" {
						p.unpriced = fmt.Sprintf("no national prevalence for %s in payment parameters version %d", regID, params.Version)
					}
				// Between one in a million and 100%: the factor stays finite
				// and the exact arithmetic stays in range.
				case np.Num < 0 || np.Den <= 0 || np.Num > np.Den || np.Den > 1e12 || np.Den/np.Num > 1_000_000:
					return nil, fmt.Errorf("%s: national prevalence for %s is %d/%d, want a figure between 0.0001%% and 100%%", where, regID, np.Num, np.Den)
				default:
					p.natPrev = np
				}
			}
		}
		if d.Kind == domain.IndCount {
			fee, ok := params.Fees[d.ID]
			if fee < 0 || fee > MaxCount {
				return nil, fmt.Errorf("%s: fee for %s is %s, want 0 to %s", where, d.ID, fee, domain.Pence(MaxCount))
			}
			p.fee = fee
			// Outside item-of-service services a count without a fee is
			// information, not an unpriced payment.
			if !ok && svc.Kind == domain.KindItemOfService {
				p.unpriced = fmt.Sprintf("no fee for %s in payment parameters version %d", d.ID, params.Version)
			}
			if d.CapIndicator != "" {
				r, ok := c.index[d.CapIndicator]
				if !ok {
					return nil, fmt.Errorf("service %s: indicator %s is capped by unknown indicator %s", svc.ID, d.ID, d.CapIndicator)
				}
				p.capOf = r
			}
		}
		c.ind[i] = p
	}
	return c, nil
}

// Service is the calculator's service definition.
func (c *Calculator) Service() *domain.ServiceDef { return c.svc }

// Params are the calculator's payment parameters.
func (c *Calculator) Params() domain.PaymentParams { return c.params }

// practiceState is the per-practice working set: one value slot per field.
type practiceState struct {
	c        *Calculator
	vals     []int64
	have     []bool
	listSize int64
	cpi      *big.Rat   // shared by the practice's indicators
	prev     []prevInfo // per register indicator, computed on first use
}

type prevInfo struct {
	done              bool
	prevalence, factr *big.Rat
}

func (s *practiceState) value(ind int, field string) (int64, bool) {
	slot := s.c.ind[ind].slot(field)
	if slot < 0 {
		return 0, false
	}
	return s.vals[slot], s.have[slot]
}

// Practice calculates one practice at one achievement date from its rows.
// Rows must all be for the calculator's service and one practice and date;
// each (indicator, field) at most once. The list size is the practice's on
// the date the service defines; the caller looks it up.
func (c *Calculator) Practice(listSize int64, values []domain.IndicatorValue) (Result, error) {
	if listSize < 0 || listSize > MaxCount {
		return Result{}, fmt.Errorf("list size %d: want 0 to %d", listSize, MaxCount)
	}
	s := practiceState{
		c:        c,
		vals:     make([]int64, c.nslots),
		have:     make([]bool, c.nslots),
		listSize: listSize,
		prev:     make([]prevInfo, len(c.ind)),
	}
	for i, v := range values {
		rowErr := func(format string, a ...any) error {
			return &RowError{Index: i, Row: v, Msg: fmt.Sprintf(format, a...)}
		}
		if v.Service != c.svc.ID {
			return Result{}, rowErr("row is for service %q, not %s", v.Service, c.svc.ID)
		}
		if v.Practice != values[0].Practice || v.AchDate != values[0].AchDate {
			return Result{}, rowErr("row is for %s on %s, but the first row is for %s on %s: give one practice and achievement date", v.Practice, v.AchDate, values[0].Practice, values[0].AchDate)
		}
		ind, ok := c.index[v.Indicator]
		if !ok {
			return Result{}, rowErr("indicator %s is not in service %s", v.Indicator, c.svc.ID)
		}
		slot := c.ind[ind].slot(v.Field)
		if slot < 0 {
			return Result{}, rowErr("%s has no field %s (fields: %s)", v.Indicator, v.Field, strings.Join(c.ind[ind].fields, ", "))
		}
		if s.have[slot] {
			return Result{}, rowErr("given twice")
		}
		if v.Value < 0 || v.Value > MaxCount {
			return Result{}, rowErr("value %d is not between 0 and %d", v.Value, MaxCount)
		}
		s.vals[slot], s.have[slot] = v.Value, true
	}
	if c.params.NationalAvgListSize > 0 && listSize > 0 {
		s.cpi = money{list: listSize, natList: c.params.NationalAvgListSize, decimals: c.params.FactorDecimals}.cpiRat()
	}
	res := Result{
		Service:       c.svc.ID,
		ListSize:      listSize,
		ParamsVersion: c.params.Version,
		Indicators:    make([]IndicatorResult, len(c.ind)),
		Points:        new(big.Rat),
	}
	for i := range c.ind {
		r, err := s.indicator(i)
		if err != nil {
			return Result{}, err
		}
		res.Indicators[i] = r
		res.Points.Add(res.Points, r.Points)
		res.PointsMax += r.PointsMax
		res.Pence += r.Pence
		if r.Unpriced != "" {
			res.Unpriced = append(res.Unpriced, r.ID)
		}
	}
	return res, nil
}

// indicator calculates one indicator from the practice's values.
func (s *practiceState) indicator(i int) (IndicatorResult, error) {
	p := &s.c.ind[i]
	d := p.def
	r := IndicatorResult{
		ID: d.ID, Kind: d.Kind, PointsMax: d.Points, PrevalenceBased: d.PrevalenceBased,
		Points: new(big.Rat), NeededNextPoint: NotApplicable, NeededUpper: NotApplicable,
	}
	if d.Kind == domain.IndCount {
		r.PointsMax = 0 // count indicators are paid by fee, not points
	}
	for k, f := range p.fields {
		v, ok := s.vals[p.base+k], s.have[p.base+k]
		if !ok {
			r.Missing = append(r.Missing, d.ID+" "+f)
			continue
		}
		switch f {
		case domain.FieldRegister:
			r.Register = v
		case domain.FieldDenominator:
			r.Denominator = v
		case domain.FieldNumerator:
			r.Numerator = v
		case domain.FieldCount:
			r.Count = v
		default:
			r.Reasons = append(r.Reasons, FieldValue{Name: f, Value: v})
		}
	}
	var pts money
	switch d.Kind {
	case domain.IndCount:
		return s.itemOfService(p, r)
	case domain.IndRegister:
		// A register indicator's points are earned by keeping the register:
		// full points once its size is given.
		if d.Points == 0 || !s.have[p.base] {
			return r, nil
		}
		pts = money{pn: int64(d.Points), pd: 1}
	case domain.IndAchievement:
		_, hasD := s.value(i, domain.FieldDenominator)
		_, hasN := s.value(i, domain.FieldNumerator)
		if hasD && hasN && r.Numerator > r.Denominator {
			return r, fmt.Errorf("%s: numerator %d is above the denominator %d", d.ID, r.Numerator, r.Denominator)
		}
		if !hasD || !hasN || r.Denominator == 0 {
			if hasD && hasN {
				r.Notes = append(r.Notes, "denominator is 0: no achievement and no points")
			}
			return r, nil
		}
		r.Achievement = big.NewRat(r.Numerator, r.Denominator)
		if d.Points == 0 {
			return r, nil
		}
		if d.Upper == 0 {
			r.Notes = append(r.Notes, "thresholds missing from the rule set: points not calculated")
			return r, nil
		}
		pts.pn, pts.pd = pointsFrac(d, r.Numerator, r.Denominator)
		r.NeededNextPoint, r.NeededUpper = patientsNeeded(d, r.Numerator, r.Denominator)
	}
	if pts.pn != 0 {
		r.Points.SetFrac64(pts.pn, pts.pd)
	}
	return s.pointsPayment(p, r, pts)
}

// pointsPayment prices earned points: × £/point × CPI [× prevalence factor].
func (s *practiceState) pointsPayment(p *prepared, r IndicatorResult, m money) (IndicatorResult, error) {
	if p.unpriced != "" {
		r.Unpriced = p.unpriced
		return r, nil
	}
	prm := s.c.params
	m.ppp, m.list, m.natList, m.decimals = int64(prm.PencePerPoint), s.listSize, prm.NationalAvgListSize, prm.FactorDecimals
	r.CPI = s.cpi
	if s.listSize == 0 {
		r.CPI = new(big.Rat)
		r.Notes = append(r.Notes, "list size is 0: CPI is 0, nothing payable")
	}
	if p.def.PrevalenceBased {
		m.prevBased, m.natPrev = true, p.natPrev
		reg, ok := s.value(p.prevReg, domain.FieldRegister)
		regID := s.c.ind[p.prevReg].def.ID
		switch {
		case !ok:
			if regID != p.def.ID { // its own REGISTER is listed already
				r.Missing = append(r.Missing, regID+" "+domain.FieldRegister)
			}
			r.Notes = append(r.Notes, "no register size for the prevalence: nothing payable until it is given")
			return r, nil
		case s.listSize > 0 && reg > s.listSize:
			return r, fmt.Errorf("%s: register %s %d is above the list size %d (prevalence over 100%%)", p.def.ID, regID, reg, s.listSize)
		}
		m.reg = reg
		if s.listSize > 0 {
			pi := &s.prev[p.prevReg]
			if !pi.done {
				pi.prevalence, pi.factr, pi.done = m.prevalenceRat(), m.factorRat(), true
			}
			r.Prevalence, r.PrevalenceFactor = pi.prevalence, pi.factr
		}
	}
	pence, err := m.pence()
	if err != nil {
		return r, fmt.Errorf("%s: %w", p.def.ID, err)
	}
	r.Pence = pence
	return r, nil
}

// itemOfService pays fee × count, the count capped by the cap indicator's
// first field (REGISTER, or COUNT for a count indicator). With a cap whose
// value is not yet given, nothing is payable: paying uncapped could
// overpay, and the gap is shown in Missing.
func (s *practiceState) itemOfService(p *prepared, r IndicatorResult) (IndicatorResult, error) {
	r.Fee = p.fee
	if !s.have[p.base] {
		return r, nil
	}
	r.Payable = r.Count
	if p.capOf >= 0 {
		capInd := &s.c.ind[p.capOf]
		capVal, ok := s.vals[capInd.base], s.have[capInd.base]
		if !ok {
			r.Payable = 0
			r.Missing = append(r.Missing, capInd.def.ID+" "+capInd.fields[0])
			r.Notes = append(r.Notes, "cap not given: nothing payable until "+capInd.def.ID+" "+capInd.fields[0]+" is")
			return r, nil
		}
		if r.Count > capVal {
			r.Payable, r.Capped = capVal, true
		}
	}
	if p.unpriced != "" {
		r.Unpriced = p.unpriced
		return r, nil
	}
	r.Pence = p.fee * domain.Pence(r.Payable) // both <= MaxCount: no overflow
	return r, nil
}

// pointsFrac is the points earned as an exact fraction pn/pd (pd > 0) for
// numerator n of denominator den > 0. With lower == upper the scale is a
// step: full points at or above the threshold.
func pointsFrac(d domain.IndicatorDef, n, den int64) (pn, pd int64) {
	max, lo, hi := int64(d.Points), int64(d.Lower), int64(d.Upper)
	// a >= upper  <=>  10000n >= upper × den, all in integers.
	if 10000*n >= hi*den {
		return max, 1
	}
	if 10000*n <= lo*den {
		return 0, 1
	}
	return max * (10000*n - lo*den), den * (hi - lo)
}

// patientsNeeded answers "how many more patients in the numerator?" with the
// denominator fixed. The next point is the smallest whole number of points
// strictly above the current points (1 for a practice at or below the lower
// threshold; 4 for one on 3 or 3.2 points); needed is the fewest extra
// numerator patients whose points reach it. Upper is the fewest extra to
// reach the upper threshold. Both are 0 once full points are earned.
//
// Points reach T (0 < T <= max) when n/den >= lower + T × (upper − lower)/max,
// i.e. n >= ceil(den × (lower×max + T×(upper − lower)) / (10000 × max)).
func patientsNeeded(d domain.IndicatorDef, n, den int64) (next, upper int64) {
	max, lo, hi := int64(d.Points), int64(d.Lower), int64(d.Upper)
	pn, pd := pointsFrac(d, n, den)
	if pn == max*pd {
		return 0, 0
	}
	t := pn/pd + 1 // whole points strictly above the current
	next = ceilDiv(den*(lo*max+t*(hi-lo)), 10000*max) - n
	upper = ceilDiv(den*hi, 10000) - n
	return next, upper
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// Percent formats a fraction as a percentage to the given decimals, halves
// away from zero ("85.71"); "" for nil.
func Percent(x *big.Rat, decimals int) string {
	if x == nil {
		return ""
	}
	return new(big.Rat).Mul(x, big.NewRat(100, 1)).FloatString(decimals)
}

// Decimal formats a fraction to the given decimals, halves away from zero;
// "" for nil.
func Decimal(x *big.Rat, decimals int) string {
	if x == nil {
		return ""
	}
	return x.FloatString(decimals)
}
