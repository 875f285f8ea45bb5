package ops

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gpcollections/domain"
	"gpcollections/store"
)

// ErrNotParticipating refuses work for a practice that does not take part
// in the service: only participating practices are extracted, shown and paid.
var ErrNotParticipating = errors.New("the practice does not take part in the service")

// Participating reports whether a practice takes part in a service
// (accepted or auto-accepted). The scheduler extracts only these, screens
// show only these, and only their declarations move towards payment.
func Participating(tx *store.Tx, service, practice string) (bool, error) {
	p, err := tx.Participation(service, practice)
	if err != nil {
		return false, err
	}
	return domain.Participating(p.State), nil
}

func requireParticipating(tx *store.Tx, service, practice string) error {
	ok, err := Participating(tx, service, practice)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s, %s: %w", practice, service, ErrNotParticipating)
	}
	return nil
}

// OfferOutcome is what an offer did for one practice.
type OfferOutcome struct {
	Practice string       `json:"practice"`
	State    domain.State `json:"state"`
	// Skipped says why the practice was not offered (already takes part,
	// offer open); empty when it was.
	Skipped string `json:"skipped,omitempty"`
}

// Offer offers a service to practices from..to (NoDate: the service's own
// start or end). An empty practice list means every practice of every
// commissioner for which the actor holds Commissioning Management. Every
// named practice must be one the actor may offer to, or nothing is offered.
// Practices already offered or taking part are skipped with the reason;
// if none could be offered the offer fails. Auto-accepted services are
// accepted on the practices' behalf in the same transaction, recorded as the
// system's step with the offering user named.
func Offer(s *store.Store, actor *domain.User, service string, practices []string, from, to domain.Date) ([]OfferOutcome, error) {
	var out []OfferOutcome
	err := s.Update(actor, func(tx *store.Tx) error {
		out = nil
		svc, err := tx.Service(service)
		if err != nil {
			return err
		}
		if !from.Valid() {
			from = svc.Start
		}
		if !to.Valid() {
			to = svc.End
		}
		if to < from || from < svc.Start || to > svc.End {
			return fmt.Errorf("offer of %s from %s to %s: the dates must lie inside the service's %s to %s, start first", service, from, to, svc.Start, svc.End)
		}
		if len(practices) == 0 {
			if practices, err = commissionedPractices(tx, actor); err != nil {
				return err
			}
		}
		for _, code := range dedupe(practices) {
			o, err := tx.Org(code)
			if err != nil {
				return err
			}
			if o.Kind != domain.OrgPractice {
				return fmt.Errorf("%s is a %s; services are offered to practices", code, o.Kind)
			}
			if err := domain.Authorize(actor, domain.ActMakeOffer, domain.TargetOf(o)); err != nil {
				return err
			}
			p, err := tx.Participation(service, code)
			if err != nil {
				return err
			}
			ev, by, why := domain.EvOffer, actor.Name, ""
			if svc.AutoAccept {
				ev, by, why = domain.EvAutoAccept, domain.SystemUser.Name, "auto-accepted service, offered by "+actor.Name
			}
			next, err := domain.ParticipationMachine.Fire(p.State, ev)
			if err != nil {
				var te *domain.TransitionError
				if errors.As(err, &te) {
					out = append(out, OfferOutcome{Practice: code, State: p.State, Skipped: te.Reason})
					continue
				}
				return err
			}
			before := partSummary(p)
			p.History = append(p.History, domain.Change{At: tx.Now(), By: by, Event: ev, From: p.State, To: next, Reason: why})
			p.State, p.From, p.To = next, from, to
			if err := tx.PutParticipation(p); err != nil {
				return err
			}
			if err := tx.Audit("participation."+string(ev), "participation "+service+"/"+code, code, before, partSummary(p)); err != nil {
				return err
			}
			if domain.Participating(next) {
				if err := recalcJoined(tx, svc, code, why); err != nil {
					return err
				}
			}
			out = append(out, OfferOutcome{Practice: code, State: next})
		}
		for _, o := range out {
			if o.Skipped == "" {
				return nil
			}
		}
		if len(out) == 0 {
			return fmt.Errorf("offer of %s: no practices to offer it to", service)
		}
		return fmt.Errorf("offer of %s: nothing offered: %s", service, skippedList(out))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func skippedList(out []OfferOutcome) string {
	var parts []string
	for _, o := range out {
		parts = append(parts, o.Practice+": "+o.Skipped)
	}
	return strings.Join(parts, "; ")
}

// commissionedPractices lists the practices of every commissioner the actor
// holds Commissioning Management for.
func commissionedPractices(tx *store.Tx, actor *domain.User) ([]string, error) {
	var out []string
	for _, g := range actor.Grants {
		if g.Role != domain.RoleCommissioningManagement || g.OrgKind != domain.OrgCommissioner {
			continue
		}
		ps, err := tx.PracticesOf(g.Org)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	if len(out) == 0 {
		return nil, &domain.Denied{User: actor.Name, Action: domain.ActMakeOffer, Target: domain.Target{},
			Reason: "requires Commissioning Management for a commissioner with practices; name the practices otherwise"}
	}
	sort.Strings(out)
	return out, nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		s = strings.ToUpper(strings.TrimSpace(s))
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Accept accepts an open offer for the practice.
func Accept(s *store.Store, actor *domain.User, service, practice string) error {
	return answer(s, actor, service, practice, domain.ActAcceptOffer, domain.EvAccept, "")
}

// Decline declines an open offer; the reason is optional.
func Decline(s *store.Store, actor *domain.User, service, practice, reason string) error {
	return answer(s, actor, service, practice, domain.ActDeclineOffer, domain.EvDecline, reason)
}

// Withdraw ends a practice's participation (either side may); the history
// is kept, and existing declarations stay as they are: a financially
// approved one is still paid, an open one can no longer be declared,
// approved or recalculated.
func Withdraw(s *store.Store, actor *domain.User, service, practice, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("withdrawal needs a reason")
	}
	return answer(s, actor, service, practice, domain.ActWithdraw, domain.EvWithdraw, reason)
}

func answer(s *store.Store, actor *domain.User, service, practice string, act domain.Action, ev domain.Event, reason string) error {
	return s.Update(actor, func(tx *store.Tx) error {
		if err := authorizeOrg(tx, actor, act, practice); err != nil {
			return err
		}
		svc, err := tx.Service(service)
		if err != nil {
			return err
		}
		p, err := tx.Participation(service, practice)
		if err != nil {
			return err
		}
		next, err := domain.ParticipationMachine.Fire(p.State, ev)
		if err != nil {
			return fmt.Errorf("%s, %s: %w", practice, service, err)
		}
		before := partSummary(p)
		p.History = append(p.History, domain.Change{At: tx.Now(), By: actor.Name, Event: ev, From: p.State, To: next, Reason: reason})
		p.State = next
		if err := tx.PutParticipation(p); err != nil {
			return err
		}
		if err := tx.Audit("participation."+string(ev), "participation "+service+"/"+practice, practice, before, partSummary(p)); err != nil {
			return err
		}
		if domain.Participating(next) {
			return recalcJoined(tx, svc, practice, "offer accepted by "+actor.Name)
		}
		return nil
	})
}

// recalcJoined calculates a practice that has just joined a service for any
// collection already holding its data, so its achievement shows at once. A
// declaration financially approved before an earlier withdrawal stands as
// approved (as with a list size change): joining again is not refused.
func recalcJoined(tx *store.Tx, svc *domain.ServiceDef, practice, reason string) error {
	colls, err := tx.Collections(svc.ID)
	if err != nil {
		return err
	}
	for _, c := range colls {
		if err := Recalculate(tx, c, practice, reason); err != nil && !errors.Is(err, ErrLocked) {
			return err
		}
	}
	return nil
}

func partSummary(p *domain.Participation) string {
	if p.Version == 0 && p.State == domain.PartNotOffered {
		return ""
	}
	return fmt.Sprintf("%s %s..%s", p.State, p.From, p.To)
}

// ParticipationView is a practice's take-up of one service, for screens.
type ParticipationView struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	domain.Participation
}

// Participations lists the participation records the actor may see: of one
// service ("" all) and one practice ("" every practice the actor may view).
func Participations(s *store.Store, actor *domain.User, service, practice string) ([]ParticipationView, error) {
	var out []ParticipationView
	err := s.View(func(tx *store.Tx) error {
		svcs, err := tx.Services()
		if err != nil {
			return err
		}
		scope := newScope(tx, actor)
		for _, svc := range svcs {
			if service != "" && svc.ID != service {
				continue
			}
			ps, err := tx.Participations(svc.ID)
			if err != nil {
				return err
			}
			for _, p := range ps {
				if practice != "" && p.Practice != practice {
					continue
				}
				if ok, err := scope.can(domain.ActViewValues, p.Practice); err != nil {
					return err
				} else if !ok {
					continue
				}
				out = append(out, ParticipationView{Service: svc.ID, Name: svc.Name, Participation: *p})
			}
		}
		return nil
	})
	return out, err
}

// scope caches per-practice authorization targets for list views.
type scope struct {
	tx      *store.Tx
	actor   *domain.User
	targets map[string]domain.Target
}

func newScope(tx *store.Tx, actor *domain.User) *scope {
	return &scope{tx: tx, actor: actor, targets: map[string]domain.Target{}}
}

func (s *scope) can(a domain.Action, org string) (bool, error) {
	if domain.CannotReach(s.actor, a, org) {
		return false, nil
	}
	if domain.ReachesAll(s.actor, a) {
		return true, nil
	}
	t, ok := s.targets[org]
	if !ok {
		var err error
		if t, err = s.tx.TargetFor(org); err != nil {
			return false, err
		}
		s.targets[org] = t
	}
	return domain.Can(s.actor, a, t), nil
}
