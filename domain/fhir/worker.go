package fhir

import (
	"bytes"
	"strconv"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

// worker parses chunks of one file. Each worker has its own scanner and
// scratch; the only shared state it reads is the patient index, which is
// not written while event files are parsed.
type worker struct {
	rd    *reader
	t     int
	file  string
	s     scanner
	r     res
	units map[string]uint16 // chunk-local unit table index
	strs  map[string]string // interned ODS codes and registration types
}

func (w *worker) chunk(c *chunk) {
	clear(w.units)
	select {
	case c.out = <-w.rd.outs: // emptied slices of a merged chunk
	default:
	}
	o := &c.out
	data, ln := c.data, c.line
	for len(data) > 0 {
		var line []byte
		if j := bytes.IndexByte(data, '\n'); j >= 0 {
			line, data = data[:j], data[j+1:]
		} else {
			line, data = data, nil
		}
		w.line(line, ln, o)
		ln++
	}
}

func (w *worker) line(b []byte, ln int, o *chunkOut) {
	w.s.reset(b)
	if w.s.peek() == 0 {
		return // blank lines are allowed and not counted
	}
	o.lines++
	r := &w.r
	w.s.parse(r)
	f := w.convert(r, ln, o)
	if f == "" {
		return
	}
	o.bad++
	if len(o.errs) < MaxErrors {
		e := LineError{File: w.file, Line: ln, Msg: string(f)}
		if len(r.id) > 0 && textField(r.id, "id", maxID) == "" {
			e.ResourceID = ResourceTypes[w.t] + "/" + string(r.id)
		}
		o.errs = append(o.errs, e)
	}
}

// convert checks a parsed resource and appends what it holds to o.
func (w *worker) convert(r *res, ln int, o *chunkOut) lineFail {
	if !w.s.ok() {
		return lineFail(w.s.err)
	}
	if r.rtype == nil {
		return "no resourceType"
	}
	if string(r.rtype) != ResourceTypes[w.t] {
		return lineFail("resourceType " + strconv.Quote(string(r.rtype)) + " in " + w.file)
	}
	if len(r.id) == 0 {
		return "no id"
	}
	if f := textField(r.id, "id", maxID); f != "" {
		return f
	}
	if skipStatus(w.t, r) {
		o.skipped++
		return ""
	}
	var f lineFail
	switch w.t {
	case tPatient:
		p := rawPatient{id: string(r.id), line: uint32(ln)}
		if f = patientFields(r, &p); f == "" {
			o.pats = append(o.pats, p)
		}
	case tEpisode:
		f = w.episode(r, ln, o)
	default:
		f = w.event(r, ln, o)
	}
	if f == "" {
		o.resources++
	}
	return f
}

// patient resolves a reference to the index of a patient in Patient.ndjson.
func (w *worker) patient(ref []byte, what string) (uint32, lineFail) {
	pid, f := patientRef(ref, what)
	if f != "" {
		return 0, f
	}
	i, ok := w.rd.patIndex[string(pid)]
	if !ok {
		return 0, lineFail(what + ".reference " + strconv.Quote(string(ref)) + ": no such patient in Patient.ndjson")
	}
	return i, ""
}

func (w *worker) event(r *res, ln int, o *chunkOut) lineFail {
	ref, what := r.subject, "subject"
	if w.t == tImmunization {
		ref, what = r.patient, "patient"
	}
	pi, f := w.patient(ref, what)
	if f != "" {
		return f
	}
	e := rawEvent{pat: pi, line: uint32(ln), typ: uint8(w.t)}
	if e.date, f = eventDate(w.t, r); f != "" {
		return f
	}
	if e.code, f = eventCode(w.t, r); f != "" {
		return f
	}
	if w.t == tObservation {
		unit, f := eventValues(r, &e)
		if f != "" {
			return f
		}
		if len(unit) > 0 {
			if f := textField(unit, "unit", 64); f != "" {
				return f
			}
			u, ok := w.units[string(unit)]
			if !ok {
				if len(o.units) >= 1<<16-1 {
					return "too many distinct units of measure"
				}
				o.units = append(o.units, string(unit))
				u = uint16(len(o.units))
				w.units[string(unit)] = u
			}
			e.unit = u
		}
	}
	e.idOff, e.idLen = uint32(len(o.ids)), uint32(len(r.id))
	o.ids = append(o.ids, r.id...)
	o.evs = append(o.evs, e)
	return ""
}

func (w *worker) episode(r *res, ln int, o *chunkOut) lineFail {
	pi, f := w.patient(r.patient, "patient")
	if f != "" {
		return f
	}
	if len(r.ods) == 0 {
		return "managingOrganization.identifier has no ODS code (system " + SystemODS + ")"
	}
	if f := textField(r.ods, "ODS code", 16); f != "" {
		return f
	}
	if r.periodStart == nil {
		return "no period.start"
	}
	reg := clinical.Registration{End: domain.NoDate}
	if reg.Start, f = parseDate(r.periodStart, "period.start"); f != "" {
		return f
	}
	if r.periodEnd != nil {
		if reg.End, f = parseDate(r.periodEnd, "period.end"); f != "" {
			return f
		}
		if reg.End < reg.Start {
			return "period.end is before period.start"
		}
	}
	if f := textField(r.typeCode, "type", 64); f != "" {
		return f
	}
	reg.Practice, reg.Type = w.intern(r.ods), w.intern(r.typeCode)
	rr := rawReg{pat: pi, line: uint32(ln), idOff: uint32(len(o.ids)), idLen: uint32(len(r.id)), reg: reg}
	o.ids = append(o.ids, r.id...)
	o.regs = append(o.regs, rr)
	return ""
}

func (w *worker) intern(b []byte) string {
	if s, ok := w.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	w.strs[s] = s
	return s
}
