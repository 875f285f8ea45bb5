package domain

import (
	"errors"
	"strings"
	"testing"
)

// grids are the expected transition tables, written as people read them:
// one row per state, one column per event, "-" for a refusal.
var grids = map[*Machine]string{
	ParticipationMachine: `
state          offer    auto-accept    accept    decline   withdraw
not-offered    offered  auto-accepted  -         -         -
offered        -        -              accepted  declined  withdrawn
accepted       -        -              -         -         withdrawn
auto-accepted  -        -              -         -         withdrawn
declined       offered  auto-accepted  -         -         -
withdrawn      offered  auto-accepted  -         -         -
`,
	CollectionMachine: `
state       start       complete   rerun       reschedule  cancel     reopen     close
scheduled   extracting  -          -           scheduled   cancelled  -          -
extracting  -           extracted  -           -           cancelled  -          -
extracted   -           -          extracting  -           -          -          closed
closed      -           -          -           -           -          extracted  -
cancelled   -           -          -           -           -          scheduled  -
`,
	DeclarationMachine: `
state                 declare   approve   return    finance-approve       pay   data-changed
calculated            declared  -         -         -                     -     calculated
declared              -         approved  returned  -                     -     calculated
approved              -         -         returned  financially-approved  -     calculated
returned              declared  -         -         -                     -     calculated
financially-approved  -         -         -         -                     paid  -
paid                  -         -         -         -                     -     -
`,
}

func TestTransitionTablesExhaustive(t *testing.T) {
	for m, grid := range grids {
		lines := strings.Split(strings.TrimSpace(grid), "\n")
		header := strings.Fields(lines[0])[1:]
		if len(header) != len(m.Events) {
			t.Fatalf("%s: grid has %d events, machine %d", m.Name, len(header), len(m.Events))
		}
		if len(lines)-1 != len(m.States) {
			t.Fatalf("%s: grid has %d states, machine %d", m.Name, len(lines)-1, len(m.States))
		}
		for _, line := range lines[1:] {
			cells := strings.Fields(line)
			from := State(cells[0])
			for i, want := range cells[1:] {
				ev := Event(header[i])
				got, err := m.Fire(from, ev)
				if want == "-" {
					var te *TransitionError
					if !errors.As(err, &te) {
						t.Errorf("%s: %s + %s: want a refusal, got %s", m.Name, from, ev, got)
						continue
					}
					if te.Reason == "" || te.Reason == "not allowed in this state" {
						t.Errorf("%s: %s + %s: refusal has no specific reason", m.Name, from, ev)
					}
					if got != from {
						t.Errorf("%s: %s + %s: a refusal must leave the state, got %s", m.Name, from, ev, got)
					}
					continue
				}
				if err != nil || got != State(want) {
					t.Errorf("%s: %s + %s = %s, %v; want %s", m.Name, from, ev, got, err, want)
				}
			}
		}
	}
}

func TestUnknownStateRefused(t *testing.T) {
	_, err := DeclarationMachine.Fire("limbo", EvDeclare)
	var te *TransitionError
	if !errors.As(err, &te) || te.Reason != "unknown state" {
		t.Fatalf("want unknown state refusal, got %v", err)
	}
}

func TestRefusalMessageSaysWhy(t *testing.T) {
	_, err := DeclarationMachine.Fire(DeclFinanciallyApproved, EvDataChanged)
	if err == nil || !strings.Contains(err.Error(), "after financial approval nothing can be amended") {
		t.Fatalf("got %v", err)
	}
}
