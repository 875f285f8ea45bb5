package ops

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/calc"
	"gpcollections/store"
)

// Recalculation: a practice's achievement is recalculated in the same
// transaction as whatever changed its inputs (an extract result, a manual
// submission, a payment-parameter correction, a list size), so nobody waits
// for an overnight re-aggregation and no screen ever shows a declaration
// that disagrees with its data.
//
// After financial approval nothing changes. A change that would alter a
// financially approved or paid declaration is refused with *LockedError
// (errors.Is(err, ErrLocked)) and the caller's transaction fails with it:
//   - a manual submission or a payment-parameter correction is refused;
//   - the scheduler checks Locked before re-extracting a practice and skips
//     a locked one, recording why on its job; if financial approval lands
//     between that check and the result, Recalculate refuses and the
//     practice's result transaction fails with the reason, while the other
//     practices of the run go on, each in its own transaction;
//   - a list size change (RecalculatePractice) is a fact about the practice,
//     not an input to withhold: it recalculates the open declarations and
//     leaves locked ones exactly as approved, listing them.

// EvCalculate marks a declaration's first calculation in its History: a
// creation, not a transition of the declaration machine.
const EvCalculate domain.Event = "calculate"

// ErrLocked is the refusal of any change to a financially approved or paid
// declaration.
var ErrLocked = errors.New("after financial approval nothing can be amended")

// LockedError names the declaration a change would have altered.
type LockedError struct {
	Collection string // label, "QOF2526 2026-03-31"
	Practice   string
	State      domain.State
	Change     string // what tried to change it
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s, %s: the declaration is %s and %v; refused: %s",
		e.Collection, e.Practice, domain.DeclarationTitle(e.State), ErrLocked, e.Change)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// Locked reports whether a practice's declaration for a collection is
// financially approved or paid, so nothing about it may change. The
// scheduler asks before re-extracting a practice.
func Locked(tx *store.Tx, coll uint64, practice string) (bool, error) {
	d, err := tx.Declaration(coll, practice)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return isLocked(d.State), nil
}

func isLocked(s domain.State) bool {
	return s == domain.DeclFinanciallyApproved || s == domain.DeclPaid
}

// Figures is one practice's calculation for one collection from the inputs
// stored now: what the screens show and what a declaration declares.
type Figures struct {
	Service    *domain.ServiceDef
	Collection *domain.Collection
	Practice   string
	// Values are the merged inputs (extract, overridden by submitted manual
	// values where manual entry applies), sorted by indicator and field.
	Values []domain.FieldValue
	// HasExtract is false when no extract result is stored; ManualUsed when
	// submitted manual values are part of Values.
	HasExtract, ManualUsed bool
	// ListSize is the practice's list size on ListSizeDate (0 and
	// ListSizeKnown false when none is recorded).
	ListSize      int64
	ListSizeKnown bool
	ListSizeDate  domain.Date
	Params        domain.PaymentParams
	Result        calc.Result
	// Hash fingerprints inputs, list size, parameters and the figures they
	// give: when it changes, what the practice would declare has changed.
	Hash string
}

// PointsText is the display form of points kept on a declaration.
func PointsText(r calc.Result) string { return calc.Decimal(r.Points, 2) }

// CurrentFigures calculates a practice's achievement for a collection from
// what is stored in tx now.
func CurrentFigures(tx *store.Tx, coll *domain.Collection, practice string) (*Figures, error) {
	sc, err := loadService(tx, coll.Service)
	if err != nil {
		return nil, err
	}
	return figures(tx, coll, sc, practice)
}

// serviceCalc is a service definition as read in one transaction, with the
// calculators built for it there.
type serviceCalc struct {
	svc   *domain.ServiceDef
	ver   uint64
	calcs map[int]*calc.Calculator
}

func loadService(tx *store.Tx, id string) (*serviceCalc, error) {
	svc, ver, err := tx.ServiceVersion(id)
	if err != nil {
		return nil, err
	}
	return &serviceCalc{svc: svc, ver: ver, calcs: map[int]*calc.Calculator{}}, nil
}

func (sc *serviceCalc) calculator(tx *store.Tx, p domain.PaymentParams) (*calc.Calculator, error) {
	if c := sc.calcs[p.Version]; c != nil {
		return c, nil
	}
	c, err := calculator(tx, sc.svc, sc.ver, p)
	if err == nil {
		sc.calcs[p.Version] = c
	}
	return c, err
}

func figures(tx *store.Tx, coll *domain.Collection, sc *serviceCalc, practice string) (*Figures, error) {
	svc := sc.svc
	f := &Figures{Service: svc, Collection: coll, Practice: practice}
	where := fmt.Sprintf("%s, %s", coll.Label(), practice)
	params, ok := svc.ParamsOn(coll.AchDate)
	if !ok {
		return nil, fmt.Errorf("%s: service %s has no payment parameters in force on %s", where, svc.ID, coll.AchDate)
	}
	f.Params = params
	lsd, err := listSizeDate(svc, params, coll)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	f.ListSizeDate = lsd
	org, err := tx.Org(practice)
	if err != nil {
		return nil, err
	}
	f.ListSize, f.ListSizeKnown = org.ListSizeOn(f.ListSizeDate)
	if f.Values, f.HasExtract, f.ManualUsed, err = mergedInputs(tx, coll, svc, practice); err != nil {
		return nil, err
	}
	c, err := sc.calculator(tx, params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	rows := make([]domain.IndicatorValue, len(f.Values))
	for i, v := range f.Values {
		rows[i] = domain.IndicatorValue{Service: svc.ID, Practice: practice, AchDate: coll.AchDate, Indicator: v.Indicator, Field: v.Field, Value: v.Value}
	}
	if f.Result, err = c.Practice(f.ListSize, rows); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	f.Hash = figuresHash(f)
	return f, nil
}

// figuresHash fingerprints sorted values (each length-prefixed, so no two
// sets collide by shifting text), the list size, the parameter version and
// the figures they give.
func figuresHash(f *Figures) string {
	h := sha256.New()
	var b []byte
	for _, v := range f.Values {
		b = b[:0]
		b = strconv.AppendInt(b, int64(len(v.Indicator)), 10)
		b = append(b, ':')
		b = append(b, v.Indicator...)
		b = strconv.AppendInt(b, int64(len(v.Field)), 10)
		b = append(b, ':')
		b = append(b, v.Field...)
		b = append(b, '=')
		b = strconv.AppendInt(b, v.Value, 10)
		b = append(b, '\n')
		h.Write(b)
	}
	fmt.Fprintf(h, "|list=%d|params=%d|points=%s|pence=%d", f.ListSize, f.Params.Version, f.Result.Points.RatString(), f.Result.Pence)
	return hex.EncodeToString(h.Sum(nil))
}

// listSizeDate is the date whose list size counts: the service's MM-DD
// (PaymentParams.ListSizeDate) falling within the service year, or the
// achievement date when the parameters name none.
func listSizeDate(svc *domain.ServiceDef, p domain.PaymentParams, coll *domain.Collection) (domain.Date, error) {
	md := strings.TrimSpace(p.ListSizeDate)
	if md == "" {
		return coll.AchDate, nil
	}
	bad := fmt.Errorf("service %s payment parameters version %d: list size date %q is not MM-DD", svc.ID, p.Version, md)
	if len(md) != 5 || md[2] != '-' {
		return domain.NoDate, bad
	}
	m, err1 := strconv.Atoi(md[:2])
	d, err2 := strconv.Atoi(md[3:])
	if err1 != nil || err2 != nil || m < 1 || m > 12 || d < 1 || d > 31 {
		return domain.NoDate, bad
	}
	sy, _, _ := svc.Start.Civil()
	ey, _, _ := svc.End.Civil()
	for y := sy; y <= ey; y++ {
		x := domain.DateOf(y, time.Month(m), d)
		if x >= svc.Start && x <= svc.End {
			return x, nil
		}
	}
	return domain.NoDate, fmt.Errorf("service %s payment parameters version %d: list size date %s does not fall in the service year %s to %s", svc.ID, p.Version, md, svc.Start, svc.End)
}

// mergedInputs are the extract values overridden by submitted manual values:
// always for the fields the service marks manual, and for automatic fields
// while the practice's extract has failed or no extract result exists yet
// (a retry in progress leaves the typed values standing; once a re-run
// succeeds, the extract is the source again; the typed values stay on
// record). The values come back sorted by indicator, then field.
func mergedInputs(tx *store.Tx, coll *domain.Collection, svc *domain.ServiceDef, practice string) (vals []domain.FieldValue, hasExtract, manualUsed bool, err error) {
	res, err := tx.Result(coll.ID, practice)
	switch {
	case err == nil:
		hasExtract = true
		vals = res.Values
	case !errors.Is(err, store.ErrNotFound):
		return nil, false, false, err
	}
	me, err := tx.ManualEntry(coll.ID, practice)
	if err != nil {
		return nil, false, false, err
	}
	if me.State == domain.ManualSubmitted && len(me.Values) > 0 {
		failed := !hasExtract
		if !failed {
			if failed, err = extractFailed(tx, coll.ID, practice); err != nil {
				return nil, false, false, err
			}
		}
		manual := manualFields(svc)
		at := make(map[domain.FieldKey]int, len(vals))
		for i, v := range vals {
			at[domain.FieldKey{Indicator: v.Indicator, Field: v.Field}] = i
		}
		for _, v := range me.Values {
			k := domain.FieldKey{Indicator: v.Indicator, Field: v.Field}
			if !manual[k] && !failed {
				continue
			}
			manualUsed = true
			if i, ok := at[k]; ok {
				vals[i].Value = v.Value
			} else {
				at[k] = len(vals)
				vals = append(vals, v)
			}
		}
	}
	sortFieldValues(vals)
	return vals, hasExtract, manualUsed, nil
}

func sortFieldValues(v []domain.FieldValue) {
	slices.SortFunc(v, func(a, b domain.FieldValue) int {
		if c := strings.Compare(a.Indicator, b.Indicator); c != 0 {
			return c
		}
		return strings.Compare(a.Field, b.Field)
	})
}

func manualFields(svc *domain.ServiceDef) map[domain.FieldKey]bool {
	out := map[domain.FieldKey]bool{}
	for _, f := range svc.ManualFields() {
		out[domain.FieldKey{Indicator: f[0], Field: f[1]}] = true
	}
	return out
}

// extractFailed reports whether the practice's extraction job for the
// collection ended in failure.
func extractFailed(tx *store.Tx, coll uint64, practice string) (bool, error) {
	j, err := tx.Job(coll, practice)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return j.State == domain.JobFailed, nil
}

// calcCache caches a checked calculator per service version and
// parameter version: a national recalculation checks the service once. A
// calculator built in a write transaction is cached only when it commits,
// so a refused correction can never leave its version number behind. The
// cache belongs to the store (record versions are only unique within one).
type calcCache struct {
	sync.Mutex
	m map[string]*calc.Calculator
}

func calculatorsOf(tx *store.Tx) *calcCache {
	c, _ := tx.Memo().LoadOrStore("ops.calculators", &calcCache{m: map[string]*calc.Calculator{}})
	return c.(*calcCache)
}

func calculator(tx *store.Tx, svc *domain.ServiceDef, svcVer uint64, p domain.PaymentParams) (*calc.Calculator, error) {
	k := fmt.Sprintf("%s@%d/%d", svc.ID, svcVer, p.Version)
	calculators := calculatorsOf(tx)
	calculators.Lock()
	c := calculators.m[k]
	calculators.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := calc.New(svc, p)
	if err != nil {
		return nil, err
	}
	put := func() {
		calculators.Lock()
		if len(calculators.m) > 256 { // old versions: drop them all, cheap to rebuild
			calculators.m = map[string]*calc.Calculator{}
		}
		calculators.m[k] = c
		calculators.Unlock()
	}
	if tx.Bolt().Writable() {
		tx.Bolt().OnCommit(put)
	} else {
		put()
	}
	return c, nil
}

// Recalculate brings a practice's declaration for a collection up to date
// with its stored inputs, in the caller's transaction. The scheduler calls
// it right after tx.PutResult; manual submission, parameter corrections and
// list size changes call it too. It creates the declaration on first
// calculation; when the figures changed it fires EvDataChanged, so a
// declared, approved or returned declaration goes back to awaiting the
// practice's declaration with reason recorded in its History and Reason.
// A financially approved or paid declaration cannot change: *LockedError.
// Services without declaration (or approval) are declared (approved) at
// once by the system. A practice that does not take part is left alone.
func Recalculate(tx *store.Tx, coll *domain.Collection, practice, reason string) error {
	sc, err := loadService(tx, coll.Service)
	if err != nil {
		return err
	}
	_, err = recalculate(tx, coll, sc, practice, reason)
	return err
}

// recalculate reports whether the declaration changed.
func recalculate(tx *store.Tx, coll *domain.Collection, sc *serviceCalc, practice, reason string) (bool, error) {
	svc := sc.svc
	if ok, err := Participating(tx, svc.ID, practice); err != nil || !ok {
		return false, err
	}
	d, err := tx.Declaration(coll.ID, practice)
	isNew := errors.Is(err, store.ErrNotFound)
	if err != nil && !isNew {
		return false, err
	}
	f, err := figures(tx, coll, sc, practice)
	if err != nil {
		return false, err
	}
	if isNew && !f.HasExtract && !f.ManualUsed {
		return false, nil // nothing to calculate from yet
	}
	by := actorName(tx)
	now := tx.Now()
	before := ""
	if isNew {
		d = &domain.Declaration{Collection: coll.ID, Practice: practice, Service: svc.ID, State: domain.DeclCalculated}
		d.History = append(d.History, domain.Change{At: now, By: by, Event: EvCalculate, To: domain.DeclCalculated, Reason: reason})
		d.Reason = reason
	} else {
		if d.InputsHash == f.Hash {
			return false, nil
		}
		before = declSummary(d)
		next, err := domain.DeclarationMachine.Fire(d.State, domain.EvDataChanged)
		if err != nil {
			return false, &LockedError{Collection: coll.Label(), Practice: practice, State: d.State, Change: reason}
		}
		why := reason
		if d.State != domain.DeclCalculated {
			why = "data changed after declaration: " + reason
			d.Declared, d.DeclaredHash = nil, ""
		}
		d.History = append(d.History, domain.Change{At: now, By: by, Event: domain.EvDataChanged, From: d.State, To: next, Reason: why})
		d.State, d.Reason = next, why
	}
	setFigures(d, f)
	if err := autoSteps(svc, d, f, now); err != nil {
		return false, err
	}
	if err := tx.PutDeclaration(d); err != nil {
		return false, err
	}
	return true, tx.Audit("declaration.recalculate", declTarget(d), practice, before, declSummary(d)+"; "+reason)
}

func setFigures(d *domain.Declaration, f *Figures) {
	d.InputsHash = f.Hash
	d.Points = PointsText(f.Result)
	d.Amount = f.Result.Pence
}

// autoSteps takes the steps a service's configuration makes automatic: "No
// Declaration Required" declares what was calculated, "No Approval
// Required" approves what was declared, both as the system.
func autoSteps(svc *domain.ServiceDef, d *domain.Declaration, f *Figures, now time.Time) error {
	sys := domain.SystemUser.Name
	if !svc.DeclarationRequired && d.State == domain.DeclCalculated {
		next, err := domain.DeclarationMachine.Fire(d.State, domain.EvDeclare)
		if err != nil {
			return err
		}
		d.History = append(d.History, domain.Change{At: now, By: sys, Event: domain.EvDeclare, From: d.State, To: next, Reason: "no declaration required: declared automatically"})
		d.State = next
		d.Declared, d.DeclaredHash = append([]domain.FieldValue(nil), f.Values...), f.Hash
	}
	if !svc.ApprovalRequired && d.State == domain.DeclDeclared {
		next, err := domain.DeclarationMachine.Fire(d.State, domain.EvApprove)
		if err != nil {
			return err
		}
		d.History = append(d.History, domain.Change{At: now, By: sys, Event: domain.EvApprove, From: d.State, To: next, Reason: "no approval required: approved automatically"})
		d.State = next
	}
	return nil
}

func actorName(tx *store.Tx) string {
	if a := tx.Actor(); a != nil {
		return a.Name
	}
	return domain.SystemUser.Name
}

func declTarget(d *domain.Declaration) string {
	return fmt.Sprintf("declaration %d/%s", d.Collection, d.Practice)
}

// declSummary is a declaration's audit text. It leaves out money: the audit
// is readable with View, which shows points but not pounds; the inputs hash
// and parameter version reproduce the amount for those allowed to see it.
func declSummary(d *domain.Declaration) string {
	s := fmt.Sprintf("%s, %s points, inputs %.12s", d.State, d.Points, d.InputsHash)
	if d.DeclaredHash != "" {
		s += fmt.Sprintf(", declared %.12s", d.DeclaredHash)
	}
	return s
}

// RecalcSummary reports a recalculation over many declarations.
type RecalcSummary struct {
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	// Locked names financially approved or paid declarations
	// ("QOF2526 2026-03-31 A81001") whose figures would have changed; they
	// were left exactly as approved.
	Locked []string `json:"locked,omitempty"`
}

func (s *RecalcSummary) add(changed bool, err error) error {
	var le *LockedError
	switch {
	case errors.As(err, &le):
		s.Locked = append(s.Locked, le.Collection+" "+le.Practice)
	case err != nil:
		return err
	case changed:
		s.Changed++
	default:
		s.Unchanged++
	}
	return nil
}

// RecalculateServiceTx recalculates every participating practice in every
// collection of a service, in the caller's transaction. Locked declarations
// that would change are listed, not changed; a caller that must not alter
// payment inputs after financial approval refuses when Locked is not empty.
func RecalculateServiceTx(tx *store.Tx, serviceID, reason string) (RecalcSummary, error) {
	var sum RecalcSummary
	sc, err := loadService(tx, serviceID)
	if err != nil {
		return sum, err
	}
	colls, err := tx.Collections(serviceID)
	if err != nil {
		return sum, err
	}
	parts, err := tx.Participations(serviceID)
	if err != nil {
		return sum, err
	}
	for _, c := range colls {
		if c.Status == domain.CollCancelled {
			continue
		}
		for _, p := range parts {
			if !domain.Participating(p.State) {
				continue
			}
			if err := sum.add(recalculate(tx, c, sc, p.Practice, reason)); err != nil {
				return sum, err
			}
		}
	}
	return sum, nil
}

func lockedRefusal(serviceID string, sum RecalcSummary, what, hint string) error {
	return fmt.Errorf("%s refused: %w, and %d declaration(s) of %s would change: %s; %s",
		what, ErrLocked, len(sum.Locked), serviceID, strings.Join(sum.Locked, ", "), hint)
}

// correctionHint is what to do about a parameter change that would move a
// financially approved figure.
const correctionHint = "give a correction an effective date after their achievement dates"

// RecalculateService recalculates a whole service now (after a correction
// to its definition). It is refused, changing nothing, if any financially
// approved or paid declaration would change.
func RecalculateService(s *store.Store, actor *domain.User, serviceID, reason string) (RecalcSummary, error) {
	if strings.TrimSpace(reason) == "" {
		return RecalcSummary{}, errors.New("a recalculation needs a reason; it is shown to the practices whose declarations change")
	}
	var sum RecalcSummary
	err := s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActManageServices, domain.TargetNational()); err != nil {
			return err
		}
		var err error
		if sum, err = RecalculateServiceTx(tx, serviceID, reason); err != nil {
			return err
		}
		if len(sum.Locked) > 0 {
			return lockedRefusal(serviceID, sum, "recalculation of "+serviceID, correctionHint)
		}
		return tx.Audit("service.recalculate", "service "+serviceID, domain.NationalCode, "",
			fmt.Sprintf("%d changed, %d unchanged: %s", sum.Changed, sum.Unchanged, reason))
	})
	return sum, err
}

// CorrectPaymentParams adds a corrected version of a service's payment
// parameters (the next version number, in force from p.EffectiveFrom) and
// recalculates the service in the same transaction. It is refused, changing
// nothing, if a financially approved or paid declaration would change.
func CorrectPaymentParams(s *store.Store, actor *domain.User, serviceID string, p domain.PaymentParams, reason string) (RecalcSummary, error) {
	return CorrectPaymentParamsFrom(s, actor, serviceID, -1, p, reason)
}

// CorrectPaymentParamsFrom is CorrectPaymentParams for someone who wrote the
// correction looking at parameter version from (0: the service had none):
// if another correction was added since, it is refused (wrapping
// store.ErrConflict) in the same transaction rather than putting back the
// figures the correction started from. A negative from skips the check.
func CorrectPaymentParamsFrom(s *store.Store, actor *domain.User, serviceID string, from int, p domain.PaymentParams, reason string) (RecalcSummary, error) {
	if strings.TrimSpace(reason) == "" {
		return RecalcSummary{}, errors.New("a payment-parameter correction needs a reason")
	}
	var sum RecalcSummary
	err := s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActManageServices, domain.TargetNational()); err != nil {
			return err
		}
		def, ver, err := tx.ServiceVersion(serviceID)
		if err != nil {
			return err
		}
		latest, ok := def.LatestParams()
		if from >= 0 && latest.Version != from {
			return fmt.Errorf("%s's payment parameters were corrected by someone else since you looked (now version %d, you started from %d): %w",
				serviceID, latest.Version, from, store.ErrConflict)
		}
		if ok {
			p.Version = latest.Version + 1
		} else {
			p.Version = 1
		}
		if !p.EffectiveFrom.Valid() {
			return fmt.Errorf("correction of %s: the corrected parameters need an effective date", serviceID)
		}
		def.Payment = append(def.Payment, p)
		if _, err := calc.New(def, p); err != nil {
			return fmt.Errorf("correction of %s: %w", serviceID, err)
		}
		if err := tx.PutService(def, ver); err != nil {
			return err
		}
		if sum, err = RecalculateServiceTx(tx, serviceID, fmt.Sprintf("payment parameters corrected (version %d): %s", p.Version, reason)); err != nil {
			return err
		}
		if len(sum.Locked) > 0 {
			return lockedRefusal(serviceID, sum, fmt.Sprintf("correction of %s", serviceID), correctionHint)
		}
		return nil
	})
	return sum, err
}

// RecalculatePractice recalculates a practice's open declarations in every
// collection, in the caller's transaction: the list-size hook. Locked
// declarations are left exactly as approved and listed.
func RecalculatePractice(tx *store.Tx, practice, reason string) (RecalcSummary, error) {
	var sum RecalcSummary
	colls, err := tx.Collections("")
	if err != nil {
		return sum, err
	}
	svcs := map[string]*serviceCalc{}
	for _, c := range colls {
		_, err := tx.Declaration(c.ID, practice)
		if errors.Is(err, store.ErrNotFound) {
			continue // never calculated: nothing a list size could change yet
		}
		if err != nil {
			return sum, err
		}
		sc, ok := svcs[c.Service]
		if !ok {
			if sc, err = loadService(tx, c.Service); err != nil {
				return sum, err
			}
			svcs[c.Service] = sc
		}
		if err := sum.add(recalculate(tx, c, sc, practice, reason)); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
