package clinical

import "fmt"

// unit interns a unit of measure; "" is index 0.
func (bl *Builder) unit(u string) (uint16, error) {
	if u == "" {
		return 0, nil
	}
	if bl.units == nil {
		bl.units = map[string]uint16{}
	}
	if i, ok := bl.units[u]; ok {
		return i, nil
	}
	if len(bl.b.Units) >= 1<<16-1 {
		return 0, fmt.Errorf("more than %d distinct units of measure", 1<<16-1)
	}
	bl.b.Units = append(bl.b.Units, u)
	i := uint16(len(bl.b.Units))
	bl.units[u] = i
	return i, nil
}

// Unit returns the unit of measure of an event row ("" if none).
func (b *Batch) Unit(e EventRow) string {
	if e.Unit == 0 || int(e.Unit) > len(b.Units) {
		return ""
	}
	return b.Units[e.Unit-1]
}

// Record rebuilds patient i as a Patient, for explaining one patient and for
// round-trip checks. Seq is the event's position in the patient's sorted
// events, which is the order the batch keeps.
func (b *Batch) Record(i int) Patient {
	r := &b.Patients[i]
	p := Patient{ID: r.ID, NHSNumber: r.NHSNumber, Birth: r.Birth, Death: r.Death, Sex: r.Sex}
	if regs := b.PatientRegs(i); len(regs) > 0 {
		p.Regs = append([]Registration(nil), regs...)
	}
	ev := b.PatientEvents(i)
	if len(ev) > 0 {
		p.Events = make([]Event, len(ev))
	}
	for j, e := range ev {
		p.Events[j] = Event{
			Date: e.Date, Code: b.Codes[e.Code], Kind: e.Kind, NVal: e.NVal,
			V1: e.V1, V2: e.V2, Unit: b.Unit(e), Seq: uint32(j),
		}
	}
	return p
}
