// Package clinical holds the patient record model the extraction engine reads:
// patients, registrations and coded events, and the compact columnar form
// (Batch) a practice's source is kept in between extractions.
package clinical

import (
	"cmp"
	"fmt"
	"slices"

	"gpcollections/domain"
)

// Code is a SNOMED CT concept id or dm+d id (both fit 64 bits).
type Code uint64

// Sex as recorded (FHIR administrative gender).
type Sex uint8

const (
	SexUnknown Sex = iota
	SexMale
	SexFemale
	SexOther
)

func (s Sex) String() string {
	switch s {
	case SexMale:
		return "male"
	case SexFemale:
		return "female"
	case SexOther:
		return "other"
	}
	return "unknown"
}

// Kind is the FHIR resource an event came from.
type Kind uint8

const (
	KindCondition Kind = iota + 1
	KindObservation
	KindProcedure
	KindMedication
	KindImmunisation
)

func (k Kind) String() string {
	switch k {
	case KindCondition:
		return "condition"
	case KindObservation:
		return "observation"
	case KindProcedure:
		return "procedure"
	case KindMedication:
		return "medication"
	case KindImmunisation:
		return "immunisation"
	}
	return "unknown"
}

// Registration is a period of registration at a practice. End is NoDate
// while the registration is open.
type Registration struct {
	Practice string
	Start    domain.Date
	End      domain.Date
	Type     string // e.g. "regular", "temporary"
}

// Event is one dated, coded entry in a patient's record. Seq is the source
// order (event id order) used to break same-day ties the same way every time.
type Event struct {
	Date domain.Date
	Code Code
	Kind Kind
	// NVal is how many of V1, V2 are present (0, 1 or 2): a lab value, or
	// systolic then diastolic for a blood pressure.
	NVal uint8
	V1   float32
	V2   float32
	Unit string
	Seq  uint32
}

// Patient is one person's record as read from a source.
type Patient struct {
	ID        string
	NHSNumber string
	Birth     domain.Date
	Death     domain.Date // NoDate if alive
	Sex       Sex
	Regs      []Registration
	Events    []Event
}

// SortEvents orders events by date then Seq: the one tie-break rule.
func SortEvents(ev []Event) {
	slices.SortStableFunc(ev, func(a, b Event) int {
		if c := cmp.Compare(a.Date, b.Date); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
}

// Batch is a practice's records in compact columnar form. Events of patient
// i are Events[Patients[i].EvStart:Patients[i].EvEnd], sorted by date then
// source order; codes are indexes into Codes so that the evaluator maps an
// event to its clusters with one slice index instead of a hash lookup.
type Batch struct {
	Practice string
	Codes    []Code
	Patients []PatientRow
	Events   []EventRow
	Regs     []Registration
	// Units holds the distinct units of measure; EventRow.Unit indexes it
	// from 1 so that the zero value means "no unit".
	Units []string
	// release gives back memory the batch borrows (see Release); nil for
	// a batch that owns its memory.
	release func()
}

// PatientRow is a patient in a Batch.
type PatientRow struct {
	ID        string
	NHSNumber string
	Birth     domain.Date
	Death     domain.Date
	Sex       Sex
	EvStart   uint32
	EvEnd     uint32
	RegStart  uint32
	RegEnd    uint32
}

// EventRow is an event in a Batch: 20 bytes.
type EventRow struct {
	Date domain.Date
	Code uint32 // index into Batch.Codes
	V1   float32
	V2   float32
	Kind Kind
	NVal uint8
	// Unit is 0 for none, else Batch.Units[Unit-1]; it fits in the row's
	// padding, so the row stays 20 bytes.
	Unit uint16
}

// PatientEvents returns patient i's events.
func (b *Batch) PatientEvents(i int) []EventRow {
	p := &b.Patients[i]
	return b.Events[p.EvStart:p.EvEnd]
}

// PatientRegs returns patient i's registrations.
func (b *Batch) PatientRegs(i int) []Registration {
	p := &b.Patients[i]
	return b.Regs[p.RegStart:p.RegEnd]
}

// Builder accumulates patients into a Batch, interning codes.
type Builder struct {
	b     Batch
	index map[Code]uint32
	units map[string]uint16
	sort  []Event // scratch for sorting one patient's events
}

// NewBuilder starts a batch for one practice.
func NewBuilder(practice string) *Builder {
	return &Builder{b: Batch{Practice: practice}, index: map[Code]uint32{}, units: map[string]uint16{}}
}

// Grow reserves room for this many more patients, events and
// registrations, so that a caller who knows the sizes builds the batch
// without regrowing (and briefly doubling) its arrays.
func (bl *Builder) Grow(patients, events, regs int) {
	bl.b.Patients = slices.Grow(bl.b.Patients, patients)
	bl.b.Events = slices.Grow(bl.b.Events, events)
	bl.b.Regs = slices.Grow(bl.b.Regs, regs)
}

// Add appends a patient; its events are sorted by date then Seq here, so
// callers may add them in any order.
func (bl *Builder) Add(p Patient) error {
	if p.ID == "" {
		return fmt.Errorf("patient without an id")
	}
	if !p.Birth.Valid() {
		return fmt.Errorf("patient %s: no birth date", p.ID)
	}
	bl.sort = append(bl.sort[:0], p.Events...)
	ev := bl.sort
	SortEvents(ev)
	row := PatientRow{
		ID: p.ID, NHSNumber: p.NHSNumber, Birth: p.Birth, Death: p.Death, Sex: p.Sex,
		EvStart:  uint32(len(bl.b.Events)),
		RegStart: uint32(len(bl.b.Regs)),
	}
	for _, e := range ev {
		ui, err := bl.unit(e.Unit)
		if err != nil {
			return fmt.Errorf("patient %s: %w", p.ID, err)
		}
		ci, ok := bl.index[e.Code]
		if !ok {
			ci = uint32(len(bl.b.Codes))
			bl.index[e.Code] = ci
			bl.b.Codes = append(bl.b.Codes, e.Code)
		}
		bl.b.Events = append(bl.b.Events, EventRow{Date: e.Date, Code: ci, V1: e.V1, V2: e.V2, Kind: e.Kind, NVal: e.NVal, Unit: ui})
	}
	bl.b.Regs = append(bl.b.Regs, p.Regs...)
	row.EvEnd = uint32(len(bl.b.Events))
	row.RegEnd = uint32(len(bl.b.Regs))
	bl.b.Patients = append(bl.b.Patients, row)
	return nil
}

// Build returns the batch; the builder must not be used afterwards.
func (bl *Builder) Build() *Batch {
	b := bl.b
	bl.b, bl.sort = Batch{}, nil
	return &b
}
