package ops

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"gpcollections/domain"
	"gpcollections/domain/calc"
	"gpcollections/store"
)

// Payment runs. What a run for a period (YYYY-MM) pays:
//   - every financially approved declaration whose collection's payment
//     date falls in or before the period: an achievement line (points
//     services), an item-of-service line, or, for a practice with a
//     recorded prior-year figure, the year-end reconciliation line
//     (achievement less the aspiration paid, which may be negative);
//   - aspiration: for each practice taking part with a prior-year figure,
//     the monthly share (calc.Aspiration) of every month of the service
//     year up to the period not yet paid, until the year is reconciled.
//
// A run NEVER pays an item twice, even when repeated or interrupted:
//   - every line's item (collection, practice, component[, month]) is
//     recorded in the paid bucket, the declarations are marked Paid and the
//     run is recorded, all in ONE transaction; killed before its commit, a
//     run leaves nothing paid; after it, everything;
//   - store.Tx.MarkPaid refuses an item already paid, whatever the caller;
//   - there is one run per period: running a period again returns the
//     committed run, and the CSV is always written from that record, so a
//     repeat (or a run whose file was lost) reproduces the same file rather
//     than paying again. Items that became payable after a period's run are
//     paid by the next period's run.

// payLineHook, when set (tests only), runs before each line is recorded
// inside the run's transaction, to interrupt a run half way.
var payLineHook func(i int) error

// PaymentRunResult is a run and whether it was made now or read back.
type PaymentRunResult struct {
	Run *domain.PaymentRun
	// Existing is true when the period had already been run: nothing was
	// paid now and Run is the committed record.
	Existing bool
	// Pending counts items payable by the period's rules but not in Run
	// (they became payable after it); the next period's run pays them.
	Pending int
}

// Describe says what the run did, in one line, and on a second line what
// it left for the next period, if anything.
func (r *PaymentRunResult) Describe() string {
	verb := "paid"
	if r.Existing {
		verb = "already run on " + r.Run.At.UTC().Format("2006-01-02 15:04 UTC") + "; nothing paid now; its file has"
	}
	s := fmt.Sprintf("payment run %d for %s %s %d lines, total %s", r.Run.ID, r.Run.Period, verb, len(r.Run.Lines), r.Run.Total())
	if r.Pending > 0 {
		s += fmt.Sprintf("\n%d item(s) became payable after this run; the next period's run pays them", r.Pending)
	}
	return s
}

// RunPayments makes (or reads back) the payment run of a period.
func RunPayments(s *store.Store, actor *domain.User, period string) (*PaymentRunResult, error) {
	p, err := domain.ParsePeriod(period)
	if err != nil {
		return nil, err
	}
	var res PaymentRunResult
	err = s.Update(actor, func(tx *store.Tx) error {
		res = PaymentRunResult{}
		if err := domain.Authorize(actor, domain.ActRunPayments, domain.TargetNational()); err != nil {
			return err
		}
		// A run for a month that has not begun would pay aspiration
		// months and due declarations early.
		if today := LondonDate(tx.Now()); today < p.First() {
			return fmt.Errorf("payment period %s has not begun (today is %s in England): a run pays what is due in or before its period", p, today)
		}
		lines, err := payable(tx, p)
		if err != nil {
			return err
		}
		if run, err := tx.PaymentRunFor(p.String()); err == nil {
			res.Run, res.Existing, res.Pending = run, true, len(lines)
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		run := &domain.PaymentRun{Period: p.String(), At: tx.Now(), By: actor.Name}
		if err := tx.AddPaymentRun(run); err != nil {
			return err
		}
		for i, pl := range lines {
			if payLineHook != nil {
				if err := payLineHook(i); err != nil {
					return err
				}
			}
			if err := pay(tx, actor, run, pl); err != nil {
				return err
			}
			run.Lines = append(run.Lines, pl.line)
		}
		if err := tx.PutPaymentRun(run); err != nil {
			return err
		}
		res.Run = run
		return tx.Audit("payments.run", fmt.Sprintf("payment run %d", run.ID), domain.NationalCode, "",
			fmt.Sprintf("period %s: %d lines", run.Period, len(run.Lines)))
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// payLine is a line with the keys that record it.
type payLine struct {
	line    domain.PaymentLine
	paidKey []byte
	decl    *domain.Declaration // nil for aspiration
}

// pay records one line: the paid item, and the declaration marked Paid.
func pay(tx *store.Tx, actor *domain.User, run *domain.PaymentRun, pl payLine) error {
	if err := tx.MarkPaid(pl.paidKey, &domain.PaidItem{Run: run.ID, Line: pl.line}); err != nil {
		return err
	}
	if pl.decl == nil {
		return nil
	}
	d := pl.decl
	next, err := domain.DeclarationMachine.Fire(d.State, domain.EvPay)
	if err != nil {
		return fmt.Errorf("payment run %s: declaration %d/%s: %w", run.Period, d.Collection, d.Practice, err)
	}
	before := declSummary(d)
	d.History = append(d.History, domain.Change{At: tx.Now(), By: actor.Name, Event: domain.EvPay, From: d.State, To: next,
		Reason: fmt.Sprintf("payment run %d (%s): %s", run.ID, run.Period, pl.line.Component)})
	d.State = next
	if err := tx.PutDeclaration(d); err != nil {
		return err
	}
	return tx.Audit("declaration.pay", declTarget(d), d.Practice, before, declSummary(d))
}

// payable works out every line a run for period p would pay now, sorted by
// practice, service, component and month.
func payable(tx *store.Tx, p domain.Period) ([]payLine, error) {
	var out []payLine
	svcs := map[string]*domain.ServiceDef{}
	service := func(id string) (*domain.ServiceDef, error) {
		if s, ok := svcs[id]; ok {
			return s, nil
		}
		s, err := tx.Service(id)
		svcs[id] = s
		return s, err
	}
	// Aspiration first: a reconciliation in the same run nets it.
	thisRun := map[string]domain.Pence{} // service|practice -> aspiration in this run
	bases, err := tx.Aspirations()
	if err != nil {
		return nil, err
	}
	for _, b := range bases {
		svc, err := service(b.Service)
		if err != nil {
			return nil, err
		}
		lines, err := aspirationLines(tx, svc, b, p)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			thisRun[b.Service+"|"+b.Practice] += l.line.Amount
		}
		out = append(out, lines...)
	}
	ds, err := tx.DeclarationsIn(domain.DeclFinanciallyApproved)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		c, err := tx.Collection(d.Collection)
		if err != nil {
			return nil, err
		}
		if c.PaymentDate > p.Last() {
			continue
		}
		svc, err := service(c.Service)
		if err != nil {
			return nil, err
		}
		l := domain.PaymentLine{Practice: d.Practice, Service: svc.ID, Collection: c.ID, AchDate: c.AchDate,
			Component: domain.PayAchievement, Amount: d.Amount, Declaration: fmt.Sprintf("%d/%s", d.Collection, d.Practice)}
		if ch, ok := lastChange(d, domain.EvApprove); ok {
			l.ApprovedBy, l.ApprovedAt = ch.By, ch.At
		}
		if ch, ok := lastChange(d, domain.EvFinanceApprove); ok {
			l.FinanceApprovedBy, l.FinanceApprovedAt = ch.By, ch.At
		}
		if svc.Kind == domain.KindItemOfService {
			l.Component = domain.PayItemOfService
		}
		base, err := tx.Aspiration(svc.ID, d.Practice)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if base != nil && svc.Kind == domain.KindPoints {
			paid, runs, err := aspirationPaid(tx, svc.ID, d.Practice)
			if err != nil {
				return nil, err
			}
			paid += thisRun[svc.ID+"|"+d.Practice]
			l.Component = domain.PayReconciliation
			l.Amount = calc.Reconcile(d.Amount, paid)
			l.RestsOn = fmt.Sprintf("achievement %s less aspiration paid %s", d.Amount, paid)
			if len(runs) > 0 {
				l.RestsOn += " (runs " + runs + ")"
			}
		}
		k := store.PaidKey(c.ID, d.Practice, l.Component, "")
		if _, err := tx.Paid(k); err == nil {
			return nil, fmt.Errorf("declaration %d/%s is financially approved but its %s was already paid: the store is inconsistent; run gpc check", d.Collection, d.Practice, l.Component)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		out = append(out, payLine{line: l, paidKey: k, decl: d})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].line, out[j].line
		if a.Practice != b.Practice {
			return a.Practice < b.Practice
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.AchDate != b.AchDate {
			return a.AchDate < b.AchDate
		}
		if a.Component != b.Component {
			return a.Component < b.Component
		}
		return a.Month < b.Month
	})
	return out, nil
}

func aspirationPrefix(service, practice string) []byte {
	return store.PaidKey(0, practice, domain.PayAspiration, service+"|")
}

// aspirationPaid sums the aspiration already paid to a practice for a
// service, and names the runs that paid it.
func aspirationPaid(tx *store.Tx, service, practice string) (domain.Pence, string, error) {
	items, err := tx.PaidWithPrefix(aspirationPrefix(service, practice))
	if err != nil {
		return 0, "", err
	}
	var sum domain.Pence
	var runs []string
	seen := map[uint64]bool{}
	for _, it := range items {
		sum += it.Line.Amount
		if !seen[it.Run] {
			seen[it.Run] = true
			runs = append(runs, strconv.FormatUint(it.Run, 10))
		}
	}
	return sum, strings.Join(runs, ","), nil
}

// reconciled reports whether a practice's year for a service is settled:
// reconciled, or its achievement paid in full (no prior-year figure was
// recorded in time). Either way no advance may be paid against it any more.
func reconciled(tx *store.Tx, service, practice string) (bool, error) {
	colls, err := tx.Collections(service)
	if err != nil {
		return false, err
	}
	for _, c := range colls {
		for _, comp := range []domain.PayComponent{domain.PayReconciliation, domain.PayAchievement} {
			if _, err := tx.Paid(store.PaidKey(c.ID, practice, comp, "")); err == nil {
				return true, nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return false, err
			}
		}
	}
	return false, nil
}

// aspirationLines are the unpaid aspiration months of the service year up
// to period p, for a practice taking part whose year is not reconciled.
func aspirationLines(tx *store.Tx, svc *domain.ServiceDef, b *domain.AspirationBase, p domain.Period) ([]payLine, error) {
	params, ok := svc.ParamsOn(svc.Start)
	if !ok || params.AspirationShare.IsZero() {
		return nil, nil
	}
	part, err := tx.Participation(svc.ID, b.Practice)
	if err != nil || !domain.Participating(part.State) {
		return nil, err
	}
	if done, err := reconciled(tx, svc.ID, b.Practice); err != nil || done {
		return nil, err
	}
	plan, err := calc.Aspiration(params.AspirationShare, b.Prior)
	if err != nil {
		return nil, fmt.Errorf("aspiration for %s, %s: %w", b.Practice, svc.ID, err)
	}
	var out []payLine
	for i := range 12 {
		month := domain.PeriodOf(svc.Start.AddMonths(i))
		if p.Before(month) || month.First() > svc.End {
			break
		}
		// Only the months the practice takes part in, on any day of them:
		// no advance for the months before it joined or after it leaves.
		if month.Last() < part.From || part.To.Valid() && month.First() > part.To {
			continue
		}
		k := store.PaidKey(0, b.Practice, domain.PayAspiration, svc.ID+"|"+month.String())
		if _, err := tx.Paid(k); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		out = append(out, payLine{paidKey: k, line: domain.PaymentLine{
			Practice: b.Practice, Service: svc.ID, Component: domain.PayAspiration, Month: month.String(),
			Amount: plan.Months[i],
			RestsOn: fmt.Sprintf("%s of prior-year achievement %s (recorded by %s at %s); month %d of 12",
				params.AspirationShare.Percent(2), b.Prior, b.SetBy, b.SetAt.UTC().Format(time.RFC3339), i+1),
		}})
	}
	return out, nil
}

// SetAspirationPrior records a practice's prior-year unadjusted achievement
// payment for a service, from which its monthly aspiration payments are
// worked out. Months already paid stay paid; later months follow the new
// figure. Refused once the year is reconciled.
func SetAspirationPrior(s *store.Store, actor *domain.User, service, practice string, prior domain.Pence, note string) error {
	if prior < 0 {
		return fmt.Errorf("prior-year achievement %s for %s: must not be negative", prior, practice)
	}
	return s.Update(actor, func(tx *store.Tx) error {
		if err := domain.Authorize(actor, domain.ActRunPayments, domain.TargetNational()); err != nil {
			return err
		}
		svc, err := tx.Service(service)
		if err != nil {
			return err
		}
		if svc.Kind != domain.KindPoints {
			return fmt.Errorf("%s is an item-of-service service; aspiration payments are for points services (QOF)", service)
		}
		o, err := tx.Org(practice)
		if err != nil {
			return err
		}
		if o.Kind != domain.OrgPractice {
			return fmt.Errorf("%s is a %s, not a practice", practice, o.Kind)
		}
		if done, err := reconciled(tx, service, practice); err != nil {
			return err
		} else if done {
			return fmt.Errorf("%s, %s: the year's achievement was paid (reconciled, or in full); %w", service, practice, ErrLocked)
		}
		b, err := tx.Aspiration(service, practice)
		before := ""
		switch {
		case errors.Is(err, store.ErrNotFound):
			b = &domain.AspirationBase{Service: service, Practice: practice}
		case err != nil:
			return err
		default:
			before = fmt.Sprintf("prior %s", b.Prior)
		}
		b.Prior, b.SetBy, b.SetAt, b.Note = prior, actor.Name, tx.Now(), note
		if err := tx.PutAspiration(b); err != nil {
			return err
		}
		// Filed under the national organisation: it is payment
		// administration, and a practice's View role shows no pounds.
		return tx.Audit("payments.aspiration", "aspiration "+service+"/"+practice, domain.NationalCode, before, fmt.Sprintf("prior %s %s", prior, note))
	})
}

// PaymentRuns lists the committed runs (national payment administrators).
func PaymentRuns(s *store.Store, actor *domain.User) ([]*domain.PaymentRun, error) {
	if err := domain.Authorize(actor, domain.ActRunPayments, domain.TargetNational()); err != nil {
		return nil, err
	}
	var out []*domain.PaymentRun
	err := s.View(func(tx *store.Tx) error {
		var err error
		out, err = tx.PaymentRuns()
		return err
	})
	return out, err
}

// PaymentHeader is the payment instruction CSV's header.
var PaymentHeader = []string{"RUN", "PERIOD", "ORG_CODE", "SERVICE", "COMPONENT", "ACH_DATE", "MONTH", "AMOUNT_PENCE",
	"DECLARATION", "APPROVED_BY", "APPROVED_AT", "FINANCE_APPROVED_BY", "FINANCE_APPROVED_AT", "RESTS_ON"}

// WritePaymentCSV writes a committed run's payment instructions. The same
// run always gives the same bytes.
func WritePaymentCSV(w io.Writer, run *domain.PaymentRun) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(PaymentHeader); err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, l := range run.Lines {
		rec := []string{strconv.FormatUint(run.ID, 10), run.Period, l.Practice, l.Service, string(l.Component),
			l.AchDate.String(), l.Month, strconv.FormatInt(int64(l.Amount), 10), l.Declaration,
			l.ApprovedBy, ts(l.ApprovedAt), l.FinanceApprovedBy, ts(l.FinanceApprovedAt), l.RestsOn}
		if l.Collection == 0 { // aspiration: no collection, no achievement date
			rec[5] = ""
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
