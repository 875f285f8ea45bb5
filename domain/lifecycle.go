package domain

import "fmt"

// State is a lifecycle state; Event moves between states.
type (
	State string
	Event string
)

// Machine is an explicit transition table: state x event -> state, or a
// refusal that says why. Every lifecycle in gpc is one of these, so every
// combination is written down and tested.
type Machine struct {
	Name   string
	States []State
	Events []Event
	next   map[State]map[Event]State
	why    map[State]map[Event]string
}

// TransitionError is the typed refusal of an event in a state.
type TransitionError struct {
	Machine string
	From    State
	Event   Event
	Reason  string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s: cannot %s when %s: %s", e.Machine, e.Event, e.From, e.Reason)
}

type edge struct {
	from State
	ev   Event
	to   State
}

type refusal struct {
	from State
	ev   Event
	why  string
}

func newMachine(name string, states []State, events []Event, edges []edge, refusals []refusal) *Machine {
	m := &Machine{Name: name, States: states, Events: events,
		next: map[State]map[Event]State{}, why: map[State]map[Event]string{}}
	for _, e := range edges {
		if m.next[e.from] == nil {
			m.next[e.from] = map[Event]State{}
		}
		m.next[e.from][e.ev] = e.to
	}
	for _, r := range refusals {
		if m.why[r.from] == nil {
			m.why[r.from] = map[Event]string{}
		}
		m.why[r.from][r.ev] = r.why
	}
	return m
}

// Fire returns the state after ev in from, or a *TransitionError.
func (m *Machine) Fire(from State, ev Event) (State, error) {
	if !m.knows(from) {
		return from, &TransitionError{m.Name, from, ev, "unknown state"}
	}
	if to, ok := m.next[from][ev]; ok {
		return to, nil
	}
	reason := m.why[from][ev]
	if reason == "" {
		reason = "not allowed in this state"
	}
	return from, &TransitionError{m.Name, from, ev, reason}
}

func (m *Machine) knows(s State) bool {
	for _, x := range m.States {
		if x == s {
			return true
		}
	}
	return false
}

// Participation: a practice's take-up of an offered service.
const (
	PartNotOffered   State = "not-offered"
	PartOffered      State = "offered"
	PartAccepted     State = "accepted"
	PartAutoAccepted State = "auto-accepted"
	PartDeclined     State = "declined"
	PartWithdrawn    State = "withdrawn"

	EvOffer      Event = "offer"
	EvAutoAccept Event = "auto-accept"
	EvAccept     Event = "accept"
	EvDecline    Event = "decline"
	EvWithdraw   Event = "withdraw"
)

// Participating reports whether a participation state means the practice is
// extracted, shown and paid.
func Participating(s State) bool { return s == PartAccepted || s == PartAutoAccepted }

// ParticipationMachine is the offer / acceptance lifecycle.
var ParticipationMachine = newMachine("participation",
	[]State{PartNotOffered, PartOffered, PartAccepted, PartAutoAccepted, PartDeclined, PartWithdrawn},
	[]Event{EvOffer, EvAutoAccept, EvAccept, EvDecline, EvWithdraw},
	[]edge{
		{PartNotOffered, EvOffer, PartOffered},
		{PartNotOffered, EvAutoAccept, PartAutoAccepted},
		{PartOffered, EvAccept, PartAccepted},
		{PartOffered, EvDecline, PartDeclined},
		{PartOffered, EvWithdraw, PartWithdrawn},
		{PartAccepted, EvWithdraw, PartWithdrawn},
		{PartAutoAccepted, EvWithdraw, PartWithdrawn},
		{PartDeclined, EvOffer, PartOffered},
		{PartDeclined, EvAutoAccept, PartAutoAccepted},
		{PartWithdrawn, EvOffer, PartOffered},
		{PartWithdrawn, EvAutoAccept, PartAutoAccepted},
	},
	[]refusal{
		{PartNotOffered, EvAccept, "the service has not been offered to this practice"},
		{PartNotOffered, EvDecline, "the service has not been offered to this practice"},
		{PartNotOffered, EvWithdraw, "the practice does not take part"},
		{PartOffered, EvOffer, "the offer is already open"},
		{PartOffered, EvAutoAccept, "the offer is open and awaits the practice's answer"},
		{PartAccepted, EvOffer, "the practice already takes part"},
		{PartAccepted, EvAutoAccept, "the practice already takes part"},
		{PartAccepted, EvAccept, "the practice already accepted"},
		{PartAccepted, EvDecline, "the practice accepted; withdraw instead"},
		{PartAutoAccepted, EvOffer, "the practice already takes part"},
		{PartAutoAccepted, EvAutoAccept, "the practice already takes part"},
		{PartAutoAccepted, EvAccept, "the service was accepted automatically"},
		{PartAutoAccepted, EvDecline, "the service was accepted automatically; withdraw instead"},
		{PartDeclined, EvAccept, "the practice declined; the commissioner must offer again"},
		{PartDeclined, EvDecline, "the practice already declined"},
		{PartDeclined, EvWithdraw, "the practice does not take part"},
		{PartWithdrawn, EvAccept, "participation was withdrawn; the commissioner must offer again"},
		{PartWithdrawn, EvDecline, "participation was withdrawn"},
		{PartWithdrawn, EvWithdraw, "participation was already withdrawn"},
	})

// Collection: one service x one achievement date.
const (
	CollScheduled  State = "scheduled"
	CollExtracting State = "extracting"
	CollExtracted  State = "extracted"
	CollClosed     State = "closed"
	CollCancelled  State = "cancelled"

	EvStart      Event = "start"
	EvComplete   Event = "complete"
	EvRerun      Event = "rerun"
	EvReschedule Event = "reschedule"
	EvCancel     Event = "cancel"
	EvReopen     Event = "reopen"
	EvClose      Event = "close"
)

// CollectionMachine is the collection lifecycle on the timetable.
var CollectionMachine = newMachine("collection",
	[]State{CollScheduled, CollExtracting, CollExtracted, CollClosed, CollCancelled},
	[]Event{EvStart, EvComplete, EvRerun, EvReschedule, EvCancel, EvReopen, EvClose},
	[]edge{
		{CollScheduled, EvStart, CollExtracting},
		{CollScheduled, EvReschedule, CollScheduled},
		{CollScheduled, EvCancel, CollCancelled},
		{CollExtracting, EvComplete, CollExtracted},
		{CollExtracting, EvCancel, CollCancelled},
		{CollExtracted, EvRerun, CollExtracting},
		{CollExtracted, EvClose, CollClosed},
		{CollClosed, EvReopen, CollExtracted},
		{CollCancelled, EvReopen, CollScheduled},
	},
	[]refusal{
		{CollScheduled, EvComplete, "the extraction has not started"},
		{CollScheduled, EvRerun, "the collection has not been extracted yet; run it instead"},
		{CollScheduled, EvReopen, "the collection is open"},
		{CollScheduled, EvClose, "the collection has not been extracted"},
		{CollExtracting, EvStart, "the extraction is already running"},
		{CollExtracting, EvRerun, "the extraction is already running"},
		{CollExtracting, EvReschedule, "the extraction is running"},
		{CollExtracting, EvReopen, "the collection is open"},
		{CollExtracting, EvClose, "the extraction is running"},
		{CollExtracted, EvStart, "the collection was extracted; re-run it instead"},
		{CollExtracted, EvComplete, "the extraction already completed"},
		{CollExtracted, EvReschedule, "the collection was extracted"},
		{CollExtracted, EvCancel, "the collection has results and declarations; close it instead"},
		{CollExtracted, EvReopen, "the collection is open"},
		{CollClosed, EvStart, "the collection is closed"},
		{CollClosed, EvComplete, "the collection is closed"},
		{CollClosed, EvRerun, "the collection is closed; reopen it first"},
		{CollClosed, EvReschedule, "the collection is closed"},
		{CollClosed, EvCancel, "the collection is closed"},
		{CollClosed, EvClose, "the collection is already closed"},
		{CollCancelled, EvStart, "the collection was cancelled; reopen it first"},
		{CollCancelled, EvComplete, "the collection was cancelled"},
		{CollCancelled, EvRerun, "the collection was cancelled; reopen it first"},
		{CollCancelled, EvReschedule, "the collection was cancelled; reopen it first"},
		{CollCancelled, EvCancel, "the collection is already cancelled"},
		{CollCancelled, EvClose, "the collection was cancelled"},
	})

// Declaration: one practice's achievement for one collection, on its way to
// payment.
const (
	DeclCalculated          State = "calculated" // "Awaiting Service Provider Approval"
	DeclDeclared            State = "declared"   // "Awaiting Commissioning Organisation Approval"
	DeclApproved            State = "approved"
	DeclReturned            State = "returned"
	DeclFinanciallyApproved State = "financially-approved"
	DeclPaid                State = "paid"

	EvDeclare        Event = "declare"
	EvApprove        Event = "approve"
	EvReturn         Event = "return"
	EvFinanceApprove Event = "finance-approve"
	EvPay            Event = "pay"
	EvDataChanged    Event = "data-changed"
)

// DeclarationTitle is the status as CQRS users know it.
func DeclarationTitle(s State) string {
	switch s {
	case DeclCalculated:
		return "Awaiting Service Provider Approval"
	case DeclDeclared:
		return "Awaiting Commissioning Organisation Approval"
	case DeclApproved:
		return "Approved"
	case DeclReturned:
		return "Returned"
	case DeclFinanciallyApproved:
		return "Financially Approved"
	case DeclPaid:
		return "Paid"
	}
	return string(s)
}

const lockedReason = "after financial approval nothing can be amended"

// DeclarationMachine is the declaration-to-payment lifecycle.
var DeclarationMachine = newMachine("declaration",
	[]State{DeclCalculated, DeclDeclared, DeclApproved, DeclReturned, DeclFinanciallyApproved, DeclPaid},
	[]Event{EvDeclare, EvApprove, EvReturn, EvFinanceApprove, EvPay, EvDataChanged},
	[]edge{
		{DeclCalculated, EvDeclare, DeclDeclared},
		{DeclCalculated, EvDataChanged, DeclCalculated},
		{DeclDeclared, EvApprove, DeclApproved},
		{DeclDeclared, EvReturn, DeclReturned},
		{DeclDeclared, EvDataChanged, DeclCalculated},
		{DeclReturned, EvDeclare, DeclDeclared},
		{DeclReturned, EvDataChanged, DeclCalculated},
		{DeclApproved, EvFinanceApprove, DeclFinanciallyApproved},
		{DeclApproved, EvReturn, DeclReturned},
		{DeclApproved, EvDataChanged, DeclCalculated},
		{DeclFinanciallyApproved, EvPay, DeclPaid},
	},
	[]refusal{
		{DeclCalculated, EvApprove, "the practice has not declared"},
		{DeclCalculated, EvReturn, "the practice has not declared"},
		{DeclCalculated, EvFinanceApprove, "the practice has not declared"},
		{DeclCalculated, EvPay, "the practice has not declared"},
		{DeclDeclared, EvDeclare, "already declared and awaiting the commissioner"},
		{DeclDeclared, EvFinanceApprove, "the commissioner has not approved yet"},
		{DeclDeclared, EvPay, "the commissioner has not approved yet"},
		{DeclReturned, EvApprove, "the declaration was returned; the practice must declare again"},
		{DeclReturned, EvReturn, "the declaration was already returned"},
		{DeclReturned, EvFinanceApprove, "the declaration was returned; the practice must declare again"},
		{DeclReturned, EvPay, "the declaration was returned"},
		{DeclApproved, EvDeclare, "already declared and approved"},
		{DeclApproved, EvApprove, "already approved"},
		{DeclApproved, EvPay, "finance has not approved yet"},
		{DeclFinanciallyApproved, EvDeclare, lockedReason},
		{DeclFinanciallyApproved, EvApprove, "already financially approved"},
		{DeclFinanciallyApproved, EvReturn, lockedReason},
		{DeclFinanciallyApproved, EvFinanceApprove, "already financially approved"},
		{DeclFinanciallyApproved, EvDataChanged, lockedReason},
		{DeclPaid, EvDeclare, "already paid"},
		{DeclPaid, EvApprove, "already paid"},
		{DeclPaid, EvReturn, "already paid; " + lockedReason},
		{DeclPaid, EvFinanceApprove, "already paid"},
		{DeclPaid, EvPay, "already paid"},
		{DeclPaid, EvDataChanged, "already paid; " + lockedReason},
	})
